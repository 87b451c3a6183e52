"""Scoring and top-N recommendation on Ray Data (``pip install mercato[ray]``).

Callable classes for ``ray.data.Dataset.map_batches`` run as actors: Ray ships the
constructor arguments once per actor, the model travels as its checked bytes and is rebuilt
once per actor process, with ``num_threads=1`` unless told otherwise.

    import mercato.ray as mray
    scored = ds.map_batches(mray.Scorer, fn_constructor_args=(detector,), batch_format="pandas",
                            concurrency=4)                       # adds a "score" column
    recs = users_ds.map_batches(mray.Recommender, fn_constructor_args=(als,), fn_constructor_kwargs={"N": 10},
                                batch_format="pandas", concurrency=4)   # user, rank, item, score

    labelled = ds.map_batches(mray.Classifier, fn_constructor_args=(cnn,), fn_constructor_kwargs={"image_col": "path"},
                              batch_format="pandas", concurrency=4)  # adds label, class_index, probability

Scores equal the single-process ones bit for bit; top-N lists are identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mercato import _scaleout as _s

__all__ = ["Classifier", "Recommender", "Scorer"]


def _payload(model: Any) -> _s.Payload:
    # Accepts a Payload too, so a caller can build it once for many pipelines.
    return model if isinstance(model, _s.Payload) else _s.Payload.of(model)


class Scorer:
    """Adds ``output_col`` to each pandas batch: a detector's ``method`` (``"decision_function"``,
    ``"predict"`` or ``"predict_proba"``: P(anomaly)) of the rows' ``columns`` (default: the
    names the detector was fitted with, else all columns)."""

    def __init__(
        self,
        model: Any,
        columns=None,
        method: str = "decision_function",
        output_col: str = "score",
        num_threads: int = 1,
    ):
        payload = _payload(model)
        self._method = _s.check_method(method)
        self._out = output_col
        # the cache makes actors sharing a process (Ray's local mode) share the model
        self._model = _s.worker_model(payload.key, payload.data, _s.check_threads(num_threads))
        if _s.role(self._model) != "detector":
            raise ValueError(f"Scorer needs a fitted mercato.fraud detector, got {type(self._model).__name__}")
        self._columns = _s.feature_columns(self._model, columns)

    def __call__(self, batch):
        s = _s.score_frame(self._model, batch, self._columns, self._method)
        batch = batch.copy(deep=False)
        batch[self._out] = s[:, 1] if self._method == "predict_proba" else s
        return batch


class Recommender:
    """Top ``N`` of an implicit recommender for the users in each pandas batch's column
    ``user_col`` (default: the first), filtered by their training rows; returns
    ``(user, rank, item, score)`` rows, rank from 1."""

    def __init__(
        self,
        model: Any,
        N: int = 10,
        user_col: str | None = None,
        filter_already_liked_items: bool = True,
        num_threads: int = 1,
    ):
        payload = _payload(model)
        if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
            raise ValueError(f"N must be a positive integer, got {N!r}")
        self._n, self._col, self._liked = int(N), user_col, bool(filter_already_liked_items)
        self._model = _s.worker_model(payload.key, payload.data, _s.check_threads(num_threads))
        if _s.role(self._model) != "recommender":
            raise ValueError(f"Recommender needs a fitted ALS, BPR or ItemKNN, got {type(self._model).__name__}")

    def __call__(self, batch):
        users = batch[self._col or batch.columns[0]].to_numpy()
        ids, scores = _s.recommend_block(self._model, users, None, self._n, self._liked)
        return _s.long_frame(users, ids, scores)


class Classifier:
    """Adds ``label`` (class name), ``class_index`` and ``probability`` (of that class) to each
    pandas batch: a fitted ``mercato.vision.ImageClassifier`` on the batch's ``image_col``,
    image paths or encoded files (``bytes``, as ``ray.data.read_binary_files`` gives in
    ``bytes``). ``num_threads``: libtorch threads per actor process (1 by default)."""

    def __init__(self, model: Any, image_col: str = "path", num_threads: int = 1):
        payload = _payload(model)
        self._col = image_col
        self._model = _s.worker_model(payload.key, payload.data, _s.check_threads(num_threads))
        if _s.role(self._model) != "classifier":
            got = type(self._model).__name__
            raise ValueError(f"Classifier needs a fitted mercato.vision.ImageClassifier, got {got}")

    def __call__(self, batch):
        if self._col not in batch.columns:
            raise ValueError(f"the batch has no column {self._col!r} (its columns: {', '.join(batch.columns)})")
        return _s.add_classes(self._model, batch.copy(deep=False), self._col)
