"""mercato.ray on a real local Ray: actors in Dataset.map_batches give the
single-process scores to the bit and identical top-N lists."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest
from mercato import fraud
from mercato.recommend import BPR


def _need(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{name} is not installed (pip install mercato[ray])")


ray = _need("ray")
_need("ray.data")
pd = _need("pandas")
sp = _need("scipy.sparse")
import mercato.ray as mray  # noqa: E402

COLS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def session():
    # 4 logical CPUs on any machine: 2 for the actors, the rest for Ray Data's reading tasks
    # (with only 2, the 2 actors would take both and the pipeline would wait for ever).
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield
    ray.shutdown()


def test_scorer_actors_equal_single_process(session):
    rng = np.random.default_rng(5)
    df = pd.DataFrame(rng.normal(size=(5000, 3)), columns=COLS)
    df["id"] = np.arange(len(df))
    det = fraud.IsolationForest(n_estimators=40, seed=1).fit(df[COLS])
    ds = ray.data.from_pandas([df.iloc[i : i + 1250] for i in range(0, len(df), 1250)])  # 4 blocks
    out = ds.map_batches(
        mray.Scorer, fn_constructor_args=(det,), batch_format="pandas", batch_size=700, concurrency=2
    ).to_pandas()
    out = out.sort_values("id")
    assert len(out) == len(df) and out["id"].is_unique
    assert np.array_equal(out["score"].to_numpy(), det.decision_function(df[COLS]))


def test_recommender_actors_equal_the_batch_call(session):
    rng = np.random.default_rng(2)
    n_users, n_items, nnz = 600, 150, 5000
    m = sp.coo_matrix(
        (np.ones(nnz, np.float32), (rng.integers(0, n_users, nnz), rng.integers(0, n_items, nnz))),
        shape=(n_users, n_items),
    ).tocsr()
    bpr = BPR(factors=8, iterations=5, seed=3).fit(m)
    ds = ray.data.from_pandas(pd.DataFrame({"user": np.arange(n_users)}))
    out = ds.map_batches(
        mray.Recommender,
        fn_constructor_args=(bpr,),
        fn_constructor_kwargs={"N": 5},
        batch_format="pandas",
        batch_size=128,
        concurrency=2,
    ).to_pandas()
    out = out.sort_values(["user", "rank"])
    ids, scores = bpr.recommend(np.arange(n_users), N=5)
    assert np.array_equal(out["item"].to_numpy().reshape(n_users, 5), ids)
    assert np.array_equal(out["score"].to_numpy().reshape(n_users, 5), scores)


def test_constructor_rejects_the_wrong_role():
    with pytest.raises(ValueError, match="fitted"):
        mray.Scorer(fraud.ECOD())
    det = fraud.HBOS().fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(ValueError, match="ALS, BPR or ItemKNN"):
        mray.Recommender(det)


def test_classifier_actors_equal_the_model(session, tmp_path):
    pytest.importorskip("_mercato_vision", reason="mercato[vision] not installed (make develop builds it)")
    from conftest import product_photo_files
    from mercato.vision import ImageClassifier

    cnn = ImageClassifier.pretrained("fashion_mnist")
    paths = product_photo_files(tmp_path, 24)
    proba = cnn.predict_proba(paths)
    ds = ray.data.from_pandas(pd.DataFrame({"n": np.arange(24), "path": paths}))
    out = ds.map_batches(
        mray.Classifier, fn_constructor_args=(cnn,), batch_format="pandas", batch_size=10, concurrency=2
    ).to_pandas()
    out = out.sort_values("n")
    index = proba.argmax(axis=1)
    assert out["label"].tolist() == [cnn.class_names_[k] for k in index]
    # libtorch's kernels depend on batch size and threads: equal to float32 rounding
    np.testing.assert_allclose(out["probability"].to_numpy(), proba[np.arange(24), index], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="ImageClassifier"):
        mray.Classifier(fraud.ECOD().fit(np.random.default_rng(0).normal(size=(20, 2))))
