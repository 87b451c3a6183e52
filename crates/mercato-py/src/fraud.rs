//! `mercato.fraud`: bindings for `mercato::fraud`. One class wraps every detector
//! ([`mercato::fraud::AnyDetector`]); the Python classes in `mercato/fraud.py` give each its
//! PyOD-style constructor and pass the parameters here as JSON, validated by the Rust core.

use mercato::fraud::preprocess::{MissingPolicy, Scaler, ScalerKind};
use mercato::fraud::{AnyDetector, Detector, Ensemble, EnsembleParams, ProbaMethod};
use mercato::params::Params;
use mercato::persist::Persist;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::convert::{model_from_pybytes, model_to_pybytes};
use crate::errors::PyResultExt;

/// A fitted or unfitted anomaly detector (internal; use the classes of `mercato.fraud`).
#[pyclass(name = "_Detector", module = "mercato._mercato.fraud")]
#[derive(Clone)]
pub struct PyDetector {
    inner: AnyDetector,
}

fn row<'a>(x: &'a PyReadonlyArray1<'_, f64>) -> PyResult<&'a [f64]> {
    x.as_slice().map_err(|_| PyValueError::new_err("x must be a contiguous 1-D float64 array"))
}

#[pymethods]
impl PyDetector {
    /// A detector of `kind` from its parameters as JSON.
    #[new]
    fn new(kind: &str, params_json: &str) -> PyResult<Self> {
        Ok(PyDetector { inner: AnyDetector::from_params(kind, params_json).py()? })
    }

    /// An ensemble of `members` (their copies are fitted by `fit`).
    #[staticmethod]
    fn ensemble(members: Vec<PyRef<'_, PyDetector>>, params_json: &str) -> PyResult<Self> {
        let params = EnsembleParams::from_json(params_json).py()?;
        let mut e = Ensemble::new(members.iter().map(|m| m.inner.clone()).collect());
        e.params = params;
        Ok(PyDetector { inner: e.into() })
    }

    /// Fits on a C-contiguous float64 matrix.
    fn fit(&mut self, py: Python<'_>, x: PyReadonlyArray2<'_, f64>) -> PyResult<()> {
        let view = x.as_array();
        let inner = &mut self.inner;
        py.detach(|| inner.fit(&view)).py()
    }

    /// Anomaly scores (higher = more anomalous).
    fn score<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let view = x.as_array();
        let s = py.detach(|| self.inner.score(&view)).py()?;
        Ok(PyArray1::from_owned_array(py, s))
    }

    /// Score of one row (no GIL release: it takes microseconds).
    fn score_one(&self, x: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
        self.inner.score_one(row(&x)?).py()
    }

    /// 0/1 predictions against the threshold.
    fn predict<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let view = x.as_array();
        let p = py.detach(|| self.inner.predict(&view)).py()?;
        Ok(PyArray1::from_owned_array(py, p))
    }

    /// Risk in [0, 1] per row ("linear" or "unify").
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        method: &str,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let method: ProbaMethod = method.parse().py()?;
        let view = x.as_array();
        let p = py.detach(|| self.inner.predict_proba(&view, method)).py()?;
        Ok(PyArray1::from_owned_array(py, p))
    }

    /// (feature indices, contributions, score), largest contribution first.
    fn explain(&self, x: PyReadonlyArray1<'_, f64>) -> PyResult<(Vec<usize>, Vec<f64>, f64)> {
        let e = self.inner.explain(row(&x)?).py()?;
        Ok((e.contributions.iter().map(|c| c.0).collect(), e.contributions.iter().map(|c| c.1).collect(), e.score))
    }

    /// Training scores.
    fn decision_scores<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(PyArray1::from_slice(py, self.inner.decision_scores().py()?))
    }

    /// Decision threshold.
    fn threshold(&self) -> PyResult<f64> {
        self.inner.threshold().py()
    }

    /// Sets an explicit threshold.
    fn set_threshold(&mut self, t: f64) -> PyResult<()> {
        self.inner.set_threshold(t).py()
    }

    /// Calibration as (contamination, threshold, min, max, mean, std).
    fn calibration(&self) -> PyResult<(f64, f64, f64, f64, f64, f64)> {
        let c = self.inner.calibration().py()?;
        Ok((c.contamination, c.threshold, c.min, c.max, c.mean, c.std))
    }

    /// Feature names kept in the model (None when fitted without names).
    fn feature_names(&self) -> Option<Vec<String>> {
        self.inner.feature_names().map(<[String]>::to_vec)
    }

    /// Records the feature names (one per fitted column) in the model.
    fn set_feature_names(&mut self, names: Option<Vec<String>>) -> PyResult<()> {
        self.inner.set_feature_names(names).py()
    }

    /// Features seen in fit.
    fn n_features(&self) -> Option<usize> {
        self.inner.n_features()
    }

    /// Detector kind ("iforest", ...).
    fn kind(&self) -> &'static str {
        self.inner.name()
    }

    /// Parameters as JSON.
    fn params_json(&self) -> PyResult<String> {
        self.inner.params_json().py()
    }

    /// Ensemble members (empty for other detectors).
    fn members(&self) -> Vec<PyDetector> {
        match &self.inner {
            AnyDetector::Ensemble(e) => e.members().iter().map(|m| PyDetector { inner: m.clone() }).collect(),
            _ => Vec::new(),
        }
    }

    /// Model file bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.inner.to_bytes().py()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Loads model file bytes (any detector kind); the checks and decoding run without the GIL.
    #[staticmethod]
    fn _from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let bytes = data.to_vec();
        Ok(PyDetector { inner: py.detach(|| AnyDetector::from_bytes(bytes)).py()? })
    }

    /// Threads used by scoring (`None`: all cores); scores do not depend on it.
    #[pyo3(signature = (n=None))]
    fn set_num_threads(&mut self, n: Option<usize>) -> PyResult<()> {
        self.inner.set_num_threads(n).py()
    }

    /// Saves the model file.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(path)).py()
    }

    /// Loads a model file.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        Ok(PyDetector { inner: py.detach(|| AnyDetector::load(path)).py()? })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let bytes = slf.borrow().to_bytes(slf.py())?;
        Ok((slf.get_type().getattr("_from_bytes")?, (bytes,)))
    }
}

/// Column scaler (internal; use `mercato.fraud.StandardScaler` / `RobustScaler`).
#[pyclass(name = "_Scaler", module = "mercato._mercato.fraud")]
#[derive(Clone)]
pub struct PyScaler {
    inner: Scaler,
}

#[pymethods]
impl PyScaler {
    /// `kind`: "standard" or "robust"; `missing`: "reject", "mean", "median" or a number.
    #[new]
    #[pyo3(signature = (kind, missing="reject", fill=None))]
    fn new(kind: &str, missing: &str, fill: Option<f64>) -> PyResult<Self> {
        let base = match kind {
            "standard" => Scaler::standard(),
            "robust" => Scaler::robust(),
            other => return Err(PyValueError::new_err(format!("unknown scaler {other:?}"))),
        };
        let policy = match (missing, fill) {
            ("reject", None) => MissingPolicy::Reject,
            ("mean", None) => MissingPolicy::Mean,
            ("median", None) => MissingPolicy::Median,
            ("constant", Some(v)) => MissingPolicy::Constant(v),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "missing must be 'reject', 'mean', 'median' or a number, got {missing:?}"
                )))
            }
        };
        Ok(PyScaler { inner: base.missing(policy) })
    }

    /// Learns centres and scales.
    fn fit(&mut self, py: Python<'_>, x: PyReadonlyArray2<'_, f64>) -> PyResult<()> {
        let view = x.as_array();
        let s = self.inner.clone();
        self.inner = py.detach(|| s.fit(&view)).py()?;
        Ok(())
    }

    /// Scales a matrix.
    fn transform<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let view = x.as_array();
        let out = py.detach(|| self.inner.transform(&view)).py()?;
        Ok(PyArray2::from_owned_array(py, out))
    }

    /// Per-column centre.
    fn kind(&self) -> &'static str {
        match self.inner.kind {
            ScalerKind::Standard => "standard",
            ScalerKind::Robust => "robust",
        }
    }

    /// The NaN policy as the Python constructor takes it: a name or the fill value.
    fn missing(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self.inner.missing {
            MissingPolicy::Reject => "reject".into_pyobject(py)?.into_any().unbind(),
            MissingPolicy::Mean => "mean".into_pyobject(py)?.into_any().unbind(),
            MissingPolicy::Median => "median".into_pyobject(py)?.into_any().unbind(),
            MissingPolicy::Constant(c) => c.into_pyobject(py)?.into_any().unbind(),
        })
    }

    fn center(&self) -> Vec<f64> {
        self.inner.center().to_vec()
    }

    /// Per-column scale.
    fn scale(&self) -> Vec<f64> {
        self.inner.scale().to_vec()
    }

    /// Model file bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        model_to_pybytes(py, &self.inner)
    }

    /// Loads model bytes.
    #[staticmethod]
    fn _from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyScaler { inner: model_from_pybytes(py, data)? })
    }

    /// Saves the model file.
    fn save(&self, path: std::path::PathBuf) -> PyResult<()> {
        self.inner.save(path).py()
    }

    /// Loads a model file.
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        Ok(PyScaler { inner: Scaler::load(path).py()? })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let bytes = slf.borrow().to_bytes(slf.py())?;
        Ok((slf.get_type().getattr("_from_bytes")?, (bytes,)))
    }
}

/// Registers this module's classes and functions on `m`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDetector>()?;
    m.add_class::<PyScaler>()?;
    Ok(())
}
