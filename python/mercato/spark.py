"""Scoring and top-N recommendation on Spark (``pip install mercato[spark]``; Spark needs Java 17+).

The fitted model's checked bytes are broadcast once (``SparkContext.broadcast``); each Python
worker process rebuilds the model once (a cache keyed by the bytes' checksum) and scores
Arrow batches through ``mapInPandas`` with ``num_threads=1`` unless told otherwise (Spark
runs one task per core). Scores equal the single-process ones bit for bit; top-N lists are
identical.

    import mercato.spark as ms
    scored = ms.score(detector, transactions_df, columns=["amount", "hour"])   # adds "score"
    recs = ms.recommend(als, users_df, N=10)        # user, rank, item, score
    labelled = ms.classify(cnn, spark.read.format("binaryFile").load("photos/"), image_col="content")

One detector per segment (a merchant category, a country): fit with ``fit_groups``, which
trains one copy of a detector per group on the executors (``groupBy(...).applyInPandas``)
and brings the fitted models back here as mercato objects; score each group's rows with
its model through ``score_groups``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mercato import _scaleout as _s

__all__ = ["classify", "fit_groups", "recommend", "score", "score_groups"]


def _broadcast(df, model) -> tuple[str, Any]:
    payload = _s.Payload.of(model)
    return payload.key, df.sparkSession.sparkContext.broadcast(payload.data)


def score(
    model,
    df,
    columns=None,
    output_col: str = "score",
    method: str = "decision_function",
    *,
    num_threads: int = 1,
):
    """``df`` with a column ``output_col`` of a fitted detector's scores (``method``:
    ``"decision_function"``, double; ``"predict"``, long 0/1; ``"predict_proba"``, double
    P(anomaly)). ``columns``: the feature columns (default: the names the detector was fitted
    with, else all). Lazy, as every DataFrame transformation."""
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType

    if _s.role(model) != "detector":
        raise ValueError(f"scoring needs a fitted mercato.fraud detector, got {type(model).__name__}")
    _s.check_method(method)
    threads = _s.check_threads(num_threads)
    columns = _s.feature_columns(model, columns)
    if output_col in df.columns:
        raise ValueError(f"df already has a column {output_col!r}: choose another output_col")
    key, bc = _broadcast(df, model)
    out_type = LongType() if method == "predict" else DoubleType()
    schema = StructType([*df.schema.fields, StructField(output_col, out_type)])

    def run(batches):
        m = _s.worker_model(key, lambda: bc.value, threads)
        for pdf in batches:
            s = _s.score_frame(m, pdf, columns, method)
            pdf[output_col] = s[:, 1] if method == "predict_proba" else s
            yield pdf

    return df.mapInPandas(run, schema)


def classify(model, df, image_col: str = "path", *, num_threads: int = 1):
    """``df`` with the columns ``label`` (class name), ``class_index`` (long) and
    ``probability`` (float, of that class) from a fitted ``mercato.vision.ImageClassifier``.

    ``image_col`` holds image file paths (string, readable by every executor) or encoded
    files (binary: the ``content`` column of ``spark.read.format("binaryFile")``). Equal to
    the model's own ``predict_proba``; ``num_threads``: libtorch threads per Python worker
    (1 by default: Spark runs one task per core; 0 leaves libtorch's default). Lazy."""
    from pyspark.sql.types import BinaryType, FloatType, LongType, StringType, StructField, StructType

    if _s.role(model) != "classifier":
        raise ValueError(f"classify needs a fitted mercato.vision.ImageClassifier, got {type(model).__name__}")
    threads = _s.check_threads(num_threads)
    if image_col not in df.columns:
        raise ValueError(f"df has no column {image_col!r} (its columns: {', '.join(df.columns)})")
    if not isinstance(df.schema[image_col].dataType, (StringType, BinaryType)):
        raise ValueError(f"{image_col!r} must hold paths (string) or encoded files (binary)")
    clash = [c for c in _s.CLASSIFY_COLUMNS if c in df.columns]
    if clash:
        raise ValueError(f"df already has the column(s) {clash}: rename them first")
    key, bc = _broadcast(df, model)
    added = [
        StructField("label", StringType()),
        StructField("class_index", LongType()),
        StructField("probability", FloatType()),
    ]
    schema = StructType([*df.schema.fields, *added])

    def run(batches):
        m = _s.worker_model(key, lambda: bc.value, threads)
        for pdf in batches:
            yield _s.add_classes(m, pdf, image_col)

    return df.mapInPandas(run, schema)


def _id_type(ids):
    from pyspark.sql.types import LongType, StringType

    return LongType() if ids is None or np.asarray(ids).dtype != object else StringType()


def recommend(
    model,
    users_df,
    N: int = 10,
    user_col: str | None = None,
    filter_already_liked_items: bool = True,
    *,
    num_threads: int = 1,
):
    """Top ``N`` of an implicit recommender (ALS, BPR, ItemKNN) for the users in ``users_df``'s
    column ``user_col`` (default: its first column), filtered by their training rows.

    Returns a DataFrame ``(user, rank, item, score)``, one row per recommendation, rank from 1:
    Arrow batches of users scored on the executors, never a users x items matrix."""
    from pyspark.sql.types import FloatType, IntegerType, StructField, StructType

    if _s.role(model) != "recommender":
        raise ValueError(f"recommend needs a fitted ALS, BPR or ItemKNN, got {type(model).__name__}")
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"N must be a positive integer, got {N!r}")
    threads = _s.check_threads(num_threads)
    col = user_col or users_df.columns[0]
    user_field = users_df.schema[col]
    key, bc = _broadcast(users_df, model)
    schema = StructType(
        [
            StructField("user", user_field.dataType),
            StructField("rank", IntegerType()),
            StructField("item", _id_type(model.item_ids)),
            StructField("score", FloatType()),
        ]
    )
    n, liked = int(N), bool(filter_already_liked_items)

    def run(batches):
        m = _s.worker_model(key, lambda: bc.value, threads)
        for pdf in batches:
            users = pdf[col].to_numpy()
            if len(users) == 0:
                continue
            ids, scores = _s.recommend_block(m, users, None, n, liked)
            yield _s.long_frame(users, ids, scores)

    return users_df.select(col).mapInPandas(run, schema)


def fit_groups(df, by: str, estimator, columns=None) -> dict:
    """One fitted copy of ``estimator`` (an unfitted detector) per value of column ``by``,
    trained on the executors (``groupBy(by).applyInPandas``) on that group's rows of
    ``columns`` (default: every other column); returned here as ``{group value: detector}``.

    Each group's rows must fit in one executor's memory (Spark gathers a group into one task).
    """
    import copy
    import pickle

    from pyspark.sql.types import BinaryType, StructField, StructType

    from mercato.fraud import BaseDetector

    if not isinstance(estimator, BaseDetector):
        raise ValueError(f"fit_groups needs a mercato.fraud detector, got {type(estimator).__name__}")
    cols = list(columns) if columns is not None else [c for c in df.columns if c != by]
    template = pickle.dumps(copy.deepcopy(estimator))  # unfitted: only its constructor parameters
    schema = StructType([df.schema[by], StructField("model", BinaryType())])

    def fit_one(pdf):
        import pandas as pd

        det = pickle.loads(template)
        det.fit(pdf[cols])
        return pd.DataFrame({by: [pdf[by].iloc[0]], "model": [_s._to_bytes(det)]})

    rows = df.select(by, *cols).groupBy(by).applyInPandas(fit_one, schema).collect()
    return {r[by]: _s._from_bytes(bytes(r["model"])) for r in rows}


def score_groups(
    models: dict,
    df,
    by: str,
    columns=None,
    output_col: str = "score",
    *,
    num_threads: int = 1,
):
    """``df`` with ``output_col`` = each row scored by the detector of its group (``models``
    as ``fit_groups`` returns); rows of a group without a model get null. The models are
    broadcast together, once."""
    import pickle

    from pyspark.sql.types import DoubleType, StructField, StructType

    threads = _s.check_threads(num_threads)
    if output_col in df.columns:
        raise ValueError(f"df already has a column {output_col!r}: choose another output_col")
    payloads = {g: _s.Payload.of(m) for g, m in models.items()}
    cols = {g: _s.feature_columns(m, columns) for g, m in models.items()}
    keys = {g: p.key for g, p in payloads.items()}
    bc = df.sparkSession.sparkContext.broadcast(pickle.dumps({p.key: p.data for p in payloads.values()}))
    schema = StructType([*df.schema.fields, StructField(output_col, DoubleType())])

    def score_one(pdf):
        g = pdf[by].iloc[0]
        if g not in keys:
            pdf[output_col] = np.nan
            return pdf
        key = keys[g]
        m = _s.worker_model(key, lambda: pickle.loads(bc.value)[key], threads)
        pdf[output_col] = _s.score_frame(m, pdf, cols[g] or [c for c in pdf.columns if c != by], "decision_function")
        return pdf

    return df.groupBy(by).applyInPandas(score_one, schema)
