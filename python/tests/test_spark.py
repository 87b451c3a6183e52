"""mercato.spark on a real PySpark local[2] session: scores equal the single-process ones to the
bit, top-N lists are identical, one detector per segment round-trips as mercato objects."""

from __future__ import annotations

import importlib
import os
import shutil
import sys

import numpy as np
import pytest
from mercato import fraud
from mercato.recommend import ALS


def _need(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{name} is not installed (pip install mercato[spark])")


pyspark_sql = _need("pyspark.sql")
pd = _need("pandas")
sp = _need("scipy.sparse")
import mercato.spark as mspark  # noqa: E402

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    if os.environ.get("CI") == "true":
        raise RuntimeError("Spark needs Java: apt-get install -y openjdk-17-jre-headless (the Makefile does)")
    pytest.skip("Spark needs Java (apt-get install -y openjdk-17-jre-headless)", allow_module_level=True)

COLS = ["amount", "hour", "velocity", "distance"]


@pytest.fixture(scope="module")
def spark():
    # The executors' Python must be this one (it has mercato installed).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    s = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("mercato-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "700")
        .getOrCreate()
    )
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6000, len(COLS)))
    X[:40] += 5.0
    df = pd.DataFrame(X, columns=COLS)
    df.insert(0, "tx_id", np.arange(len(df), dtype=np.int64) * 3 + 1)
    df["segment"] = np.where(np.arange(len(df)) % 3 == 0, "food", np.where(np.arange(len(df)) % 3 == 1, "fuel", "web"))
    return df


@pytest.mark.parametrize("method", ["decision_function", "predict", "predict_proba"])
def test_score_equals_single_process_to_the_bit(spark, frame, method):
    det = fraud.Ensemble([fraud.IsolationForest(n_estimators=40, seed=2), fraud.ECOD()]).fit(frame[COLS].iloc[::2])
    sdf = spark.createDataFrame(frame.drop(columns="segment")).repartition(3)
    got = mspark.score(det, sdf, output_col="s", method=method).toPandas().sort_values("tx_id")
    assert len(got) == len(frame) and got["tx_id"].is_unique
    want = {
        "decision_function": det.decision_function(frame[COLS]),
        "predict": det.predict(frame[COLS]),
        "predict_proba": det.predict_proba(frame[COLS])[:, 1],
    }[method]
    assert np.array_equal(got["s"].to_numpy(), want)
    assert np.array_equal(got[COLS].to_numpy(), frame[COLS].to_numpy())


def test_score_errors(spark, frame):
    sdf = spark.createDataFrame(frame[COLS])
    det = fraud.HBOS().fit(frame[COLS])
    with pytest.raises(ValueError, match="already has a column"):
        mspark.score(det, sdf, output_col="amount")
    with pytest.raises(ValueError, match="method"):
        mspark.score(det, sdf, method="explain")


def test_recommend_equals_the_batch_call(spark):
    rng = np.random.default_rng(1)
    n_users, n_items, nnz = 800, 200, 6000
    m = sp.coo_matrix(
        (np.ones(nnz, np.float32), (rng.integers(0, n_users, nnz), rng.integers(0, n_items, nnz))),
        shape=(n_users, n_items),
    ).tocsr()
    als = ALS(factors=8, iterations=3, seed=4).fit(m)
    users = spark.createDataFrame(pd.DataFrame({"uid": np.arange(n_users, dtype=np.int64)})).repartition(3)
    got = mspark.recommend(als, users, N=7).toPandas().sort_values(["user", "rank"])
    ids, scores = als.recommend(np.arange(n_users), N=7)
    assert len(got) == n_users * 7
    assert np.array_equal(got["item"].to_numpy().reshape(n_users, 7), ids)
    assert np.array_equal(got["score"].to_numpy().reshape(n_users, 7), scores)


def test_one_detector_per_segment(spark, frame):
    sdf = spark.createDataFrame(frame)
    proto = fraud.IsolationForest(n_estimators=30, seed=9)
    models = mspark.fit_groups(sdf, "segment", proto, columns=COLS)
    assert sorted(models) == ["food", "fuel", "web"]
    for g, m in models.items():
        local = fraud.IsolationForest(n_estimators=30, seed=9).fit(frame.loc[frame.segment == g, COLS])
        assert isinstance(m, fraud.IsolationForest) and list(m.feature_names_in_) == COLS
        assert np.array_equal(m.decision_function(frame[COLS]), local.decision_function(frame[COLS]))
    assert proto._model is None  # the prototype stays unfitted
    got = mspark.score_groups(models, sdf, "segment").toPandas().sort_values("tx_id")
    for g, m in models.items():
        rows = got[got.segment == g]
        assert np.array_equal(rows["score"].to_numpy(), m.decision_function(rows[COLS]))


def test_classify_paths_and_binary_files_equal_the_model(spark, tmp_path):
    pytest.importorskip("_mercato_vision", reason="mercato[vision] not installed (make develop builds it)")
    from conftest import product_photo_files
    from mercato.vision import ImageClassifier

    cnn = ImageClassifier.pretrained("fashion_mnist")
    paths = product_photo_files(tmp_path, 30)
    proba = cnn.predict_proba(paths)
    want = {p: (cnn.class_names_[k], k, proba[r, k]) for r, (p, k) in enumerate(zip(paths, proba.argmax(axis=1)))}

    df = spark.createDataFrame(pd.DataFrame({"sku": np.arange(30), "path": paths})).repartition(3)
    got = mspark.classify(cnn, df).toPandas()
    assert len(got) == 30 and set(got["sku"]) == set(range(30))
    for row in got.itertuples():
        label, k, p = want[row.path]
        # libtorch's kernels depend on batch size and threads: equal to float32 rounding
        assert (row.label, row.class_index) == (label, k) and abs(row.probability - p) <= 1e-6
    files = spark.read.format("binaryFile").load(str(tmp_path / "*.png"))
    from_bytes = mspark.classify(cnn, files, image_col="content").select("path", "label").toPandas()
    assert {p.removeprefix("file:"): label for p, label in from_bytes.itertuples(index=False)} == {
        p: w[0] for p, w in want.items()
    }
    with pytest.raises(ValueError, match="no column"):
        mspark.classify(cnn, df, image_col="photo")
    with pytest.raises(ValueError, match="paths"):
        mspark.classify(cnn, df, image_col="sku")
    with pytest.raises(ValueError, match="ImageClassifier"):
        mspark.classify(fraud.ECOD().fit(np.random.default_rng(0).normal(size=(20, 2))), df)
