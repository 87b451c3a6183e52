//! Bindings for `mercato::recommend::explicit`: one fitted-model class wrapping any of the
//! four models; hyper-parameters and pandas glue live in `mercato/recommend/_explicit.py`.

use std::path::PathBuf;

use mercato::data::{DuplicatePolicy, ExternalId, IdMap, Interactions};
use mercato::persist::{ModelReader, Persist};
use mercato::recommend::{
    Baseline, BaselineParams, Filter, FunkSVD, FunkSVDParams, KNNParams, Prediction, PredictionStatus, RatingPredictor,
    SVDpp, SVDppParams, KNN,
};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{external_id, external_ids, f64_vec, ids_to_py};
use crate::errors::PyResultExt;

#[derive(Clone)]
enum Model {
    Baseline(Baseline),
    Funk(FunkSVD),
    Svdpp(SVDpp),
    Knn(KNN),
}

impl Model {
    fn predictor(&self) -> &dyn RatingPredictor {
        match self {
            Model::Baseline(m) => m,
            Model::Funk(m) => m,
            Model::Svdpp(m) => m,
            Model::Knn(m) => m,
        }
    }

    fn to_bytes(&self) -> mercato::Result<Vec<u8>> {
        match self {
            Model::Baseline(m) => m.to_bytes(),
            Model::Funk(m) => m.to_bytes(),
            Model::Svdpp(m) => m.to_bytes(),
            Model::Knn(m) => m.to_bytes(),
        }
    }

    fn from_bytes(bytes: Vec<u8>) -> mercato::Result<Self> {
        // Peek at the header's kind: the reader names it when it differs from the one asked
        // for (every model's own reader validates the file again in full).
        let err = match ModelReader::from_bytes(bytes.clone(), "") {
            Ok(_) => mercato::Error::format("not an explicit-rating model file"),
            Err(e) => e,
        };
        let msg = err.to_string();
        let kind = [Baseline::KIND, FunkSVD::KIND, SVDpp::KIND, KNN::KIND]
            .into_iter()
            .find(|k| msg.contains(&format!("holds a {k:?} model")))
            .ok_or(err)?;
        Ok(match kind {
            k if k == Baseline::KIND => Model::Baseline(Baseline::from_bytes(bytes)?),
            k if k == FunkSVD::KIND => Model::Funk(FunkSVD::from_bytes(bytes)?),
            k if k == SVDpp::KIND => Model::Svdpp(SVDpp::from_bytes(bytes)?),
            _ => Model::Knn(KNN::from_bytes(bytes)?),
        })
    }
}

fn status_code(p: &Prediction) -> u8 {
    match p.status {
        PredictionStatus::Model => 0,
        PredictionStatus::UnknownUser => 1,
        PredictionStatus::UnknownItem => 2,
        PredictionStatus::UnknownUserAndItem => 3,
        PredictionStatus::TooFewNeighbours => 4,
    }
}

/// A fitted explicit-rating model (Baseline, FunkSVD, SVDpp or KNN). Made by `_fit_explicit`
/// or loaded; the public Python classes wrap it.
#[pyclass(name = "_ExplicitModel", module = "mercato._mercato.recommend", frozen)]
struct PyExplicitModel {
    model: Model,
}

macro_rules! parse {
    ($t:ty, $json:expr) => {
        serde_json::from_str::<$t>($json)
            .map_err(|e| PyValueError::new_err(format!("invalid hyper-parameters: {e}")))?
    };
}

/// Fits `kind` ("baseline", "funk_svd", "svdpp", "knn") on (user, item, rating) columns with
/// hyper-parameters given as JSON. Duplicate (user, item) pairs are an error.
#[pyfunction]
fn _fit_explicit(
    py: Python<'_>,
    kind: &str,
    users: &Bound<'_, PyAny>,
    items: &Bound<'_, PyAny>,
    ratings: &Bound<'_, PyAny>,
    params_json: &str,
) -> PyResult<PyExplicitModel> {
    let (users, items, ratings) = (external_ids(users)?, external_ids(items)?, f64_vec(ratings, "ratings")?);
    if users.len() != items.len() || users.len() != ratings.len() {
        return Err(PyValueError::new_err(format!(
            "users, items and ratings must have the same length, got {}, {} and {}",
            users.len(),
            items.len(),
            ratings.len()
        )));
    }
    if users.is_empty() {
        return Err(PyValueError::new_err("cannot fit on empty input"));
    }
    if let Some(pos) = ratings.iter().position(|r| !r.is_finite() || r.abs() > f32::MAX as f64) {
        return Err(PyValueError::new_err(format!("ratings must be finite, found {} at position {pos}", ratings[pos])));
    }
    enum P {
        B(BaselineParams),
        F(FunkSVDParams),
        S(SVDppParams),
        K(KNNParams),
    }
    let params = match kind {
        "baseline" => P::B(parse!(BaselineParams, params_json)),
        "funk_svd" => P::F(parse!(FunkSVDParams, params_json)),
        "svdpp" => P::S(parse!(SVDppParams, params_json)),
        "knn" => P::K(parse!(KNNParams, params_json)),
        other => return Err(PyValueError::new_err(format!("unknown model kind {other:?}"))),
    };
    let model = py
        .detach(move || -> mercato::Result<Model> {
            let (mut umap, mut imap) = (IdMap::new(), IdMap::new());
            let entries: Vec<(u32, u32, f32)> = users
                .into_iter()
                .zip(items)
                .zip(&ratings)
                .map(|((u, i), &r)| (umap.insert(u) as u32, imap.insert(i) as u32, r as f32))
                .collect();
            let data = Interactions::from_indexed(umap, imap, entries, DuplicatePolicy::Error)?;
            Ok(match params {
                P::B(p) => Model::Baseline(Baseline::fit(&data, &p)?),
                P::F(p) => Model::Funk(FunkSVD::fit(&data, &p)?),
                P::S(p) => Model::Svdpp(SVDpp::fit(&data, &p)?),
                P::K(p) => Model::Knn(KNN::fit(&data, &p)?),
            })
        })
        .py()?;
    Ok(PyExplicitModel { model })
}

/// Predicted ratings and their status codes.
type ValuesAndStatus<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<u8>>);

#[pymethods]
impl PyExplicitModel {
    /// Predicted ratings (float64, clipped to the rating scale) for paired users and items.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        users: &Bound<'py, PyAny>,
        items: &Bound<'py, PyAny>,
    ) -> PyResult<ValuesAndStatus<'py>> {
        let (users, items) = (external_ids(users)?, external_ids(items)?);
        let preds = py.detach(|| self.model.predictor().predict_batch(&users, &items)).py()?;
        let values: Vec<f64> = preds.iter().map(|p| p.value as f64).collect();
        let codes: Vec<u8> = preds.iter().map(status_code).collect();
        Ok((PyArray1::from_vec(py, values), PyArray1::from_vec(py, codes)))
    }

    /// Top-`n` items for `user`: (item ids, predicted ratings).
    #[pyo3(signature = (user, n=10, exclude_rated=true, items=None, deny=None))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        n: usize,
        exclude_rated: bool,
        items: Option<&Bound<'py, PyAny>>,
        deny: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<f64>>)> {
        let user = external_id(user)?;
        let allow = items.map(external_ids).transpose()?;
        let deny = deny.map(external_ids).transpose()?.unwrap_or_default();
        let pred = self.model.predictor();
        let filter = Filter::from_ids(pred.ratings().items(), false, allow.as_deref(), &deny).py()?;
        let ranked = py.detach(|| pred.recommend(&user, n, exclude_rated, &filter)).py()?;
        let ids: Vec<ExternalId> = ranked.iter().map(|(id, _)| id.clone()).collect();
        let scores: Vec<f64> = ranked.iter().map(|(_, s)| *s as f64).collect();
        Ok((ids_to_py(py, &ids)?, PyArray1::from_vec(py, scores)))
    }

    /// Learned arrays and metadata as a dict (factors are 2-D float32 arrays).
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let r = self.model.predictor().ratings();
        d.set_item("user_ids", ids_to_py(py, r.users().ids())?)?;
        d.set_item("item_ids", ids_to_py(py, r.items().ids())?)?;
        d.set_item("rating_scale", r.scale())?;
        let mat = |v: Vec<f32>, rows: usize| -> PyResult<Bound<'py, PyAny>> {
            let cols = v.len().checked_div(rows).unwrap_or(0);
            Ok(PyArray1::from_vec(py, v).reshape([rows, cols])?.into_any())
        };
        let (nu, ni) = (r.n_users(), r.n_items());
        match &self.model {
            Model::Baseline(m) => {
                d.set_item("global_mean", m.biases().mu)?;
                d.set_item("user_bias", PyArray1::from_slice(py, &m.biases().user))?;
                d.set_item("item_bias", PyArray1::from_slice(py, &m.biases().item))?;
            }
            Model::Funk(m) => {
                d.set_item("global_mean", m.global_mean())?;
                d.set_item("user_bias", PyArray1::from_slice(py, m.user_biases()))?;
                d.set_item("item_bias", PyArray1::from_slice(py, m.item_biases()))?;
                d.set_item("user_factors", mat(m.user_factors(), nu)?)?;
                d.set_item("item_factors", mat(m.item_factors(), ni)?)?;
                d.set_item("train_rmse", m.history().train_rmse.clone())?;
                d.set_item("validation_rmse", m.history().validation_rmse.clone())?;
                d.set_item("best_epoch", m.history().best_epoch)?;
            }
            Model::Svdpp(m) => {
                d.set_item("user_factors", mat(m.user_factors(), nu)?)?;
                d.set_item("item_factors", mat(m.item_factors(), ni)?)?;
                d.set_item("implicit_factors", mat(m.implicit_factors(), ni)?)?;
                d.set_item("train_rmse", m.history().train_rmse.clone())?;
            }
            Model::Knn(m) => {
                d.set_item("global_mean", m.biases().mu)?;
                d.set_item("user_bias", PyArray1::from_slice(py, &m.biases().user))?;
                d.set_item("item_bias", PyArray1::from_slice(py, &m.biases().item))?;
                d.set_item("n_neighbours", m.n_neighbours())?;
            }
        }
        Ok(d)
    }

    /// The model file as bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.model.to_bytes()).py()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Rebuilds a model from `to_bytes` output (validated; a bad file raises ModelFormatError).
    #[staticmethod]
    fn _from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let bytes = data.to_vec();
        Ok(PyExplicitModel { model: py.detach(|| Model::from_bytes(bytes)).py()? })
    }

    /// Saves to `path`.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| match &self.model {
            Model::Baseline(m) => m.save(&path),
            Model::Funk(m) => m.save(&path),
            Model::Svdpp(m) => m.save(&path),
            Model::Knn(m) => m.save(&path),
        })
        .py()
    }

    /// Loads from `path`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let bytes = std::fs::read(&path).map_err(|e| mercato::Error::io(&path, e)).py()?;
        Self::_from_bytes(py, &bytes)
    }

    /// The model kind in the file header, e.g. "recommend.funk_svd".
    #[getter]
    fn kind(&self) -> &'static str {
        match &self.model {
            Model::Baseline(_) => Baseline::KIND,
            Model::Funk(_) => FunkSVD::KIND,
            Model::Svdpp(_) => SVDpp::KIND,
            Model::Knn(_) => KNN::KIND,
        }
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let bytes = slf.get().to_bytes(py)?;
        Ok((slf.get_type().getattr("_from_bytes")?, (bytes,)))
    }
}

/// Registers this module's classes and functions on `m`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyExplicitModel>()?;
    m.add_function(wrap_pyfunction!(_fit_explicit, m)?)?;
    Ok(())
}
