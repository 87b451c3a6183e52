from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Design", "LinearRegression", "Ridge"]

class LinearRegression:
    fit_intercept: bool
    cov_type: str
    use_t: bool | None
    num_threads: int | None
    coef_: np.ndarray
    intercept_: float
    params_: np.ndarray
    param_names_: list[str]
    n_features_in_: int
    feature_names_in_: np.ndarray
    bse_: np.ndarray
    tvalues_: np.ndarray
    pvalues_: np.ndarray
    cov_params_: np.ndarray
    rsquared_: float
    rsquared_adj_: float
    fvalue_: float | None
    f_pvalue_: float | None
    llf_: float
    aic_: float
    bic_: float
    nobs_: int
    df_resid_: float
    df_model_: float
    ssr_: float
    scale_: float
    condition_number_: float
    def __init__(
        self,
        fit_intercept: bool = True,
        cov_type: str = "nonrobust",
        use_t: bool | None = None,
        num_threads: int | None = None,
    ) -> None: ...
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> LinearRegression: ...
    def fit(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None) -> LinearRegression: ...
    def conf_int(self, alpha: float = 0.05) -> np.ndarray: ...
    def predict(self, X: Any, interval: str | None = None, alpha: float = 0.05) -> Any: ...
    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float: ...
    def summary(self, yname: str = "y", alpha: float = 0.05) -> str: ...
    def to_bytes(self) -> bytes: ...
    @classmethod
    def from_bytes(cls, data: bytes) -> LinearRegression: ...
    def save(self, path: Any) -> None: ...
    @classmethod
    def load(cls, path: Any) -> LinearRegression: ...

class Ridge(LinearRegression):
    alpha: float
    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True, num_threads: int | None = None) -> None: ...

class Design:
    terms: list[str]
    levels_: dict[str, list[Any]]
    def __init__(self, terms: list[str]) -> None: ...
    def fit(self, df: pd.DataFrame) -> Design: ...
    def transform(self, df: pd.DataFrame) -> pd.DataFrame: ...
    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame: ...
