"""Fraud scoring: unsupervised anomaly detectors with PyOD conventions, on a Rust core.

Every detector is fitted on (mostly legitimate, unlabelled) transactions::

    from mercato.fraud import IsolationForest
    det = IsolationForest(n_estimators=100, contamination=0.01, seed=0).fit(X_train)
    det.decision_function(X_new)      # anomaly scores: higher = more anomalous (PyOD)
    det.score_samples(X_new)          # minus that: higher = more normal (scikit-learn)
    det.predict(X_new)                # 0/1 against threshold_ (PyOD)
    det.predict_proba(X_new)          # (n, 2) [P(normal), P(anomaly)], "linear" or "unify"
    det.predict_confidence(X_new)     # how stable each 0/1 label is, in [0, 1] (PyOD)
    det.score_one(x)                  # one transaction, microseconds
    det.explain(x)                    # (feature names, shares summing to 1), largest first

Signs, one table (PyOD's for everything but ``score_samples``, which follows scikit-learn
so that scikit-learn code reading it keeps its meaning):

=====================  ==========================  ===================================
method                 mercato (= PyOD)            scikit-learn's outlier detectors
=====================  ==========================  ===================================
``decision_function``  higher = more anomalous     higher = more normal, 0 at threshold
``score_samples``      higher = more normal        higher = more normal
``predict``            1 = anomaly, 0 = normal     -1 = anomaly, 1 = normal
=====================  ==========================  ===================================

``X`` is a 2-D numpy array or a pandas DataFrame (its column names are then used by
``explain`` and checked at scoring, as scikit-learn does). NaN/inf, a wrong column count or
bad parameters raise ``ValueError``; scipy.sparse input is a ``TypeError`` (except for
``KNN`` and ``LOF``, which densify it). Models pickle through mercato's safe model format and
have ``save(path)`` / ``load(path)``.

``predict_proba`` methods (as PyOD): ``"linear"`` min-max scales the score with the training
scores' range, clipped to [0, 1]; ``"unify"`` (Kriegel et al. 2011) is
``max(0, erf((s - mean) / (std * sqrt 2)))`` over the training scores.
``predict_confidence``, ``predict_with_rejection`` and ``compute_rejection_stats`` (Perini et
al. 2020, 2023, as PyOD) need scipy.
"""

from __future__ import annotations

import json
import numbers
import warnings
from typing import Any

import numpy as np

from mercato._base import Estimator, NotFittedError, ParameterWarning, as_matrix, params_json
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


def _is_sparse(X: Any) -> bool:
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def _str_names(X: Any) -> np.ndarray | None:
    """A DataFrame's column names when they are all strings (scikit-learn's rule for
    ``feature_names_in_``), else None."""
    cols = getattr(X, "columns", None)
    if cols is None or not hasattr(X, "to_numpy") or not all(isinstance(c, str) for c in cols):
        return None
    return np.asarray(list(cols), dtype=object)


def _validate(est: Any, X: Any, reset: bool, accept_sparse: bool = False) -> np.ndarray:
    """``X`` as a float64 matrix, checked as scikit-learn's ``validate_data`` does: sparse
    input, complex values, and (unless ``reset``, i.e. in fit) the column count and names
    against what ``est`` was fitted on. NaN/inf is left to the Rust core (a ``ValueError``)."""
    name = type(est).__name__
    if _is_sparse(X):
        if not accept_sparse:
            raise TypeError(
                f"{name} does not take scipy.sparse input: pass a dense array (X.toarray()); "
                "KNN and LOF accept sparse matrices"
            )
        X = X.toarray()
    names = _str_names(X)
    if names is None:  # DataFrames are converted (and their errors worded) by as_matrix
        raw = np.asarray(X)
        if raw.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {name} takes real numbers")
        if raw.ndim == 1:
            raise ValueError(
                f"{name} expects a 2-D array (rows x features), got 1-D: Reshape your data with "
                "X.reshape(-1, 1) if it has one feature or X.reshape(1, -1) if it is one row"
            )
        if raw.dtype.kind == "O":
            try:
                raw.astype(np.float64)
            except TypeError as e:  # e.g. a dict among the numbers: a type error, named as such
                raise TypeError(f"X must be numeric: {e}") from None
    arr, _ = _as_matrix(X)
    if arr.shape[1] == 0 or arr.shape[0] == 0:
        what = "feature(s)" if arr.shape[1] == 0 else "sample(s)"
        raise ValueError(f"Found array with 0 {what} (shape={arr.shape}) while a minimum of 1 is required by {name}.")
    if reset:
        return arr
    n = getattr(est, "n_features_in_", None)
    if n is not None and arr.shape[1] != n:
        raise ValueError(f"X has {arr.shape[1]} features, but {name} is expecting {n} features as input")
    fitted = getattr(est, "feature_names_in_", None)
    if fitted is not None and names is not None:
        if len(fitted) != len(names) or any(a != b for a, b in zip(fitted, names)):
            raise ValueError(
                f"The feature names should match those that were passed during fit: {name} was fitted "
                f"with {list(fitted)}, got {list(names)}"
            )
    elif fitted is not None:
        msg = f"X does not have valid feature names, but {name} was fitted with feature names"
        warnings.warn(msg, UserWarning, stacklevel=3)
    elif names is not None and getattr(est, "_fitted_on_array", False):
        warnings.warn(f"X has feature names, but {name} was fitted without feature names", UserWarning, stacklevel=3)
    return arr


_SKLEARN_NOT_FITTED: dict[str, type] = {}


def _sklearn_fitted(est: Any) -> Any:
    """``est._fitted()``, raising a ``NotFittedError`` that is also scikit-learn's when
    scikit-learn is already imported (so its ``check_is_fitted``-style ``except`` clauses catch
    it); mercato never imports scikit-learn itself."""
    try:
        return Estimator._fitted(est)
    except NotFittedError as e:
        import sys

        sk = sys.modules.get("sklearn.exceptions")
        if sk is None:
            raise
        if "cls" not in _SKLEARN_NOT_FITTED:
            _SKLEARN_NOT_FITTED["cls"] = type("NotFittedError", (NotFittedError, sk.NotFittedError), {})
        raise _SKLEARN_NOT_FITTED["cls"](str(e)) from None


def _scipy_stats():
    try:
        from scipy import optimize, stats
    except ImportError:  # scipy is an optional dependency of mercato
        raise ImportError(
            "predict_confidence, predict_with_rejection and compute_rejection_stats need scipy: "
            "pip install 'mercato[scipy]'"
        ) from None
    return stats, optimize


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
    #: KNN and LOF densify scipy.sparse input (PyOD takes it there); others raise TypeError.
    _accepts_sparse = False

    def __sklearn_tags__(self):
        """scikit-learn's tags (read by ``check_estimator``, ``Pipeline``, ``is_outlier_detector``):
        an unsupervised outlier detector on dense (or, for KNN/LOF, sparse) NaN-free input."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="outlier_detector",
            target_tags=TargetTags(required=False),
            # predict_proba gives two columns [P(normal), P(anomaly)]: scikit-learn's checks
            # read the shape from the classifier tags of any estimator with predict_proba.
            classifier_tags=ClassifierTags(multi_class=False),
            input_tags=InputTags(sparse=self._accepts_sparse, allow_nan=False),
            requires_fit=True,
        )

    def _check_X(self, X) -> np.ndarray:
        return _validate(self, X, reset=False, accept_sparse=self._accepts_sparse)

    def _fitted(self):
        return _sklearn_fitted(self)

    # --- parameters -------------------------------------------------------------------
    def _rust_params(self) -> dict:
        raise NotImplementedError

    def _new_native(self):
        _check_contamination(self.contamination)
        return _native._Detector(self._kind, params_json(self._rust_params()))

    # --- fitting and scoring ----------------------------------------------------------
    def fit(self, X, y=None):
        """Fits on X (numpy 2-D array or pandas DataFrame); ``y`` is ignored (unsupervised, as
        PyOD and scikit-learn). Returns self."""
        arr = _validate(self, X, reset=True, accept_sparse=self._accepts_sparse)
        if arr.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 rows to fit, got n_samples = {arr.shape[0]}")
        names = _as_matrix(X)[1] if hasattr(X, "columns") else None
        self._n_fit_rows = arr.shape[0]  # LOF caps n_neighbors by it, as scikit-learn
        try:
            model = self._new_native()
        finally:
            del self._n_fit_rows
        model.fit(arr)
        if names is not None:
            model.set_feature_names(names)  # kept in the model file: survives save/load
        self._adopt(model)
        self._fitted_on_array = names is None
        return self

    def _adopt(self, native) -> None:
        self._model = native
        names = native.feature_names()
        # As scikit-learn: the attribute exists only when fitted with (string) column names.
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_
        self.n_features_in_ = native.n_features()

    def decision_function(self, X) -> np.ndarray:
        """Anomaly scores of the rows of X: **higher = more anomalous** (PyOD's sign)."""
        m = self._fitted()
        return m.score(self._check_X(X))

    def score_samples(self, X) -> np.ndarray:
        """Minus ``decision_function``: **higher = more normal**, scikit-learn's sign for
        ``score_samples`` (so ``-score_samples`` ranks rows by anomaly, as with scikit-learn's
        detectors). It used to return ``decision_function`` itself (see the CHANGELOG)."""
        return -self.decision_function(X)

    def score_one(self, x) -> float:
        """Anomaly score of one row (a 1-D array or list)."""
        m = self._fitted()
        if type(x) is np.ndarray and x.dtype == np.float64 and x.ndim == 1 and x.flags.c_contiguous:
            return m.score_one(x)  # fast path for streaming
        return m.score_one(_as_row(x))

    def predict(self, X, return_confidence: bool = False):
        """1 for rows scored above ``threshold_``, else 0. With ``return_confidence``, also
        ``predict_confidence(X)``: ``(labels, confidence)``, as PyOD."""
        m = self._fitted()
        arr = self._check_X(X)
        labels = m.predict(arr).astype(np.int64)
        if return_confidence:
            return labels, self._confidence(m.score(arr))
        return labels

    def predict_proba(self, X, method: str = "linear", return_confidence: bool = False):
        """(n, 2) array of [P(normal), P(anomaly)] ("linear" or "unify", as PyOD). With
        ``return_confidence``, ``(proba, predict_confidence(X))``."""
        if method not in ("linear", "unify"):
            raise ValueError(f"method must be 'linear' or 'unify', got {method!r}")
        m = self._fitted()
        arr = self._check_X(X)
        p = m.predict_proba(arr, method)
        proba = np.column_stack([1.0 - p, p])
        if return_confidence:
            return proba, self._confidence(m.score(arr))
        return proba

    def predict_confidence(self, X) -> np.ndarray:
        """How likely each row's 0/1 label would stay the same if the model were trained on
        another sample of the same data, in [0, 1] (ExCeeD, Perini et al. 2020, as PyOD):
        with ``n`` training rows, ``k`` of them scored at most the row's score, and
        ``p = (1 + k) / (2 + n)``, the confidence in "anomaly" is
        ``1 - BinomCDF(n - floor(n * contamination); n, p)``, and one minus that for rows
        labelled normal. Needs scipy."""
        return self._confidence(self.decision_function(X))

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        stats, _ = _scipy_stats()
        train = np.sort(self.decision_scores_)
        n = len(train)
        below = np.searchsorted(train, scores, side="right")  # training scores <= each score
        posterior = (1.0 + below) / (2.0 + n)
        contamination = self._fitted().calibration()[0]
        conf = 1.0 - stats.binom.cdf(n - int(n * contamination), n, posterior)
        normal = scores <= self.threshold_
        conf[normal] = 1.0 - conf[normal]
        return conf

    def predict_with_rejection(
        self,
        X,
        T: float = 32,
        return_stats: bool = False,
        delta: float = 0.1,
        c_fp: float = 1.0,
        c_fn: float = 1.0,
        c_r: float | None = None,
    ):
        """``predict`` that abstains (label ``-2``) where the label is not stable: where
        ``2 |P(anomaly stays anomaly) - 1/2| <= 1 - 2 exp(-T)`` (Perini et al. 2023, as PyOD).
        With ``return_stats``, also ``[expected rejection rate, its upper bound, upper bound
        of the cost]`` from ``compute_rejection_stats``. ``c_r`` (cost of a rejection)
        defaults to the contamination. Needs scipy."""
        m = self._fitted()
        arr = self._check_X(X)
        scores = m.score(arr)
        labels = m.predict(arr).astype(np.int64)
        conf = self._confidence(scores)
        p_anomaly = np.where(labels == 1, conf, 1.0 - conf)
        self.rejection_threshold_ = 1.0 - 2.0 * np.exp(-T)
        labels[2.0 * np.abs(p_anomaly - 0.5) <= self.rejection_threshold_] = -2
        if return_stats:
            return labels, list(self.compute_rejection_stats(T=T, delta=delta, c_fp=c_fp, c_fn=c_fn, c_r=c_r))
        return labels

    def compute_rejection_stats(
        self,
        T: float = 32,
        delta: float = 0.1,
        c_fp: float = 1.0,
        c_fn: float = 1.0,
        c_r: float | None = None,
        verbose: bool = False,
    ) -> tuple[float, float, float]:
        """(expected rejection rate, its upper bound holding with probability ``1 - delta``,
        upper bound of the cost with costs ``c_fp``, ``c_fn``, ``c_r``) of
        ``predict_with_rejection`` (Perini et al. 2023; PyOD's formulas). Needs scipy."""
        stats, optimize = _scipy_stats()
        gamma = self._fitted().calibration()[0]
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must be in (0, 1), got {delta!r}")
        c_r = gamma if c_r is None else float(c_r)
        if min(c_fp, c_fn, c_r) < 0:
            raise ValueError(f"costs must be non-negative, got c_fp={c_fp}, c_fn={c_fn}, c_r={c_r}")
        n = len(self.decision_scores_)
        k = int(n * gamma) - 1

        def quantile(c: float) -> float:
            return optimize.root_scalar(lambda p: stats.binom.cdf(k, n, p) - c, bracket=[0, 1], method="brentq").root

        q1, q2 = quantile(1 - np.exp(-T)), quantile(np.exp(-T))
        expected = q2 - q1
        right = min(1.0, (-gamma * (n + 2) + n + 1) / n + (T * (n + 2)) / np.sqrt(2 * n**3 * T))
        inner = 0.5 * n**5 * (2 * n * (-3 * gamma**2 - 2 * n * (1 - gamma) ** 2 + 4 * gamma - 3) + T * (n + 2) ** 2 - 8)
        left = max(0.0, (2 + n * (1 - gamma) * (n + 1)) / n**2 - np.sqrt(max(inner, 0.0)) / n**4)
        upper_rate = right - left + 2 * np.sqrt(np.log(2 / delta) / (2 * n))
        upper_cost = min(gamma, q1) * c_fp + min(1 - q2, gamma) * c_fn + (q2 - q1) * c_r
        if verbose:
            print(f"expected rejection rate {expected:.4f}, upper bound {upper_rate:.4f}, cost bound {upper_cost:.4f}")
        return float(expected), float(upper_rate), float(upper_cost)

    def predict_rank(self, X, normalized: bool = False) -> np.ndarray:
        """Each row's rank among the training scores (how many score below it), divided by
        the largest rank with ``normalized``, as PyOD's ``_predict_rank``."""
        scores = self.decision_function(X)
        ranks = np.searchsorted(np.sort(self.decision_scores_), scores)
        if normalized:
            top = ranks.max()
            return ranks / top if top > 0 else ranks.astype(np.float64)
        return ranks

    #: PyOD's (private) spelling of ``predict_rank``, kept for code written against PyOD.
    _predict_rank = predict_rank

    def fit_predict_score(self, X, y, scoring: str = "roc_auc_score") -> float:
        """Deprecated in PyOD (and here): fits on X and scores ``decision_scores_`` against
        the labels ``y`` by ``"roc_auc_score"`` or ``"prc_n_score"`` (precision at rank
        ``n`` = number of anomalies). Use ``fit`` and ``mercato.metrics`` instead."""
        warnings.warn(
            "fit_predict_score is deprecated (as in PyOD): fit, then score decision_scores_",
            DeprecationWarning,
            stacklevel=2,
        )
        if scoring not in ("roc_auc_score", "prc_n_score"):
            raise NotImplementedError(f"scoring must be 'roc_auc_score' or 'prc_n_score', got {scoring!r}")
        y = np.asarray(y).astype(bool)
        scores = self.fit(X).decision_scores_
        if scoring == "prc_n_score":
            top = np.argsort(-scores, kind="stable")[: int(y.sum())]
            return float(y[top].mean()) if len(top) else 0.0
        from mercato.metrics import roc_auc

        return float(roc_auc(y.astype(np.int64), scores))

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fits, then returns ``labels_``."""
        return self.fit(X).labels_

    def explain(self, x, top: int | None = None) -> tuple[list, np.ndarray]:
        """Per-feature shares of the anomaly of one row (summing to 1; the same meaning for
        every detector and for an ``Ensemble``), largest first.

        Returns (feature names, or indices when fitted on a numpy array; shares).
        """
        idx, values, _ = self._fitted().explain(_as_row(x))
        if top is not None:
            idx, values = idx[:top], values[:top]
        fitted = getattr(self, "feature_names_in_", None)
        names = [fitted[i] for i in idx] if fitted is not None else list(idx)
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

    @property
    def _mu(self) -> float:
        """Mean of the training scores (PyOD's name; used by ``predict_proba(method="unify")``)."""
        return self._fitted().calibration()[4]

    @property
    def _sigma(self) -> float:
        """Standard deviation of the training scores (PyOD's name)."""
        return self._fitted().calibration()[5]

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


class _NeighborsDetector(BaseDetector):
    """KNN and LOF: the distance ``metric`` and scipy.sparse input (densified)."""

    _accepts_sparse = True

    def _metric_json(self) -> Any:
        metric, params = self.metric, self.metric_params
        if metric in ("euclidean", "l2", "minkowski"):
            # minkowski: scikit-learn's and PyOD's default name, with p = 2 (Euclidean).
            if params:
                warnings.warn(
                    f"metric_params {sorted(params)} are ignored with metric={metric!r}", ParameterWarning, stacklevel=3
                )
            return "euclidean"
        if metric == "mahalanobis":
            params = params or {}
            if "V" in params:
                v = np.asarray(params["V"], dtype=np.float64)
            elif "VI" in params:
                v = np.linalg.inv(np.asarray(params["VI"], dtype=np.float64))
            else:
                raise ValueError(
                    "metric='mahalanobis' needs metric_params={'V': covariance matrix} (or 'VI': its inverse)"
                )
            if v.ndim != 2 or v.shape[0] != v.shape[1]:
                raise ValueError(f"metric_params['V'] must be a square matrix, got shape {v.shape}")
            return {"mahalanobis": {"v": v.ravel().tolist()}}
        raise ValueError(f"metric must be 'euclidean' (or 'minkowski', p = 2) or 'mahalanobis', got {metric!r}")

    @classmethod
    def _params_from_native(cls, model) -> dict:
        kwargs = super()._params_from_native(model)
        metric = json.loads(model.params_json()).get("metric", "euclidean")
        if isinstance(metric, dict):
            v = np.asarray(metric["mahalanobis"]["v"])
            d = int(round(len(v) ** 0.5))
            kwargs.update(metric="mahalanobis", metric_params={"V": v.reshape(d, d)})
        else:
            kwargs.update(metric="euclidean", metric_params=None)
        return kwargs


class KNN(_NeighborsDetector):
    """k-nearest-neighbour distance (as PyOD): ``method`` is 'largest', 'mean' or 'median'.

    ``metric``: 'euclidean' (default; 'minkowski' is accepted as PyOD's name for it, with
    p = 2) or 'mahalanobis' with ``metric_params={"V": covariance}`` (kept in the model file).
    scipy.sparse input is densified.
    """

    _kind = "knn"
    _kinds = ("fraud.knn",)

    def __init__(
        self,
        n_neighbors: int = 5,
        method: str = "largest",
        metric: str = "euclidean",
        metric_params: dict | None = None,
        contamination: float = 0.1,
        num_threads: int | None = None,
    ):
        self.contamination = contamination
        self.n_neighbors = n_neighbors
        self.method = method
        self.metric = metric
        self.metric_params = metric_params
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        if self.method not in ("largest", "mean", "median"):
            raise ValueError(f"method must be 'largest', 'mean' or 'median', got {self.method!r}")
        return {
            "n_neighbors": _check_int("n_neighbors", self.n_neighbors),
            "method": self.method,
            "contamination": _check_contamination(self.contamination),
            "num_threads": _check_threads(self.num_threads),
            "metric": self._metric_json(),
        }


class LOF(_NeighborsDetector):
    """Local outlier factor (as PyOD / scikit-learn; scores are ``-negative_outlier_factor_``).

    Parameters
    ----------
    n_neighbors : int (default=20)
        Neighbours per row (must be below the number of training rows).
    metric : str (default='euclidean')
        'euclidean' ('minkowski' is accepted as PyOD's name for it, p = 2) or 'mahalanobis'
        with ``metric_params={"V": covariance}``.
    metric_params : dict or None (default=None)
        ``{"V": covariance}`` for the Mahalanobis metric.
    contamination : float in (0, 0.5] (default=0.1)
        Expected fraction of anomalies; sets ``threshold_``.
    novelty : bool (default=True)
        True (PyOD's default): fit, then score new rows with ``decision_function`` and the
        other scoring methods. False (scikit-learn's default): outlier detection on the
        training rows only (``fit_predict``, ``labels_``, ``decision_scores_``); scoring new
        rows raises ``AttributeError``, as scikit-learn.
    num_threads : int or None (default=None)
        Threads for fit and batch scoring (None = all cores).

    scipy.sparse input is densified.
    """

    _kind = "lof"
    _kinds = ("fraud.lof",)

    def __init__(
        self,
        n_neighbors: int = 20,
        metric: str = "euclidean",
        metric_params: dict | None = None,
        contamination: float = 0.1,
        novelty: bool = True,
        num_threads: int | None = None,
    ):
        self.contamination = contamination
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.metric_params = metric_params
        self.novelty = novelty
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        k = _check_int("n_neighbors", self.n_neighbors)
        n = getattr(self, "_n_fit_rows", None)
        if n is not None and k >= n:
            # scikit-learn's (and so PyOD's) behaviour, warned: k = n - 1 neighbours.
            warnings.warn(
                f"n_neighbors ({k}) is not below the number of training rows ({n}): "
                f"n_neighbors will be set to (n_samples - 1) = {n - 1} for this fit",
                ParameterWarning,
                stacklevel=4,
            )
            k = n - 1
        return {
            "n_neighbors": k,
            "contamination": _check_contamination(self.contamination),
            "num_threads": _check_threads(self.num_threads),
            "metric": self._metric_json(),
        }

    def _require_novelty(self) -> None:
        if not self.novelty:
            raise AttributeError(
                "LOF(novelty=False) scores only its training rows (fit_predict, labels_, decision_scores_), "
                "as scikit-learn: set novelty=True to score new rows"
            )

    def _check_X(self, X) -> np.ndarray:
        self._require_novelty()
        return super()._check_X(X)

    def score_one(self, x) -> float:
        """Anomaly score of one row (``novelty=True`` only)."""
        self._require_novelty()
        return super().score_one(x)

    @property
    def n_neighbors_(self) -> int:
        """Neighbours used: ``n_neighbors``, or one less than the training rows when it was
        not below them (scikit-learn's and PyOD's fitted attribute)."""
        return int(json.loads(self._fitted().params_json())["n_neighbors"])


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

    def __sklearn_tags__(self):
        """scikit-learn's tags: a transformer on dense input; NaN allowed when ``missing``
        imputes it."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(),
            input_tags=InputTags(allow_nan=self.missing != "reject"),
            requires_fit=True,
        )

    def _adopt(self, native) -> None:
        self._model = native
        self.n_features_in_ = len(native.center())

    def _native(self):
        if isinstance(self.missing, str):
            return _native._Scaler(self._kind, self.missing)
        if isinstance(self.missing, bool) or not isinstance(self.missing, numbers.Real):
            raise ValueError(f"missing must be 'reject', 'mean', 'median' or a number, got {self.missing!r}")
        return _native._Scaler(self._kind, "constant", float(self.missing))

    def fit(self, X, y=None):
        """Learns per-column centre and scale. NaN is rejected unless ``missing`` imputes it."""
        arr = _validate(self, X, reset=True)
        model = self._native()
        model.fit(arr)
        self._adopt(model)
        names = _str_names(X)
        if names is not None:
            self.feature_names_in_ = names
        elif "feature_names_in_" in self.__dict__:
            del self.feature_names_in_
        self._fitted_on_array = names is None
        return self

    def _fitted(self):
        return _sklearn_fitted(self)

    def transform(self, X) -> np.ndarray:
        """Scales X (constant columns get scale 1)."""
        m = self._fitted()
        return m.transform(_validate(self, X, reset=False))

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
