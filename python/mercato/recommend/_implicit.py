"""Implicit-feedback recommenders with implicit's conventions: ``ALS``, ``BPR``, ``ItemKNN``,
and the weighting helpers ``bm25_weight``, ``tfidf_weight``, ``log_weight``.

Input is a users x items ``scipy.sparse`` matrix (any format; unsorted indices and
duplicates are normalised: sorted, summed) or a pandas DataFrame whose first three columns
are (user, item, value). Ids are the matrix row and column indices, as in implicit, unless
``fit`` gets a DataFrame whose user or item column is not integer (e.g. strings): then both
columns are mapped to indices (in order of first appearance), and ``recommend``,
``similar_items``, ``similar_users``, the ``items``/``filter_items`` lists and the partial
fits take and return the original ids (``user_items`` matrices stay in index space); the
mapping is saved and pickled with the model. Values must be finite and non-negative
(``ValueError`` otherwise).

``recommend`` returns ``(ids, scores)`` numpy arrays, 1-D for one user and 2-D for an array
of users. A batch always has ``min(N, candidates)`` columns, where candidates are the
model's items, or the distinct ids of ``items`` when given (so ``items=[]`` gives zero
columns); rows the filters leave shorter are padded with id ``-1`` / score ``-inf``. A
single user's arrays hold only the real recommendations (no padding). ``user_items`` must
have exactly the model's item columns. Training rows are kept in the model, so ``user_items`` is optional: pass it
to filter with (and, for ItemKNN, score from) other rows, or to fold in users the model has
never seen. A user with no interactions at all gets the popularity ranking; ask for the
flag with ``return_fallback=True``.
"""

from __future__ import annotations

import warnings

import numpy as np

from mercato._base import Estimator, ParameterWarning, UnknownIdError, choice, params_json, threads
from mercato._mercato import recommend as _r

__all__ = ["ALS", "BPR", "ItemKNN", "bm25_weight", "tfidf_weight", "log_weight"]


def _csr(user_items, n_cols=None):
    """(indptr, indices, data, n_rows, n_cols) of a scipy matrix or a DataFrame."""
    import scipy.sparse as sp

    if hasattr(user_items, "iloc") and hasattr(user_items, "columns"):
        df = user_items
        if df.shape[1] < 2:
            raise ValueError("a DataFrame needs (user, item[, value]) columns")
        users = df.iloc[:, 0].to_numpy()
        items = df.iloc[:, 1].to_numpy()
        if not (np.issubdtype(users.dtype, np.integer) and np.issubdtype(items.dtype, np.integer)):
            raise TypeError(
                "DataFrame user and item columns must hold integer indices "
                "(map other ids first, e.g. with pandas .astype('category').cat.codes)"
            )
        values = df.iloc[:, 2].to_numpy(np.float32) if df.shape[1] > 2 else np.ones(len(df), np.float32)
        if len(df) and (users.min() < 0 or items.min() < 0):
            raise ValueError("user and item indices must be >= 0")
        shape = (int(users.max()) + 1 if len(df) else 0, int(items.max()) + 1 if len(df) else 0)
        if n_cols is not None:
            shape = (shape[0], max(shape[1], n_cols))
        user_items = sp.coo_matrix((values, (users, items)), shape=shape)
    if not sp.issparse(user_items):
        raise TypeError(f"user_items must be a scipy.sparse matrix or a DataFrame, got {type(user_items).__name__}")
    m = _as_2d(user_items).tocsr()
    return (
        np.ascontiguousarray(m.indptr, dtype=np.int64),
        np.ascontiguousarray(m.indices, dtype=np.int64),
        np.ascontiguousarray(m.data, dtype=np.float32),
        int(m.shape[0]),
        int(m.shape[1]),
    )


def _as_2d(m):
    """A 2-D sparse matrix or array (a row of a ``csr_array`` is 1-D: one row here)."""
    return m.reshape(1, -1) if m.ndim == 1 else m


def _warn_if_not_csr(user_items):
    """implicit's habit: fit converts other sparse formats, with a ``ParameterWarning``."""
    import scipy.sparse as sp

    if sp.issparse(user_items) and user_items.format != "csr":
        warnings.warn(
            f"user_items is a {user_items.format.upper()} matrix: converted to CSR (pass CSR to avoid the copy)",
            ParameterWarning,
            stacklevel=3,
        )


def _is_frame(x):
    return hasattr(x, "iloc") and hasattr(x, "columns")


def _needs_ids(df):
    """True when a DataFrame's user or item column does not hold integer indices."""
    if df.shape[1] < 2:
        raise ValueError("a DataFrame needs (user, item[, value]) columns")
    return not all(np.issubdtype(df.iloc[:, c].to_numpy().dtype, np.integer) for c in (0, 1))


def _map_frame(df):
    """(users x items CSR, user ids, item ids) of a DataFrame with arbitrary ids, indices in
    order of first appearance."""
    import pandas as pd
    import scipy.sparse as sp

    users, user_ids = pd.factorize(df.iloc[:, 0], sort=False)
    items, item_ids = pd.factorize(df.iloc[:, 1], sort=False)
    if (users < 0).any() or (items < 0).any():
        raise ValueError("user and item ids must not be missing (NaN/None)")
    values = df.iloc[:, 2].to_numpy(np.float32) if df.shape[1] > 2 else np.ones(len(df), np.float32)
    m = sp.coo_matrix((values, (users, items)), shape=(len(user_ids), len(item_ids)))
    return m, list(user_ids), list(item_ids)


def _from_raw(raw, shape):
    import scipy.sparse as sp

    indptr, indices, data = raw
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def bm25_weight(X, K1=100, B=0.8):
    """Weighs each row of ``X`` (documents; columns are terms) by BM25, as implicit's
    ``bm25_weight``. implicit's last.fm example weights items x users:
    ``bm25_weight(user_items.T).T``. Returns a CSR matrix."""
    csr = _csr(X)
    return _from_raw(_r.bm25_weight_csr(csr, float(K1), float(B)), (csr[3], csr[4]))


def tfidf_weight(X):
    """Weighs each row of ``X`` by TF-IDF (``sqrt(r) * idf``), as implicit's ``tfidf_weight``."""
    csr = _csr(X)
    return _from_raw(_r.tfidf_weight_csr(csr), (csr[3], csr[4]))


def log_weight(X, eps=1.0):
    """``log(1 + r / eps)`` of every value: log confidence for ALS with ``confidence='linear'``."""
    csr = _csr(X)
    return _from_raw(_r.log_weight_csr(csr, float(eps)), (csr[3], csr[4]))


def _ids(x, what):
    a = np.asarray(x)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
        raise TypeError(f"{what} must be integer ids")
    return np.ascontiguousarray(a.reshape(-1), dtype=np.int64)


def _positive(v, what):
    v = int(v)
    if v <= 0:
        raise ValueError(f"{what} must be positive, got {v}")
    return v


class _Base(Estimator):
    """Shared fitting, serving, persistence and pickling (see mercato._base)."""

    _rust_cls = None
    _iterative = True  # trains in iterations (ALS, BPR): takes a callback

    def _rust_params(self) -> dict:
        raise NotImplementedError

    def _check_values(self, values):
        """Hook: warn about input values a model uses differently from implicit."""

    def fit(self, user_items, show_progress=None, callback=None):
        """Trains on a users x items matrix or a (user, item[, value]) DataFrame; returns
        self. Sparse input other than CSR is converted, with a ``ParameterWarning``.
        ``show_progress`` (default: the constructor's) draws a progress bar on a terminal
        (ALS and BPR). ``callback`` is called after every iteration, as implicit's: ALS
        ``callback(iteration, elapsed_seconds, loss)`` (``loss`` is None unless
        ``calculate_training_loss``), BPR ``callback(epoch, elapsed_seconds, correct,
        skipped)``; an exception it raises stops training and propagates (ItemKNN has no
        iterations: ``NotImplementedError``). A model being fitted keeps serving its
        previous fit from other threads until this one finishes."""
        if callback is not None and not self._iterative:
            raise NotImplementedError(f"{type(self).__name__} trains in one pass: fit takes no callback")
        _warn_if_not_csr(user_items)
        ids = None
        if _is_frame(user_items) and _needs_ids(user_items):
            user_items, *ids = _map_frame(user_items)
        csr = _csr(user_items)
        self._check_values(csr[2])
        native = self._rust_cls(params_json(self._rust_params()))
        if self._iterative:
            native.fit(csr, None if show_progress is None else bool(show_progress), callback)
        else:
            native.fit(csr)
        if ids is not None:
            native.set_ids(*ids)
        self._adopt(native)
        return self

    def _fitted(self):
        m = super()._fitted()
        m.num_threads = threads(self.num_threads) or 0  # serving threads follow set_params
        return m

    _check = _fitted

    @classmethod
    def _native_from_bytes(cls, data):
        return cls._rust_cls.from_bytes(data)

    @classmethod
    def _params_from_native(cls, native) -> dict:
        names = set(cls._get_param_names())
        return {k: v for k, v in native.hyper_params.items() if k in names}

    def _mapped(self):
        return self._model is not None and self._model.has_ids

    def _in(self, ids, users):
        """Indices of external ids (a scalar or a sequence) for a model with ids."""
        return np.asarray(self._model.to_indices(list(np.atleast_1d(np.asarray(ids, dtype=object))), users), np.int64)

    def _out(self, idx, users):
        """External ids of an index array (any shape, -1 = none: -1 / None in the result)."""
        idx = np.asarray(idx)
        valid = idx >= 0
        got = self._model.to_ids(np.ascontiguousarray(idx[valid], dtype=np.int64), users)
        if isinstance(got, np.ndarray):
            out = np.full(idx.shape, -1, dtype=np.int64)
        else:
            out = np.full(idx.shape, None, dtype=object)
            got = np.asarray(got + [None], dtype=object)[:-1]  # keeps tuples etc. unsplit
        out[valid] = got
        return out

    @property
    def user_ids(self):
        """Original user ids by index (None when trained on indices)."""
        m = self._check()
        return self._out(np.arange(m.n_users), True) if m.has_ids else None

    @property
    def item_ids(self):
        """Original item ids by index (None when trained on indices)."""
        m = self._check()
        return self._out(np.arange(m.n_items), False) if m.has_ids else None

    def recommend(
        self,
        userid,
        user_items=None,
        N=10,
        filter_already_liked_items=True,
        filter_items=None,
        recalculate_user=False,
        items=None,
        return_fallback=False,
        batch_size=None,
    ):
        """Top ``N`` items for ``userid`` (an int, or an array for a batch).

        ``user_items``: the users' interaction rows (one row per requested user, or the full
        users x items matrix); default: the training rows. ``items``: allow-list of item ids;
        ``filter_items``: deny-list; unknown ids raise ``KeyError``. ``recalculate_user``:
        score from ``user_items`` by fold-in instead of the stored user factors. Users past
        the trained range are folded in from ``user_items``. ``batch_size`` users are scored
        at a time (peak memory ~ threads x batch_size x n_items x 4 bytes); the default
        fits 4 MiB of scores per batch (1,048,576 / n_items users, between 16 and 1024).
        """
        model = self._check()
        mapped = model.has_ids
        single = np.ndim(userid) == 0
        if mapped:
            ext = list(np.atleast_1d(np.asarray(userid, dtype=object)))
            users = np.asarray(
                model.fold_in_indices(ext, True) if user_items is not None else model.to_indices(ext, True), np.int64
            )
        else:
            users = _ids(userid, "userid")
        rows = None
        if user_items is not None:
            import scipy.sparse as sp

            # (a row of a csr_array is a 1-D COO array: one row, any format)
            if sp.issparse(user_items) and user_items.ndim == 2 and user_items.format != "csr":
                raise ValueError(
                    f"user_items must be a CSR matrix, got {user_items.format.upper()}: convert it with .tocsr()"
                )
            m = _as_2d(user_items) if sp.issparse(user_items) else None
            if m is None:
                rows = _csr(user_items, model.n_items)
            else:
                if m.shape[0] != len(users):
                    if len(users) and m.shape[0] > users.max() and users.min() >= 0:
                        m = m[users]
                    else:
                        raise ValueError(
                            f"user_items has {m.shape[0]} rows: pass one row per user ({len(users)}) "
                            "or the full users x items matrix"
                        )
                rows = _csr(m)
        if mapped:
            allow = None if items is None else self._in(items, False)
            deny = None if filter_items is None else self._in(filter_items, False)
        else:
            allow = None if items is None else self._known(_ids(items, "items"), model.n_items, "items")
            deny = None if filter_items is None else _ids(filter_items, "filter_items")
        ids, scores, fallback = model.recommend(
            users,
            int(N),
            bool(filter_already_liked_items),
            rows,
            allow,
            deny,
            bool(recalculate_user),
            0 if batch_size is None else _positive(batch_size, "batch_size"),
        )
        if single:
            keep = ids[0] >= 0
            ids, scores, fallback = ids[0][keep], scores[0][keep], bool(fallback[0])
        if mapped:
            ids = self._out(ids, False)
        return (ids, scores, fallback) if return_fallback else (ids, scores)

    @staticmethod
    def _known(idx, n, what):
        """``idx`` when every index is one of the model's ``n``; ``UnknownIdError`` otherwise."""
        bad = idx[(idx < 0) | (idx >= n)]
        if bad.size:
            raise UnknownIdError(f"{what} holds ids the model does not have: {bad[:5].tolist()} (it has {n})")
        return idx

    def _similar(self, query, N, exclude, only, users):
        """Shared body of ``similar_items``/``similar_users``: one query id or an array."""
        m = self._check()
        if exclude is not None and only is not None:
            what = "users and filter_users" if users else "items and filter_items"
            raise ValueError(f"pass either {what}, not both")
        N = _positive(N, "N")
        n_total = m.n_users if users else m.n_items
        if m.has_ids:
            to_idx = lambda v: self._in(v, users)  # noqa: E731
        else:
            to_idx = lambda v: self._known(_ids(v, "ids"), n_total, "users" if users else "items")  # noqa: E731
        exclude = None if exclude is None else to_idx(exclude)
        only = None if only is None else np.unique(to_idx(only))
        native = m.similar_users if users else m.similar_items
        single = np.ndim(query) == 0
        queries = [query] if single else list(np.asarray(query).reshape(-1))
        width = min(N, n_total if only is None else len(only))
        rows = []
        for q in queries:
            q = int(self._in(q, users)[0]) if m.has_ids else q
            if exclude is None and only is None:
                ids, scores = native(q, N)
            else:  # rank every candidate, then filter: O(catalogue) per query
                ids, scores = native(q, n_total)
                if exclude is not None:
                    keep = ~np.isin(ids, exclude)
                    ids, scores = ids[keep], scores[keep]
                if only is not None:
                    keep = np.isin(ids, only)
                    ids, scores = ids[keep], scores[keep]
                    # neighbourhood models score few pairs: the rest of the list ranks last, as implicit
                    missing = only[~np.isin(only, ids)]
                    ids = np.concatenate([ids, missing.astype(ids.dtype)])
                    scores = np.concatenate([scores, np.full(missing.size, -np.finfo(np.float32).max, np.float32)])
                ids, scores = ids[:N], scores[:N]
            rows.append((np.asarray(ids), np.asarray(scores, np.float32)))
        if single:
            ids, scores = rows[0]
        else:
            ids = np.full((len(rows), width), -1, np.int64)
            scores = np.full((len(rows), width), -np.inf, np.float32)
            for r, (i, sc) in enumerate(rows):
                ids[r, : len(i)] = i[:width]
                scores[r, : len(sc)] = sc[:width]
        return (self._out(ids, users) if m.has_ids else ids), scores

    def similar_items(self, itemid, N=10, recalculate_item=False, item_users=None, filter_items=None, items=None):
        """The ``N`` items most similar to ``itemid`` (itself first), as (ids, scores);
        an array of ids gives 2-D arrays (padded with id -1 / score -inf). ``filter_items``
        never appear; ``items`` restricts the candidates (not both: ``ValueError``).
        ``recalculate_item`` is not supported (``NotImplementedError``); ``item_users``
        alone is ignored, with a ``ParameterWarning``, as implicit ignores it."""
        if recalculate_item:
            raise NotImplementedError("similar_items(recalculate_item=True) is not supported: use the stored factors")
        if item_users is not None:
            warnings.warn("item_users is used only with recalculate_item=True: ignored", ParameterWarning, stacklevel=2)
        return self._similar(itemid, N, filter_items, items, users=False)

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """The ``N`` users most similar to ``userid`` (itself first), as (ids, scores);
        an array of ids gives 2-D arrays. ``filter_users`` never appear; ``users``
        restricts the candidates (not both: ``ValueError``)."""
        return self._similar(userid, N, filter_users, users, users=True)


class ALS(_Base):
    """Implicit-feedback ALS (Hu, Koren & Volinsky), conjugate gradient or exact Cholesky.

    Defaults (64 factors, binary confidence ``1 + alpha`` with ``alpha=10``, 15 iterations,
    and ``regularization=None``: a penalty scaled to the data, ``lambda`` = the mean number
    of interactions per user) were chosen by grid searches on a validation split of Last.fm
    training data and on the marketplace demo data (``benches/compare/implicit.py --tune``)
    and work on raw counts. A number for ``regularization`` is an absolute ``lambda``, as in
    implicit; ``regularization_`` is the one used. ``confidence='linear'`` gives
    ``1 + alpha * r`` (use it with ``bm25_weight``/``log_weight`` input; implicit uses
    ``alpha * r``). ``calculate_training_loss=True`` records ``loss_history_`` (one value
    per iteration, as implicit's). Results do not depend on ``num_threads``.
    """

    _rust_cls = _r._ALS
    _kinds = ("recommend.als",)

    def __init__(
        self,
        factors=64,
        regularization=None,
        alpha=10.0,
        iterations=15,
        confidence=None,
        use_cg=True,
        cg_steps=3,
        calculate_training_loss=False,
        num_threads=0,
        seed=42,
        show_progress=False,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.confidence = confidence
        self.use_cg = use_cg
        self.cg_steps = cg_steps
        self.calculate_training_loss = calculate_training_loss
        self.num_threads = num_threads
        self.seed = seed
        self.show_progress = show_progress

    def _rust_params(self):
        p = {
            "factors": self.factors,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "confidence": choice(
                "confidence",
                "binary" if self.confidence is None else self.confidence,
                {"binary": "Binary", "linear": "Linear", "implicit": "Implicit"},
            ),
            "solver": "ConjugateGradient" if self.use_cg else "Cholesky",
            "cg_steps": self.cg_steps,
            "seed": self.seed,
            "num_threads": threads(self.num_threads),
            "show_progress": bool(self.show_progress),
            "calculate_training_loss": bool(self.calculate_training_loss),
        }
        if self.regularization is None:  # the default: lambda = mean interactions per user
            p.update(regularization=1.0, scale_regularization=True)
        else:  # an absolute lambda, as implicit's
            p.update(regularization=self.regularization, scale_regularization=False)
        return p

    def _check_values(self, values):
        if self.confidence is None and values.size and not np.all(values == values[0]):
            warnings.warn(
                "ALS uses binary confidence 1 + alpha by default: the input's weights are ignored. "
                "Pass confidence='implicit' (alpha * r, implicit's) or 'linear' (1 + alpha * r) to use "
                "them, or confidence='binary' to silence this warning",
                ParameterWarning,
                stacklevel=3,
            )

    def explain(self, userid, user_items, itemid, user_weights=None, N=10):
        """Why ALS scores ``itemid`` for ``userid``: implicit's ``explain`` (Hu, Koren &
        Volinsky, section 5). The score is a sum over the user's items ``j`` of
        ``c_j * (W⁻¹ y_item) · y_j`` with ``W = YᵀY + λI + Σ (c_j − 1) y_j y_jᵀ``.

        ``user_items``: the user's row (one row) or a users x items matrix (row ``userid``).
        Returns ``(total_score, [(item, contribution)] — the top N, largest first —,
        user_weights)``; pass ``user_weights`` back to explain more items of the same user
        without refactorising ``W``. Ids are indices (or the model's ids when trained on a
        DataFrame of ids)."""
        import scipy.linalg
        import scipy.sparse as sp

        m = self._check()
        if not sp.issparse(user_items):
            raise TypeError(f"user_items must be a scipy.sparse matrix, got {type(user_items).__name__}")
        rows = _as_2d(user_items).tocsr()
        if rows.shape[1] != m.n_items:
            raise ValueError(f"user_items has {rows.shape[1]} columns, the model {m.n_items} items")
        if m.has_ids:
            item = int(self._in(itemid, False)[0])
            row = rows[0] if rows.shape[0] == 1 else rows[int(self._in(userid, True)[0])]
        else:
            item = int(self._known(_ids(itemid, "itemid"), m.n_items, "itemid")[0])
            # one row is the user's own (the id may be new); a matrix is indexed by userid
            u = 0 if rows.shape[0] == 1 else int(self._known(_ids(userid, "userid"), rows.shape[0], "userid")[0])
            row = rows[u]
        cols, values = row.indices, row.data.astype(np.float64)
        keep = values > 0
        cols, values = cols[keep], values[keep]
        confidence = {
            "implicit": self.alpha * values,
            "linear": 1.0 + self.alpha * values,
        }.get(self.confidence, np.full(values.shape, 1.0 + self.alpha))
        Y = np.asarray(m.item_factors, np.float64)
        if user_weights is None:
            Yj = Y[cols]
            A = Y.T @ Y + m.regularization * np.eye(Y.shape[1]) + (Yj.T * (confidence - 1.0)) @ Yj
            user_weights = scipy.linalg.cho_factor(A)
        weighted_item = scipy.linalg.cho_solve(user_weights, Y[item])
        contributions = confidence * (Y[cols] @ weighted_item)
        order = np.argsort(-contributions, kind="stable")[: _positive(N, "N")]
        ids = self._out(cols[order], False) if m.has_ids else cols[order]
        top = [(i.item() if hasattr(i, "item") else i, float(contributions[k])) for i, k in zip(ids, order)]
        return float(contributions.sum()), top, user_weights

    @property
    def regularization_(self):
        """The penalty ``lambda`` used in training (resolved from the data by default)."""
        return self._check().regularization

    @property
    def loss_history_(self):
        """Training loss after each iteration (empty unless ``calculate_training_loss``)."""
        return np.asarray(self._check().loss_history, dtype=np.float32)

    def partial_fit_users(self, userids, user_items):
        """Solves only ``userids``' factors from their rows of ``user_items`` (one row per
        id), exactly, against the fixed item factors. Ids past the end add users."""
        m = self._check()
        if not m.has_ids:
            m.partial_fit_users(_ids(userids, "userids"), _csr(user_items, m.n_items))
            return self
        ext = list(np.atleast_1d(np.asarray(userids, dtype=object)))
        idx = np.asarray(m.fold_in_indices(ext, True), np.int64)
        n_before = m.n_users
        m.partial_fit_users(idx, _csr(user_items, m.n_items))
        m.extend_ids([e for _, e in sorted((i, e) for i, e in zip(idx.tolist(), ext) if i >= n_before)], True)
        return self

    def partial_fit_items(self, itemids, item_users):
        """Solves only ``itemids``' factors from their rows of ``item_users`` (items x users,
        one row per id), exactly, against the fixed user factors. Ids past the end add
        items; the stored interactions are updated (seen-item filtering follows)."""
        m = self._check()
        if not m.has_ids:
            m.partial_fit_items(_ids(itemids, "itemids"), _csr(item_users, m.n_users))
            return self
        ext = list(np.atleast_1d(np.asarray(itemids, dtype=object)))
        idx = np.asarray(m.fold_in_indices(ext, False), np.int64)
        n_before = m.n_items
        m.partial_fit_items(idx, _csr(item_users, m.n_users))
        m.extend_ids([e for _, e in sorted((i, e) for i, e in zip(idx.tolist(), ext) if i >= n_before)], False)
        return self

    @property
    def user_factors_(self):
        """User factors, ``n_users x factors`` float32."""
        return self._check().user_factors

    @property
    def item_factors_(self):
        """Item factors, ``n_items x factors`` float32."""
        return self._check().item_factors

    user_factors = user_factors_
    item_factors = item_factors_


class BPR(_Base):
    """Bayesian personalised ranking by deterministic stratified parallel SGD.

    Same results for any ``num_threads`` (implicit's Hogwild BPR is not reproducible).
    ``negative_sampling='popularity'`` draws negatives like implicit 0.7 (the item of a
    random training entry); ``'uniform'`` as Rendle et al. Factors carry one extra column
    (user: constant 1, item: bias), as implicit's.
    """

    _rust_cls = _r._BPR
    _kinds = ("recommend.bpr",)

    def __init__(
        self,
        factors=100,
        learning_rate=0.01,
        regularization=0.01,
        iterations=100,
        verify_negative_samples=True,
        negative_sampling="popularity",
        blocks=4,
        calculate_training_loss=False,
        num_threads=0,
        seed=42,
        show_progress=False,
    ):
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.verify_negative_samples = verify_negative_samples
        self.negative_sampling = negative_sampling
        self.blocks = blocks
        self.calculate_training_loss = calculate_training_loss
        self.num_threads = num_threads
        self.seed = seed
        self.show_progress = show_progress

    def _rust_params(self):
        return {
            "factors": self.factors,
            "learning_rate": self.learning_rate,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "verify_negative_samples": bool(self.verify_negative_samples),
            "negative_sampling": choice(
                "negative_sampling", self.negative_sampling, {"uniform": "Uniform", "popularity": "Popularity"}
            ),
            "blocks": self.blocks,
            "seed": self.seed,
            "num_threads": threads(self.num_threads),
            "show_progress": bool(self.show_progress),
            "calculate_training_loss": bool(self.calculate_training_loss),
        }

    def recommend(
        self,
        userid,
        user_items=None,
        N=10,
        filter_already_liked_items=True,
        filter_items=None,
        recalculate_user=False,
        items=None,
        return_fallback=False,
        batch_size=None,
    ):
        """As ``ALS.recommend``; BPR has no exact fold-in, so ``recalculate_user=True``
        raises ``NotImplementedError`` (as implicit's BPR). Users past the trained range are
        still served, from the mean of their items' factors."""
        if recalculate_user:
            raise NotImplementedError("BPR cannot recalculate a user's factors: recommend from the stored ones")
        return super().recommend(
            userid, user_items, N, filter_already_liked_items, filter_items, False, items, return_fallback, batch_size
        )

    @property
    def loss_history_(self):
        """Mean loss ``-log sigmoid(x_u . (y_i - y_j))`` of each epoch's sampled triples
        (empty unless ``calculate_training_loss``)."""
        return np.asarray(self._check().loss_history, dtype=np.float32)

    @property
    def user_factors_(self):
        return self._check().user_factors

    @property
    def item_factors_(self):
        return self._check().item_factors

    user_factors = user_factors_
    item_factors = item_factors_


class ItemKNN(_Base):
    """Item-item nearest neighbours keeping the top ``K`` per item (the item itself
    included, as implicit). ``weighting``: ``'cosine'`` (implicit's CosineRecommender),
    ``'bm25'`` (BM25Recommender, ``K1``/``B``), ``'tfidf'`` or ``'none'``.
    A user's scores are the sum of the neighbourhoods of the items in their row, so
    ``recommend(userid, user_items=row)`` serves new users without refitting.
    """

    _rust_cls = _r._ItemKNN
    _kinds = ("recommend.item_knn",)
    _iterative = False

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """Not available: an item-item model has no user representation (as implicit)."""
        raise NotImplementedError("ItemKNN models items only: similar_users is not available")

    def __init__(self, K=20, weighting="cosine", K1=1.2, B=0.75, num_threads=0):
        self.K = K
        self.weighting = weighting
        self.K1 = K1
        self.B = B
        self.num_threads = num_threads

    def _rust_params(self):
        weighting = choice(
            "weighting",
            self.weighting,
            {"cosine": "Cosine", "bm25": {"Bm25": {"k1": self.K1, "b": self.B}}, "tfidf": "TfIdf", "none": "None"},
        )
        return {"k": self.K, "weighting": weighting, "num_threads": threads(self.num_threads)}

    @property
    def similarity(self):
        """The item x item similarity as a scipy CSR matrix."""
        m = self._check()
        return _from_raw(m.similarity(), (m.n_items, m.n_items))
