//! Bindings for `mercato::recommend::TruncatedSvd`: a native `_TruncatedSVD` that holds a
//! fitted model; `mercato.recommend.TruncatedSVD` (Python) adds the scikit-learn surface.

use mercato::data::Interactions;
use mercato::params::Params;
use mercato::persist::Persist;
use mercato::recommend::{Centering, Filter, IdRecommender, RatingPredictor, SvdAlgorithm, SvdParams, TruncatedSvd};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use sprs::CsMat;

use crate::convert::{external_id, external_ids, idmap_to_py, ids_to_py, model_from_pybytes, model_to_pybytes};
use crate::errors::PyResultExt;
use crate::recommend_explicit::{interactions, read_triples};

/// (values, fallback flags) of `predict`.
type Predictions<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<bool>>);

/// A fitted truncated SVD (use `mercato.recommend.TruncatedSVD`).
#[pyclass(name = "_TruncatedSVD", module = "mercato._mercato.recommend", frozen)]
pub struct PyTruncatedSvd {
    model: TruncatedSvd,
}

/// `SvdParams` from JSON (validated by the core; errors name the field).
fn params(json: &str) -> PyResult<SvdParams> {
    SvdParams::from_json(json).py()
}

/// An index array (int32 or int64, as scipy makes them) as `usize`.
fn usize_vec(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<usize>> {
    let negative = |v: i64| PyValueError::new_err(format!("{what} holds a negative value {v}"));
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i32>>() {
        return a.as_array().iter().map(|&v| usize::try_from(v).map_err(|_| negative(v.into()))).collect();
    }
    let a = obj
        .extract::<PyReadonlyArray1<'_, i64>>()
        .map_err(|_| PyValueError::new_err(format!("{what} must be a 1-D int32 or int64 array")))?;
    a.as_array().iter().map(|&v| usize::try_from(v).map_err(|_| negative(v))).collect()
}

/// Fits on a CSR matrix given as its arrays (rows = users, columns = items, ids = indices).
#[pyfunction]
fn _svd_fit_csr(
    py: Python<'_>,
    indptr: &Bound<'_, PyAny>,
    indices: &Bound<'_, PyAny>,
    data: PyReadonlyArray1<'_, f32>,
    shape: (usize, usize),
    params_json: &str,
) -> PyResult<PyTruncatedSvd> {
    let p = params(params_json)?;
    let indptr = usize_vec(indptr, "indptr")?;
    let indices = usize_vec(indices, "indices")?;
    let data = data.as_array().to_vec();
    let matrix = CsMat::try_new(shape, indptr, indices, data)
        .map_err(|(_, _, _, e)| PyValueError::new_err(format!("invalid CSR matrix: {e}")))?;
    let model = py.detach(|| p.fit(&Interactions::from_csr(matrix)?)).py()?;
    Ok(PyTruncatedSvd { model })
}

/// Fits on (user, item, rating) triples; a repeated (user, item) pair is an error.
#[pyfunction]
fn _svd_fit_triples(
    py: Python<'_>,
    users: &Bound<'_, PyAny>,
    items: &Bound<'_, PyAny>,
    ratings: &Bound<'_, PyAny>,
    params_json: &str,
) -> PyResult<PyTruncatedSvd> {
    let p = params(params_json)?;
    let (users, items, ratings) = read_triples(users, items, ratings)?;
    let model = py.detach(|| p.fit(&interactions(users, items, &ratings)?)).py()?;
    Ok(PyTruncatedSvd { model })
}

#[pymethods]
impl PyTruncatedSvd {
    /// U: users × k, float64.
    #[getter(U)]
    fn u<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.model.u().clone().into_pyarray(py)
    }

    /// Singular values, decreasing, float64.
    #[getter]
    fn s<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.model.s().clone().into_pyarray(py)
    }

    /// Vᵀ: k × items, float64.
    #[getter(Vt)]
    fn vt<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        self.model.vt().clone().into_pyarray(py)
    }

    /// Relative reconstruction error of the (centred) training matrix.
    #[getter]
    fn reconstruction_error(&self) -> f64 {
        self.model.reconstruction_error()
    }

    /// Power iterations (randomized) or restarts (accurate).
    #[getter]
    fn iterations(&self) -> usize {
        self.model.info().iterations
    }

    /// Sparse products performed.
    #[getter]
    fn products(&self) -> usize {
        self.model.info().products
    }

    /// False when the accurate solver stopped at max_restarts.
    #[getter]
    fn converged(&self) -> bool {
        self.model.info().converged
    }

    /// Mean of the training values.
    #[getter]
    fn global_mean(&self) -> f64 {
        self.model.global_mean()
    }

    /// (min, max) of the training values: the clipping range.
    #[getter]
    fn rating_range(&self) -> (f64, f64) {
        self.model.rating_range()
    }

    /// User ids (rows of U).
    #[getter]
    fn user_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        idmap_to_py(py, self.model.users())
    }

    /// Item ids (columns of Vt).
    #[getter]
    fn item_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        idmap_to_py(py, self.model.items())
    }

    /// The fit parameters as a dict.
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = self.model.params();
        let d = PyDict::new(py);
        d.set_item("k", p.k)?;
        d.set_item(
            "algorithm",
            match p.algorithm {
                SvdAlgorithm::Randomized => "randomized",
                SvdAlgorithm::Accurate => "accurate",
            },
        )?;
        d.set_item("n_iter", p.n_iter)?;
        d.set_item("n_oversamples", p.n_oversamples)?;
        d.set_item(
            "center",
            match p.center {
                Centering::None => None,
                Centering::Global => Some("global"),
                Centering::User => Some("user"),
            },
        )?;
        d.set_item("tol", p.tol)?;
        d.set_item("max_restarts", p.max_restarts)?;
        d.set_item("ncv", p.ncv)?;
        d.set_item("seed", p.seed)?;
        d.set_item("num_threads", p.num_threads)?;
        Ok(d)
    }

    /// Predicted ratings for (user, item) pairs: (float64 values, bool fallback flags).
    fn predict<'py>(
        &self,
        py: Python<'py>,
        users: &Bound<'py, PyAny>,
        items: &Bound<'py, PyAny>,
    ) -> PyResult<Predictions<'py>> {
        let users = external_ids(users)?;
        let items = external_ids(items)?;
        if users.len() != items.len() {
            return Err(PyValueError::new_err(format!(
                "users and items must have the same length, got {} and {}",
                users.len(),
                items.len()
            )));
        }
        let (values, flags): (Vec<f64>, Vec<bool>) = py.detach(|| {
            users
                .iter()
                .zip(&items)
                .map(|(u, i)| {
                    let p = self.model.predict(u, i);
                    (f64::from(p.value), p.is_fallback())
                })
                .unzip()
        });
        Ok((PyArray1::from_vec(py, values), PyArray1::from_vec(py, flags)))
    }

    /// Top-N items for one user: (item ids, float32 scores), best first.
    #[pyo3(signature = (user, n, exclude_seen=true, allow=None, deny=None))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        n: usize,
        exclude_seen: bool,
        allow: Option<&Bound<'py, PyAny>>,
        deny: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<f32>>)> {
        let user = external_id(user)?;
        let allow = allow.map(external_ids).transpose()?;
        let deny = deny.map(external_ids).transpose()?.unwrap_or_default();
        let filter = Filter::from_ids(self.model.items(), exclude_seen, allow.as_deref(), &deny).py()?;
        // by id: an unknown user is an error here, as for the implicit models
        let ranked = py.detach(|| self.model.recommend_ids(&user, n, &filter)).py()?.items;
        let (ids, scores): (Vec<_>, Vec<f32>) = ranked.into_iter().unzip();
        Ok((ids_to_py(py, &ids)?, PyArray1::from_vec(py, scores)))
    }

    /// The model file as bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        model_to_pybytes(py, &self.model)
    }

    /// Rebuilds from `to_bytes` output (validated).
    #[staticmethod]
    fn _from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyTruncatedSvd { model: model_from_pybytes(py, data)? })
    }

    /// Saves to a mercato model file.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| self.model.save(&path)).py()
    }

    /// Loads a model file.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let model = py.detach(|| TruncatedSvd::load(&path)).py()?;
        Ok(PyTruncatedSvd { model })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let ctor = slf.get_type().getattr("_from_bytes")?;
        let bytes = model_to_pybytes(py, &slf.get().model)?;
        Ok((ctor, PyTuple::new(py, [bytes])?))
    }
}

/// Registers this module's classes and functions on `m`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTruncatedSvd>()?;
    m.add_function(wrap_pyfunction!(_svd_fit_csr, m)?)?;
    m.add_function(wrap_pyfunction!(_svd_fit_triples, m)?)?;
    Ok(())
}
