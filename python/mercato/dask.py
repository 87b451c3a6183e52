"""Scoring and top-N recommendation on Dask (``pip install mercato[dask]``).

The fitted model goes to the workers as its checked model bytes, once per worker: with a
``dask.distributed`` client it is scattered (broadcast) to every worker; without one it is a
single key of the task graph. Each worker process rebuilds it once (a cache keyed by the
bytes' checksum) and scores with ``num_threads=1`` unless told otherwise: Dask runs one task
per core. Native calls release the GIL, so a worker with several threads scores in parallel.

    import mercato.dask as mdask
    scores = mdask.score(detector, transactions_ddf)              # dask Series, same partitions
    ids, scores = mdask.recommend(als, N=10)                       # numpy, as als.recommend(all users)
    recs = mdask.recommend_frame(als, N=10)                        # dask DataFrame user, rank, item, score
    labels = mdask.classify(cnn, paths)                            # dask DataFrame label, class_index, probability

Scores equal the single-process ones bit for bit (rows are scored independently) and top-N
lists are identical (each user's list depends only on the model and that user's row).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mercato import _scaleout as _s

__all__ = ["classify", "fit_sample", "predict", "predict_proba", "recommend", "recommend_frame", "score"]


def _client():
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _ship(model: Any) -> tuple[str, Any]:
    """(checksum, a reference to the bytes that tasks take as an argument)."""
    import dask

    payload = _s.Payload.of(model)
    client = _client()
    if client is not None:
        # one copy on every worker now, instead of one transfer per task later
        return payload.key, client.scatter(payload.data, broadcast=True, hash=False)
    return payload.key, dask.delayed(payload.data, pure=True, name=f"mercato-model-{payload.key}")


def _score_partition(pdf, key, data, columns, method, proba, num_threads, name):
    import pandas as pd

    model = _s.worker_model(key, data, num_threads)
    out = _s.score_frame(model, pdf, columns, method, proba)
    if method == "predict_proba":
        return pd.DataFrame({"p_normal": out[:, 0], "p_anomaly": out[:, 1]}, index=pdf.index)
    return pd.Series(out, index=pdf.index, name=name)


def _map_score(model, ddf, columns, method, proba, num_threads, name):
    import pandas as pd

    if _s.role(model) != "detector":
        raise ValueError(f"scoring needs a fitted mercato.fraud detector, got {type(model).__name__}")
    columns = _s.feature_columns(model, columns)
    num_threads = _s.check_threads(num_threads)
    if method == "predict_proba":
        meta = pd.DataFrame({"p_normal": pd.Series(dtype="f8"), "p_anomaly": pd.Series(dtype="f8")})
    else:
        meta = pd.Series(dtype="i8" if method == "predict" else "f8", name=name)
    key, ref = _ship(model)
    return ddf.map_partitions(
        _score_partition, key, ref, columns, method, proba, num_threads, name, meta=meta, align_dataframes=False
    )


def score(model, ddf, columns=None, method: str = "decision_function", *, num_threads: int = 1, name: str = "score"):
    """Scores every row of the dask DataFrame ``ddf`` with a fitted detector.

    ``columns``: the feature columns (default: the names the detector was fitted with, else
    all columns). ``method``: ``"decision_function"`` (default), ``"predict"`` or
    ``"predict_proba"``. Returns a dask Series (a DataFrame ``p_normal, p_anomaly`` for
    ``predict_proba``) with ``ddf``'s partitions and index, so ``ddf.assign(score=...)`` aligns.
    """
    _s.check_method(method)
    return _map_score(model, ddf, columns, method, "linear", num_threads, name)


def predict(model, ddf, columns=None, *, num_threads: int = 1, name: str = "label"):
    """0/1 labels against the detector's ``threshold_``, as a dask Series aligned with ``ddf``."""
    return _map_score(model, ddf, columns, "predict", "linear", num_threads, name)


def predict_proba(model, ddf, columns=None, method: str = "linear", *, num_threads: int = 1):
    """``[P(normal), P(anomaly)]`` per row as a dask DataFrame ``p_normal, p_anomaly`` aligned
    with ``ddf`` (``method`` ``"linear"`` or ``"unify"``, as the detector's ``predict_proba``)."""
    if method not in ("linear", "unify"):
        raise ValueError(f"method must be 'linear' or 'unify', got {method!r}")
    return _map_score(model, ddf, columns, "predict_proba", method, num_threads, None)


def _classify_series(images, key, data, num_threads):
    out = _s.classify_frame(_s.worker_model(key, data, num_threads), images)
    out.index = images.index
    return out


def _classify_bag(images, key, data, num_threads):
    out = _s.classify_frame(_s.worker_model(key, data, num_threads), images)
    return out.to_dict("records")


def classify(model, images, *, num_threads: int = 1):
    """Classifies every image with a fitted ``mercato.vision.ImageClassifier``.

    ``images``: a dask Series of image paths, or a dask Bag of paths, encoded files
    (``bytes``, e.g. ``db.from_sequence(blobs)``) or pixel arrays (one image each, in the
    model's input shape). (A dask DataFrame stores object columns as strings by default, so
    encoded files travel in a Bag.)

    Returns, for a Series, a dask DataFrame ``label`` (class name), ``class_index`` and
    ``probability`` (of that class) with the Series' partitions and index; for a Bag, a Bag
    of ``{"label", "class_index", "probability"}`` dicts in the same order. The labels equal
    the model's own ``predict_proba`` on the same images, the probabilities to float32
    rounding (libtorch's kernels depend on the batch size and thread count).

    ``num_threads``: libtorch threads per worker process (1 by default: Dask runs one task
    per core; 0 leaves libtorch's default).
    """
    import dask.bag as db
    import dask.dataframe as dd

    if _s.role(model) != "classifier":
        raise ValueError(f"classify needs a fitted mercato.vision.ImageClassifier, got {type(model).__name__}")
    num_threads = _s.check_threads(num_threads)
    if isinstance(images, db.Bag):
        key, ref = _ship(model)
        return images.map_partitions(_classify_bag, key, ref, num_threads)
    if isinstance(images, dd.Series):
        key, ref = _ship(model)
        meta = _s.classified_empty()
        return images.map_partitions(_classify_series, key, ref, num_threads, meta=meta, align_dataframes=False)
    raise TypeError(f"images must be a dask Series or Bag, got {type(images).__name__}")


def _rec_block(key, data, users, rows, N, filter_liked, num_threads):
    model = _s.worker_model(key, data, num_threads)
    return _s.recommend_block(model, users, rows, N, filter_liked)


def _rec_frame_block(key, data, users, rows, N, filter_liked, num_threads):
    ids, scores = _rec_block(key, data, users, rows, N, filter_liked, num_threads)
    return _s.long_frame(users, ids, scores)


def _blocks(model, user_items, users, N, filter_already_liked_items, block_size, num_threads, fn):
    import dask

    if _s.role(model) != "recommender":
        raise ValueError(f"recommend needs a fitted ALS, BPR or ItemKNN, got {type(model).__name__}")
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"N must be a positive integer, got {N!r}")
    num_threads = _s.check_threads(num_threads)
    users = _s.all_users(model) if users is None else np.asarray(users).reshape(-1)
    step = _s.block_size(model, block_size)
    key, ref = _ship(model)
    task = dask.delayed(fn, pure=True)
    out = []
    for start in range(0, len(users), step):
        sel = slice(start, start + step)
        rows = _s.user_rows(model, user_items, users, sel)
        out.append(task(key, ref, users[sel], rows, int(N), bool(filter_already_liked_items), num_threads))
    return users, out


def recommend(
    model,
    user_items=None,
    users=None,
    N: int = 10,
    filter_already_liked_items: bool = True,
    *,
    block_size: int | None = None,
    num_threads: int = 1,
):
    """Top ``N`` for ``users`` (default: every user of the model), computed on the cluster in
    blocks of ``block_size`` users (default 20,000), and gathered here.

    Returns ``(ids, scores)`` as ``model.recommend(users, user_items, N, ...)`` does in one
    process: 2-D numpy arrays, rows padded with id -1 / score -inf. ``user_items``: a scipy
    sparse matrix, one row per user or the full users x items matrix (default: the training
    rows kept in the model). Each task holds only its block: never a users x items matrix.
    For results that do not fit in memory here, use ``recommend_frame``.
    """
    import dask

    _, blocks = _blocks(
        model, user_items, users, N, filter_already_liked_items, block_size, num_threads, _rec_block
    )
    return _s.pad(list(dask.compute(*blocks)))


def recommend_frame(
    model,
    user_items=None,
    users=None,
    N: int = 10,
    filter_already_liked_items: bool = True,
    *,
    block_size: int | None = None,
    num_threads: int = 1,
):
    """As ``recommend``, as a lazy dask DataFrame ``(user, rank, item, score)`` with one
    partition per block of users (rank from 1, padding dropped): write it out with
    ``to_parquet`` when the results are larger than memory."""
    import dask.dataframe as dd
    import pandas as pd

    users_arr, blocks = _blocks(
        model, user_items, users, N, filter_already_liked_items, block_size, num_threads, _rec_frame_block
    )
    item_ids = model.item_ids
    item_dtype = "i8" if item_ids is None or np.asarray(item_ids).dtype != object else object
    meta = pd.DataFrame(
        {
            "user": pd.Series(dtype=users_arr.dtype),
            "rank": pd.Series(dtype="i4"),
            "item": pd.Series(dtype=item_dtype),
            "score": pd.Series(dtype="f4"),
        }
    )
    return dd.from_delayed(blocks, meta=meta, verify_meta=False)


def fit_sample(estimator, ddf, n: int = 100_000, columns=None, *, seed: int = 0):
    """Fits ``estimator`` (a detector) here on a uniform sample of about ``n`` rows drawn from
    every partition of ``ddf``, and returns it.

    Isolation Forest trains each tree on ``max_samples`` rows anyway, so a sample of 100,000
    loses nothing in practice; the other detectors then describe the sample, not all rows (see
    the README's "Scale out"). The same ``seed`` and partitioning give the same sample.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    cols = list(columns) if columns is not None else list(ddf.columns)
    total = int(ddf.shape[0].compute())
    if total == 0:
        raise ValueError("ddf has no rows")
    frac = min(1.0, n / total)
    sample = ddf[cols].sample(frac=frac, random_state=seed).compute() if frac < 1.0 else ddf[cols].compute()
    return estimator.fit(sample)
