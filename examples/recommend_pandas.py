"""From pandas DataFrames to named recommendations, on the bundled marketplace.

    python examples/recommend_pandas.py [--small]

FunkSVD learns from the explicit star ratings (a DataFrame straight into ``fit``), ALS from the
implicit views/purchases (a scipy.sparse matrix built with pandas categoricals, as the
``implicit`` library expects); both lists are printed with product names. ``--small`` (or
MERCATO_EXAMPLE_SMALL=1) uses the first 150 users and fewer epochs, for the test suite.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from mercato.metrics import rmse
from mercato.recommend import ALS, FunkSVD

SMALL = "--small" in sys.argv or os.environ.get("MERCATO_EXAMPLE_SMALL") == "1"
DATA = Path(__file__).resolve().parents[1] / "datasets" / "marketplace"

products = pd.read_csv(DATA / "products.csv").set_index("product")
ratings = pd.read_csv(DATA / "ratings.csv")
events = pd.read_csv(DATA / "events.csv")
if SMALL:
    ratings, events = ratings[ratings.user < 150], events[events.user < 150]


def label(product_ids) -> list[str]:
    return [f"{products.at[p, 'name']} ({products.at[p, 'category']})" for p in product_ids]


# -- explicit: a DataFrame of (user, product, rating) into FunkSVD ------------------------------
test = ratings.sample(frac=0.2, random_state=0)
train = ratings.drop(test.index)
svd = FunkSVD(factors=32, epochs=10 if SMALL else 25, seed=0).fit(train, item_col="product")
pred = svd.predict(test, item_col="product")
print(f"FunkSVD on {len(train)} ratings: held-out RMSE {rmse(test.rating.to_numpy(), pred):.4f}")
for user in (0, 1):
    ids, stars = svd.recommend(user, N=5)
    print(f"  user {user}: " + "; ".join(f"{n} [{s:.2f}]" for n, s in zip(label(ids), stars)))

# -- implicit: views + 5 x purchases as a users x products CSR matrix into ALS -----------------
users = pd.Categorical(events.user)
items = pd.Categorical(events["product"])
weight = (events.views + 5 * events.purchases).to_numpy(np.float32)
user_items = sp.csr_matrix((weight, (users.codes, items.codes)), shape=(len(users.categories), len(items.categories)))
als = ALS(factors=16, regularization=10.0, alpha=2.0, iterations=5 if SMALL else 15, seed=0).fit(user_items)
print(f"\nALS on a {user_items.shape[0]} x {user_items.shape[1]} matrix, {user_items.nnz} entries")
for user in (0, 1):
    row = users.categories.get_loc(user)
    ids, scores = als.recommend(row, user_items[row], N=5)
    print(f"  user {user}: " + "; ".join(label(items.categories[ids])))
anchor = int(np.argmax(np.asarray(user_items.sum(axis=0)).ravel()))
ids, scores = als.similar_items(anchor, N=4)
print(f"\nsimilar to {label([items.categories[anchor]])[0]}:")
for name, s in zip(label(items.categories[ids[1:]]), scores[1:]):
    print(f"  {name} [{s:.2f}]")
