"""The one estimator API (mercato._base): scikit-learn's parameter contract, one fitted check,
one save/load/pickle path through the checked model format, Python defaults equal to Rust's."""

import io
import json
import pickle

import mercato
import numpy as np
import pytest
import scipy.sparse as sp
from mercato import fraud, recommend
from mercato._mercato import default_params

sklearn_base = pytest.importorskip("sklearn.base")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 3))
USERS = np.repeat(np.arange(12), 5)
ITEMS = (np.arange(60) * 7) % 15
RATINGS = (1 + (USERS + ITEMS) % 5).astype(float)
USER_ITEMS = sp.csr_matrix((np.ones(60, np.float32), (USERS, ITEMS)), shape=(12, 15))

DETECTORS = [
    fraud.IsolationForest(n_estimators=20),
    fraud.ECOD(),
    fraud.COPOD(),
    fraud.HBOS(),
    fraud.KNN(),
    fraud.LOF(n_neighbors=5),
    fraud.Mahalanobis(),
    fraud.PCA(),
    fraud.Ensemble([fraud.ECOD(), fraud.HBOS()]),
]
EXPLICIT = [recommend.Baseline(), recommend.FunkSVD(factors=4), recommend.SVDpp(factors=4), recommend.KNN(k=5)]
IMPLICIT = [recommend.ALS(factors=4, iterations=2), recommend.BPR(factors=4, iterations=2), recommend.ItemKNN(K=5)]
SCALERS = [fraud.StandardScaler(), fraud.RobustScaler()]
SVD = [recommend.TruncatedSVD(k=3)]
HYBRID = [recommend.HybridMF(factors=4, epochs=2), recommend.ItemContent(weighting="bm25")]
REGRESSION = [mercato.regression.LinearRegression(), mercato.regression.Ridge()]
ALL = DETECTORS + EXPLICIT + IMPLICIT + SCALERS + SVD + HYBRID + REGRESSION


def fitted(est):
    est = sklearn_base.clone(est)
    if isinstance(est, (fraud.BaseDetector, fraud.StandardScaler, fraud.RobustScaler)):
        return est.fit(X)
    if isinstance(est, (recommend.ALS, recommend.BPR, recommend.ItemKNN, recommend.HybridMF)):
        return est.fit(USER_ITEMS)
    if isinstance(est, recommend.ItemContent):  # items x features: the items' users as features
        return est.fit(USER_ITEMS.T)
    if isinstance(est, mercato.regression.LinearRegression):
        return est.fit(X, X @ [1.0, -2.0, 0.5] + RNG.normal(size=len(X)))
    return est.fit(USERS, ITEMS, RATINGS)


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_clone_get_set_params_and_repr(est):
    assert isinstance(est, mercato.Estimator)
    twin = sklearn_base.clone(est)
    assert type(twin) is type(est) and twin is not est
    assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    name = sorted(est.get_params(deep=False))[0]
    assert twin.set_params(**{name: est.get_params()[name]}) is twin
    with pytest.raises(ValueError, match="no parameter"):
        twin.set_params(no_such_parameter=1)
    assert repr(est).startswith(type(est).__name__ + "(")


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_one_fitted_check_and_round_trips(est, tmp_path):
    fresh = sklearn_base.clone(est)
    with pytest.raises(mercato.NotFittedError):
        fresh._fitted()
    try:
        blob = fresh.to_bytes()
    except mercato.NotFittedError:  # arguments that are not plain data (an unfitted Ensemble)
        assert any(isinstance(v, mercato.Estimator) or isinstance(v, list) for v in fresh.get_params().values())
    else:  # before fit, the file holds the arguments and loads back unfitted (as implicit)
        fresh.save(tmp_path / "unfitted.mercato")
        for back in (mercato.load(blob), type(fresh).load(tmp_path / "unfitted.mercato")):
            assert type(back) is type(fresh)
            assert back.get_params(deep=False) == json.loads(json.dumps(fresh.get_params(deep=False)))
            assert not back.__sklearn_is_fitted__()
    model = fitted(est)
    data = model.to_bytes()
    buffer = io.BytesIO()
    model.save(buffer)
    assert buffer.getvalue() == data
    path = tmp_path / "m.mercato"
    model.save(path)
    for back in (
        type(model).load(path),
        type(model).load(io.BytesIO(data)),
        mercato.load(path),
        mercato.load(data),
        pickle.loads(pickle.dumps(model)),
    ):
        assert type(back) is type(model)
        assert back.to_bytes() == data
        assert back.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    # unfitted estimators pickle too
    assert pickle.loads(pickle.dumps(fresh)).get_params(deep=False).keys() == fresh.get_params(deep=False).keys()


def test_load_refuses_the_wrong_class(tmp_path):
    als = fitted(recommend.ALS(factors=4, iterations=2))
    with pytest.raises(ValueError, match="not a FunkSVD"):
        recommend.FunkSVD.from_bytes(als.to_bytes())
    with pytest.raises(mercato.ModelFormatError):
        mercato.load(b"definitely not a model")
    with pytest.raises(TypeError):
        als.save(io.StringIO())


def test_bytesio_save_writes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fitted(fraud.ECOD()).save(io.BytesIO())
    assert list(tmp_path.iterdir()) == []


def test_fit_leaves_constructor_arguments_alone():
    est = recommend.ALS(factors=4, iterations=2, num_threads=None)
    before = est.get_params()
    est.fit(USER_ITEMS)
    assert est.get_params() == before


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="factors"):
        recommend.FunkSVD(factors=2.5).fit(USERS, ITEMS, RATINGS)
    with pytest.raises(ValueError, match="lr"):
        recommend.FunkSVD(lr=float("nan")).fit(USERS, ITEMS, RATINGS)
    with pytest.raises(ValueError, match="factors"):
        recommend.ALS(factors=-1).fit(USER_ITEMS)
    with pytest.raises(ValueError, match="confidence"):
        recommend.ALS(confidence="weird").fit(USER_ITEMS)
    with pytest.raises(ValueError, match="contamination"):
        fraud.ECOD(contamination=0.7).fit(X)


# Python argument -> (Rust field, conversion) where names or encodings differ.
RUST_NAMES = {
    recommend.ALS: {"use_cg": ("solver", lambda v: "ConjugateGradient" if v else "Cholesky")},
    recommend.ItemKNN: {"K": ("k", None)},
}


# Deliberate differences, each documented in the class docstring.
DIFFERENT_ON_PURPOSE = {
    ("Ridge", "alpha"): "scikit-learn's Ridge(alpha=1.0); the one Rust params struct defaults to OLS (alpha=0)",
}


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_python_defaults_equal_rust_defaults(est):
    """Every constructor default that has a Rust counterpart is the Rust default."""
    cls = type(est)
    if not hasattr(est, "_rust_params"):
        pytest.skip(f"{cls.__name__} passes no parameter JSON to Rust")
    if cls is fraud.Ensemble:
        default = cls([])
    else:
        default = cls()
    try:
        sent = default._rust_params()
    except ValueError:
        pytest.skip(f"{cls.__name__}() has no valid defaults alone")
    rust = json.loads(default_params(cls._kinds[0]))
    compared = 0
    for field, value in sent.items():
        if field not in rust or field in ("num_threads", "show_progress"):
            continue
        if (cls.__name__, field) in DIFFERENT_ON_PURPOSE:
            continue
        expected = rust[field]
        if isinstance(value, float) or isinstance(expected, float):
            assert value == pytest.approx(expected, rel=1e-6), f"{cls.__name__}.{field}"
        else:
            assert value == expected, f"{cls.__name__}.{field}: Python {value!r}, Rust {expected!r}"
        compared += 1
    assert compared > 0, f"{cls.__name__}: no parameter compared"
