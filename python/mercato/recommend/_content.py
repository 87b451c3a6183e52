"""Content-based recommendation: ``ItemContent`` ("more like this" from item features alone,
so a product listed a minute ago already has neighbours) and ``blend``, which mixes its
scores with a collaborative model's.

Item features are a ``scipy.sparse`` (or dense) items x features matrix: tags, categories,
words of a description, or image embeddings turned into features. With the default
``weighting="tfidf"`` the item vectors are scikit-learn's ``TfidfTransformer()`` output (smooth
idf, L2-normalised rows), so ``similar_items`` ranks by the cosine scikit-learn's
``cosine_similarity`` would give.
"""

from __future__ import annotations

import json

import numpy as np

from mercato._base import Estimator, choice, params_json, threads
from mercato._mercato import recommend as _r
from mercato.recommend._hybrid import _csr

__all__ = ["ItemContent", "blend"]


class ItemContent(Estimator):
    """Items compared by their features: cosine over weighted, unit-length feature rows.

    Parameters
    ----------
    weighting : ``"tfidf"`` (default; scikit-learn's ``TfidfTransformer``), ``"bm25"``
        (``K1``, ``B``; Lucene's idf, rows normalised by the mean row sum) or ``"none"``.
    K1, B : BM25's saturation and length normalisation.
    num_threads : threads (``None`` = all cores); results do not depend on it.

    After ``fit(item_features, item_ids=..., feature_names=...)`` (ids and names optional;
    ``mercato serve`` answers by them): ``similar_items(itemid | ids, N)`` for catalogue items,
    ``similar_items(item_features=rows, N)`` for new items given by their features, and
    ``recommend(userid, user_items, N)``: each candidate scored by its cosines to the items in
    the user's row, summed (weighted by the row's values).
    """

    _kinds = ("recommend.item_content",)

    def __init__(self, weighting="tfidf", K1=1.2, B=0.75, num_threads=None):
        self.weighting = weighting
        self.K1 = K1
        self.B = B
        self.num_threads = num_threads

    def _rust_params(self):
        weighting = choice(
            "weighting",
            self.weighting,
            {"tfidf": "TfIdf", "none": "None", "bm25": {"Bm25": {"k1": self.K1, "b": self.B}}},
        )
        return {"weighting": weighting, "num_threads": threads(self.num_threads)}

    def fit(self, item_features, y=None, *, item_ids=None, feature_names=None):
        """Fits on an items x features matrix (non-negative values); returns self.

        ``item_ids`` (one external id per row, e.g. SKUs) and ``feature_names`` (one per
        column, e.g. ``"category=shoes"``) go into the saved model, so ``mercato serve``
        answers by id and takes new items by named features; in Python, items stay row
        indices."""
        if feature_names is not None:
            feature_names = [str(f) for f in feature_names]
        native = _r._ItemContent.fit(
            params_json(self._rust_params()), _csr(item_features, "item_features"), item_ids, feature_names
        )
        self._adopt(native)
        return self

    @property
    def item_ids(self):
        """External ids of the catalogue's items, by row (row indices when fitted without)."""
        return self._fitted().ids()

    @property
    def feature_names(self):
        """Names of the feature columns (empty when fitted without)."""
        return self._fitted().feature_names()

    @property
    def n_items_(self) -> int:
        return self._fitted().n_items

    @property
    def n_features_in_(self) -> int:
        return self._fitted().n_features

    def similar_items(self, itemid=None, N=10, item_features=None):
        """The ``N`` catalogue items most similar to ``itemid`` (itself first), as ``(ids,
        scores)``; an array of ids gives 2-D arrays (padded with -1 / -inf). Or, with
        ``item_features`` (rows of new items, the catalogue's feature columns) instead of
        ``itemid``: the most similar catalogue items for each row, 2-D. Items sharing no
        feature with the query are left out."""
        m = self._fitted()
        n = _positive(N)
        if item_features is not None:
            if itemid is not None:
                raise ValueError("pass itemid or item_features, not both")
            return m.similar_to_features(_csr(item_features, "item_features", n_cols=m.n_features), n)
        if itemid is None:
            raise ValueError("similar_items needs itemid or item_features")
        if np.ndim(itemid) == 0:
            return m.similar_items(_index(itemid, m.n_items), n)
        lists = [m.similar_items(_index(i, m.n_items), n) for i in np.asarray(itemid).reshape(-1)]
        width = min(n, m.n_items)
        ids = np.full((len(lists), width), -1, np.int32)
        scores = np.full((len(lists), width), -np.inf, np.float32)
        for r, (i, s) in enumerate(lists):
            ids[r, : len(i)], scores[r, : len(s)] = i, s
        return ids, scores

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, filter_items=None, items=None):
        """Top ``N`` items for ``userid`` (an int, or an array for a batch) from the items in
        its row of ``user_items`` (one row per user, or the full users x items matrix, as
        implicit's ``recommend``): ``(ids, scores)``, 1-D for one user, 2-D (padded with -1 /
        -inf) for a batch. ``items`` restricts the candidates, ``filter_items`` removes some;
        unknown ids raise ``KeyError``."""
        import scipy.sparse as sp

        m = self._fitted()
        single = np.ndim(userid) == 0
        users = np.atleast_1d(np.asarray(userid))
        if users.dtype.kind not in "iu":
            raise TypeError(f"userid must be integer row indices, got {users.dtype}")
        rows = user_items if sp.issparse(user_items) else sp.csr_matrix(np.asarray(user_items, np.float32))
        rows = rows.tocsr()
        if rows.shape[0] != len(users):
            if users.min() < 0 or users.max() >= rows.shape[0]:
                raise KeyError(f"userid outside the {rows.shape[0]} rows of user_items")
            rows = rows[users]
        allow = None if items is None else _indices(items)
        deny = None if filter_items is None else _indices(filter_items)
        ids, scores = m.recommend(
            _csr(rows, "user_items", n_cols=m.n_items), _positive(N), bool(filter_already_liked_items), allow, deny
        )
        if single:
            keep = ids[0] >= 0
            return ids[0][keep], scores[0][keep]
        return ids, scores

    # --- persistence (the checked model format, see mercato._base) ---------------------
    @classmethod
    def _native_from_bytes(cls, data):
        return _r._ItemContent.from_bytes(bytes(data))

    @classmethod
    def _params_from_native(cls, native):
        p = json.loads(native.params_json())
        w = p["weighting"]
        if isinstance(w, dict):  # {"Bm25": {"k1": .., "b": ..}}
            bm25 = w["Bm25"]
            return {"weighting": "bm25", "K1": bm25["k1"], "B": bm25["b"], "num_threads": p["num_threads"]}
        return {"weighting": {"TfIdf": "tfidf", "None": "none"}[w], "num_threads": p["num_threads"]}


def blend(scores, other, weight=0.5, method="rank"):
    """Mixes two score arrays for the same candidates (1-D, or one row per user):
    ``(1 - weight) * norm(scores) + weight * norm(other)``, each row put on one scale first.

    ``method="rank"``: each score's percentile rank within its row (robust to the two
    models' different scales; ties share a rank); ``"zscore"``: standardised per row. Lean
    ``weight`` towards a content model (``ItemContent``) for items with few interactions,
    towards a collaborative one (``ALS``, ``HybridMF``) for the rest; NaN or -inf scores
    (filtered candidates) stay -inf."""
    a, b = np.asarray(scores, np.float64), np.asarray(other, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"scores have shapes {a.shape} and {b.shape}: score the same candidates")
    if not 0.0 <= float(weight) <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    if method not in ("rank", "zscore"):
        raise ValueError(f"method must be 'rank' or 'zscore', got {method!r}")
    one = a.ndim == 1
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    dropped = ~(np.isfinite(a) & np.isfinite(b))
    out = (1.0 - weight) * _normalise(a, dropped, method) + weight * _normalise(b, dropped, method)
    out[dropped] = -np.inf
    return out[0] if one else out


def _normalise(x, dropped, method):
    out = np.zeros_like(x)
    for r in range(x.shape[0]):
        keep = ~dropped[r]
        v = x[r, keep]
        if v.size == 0:
            continue
        if method == "rank":
            from scipy.stats import rankdata

            out[r, keep] = (rankdata(v) - 1) / max(v.size - 1, 1)
        else:
            sd = v.std()
            out[r, keep] = (v - v.mean()) / sd if sd > 0 else 0.0
    return out


def _positive(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"N must be an integer, got {type(n).__name__}")
    if n <= 0:
        raise ValueError(f"N must be positive, got {n}")
    return int(n)


def _index(i, n):
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"item ids must be integers, got {type(i).__name__}")
    if not 0 <= int(i) < n:
        raise KeyError(f"unknown item id: {i} (the catalogue has {n} items)")
    return int(i)


def _indices(x):
    a = np.atleast_1d(np.asarray(x))
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"item ids must be integers, got {a.dtype}")
    if a.size and a.min() < 0:
        raise KeyError(f"unknown item id: {int(a.min())}")
    return np.ascontiguousarray(a, dtype=np.int64)
