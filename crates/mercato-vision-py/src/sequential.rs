//! Bindings for `mercato::recommend::sequential` (SASRec, GRU4Rec). The user-facing classes
//! are `mercato.recommend.SASRec` / `GRU4Rec` (python/mercato/recommend/_sequential.py),
//! which hold the hyper-parameters and pass them here as JSON.

use std::path::PathBuf;

use mercato::data::ExternalId;
use mercato::params::Params;
use mercato::recommend::sequential::{Sequences, SequentialParams, SequentialRecommender};
use mercato::recommend::{Filter, IdRecommender, IdRecs};
use mercato::vision::DeviceChoice;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::convert::{external_ids, id_to_py, idmap_to_py, ids_to_py};
use crate::errors::PyResultExt;

#[pyclass(module = "_mercato_vision", frozen)]
pub struct NativeSequential {
    inner: SequentialRecommender,
}

/// `(ids, scores)` rows padded to `n` with `pad` / -inf, as the implicit models' batches.
fn recs_to_py<'py>(
    py: Python<'py>,
    recs: &[IdRecs],
    n: usize,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray2<f32>>)> {
    let mut scores = mercato::ndarray::Array2::<f32>::from_elem((recs.len(), n), f32::NEG_INFINITY);
    let ids = PyList::empty(py);
    for (r, rec) in recs.iter().enumerate() {
        let row: Vec<ExternalId> = rec.items.iter().map(|(i, _)| i.clone()).collect();
        for (c, (_, s)) in rec.items.iter().enumerate() {
            scores[[r, c]] = *s;
        }
        ids.append(ids_to_py(py, &row)?)?;
    }
    Ok((ids.into_any(), PyArray2::from_owned_array(py, scores)))
}

#[pymethods]
impl NativeSequential {
    /// Trains on parallel event columns; `context` is a list of `(name, values)`.
    #[staticmethod]
    #[pyo3(signature = (params_json, device, users, items, times, context))]
    fn fit(
        py: Python<'_>,
        params_json: &str,
        device: &str,
        users: &Bound<'_, PyAny>,
        items: &Bound<'_, PyAny>,
        times: PyReadonlyArray1<'_, i64>,
        context: Vec<(String, Bound<'_, PyAny>)>,
    ) -> PyResult<Self> {
        let params = SequentialParams::from_json(params_json).py()?.device(device.parse::<DeviceChoice>().py()?);
        let users = external_ids(users)?;
        let items = external_ids(items)?;
        let times = times.as_array().to_vec();
        let ctx: Vec<(String, Vec<ExternalId>)> =
            context.iter().map(|(n, v)| Ok((n.clone(), external_ids(v)?))).collect::<PyResult<_>>()?;
        let inner = py
            .detach(|| {
                let cols: Vec<(&str, &[ExternalId])> = ctx.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
                let data = Sequences::from_events(&users, &items, &times, &cols)?;
                params.fit(&data)
            })
            .py()?;
        Ok(NativeSequential { inner })
    }

    /// Top-`n` for training users (external ids): `(ids per user, scores [users, n])`.
    #[pyo3(signature = (users, n, exclude_seen=true, items=None))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        users: &Bound<'py, PyAny>,
        #[pyo3(from_py_with = crate::convert::args::N)] n: usize,
        exclude_seen: bool,
        items: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray2<f32>>)> {
        let users = external_ids(users)?;
        let allow = items.map(external_ids).transpose()?;
        let filter = Filter::from_ids(self.inner.item_ids(), exclude_seen, allow.as_deref(), &[]).py()?;
        let recs = py.detach(|| self.inner.recommend_ids_batch(&users, n, &filter)).py()?;
        // No list is longer than the catalogue, so the padding never exceeds it either.
        recs_to_py(py, &recs, n.min(self.inner.item_ids().len()))
    }

    /// Top-`n` for one live session: `(ids, scores, fallback)`.
    #[pyo3(signature = (items, context, n, exclude_seen=true))]
    fn recommend_sequence<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        context: Vec<Bound<'py, PyAny>>,
        #[pyo3(from_py_with = crate::convert::args::N)] n: usize,
        exclude_seen: bool,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<f32>>, bool)> {
        let items = external_ids(items)?;
        let context: Vec<Vec<ExternalId>> = context.iter().map(external_ids).collect::<PyResult<_>>()?;
        let rec = py.detach(|| self.inner.recommend_sequence(&items, &context, n, exclude_seen)).py()?;
        let ids: Vec<ExternalId> = rec.items.iter().map(|(i, _)| i.clone()).collect();
        let scores: Vec<f32> = rec.items.iter().map(|(_, s)| *s).collect();
        Ok((ids_to_py(py, &ids)?, PyArray1::from_vec(py, scores), rec.fallback))
    }

    /// Next-item scores of training users (by index) over every item, `[users, n_items]`.
    fn user_scores<'py>(&self, py: Python<'py>, users: Vec<usize>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let s = py.detach(|| self.inner.user_scores(&users)).py()?;
        Ok(PyArray2::from_owned_array(py, s))
    }

    fn similar_items<'py>(
        &self,
        py: Python<'py>,
        item: &Bound<'py, PyAny>,
        #[pyo3(from_py_with = crate::convert::args::N)] n: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let item = crate::convert::external_id(item)?;
        let ranked = py.detach(|| self.inner.similar_items_ids(&item, n)).py()?;
        let out = PyList::empty(py);
        for (id, s) in &ranked {
            out.append((id_to_py(py, id)?, *s))?;
        }
        Ok(out)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = py.detach(|| self.inner.to_bytes()).py()?;
        Ok(PyBytes::new(py, &b))
    }

    #[staticmethod]
    #[pyo3(signature = (data, device="auto"))]
    fn from_bytes(py: Python<'_>, data: &[u8], device: &str) -> PyResult<Self> {
        let device = device.parse::<DeviceChoice>().py()?;
        let bytes = data.to_vec();
        let inner = py.detach(|| SequentialRecommender::from_bytes_on(bytes, device)).py()?;
        Ok(NativeSequential { inner })
    }

    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).py()
    }

    #[staticmethod]
    #[pyo3(signature = (path, device="auto"))]
    fn load(py: Python<'_>, path: PathBuf, device: &str) -> PyResult<Self> {
        let device = device.parse::<DeviceChoice>().py()?;
        let bytes = std::fs::read(&path).map_err(|e| mercato::Error::io(&path, e)).py()?;
        let inner = py.detach(|| SequentialRecommender::from_bytes_on(bytes, device)).py()?;
        Ok(NativeSequential { inner })
    }

    #[getter]
    fn params_json(&self) -> String {
        let mut p = self.inner.params().clone();
        p.device = DeviceChoice::Auto;
        p.to_json()
    }

    #[getter]
    fn user_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        idmap_to_py(py, self.inner.user_ids())
    }

    #[getter]
    fn item_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        idmap_to_py(py, self.inner.item_ids())
    }

    #[getter]
    fn context_names(&self) -> Vec<String> {
        self.inner.context().iter().map(|c| c.name.clone()).collect()
    }

    #[getter]
    fn device(&self) -> String {
        format!("{:?}", self.inner.device())
    }

    #[getter]
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let h = self.inner.history();
        let epochs = PyList::empty(py);
        for e in &h.epochs {
            let d = PyDict::new(py);
            d.set_item("epoch", e.epoch)?;
            d.set_item("loss", e.loss)?;
            d.set_item("val_ndcg", e.val_ndcg)?;
            d.set_item("seconds", e.seconds)?;
            epochs.append(d)?;
        }
        let d = PyDict::new(py);
        d.set_item("epochs", epochs)?;
        d.set_item("best_epoch", h.best_epoch)?;
        d.set_item("stopped_early", h.stopped_early)?;
        d.set_item("device", h.device.clone())?;
        d.set_item("seconds_per_epoch", h.seconds_per_epoch)?;
        Ok(d)
    }
}
