"""Type stubs for mercato.fraud (see fraud.py for the documentation)."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

_D = TypeVar("_D", bound=BaseDetector)
_S = TypeVar("_S", bound=_BaseScaler)
_Matrix = npt.ArrayLike  # 2-D numpy array or pandas DataFrame
_Row = npt.ArrayLike  # 1-D array, list or pandas Series
_Path = str | PathLike[str]

__all__ = [
    "COPOD",
    "ECOD",
    "HBOS",
    "KNN",
    "LOF",
    "PCA",
    "Ensemble",
    "IsolationForest",
    "Mahalanobis",
    "RobustScaler",
    "StandardScaler",
]

class BaseDetector:
    contamination: float
    feature_names_in_: np.ndarray  # only when fitted on a DataFrame with string column names
    n_features_in_: int
    def __init__(self, contamination: float = 0.1) -> None: ...
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self: _D, **params: Any) -> _D: ...
    def fit(self: _D, X: _Matrix, y: Any = None) -> _D: ...
    def decision_function(self, X: _Matrix) -> np.ndarray: ...
    def score_samples(self, X: _Matrix) -> np.ndarray: ...
    def score_one(self, x: _Row) -> float: ...
    def predict(self, X: _Matrix, return_confidence: bool = False) -> Any: ...
    def predict_proba(
        self, X: _Matrix, method: Literal["linear", "unify"] = "linear", return_confidence: bool = False
    ) -> Any: ...
    def predict_confidence(self, X: _Matrix) -> np.ndarray: ...
    def predict_with_rejection(
        self,
        X: _Matrix,
        T: float = 32,
        return_stats: bool = False,
        delta: float = 0.1,
        c_fp: float = 1.0,
        c_fn: float = 1.0,
        c_r: float | None = None,
    ) -> Any: ...
    def compute_rejection_stats(
        self,
        T: float = 32,
        delta: float = 0.1,
        c_fp: float = 1.0,
        c_fn: float = 1.0,
        c_r: float | None = None,
        verbose: bool = False,
    ) -> tuple[float, float, float]: ...
    def predict_rank(self, X: _Matrix, normalized: bool = False) -> np.ndarray: ...
    def fit_predict_score(self, X: _Matrix, y: Any, scoring: str = "roc_auc_score") -> float: ...
    def fit_predict(self, X: _Matrix, y: Any = None) -> np.ndarray: ...
    def explain(self, x: _Row, top: int | None = None) -> tuple[list[str] | list[int], np.ndarray]: ...
    @property
    def decision_scores_(self) -> np.ndarray: ...
    @property
    def threshold_(self) -> float: ...
    @property
    def labels_(self) -> np.ndarray: ...
    def set_threshold(self: _D, threshold: float) -> _D: ...
    def save(self, path: _Path) -> None: ...
    @classmethod
    def load(cls: type[_D], path: _Path) -> _D: ...

class IsolationForest(BaseDetector):
    n_estimators: int
    max_samples: int | float | Literal["auto"]
    max_features: int | float
    seed: int
    num_threads: int | None
    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int | float | Literal["auto"] = "auto",
        max_features: int | float = 1.0,
        contamination: float = 0.1,
        seed: int = 0,
        num_threads: int | None = None,
    ) -> None: ...

class _EcdfDetector(BaseDetector):
    num_threads: int | None
    def __init__(self, contamination: float = 0.1, num_threads: int | None = None) -> None: ...

class ECOD(_EcdfDetector): ...
class COPOD(_EcdfDetector): ...

class HBOS(BaseDetector):
    n_bins: int | Literal["auto"]
    alpha: float
    tol: float
    bins: Literal["static", "dynamic", "auto"]
    num_threads: int | None
    def __init__(
        self,
        n_bins: int | Literal["auto"] = 10,
        alpha: float = 0.1,
        tol: float = 0.5,
        bins: Literal["static", "dynamic", "auto"] = "static",
        contamination: float = 0.1,
        num_threads: int | None = None,
    ) -> None: ...

_Metric = Literal["euclidean", "minkowski", "l2", "mahalanobis"]

class KNN(BaseDetector):
    n_neighbors: int
    method: Literal["largest", "mean", "median"]
    metric: _Metric
    metric_params: dict[str, Any] | None
    num_threads: int | None
    def __init__(
        self,
        n_neighbors: int = 5,
        method: Literal["largest", "mean", "median"] = "largest",
        metric: _Metric = "euclidean",
        metric_params: dict[str, Any] | None = None,
        contamination: float = 0.1,
        num_threads: int | None = None,
    ) -> None: ...

class LOF(BaseDetector):
    n_neighbors: int
    metric: _Metric
    metric_params: dict[str, Any] | None
    novelty: bool
    num_threads: int | None
    def __init__(
        self,
        n_neighbors: int = 20,
        metric: _Metric = "euclidean",
        metric_params: dict[str, Any] | None = None,
        contamination: float = 0.1,
        novelty: bool = True,
        num_threads: int | None = None,
    ) -> None: ...
    @property
    def n_neighbors_(self) -> int: ...

class Mahalanobis(BaseDetector):
    covariance: Literal["ledoit_wolf", "empirical", "mcd"]
    support_fraction: float | None
    num_threads: int | None
    def __init__(
        self,
        covariance: Literal["ledoit_wolf", "empirical", "mcd"] = "ledoit_wolf",
        support_fraction: float | None = None,
        contamination: float = 0.1,
        num_threads: int | None = None,
    ) -> None: ...

class PCA(BaseDetector):
    n_components: int | None
    score: Literal["weighted", "reconstruction"]
    standardize: bool
    num_threads: int | None
    def __init__(
        self,
        n_components: int | None = None,
        score: Literal["weighted", "reconstruction"] = "weighted",
        standardize: bool = True,
        contamination: float = 0.1,
        num_threads: int | None = None,
    ) -> None: ...

class Ensemble(BaseDetector):
    detectors: list[BaseDetector]
    normalize: Literal["rank", "zscore"]
    combine: Literal["mean", "max"]
    def __init__(
        self,
        detectors: Sequence[BaseDetector],
        normalize: Literal["rank", "zscore"] = "rank",
        combine: Literal["mean", "max"] = "mean",
        contamination: float = 0.1,
    ) -> None: ...

class _BaseScaler:
    missing: str | float
    n_features_in_: int
    feature_names_in_: np.ndarray  # only when fitted on a DataFrame with string column names
    def __init__(self, missing: Literal["reject", "mean", "median"] | float = "reject") -> None: ...
    def fit(self: _S, X: _Matrix, y: Any = None) -> _S: ...
    def transform(self, X: _Matrix) -> np.ndarray: ...
    def fit_transform(self, X: _Matrix, y: Any = None) -> np.ndarray: ...
    @property
    def center_(self) -> np.ndarray | None: ...
    @property
    def scale_(self) -> np.ndarray | None: ...
    def save(self, path: _Path) -> None: ...
    @classmethod
    def load(cls: type[_S], path: _Path) -> _S: ...

class StandardScaler(_BaseScaler): ...
class RobustScaler(_BaseScaler): ...
