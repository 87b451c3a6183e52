"""Fraud scoring: unsupervised anomaly detectors with PyOD conventions, on a Rust core.

Every detector is fitted on (mostly legitimate, unlabelled) transactions and scores rows so
that **higher means more anomalous**::

    from mercato.fraud import IsolationForest
    det = IsolationForest(n_estimators=100, contamination=0.01, seed=0).fit(X_train)
    det.decision_function(X_new)      # raw scores
    det.predict(X_new)                # 0/1 against threshold_
    det.predict_proba(X_new)          # (n, 2) [P(normal), P(anomaly)], "linear" or "unify"
    det.score_one(x)                  # one transaction, microseconds
    det.explain(x)                    # (feature names, contributions), largest first

``X`` is a 2-D numpy array or a pandas DataFrame (its column names are then used by
``explain``). NaN/inf, a wrong column count or bad parameters raise ``ValueError``. Models
pickle through mercato's safe model format and have ``save(path)`` / ``load(path)``.

``predict_proba`` methods (as PyOD): ``"linear"`` min-max scales the score with the training
scores' range, clipped to [0, 1]; ``"unify"`` (Kriegel et al. 2011) is
``max(0, erf((s - mean) / (std * sqrt 2)))`` over the training scores.
"""

from __future__ import annotations

import json
import numbers
from typing import Any

import numpy as np

from mercato._base import Estimator, as_matrix, params_json
from mercato._mercato import fraud as _native

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


def _as_matrix(X: Any, what: str = "X") -> tuple[np.ndarray, list[str] | None]:
    return as_matrix(X, what)


def _as_row(x: Any) -> np.ndarray:
    if hasattr(x, "to_numpy"):  # pandas Series / one-row DataFrame
        x = x.to_numpy(dtype=np.float64)
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ValueError(f"x must be one row (1-D), got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _check_int(name: str, v: Any, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def _check_threads(v: Any) -> int | None:
    return None if v is None else _check_int("num_threads", v)


def _check_contamination(c: Any) -> float:
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not (0.0 < float(c) <= 0.5):
        raise ValueError(f"contamination must be in (0, 0.5], got {c!r}")
    return float(c)


class BaseDetector(Estimator):
    """Shared PyOD-style API. Subclasses define ``_kind`` (the detector's short name),
    ``_kinds`` (its model-file kind) and ``_rust_params``."""

    _kind = ""

    # --- parameters -------------------------------------------------------------------
    def _rust_params(self) -> dict:
        raise NotImplementedError

    def _new_native(self):
        _check_contamination(self.contamination)
        return _native._Detector(self._kind, params_json(self._rust_params()))

    # --- fitting and scoring ----------------------------------------------------------
    def fit(self, X, y=None):
        """Fits on X (numpy 2-D array or pandas DataFrame); ``y`` is ignored. Returns self."""
        arr, names = _as_matrix(X)
        model = self._new_native()
        model.fit(arr)
        if names is not None:
            model.set_feature_names(names)  # kept in the model file: survives save/load
        self._adopt(model)
        return self

    def _adopt(self, native) -> None:
        self._model = native
        self.feature_names_in_ = native.feature_names()
        self.n_features_in_ = native.n_features()

    def decision_function(self, X) -> np.ndarray:
        """Anomaly scores of the rows of X (higher = more anomalous)."""
        return self._fitted().score(_as_matrix(X)[0])

    score_samples = decision_function

    def score_one(self, x) -> float:
        """Anomaly score of one row (a 1-D array or list)."""
        m = self._fitted()
        if type(x) is np.ndarray and x.dtype == np.float64 and x.ndim == 1 and x.flags.c_contiguous:
            return m.score_one(x)  # fast path for streaming
        return m.score_one(_as_row(x))

    def predict(self, X) -> np.ndarray:
        """1 for rows scored above ``threshold_``, else 0."""
        return self._fitted().predict(_as_matrix(X)[0]).astype(np.int64)

    def predict_proba(self, X, method: str = "linear") -> np.ndarray:
        """(n, 2) array of [P(normal), P(anomaly)] ("linear" or "unify", as PyOD)."""
        if method not in ("linear", "unify"):
            raise ValueError(f"method must be 'linear' or 'unify', got {method!r}")
        p = self._fitted().predict_proba(_as_matrix(X)[0], method)
        return np.column_stack([1.0 - p, p])

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fits, then returns ``labels_``."""
        return self.fit(X).labels_

    def explain(self, x, top: int | None = None) -> tuple[list, np.ndarray]:
        """Per-feature contributions to the score of one row, largest first.

        Returns (feature names, or indices when fitted on a numpy array; contributions).
        """
        idx, values, _ = self._fitted().explain(_as_row(x))
        if top is not None:
            idx, values = idx[:top], values[:top]
        names = [self.feature_names_in_[i] for i in idx] if self.feature_names_in_ else list(idx)
        return names, np.asarray(values)

    @property
    def decision_scores_(self) -> np.ndarray:
        """Scores of the training rows."""
        return self._fitted().decision_scores()

    @property
    def threshold_(self) -> float:
        """Scores above this are predicted anomalous (the 1 - contamination quantile of the
        training scores unless set with ``set_threshold``)."""
        return self._fitted().threshold()

    def set_threshold(self, threshold: float) -> BaseDetector:
        """Replaces the contamination threshold with an explicit score."""
        self._fitted().set_threshold(float(threshold))
        return self

    @property
    def labels_(self) -> np.ndarray:
        """0/1 labels of the training rows."""
        return (self.decision_scores_ > self.threshold_).astype(np.int64)

    # --- persistence (the checked model format, see mercato._base) ------------------------
    @classmethod
    def _native_from_bytes(cls, data: bytes):
        return _native._Detector._from_bytes(data)

    @classmethod
    def _params_from_native(cls, model) -> dict:
        p = json.loads(model.params_json())
        kwargs = {k: p[k] for k in cls._get_param_names() if k in p}
        kwargs["contamination"] = model.calibration()[0]
        return kwargs

    @staticmethod
    def _from_native(model) -> BaseDetector:
        """The estimator for a fitted native detector (an ensemble's member)."""
        cls = _KINDS[model.kind()]
        obj = cls(**cls._params_from_native(model))
        obj._adopt(model)
        return obj


class IsolationForest(BaseDetector):
    """Isolation forest (Liu et al. 2008) with scikit-learn's parameters and score semantics
    (``decision_function`` = minus scikit-learn's ``score_samples``)."""

    _kind = "iforest"
    _kinds = ("fraud.iforest",)

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int | float | str = "auto",
        max_features: int | float = 1.0,
        contamination: float = 0.1,
        seed: int = 0,
        num_threads: int | None = None,
    ):
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.seed = seed
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        ms = self.max_samples
        if isinstance(ms, str):
            if ms != "auto":
                raise ValueError(f"max_samples must be 'auto', an int or a float, got {ms!r}")
        elif isinstance(ms, bool) or not isinstance(ms, numbers.Real):
            raise ValueError(f"max_samples must be 'auto', an int or a float, got {ms!r}")
        else:
            ms = int(ms) if isinstance(ms, numbers.Integral) else float(ms)
        mf = self.max_features
        if isinstance(mf, bool) or not isinstance(mf, numbers.Real):
            raise ValueError(f"max_features must be an int or a float, got {mf!r}")
        mf = int(mf) if isinstance(mf, numbers.Integral) else float(mf)
        return {
            "n_estimators": _check_int("n_estimators", self.n_estimators),
            "max_samples": ms,
            "max_features": mf,
            "contamination": _check_contamination(self.contamination),
            "seed": _check_int("seed", self.seed, 0),
            "num_threads": _check_threads(self.num_threads),
        }


class _EcdfDetector(BaseDetector):

    def __init__(self, contamination: float = 0.1, num_threads: int | None = None):
        self.contamination = contamination
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        return {
            "contamination": _check_contamination(self.contamination),
            "num_threads": _check_threads(self.num_threads),
        }


class ECOD(_EcdfDetector):
    """ECOD (Li et al. 2022): empirical-CDF tail probabilities, parameter free (as PyOD)."""

    _kind = "ecod"
    _kinds = ("fraud.ecod",)


class COPOD(_EcdfDetector):
    """COPOD (Li et al. 2020): copula-based outlier detection, parameter free (as PyOD)."""

    _kind = "copod"
    _kinds = ("fraud.copod",)


class HBOS(BaseDetector):
    """Histogram-based outlier score (as PyOD).

    ``n_bins`` is a number of equal-width bins, or ``"auto"`` to choose it per feature by the
    Birgé–Rozenholc criterion, as PyOD; ``bins="dynamic"`` gives equal-frequency bins instead.
    """

    _kind = "hbos"
    _kinds = ("fraud.hbos",)

    def __init__(
        self,
        n_bins: int | str = 10,
        alpha: float = 0.1,
        tol: float = 0.5,
        bins: str = "static",
        contamination: float = 0.1,
        num_threads: int | None = None,
    ):
        self.contamination = contamination
        self.n_bins = n_bins
        self.alpha = alpha
        self.tol = tol
        self.bins = bins
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        if self.bins not in ("static", "dynamic", "auto"):
            raise ValueError(f"bins must be 'static', 'dynamic' or 'auto', got {self.bins!r}")
        auto = isinstance(self.n_bins, str) and self.n_bins.lower() == "auto"
        if auto and self.bins == "dynamic":
            raise ValueError("n_bins='auto' chooses equal-width bins: it cannot be combined with bins='dynamic'")
        return {
            "n_bins": 10 if auto else _check_int("n_bins", self.n_bins),
            "alpha": float(self.alpha),
            "tol": float(self.tol),
            "bins": "auto" if auto else self.bins,
            "contamination": _check_contamination(self.contamination),
            "num_threads": _check_threads(self.num_threads),
        }


class KNN(BaseDetector):
    """k-nearest-neighbour distance (as PyOD): ``method`` is 'largest', 'mean' or 'median'."""

    _kind = "knn"
    _kinds = ("fraud.knn",)

    def __init__(
        self,
        n_neighbors: int = 5,
        method: str = "largest",
        contamination: float = 0.1,
        num_threads: int | None = None,
    ):
        self.contamination = contamination
        self.n_neighbors = n_neighbors
        self.method = method
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        if self.method not in ("largest", "mean", "median"):
            raise ValueError(f"method must be 'largest', 'mean' or 'median', got {self.method!r}")
        return {
            "n_neighbors": _check_int("n_neighbors", self.n_neighbors),
            "method": self.method,
            "contamination": _check_contamination(self.contamination),
            "num_threads": _check_threads(self.num_threads),
        }


class LOF(BaseDetector):
    """Local outlier factor (as PyOD / scikit-learn; scores are ``-negative_outlier_factor_``)."""

    _kind = "lof"
    _kinds = ("fraud.lof",)

    def __init__(self, n_neighbors: int = 20, contamination: float = 0.1, num_threads: int | None = None):
        self.contamination = contamination
        self.n_neighbors = n_neighbors
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        return {
            "n_neighbors": _check_int("n_neighbors", self.n_neighbors),
            "contamination": _check_contamination(self.contamination),
            "num_threads": _check_threads(self.num_threads),
        }


class Mahalanobis(BaseDetector):
    """Squared Mahalanobis distance with a shrunk ('ledoit_wolf'), plain ('empirical') or
    robust ('mcd', concentration steps) covariance."""

    _kind = "mahalanobis"
    _kinds = ("fraud.mahalanobis",)

    def __init__(
        self,
        covariance: str = "ledoit_wolf",
        support_fraction: float | None = None,
        contamination: float = 0.1,
        num_threads: int | None = None,
    ):
        self.contamination = contamination
        self.covariance = covariance
        self.support_fraction = support_fraction
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        if self.covariance == "mcd":
            sf = None if self.support_fraction is None else float(self.support_fraction)
            cov: Any = {"mcd": {"support_fraction": sf}}
        elif self.covariance in ("ledoit_wolf", "empirical"):
            cov = self.covariance
        else:
            raise ValueError(f"covariance must be 'ledoit_wolf', 'empirical' or 'mcd', got {self.covariance!r}")
        return {
            "covariance": cov,
            "contamination": _check_contamination(self.contamination),
            "num_threads": _check_threads(self.num_threads),
        }

    @classmethod
    def _params_from_native(cls, model) -> dict:
        p = json.loads(model.params_json())
        cov = p["covariance"]
        sf = None
        if isinstance(cov, dict):
            sf = cov["mcd"]["support_fraction"]
            cov = "mcd"
        return dict(
            covariance=cov, support_fraction=sf, contamination=model.calibration()[0], num_threads=p.get("num_threads")
        )


class PCA(BaseDetector):
    """Principal-component detector: 'weighted' (Σ projection² / eigenvalue over the top
    ``n_components``) or 'reconstruction' (squared distance to their span)."""

    _kind = "pca"
    _kinds = ("fraud.pca",)

    def __init__(
        self,
        n_components: int | None = None,
        score: str = "weighted",
        standardize: bool = True,
        contamination: float = 0.1,
        num_threads: int | None = None,
    ):
        self.contamination = contamination
        self.n_components = n_components
        self.score = score
        self.standardize = standardize
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        if self.score not in ("weighted", "reconstruction"):
            raise ValueError(f"score must be 'weighted' or 'reconstruction', got {self.score!r}")
        nc = None if self.n_components is None else _check_int("n_components", self.n_components)
        return {
            "n_components": nc,
            "score": self.score,
            "standardize": bool(self.standardize),
            "contamination": _check_contamination(self.contamination),
            "num_threads": _check_threads(self.num_threads),
        }


class Ensemble(BaseDetector):
    """Combination of detectors on normalised scores.

    ``normalize``: 'rank' (fraction of the member's training scores below) or 'zscore';
    ``combine``: 'mean' or 'max'.
    """

    _kind = "ensemble"
    _kinds = ("fraud.ensemble",)

    def __init__(self, detectors, normalize: str = "rank", combine: str = "mean", contamination: float = 0.1):
        self.contamination = contamination
        self.detectors = detectors
        self.normalize = normalize
        self.combine = combine

    def _rust_params(self) -> dict:
        if self.normalize not in ("rank", "zscore"):
            raise ValueError(f"normalize must be 'rank' or 'zscore', got {self.normalize!r}")
        if self.combine not in ("mean", "max"):
            raise ValueError(f"combine must be 'mean' or 'max', got {self.combine!r}")
        return {
            "normalize": self.normalize,
            "combine": self.combine,
            "contamination": _check_contamination(self.contamination),
        }

    def _new_native(self):
        if not self.detectors:
            raise ValueError("an Ensemble needs at least one detector")
        members = []
        for d in self.detectors:
            if not isinstance(d, BaseDetector):
                raise ValueError(f"Ensemble members must be mercato.fraud detectors, got {type(d).__name__}")
            members.append(d._new_native())
        return _native._Detector.ensemble(members, params_json(self._rust_params()))

    @classmethod
    def _params_from_native(cls, model) -> dict:
        p = json.loads(model.params_json())
        members = [BaseDetector._from_native(m) for m in model.members()]
        return dict(detectors=members, normalize=p["normalize"], combine=p["combine"], contamination=p["contamination"])


_KINDS = {
    "iforest": IsolationForest,
    "ecod": ECOD,
    "copod": COPOD,
    "hbos": HBOS,
    "knn": KNN,
    "lof": LOF,
    "mahalanobis": Mahalanobis,
    "pca": PCA,
    "ensemble": Ensemble,
}


class _BaseScaler(Estimator):
    _kind = ""
    _kinds = ("fraud.scaler",)

    def __init__(self, missing: str | float = "reject"):
        self.missing = missing

    def _native(self):
        if isinstance(self.missing, str):
            return _native._Scaler(self._kind, self.missing)
        if isinstance(self.missing, bool) or not isinstance(self.missing, numbers.Real):
            raise ValueError(f"missing must be 'reject', 'mean', 'median' or a number, got {self.missing!r}")
        return _native._Scaler(self._kind, "constant", float(self.missing))

    def fit(self, X, y=None):
        """Learns per-column centre and scale. NaN is rejected unless ``missing`` imputes it."""
        arr, _ = _as_matrix(X)
        model = self._native()
        model.fit(arr)
        self._adopt(model)
        return self

    def transform(self, X) -> np.ndarray:
        """Scales X (constant columns get scale 1)."""
        return self._fitted().transform(_as_matrix(X)[0])

    def fit_transform(self, X, y=None) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X).transform(X)

    @property
    def center_(self) -> np.ndarray:
        """Per-column centre (mean or median)."""
        return np.asarray(self._fitted().center())

    @property
    def scale_(self) -> np.ndarray:
        """Per-column scale (std or IQR)."""
        return np.asarray(self._fitted().scale())

    @classmethod
    def _native_from_bytes(cls, data: bytes):
        return _native._Scaler._from_bytes(data)

    @classmethod
    def _class_for_native(cls, native):
        return RobustScaler if native.kind() == "robust" else StandardScaler

    @classmethod
    def _params_from_native(cls, native) -> dict:
        missing = native.missing()
        return {"missing": missing}


class StandardScaler(_BaseScaler):
    """``(x - mean) / std`` per column (as scikit-learn); ``missing`` = 'reject' (default),
    'mean', 'median' or a fill value."""

    _kind = "standard"


class RobustScaler(_BaseScaler):
    """``(x - median) / IQR`` per column (as scikit-learn's RobustScaler)."""

    _kind = "robust"
