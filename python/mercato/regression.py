"""Linear regression for demand and sales models: scikit-learn's estimator surface with
statsmodels' inference, on a Rust core.

::

    from mercato.regression import LinearRegression, Ridge, Design
    design = Design(["log(price)", "C(brand)", "log(price):C(brand)", "promo"])
    X = design.fit_transform(df)                       # DataFrame, named columns
    m = LinearRegression(cov_type="HC3").fit(X, np.log(df["sales"]))
    m.coef_, m.intercept_, m.predict(X), m.score(X, y)          # scikit-learn
    m.params_, m.bse_, m.tvalues_, m.pvalues_, m.conf_int(0.05)  # statsmodels (const first)
    m.rsquared_, m.fvalue_, m.aic_, m.condition_number_
    mean, lower, upper = m.predict(X_new, interval="prediction", alpha=0.05)
    print(m.summary())

Numbers follow statsmodels' ``OLS``/``WLS(...).fit(cov_type=...)``: ``cov_type`` is one of
``"nonrobust"``, ``"HC0"``–``"HC3"``, ``"cluster"`` (pass ``groups=`` to ``fit``); p-values
use Student's t for ``nonrobust`` and the normal for robust covariances unless ``use_t`` says
otherwise. ``sample_weight`` gives weighted least squares (weights must be positive).
A rank-deficient design raises ``ValueError`` naming the collinear columns. ``Ridge`` adds
``alpha·‖β‖²`` on the slopes as scikit-learn's ``Ridge``; it has no standard errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mercato._base import Estimator, as_matrix, params_json
from mercato._mercato import regression as _native

__all__ = ["Design", "LinearRegression", "Ridge"]

_COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")


def _as_matrix(X: Any) -> tuple[np.ndarray, list[str] | None]:
    return as_matrix(X, "X", " (use Design for categoricals)")


def _as_vector(v: Any, what: str, dtype=np.float64) -> np.ndarray:
    if hasattr(v, "to_numpy"):
        v = v.to_numpy()
    try:
        arr = np.ascontiguousarray(np.asarray(v, dtype=dtype))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be numeric: {e}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = np.ascontiguousarray(arr[:, 0])
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    return arr


def _group_codes(groups: Any) -> np.ndarray:
    if hasattr(groups, "to_numpy"):
        groups = groups.to_numpy()
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"groups must be 1-D, got shape {g.shape}")
    # Any labels (strings included) to dense integer codes in sorted order.
    return np.ascontiguousarray(np.unique(g, return_inverse=True)[1].astype(np.int64))


class LinearRegression(Estimator):
    """Ordinary / weighted least squares with statsmodels' inference.

    Parameters
    ----------
    fit_intercept : fit an intercept (reported first in ``params_`` as ``const``).
    cov_type : ``"nonrobust"``, ``"HC0"``, ``"HC1"``, ``"HC2"``, ``"HC3"`` or ``"cluster"``.
    use_t : Student t (True) or normal (False) p-values; None = statsmodels' default.
    num_threads : threads for the fit (all cores when None); results do not depend on it.
    """

    _kinds = ("regression.linear",)

    def __init__(
        self,
        fit_intercept: bool = True,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        num_threads: int | None = None,
    ):
        self.fit_intercept = fit_intercept
        self.cov_type = cov_type
        self.use_t = use_t
        self.num_threads = num_threads

    def _alpha(self) -> float:
        return 0.0

    def _rust_params(self) -> dict[str, Any]:
        if self.cov_type not in _COV_TYPES:
            raise ValueError(f"invalid parameter `cov_type`: {self.cov_type!r} is not one of {', '.join(_COV_TYPES)}")
        return {
            "fit_intercept": bool(self.fit_intercept),
            "cov_type": self.cov_type,
            "alpha": float(self._alpha()),
            "use_t": None if self.use_t is None else bool(self.use_t),
            "num_threads": self.num_threads,
        }

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None) -> LinearRegression:
        """Fits on ``X`` (array or DataFrame) and ``y``; ``groups`` for ``cov_type="cluster"``."""
        arr, names = _as_matrix(X)
        yv = _as_vector(y, "y")
        w = None if sample_weight is None else _as_vector(sample_weight, "sample_weight")
        g = None if groups is None else _group_codes(groups)
        self._adopt(_native._LinearRegression.fit(params_json(self._rust_params()), arr, yv, w, g, names))
        return self

    def _adopt(self, native: Any) -> None:
        self._model = native
        names = native.feature_names
        default = [f"x{i}" for i in range(1, len(names) + 1)]
        self._set_attributes(None if names == default else names)

    def _set_attributes(self, names: list[str] | None) -> None:
        m = self._model
        s = m.scalars()
        self.coef_ = m.coef
        self.intercept_ = s["intercept"]
        self.params_ = m.params
        self.param_names_ = m.param_names
        self.n_features_in_ = len(self.coef_)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.rsquared_ = s["rsquared"]
        self.rsquared_adj_ = s["rsquared_adj"]
        self.llf_ = s["llf"]
        self.aic_ = s["aic"]
        self.bic_ = s["bic"]
        self.nobs_ = s["nobs"]
        self.df_resid_ = s["df_resid"]
        self.df_model_ = s["df_model"]
        self.ssr_ = s["ssr"]
        self.scale_ = s["scale"]
        self.condition_number_ = s["condition_number"]
        self.fvalue_ = s["fvalue"]
        self.f_pvalue_ = s["f_pvalue"]
        if s["alpha"] == 0.0:
            self.bse_ = m.bse
            self.tvalues_ = m.tvalues
            self.pvalues_ = m.pvalues
            self.cov_params_ = m.cov_params

    def _check_fitted(self) -> None:
        self._fitted()

    # -- inference and prediction -----------------------------------------------------------
    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """(p, 2) array of ``1 - alpha`` confidence intervals for ``params_``."""
        self._check_fitted()
        return self._model.conf_int(float(alpha))

    def predict(self, X: Any, interval: str | None = None, alpha: float = 0.05):
        """Predicted means; with ``interval="confidence"|"prediction"``, ``(mean, lower, upper)``."""
        self._check_fitted()
        arr, _ = _as_matrix(X)
        if interval is None:
            return self._model.predict(arr)
        mean, _se, lower, upper = self._model.predict_interval(arr, interval, float(alpha))
        return mean, lower, upper

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of the predictions on (X, y), as scikit-learn's ``r2_score``."""
        pred = self.predict(X)
        yv = _as_vector(y, "y")
        w = np.ones_like(yv) if sample_weight is None else _as_vector(sample_weight, "sample_weight")
        ybar = np.average(yv, weights=w)
        return float(1.0 - np.sum(w * (yv - pred) ** 2) / np.sum(w * (yv - ybar) ** 2))

    def summary(self, yname: str = "y", alpha: float = 0.05) -> str:
        """A text table laid out like statsmodels' ``summary()`` (the same text as
        ``mercato train regression`` prints)."""
        self._check_fitted()
        return self._model.summary(str(yname), float(alpha))

    # -- persistence (the checked model format, see mercato._base) -------------------------
    @classmethod
    def _native_from_bytes(cls, data: bytes) -> Any:
        return _native._LinearRegression._from_bytes(bytes(data))

    @classmethod
    def _class_for_native(cls, native: Any) -> type[LinearRegression]:
        return Ridge if native.scalars()["alpha"] > 0 else LinearRegression

    @classmethod
    def _params_from_native(cls, native: Any) -> dict[str, Any]:
        s = native.scalars()
        if s["alpha"] > 0:
            return {"alpha": s["alpha"], "fit_intercept": s["fit_intercept"]}
        return {"cov_type": s["cov_type"], "fit_intercept": s["fit_intercept"]}


class Ridge(LinearRegression):
    """Least squares with ``alpha·‖β‖²`` on the slopes (intercept unpenalized), as scikit-learn."""

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True, num_threads: int | None = None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.num_threads = num_threads

    def _alpha(self) -> float:
        return self.alpha

    def _rust_params(self) -> dict[str, Any]:
        try:
            alpha = float(self.alpha)
        except (TypeError, ValueError):
            raise ValueError(f"invalid parameter `alpha`: must be a number, got {self.alpha!r}") from None
        if not alpha > 0:
            raise ValueError(f"invalid parameter `alpha`: Ridge needs alpha > 0 (use LinearRegression), got {alpha}")
        return {"fit_intercept": bool(self.fit_intercept), "alpha": alpha, "num_threads": self.num_threads}

    @property
    def cov_type(self) -> str:
        return "nonrobust"


class Design:
    """Formula-free design matrices for demand models.

    ``terms`` is a list; each term is a product (``:``) of factors, each factor one of
    ``name`` (numeric column), ``log(name)`` (natural log; values must be positive) or
    ``C(name)`` (categorical: one dummy per level but the first, levels sorted as learnt by
    ``fit``). ``log(sales) ~ log(price) * brand + feat`` becomes::

        d = Design(["log(price)", "C(brand)", "log(price):C(brand)", "feat"])
        X = d.fit_transform(df); y = np.log(df["sales"])

    Columns are named as patsy would (``C(brand)[T.b]``, ``log(price):C(brand)[T.b]``).
    ``transform`` on new data raises ``ValueError`` for an unseen level.
    """

    def __init__(self, terms: list[str]):
        self.terms = terms

    @staticmethod
    def _factor(text: str) -> tuple[str, str]:
        text = text.strip()
        for kind in ("log", "C"):
            if text.startswith(kind + "(") and text.endswith(")"):
                return kind, text[len(kind) + 1 : -1].strip()
        if not text or "(" in text:
            raise ValueError(f"bad factor {text!r}: use name, log(name) or C(name)")
        return "num", text

    def fit(self, df: Any) -> Design:
        self.levels_: dict[str, list[Any]] = {}
        for term in self.terms:
            for kind, col in map(self._factor, term.split(":")):
                if col not in df.columns:
                    raise ValueError(f"column {col!r} (in term {term!r}) is not in the data")
                if kind == "C" and col not in self.levels_:
                    self.levels_[col] = sorted(df[col].unique().tolist())
        return self

    def _columns(self, df: Any, kind: str, col: str) -> list[tuple[str, np.ndarray]]:
        values = df[col].to_numpy()
        if kind == "num":
            return [(col, values.astype(np.float64))]
        if kind == "log":
            v = values.astype(np.float64)
            if np.any(v <= 0):
                raise ValueError(f"log({col}) needs positive values, found {v[v <= 0][0]}")
            return [(f"log({col})", np.log(v))]
        levels = self.levels_[col]
        unseen = set(np.unique(values).tolist()) - set(levels)
        if unseen:
            raise ValueError(f"C({col}) has levels unseen at fit: {sorted(unseen, key=str)[:5]}")
        return [(f"C({col})[T.{lv}]", (values == lv).astype(np.float64)) for lv in levels[1:]]

    def transform(self, df: Any):
        import pandas as pd

        if not hasattr(self, "levels_"):
            raise ValueError("this Design is not fitted yet: call fit first")
        out: dict[str, np.ndarray] = {}
        for term in self.terms:
            cols: list[tuple[str, np.ndarray]] = [("", np.ones(len(df)))]
            for kind, col in map(self._factor, term.split(":")):
                cols = [(f"{a}:{b}" if a else b, u * v) for a, u in cols for b, v in self._columns(df, kind, col)]
            out.update(cols)
        return pd.DataFrame(out, index=df.index)

    def fit_transform(self, df: Any):
        return self.fit(df).transform(df)
