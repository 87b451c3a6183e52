"""mercato.regression against statsmodels (to relative 1e-9) and scikit-learn, plus bad input."""

import os
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import shared_datasets
from mercato.regression import Design, LinearRegression, Ridge

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-9
COV_TYPES = ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"]


def carseats() -> pd.DataFrame:
    path = shared_datasets() / "pricing" / "Carseats.csv"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing and CI=true")
        pytest.skip(f"{path} not found; skipping the Carseats agreement test")
    return pd.read_csv(path)


def carseats_design(df):
    # ISLR 3.6.6: Sales ~ . + Income:Advertising + Price:Age
    terms = [
        "CompPrice",
        "Income",
        "Advertising",
        "Population",
        "Price",
        "C(ShelveLoc)",
        "Age",
        "Education",
        "C(Urban)",
        "C(US)",
        "Income:Advertising",
        "Price:Age",
    ]
    return Design(terms).fit_transform(df), df["Sales"]


def generated(n=3000, k=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)) * np.arange(1, k + 1) + 5.0
    hetero = 0.5 + np.abs(X[:, 0] - 5)
    y = 2.0 + X @ np.linspace(-1, 1, k) + rng.normal(size=n) * hetero
    groups = rng.integers(0, 40, size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, groups, w


def assert_agrees(ours, ref, rtol=RTOL):
    # Order matters for cluster fits: statsmodels caches f_pvalue from the Wald test
    # (df = clusters - 1) only when fvalue is read first.
    ref_f = ref.fvalue
    pairs = {
        "params": (ours.params_, ref.params),
        "bse": (ours.bse_, ref.bse),
        "tvalues": (ours.tvalues_, ref.tvalues),
        "pvalues": (ours.pvalues_, ref.pvalues),
        "conf_int": (ours.conf_int(0.05), np.asarray(ref.conf_int(0.05))),
        "rsquared": (ours.rsquared_, ref.rsquared),
        "rsquared_adj": (ours.rsquared_adj_, ref.rsquared_adj),
        "fvalue": (ours.fvalue_, ref_f),
        "f_pvalue": (ours.f_pvalue_, ref.f_pvalue),
        "llf": (ours.llf_, ref.llf),
        "aic": (ours.aic_, ref.aic),
        "bic": (ours.bic_, ref.bic),
        "df_resid": (ours.df_resid_, ref.df_resid),
    }
    for name, (a, b) in pairs.items():
        # scipy flushes p-values below ~1e-308 to 0; ours keep the subnormal value.
        atol = 1e-300 if name in ("pvalues", "f_pvalue") else 0
        np.testing.assert_allclose(a, np.asarray(b), rtol=rtol, atol=atol, err_msg=name)
    assert ours.nobs_ == ref.nobs
    np.testing.assert_allclose(ours.condition_number_, ref.condition_number, rtol=1e-6)


def statsmodels_fit(X, y, cov_type, groups=None, weights=None, const=True):
    exog = sm.add_constant(np.asarray(X, dtype=float), has_constant="add") if const else np.asarray(X, dtype=float)
    model = sm.OLS(y, exog) if weights is None else sm.WLS(y, exog, weights=weights)
    kw = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    return model.fit(cov_type=cov_type, **kw)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_carseats_agrees_with_statsmodels(cov_type):
    df = carseats()
    X, y = carseats_design(df)
    # Stores clustered by age (56 clusters, more than the 14 parameters).
    groups = df["Age"] if cov_type == "cluster" else None
    codes = None if groups is None else np.unique(groups, return_inverse=True)[1]
    ours = LinearRegression(cov_type=cov_type).fit(X, y, groups=groups)
    ref = statsmodels_fit(X, y.to_numpy(), cov_type, codes)
    assert_agrees(ours, ref)
    assert ours.param_names_[0] == "const" and "Price:Age" in ours.param_names_
    assert list(ours.feature_names_in_) == list(X.columns)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_generated_agrees_with_statsmodels(cov_type, weighted):
    X, y, groups, w = generated()
    w = w if weighted else None
    ours = LinearRegression(cov_type=cov_type).fit(
        X, y, sample_weight=w, groups=groups if cov_type == "cluster" else None
    )
    ref = statsmodels_fit(X, y, cov_type, groups, w)
    assert_agrees(ours, ref)


def test_no_intercept_and_prediction_intervals():
    X, y, _, _ = generated(n=500, k=3, seed=1)
    ours = LinearRegression(fit_intercept=False).fit(X, y)
    ref = statsmodels_fit(X, y, "nonrobust", const=False)
    assert_agrees(ours, ref)
    full = LinearRegression().fit(X, y)
    ref = statsmodels_fit(X, y, "nonrobust")
    Xn = X[:7] + 0.3
    frame = ref.get_prediction(sm.add_constant(Xn, has_constant="add")).summary_frame(alpha=0.1)
    mean, lo, hi = full.predict(Xn, interval="prediction", alpha=0.1)
    np.testing.assert_allclose(mean, frame["mean"], rtol=RTOL)
    np.testing.assert_allclose(lo, frame["obs_ci_lower"], rtol=RTOL)
    np.testing.assert_allclose(hi, frame["obs_ci_upper"], rtol=RTOL)
    _, lo, hi = full.predict(Xn, interval="confidence", alpha=0.1)
    np.testing.assert_allclose(lo, frame["mean_ci_lower"], rtol=RTOL)
    np.testing.assert_allclose(hi, frame["mean_ci_upper"], rtol=RTOL)


def test_sklearn_agreement_and_contract():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.linear_model import LinearRegression as SkLR
    from sklearn.linear_model import Ridge as SkRidge

    X, y, _, w = generated(n=800, k=4, seed=2)
    ours = LinearRegression().fit(X, y, sample_weight=w)
    sk = SkLR().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, sk.coef_, rtol=1e-9)
    np.testing.assert_allclose(ours.intercept_, sk.intercept_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=1e-9)
    np.testing.assert_allclose(ours.score(X, y), sk.score(X, y), rtol=1e-9)
    r = Ridge(alpha=30.0).fit(X, y, sample_weight=w)
    skr = SkRidge(alpha=30.0, solver="cholesky").fit(X, y, sample_weight=w)
    np.testing.assert_allclose(r.coef_, skr.coef_, rtol=1e-8)
    np.testing.assert_allclose(r.intercept_, skr.intercept_, rtol=1e-8)
    assert not hasattr(r, "bse_")
    c = clone(LinearRegression(cov_type="HC3"))
    assert c.get_params()["cov_type"] == "HC3" and not hasattr(c, "coef_")
    assert clone(Ridge(alpha=2.0)).alpha == 2.0
    assert repr(LinearRegression(cov_type="HC1")) == "LinearRegression(cov_type='HC1')"
    assert sklearn is not None


def test_pickle_save_and_summary(tmp_path):
    X, y, _, _ = generated(n=300, k=3, seed=3)
    df = pd.DataFrame(X, columns=["price", "promo", "season"])
    m = LinearRegression(cov_type="HC3").fit(df, y)
    back = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(back.bse_, m.bse_)
    assert list(back.feature_names_in_) == ["price", "promo", "season"]
    path = tmp_path / "m.mercato"
    m.save(path)
    loaded = LinearRegression.load(path)
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))
    text = m.summary(yname="sales")
    for needle in ("OLS Regression Results", "R-squared:", "P>|z|", "price", "Cond. No.", "HC3"):
        assert needle in text, needle


def test_design_matrix():
    df = pd.DataFrame({"price": [1.0, 2.0, 4.0, 8.0], "brand": ["b", "a", "c", "a"], "feat": [0, 1, 0, 1]})
    d = Design(["log(price)", "C(brand)", "log(price):C(brand)", "feat"])
    X = d.fit_transform(df)
    assert list(X.columns) == [
        "log(price)",
        "C(brand)[T.b]",
        "C(brand)[T.c]",
        "log(price):C(brand)[T.b]",
        "log(price):C(brand)[T.c]",
        "feat",
    ]
    np.testing.assert_allclose(X["log(price):C(brand)[T.b]"], [0.0, 0, 0, 0])
    np.testing.assert_allclose(X["log(price):C(brand)[T.c]"], [0.0, 0, np.log(4), 0])
    with pytest.raises(ValueError, match="unseen"):
        d.transform(df.assign(brand=["z", "a", "a", "a"]))
    with pytest.raises(ValueError, match="positive"):
        d.transform(df.assign(price=[0.0, 1, 1, 1]))
    with pytest.raises(ValueError, match="not in the data"):
        Design(["nope"]).fit(df)


def test_bad_input():
    X, y, _, _ = generated(n=50, k=3, seed=4)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        LinearRegression().fit(bad, y)
    with pytest.raises(ValueError, match="shape"):
        LinearRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="more rows than parameters"):
        LinearRegression().fit(X[:3], y[:3])
    const = X.copy()
    const[:, 2] = 7.0
    with pytest.raises(ValueError, match="`c` is constant"):
        LinearRegression().fit(pd.DataFrame(const, columns=["a", "b", "c"]), y)
    coll = np.column_stack([X, X[:, 0] + 2 * X[:, 1]])
    with pytest.raises(ValueError, match="rank-deficient.*x4"):
        LinearRegression().fit(coll, y)
    with pytest.raises(ValueError, match="cov_type"):
        LinearRegression(cov_type="HC9").fit(X, y)
    with pytest.raises(ValueError, match="groups"):
        LinearRegression(cov_type="cluster").fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        Ridge(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="positive"):
        LinearRegression().fit(X, y, sample_weight=np.zeros(50))
    with pytest.raises(ValueError, match="not fitted"):
        LinearRegression().predict(X)
    m = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="columns"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="interval"):
        m.predict(X, interval="bogus")
