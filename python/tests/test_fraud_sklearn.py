"""PyOD's and scikit-learn's habits on mercato.fraud (issue 15): signs, confidence, rejection,
validation, tags, the Mahalanobis metric, LOF novelty, check_estimator on cheap detectors."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from mercato import NotFittedError, ParameterWarning, fraud


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    X[-15:] += 6.0  # the anomalies
    y = np.r_[np.zeros(285, int), np.ones(15, int)]
    return X, y


DETECTORS = [
    lambda: fraud.IsolationForest(n_estimators=30, seed=0),
    fraud.ECOD,
    fraud.COPOD,
    fraud.HBOS,
    fraud.KNN,
    fraud.LOF,
    fraud.Mahalanobis,
    fraud.PCA,
    lambda: fraud.Ensemble([fraud.ECOD(), fraud.HBOS()]),
]


@pytest.mark.parametrize("make", DETECTORS)
def test_signs_confidence_and_proba(make, data):
    X, y = data
    det = make().fit(X)
    s = det.decision_function(X)
    np.testing.assert_array_equal(det.score_samples(X), -s)  # scikit-learn's sign: higher = more normal
    assert s[y == 1].mean() > s[y == 0].mean()  # PyOD's: higher = more anomalous
    labels, conf = det.predict(X, return_confidence=True)
    np.testing.assert_array_equal(labels, det.predict(X))
    assert conf.shape == (len(X),) and conf.min() >= 0 and conf.max() <= 1
    np.testing.assert_allclose(conf, det.predict_confidence(X))
    for method in ("linear", "unify"):
        p, c = det.predict_proba(X, method=method, return_confidence=True)
        assert p.shape == (len(X), 2) and 0 <= p.min() and p.max() <= 1
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
        np.testing.assert_allclose(c, conf)
    with pytest.raises(ValueError):
        det.predict_proba(X, method="something")
    shares = det.explain(X[-1])[1]
    assert abs(shares.sum() - 1.0) < 1e-9  # every detector (and the ensemble) gives shares summing to 1


def test_confidence_matches_pyod_formula(data):
    # ExCeeD (Perini et al. 2020) as PyOD computes it, written out with scipy.
    stats = pytest.importorskip("scipy.stats")
    X, _ = data
    det = fraud.HBOS(contamination=0.1).fit(X[:200])
    train, test = det.decision_scores_, det.decision_function(X[200:])
    n = len(train)
    post = np.array([(1 + np.count_nonzero(train <= t)) / (2 + n) for t in test])
    want = 1 - stats.binom.cdf(n - int(n * 0.1), n, post)
    normal = test <= det.threshold_
    want[normal] = 1 - want[normal]
    np.testing.assert_allclose(det.predict_confidence(X[200:]), want)


def test_rejection_ranks_and_pyod_helpers(data):
    pytest.importorskip("scipy")
    X, y = data
    det = fraud.ECOD().fit(X)
    labels = det.predict_with_rejection(X)
    assert set(np.unique(labels)) <= {-2, 0, 1}
    labels, (rate, bound, cost) = det.predict_with_rejection(X, T=4, return_stats=True)
    assert 0 <= rate <= 1 and 0 <= bound <= 1 and cost >= 0
    ranks = det.predict_rank(X)
    assert ranks.min() >= 0 and ranks.max() <= len(X)
    norm = det._predict_rank(X, normalized=True)  # PyOD's spelling
    assert norm.max() == 1.0
    assert det._mu == pytest.approx(det.decision_scores_.mean())
    assert det._sigma == pytest.approx(det.decision_scores_.std())
    with pytest.warns(DeprecationWarning):
        assert det.fit_predict_score(X, y) > 0.9
    with pytest.warns(DeprecationWarning), pytest.raises(NotImplementedError):
        det.fit_predict_score(X, y, scoring="something")


def test_validation_errors(data):
    X, _ = data
    det = fraud.ECOD()
    with pytest.raises(NotFittedError):
        det.decision_function(X)
    det.fit(X)
    assert det.n_features_in_ == 3 and not hasattr(det, "feature_names_in_")
    with pytest.raises(ValueError, match="X has 2 features, but ECOD is expecting 3"):
        det.decision_function(X[:, :2])
    bad = X[:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        det.decision_function(bad)
    with pytest.raises(ValueError, match="Reshape your data"):
        det.decision_function(X[0])
    with pytest.raises(ValueError, match="n_samples = 1"):
        fraud.ECOD().fit(X[:1])
    with pytest.raises(ValueError, match="0 feature"):
        fraud.ECOD().fit(np.empty((5, 0)))
    with pytest.raises(ValueError, match="contamination"):
        fraud.ECOD(contamination=0.6).fit(X)
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse"):
        det.decision_function(sparse.csr_matrix(X))
    # KNN and LOF take sparse input (densified), as PyOD
    knn = fraud.KNN().fit(sparse.csr_matrix(X))
    np.testing.assert_allclose(knn.decision_function(sparse.csr_matrix(X[:5])), knn.decision_function(X[:5]))


def test_feature_names_as_scikit_learn(data):
    pd = pytest.importorskip("pandas")
    X, _ = data
    df = pd.DataFrame(X, columns=["amount", "hour", "distance"])
    det = fraud.HBOS().fit(df)
    assert isinstance(det.feature_names_in_, np.ndarray) and list(det.feature_names_in_) == list(df.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.decision_function(df)  # same names: silent
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        det.decision_function(X)
    with pytest.raises(ValueError, match="feature names should match"):
        det.decision_function(df.rename(columns={"hour": "minute"}))


def test_knn_mahalanobis_metric(data):
    X, _ = data
    V = np.cov(X, rowvar=False)
    det = fraud.KNN(metric="mahalanobis", metric_params={"V": V}).fit(X)
    # the same as Euclidean KNN on whitened data
    L = np.linalg.cholesky(np.linalg.inv(V))
    ref = fraud.KNN().fit(X @ L)
    np.testing.assert_allclose(det.decision_scores_, ref.decision_scores_, rtol=1e-9)
    np.testing.assert_allclose(det.decision_function(X[:7]), ref.decision_function(X[:7] @ L), rtol=1e-9)
    assert det.score_one(X[3]) == pytest.approx(det.decision_function(X[3:4])[0])
    back = pickle.loads(pickle.dumps(det))  # the covariance travels in the model file
    assert back.metric == "mahalanobis"
    np.testing.assert_array_equal(back.decision_function(X[:7]), det.decision_function(X[:7]))
    with pytest.raises(ValueError, match="metric_params"):
        fraud.KNN(metric="mahalanobis").fit(X)
    with pytest.raises(ValueError, match="metric"):
        fraud.KNN(metric="cosine").fit(X)
    with pytest.raises(ValueError, match="positive definite"):
        fraud.KNN(metric="mahalanobis", metric_params={"V": np.ones((3, 3))}).fit(X)
    with pytest.warns(ParameterWarning, match="ignored"):
        fraud.KNN(metric_params={"p": 3}).fit(X)


def test_lof_novelty_and_small_data(data):
    X, _ = data
    lof = fraud.LOF(novelty=False).fit(X)
    assert lof.fit_predict(X).shape == (len(X),)
    with pytest.raises(AttributeError, match="novelty"):
        lof.decision_function(X)
    with pytest.warns(ParameterWarning, match="n_neighbors"):
        small = fraud.LOF(n_neighbors=20).fit(X[:10])
    assert small.n_neighbors_ == 9 and small.get_params()["n_neighbors"] == 20


def test_sklearn_tags_and_pipeline(data):
    pytest.importorskip("sklearn")
    from sklearn.base import clone, is_outlier_detector
    from sklearn.pipeline import make_pipeline

    X, _ = data
    assert is_outlier_detector(fraud.ECOD())
    pipe = make_pipeline(fraud.StandardScaler(), fraud.LOF()).fit(X)
    assert pipe.decision_function(X).shape == (len(X),)
    c = clone(fraud.Ensemble([fraud.ECOD(), fraud.HBOS()]))
    assert len(c.detectors) == 2


def test_cross_validation_and_grid_search(data):
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    X, y = data
    cv = KFold(3, shuffle=True, random_state=0)
    # scikit-learn's "roc_auc" scorer reads decision_function: PyOD's sign ranks anomalies first
    auc = cross_val_score(fraud.IsolationForest(n_estimators=20), X, y, scoring="roc_auc", cv=cv)
    assert auc.min() > 0.9
    # (k below the anomaly cluster's 15 rows would make that cluster look dense: LOF's nature)
    pipe = make_pipeline(fraud.StandardScaler(), fraud.LOF())
    grid = GridSearchCV(pipe, {"lof__n_neighbors": [20, 30]}, scoring="roc_auc", cv=cv).fit(X, y)
    assert grid.best_score_ > 0.9


# check_estimator on the cheap detectors; the deliberate exceptions are listed (with the
# reasons) in benches/compat/run_sklearn_checks.py and its README section.
SIGN_CHECKS = {
    "check_outliers_train": "PyOD's 0/1 labels and anomaly-high decision_function",
    "check_outliers_fit_predict": "PyOD's 0/1 labels",
}


@pytest.mark.parametrize("est", [fraud.ECOD(), fraud.HBOS(), fraud.StandardScaler()], ids=repr)
def test_check_estimator(est):
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimator

    expected = {} if isinstance(est, fraud.StandardScaler) else SIGN_CHECKS
    if isinstance(est, fraud.StandardScaler):
        # the check gives any estimator named StandardScaler scikit-learn's with_mean=False
        expected = {"check_estimator_sparse_array": "name", "check_estimator_sparse_matrix": "name"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, expected_failed_checks=expected, on_fail=None, on_skip=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []
