//! `mercato.fraud`: bindings for `mercato::fraud`. One class wraps every detector
//! ([`mercato::fraud::AnyDetector`]); the Python classes in `mercato/fraud.py` give each its
//! PyOD-style constructor and pass the parameters here as JSON, validated by the Rust core.

use mercato::fraud::preprocess::{MissingPolicy, Scaler, ScalerKind, ScalerParams};
use mercato::fraud::{AnyDetector, AnyDetectorParams, Detector, EnsembleParams, ProbaMethod};
use mercato::params::Params;
use mercato::persist::Persist;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::convert::{model_from_pybytes, model_to_pybytes};
use crate::errors::PyResultExt;

/// A detector's parameters until `fit`, then the fitted detector.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // as AnyDetector: one per Python object, not in bulk
enum DetectorState {
    Params(AnyDetectorParams),
    Fitted(AnyDetector),
}

/// A fitted or unfitted anomaly detector (internal; use the classes of `mercato.fraud`).
#[pyclass(name = "_Detector", module = "mercato._mercato.fraud")]
#[derive(Clone)]
pub struct PyDetector {
    state: DetectorState,
}

fn row<'a>(x: &'a PyReadonlyArray1<'_, f64>) -> PyResult<&'a [f64]> {
    x.as_slice().map_err(|_| PyValueError::new_err("x must be a contiguous 1-D float64 array"))
}

impl PyDetector {
    fn fitted(&self) -> PyResult<&AnyDetector> {
        match &self.state {
            DetectorState::Fitted(d) => Ok(d),
            DetectorState::Params(_) => Err(mercato::Error::NotFitted("using a detector")).py(),
        }
    }

    fn fitted_mut(&mut self) -> PyResult<&mut AnyDetector> {
        match &mut self.state {
            DetectorState::Fitted(d) => Ok(d),
            DetectorState::Params(_) => Err(mercato::Error::NotFitted("using a detector")).py(),
        }
    }

    /// The parameters (a fitted detector's: those it was fitted with).
    fn params(&self) -> AnyDetectorParams {
        match &self.state {
            DetectorState::Params(p) => p.clone(),
            DetectorState::Fitted(d) => d.params(),
        }
    }
}

#[pymethods]
impl PyDetector {
    /// A detector of `kind` from its parameters as JSON.
    #[new]
    fn new(kind: &str, params_json: &str) -> PyResult<Self> {
        Ok(PyDetector { state: DetectorState::Params(AnyDetectorParams::from_json(kind, params_json).py()?) })
    }

    /// An ensemble of `members` (their parameters are fitted by `fit`).
    #[staticmethod]
    fn ensemble(members: Vec<PyRef<'_, PyDetector>>, params_json: &str) -> PyResult<Self> {
        let params = EnsembleParams::from_json(params_json).py()?.members(members.iter().map(|m| m.params()).collect());
        Ok(PyDetector { state: DetectorState::Params(params.into()) })
    }

    /// Fits on a C-contiguous float64 matrix (a fitted detector is refitted with its parameters).
    fn fit(&mut self, py: Python<'_>, x: PyReadonlyArray2<'_, f64>) -> PyResult<()> {
        let view = x.as_array();
        let params = self.params();
        let fitted = py.detach(|| params.fit(&view)).py()?;
        self.state = DetectorState::Fitted(fitted);
        Ok(())
    }

    /// Anomaly scores (higher = more anomalous).
    fn score<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let det = self.fitted()?;
        let view = x.as_array();
        let s = py.detach(|| det.score(&view)).py()?;
        Ok(PyArray1::from_owned_array(py, s))
    }

    /// Score of one row (no GIL release: it takes microseconds).
    fn score_one(&self, x: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
        self.fitted()?.score_one(row(&x)?).py()
    }

    /// 0/1 predictions against the threshold.
    fn predict<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let det = self.fitted()?;
        let view = x.as_array();
        let p = py.detach(|| det.predict(&view)).py()?;
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
        let det = self.fitted()?;
        let view = x.as_array();
        let p = py.detach(|| det.predict_proba(&view, method)).py()?;
        Ok(PyArray1::from_owned_array(py, p))
    }

    /// (feature indices, contributions, score), largest contribution first.
    fn explain(&self, x: PyReadonlyArray1<'_, f64>) -> PyResult<(Vec<usize>, Vec<f64>, f64)> {
        let e = self.fitted()?.explain(row(&x)?).py()?;
        Ok((e.contributions.iter().map(|c| c.0).collect(), e.contributions.iter().map(|c| c.1).collect(), e.score))
    }

    /// Training scores.
    fn decision_scores<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(PyArray1::from_slice(py, self.fitted()?.decision_scores().py()?))
    }

    /// Decision threshold.
    fn threshold(&self) -> PyResult<f64> {
        self.fitted()?.threshold().py()
    }

    /// Sets an explicit threshold.
    fn set_threshold(&mut self, t: f64) -> PyResult<()> {
        self.fitted_mut()?.set_threshold(t).py()
    }

    /// Calibration as (contamination, threshold, min, max, mean, std).
    fn calibration(&self) -> PyResult<(f64, f64, f64, f64, f64, f64)> {
        let c = self.fitted()?.calibration().py()?;
        Ok((c.contamination, c.threshold, c.min, c.max, c.mean, c.std))
    }

    /// Feature names kept in the model (None when fitted without names, or not fitted).
    fn feature_names(&self) -> Option<Vec<String>> {
        self.fitted().ok()?.feature_names().map(<[String]>::to_vec)
    }

    /// Records the feature names (one per fitted column) in the model.
    fn set_feature_names(&mut self, names: Option<Vec<String>>) -> PyResult<()> {
        self.fitted_mut()?.set_feature_names(names).py()
    }

    /// Features seen in fit (None before).
    fn n_features(&self) -> Option<usize> {
        self.fitted().ok()?.n_features()
    }

    /// Detector kind ("iforest", ...).
    fn kind(&self) -> &'static str {
        match &self.state {
            DetectorState::Params(p) => p.name(),
            DetectorState::Fitted(d) => d.name(),
        }
    }

    /// Parameters as JSON (an ensemble's without its members).
    fn params_json(&self) -> PyResult<String> {
        match &self.state {
            DetectorState::Fitted(d) => d.params_json().py(),
            DetectorState::Params(AnyDetectorParams::Ensemble(e)) => {
                Ok(EnsembleParams { members: Vec::new(), ..(**e).clone() }.to_json())
            }
            DetectorState::Params(p) => Ok(p.to_json()),
        }
    }

    /// Ensemble members (empty for other detectors).
    fn members(&self) -> Vec<PyDetector> {
        match &self.state {
            DetectorState::Fitted(AnyDetector::Ensemble(e)) => {
                e.members().iter().map(|m| PyDetector { state: DetectorState::Fitted(m.clone()) }).collect()
            }
            DetectorState::Params(AnyDetectorParams::Ensemble(e)) => {
                e.members.iter().map(|m| PyDetector { state: DetectorState::Params(m.clone()) }).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Model file bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.fitted()?.to_bytes().py()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Loads model file bytes (any detector kind); the checks and decoding run without the GIL.
    #[staticmethod]
    fn _from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let bytes = data.to_vec();
        Ok(PyDetector { state: DetectorState::Fitted(py.detach(|| AnyDetector::from_bytes(bytes)).py()?) })
    }

    /// Threads used by scoring (`None`: all cores); scores do not depend on it.
    #[pyo3(signature = (n=None))]
    fn set_num_threads(&mut self, n: Option<usize>) -> PyResult<()> {
        match &mut self.state {
            DetectorState::Fitted(d) => d.set_num_threads(n).py(),
            DetectorState::Params(p) => p.set_num_threads(n).py(),
        }
    }

    /// Saves the model file.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let det = self.fitted()?;
        py.detach(|| det.save(path)).py()
    }

    /// Loads a model file.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        Ok(PyDetector { state: DetectorState::Fitted(py.detach(|| AnyDetector::load(path)).py()?) })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let bytes = slf.borrow().to_bytes(slf.py())?;
        Ok((slf.get_type().getattr("_from_bytes")?, (bytes,)))
    }
}

/// A scaler's parameters until `fit`, then the fitted scaler.
#[derive(Clone)]
enum ScalerState {
    Params(ScalerParams),
    Fitted(Scaler),
}

/// Column scaler (internal; use `mercato.fraud.StandardScaler` / `RobustScaler`).
#[pyclass(name = "_Scaler", module = "mercato._mercato.fraud")]
#[derive(Clone)]
pub struct PyScaler {
    state: ScalerState,
}

impl PyScaler {
    fn params(&self) -> ScalerParams {
        match &self.state {
            ScalerState::Params(p) => p.clone(),
            ScalerState::Fitted(s) => s.params(),
        }
    }

    fn fitted(&self) -> PyResult<&Scaler> {
        match &self.state {
            ScalerState::Fitted(s) => Ok(s),
            ScalerState::Params(_) => Err(mercato::Error::NotFitted("using a scaler")).py(),
        }
    }
}

#[pymethods]
impl PyScaler {
    /// `kind`: "standard" or "robust"; `missing`: "reject", "mean", "median" or a number.
    #[new]
    #[pyo3(signature = (kind, missing="reject", fill=None))]
    fn new(kind: &str, missing: &str, fill: Option<f64>) -> PyResult<Self> {
        let base = match kind {
            "standard" => ScalerParams::standard(),
            "robust" => ScalerParams::robust(),
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
        Ok(PyScaler { state: ScalerState::Params(base.missing(policy)) })
    }

    /// Learns centres and scales (a fitted scaler is refitted with its parameters).
    fn fit(&mut self, py: Python<'_>, x: PyReadonlyArray2<'_, f64>) -> PyResult<()> {
        let view = x.as_array();
        let params = self.params();
        self.state = ScalerState::Fitted(py.detach(|| params.fit(&view)).py()?);
        Ok(())
    }

    /// Scales a matrix.
    fn transform<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let scaler = self.fitted()?;
        let view = x.as_array();
        let out = py.detach(|| scaler.transform(&view)).py()?;
        Ok(PyArray2::from_owned_array(py, out))
    }

    /// "standard" or "robust".
    fn kind(&self) -> &'static str {
        match self.params().kind {
            ScalerKind::Standard => "standard",
            ScalerKind::Robust => "robust",
        }
    }

    /// The NaN policy as the Python constructor takes it: a name or the fill value.
    fn missing(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self.params().missing {
            MissingPolicy::Reject => "reject".into_pyobject(py)?.into_any().unbind(),
            MissingPolicy::Mean => "mean".into_pyobject(py)?.into_any().unbind(),
            MissingPolicy::Median => "median".into_pyobject(py)?.into_any().unbind(),
            MissingPolicy::Constant(c) => c.into_pyobject(py)?.into_any().unbind(),
        })
    }

    /// Per-column centre (empty before fit).
    fn center(&self) -> Vec<f64> {
        self.fitted().map(|s| s.center().to_vec()).unwrap_or_default()
    }

    /// Per-column scale (empty before fit).
    fn scale(&self) -> Vec<f64> {
        self.fitted().map(|s| s.scale().to_vec()).unwrap_or_default()
    }

    /// Model file bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        model_to_pybytes(py, self.fitted()?)
    }

    /// Loads model bytes.
    #[staticmethod]
    fn _from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyScaler { state: ScalerState::Fitted(model_from_pybytes(py, data)?) })
    }

    /// Saves the model file.
    fn save(&self, path: std::path::PathBuf) -> PyResult<()> {
        self.fitted()?.save(path).py()
    }

    /// Loads a model file.
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Self> {
        Ok(PyScaler { state: ScalerState::Fitted(Scaler::load(path).py()?) })
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
