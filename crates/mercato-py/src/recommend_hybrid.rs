//! Bindings for `mercato::recommend::hybrid`: `HybridMF`, `ItemContent` and `ImageFeatures`. The Python class
//! (`python/mercato/recommend/_hybrid.py`) turns scipy / pandas input into CSR parts and
//! JSON parameters; this file converts them and calls the core with the GIL released.

use mercato::recommend::hybrid::{
    Features, HybridMF, HybridMFParams, ImageFeatures, ImageFeaturesParams, ItemContent, ItemContentParams, Reprs,
};
use mercato::recommend::{Filter, Rows};
use mercato::Error;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::convert::{csr_to_py, external_ids, ids_to_py, model_from_pybytes, model_to_pybytes, PyCsr};
use crate::errors::PyResultExt;
use mercato::data::IdMap;

/// CSR parts from Python: (indptr, indices, data, n_rows, n_cols).
type Csr<'py> = (PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, f32>, usize, usize);

/// (embeddings rows x k, biases).
type Pair2<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f32>>);
/// (ids, scores) per user row.
type Ranked2<'py> = (Bound<'py, PyArray2<i32>>, Bound<'py, PyArray2<f32>>);
/// (ids, scores) of one list.
type Ranked1<'py> = (Bound<'py, PyArray1<i32>>, Bound<'py, PyArray1<f32>>);

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, what: &str) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| PyValueError::new_err(format!("{what} must be a contiguous 1-D array")))
}

/// Rows of `(column, weight)` from CSR parts, every index checked.
fn csr_rows(csr: &Csr<'_>, what: &str) -> PyResult<Vec<Vec<(usize, f32)>>> {
    let (indptr, indices, data, n_rows, n_cols) = csr;
    let (p, ix, d) = (slice(indptr, "indptr")?, slice(indices, "indices")?, slice(data, "data")?);
    let bad = |m: String| PyValueError::new_err(format!("{what}: {m}"));
    if p.len() != n_rows + 1 || ix.len() != d.len() || p.first() != Some(&0) || p[*n_rows] as usize != ix.len() {
        return Err(bad("inconsistent CSR arrays".into()));
    }
    (0..*n_rows)
        .map(|r| {
            let (a, b) = (p[r], p[r + 1]);
            if a > b || b as usize > ix.len() {
                return Err(bad(format!("row pointers out of order at row {r}")));
            }
            ix[a as usize..b as usize]
                .iter()
                .zip(&d[a as usize..b as usize])
                .map(|(&c, &w)| match usize::try_from(c) {
                    Ok(c) if c < *n_cols => Ok((c, w)),
                    _ => Err(bad(format!("column {c} outside 0..{n_cols} in row {r}"))),
                })
                .collect()
        })
        .collect()
}

fn features(csr: &Csr<'_>, what: &str) -> PyResult<Features> {
    Features::from_rows(csr.4, csr_rows(csr, what)?).py()
}

fn interactions(csr: &Csr<'_>) -> PyResult<mercato::data::Interactions> {
    let rows = csr_rows(csr, "user_items")?;
    let (nu, ni) = (csr.3, csr.4);
    let mut entries = Vec::new();
    for (u, row) in rows.into_iter().enumerate() {
        entries.extend(row.into_iter().map(|(i, v)| (u as u32, i as u32, v)));
    }
    mercato::data::Interactions::from_indexed(
        mercato::data::IdMap::identity(nu),
        mercato::data::IdMap::identity(ni),
        entries,
        mercato::data::DuplicatePolicy::Sum,
    )
    .py()
}

fn indices(a: &PyReadonlyArray1<'_, i64>, what: &str) -> PyResult<Vec<usize>> {
    slice(a, what)?
        .iter()
        .map(|&v| usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{what} must be >= 0, got {v}"))))
        .collect()
}

fn reprs_py<'py>(py: Python<'py>, r: &Reprs, k: usize) -> PyResult<Pair2<'py>> {
    let emb = ndarray::Array2::from_shape_vec((r.len(), k), r.embeddings())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((PyArray2::from_owned_array(py, emb), PyArray1::from_vec(py, r.biases())))
}

/// The fitted core model behind `mercato.recommend.HybridMF`.
#[pyclass(module = "mercato.recommend", name = "_HybridMF", frozen)]
pub struct PyHybridMF {
    model: HybridMF,
}

impl PyHybridMF {
    fn user_side(&self, py: Python<'_>, f: Option<&Csr<'_>>) -> PyResult<Reprs> {
        match f {
            None => Ok(self.model.known_user_reprs().clone()),
            Some(c) => {
                let f = features(c, "user_features")?;
                py.detach(|| self.model.user_reprs(&f)).py()
            }
        }
    }
    fn item_side(&self, py: Python<'_>, f: Option<&Csr<'_>>) -> PyResult<Reprs> {
        match f {
            None => Ok(self.model.known_item_reprs().clone()),
            Some(c) => {
                let f = features(c, "item_features")?;
                py.detach(|| self.model.item_reprs(&f)).py()
            }
        }
    }
}

#[pymethods]
impl PyHybridMF {
    /// Trains from JSON hyper-parameters and CSR parts.
    #[staticmethod]
    #[pyo3(signature = (params_json, user_items, user_features=None, item_features=None, user_ids=None, item_ids=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        params_json: &str,
        user_items: Csr<'_>,
        user_features: Option<Csr<'_>>,
        item_features: Option<Csr<'_>>,
        user_ids: Option<Bound<'_, PyAny>>,
        item_ids: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyHybridMF> {
        let params: HybridMFParams = <HybridMFParams as mercato::params::Params>::from_json(params_json).py()?;
        let mut data = interactions(&user_items)?;
        if user_ids.is_some() || item_ids.is_some() {
            let map = |ids: Option<Bound<'_, PyAny>>, n: usize, what: &str| -> PyResult<IdMap> {
                let Some(ids) = ids else { return Ok(IdMap::identity(n)) };
                let m = IdMap::from_ids(external_ids(&ids)?).py()?;
                if m.len() != n {
                    return Err(PyValueError::new_err(format!("{} {what} ids for {n} {what}s", m.len())));
                }
                Ok(m)
            };
            let (u, i) = (map(user_ids, data.n_users(), "user")?, map(item_ids, data.n_items(), "item")?);
            data = mercato::data::Interactions::from_csr_with_ids(data.matrix().clone(), u, i).py()?;
        }
        let uf = user_features.as_ref().map(|c| features(c, "user_features")).transpose()?;
        let itf = item_features.as_ref().map(|c| features(c, "item_features")).transpose()?;
        let model = py.detach(|| params.fit(&data, uf.as_ref(), itf.as_ref())).py()?;
        Ok(PyHybridMF { model })
    }

    /// More epochs on the same users and items.
    fn partial_fit(&self, py: Python<'_>, user_items: Csr<'_>, epochs: usize) -> PyResult<PyHybridMF> {
        let data = interactions(&user_items)?;
        let model = py.detach(|| self.model.partial_fit(&data, epochs)).py()?;
        Ok(PyHybridMF { model })
    }

    #[getter]
    fn n_users(&self) -> usize {
        self.model.n_users()
    }

    #[getter]
    fn n_items(&self) -> usize {
        self.model.n_items()
    }

    #[getter]
    fn epochs_done(&self) -> usize {
        self.model.epochs_done()
    }

    #[getter]
    fn params_json(&self) -> PyResult<String> {
        serde_json::to_string(self.model.hyper_params()).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// (identity columns, supplied columns, names) of the user or item side.
    fn space(&self, side: &str) -> PyResult<(usize, usize, Vec<String>)> {
        let s = match side {
            "user" => self.model.user_space(),
            "item" => self.model.item_space(),
            _ => return Err(PyValueError::new_err("side must be 'user' or 'item'")),
        };
        Ok((s.identity, s.n_features, s.names.clone()))
    }

    /// External ids of the training users or items.
    fn ids<'py>(&self, py: Python<'py>, side: &str) -> PyResult<Bound<'py, PyAny>> {
        match side {
            "user" => ids_to_py(py, self.model.ids().users.ids()),
            "item" => ids_to_py(py, self.model.ids().items.ids()),
            _ => Err(PyValueError::new_err("side must be 'user' or 'item'")),
        }
    }

    /// A copy with named feature columns.
    fn with_feature_names(&self, user: Vec<String>, item: Vec<String>) -> PyResult<PyHybridMF> {
        let mut model = self.model.clone();
        model.set_feature_names(user, item).py()?;
        Ok(PyHybridMF { model })
    }

    /// (embeddings, biases) of the training users/items, or of rows of new features.
    #[pyo3(signature = (side, features=None))]
    fn reprs<'py>(&self, py: Python<'py>, side: &str, features: Option<Csr<'py>>) -> PyResult<Pair2<'py>> {
        let r = match side {
            "user" => self.user_side(py, features.as_ref())?,
            "item" => self.item_side(py, features.as_ref())?,
            _ => return Err(PyValueError::new_err("side must be 'user' or 'item'")),
        };
        reprs_py(py, &r, self.model.hyper_params().factors)
    }

    /// Embeddings and biases of every feature of a side (identity rows first).
    fn feature_embeddings<'py>(&self, py: Python<'py>, side: &str) -> PyResult<Pair2<'py>> {
        let (e, b) = match side {
            "user" => self.model.user_feature_embeddings(),
            "item" => self.model.item_feature_embeddings(),
            _ => return Err(PyValueError::new_err("side must be 'user' or 'item'")),
        };
        let k = self.model.hyper_params().factors;
        let e = ndarray::Array2::from_shape_vec((b.len(), k), e).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((PyArray2::from_owned_array(py, e), PyArray1::from_vec(py, b)))
    }

    /// Scores of (user row, item row) pairs.
    #[pyo3(signature = (users, items, user_features=None, item_features=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
        items: PyReadonlyArray1<'py, i64>,
        user_features: Option<Csr<'py>>,
        item_features: Option<Csr<'py>>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let (u, i) = (indices(&users, "user_ids")?, indices(&items, "item_ids")?);
        let ur = self.user_side(py, user_features.as_ref())?;
        let ir = self.item_side(py, item_features.as_ref())?;
        let s = py.detach(|| self.model.score_reprs(&ur, &u, &ir, &i)).py()?;
        Ok(PyArray1::from_vec(py, s))
    }

    /// Top-`n` item rows per user row: (ids, scores), padded with -1 / -inf.
    #[pyo3(signature = (users, n, filter_seen, exclude=None, allow=None, user_features=None, item_features=None))]
    #[allow(clippy::too_many_arguments)]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        users: PyReadonlyArray1<'py, i64>,
        n: usize,
        filter_seen: bool,
        exclude: Option<Csr<'py>>,
        allow: Option<PyReadonlyArray1<'py, i64>>,
        user_features: Option<Csr<'py>>,
        item_features: Option<Csr<'py>>,
    ) -> PyResult<Ranked2<'py>> {
        let u = indices(&users, "userid")?;
        let ur = self.user_side(py, user_features.as_ref())?;
        let ir = self.item_side(py, item_features.as_ref())?;
        let mut filter = Filter::new();
        if let Some(a) = &allow {
            filter.allow = Some(indices(a, "items")?.into_iter().collect());
        }
        let exclude: Option<Vec<Vec<u32>>> = match &exclude {
            None => None,
            Some(c) => {
                let rows = csr_rows(c, "user_items")?;
                // One row per requested user: re-index so that row k excludes for users[k].
                let mut ex = vec![Vec::new(); ur.len()];
                if rows.len() != u.len() {
                    return Err(PyValueError::new_err(format!(
                        "user_items has {} rows for {} users",
                        rows.len(),
                        u.len()
                    )));
                }
                for (&user, row) in u.iter().zip(rows) {
                    if user < ex.len() {
                        ex[user].extend(row.into_iter().map(|(i, _)| i as u32));
                    }
                }
                Some(ex)
            }
        };
        // Training positives are dropped only when both sides are the training ones.
        let known = user_features.is_none() && item_features.is_none();
        let recs = if filter_seen && known && exclude.is_none() {
            py.detach(|| self.model.recommend(&u, n, &filter.exclude_seen(true))).py()?
        } else {
            py.detach(|| self.model.recommend_reprs(&ur, &u, &ir, n, &filter, exclude.as_deref())).py()?
        };
        let width = n.min(ir.len());
        let mut ids = ndarray::Array2::<i32>::from_elem((recs.len(), width), -1);
        let mut scores = ndarray::Array2::<f32>::from_elem((recs.len(), width), f32::NEG_INFINITY);
        for (r, rec) in recs.iter().enumerate() {
            for (c, &(i, s)) in rec.iter().enumerate().take(width) {
                ids[[r, c]] = i as i32;
                scores[[r, c]] = s;
            }
        }
        Ok((PyArray2::from_owned_array(py, ids), PyArray2::from_owned_array(py, scores)))
    }

    /// The `n` training items most similar to training item `item`, or (with
    /// `item_features`) to row `item` of those features.
    #[pyo3(signature = (item, n, item_features=None))]
    fn similar_items<'py>(
        &self,
        py: Python<'py>,
        item: usize,
        n: usize,
        item_features: Option<Csr<'py>>,
    ) -> PyResult<Ranked1<'py>> {
        let out = match item_features {
            None => py.detach(|| self.model.similar_items(item, n)).py()?,
            Some(c) => {
                let r = self.item_side(py, Some(&c))?;
                if item >= r.len() {
                    return Err(crate::errors::to_py(Error::invalid(format!(
                        "item row {item} out of range ({} rows)",
                        r.len()
                    ))));
                }
                let q = r.embedding(item).to_vec();
                py.detach(|| self.model.similar_to(&q, self.model.known_item_reprs(), n)).py()?
            }
        };
        let (i, s): (Vec<i32>, Vec<f32>) = out.into_iter().map(|(i, s)| (i as i32, s)).unzip();
        Ok((PyArray1::from_vec(py, i), PyArray1::from_vec(py, s)))
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        model_to_pybytes(py, &self.model)
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<PyHybridMF> {
        Ok(PyHybridMF { model: model_from_pybytes(py, data)? })
    }
}

/// Adds the hybrid classes to `mercato._mercato.recommend`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyHybridMF>()?;
    m.add_class::<PyItemContent>()?;
    m.add_class::<PyImageFeatures>()
}

fn rows(csr: &Csr<'_>, what: &str) -> PyResult<Rows> {
    let (indptr, indices, data, n_rows, n_cols) = csr;
    Rows::from_csr_parts(*n_rows, *n_cols, slice(indptr, "indptr")?, slice(indices, "indices")?, slice(data, "data")?)
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// Lists of (id, score) as two (rows × width) arrays padded with -1 / -inf.
fn padded<'py>(py: Python<'py>, lists: &[Vec<(usize, f32)>], width: usize) -> Ranked2<'py> {
    let mut ids = ndarray::Array2::<i32>::from_elem((lists.len(), width), -1);
    let mut scores = ndarray::Array2::<f32>::from_elem((lists.len(), width), f32::NEG_INFINITY);
    for (r, list) in lists.iter().enumerate() {
        for (c, &(i, s)) in list.iter().take(width).enumerate() {
            ids[[r, c]] = i as i32;
            scores[[r, c]] = s;
        }
    }
    (PyArray2::from_owned_array(py, ids), PyArray2::from_owned_array(py, scores))
}

/// The fitted core model behind `mercato.recommend.ItemContent`.
#[pyclass(module = "mercato.recommend", name = "_ItemContent", frozen)]
pub struct PyItemContent {
    model: ItemContent,
}

#[pymethods]
impl PyItemContent {
    /// Fits from JSON hyper-parameters and the item-feature CSR parts; `item_ids` (one per
    /// row) and `feature_names` (one per column) name them for serving.
    #[staticmethod]
    #[pyo3(signature = (params_json, item_features, item_ids=None, feature_names=None))]
    fn fit(
        py: Python<'_>,
        params_json: &str,
        item_features: Csr<'_>,
        item_ids: Option<Bound<'_, PyAny>>,
        feature_names: Option<Vec<String>>,
    ) -> PyResult<PyItemContent> {
        let params: ItemContentParams = <ItemContentParams as mercato::params::Params>::from_json(params_json).py()?;
        let f = rows(&item_features, "item_features")?;
        let ids = item_ids.map(|ids| IdMap::from_ids(external_ids(&ids)?).py()).transpose()?;
        let mut model = py.detach(|| params.fit(&f)).py()?;
        if let Some(ids) = ids {
            model.set_item_ids(ids).py()?;
        }
        model.set_feature_names(feature_names.unwrap_or_default()).py()?;
        Ok(PyItemContent { model })
    }

    /// External ids of the catalogue's items (row indices when fitted without ids).
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        ids_to_py(py, self.model.item_ids().ids())
    }

    /// Names of the feature columns (empty when unnamed).
    fn feature_names(&self) -> Vec<String> {
        self.model.feature_names().to_vec()
    }

    #[getter]
    fn n_items(&self) -> usize {
        self.model.n_items()
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.model.n_features()
    }

    /// The fitted parameters as JSON.
    fn params_json(&self) -> String {
        mercato::params::Params::to_json(self.model.params())
    }

    /// (ids, scores) of the `n` catalogue items most similar to `item`.
    fn similar_items<'py>(&self, py: Python<'py>, item: usize, n: usize) -> PyResult<Ranked1<'py>> {
        let v = py.detach(|| self.model.similar_items(item, n)).py()?;
        let (i, s): (Vec<i32>, Vec<f32>) = v.into_iter().map(|(i, s)| (i as i32, s)).unzip();
        Ok((PyArray1::from_vec(py, i), PyArray1::from_vec(py, s)))
    }

    /// Per row of `features` (new items), the `n` most similar catalogue items, padded.
    fn similar_to_features<'py>(&self, py: Python<'py>, features: Csr<'py>, n: usize) -> PyResult<Ranked2<'py>> {
        let f = rows(&features, "item_features")?;
        let lists = py.detach(|| self.model.similar_to_features(&f, n)).py()?;
        Ok(padded(py, &lists, n.min(self.model.n_items())))
    }

    /// Per row of `user_items`, the top `n` content recommendations, padded.
    #[pyo3(signature = (user_items, n, filter_seen, allow=None, deny=None))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        user_items: Csr<'py>,
        n: usize,
        filter_seen: bool,
        allow: Option<PyReadonlyArray1<'py, i64>>,
        deny: Option<PyReadonlyArray1<'py, i64>>,
    ) -> PyResult<Ranked2<'py>> {
        let r = rows(&user_items, "user_items")?;
        let mut filter = Filter::new().exclude_seen(filter_seen);
        let n_items = self.model.n_items();
        let known = |a: &PyReadonlyArray1<'_, i64>, what: &str| -> PyResult<Vec<usize>> {
            let v = indices(a, what)?;
            match v.iter().find(|&&i| i >= n_items) {
                Some(i) => Err(pyo3::exceptions::PyKeyError::new_err(format!("unknown item id in {what}: {i}"))),
                None => Ok(v),
            }
        };
        let mut width = n.min(n_items);
        if let Some(a) = &allow {
            let a = known(a, "items")?;
            width = width.min(a.iter().collect::<std::collections::HashSet<_>>().len());
            filter = filter.allow(a);
        }
        if let Some(d) = &deny {
            filter = filter.deny(known(d, "filter_items")?);
        }
        let lists = py.detach(|| self.model.recommend_rows(&r, n, &filter)).py()?;
        Ok(padded(py, &lists, width))
    }

    /// The model file as bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        model_to_pybytes(py, &self.model)
    }

    /// Rebuilds a model from `to_bytes` output (validated).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyItemContent { model: model_from_pybytes(py, data)? })
    }
}

/// The fitted core transformer behind `mercato.recommend.ImageFeatures`.
#[pyclass(module = "mercato.recommend", name = "_ImageFeatures", frozen)]
pub struct PyImageFeatures {
    model: ImageFeatures,
}

#[pymethods]
impl PyImageFeatures {
    /// Fits from JSON hyper-parameters and a float32 embeddings matrix (items x dim).
    #[staticmethod]
    fn fit(py: Python<'_>, params_json: &str, embeddings: PyReadonlyArray2<'_, f32>) -> PyResult<PyImageFeatures> {
        let params = <ImageFeaturesParams as mercato::params::Params>::from_json(params_json).py()?;
        let emb = embeddings.as_array();
        Ok(PyImageFeatures { model: py.detach(|| params.fit(emb)).py()? })
    }

    #[getter]
    fn n_components(&self) -> usize {
        self.model.n_components()
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.model.n_features()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.model.dim()
    }

    /// Column names `{prefix}{j}+`, `{prefix}{j}-`.
    fn names(&self, prefix: &str) -> Vec<String> {
        self.model.names(prefix)
    }

    /// Feature rows of `embeddings` as CSR parts (indptr, indices, data).
    fn transform<'py>(&self, py: Python<'py>, embeddings: PyReadonlyArray2<'py, f32>) -> PyResult<PyCsr<'py>> {
        let emb = embeddings.as_array();
        let f = py.detach(|| self.model.transform(emb)).py()?;
        Ok(csr_to_py(py, f.raw()))
    }

    /// The model file as bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        model_to_pybytes(py, &self.model)
    }

    /// Rebuilds from `to_bytes` output (validated).
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyImageFeatures { model: model_from_pybytes(py, data)? })
    }
}
