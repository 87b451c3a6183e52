"""mercato.dask on a real dask.distributed LocalCluster (2 worker processes): results equal the
single-process ones to the bit, the model is built once per worker, a worker killed mid-job
loses and duplicates no row; the native calls release the GIL."""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time

import numpy as np
import pytest
from mercato import fraud
from mercato.recommend import ALS, ItemKNN


def _need(name):
    """The engine, or a skip (a failure in CI, where requirements-dev.txt installs it)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{name} is not installed (pip install mercato[dask])")


dd = _need("dask.dataframe")
distributed = _need("distributed")
cloudpickle = _need("cloudpickle")
pd = _need("pandas")
sp = _need("scipy.sparse")
import mercato.dask as mdask  # noqa: E402
from mercato import _scaleout  # noqa: E402

# Functions of this module run on the workers, which cannot import it by name.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

COLS = ["amount", "hour", "velocity", "distance", "age", "merchant_risk"]


def _chunk(i: int) -> pd.DataFrame:
    """Transactions block i (deterministic), indexed by a transaction id."""
    rng = np.random.default_rng(100 + i)
    X = rng.normal(size=(1500, len(COLS)))
    X[:15] += 6.0
    return pd.DataFrame(X, columns=COLS, index=pd.Index(np.arange(1500) * 11 + i, name="tx_id"))


@pytest.fixture(scope="module")
def frame():
    return pd.concat([_chunk(i) for i in range(6)])


@pytest.fixture(scope="module")
def detectors(frame):
    train = frame.iloc[::3]
    return {
        "iforest": fraud.IsolationForest(n_estimators=50, seed=3).fit(train),
        "ecod": fraud.ECOD().fit(train),
        "ensemble": fraud.Ensemble([fraud.HBOS(), fraud.IsolationForest(n_estimators=20, seed=1)]).fit(train),
    }


@pytest.fixture(scope="module")
def interactions():
    rng = np.random.default_rng(7)
    n_users, n_items = 1200, 300
    nnz = 12_000
    m = sp.coo_matrix(
        (rng.integers(1, 5, nnz).astype(np.float32), (rng.integers(0, n_users, nnz), rng.integers(0, n_items, nnz))),
        shape=(n_users, n_items),
    ).tocsr()
    return m


@pytest.fixture(scope="module")
def als(interactions):
    return ALS(factors=16, iterations=4, seed=1).fit(interactions)


def test_without_a_cluster_the_graph_carries_the_model_once(frame, detectors):
    # No distributed client: dask's local scheduler, the model bytes as one graph key.
    det = detectors["ecod"]
    ddf = dd.from_pandas(frame, npartitions=4, sort=False)
    got = mdask.score(det, ddf).compute()
    assert np.array_equal(got.to_numpy(), det.decision_function(frame))
    assert got.index.equals(frame.index)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.mark.parametrize("kind", ["iforest", "ecod", "ensemble"])
def test_scores_equal_single_process_to_the_bit(client, frame, detectors, kind):
    det = detectors[kind]
    ddf = dd.from_pandas(frame, npartitions=5, sort=False)
    s = mdask.score(det, ddf)
    assert s.npartitions == ddf.npartitions
    got = s.compute()
    assert got.index.equals(frame.index)
    assert np.array_equal(got.to_numpy(), det.decision_function(frame))
    assert np.array_equal(mdask.predict(det, ddf).compute().to_numpy(), det.predict(frame))
    proba = mdask.predict_proba(det, ddf, method="unify").compute()
    assert np.array_equal(proba.to_numpy(), det.predict_proba(frame, method="unify"))
    # aligned with the frame: assign works partition by partition
    both = ddf.assign(score=s).compute()
    assert np.array_equal(both["score"].to_numpy(), got.to_numpy())


def test_model_is_built_once_per_worker(client, frame, detectors):
    det = detectors["iforest"]
    key = _scaleout.Payload.of(det).key
    ddf = dd.from_pandas(frame, npartitions=12, sort=False)
    mdask.score(det, ddf).compute()
    mdask.score(det, ddf).compute()  # a second job reuses the workers' copies

    def built(key=key):
        import json

        from mercato import _scaleout as s

        copy = s._CACHE.get((key, 1))
        return s.built.get(key, 0), copy and json.loads(copy._fitted().params_json())["num_threads"]

    per_worker = client.run(built)
    assert all(n <= 1 for n, _ in per_worker.values()), per_worker
    assert sum(n for n, _ in per_worker.values()) >= 1
    # the workers' copies score with one thread (the engine runs one task per core)
    assert {t for n, t in per_worker.values() if n} == {1}


def test_columns_select_and_errors(client, frame, detectors):
    det = fraud.HBOS().fit(frame[COLS].to_numpy()[:, :3])  # fitted without names
    ddf = dd.from_pandas(frame.assign(label=0), npartitions=3, sort=False)
    got = mdask.score(det, ddf, columns=COLS[:3]).compute()
    assert np.array_equal(got.to_numpy(), det.decision_function(frame[COLS[:3]].to_numpy()))
    with pytest.raises(ValueError, match="method"):
        mdask.score(det, ddf, method="explain")
    with pytest.raises(ValueError, match="not fitted"):
        mdask.score(fraud.ECOD(), ddf)
    with pytest.raises(ValueError, match="num_threads"):
        mdask.score(det, ddf, num_threads=-1)


def test_recommend_equals_the_batch_call(client, als, interactions):
    n_users = interactions.shape[0]
    ids, scores = mdask.recommend(als, N=10, block_size=250)
    want_ids, want_scores = als.recommend(np.arange(n_users), N=10)
    assert ids.shape == (n_users, 10)
    assert np.array_equal(ids, want_ids) and np.array_equal(scores, want_scores)

    # a subset of users with their rows passed in (the full matrix), unfiltered
    users = np.arange(5, n_users, 7)
    got = mdask.recommend(als, interactions, users=users, N=5, filter_already_liked_items=False, block_size=40)
    want = als.recommend(users, interactions, N=5, filter_already_liked_items=False)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_recommend_frame_is_the_long_form(client, als, interactions):
    n_users = interactions.shape[0]
    frame = mdask.recommend_frame(als, N=10, block_size=300)
    assert frame.npartitions == 4
    got = frame.compute().reset_index(drop=True)
    ids, scores = als.recommend(np.arange(n_users), N=10)
    assert len(got) == int((ids >= 0).sum()) and not got.duplicated(["user", "rank"]).any()
    assert np.array_equal(got["item"].to_numpy().reshape(n_users, 10), ids)
    assert np.array_equal(got["score"].to_numpy().reshape(n_users, 10), scores)
    assert list(got["rank"].iloc[:10]) == list(range(1, 11))


def test_recommend_with_string_ids_pads_like_the_model(client):
    # 4 items: with N=6 each row is padded with None / -inf, as the model's own batch call
    df = pd.DataFrame(
        {
            "user": ["ann", "bob", "bob", "cy", "dee", "dee", "eve"],
            "item": ["a", "b", "c", "a", "d", "b", "c"],
            "n": [1, 2, 1, 3, 1, 1, 2],
        }
    )
    knn = ItemKNN(K=4).fit(df)
    ids, scores = mdask.recommend(knn, N=6, block_size=2)
    want_ids, want_scores = knn.recommend(np.asarray(knn.user_ids), N=6)
    assert ids.dtype == object and ids.shape == want_ids.shape
    assert (ids == want_ids).all() and np.array_equal(scores, want_scores)
    rows = mdask.recommend_frame(knn, N=6, block_size=2).compute()
    assert rows["item"].notna().all() and len(rows) == int(np.not_equal(want_ids, None).sum())


def test_fit_sample_draws_from_every_partition(client, frame):
    ddf = dd.from_pandas(frame, npartitions=6, sort=False)
    a = mdask.fit_sample(fraud.IsolationForest(n_estimators=30, seed=0), ddf, n=3000, seed=5)
    b = mdask.fit_sample(fraud.IsolationForest(n_estimators=30, seed=0), ddf, n=3000, seed=5)
    assert np.array_equal(a.decision_function(frame), b.decision_function(frame))
    sample = ddf.sample(frac=3000 / len(frame), random_state=5).compute()
    assert 2500 < len(sample) < 3500
    assert sample.index.map(lambda t: t % 11).nunique() == 6  # rows from all 6 blocks
    local = fraud.IsolationForest(n_estimators=30, seed=0).fit(sample)
    assert np.array_equal(a.decision_function(frame), local.decision_function(frame))


def _dying_chunk(i: int, marker: str) -> pd.DataFrame:
    # The task building block 2 kills its worker process the first time it runs.
    if i == 2 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return _chunk(i)


def test_worker_killed_mid_job_loses_and_duplicates_no_row(client, frame, detectors, tmp_path):
    det = detectors["iforest"]
    marker = str(tmp_path / "died-once")
    ddf = dd.from_map(_dying_chunk, range(6), marker=marker, meta=_chunk(0).iloc[:0], enforce_metadata=False)
    before = set(client.scheduler_info()["workers"])
    got = mdask.score(det, ddf).compute()
    assert os.path.exists(marker), "the worker was not killed"
    assert len(got) == len(frame) and got.index.is_unique
    assert got.index.equals(frame.index)
    assert np.array_equal(got.to_numpy(), det.decision_function(frame))
    client.wait_for_workers(2, timeout=60)
    assert set(client.scheduler_info()["workers"]) != before  # the nanny started a new worker


def _native_call_runs_without_gil(call) -> int:
    """Main-thread steps taken while `call` runs in another thread (0 when it holds the GIL)."""
    span = []

    def run():
        t0 = time.perf_counter()
        call()
        span.extend([t0, time.perf_counter()])

    stamps = []
    t = threading.Thread(target=run)
    t.start()
    while t.is_alive():
        stamps.append(time.perf_counter())
    t.join()
    t0, t1 = span
    # the middle of the call: a native call that held the GIL would leave no stamp there
    lo, hi = t0 + 0.2 * (t1 - t0), t1 - 0.2 * (t1 - t0)
    return sum(lo < s < hi for s in stamps)


def test_native_calls_release_the_gil(frame, detectors, als, interactions):
    big = np.ascontiguousarray(np.tile(frame.to_numpy(), (40, 1)))  # 360k rows
    native = detectors["iforest"]._fitted()
    assert _native_call_runs_without_gil(lambda: native.score(big)) > 50
    users = np.tile(np.arange(interactions.shape[0]), 20)
    assert _native_call_runs_without_gil(lambda: als.recommend(users, N=10)) > 50


def test_classify_equals_the_model_on_paths_bytes_and_arrays(client, tmp_path):
    pytest.importorskip("_mercato_vision", reason="mercato[vision] not installed (make develop builds it)")
    from conftest import product_photo_files
    from mercato.vision import ImageClassifier, load_image_files

    cnn = ImageClassifier.pretrained("fashion_mnist")
    paths = product_photo_files(tmp_path, 40)
    pictures = load_image_files(paths)[:, 0]
    proba = cnn.predict_proba(paths)
    index = proba.argmax(axis=1)
    names = np.array(cnn.class_names_, dtype=object)[index]

    series = pd.Series(paths, index=pd.Index(np.arange(40) * 3, name="sku"))
    got = mdask.classify(cnn, dd.from_pandas(series, npartitions=4, sort=False)).compute()
    assert got.index.equals(series.index)
    assert got["label"].tolist() == names.tolist()
    assert np.array_equal(got["class_index"].to_numpy(), index)
    # libtorch's kernels depend on batch size and threads: equal to float32 rounding
    np.testing.assert_allclose(got["probability"].to_numpy(), proba[np.arange(40), index], rtol=1e-6, atol=1e-6)
    # encoded files and pixel arrays in a Bag: the same answers
    import dask.bag as db

    blobs = db.from_sequence([open(p, "rb").read() for p in paths], npartitions=3)
    assert [r["label"] for r in mdask.classify(cnn, blobs).compute()] == names.tolist()
    bag = mdask.classify(cnn, db.from_sequence(list(pictures[:, None]), npartitions=5)).compute()
    assert [r["label"] for r in bag] == names.tolist()
    np.testing.assert_allclose([r["probability"] for r in bag], proba[np.arange(40), index], rtol=1e-6, atol=1e-6)
    # the workers' copies run libtorch on one thread each, built once per worker
    key = _scaleout.Payload.of(cnn).key
    per_worker = client.run(_built_and_threads, key)
    assert all(n <= 1 for n, _ in per_worker.values()) and sum(n for n, _ in per_worker.values()) >= 1, per_worker
    assert {t for n, t in per_worker.values() if n} == {1}, per_worker
    with pytest.raises(ValueError, match="ImageClassifier"):
        mdask.classify(ALS(factors=2, iterations=1, confidence="binary").fit(sp.random(4, 4, 0.5, "csr")), bag)
    with pytest.raises(TypeError, match="Series or Bag"):
        mdask.classify(cnn, paths)


def _built_and_threads(key):
    """(times this worker built the model, libtorch's threads in this worker)."""
    import torch  # the libtorch the vision extension links
    from mercato import _scaleout as s

    return s.built.get(key, 0), torch.get_num_threads()
