"""mercato HybridMF vs LightFM (built from its source tree) on MovieLens-100k,
CrossValidated and the marketplace's new products known by their photos, side by side.

    .venv/bin/python benches/compare/hybrid.py                  # every data set
    .venv/bin/python benches/compare/hybrid.py photos           # one of: movielens, crossvalidated, photos
    .venv/bin/python benches/compare/hybrid.py adadelta         # MovieLens with learning_schedule="adadelta"

Needs mercato built into the worktree (``maturin develop --release``) and a Python that
imports ``lightfm``: set ``LIGHTFM_PYTHON`` (default ``/tmp/lfm-venv/bin/python``, a venv
where LightFM was installed from a checkout of github.com/lyst/lightfm with
``pip install --no-build-isolation .``; its PyPI sdist no longer builds). The script
re-runs itself under that interpreter. Data: ``$MERCATO_DATA/movielens-100k``
(default ``../shared/datasets``).

Protocol (GUIDE §7): positives = ratings >= 4 (943 users x 1682 items).
* warm split: a random 20 % of the positives held out (numpy seed 0);
* cold-item split: a random 20 % of the items held out with all their positives; the
  candidates are the cold items only, which both models score from their genres alone.
Features, identical on both sides (one matrix passed to both): items = [identity | 19 genres
of u.item], users = [identity | gender, age band, occupation of u.user], each row
normalised to sum 1 (LightFM's Dataset default); cold items' rows hold only their genres.
mercato runs with ``user_identity=item_identity=False`` since the identity columns are in the
matrices. Same loss (WARP), factors (32), learning rate (0.05), max_sampled (10), epochs
(30), no regularisation. Metrics, one numpy implementation for both: per-user AUC over the
candidates (warm: every item not a training positive of the user; cold: the cold items),
P@10 and NDCG@10 over the same candidates, averaged over users with a held-out positive;
quality is the mean of seeds 0, 1, 2. Fit time: 2 threads each, the median of 3 fits,
the libraries alternating. Thread determinism: mercato at 1 and 2 threads compared bit for
bit; LightFM twice at 2 threads with the same seed. ``adadelta``: the same with both
libraries' ``learning_schedule="adadelta"`` (rho 0.95, epsilon 1e-6, no learning rate).

CrossValidated (``$MERCATO_DATA/crossvalidated/data.npz``, the file LightFM's
``fetch_stackexchange('crossvalidated')`` downloads), LightFM's own hybrid example: the split
of ``fetch_stackexchange(test_set_fraction=0.1, indicator_features=False,
tag_features=True)`` (interactions after the 90th-percentile timestamp are the test set;
users with more than one training interaction kept), item features = the question tags only
(no identity: test questions are new), users by identity; WARP, 30 factors, lr 0.05,
``item_alpha=1e-6``, 10 epochs, 2 threads. Metric: LightFM's ``auc_score(model, test,
train_interactions=train)``, i.e. per-user AUC over every item that is not a training
positive of the user, averaged over users with a test positive, and P@10 over the same
candidates (one numpy implementation for both); LightFM's documentation reports AUC 0.703
for this model. Mean of seeds 0-9 with its standard error (one seed's AUC moves by about
0.008, so three seeds cannot tell a 0.005 difference); fit time the median of 5 fits, the
libraries alternating.

Photos (cold start from a picture): the synthetic marketplace with one photo per product
(``mercato.datasets.marketplace("small", seed=11, pictures=True)``, the demo's data: 600
users, 400 products). Every fifth product (index % 5 == 2) is new: none of its events is
trained on. Positives = any view or purchase (binary), users x the 320 catalogue products.
The photos go through the shipped Fashion-MNIST CNN (``ImageClassifier.embed``, its
penultimate layer; computed by the calling interpreter, which has the libtorch extension,
before it hands over to the LightFM one) and ``ImageFeatures(n_components=16)`` fitted on the
catalogue's photos. Item features, one matrix given to both libraries: the photo block, the
category one-hot, or both side by side; no item identity (new products have none), users by
identity. WARP, 32 factors, lr 0.05, max_sampled 10, 30 epochs, 2 threads. Metric over the 80
new products for each user with an event on one: P@10 (ties broken by product index) and AUC
(ties counted half), mean of seeds 0, 1, 2; beside them category popularity (training events
per category), the best ranking without a model. Fit time: the median of 3 fits of
category + photo.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LFM_PY = os.environ.get("LIGHTFM_PYTHON", "/tmp/lfm-venv/bin/python")

PHOTO_SEED, COLD_EVERY, IMAGE_COMPONENTS = 11, 5, 16


def embed_photos() -> str | None:
    """The marketplace photos through the shipped CNN, saved for the LightFM interpreter
    (which cannot load the libtorch extension); the file's path, or None without libtorch."""
    import tempfile

    import numpy as np

    sys.path.insert(0, str(ROOT / "python"))
    try:
        from mercato.datasets import marketplace
        from mercato.vision import ImageClassifier

        pictures = marketplace("small", seed=PHOTO_SEED, pictures=True)["pictures"]
        emb = ImageClassifier.pretrained("fashion_mnist").embed(pictures)
    except Exception as e:  # no vision extension or no pretrained model here
        print(f"photos: cannot embed the pictures in this interpreter ({type(e).__name__}: {e})")
        return None
    path = os.path.join(tempfile.mkdtemp(prefix="mercato-hybrid-"), "photo_embeddings.npy")
    np.save(path, emb)
    return path


if Path(sys.prefix).resolve() != Path(LFM_PY).parents[1].resolve() and not os.environ.get("HYBRID_BENCH_CHILD"):
    if not Path(LFM_PY).exists():
        sys.exit(f"no LightFM interpreter at {LFM_PY}; build LightFM from source (see the docstring)")
    os.environ["HYBRID_BENCH_CHILD"] = "1"
    if sys.argv[1:2] in ([], ["photos"]):
        os.environ["HYBRID_PHOTO_EMBEDDINGS"] = embed_photos() or ""
    os.execv(LFM_PY, [LFM_PY, __file__, *sys.argv[1:]])

sys.path.insert(0, str(ROOT / "python"))  # the maturin-develop'ed mercato of this worktree

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from lightfm import LightFM  # noqa: E402
from mercato.datasets import marketplace  # noqa: E402
from mercato.recommend import HybridMF, ImageFeatures  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

DATASETS = Path(os.environ.get("MERCATO_DATA", ROOT.parent / "shared" / "datasets"))
DATA = DATASETS / "movielens-100k"
FACTORS, EPOCHS, LR, MAX_SAMPLED, THREADS = 32, 30, 0.05, 10, 2
SEEDS = (0, 1, 2)
# CrossValidated's test AUC moves by ±0.008 from seed to seed (3,213 users, 4,453 test
# answers), so three seeds leave a standard error near 0.003 on each mean; ten bring it to
# about 0.0017, small enough to judge a 0.005 difference.
CV_SEEDS = tuple(range(10))


def load():
    d = np.loadtxt(DATA / "u.data", dtype=np.int64)
    nu, ni = 943, 1682
    pos = d[d[:, 2] >= 4]
    genres = []
    for line in (DATA / "u.item").read_text(encoding="latin-1").splitlines():
        genres.append([int(x) for x in line.split("|")[5:24]])
    genres = np.asarray(genres, np.float32)
    users = [line.split("|") for line in (DATA / "u.user").read_text().splitlines()]
    occ = sorted({u[3] for u in users})
    bands = [18, 25, 35, 45, 50, 56, 200]
    demo = np.zeros((nu, 2 + len(bands) + len(occ)), np.float32)
    for r, (_, age, gender, o, _) in enumerate(users):
        demo[r, 0 if gender == "M" else 1] = 1
        demo[r, 2 + next(k for k, b in enumerate(bands) if int(age) < b)] = 1
        demo[r, 2 + len(bands) + occ.index(o)] = 1
    return nu, ni, pos[:, 0] - 1, pos[:, 1] - 1, genres, demo


def normalise(m):
    m = sp.csr_matrix(m, dtype=np.float32)
    s = np.asarray(m.sum(axis=1)).ravel()
    s[s == 0] = 1
    return sp.csr_matrix(sp.diags(1 / s) @ m, dtype=np.float32)


def csr(u, i, shape):
    return sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=shape)


def splits(nu, ni, u, i, genres, demo):
    rng = np.random.default_rng(0)
    user_f = normalise(sp.hstack([sp.identity(nu), demo]))
    item_f = normalise(sp.hstack([sp.identity(ni), genres]))
    test = rng.random(len(u)) < 0.2
    warm = dict(
        train=csr(u[~test], i[~test], (nu, ni)),
        test=csr(u[test], i[test], (nu, ni)),
        user_f=user_f,
        item_f=item_f,
        eval_item_f=item_f,
        candidates=np.arange(ni),
    )
    cold_items = np.sort(rng.choice(ni, ni // 5, replace=False))
    is_cold = np.zeros(ni, bool)
    is_cold[cold_items] = True
    held = is_cold[i]
    # Cold items' rows: genres only (their identity column would be an untrained embedding).
    cold_f = normalise(sp.hstack([sp.csr_matrix((ni, ni)), genres]))
    eval_f = sp.vstack([item_f[r] if not is_cold[r] else cold_f[r] for r in range(ni)]).tocsr()
    cold = dict(
        train=csr(u[~held], i[~held], (nu, ni)),
        test=csr(u[held], i[held], (nu, ni)),
        user_f=user_f,
        item_f=item_f,
        eval_item_f=eval_f,
        candidates=cold_items,
    )
    return {"warm": warm, "cold-item": cold}


def metrics(scores, split):
    """Per-user AUC, P@10, NDCG@10 over the split's candidates (training positives excluded)."""
    train, test, cand = split["train"], split["test"], split["candidates"]
    auc, p10, ndcg = [], [], []
    disc = 1 / np.log2(np.arange(2, 12))
    for uid in range(test.shape[0]):
        t = test.indices[test.indptr[uid] : test.indptr[uid + 1]]
        if len(t) == 0:
            continue
        seen = set(train.indices[train.indptr[uid] : train.indptr[uid + 1]].tolist())
        c = np.array([x for x in cand if x not in seen])
        s = scores[uid, c]
        is_pos = np.isin(c, t)
        npos, nneg = is_pos.sum(), (~is_pos).sum()
        if npos == 0 or nneg == 0:
            continue
        ranks = rankdata(s)  # ties get their average rank (counted half in the AUC)
        auc.append((ranks[is_pos].sum() - npos * (npos + 1) / 2) / (npos * nneg))
        top = np.argsort(-s, kind="stable")[:10]
        hits = is_pos[top]
        p10.append(hits.mean())
        ideal = disc[: min(npos, 10)].sum()
        ndcg.append((hits * disc[: len(hits)]).sum() / ideal)
    return np.mean(auc), np.mean(p10), np.mean(ndcg)


def fit_lightfm(split, seed, threads=THREADS, schedule="adagrad"):
    m = LightFM(
        no_components=FACTORS, loss="warp", learning_schedule=schedule, learning_rate=LR, max_sampled=MAX_SAMPLED,
        random_state=seed,
    )  # fmt: skip
    t = time.perf_counter()
    m.fit(
        split["train"], user_features=split["user_f"], item_features=split["item_f"], epochs=EPOCHS, num_threads=threads
    )
    return m, time.perf_counter() - t


def fit_mercato(split, seed, threads=THREADS, schedule="adagrad"):
    m = HybridMF(
        factors=FACTORS, loss="warp", learning_schedule=schedule, epochs=EPOCHS, max_sampled=MAX_SAMPLED, seed=seed,
        num_threads=threads, user_identity=False, item_identity=False,
        **({"learning_rate": LR} if schedule == "adagrad" else {}),
    )  # fmt: skip
    t = time.perf_counter()
    m.fit(split["train"], split["user_f"], split["item_f"])
    return m, time.perf_counter() - t


def scores_of(m, split):
    ub, ue = m.get_user_representations(split["user_f"])
    ib, ie = m.get_item_representations(split["eval_item_f"])
    return ue @ ie.T + ub[:, None] + ib[None, :]


def crossvalidated_split():
    """``fetch_stackexchange('crossvalidated', test_set_fraction=0.1, indicator_features=False,
    tag_features=True)``, reproduced from LightFM's source on the same file."""
    d = np.load(DATASETS / "crossvalidated" / "data.npz")
    inter = sp.coo_matrix(
        (d["interactions_data"], (d["interactions_row"], d["interactions_col"])),
        shape=tuple(d["interactions_shape"].flatten()),
    )
    inter.sum_duplicates()
    tags = sp.csr_matrix(
        (d["features_data"], (d["features_row"], d["features_col"])), shape=tuple(d["features_shape"].flatten())
    )
    cutoff = np.sort(inter.data)[int(len(inter.data) * 0.9)]
    in_train = inter.data < cutoff

    def part(mask):
        ones = np.ones(mask.sum(), np.float32)
        return sp.coo_matrix((ones, (inter.row[mask], inter.col[mask])), shape=inter.shape).tocsr()

    train, test = part(in_train), part(~in_train)
    keep = np.asarray(train.getnnz(axis=1)).ravel() > 1
    return train[keep].tocsr(), test[keep].tocsr(), tags.astype(np.float32)


def auc_all_items(score_rows, train, test, chunk=256):
    """LightFM's ``auc_score(model, test, train_interactions=train)``: per user with a test
    positive, the AUC of its test positives against every item it has not interacted with;
    beside it P@10 over the same candidates (LightFM's ``precision_at_k(k=10)``). Both
    averaged over those users."""
    users = np.flatnonzero(np.diff(test.indptr))
    aucs, p10 = [], []
    for start in range(0, len(users), chunk):
        block = users[start : start + chunk]
        scores = score_rows(block)
        for row, uid in zip(scores, block):
            row = row.copy()
            row[train.indices[train.indptr[uid] : train.indptr[uid + 1]]] = np.nan  # excluded
            pos = test.indices[test.indptr[uid] : test.indptr[uid + 1]]
            valid = ~np.isnan(row)
            ranks = np.empty(len(row))
            ranks[valid] = row[valid].argsort().argsort() + 1
            pos = pos[valid[pos]]
            npos, nneg = len(pos), valid.sum() - len(pos)
            if npos and nneg:
                aucs.append((ranks[pos].sum() - npos * (npos + 1) / 2) / (npos * nneg))
                top = np.argsort(-np.where(valid, row, -np.inf), kind="stable")[:10]
                p10.append(np.isin(top, pos).mean())
    return float(np.mean(aucs)), float(np.mean(p10))


def crossvalidated():
    if not (DATASETS / "crossvalidated" / "data.npz").exists():
        print("CrossValidated: skipped (no crossvalidated/data.npz under", DATASETS, ")")
        return
    train, test, tags = crossvalidated_split()
    f, epochs = 30, 10
    print(f"\nCrossValidated: {train.shape[0]} users x {train.shape[1]} questions, {train.nnz} training and")
    print(f"{test.nnz} test answers, {tags.shape[1]} tags; WARP, {f} factors, lr {LR}, item_alpha 1e-6,", end=" ")
    print(f"{epochs} epochs")

    def lightfm(seed):
        m = LightFM(no_components=f, loss="warp", learning_rate=LR, item_alpha=1e-6, random_state=seed)
        t = time.perf_counter()
        m.fit(train, item_features=tags, epochs=epochs, num_threads=THREADS)
        return m, time.perf_counter() - t

    def ours(seed):
        m = HybridMF(
            factors=f, loss="warp", learning_rate=LR, epochs=epochs, item_alpha=1e-6, seed=seed,
            num_threads=THREADS, item_identity=False,
        )  # fmt: skip
        t = time.perf_counter()
        m.fit(train, item_features=tags)
        return m, time.perf_counter() - t

    def scorer(m):
        ub, ue = m.get_user_representations()
        ib, ie = m.get_item_representations(tags)
        return lambda users: ue[users] @ ie.T + ub[users, None] + ib[None, :]

    fits = (("LightFM", lightfm), ("mercato", ours))
    quality = {name: [] for name, _ in fits}
    for seed in CV_SEEDS:
        for name, fit in fits:
            quality[name].append(auc_all_items(scorer(fit(seed)[0]), train, test))
    times = {name: [] for name, _ in fits}
    for _ in range(5):  # alternating, so both libraries see the same machine
        for name, fit in fits:
            times[name].append(fit(0)[1])
    print(f"{'library':<8} {'test AUC':>9} {'± s.e.':>7} {'min':>7} {'max':>7} {'P@10':>7} {'fit s':>7}")
    rows = []
    for name, _ in fits:
        q = np.array(quality[name])
        aucs = q[:, 0]
        se = aucs.std(ddof=1) / np.sqrt(len(aucs))
        rows.append((aucs.mean(), se, q[:, 1].mean(), statistics.median(times[name])))
        print(
            f"{name:<8} {aucs.mean():9.4f} {se:7.4f} {aucs.min():7.4f} {aucs.max():7.4f} {q[:, 1].mean():7.4f}"
            f" {rows[-1][3]:7.3f}"
        )
    (la, lse, lp, lt), (ma, mse, mp, mt) = rows
    print(
        f"mercato - LightFM: AUC {ma - la:+.4f} (s.e. of the difference {np.hypot(lse, mse):.4f}), "
        f"P@10 {mp - lp:+.4f}; fit {lt / mt:.1f}x faster (LightFM's docs: AUC 0.703)"
    )


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which not in ("all", "movielens", "crossvalidated", "photos", "adadelta"):
        sys.exit("usage: hybrid.py [movielens|crossvalidated|photos|adadelta]")
    if which in ("all", "movielens"):
        movielens()
    if which in ("all", "adadelta"):
        movielens(schedule="adadelta")
    if which in ("all", "crossvalidated"):
        crossvalidated()
    if which in ("all", "photos"):
        photos()


def movielens(schedule="adagrad"):
    nu, ni, u, i, genres, demo = load()
    print(f"\nMovieLens-100k: {len(u)} positives (rating >= 4), {nu} users x {ni} items")
    rate = f"lr {LR}" if schedule == "adagrad" else "adadelta (rho 0.95, epsilon 1e-6)"
    print(f"WARP, {FACTORS} factors, {rate}, max_sampled {MAX_SAMPLED}, {EPOCHS} epochs, {THREADS} threads\n")
    rows = []
    for name, split in splits(nu, ni, u, i, genres, demo).items():
        q = {"LightFM": [], "mercato": []}
        for seed in SEEDS:
            lm, _ = fit_lightfm(split, seed, schedule=schedule)
            mm, _ = fit_mercato(split, seed, schedule=schedule)
            q["LightFM"].append(metrics(scores_of(lm, split), split))
            q["mercato"].append(metrics(scores_of(mm, split), split))
        times = {"LightFM": [], "mercato": []}
        for _ in range(3):
            times["LightFM"].append(fit_lightfm(split, 0, schedule=schedule)[1])
            times["mercato"].append(fit_mercato(split, 0, schedule=schedule)[1])
        for lib in ("LightFM", "mercato"):
            a = np.array(q[lib])
            rows.append((name, lib, *a.mean(axis=0), statistics.median(times[lib])))
    print(f"{'split':<10} {'library':<8} {'AUC':>7} {'P@10':>7} {'NDCG@10':>8} {'fit s':>7}")
    for name, lib, auc, p10, ndcg, t in rows:
        print(f"{name:<10} {lib:<8} {auc:7.4f} {p10:7.4f} {ndcg:8.4f} {t:7.3f}")
    for k in range(0, len(rows), 2):
        lf, me = rows[k], rows[k + 1]
        print(
            f"{lf[0]}: mercato - LightFM: AUC {me[2] - lf[2]:+.4f}, P@10 {me[3] - lf[3]:+.4f}, "
            f"NDCG@10 {me[4] - lf[4]:+.4f}; fit {lf[5] / me[5]:.1f}x faster"
        )

    split = splits(nu, ni, u, i, genres, demo)["warm"]
    a, _ = fit_mercato(split, 0, threads=1, schedule=schedule)
    b, _ = fit_mercato(split, 0, threads=2, schedule=schedule)
    same = np.array_equal(a.item_embeddings(split["item_f"]), b.item_embeddings(split["item_f"])) and np.array_equal(
        a.user_embeddings(split["user_f"]), b.user_embeddings(split["user_f"])
    )
    la, _ = fit_lightfm(split, 0, threads=2, schedule=schedule)
    lb, _ = fit_lightfm(split, 0, threads=2, schedule=schedule)
    diff = np.abs(la.item_embeddings - lb.item_embeddings).max()
    print("\nthread determinism (warm split, seed 0):")
    print(f"  mercato 1 vs 2 threads: {'bit-identical' if same else 'DIFFERENT'}")
    print(f"  LightFM 2 threads, two runs: max |item embedding difference| = {diff:.3g}")



def photo_split():
    """Training positives (users x catalogue products), the new products each user turned
    to (users x new products), and the products' categories and catalogue/new indices."""
    m = marketplace("small", seed=PHOTO_SEED)  # DataFrames, or column dicts without pandas
    ids, categories = np.asarray(m["products"]["product"]), np.asarray(m["products"]["category"])
    n = len(ids)
    is_new = np.arange(n) % COLD_EVERY == 2
    catalogue, new = np.flatnonzero(~is_new), np.flatnonzero(is_new)
    position = {p: k for k, p in enumerate(ids)}
    product = np.array([position[p] for p in m["events"]["product"]])
    event_user = np.asarray(m["events"]["user"])
    trained = ~is_new[product]
    users, user = np.unique(event_user[trained], return_inverse=True)
    column = np.full(n, -1)
    column[catalogue], column[new] = np.arange(len(catalogue)), np.arange(len(new))
    train = csr(user, column[product[trained]], (len(users), len(catalogue)))
    train.data[:] = 1  # views and purchases of one pair count once
    row_of = {u: k for k, u in enumerate(users)}
    held = [(row_of[u], column[p]) for u, p in zip(event_user[~trained], product[~trained]) if u in row_of]
    hu, hi = np.array(held).T
    test = csr(hu, hi, (len(users), len(new)))
    test.data[:] = 1
    names = sorted(set(categories))
    category = np.array([names.index(c) for c in categories])
    return train, test, category, catalogue, new, len(names)


def photos():
    path = os.environ.get("HYBRID_PHOTO_EMBEDDINGS")
    if not path:
        print("\nPhotos: skipped (run with the interpreter that has mercato's vision extension, e.g. .venv/bin/python)")
        return
    emb = np.load(path)
    train, test, category, catalogue, new, n_cat = photo_split()
    img = ImageFeatures(n_components=IMAGE_COMPONENTS).fit(emb[catalogue])
    one_hot = sp.csr_matrix(np.eye(n_cat, dtype=np.float32)[category])
    features = {
        "photo only": (img.transform(emb[catalogue]), img.transform(emb[new])),
        "category": (one_hot[catalogue], one_hot[new]),
    }
    features["category + photo"] = tuple(
        sp.hstack([features["category"][k], features["photo only"][k]]).tocsr() for k in (0, 1)
    )
    split = dict(train=sp.csr_matrix(test.shape), test=test, candidates=np.arange(len(new)))
    print(f"\nPhotos: {train.shape[0]} users, {len(catalogue)} catalogue and {len(new)} new products (no events),")
    print(f"{train.nnz} training pairs; photo features: {img.n_components_} directions of the CNN's", end=" ")
    print(f"{emb.shape[1]}-wide embedding; WARP, {FACTORS} factors, lr {LR}, max_sampled {MAX_SAMPLED},", end=" ")
    print(f"{EPOCHS} epochs, {THREADS} threads")

    def lightfm(item_f, seed):
        m = LightFM(no_components=FACTORS, loss="warp", learning_rate=LR, max_sampled=MAX_SAMPLED, random_state=seed)
        t = time.perf_counter()
        m.fit(train, item_features=item_f, epochs=EPOCHS, num_threads=THREADS)
        return m, time.perf_counter() - t

    def ours(item_f, seed):
        m = HybridMF(
            factors=FACTORS, loss="warp", learning_rate=LR, epochs=EPOCHS, max_sampled=MAX_SAMPLED, seed=seed,
            num_threads=THREADS, item_identity=False,
        )  # fmt: skip
        t = time.perf_counter()
        m.fit(train, item_features=item_f)
        return m, time.perf_counter() - t

    def new_scores(m, new_f):
        ub, ue = m.get_user_representations()
        ib, ie = m.get_item_representations(new_f)
        return ue @ ie.T + ub[:, None] + ib[None, :]

    per_category = np.bincount(category[catalogue][train.indices], minlength=n_cat).astype(np.float32)
    popular = np.tile(per_category[category[new]], (train.shape[0], 1))
    auc, p10, _ = metrics(popular, split)
    rows = [("category popularity", "-", auc, p10, 0.0)]
    for name, (item_f, new_f) in features.items():
        for lib, fit in (("LightFM", lightfm), ("mercato", ours)):
            q = np.array([metrics(new_scores(fit(item_f, seed)[0], new_f), split)[:2] for seed in SEEDS])
            t = statistics.median(fit(item_f, 0)[1] for _ in range(3)) if name == "category + photo" else float("nan")
            rows.append((name, lib, *q.mean(axis=0), t))
    print(f"{'features':<20} {'library':<8} {'P@10':>7} {'AUC':>7} {'fit s':>7}")
    for name, lib, auc, p10, t in rows:
        print(f"{name:<20} {lib:<8} {p10:7.4f} {auc:7.4f} {'-' if np.isnan(t) else f'{t:.3f}':>7}")
    for k in range(1, len(rows), 2):
        lf, me = rows[k], rows[k + 1]
        print(f"{lf[0]}: mercato - LightFM: P@10 {me[3] - lf[3]:+.4f}, AUC {me[2] - lf[2]:+.4f}", end="")
        lift = lf[3] / rows[0][3], me[3] / rows[0][3]
        print(f"; lift in P@10 over category popularity: LightFM {lift[0]:.2f}x, mercato {lift[1]:.2f}x")
    lf, me = rows[-2], rows[-1]
    print(f"fit (category + photo): mercato {lf[4] / me[4]:.1f}x faster")


if __name__ == "__main__":
    main()
