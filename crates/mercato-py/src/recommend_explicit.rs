//! Bindings for `mercato::recommend::explicit`: one fitted-model class wrapping any of the
//! four models; hyper-parameters and pandas glue live in `mercato/recommend/_explicit.py`.

use std::path::PathBuf;

use mercato::data::{ExternalId, IdMap, Interactions};
use mercato::persist::Persist;
use mercato::recommend::{
    Baseline, BaselineParams, Filter, FunkSVD, FunkSVDParams, KNNParams, Prediction, PredictionStatus, RatingPredictor,
    SVDpp, SVDppParams, KNN,
};
use mercato::AnyModel;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
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

/// Runs `$body` with `$m` bound to the model inside any variant (the four share the
/// [`RatingPredictor`] and [`Persist`] APIs).
macro_rules! each_model {
    ($model:expr, $m:ident => $body:expr) => {
        match $model {
            Model::Baseline($m) => $body,
            Model::Funk($m) => $body,
            Model::Svdpp($m) => $body,
            Model::Knn($m) => $body,
        }
    };
}

impl Model {
    fn predictor(&self) -> &dyn RatingPredictor {
        each_model!(self, m => m as &dyn RatingPredictor)
    }

    fn to_bytes(&self) -> mercato::Result<Vec<u8>> {
        each_model!(self, m => m.to_bytes())
    }

    /// The hyper-parameters as JSON (the Rust field names; f32 values print shortest, so
    /// `0.07` stays `0.07`).
    fn params_json(&self) -> serde_json::Result<String> {
        each_model!(self, m => serde_json::to_string(m.params()))
    }

    fn from_bytes(bytes: Vec<u8>) -> mercato::Result<Self> {
        // The core's model handle reads the kind and validates the whole file.
        Ok(match AnyModel::from_bytes(bytes)? {
            AnyModel::Baseline(m) => Model::Baseline(m),
            AnyModel::FunkSvd(m) => Model::Funk(m),
            AnyModel::SvdPp(m) => Model::Svdpp(m),
            AnyModel::Knn(m) => Model::Knn(m),
            other => {
                return Err(mercato::Error::format(format!(
                    "the file holds a {:?} model, not an explicit-rating one (baseline, funk_svd, svdpp, knn)",
                    other.kind()
                )))
            }
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
        <$t as mercato::params::Params>::from_json($json).py()?
    };
}

/// One column of ids turned into dense indices (first-seen order) and their id map.
pub(crate) struct IdColumn {
    map: IdMap,
    idx: Vec<u32>,
}

impl IdColumn {
    /// Reads and indexes a column. An integer numpy array is read in place (no Python object
    /// or [`ExternalId`] per element); anything else id by id.
    pub(crate) fn read(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i64>>() {
            return Ok(match a.as_slice() {
                Ok(v) => Self::ints(v),
                Err(_) => Self::ints(&a.as_array().to_vec()),
            });
        }
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i32>>() {
            return Ok(Self::ints(&a.as_array().iter().map(|&v| v as i64).collect::<Vec<_>>()));
        }
        let mut map = IdMap::new();
        let idx = external_ids(obj)?.into_iter().map(|id| map.insert(id) as u32).collect();
        Ok(IdColumn { map, idx })
    }

    /// Integer ids whose range is at most a few times the row count go through a lookup
    /// table (one pass, no hashing): ML-100k's 80k rows take ~0.2 ms this way against ~10 ms
    /// through [`IdMap::insert`].
    fn ints(v: &[i64]) -> Self {
        let (lo, hi) = v.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let (lo, hi) = if v.is_empty() { (0, 0) } else { (lo, hi) };
        let range = (hi as i128 - lo as i128) as u128;
        let mut ids = Vec::new();
        let idx = if range < (4 * v.len() as u128).max(1 << 16) {
            let mut table = vec![u32::MAX; range as usize + 1];
            v.iter()
                .map(|&x| {
                    let slot = &mut table[(x as i128 - lo as i128) as usize];
                    if *slot == u32::MAX {
                        *slot = ids.len() as u32;
                        ids.push(ExternalId::Int(x));
                    }
                    *slot
                })
                .collect()
        } else {
            let mut seen = std::collections::HashMap::<i64, u32>::new();
            v.iter()
                .map(|&x| {
                    *seen.entry(x).or_insert_with(|| {
                        ids.push(ExternalId::Int(x));
                        ids.len() as u32 - 1
                    })
                })
                .collect()
        };
        IdColumn { map: IdMap::from(ids), idx }
    }
}

/// Ratings as f32, checked finite (a `ValueError` names the first bad position).
fn ratings_f32(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    let bad =
        |pos: usize, v: f64| PyValueError::new_err(format!("ratings must be finite, found {v} at position {pos}"));
    let convert = |it: &mut dyn Iterator<Item = f64>| -> PyResult<Vec<f32>> {
        it.enumerate()
            .map(|(pos, v)| if v.is_finite() && v.abs() <= f32::MAX as f64 { Ok(v as f32) } else { Err(bad(pos, v)) })
            .collect()
    };
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, f64>>() {
        return convert(&mut a.as_array().iter().copied());
    }
    convert(&mut f64_vec(obj, "ratings")?.into_iter())
}

/// Training triples from Python columns, checked: equal lengths, not empty, finite ratings.
pub(crate) fn read_triples(
    users: &Bound<'_, PyAny>,
    items: &Bound<'_, PyAny>,
    ratings: &Bound<'_, PyAny>,
) -> PyResult<(IdColumn, IdColumn, Vec<f32>)> {
    let (users, items, ratings) = (IdColumn::read(users)?, IdColumn::read(items)?, ratings_f32(ratings)?);
    if users.idx.len() != items.idx.len() || users.idx.len() != ratings.len() {
        return Err(PyValueError::new_err(format!(
            "users, items and ratings must have the same length, got {}, {} and {}",
            users.idx.len(),
            items.idx.len(),
            ratings.len()
        )));
    }
    if ratings.is_empty() {
        return Err(PyValueError::new_err("cannot fit on empty input"));
    }
    Ok((users, items, ratings))
}

/// Start of each bucket for `keys` in `0..n` (a counting sort's prefix sums).
fn bucket_starts(keys: &[u32], n: usize) -> Vec<usize> {
    let mut starts = vec![0usize; n + 1];
    for &k in keys {
        starts[k as usize + 1] += 1;
    }
    for k in 0..n {
        starts[k + 1] += starts[k];
    }
    starts
}

/// The rating matrix of checked columns (see [`read_triples`]), built by two counting sorts
/// (by item, then stably by user, so rows come out sorted): linear time, where a comparison
/// sort of the triples took longer than a FunkSVD epoch. A repeated (user, item) pair is an
/// error.
pub(crate) fn interactions(users: IdColumn, items: IdColumn, ratings: &[f32]) -> mercato::Result<Interactions> {
    let (IdColumn { map: umap, idx: uidx }, IdColumn { map: imap, idx: iidx }) = (users, items);
    let mut by_item = vec![0u32; iidx.len()];
    let mut fill = bucket_starts(&iidx, imap.len());
    for (row, &i) in iidx.iter().enumerate() {
        by_item[fill[i as usize]] = row as u32;
        fill[i as usize] += 1;
    }
    let indptr = bucket_starts(&uidx, umap.len());
    let mut fill = indptr.clone();
    let (mut indices, mut values) = (vec![0usize; uidx.len()], vec![0f32; uidx.len()]);
    for &row in &by_item {
        let (u, row) = (uidx[row as usize] as usize, row as usize);
        indices[fill[u]] = iidx[row] as usize;
        values[fill[u]] = ratings[row];
        fill[u] += 1;
    }
    for (u, w) in indptr.windows(2).enumerate() {
        if let Some(d) = indices[w[0]..w[1]].windows(2).find(|d| d[0] == d[1]) {
            mercato::bail!("duplicate rating for user {} and item {}", umap.id(u), imap.id(d[0]));
        }
    }
    let matrix = sprs::CsMat::try_new((umap.len(), imap.len()), indptr, indices, values)
        .map_err(|(_, _, _, e)| mercato::Error::invalid(format!("invalid rating matrix: {e}")))?;
    Interactions::from_csr_with_ids(matrix, umap, imap)
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
    let (users, items, ratings) = read_triples(users, items, ratings)?;
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
            let data = interactions(users, items, &ratings)?;
            Ok(match params {
                P::B(p) => Model::Baseline(p.fit(&data)?),
                P::F(p) => Model::Funk(p.fit(&data)?),
                P::S(p) => Model::Svdpp(p.fit(&data)?),
                P::K(p) => Model::Knn(p.fit(&data)?),
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
        let filter = Filter::from_ids(pred.items(), exclude_rated, allow.as_deref(), &deny).py()?;
        let ranked = py.detach(|| pred.recommend(&user, n, &filter)).py()?.items;
        let ids: Vec<ExternalId> = ranked.iter().map(|(id, _)| id.clone()).collect();
        let scores: Vec<f64> = ranked.iter().map(|(_, s)| *s as f64).collect();
        Ok((ids_to_py(py, &ids)?, PyArray1::from_vec(py, scores)))
    }

    /// Learned arrays and metadata as a dict (factors are 2-D float32 arrays).
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let r = self.model.predictor();
        d.set_item("user_ids", ids_to_py(py, r.users().ids())?)?;
        d.set_item("item_ids", ids_to_py(py, r.items().ids())?)?;
        d.set_item("rating_scale", r.scale())?;
        let mat = |v: Vec<f32>, rows: usize| -> PyResult<Bound<'py, PyAny>> {
            let cols = v.len().checked_div(rows).unwrap_or(0);
            Ok(PyArray1::from_vec(py, v).reshape([rows, cols])?.into_any())
        };
        let (nu, ni) = (r.users().len(), r.items().len());
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
        py.detach(|| each_model!(&self.model, m => m.save(&path))).py()
    }

    /// The fitted model's hyper-parameters as JSON, as the Rust parameter struct names them.
    fn params_json(&self) -> PyResult<String> {
        self.model.params_json().map_err(|e| PyValueError::new_err(format!("cannot encode parameters: {e}")))
    }

    /// Loads from `path`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let bytes = std::fs::read(&path).map_err(|e| mercato::Error::io(&path, e)).py()?;
        Self::_from_bytes(py, &bytes)
    }

    /// The kinds of the user and item ids the model was fitted on: "int", "str", "mixed" or
    /// "empty" each (Python warns when a request's ids cannot match them).
    fn id_kinds(&self) -> (&'static str, &'static str) {
        fn kind_of(ids: &IdMap) -> &'static str {
            let (mut ints, mut strs) = (false, false);
            for id in ids.ids() {
                match id {
                    ExternalId::Str(_) => strs = true,
                    _ => ints = true,
                }
                if ints && strs {
                    return "mixed";
                }
            }
            match (ints, strs) {
                (true, _) => "int",
                (_, true) => "str",
                _ => "empty",
            }
        }
        let r = self.model.predictor();
        (kind_of(r.users()), kind_of(r.items()))
    }

    /// The model kind in the file header, e.g. "recommend.funk_svd".
    #[getter]
    fn kind(&self) -> &'static str {
        fn kind_of<M: Persist>(_: &M) -> &'static str {
            M::KIND
        }
        each_model!(&self.model, m => kind_of(m))
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
