"""Tests for mercato.fraud: PyOD conventions, bad input, persistence, real data."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from mercato import fraud

_REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("MERCATO_DATA", _REPO.parent / "shared" / "datasets")) / "anomaly"

ALL = [
    lambda: fraud.IsolationForest(n_estimators=50, seed=1),
    fraud.ECOD,
    fraud.COPOD,
    fraud.HBOS,
    lambda: fraud.KNN(n_neighbors=5),
    lambda: fraud.LOF(n_neighbors=10),
    fraud.Mahalanobis,
    fraud.PCA,
    lambda: fraud.Ensemble([fraud.IsolationForest(seed=2), fraud.ECOD()]),
]


@pytest.fixture(scope="module")
def blob():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    X[-8:] += 7.0  # 8 obvious outliers
    y = np.zeros(400, dtype=int)
    y[-8:] = 1
    return X, y


@pytest.mark.parametrize("make", ALL)
def test_pyod_conventions(make, blob):
    X, y = blob
    det = make()
    assert det.fit(X) is det
    s = det.decision_function(X)
    assert s.shape == (400,)
    assert s[-8:].min() > np.median(s), type(det).__name__  # outliers score higher
    assert det.decision_scores_.shape == (400,)
    assert isinstance(det.threshold_, float)
    labels = det.predict(X)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(det.labels_, (det.decision_scores_ > det.threshold_).astype(int))
    assert abs(det.labels_.mean() - 0.1) < 0.05  # contamination 0.1
    for method in ("linear", "unify"):
        p = det.predict_proba(X, method=method)
        assert p.shape == (400, 2) and np.all((p >= 0) & (p <= 1))
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert det.score_one(X[5]) == pytest.approx(s[5], rel=1e-12)
    names, contrib = det.explain(X[-1])
    assert len(names) == 4 and contrib[0] >= contrib[-1]
    # Pickle and save/load go through the safe model format.
    back = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(back.decision_function(X), s)
    assert type(back) is type(det)


def test_save_load_and_pandas(tmp_path, blob):
    pd = pytest.importorskip("pandas")
    X, _ = blob
    df = pd.DataFrame(X, columns=["amount", "hour", "distance", "velocity"])
    det = fraud.ECOD(contamination=0.05).fit(df)
    names, contrib = det.explain(df.iloc[-1], top=2)
    assert len(names) == 2 and all(n in df.columns for n in names)
    path = tmp_path / "ecod.mercato"
    det.save(path)
    back = fraud.ECOD.load(path)
    assert back.contamination == 0.05
    assert list(back.feature_names_in_) == list(df.columns)  # names are kept in the model file
    assert back.explain(df.iloc[-1], top=2)[0] == names
    ens = fraud.Ensemble([fraud.HBOS(), fraud.KNN()]).fit(df)
    ens.save(tmp_path / "ens.mercato")
    assert list(fraud.Ensemble.load(tmp_path / "ens.mercato").feature_names_in_) == list(df.columns)
    np.testing.assert_array_equal(back.decision_function(X), det.decision_function(df))
    with pytest.raises(ValueError, match="not a"):
        fraud.IsolationForest.load(path)
    loaded = fraud.BaseDetector.load(path)
    assert isinstance(loaded, fraud.ECOD)
    bad = tmp_path / "bad.mercato"
    bad.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError):
        fraud.ECOD.load(bad)


def test_bad_input_raises_value_error(blob):
    X, _ = blob
    with pytest.raises(ValueError, match="not fitted"):
        fraud.IsolationForest().decision_function(X)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    for make in ALL:
        with pytest.raises(ValueError):
            make().fit(Xn)
    Xi = X.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(ValueError):
        fraud.ECOD().fit(Xi)
    det = fraud.IsolationForest().fit(X)
    with pytest.raises(ValueError):
        det.decision_function(X[:, :3])
    with pytest.raises(ValueError):
        det.score_one([1.0, 2.0])
    with pytest.raises(ValueError):
        det.score_one([1.0, np.nan, 0.0, 0.0])
    with pytest.raises(ValueError):
        det.decision_function(X[0])  # 1-D is not a matrix
    with pytest.raises(ValueError):
        fraud.ECOD().fit([["a", "b"], ["c", "d"]])
    for c in (0.0, -0.1, 0.6, "x"):
        with pytest.raises(ValueError, match="contamination"):
            fraud.HBOS(contamination=c).fit(X)
    with pytest.raises(ValueError, match="max_samples"):
        fraud.IsolationForest(max_samples=1000).fit(X)
    with pytest.raises(ValueError, match="max_samples"):
        fraud.IsolationForest(max_samples="all").fit(X)
    with pytest.raises(ValueError):
        fraud.KNN(n_neighbors=10).fit(X[:5])
    with pytest.raises(ValueError):
        fraud.LOF(n_neighbors=0).fit(X)
    with pytest.raises(ValueError):
        fraud.HBOS(n_bins=0).fit(X)
    with pytest.raises(ValueError):
        fraud.Ensemble([]).fit(X)
    with pytest.raises(ValueError):
        det.predict_proba(X, method="softmax")


def test_hbos_auto_bins(blob):
    X, _ = blob
    det = fraud.HBOS(n_bins="auto").fit(X)
    same = fraud.HBOS(bins="auto", n_bins=3).fit(X)
    np.testing.assert_array_equal(det.decision_scores_, same.decision_scores_)
    fixed = fraud.HBOS(n_bins=10).fit(X)
    assert not np.array_equal(det.decision_scores_, fixed.decision_scores_)
    back = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(back.decision_function(X), det.decision_function(X))
    assert back.get_params()["n_bins"] == "auto"
    with pytest.raises(ValueError, match="dynamic"):
        fraud.HBOS(n_bins="auto", bins="dynamic").fit(X)
    with pytest.raises(ValueError, match="n_bins"):
        fraud.HBOS(n_bins=40_000).fit(X)
    with pytest.raises(ValueError, match="bins"):
        fraud.HBOS(bins="fixed").fit(X)


def test_constant_columns_are_handled():
    X = np.column_stack([np.arange(50.0), np.full(50, 3.0)])
    for make in ALL:
        det = make().fit(X)
        assert np.all(np.isfinite(det.decision_scores_)), type(det).__name__
        assert np.isfinite(det.score_one([10.0, 3.0]))


@pytest.mark.parametrize("make", ALL)
def test_column_major_and_strided_input(make, blob):
    """DataFrame.to_numpy gives column-major arrays: passed through uncopied, same model."""
    X, _ = blob
    ref = make().fit(np.ascontiguousarray(X))
    fortran = make().fit(np.asfortranarray(X))
    np.testing.assert_array_equal(ref.decision_scores_, fortran.decision_scores_)
    np.testing.assert_array_equal(ref.decision_function(np.asfortranarray(X)), ref.decision_function(X))
    strided = np.repeat(X, 2, axis=1)[:, ::2]  # neither C- nor F-contiguous
    np.testing.assert_array_equal(make().fit(strided).decision_scores_, ref.decision_scores_)


def test_seed_and_threads():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 5))
    a = fraud.IsolationForest(seed=3, num_threads=1).fit(X).decision_scores_
    b = fraud.IsolationForest(seed=3, num_threads=2).fit(X).decision_scores_
    c = fraud.IsolationForest(seed=4).fit(X).decision_scores_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_scalers(tmp_path):
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, np.nan], [4.0, 5.0]])
    with pytest.raises(ValueError, match="missing"):
        fraud.StandardScaler().fit(X)
    s = fraud.StandardScaler(missing="median").fit(X)
    Z = s.transform(X)
    assert np.all(np.isfinite(Z)) and Z[2, 1] == 0.0
    r = fraud.RobustScaler(missing=0.0).fit(X)
    back = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(back.transform(X), r.transform(X))
    with pytest.raises(ValueError):
        fraud.StandardScaler(missing="drop").fit(X)


def test_set_threshold(blob):
    X, _ = blob
    det = fraud.HBOS().fit(X)
    det.set_threshold(np.max(det.decision_scores_))
    assert det.predict(X).sum() == 0


@pytest.mark.skipif(not DATA.exists(), reason=f"real data not found at {DATA}")
def test_real_fraud_rows_rank_high():
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(DATA / "creditcard_fraud_subset.csv")
    y = df.pop("label").to_numpy()
    det = fraud.IsolationForest(seed=0).fit(df)
    from mercato.metrics import roc_auc

    assert roc_auc(y, det.decision_scores_) > 0.9
    names, contrib = det.explain(df[y == 1].iloc[0], top=3)
    assert len(names) == 3 and contrib[0] > 0


def test_stub_covers_the_public_classes():
    import ast
    import inspect

    stub = ast.parse((Path(fraud.__file__).with_suffix(".pyi")).read_text())
    classes = {n.name: n for n in stub.body if isinstance(n, ast.ClassDef)}
    assert set(fraud.__all__) <= set(classes)
    for name in fraud.__all__:
        init = next((f for f in classes[name].body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        if init is not None:  # constructor parameters as in fraud.py
            stub_params = [a.arg for a in init.args.args[1:]]
            assert stub_params == list(inspect.signature(getattr(fraud, name).__init__).parameters)[1:], name
