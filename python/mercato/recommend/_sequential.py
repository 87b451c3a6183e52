"""Sequential next-item recommenders on libtorch: ``SASRec`` and ``GRU4Rec``.

They read the order of each user's events (views, carts, purchases, ratings by time) and
predict the next item. The native part lives in the libtorch extension (``mercato[vision]``):
importing ``mercato.recommend`` stays torch-free, and the extension loads on first ``fit`` or
``load``.

>>> from mercato.recommend import SASRec
>>> model = SASRec(epochs=50).fit(events["user"], events["item"], events["time"])  # doctest: +SKIP
>>> ids, scores = model.recommend(["u1", "u2"], N=10)  # doctest: +SKIP
>>> ids, scores = model.recommend_sequence(["sku-9", "sku-4"], N=5)  # a live session  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import warnings
from typing import Any, ClassVar

import numpy as np

from mercato._base import Estimator, UnknownIdError, params_json

__all__ = ["GRU4Rec", "SASRec"]


def _native():
    from mercato.vision import native

    return native()


def _column(values: Any, what: str) -> Any:
    """A 1-D column as a numpy array (ints stay int64; anything else becomes a list)."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.size == 0:
        return []  # an empty column has no dtype to check; Rust reports the empty log
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64) if arr.dtype.kind == "i" else arr
    if arr.dtype.kind == "f":
        raise TypeError(f"{what} must be integers or strings, got dtype {arr.dtype}")
    return [v.item() if isinstance(v, np.generic) else v for v in arr.tolist()]


def _times(timestamps: Any, n: int) -> np.ndarray:
    """Any clock as int64: datetimes as nanoseconds, numbers as they are; ``None`` is the
    event order."""
    if timestamps is None:
        return np.arange(n, dtype=np.int64)
    if hasattr(timestamps, "to_numpy"):
        timestamps = timestamps.to_numpy()
    t = np.asarray(timestamps)
    if t.ndim != 1 or len(t) != n:
        raise ValueError(f"timestamps must hold one value per event ({n}), got shape {t.shape}")
    if t.dtype.kind == "M":
        return t.astype("datetime64[ns]").view(np.int64)
    if t.dtype.kind == "f":
        if not np.isfinite(t).all():
            raise ValueError("timestamps must be finite")
        return t.astype(np.int64)
    if t.dtype.kind not in "iu":
        raise TypeError(f"timestamps must be integers, floats or datetimes, got dtype {t.dtype}")
    return t.astype(np.int64)


@contextlib.contextmanager
def _unknown_ids():
    """The extension's KeyError for an unknown id as ``mercato.UnknownIdError``."""
    try:
        yield
    except KeyError as e:
        raise UnknownIdError(str(e.args[0]) if e.args else str(e)) from None


class _Sequential(Estimator):
    """Shared implementation of SASRec and GRU4Rec (see their docstrings)."""

    _arch: ClassVar[str] = ""

    def fit(self, user_ids, item_ids=None, timestamps=None, context=None):
        """Trains on events: ``fit(user_ids, item_ids, timestamps, context=None)`` with one
        entry per event, or ``fit(df, context=[...])`` with a DataFrame whose first three
        columns are user, item and time and ``context`` names further columns.

        ``timestamps`` may be integers, floats or datetimes (``None``: the events are
        already in order). ``context`` maps a name to one categorical value per event
        (event type, category, hour...): each column becomes an embedding added to the
        item's. Returns self."""
        if item_ids is None and hasattr(user_ids, "columns"):
            df = user_ids
            if df.shape[1] < 3:
                raise ValueError("a DataFrame needs user, item and time as its first three columns")
            names = list(context or [])
            missing = [c for c in names if c not in df.columns]
            if missing:
                raise KeyError(f"context columns {missing} are not in the DataFrame")
            user_ids, item_ids, timestamps = df.iloc[:, 0], df.iloc[:, 1], df.iloc[:, 2]
            context = {c: df[c] for c in names}
        if item_ids is None:
            raise TypeError("fit needs item_ids (or a DataFrame of user, item, time)")
        users = _column(user_ids, "user_ids")
        items = _column(item_ids, "item_ids")
        if len(users) != len(items):
            raise ValueError(f"user_ids has {len(users)} events, item_ids {len(items)}")
        times = _times(timestamps, len(users))
        ctx = [(str(name), _column(values, f"context[{name!r}]")) for name, values in (context or {}).items()]
        params = self._rust_params()
        model = _native().NativeSequential.fit(params_json(params), self.device, users, items, times, ctx)
        self._adopt(model)
        return self

    def _rust_params(self) -> dict[str, Any]:
        p = {name: getattr(self, name) for name in self._get_param_names() if name != "device"}
        p["arch"] = self._arch
        return p

    def _adopt(self, native_model) -> None:
        super()._adopt(native_model)
        self.user_ids_ = native_model.user_ids
        self.item_ids_ = native_model.item_ids
        self.context_names_ = list(native_model.context_names)

    @property
    def history_(self) -> dict:
        """Per-epoch loss and validation NDCG@10, the best epoch, seconds per epoch."""
        return self._fitted().history

    def recommend(self, users, N: int = 10, exclude_seen: bool = True, items=None):
        """The ``N`` best next items for training users from their whole history.

        ``users`` is one id (returns 1-D ``ids, scores``) or a list (returns ``[len, min(N,
        n_items)]`` arrays, padded with -1 / None and -inf when fewer items qualify). ``items``
        restricts the candidates. An unknown user raises ``mercato.UnknownIdError``."""
        single = isinstance(users, str) or np.ndim(users) == 0
        batch = [users] if single else users
        model = self._fitted()
        with _unknown_ids():
            ids, scores = model.recommend(_column(batch, "users"), N, bool(exclude_seen), items)
        if single:
            k = int(np.isfinite(scores[0]).sum())
            return np.asarray(ids[0])[:k], scores[0][:k]
        return _pad(ids, scores, scores.shape[1]), scores

    def recommend_sequence(self, item_sequence, N: int = 10, context=None, exclude_seen: bool = True):
        """The ``N`` best next items for a live session (item ids, oldest first) that was
        not in the training data. ``context`` maps each of the model's context columns to
        one value per item. Items the model never saw are skipped; when none is known the
        ranking is by popularity and a ``UserWarning`` says so. Returns ``(ids, scores)``."""
        model = self._fitted()
        seq = _column(list(item_sequence), "item_sequence")
        names = self.context_names_
        context = dict(context or {})
        unknown = sorted(set(context) - set(names))
        if unknown or len(context) != len(names):
            raise ValueError(f"context must give exactly the model's columns {names}, got {sorted(context)}")
        ctx = [_column(list(context[n]), f"context[{n!r}]") for n in names]
        ids, scores, fallback = model.recommend_sequence(seq, ctx, N, bool(exclude_seen))
        if fallback:
            warnings.warn("no item of the session is known to the model: ranking by popularity", stacklevel=2)
        return np.asarray(ids), scores

    def score_users(self, users) -> np.ndarray:
        """Next-item scores of training users (by index into ``user_ids_``) over every item:
        ``[len(users), n_items]``, for evaluation. Ask for a few thousand users at a time."""
        idx = np.asarray(users, dtype=np.int64).reshape(-1)
        if (idx < 0).any():
            raise ValueError("user indices must be >= 0")
        with _unknown_ids():
            return self._fitted().user_scores(idx.tolist())

    def similar_items(self, itemid, N: int = 10):
        """Items whose embeddings are closest (cosine) to ``itemid``'s: ``(ids, scores)``."""
        with _unknown_ids():
            pairs = self._fitted().similar_items(itemid, N)
        return np.asarray([p[0] for p in pairs]), np.asarray([p[1] for p in pairs], dtype=np.float32)

    @classmethod
    def _native_from_bytes(cls, data: bytes):
        return _native().NativeSequential.from_bytes(bytes(data), "auto")

    @classmethod
    def _class_for_native(cls, native_model):
        arch = json.loads(native_model.params_json)["arch"]
        return SASRec if arch == "sasrec" else GRU4Rec

    @classmethod
    def _params_from_native(cls, native_model) -> dict[str, Any]:
        # Called on the class `_class_for_native` chose; the file's device is the default "auto".
        p = json.loads(native_model.params_json)
        return {k: v for k, v in p.items() if k in cls._get_param_names() and k != "device"}


def _pad(ids, scores, n: int):
    """Rows of ids as one ``[users, n]`` array: int64 padded with -1, else objects with None."""
    rows = [np.asarray(r) for r in ids]
    if all(r.dtype.kind in "iu" for r in rows):
        out = np.full((len(rows), n), -1, dtype=np.int64)
    else:
        out = np.full((len(rows), n), None, dtype=object)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class SASRec(_Sequential):
    """SASRec (Kang & McAuley 2018): causal self-attention over each user's last
    ``max_len`` events, trained to predict the next item at every position.

    Defaults follow RecBole's SASRec where the issue does not set them: cross-entropy over
    the whole catalogue (``loss="bce"`` with ``negatives`` sampled items is the original
    paper's), Adam at 1e-3, early stopping after ``patience`` epochs without a better
    NDCG@10 on each user's held-out last event (``patience=None``: no hold-out). RecBole's
    dropout is 0.5 and its heads 2; here 0.2 and 1. A history longer than ``max_len`` trains
    as windows that start every ``stride`` events (default half of ``max_len``), each target
    once and with at least ``max_len - stride`` events before it; ``stride=max_len`` is
    cheapest. ``batching="prefixes"`` trains RecBole's examples instead: one per target, the
    up to ``max_len`` events before it with the loss at its last position and its own dropout
    mask (``batch_size`` examples per step; on Last.fm-2k about 9x the time per epoch of the
    default windows and no better NDCG@10 over six seeds). Same seed, data and thread count give the
    same model on the CPU; another ``num_threads`` changes the last float bits (libtorch's
    sums follow its threads). ``device="auto"`` trains on CUDA when libtorch sees a GPU.
    """

    _kinds: ClassVar[tuple[str, ...]] = ("recommend.sasrec",)
    _arch = "sasrec"

    def __init__(
        self,
        max_len: int = 50,
        stride: int | None = None,
        factors: int = 64,
        layers: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        epochs: int = 200,
        batch_size: int = 128,
        batching: str = "windows",
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        loss: str = "ce",
        negatives: int = 1,
        patience: int | None = 10,
        seed: int = 0,
        device: str = "auto",
        num_threads: int | None = None,
        show_progress: bool = False,
    ):
        self.max_len = max_len
        self.stride = stride
        self.factors = factors
        self.layers = layers
        self.heads = heads
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.batching = batching
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.loss = loss
        self.negatives = negatives
        self.patience = patience
        self.seed = seed
        self.device = device
        self.num_threads = num_threads
        self.show_progress = show_progress


class GRU4Rec(_Sequential):
    """GRU4Rec (Hidasi et al. 2016): a GRU over the item embeddings, scored against the same
    embeddings. Parameters as :class:`SASRec` (``layers`` are GRU layers; no heads), and:

    ``batching="windows"`` (default): ``batch_size`` windows of up to ``max_len`` events per
    step, a target at every position. ``batching="prefixes"``: one example per target, as
    :class:`SASRec`'s (RecBole's way). ``batching="session_parallel"``:
    GRU4Rec's own session-parallel mini-batches: ``batch_size`` lanes each read one user's
    whole history one event per step, carrying the GRU state (gradients through one step);
    a lane whose user ends takes the next user with a fresh state, so ``stride`` (which
    places windows) must stay ``None`` there: ``fit`` raises ``ValueError`` otherwise."""

    _kinds: ClassVar[tuple[str, ...]] = ("recommend.gru4rec",)
    _arch = "gru4rec"

    def __init__(
        self,
        max_len: int = 50,
        stride: int | None = None,
        factors: int = 64,
        layers: int = 1,
        dropout: float = 0.2,
        epochs: int = 200,
        batch_size: int = 128,
        batching: str = "windows",
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        loss: str = "ce",
        negatives: int = 1,
        patience: int | None = 10,
        seed: int = 0,
        device: str = "auto",
        num_threads: int | None = None,
        show_progress: bool = False,
    ):
        self.max_len = max_len
        self.stride = stride
        self.factors = factors
        self.layers = layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.batching = batching
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.loss = loss
        self.negatives = negatives
        self.patience = patience
        self.seed = seed
        self.device = device
        self.num_threads = num_threads
        self.show_progress = show_progress
