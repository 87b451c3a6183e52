"""Hybrid recommendation with user and item features (LightFM's model): ``HybridMF`` and the
``HybridDataset`` builder that maps ids and feature names.

``HybridMF`` takes LightFM's arguments, so its users can switch: a user's (item's)
representation is the sum of its features' embeddings (identity features included by
default), trained with ``warp``, ``bpr``, ``logistic`` or ``warp-kos`` and Adagrad or
Adadelta. Unlike LightFM, training is bit-identical for any ``num_threads``, and new items or
users are given by their features (rows of a ``HybridDataset.new_item_features`` matrix,
with their external ids beside) instead of by an internal index.

Every heavy call runs in Rust with the GIL released. Models pickle, ``save`` and ``load``
through mercato's checked model format.
"""

from __future__ import annotations

import warnings

import numpy as np

from mercato._base import Estimator, ParameterWarning, choice, params_json
from mercato._mercato import recommend as _r

__all__ = ["HybridMF", "HybridDataset"]

_LOSSES = {"warp": "warp", "bpr": "bpr", "logistic": "logistic", "warp-kos": "warp-kos"}
_SCHEDULES = {"adagrad": "adagrad", "adadelta": "adadelta"}


def _csr(m, what, n_rows=None, n_cols=None):
    """(indptr, indices, data, n_rows, n_cols) of a scipy sparse matrix (or dense array)."""
    import scipy.sparse as sp

    if m is None:
        return None
    if not sp.issparse(m):
        arr = np.asarray(m, dtype=np.float32)
        if arr.ndim != 2:
            raise ValueError(f"{what} must be a 2-D matrix, got {arr.ndim} dimensions")
        m = sp.csr_matrix(arr)
    m = m.tocsr().copy()
    m.sum_duplicates()
    m.sort_indices()
    if n_rows is not None and m.shape[0] != n_rows:
        raise ValueError(f"{what} has {m.shape[0]} rows, expected {n_rows}")
    if n_cols is not None and m.shape[1] != n_cols:
        raise ValueError(f"{what} has {m.shape[1]} columns, expected {n_cols}")
    data = np.ascontiguousarray(m.data, dtype=np.float32)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{what} has NaN or infinite values")
    return (
        np.ascontiguousarray(m.indptr, dtype=np.int64),
        np.ascontiguousarray(m.indices, dtype=np.int64),
        data,
        int(m.shape[0]),
        int(m.shape[1]),
    )


def _index_array(x, what):
    a = np.atleast_1d(np.asarray(x))
    if a.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integer indices, got {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)


class HybridMF(Estimator):
    """Hybrid matrix factorisation with user/item features (LightFM's model).

    Parameters follow LightFM: ``factors`` (``no_components``), ``loss`` (``"warp"``,
    ``"bpr"``, ``"logistic"``, ``"warp-kos"``), ``learning_rate``, ``epochs``,
    ``item_alpha``/``user_alpha`` (L2 on the touched embeddings), ``max_sampled`` (WARP),
    ``seed`` (``random_state``), ``num_threads`` (``None`` = all cores; never changes the
    result). ``user_identity``/``item_identity``: give every training user/item its own
    embedding besides its features (LightFM's Dataset default). ``k``, ``n``: WARP-kos.
    ``blocks``: the grid of the parallel schedule (``None``: from the data size).
    ``learning_schedule``: ``"adagrad"`` (default) or ``"adadelta"`` with ``rho`` and
    ``epsilon`` (LightFM's names and defaults); Adadelta does not use ``learning_rate``, and
    a parameter the chosen schedule does not use warns.

    Input matrices are ``scipy.sparse`` (users x items interactions, values > 0 positive;
    users x user-features, items x item-features); ``HybridDataset`` builds them from ids.
    """

    _kinds = ("recommend.hybrid_mf",)

    def __init__(
        self,
        factors=64,
        loss="warp",
        learning_rate=0.05,
        epochs=20,
        item_alpha=0.0,
        user_alpha=0.0,
        max_sampled=10,
        seed=0,
        num_threads=None,
        *,
        user_identity=True,
        item_identity=True,
        k=5,
        n=10,
        blocks=None,
        learning_schedule="adagrad",
        rho=0.95,
        epsilon=1e-6,
    ):
        self.factors = factors
        self.loss = loss
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.seed = seed
        self.num_threads = num_threads
        self.user_identity = user_identity
        self.item_identity = item_identity
        self.k = k
        self.n = n
        self.blocks = blocks
        self.learning_schedule = learning_schedule
        self.rho = rho
        self.epsilon = epsilon

    def _rust_params(self):
        loss = choice("loss", self.loss, _LOSSES)
        nt = self.num_threads
        if nt is not None and (isinstance(nt, bool) or not isinstance(nt, (int, np.integer)) or nt < 0):
            raise ValueError(f"invalid parameter `num_threads`: must be None or a non-negative integer, got {nt!r}")
        schedule = choice("learning_schedule", self.learning_schedule, _SCHEDULES)
        for name in ("learning_rate", "item_alpha", "user_alpha", "rho", "epsilon"):
            v = float(getattr(self, name))
            if not np.isfinite(v):
                raise ValueError(f"invalid parameter `{name}`: must be a finite number, got {v}")
        unused = ("rho", "epsilon") if schedule == "adagrad" else ("learning_rate",)
        defaults = self._defaults()
        for name in unused:
            if float(getattr(self, name)) != defaults[name]:
                warnings.warn(
                    f"{name}={getattr(self, name)!r} is ignored by learning_schedule={self.learning_schedule!r}",
                    ParameterWarning,
                    stacklevel=3,
                )
        p = {
            "factors": int(self.factors),
            "loss": loss,
            "learning_rate": float(self.learning_rate),
            "epochs": int(self.epochs),
            "item_alpha": float(self.item_alpha),
            "user_alpha": float(self.user_alpha),
            "max_sampled": int(self.max_sampled),
            "seed": int(self.seed),
            "num_threads": None if not nt else int(nt),
            "user_identity": bool(self.user_identity),
            "item_identity": bool(self.item_identity),
            "kos_k": int(self.k),
            "kos_n": int(self.n),
            "blocks": None if self.blocks is None else int(self.blocks),
            "schedule": schedule,
            "rho": float(self.rho),
            "epsilon": float(self.epsilon),
        }
        return p

    # --- fitting --------------------------------------------------------------------------
    def fit(self, user_items, user_features=None, item_features=None, *, dataset=None):
        """Trains on a users x items sparse matrix (values > 0 are positives) with optional
        users x features and items x features matrices. With ``dataset`` (the
        ``HybridDataset`` that built them) the model keeps its ids and feature names."""
        ui = _csr(user_items, "user_items")
        uf = _csr(user_features, "user_features", n_rows=ui[3])
        itf = _csr(item_features, "item_features", n_rows=ui[4])
        kw = {}
        if dataset is not None:
            kw = {"user_ids": dataset.user_ids, "item_ids": dataset.item_ids}
        model = _r._HybridMF.fit(params_json(self._rust_params()), ui, uf, itf, **kw)
        if dataset is not None:
            un = dataset.user_feature_names if uf is not None else []
            inn = dataset.item_feature_names if itf is not None else []
            model = model.with_feature_names(list(un), list(inn))
        self._adopt(model)
        return self

    def partial_fit(self, user_items, epochs=1):
        """Trains ``epochs`` more epochs on the same users, items and features (``fit`` with
        10 epochs then ``partial_fit`` with 5 equals ``fit`` with 15)."""
        self._adopt(self._fitted().partial_fit(_csr(user_items, "user_items"), int(epochs)))
        return self

    @property
    def n_users(self):
        return self._fitted().n_users

    @property
    def n_items(self):
        return self._fitted().n_items

    @property
    def user_ids(self):
        """External ids of the training users (indices when trained without a dataset)."""
        return self._fitted().ids("user")

    @property
    def item_ids(self):
        return self._fitted().ids("item")

    # --- scoring --------------------------------------------------------------------------
    def predict(self, user_ids, item_ids, user_features=None, item_features=None):
        """Scores of (user, item) pairs. Indices are rows of the training matrix, or of
        ``user_features``/``item_features`` when given (new users/items described by their
        features, over the training feature columns, without identity columns)."""
        m = self._fitted()
        u, i = _index_array(user_ids, "user_ids"), _index_array(item_ids, "item_ids")
        if len(u) == 1 and len(i) > 1:
            u = np.repeat(u, len(i))
        return m.predict(u, i, _csr(user_features, "user_features"), _csr(item_features, "item_features"))

    def recommend(
        self,
        userid,
        user_items=None,
        N=10,
        filter_already_liked_items=True,
        items=None,
        user_features=None,
        item_features=None,
    ):
        """Top-``N`` items as ``(ids, scores)``, 1-D for one user, 2-D for an array (rows
        padded with -1 / -inf). Users are training rows or rows of ``user_features``; items
        are the training items or, with ``item_features``, its rows (cold items). With
        ``filter_already_liked_items``, ``user_items`` rows (one per user) are excluded, or
        without them the training positives (for training users and items). ``items``
        restricts the candidates. Scored in parallel, one score row per thread."""
        m = self._fitted()
        single = np.ndim(userid) == 0
        users = _index_array(userid, "userid")
        exclude = None
        if filter_already_liked_items and user_items is not None:
            exclude = _csr(user_items, "user_items", n_rows=len(users))
        allow = None if items is None else _index_array(items, "items")
        ids, scores = m.recommend(
            users,
            int(N) if int(N) > 0 else 0,
            bool(filter_already_liked_items),
            exclude,
            allow,
            _csr(user_features, "user_features"),
            _csr(item_features, "item_features"),
        )
        return (ids[0], scores[0]) if single else (ids, scores)

    def similar_items(self, itemid, N=10, item_features=None):
        """The ``N`` training items closest (cosine of embeddings) to training item
        ``itemid``, or to row ``itemid`` of ``item_features`` (a new item)."""
        return self._fitted().similar_items(int(itemid), int(N), _csr(item_features, "item_features"))

    def user_embeddings(self, features=None):
        """(users x factors) embeddings of the training users, or of rows of ``features``."""
        return self._fitted().reprs("user", _csr(features, "features"))[0]

    def item_embeddings(self, features=None):
        """(items x factors) embeddings of the training items, or of rows of ``features``."""
        return self._fitted().reprs("item", _csr(features, "features"))[0]

    def get_user_representations(self, features=None):
        """LightFM's ``(biases, embeddings)``."""
        e, b = self._fitted().reprs("user", _csr(features, "features"))
        return b, e

    def get_item_representations(self, features=None):
        """LightFM's ``(biases, embeddings)``."""
        e, b = self._fitted().reprs("item", _csr(features, "features"))
        return b, e

    # --- persistence (the checked model format, see mercato._base) --------------------------
    @classmethod
    def _native_from_bytes(cls, data):
        return _r._HybridMF.from_bytes(bytes(data))

    @classmethod
    def _params_from_native(cls, native):
        import json

        p = json.loads(native.params_json)
        return dict(
            factors=p["factors"], loss=p["loss"], learning_rate=p["learning_rate"], epochs=p["epochs"],
            item_alpha=p["item_alpha"], user_alpha=p["user_alpha"], max_sampled=p["max_sampled"],
            seed=p["seed"], num_threads=p["num_threads"], user_identity=p["user_identity"],
            item_identity=p["item_identity"], k=p["kos_k"], n=p["kos_n"], blocks=p["blocks"],
            learning_schedule=p.get("schedule", "adagrad"), rho=p.get("rho", 0.95),
            epsilon=p.get("epsilon", 1e-6),
        )  # fmt: skip


class HybridDataset:
    """Maps external user/item ids and feature names to matrix rows and columns (LightFM's
    ``Dataset``, fixed so that a new item is given by its external id and features).

    >>> ds = HybridDataset().fit(users=["ann", "bob"], items=["tea", "mug"], item_features=["drink", "kitchen"])
    >>> ds.build_interactions([("ann", "tea"), ("bob", "mug")]).shape
    (2, 2)
    """

    def __init__(self):
        self.user_ids = []
        self.item_ids = []
        self.user_feature_names = []
        self.item_feature_names = []

    def fit(self, users, items, user_features=(), item_features=()):
        """Sets the users, items and feature names (in order of first appearance)."""
        self.user_ids = list(dict.fromkeys(users))
        self.item_ids = list(dict.fromkeys(items))
        self.user_feature_names = list(dict.fromkeys(user_features))
        self.item_feature_names = list(dict.fromkeys(item_features))
        self._reindex()
        return self

    def _reindex(self):
        self._u = {u: i for i, u in enumerate(self.user_ids)}
        self._i = {u: i for i, u in enumerate(self.item_ids)}
        self._uf = {u: i for i, u in enumerate(self.user_feature_names)}
        self._if = {u: i for i, u in enumerate(self.item_feature_names)}

    def user_index(self, user):
        """Row of a known user (``KeyError`` otherwise)."""
        try:
            return self._u[user]
        except KeyError:
            raise KeyError(f"unknown user id: {user!r}") from None

    def item_index(self, item):
        """Row of a known item (``KeyError`` otherwise)."""
        try:
            return self._i[item]
        except KeyError:
            raise KeyError(f"unknown item id: {item!r}") from None

    def build_interactions(self, data):
        """Users x items CSR from (user, item[, weight]) rows: a DataFrame's first columns or
        an iterable of tuples; duplicates summed."""
        import scipy.sparse as sp

        rows, cols, vals = [], [], []
        for t in _tuples(data):
            rows.append(self.user_index(t[0]))
            cols.append(self.item_index(t[1]))
            vals.append(float(t[2]) if len(t) > 2 else 1.0)
        m = sp.coo_matrix(
            (np.asarray(vals, np.float32), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
            shape=(len(self.user_ids), len(self.item_ids)),
        ).tocsr()
        m.sum_duplicates()
        return m

    def build_user_features(self, data, normalize=True):
        """Users x user-features CSR, one row per known user (users not in ``data`` get an
        empty row); ``data`` as for :meth:`build_item_features`."""
        return self._features(data, self._u, self._uf, len(self.user_ids), "user", normalize)[1]

    def build_item_features(self, data, normalize=True):
        """Items x item-features CSR. ``data``: a long DataFrame (id, feature[, weight]), or
        an iterable of ``(id, [feature, ...])`` or ``(id, {feature: weight})``. With
        ``normalize`` each row sums to 1 (LightFM's default). Unknown ids or feature names
        raise ``KeyError``."""
        return self._features(data, self._i, self._if, len(self.item_ids), "item", normalize)[1]

    def new_item_features(self, data, normalize=True):
        """``(ids, matrix)`` for items described only by features (cold items), rows in order
        of first appearance in ``data``; pass ``matrix`` as ``item_features`` to ``predict``/
        ``recommend`` and map the returned rows through ``ids``."""
        return self._features(data, None, self._if, None, "item", normalize)

    def new_user_features(self, data, normalize=True):
        """``(ids, matrix)`` for users described only by features."""
        return self._features(data, None, self._uf, None, "user", normalize)

    def _features(self, data, index, names, n_rows, what, normalize):
        import scipy.sparse as sp

        pairs = []
        if hasattr(data, "iloc") and hasattr(data, "columns"):
            for t in data.itertuples(index=False):
                pairs.append((t[0], t[1], float(t[2]) if len(t) > 2 else 1.0))
        else:
            for ident, feats in data:
                items = feats.items() if isinstance(feats, dict) else ((f, 1.0) for f in feats)
                pairs.extend((ident, f, float(w)) for f, w in items)
        new_ids = {}
        rows, cols, vals = [], [], []
        for ident, f, w in pairs:
            if index is None:
                r = new_ids.setdefault(ident, len(new_ids))
            else:
                try:
                    r = index[ident]
                except KeyError:
                    raise KeyError(f"unknown {what} id: {ident!r}") from None
            try:
                c = names[f]
            except KeyError:
                raise KeyError(f"unknown {what} feature: {f!r}") from None
            if not np.isfinite(w) or w < 0:
                raise ValueError(f"{what} {ident!r}: feature {f!r} has weight {w}; weights must be finite and >= 0")
            rows.append(r)
            cols.append(c)
            vals.append(w)
        n = len(new_ids) if index is None else n_rows
        m = sp.coo_matrix(
            (np.asarray(vals, np.float32), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
            shape=(n, len(names)),
        ).tocsr()
        m.sum_duplicates()
        if normalize:
            sums = np.asarray(m.sum(axis=1)).ravel()
            sums[sums == 0] = 1.0
            m = sp.diags(1.0 / sums).dot(m).tocsr().astype(np.float32)
        return list(new_ids), m


def _tuples(data):
    if hasattr(data, "iloc") and hasattr(data, "columns"):
        return data.itertuples(index=False)
    return data
