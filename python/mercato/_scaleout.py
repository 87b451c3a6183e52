"""What ``mercato.dask``, ``mercato.spark`` and ``mercato.ray`` share: a fitted model travels to
the workers as one blob of bytes (shipped once per worker by the engine's own broadcast), is
rebuilt once per worker process into a cache keyed by the blob's checksum, and scores pandas
batches with ``num_threads`` threads (1 by default: the engine runs one task per core).

Private: the public entry points are the three engine modules.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable, NamedTuple

import numpy as np

# --- the one place that turns a model into bytes and back ----------------------------------
# What ships is the model file itself (checked on arrival: loading executes nothing).


def _to_bytes(model: Any) -> bytes:
    return model.to_bytes()


def _from_bytes(blob: bytes) -> Any:
    import mercato

    return mercato.load(blob)


class Payload(NamedTuple):
    """A fitted model as shipped: its bytes and their checksum (the workers' cache key)."""

    key: str
    data: bytes

    @classmethod
    def of(cls, model: Any) -> Payload:
        """The payload of a fitted mercato model (``ValueError`` when it is not fitted or not
        a model the engine modules serve)."""
        role(model)
        data = _to_bytes(model)
        return cls(hashlib.blake2b(data, digest_size=16).hexdigest(), data)


def role(model: Any) -> str:
    """``"detector"``, ``"recommender"`` (implicit-feedback, batch top-N) or ``"classifier"``
    (``mercato.vision.ImageClassifier``); else ValueError."""
    from mercato.fraud import BaseDetector
    from mercato.recommend._implicit import _Base as ImplicitBase

    if isinstance(model, BaseDetector):
        model._fitted()
        return "detector"
    if isinstance(model, ImplicitBase):
        model._fitted()
        return "recommender"
    if type(model).__module__ == "mercato.vision":  # mercato.vision itself imports libtorch
        from mercato.vision import ImageClassifier

        if isinstance(model, ImageClassifier):
            model._fitted()
            return "classifier"
    raise ValueError(
        f"expected a fitted mercato detector (mercato.fraud), implicit recommender (ALS, BPR, ItemKNN) "
        f"or image classifier (mercato.vision), got {type(model).__name__}"
    )


# --- the per-worker cache ------------------------------------------------------------------
_CACHE: OrderedDict[tuple[str, int], Any] = OrderedDict()
_LOCK = threading.Lock()
_MAX_MODELS = 4  # distinct (model, threads) kept per worker process, least recently used dropped
built: dict[str, int] = {}  # rebuilds per model key in this process (tests check: once per worker)


def _set_threads(model: Any, num_threads: int) -> None:
    kind = role(model)
    if kind == "detector":
        model._fitted().set_num_threads(num_threads or None)
    elif kind == "classifier":
        from mercato.vision import native

        native().set_num_threads(num_threads)  # libtorch's threads are per process; 0 = default
    else:
        model.num_threads = num_threads  # 0 = all cores, as the constructors


def worker_model(key: str, data: bytes | Callable[[], bytes], num_threads: int) -> Any:
    """The model of ``key`` in this process, rebuilt from ``data`` (bytes, or a function
    giving them: a Spark broadcast is read only on a miss) the first time it is asked for."""
    with _LOCK:  # held while building: concurrent tasks of one worker build it once
        model = _CACHE.get((key, num_threads))
        if model is not None:
            _CACHE.move_to_end((key, num_threads))
            return model
        blob = data() if callable(data) else data
        got = hashlib.blake2b(blob, digest_size=16).hexdigest()
        if got != key:
            raise ValueError(f"model bytes arrived damaged (checksum {got}, expected {key})")
        model = _from_bytes(blob)
        _set_threads(model, num_threads)
        _CACHE[(key, num_threads)] = model
        built[key] = built.get(key, 0) + 1
        while len(_CACHE) > _MAX_MODELS:
            _CACHE.popitem(last=False)
        return model


def check_threads(num_threads: Any) -> int:
    """``num_threads`` for workers: a non-negative int (0 = all cores)."""
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 0:
        raise ValueError(f"num_threads must be an integer >= 0 (0 = all cores), got {num_threads!r}")
    return int(num_threads)


# --- what a task computes --------------------------------------------------------------------
METHODS = ("decision_function", "predict", "predict_proba")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


def feature_columns(model: Any, columns: Any) -> list | None:
    """The columns a detector scores: ``columns``, else the names it was fitted with, else all."""
    if columns is not None:
        return list(columns)
    names = getattr(model, "feature_names_in_", None)
    return list(names) if names is not None and len(names) else None


def score_frame(model: Any, pdf: Any, columns: list | None, method: str, proba: str = "linear") -> np.ndarray:
    """Scores of one pandas batch: 1-D for ``decision_function``/``predict``, (n, 2) for
    ``predict_proba``. Rows are scored independently, so any batching gives the same bits."""
    X = pdf if columns is None else pdf[columns]
    if len(X) == 0:  # detectors reject empty input; an empty partition is normal here
        if method == "predict_proba":
            return np.empty((0, 2))
        return np.empty(0, dtype=np.int64 if method == "predict" else np.float64)
    if getattr(model, "feature_names_in_", None) is None:
        # fitted without column names: the columns were chosen above, so score the values
        # (a DataFrame would draw scikit-learn's "X has feature names" warning per batch)
        X = X.to_numpy()
    if method == "decision_function":
        return model.decision_function(X)
    if method == "predict":
        return model.predict(X)
    return model.predict_proba(X, method=proba)


CLASSIFY_COLUMNS = ("label", "class_index", "probability")


def classified_empty() -> Any:
    """The columns ``classify_frame`` returns, with no row (an empty batch, a Dask ``meta``)."""
    import pandas as pd

    dtypes = {"label": object, "class_index": "i8", "probability": "f4"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in CLASSIFY_COLUMNS})


def add_classes(model: Any, frame: Any, image_col: str) -> Any:
    """``frame`` (a pandas batch, changed in place) with ``classify_frame``'s columns for the
    images of its column ``image_col``."""
    out = classify_frame(model, frame[image_col])
    for c in CLASSIFY_COLUMNS:
        frame[c] = out[c].to_numpy()
    return frame


def classify_frame(model: Any, images: Any) -> Any:
    """One batch of images (a sequence of paths, of encoded files as ``bytes``, or of pixel
    arrays) classified: a pandas DataFrame ``label`` (class name), ``class_index`` (int64) and
    ``probability`` (of that class, float32), one row per image in order. Images are
    classified independently, so any batching gives the same result."""
    import pandas as pd

    images = list(images)
    if not images:
        return classified_empty()
    if not isinstance(images[0], (str, bytes, bytearray, memoryview)) and not hasattr(images[0], "__fspath__"):
        images = np.stack([np.asarray(a) for a in images])
    proba = model.predict_proba(images)
    index = proba.argmax(axis=1)
    names = np.asarray(model.class_names_, dtype=object)
    chosen = proba[np.arange(len(index)), index]
    return pd.DataFrame({"label": names[index], "class_index": index.astype(np.int64), "probability": chosen})


def recommend_block(
    model: Any, users: np.ndarray, rows: Any, N: int, filter_already_liked_items: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The model's own batch ``recommend`` for one block of users (2-D results)."""
    # An array the engine deserialised may sit unaligned in its receive buffer, which the
    # native call rejects: an aligned copy (when needed) costs nothing next to the scoring.
    if isinstance(users, np.ndarray) and users.dtype != object:
        users = np.require(users, requirements=["C", "A"])
    return model.recommend(users, user_items=rows, N=N, filter_already_liked_items=filter_already_liked_items)


def long_frame(users: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> Any:
    """(user, rank, item, score) rows of 2-D recommend results, padding (-1 / None) dropped;
    rank starts at 1."""
    import pandas as pd

    # padding is id -1 (None for string ids) with score -inf; a real item with id -1 has a score
    pad_id = np.equal(ids, None) if ids.dtype == object else ids == -1
    valid = ~(pad_id & (scores == -np.inf))
    r, c = np.nonzero(valid)
    return pd.DataFrame(
        {
            "user": np.asarray(users)[r],
            "rank": (c + 1).astype(np.int32),
            "item": ids[r, c],
            "score": scores[r, c].astype(np.float32),
        }
    )


def all_users(model: Any) -> np.ndarray:
    """Every user the model knows, as the ids ``recommend`` takes."""
    ids = model.user_ids
    return np.arange(model._model.n_users, dtype=np.int64) if ids is None else np.asarray(ids)


def user_rows(model: Any, user_items: Any, users: np.ndarray, sel: slice) -> Any:
    """The rows of ``user_items`` for ``users[sel]``: ``user_items`` is one row per requested
    user, or the full users x items matrix (indexed by the users' row index)."""
    if user_items is None:
        return None
    import scipy.sparse as sp

    if not sp.issparse(user_items):
        raise TypeError(f"user_items must be a scipy.sparse matrix, got {type(user_items).__name__}")
    m = user_items.tocsr()
    if m.shape[0] == len(users):
        return m[sel]
    idx = users[sel] if model.user_ids is None else np.asarray(model._in(users[sel], True))
    return m[idx]


def pad(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Stacks per-block results into the shape of one batch call: width = the widest block
    (a block whose users all have fewer than N candidates comes back narrower)."""
    if not parts:
        return np.empty((0, 0), np.int32), np.empty((0, 0), np.float32)
    width = max(p[0].shape[1] for p in parts)
    ids, scores = [], []
    for i, s in parts:
        extra = width - i.shape[1]
        if extra:
            fill = None if i.dtype == object else -1
            i = np.concatenate([i, np.full((i.shape[0], extra), fill, dtype=i.dtype)], axis=1)
            s = np.concatenate([s, np.full((s.shape[0], extra), -np.inf, dtype=s.dtype)], axis=1)
        ids.append(i)
        scores.append(s)
    return np.concatenate(ids), np.concatenate(scores)


def block_size(model: Any, block_size: Any) -> int:
    """Users per task: given, or 20,000. A task's memory is its block's rows and results
    (20,000 x N x 8 bytes) plus the model's own scoring chunk (4 MiB of scores per thread):
    never a users x items matrix."""
    if block_size is not None:
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
        return int(block_size)
    return 20_000
