//! Bindings for `mercato::recommend::implicit`: ALS, BPR, item kNN, weighting helpers and
//! implicit-compatible ranking metrics. Python-side conventions (scipy/pandas input,
//! implicit's argument names) live in `python/mercato/recommend/_implicit.py`; this file
//! converts raw CSR arrays and calls the core.

use mercato::params::Params;
use mercato::persist::Persist;
use mercato::recommend::implicit::{
    self as imp, Als, AlsSolver, Bpr, Confidence, ItemKnn, KnnWeighting, NegativeSampling, Recommender, Recs, Rows,
};
use mercato::recommend::Filter;
use mercato::Error;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::Arc;

use crate::convert::{args, csr_to_py, external_ids, ids_to_py, model_to_pybytes, PyCsr};
use crate::errors::PyResultExt;
use mercato::data::{ExternalId, IdMap};

type Csr<'py> = (PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, f32>, usize, usize);

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, what: &str) -> PyResult<&'a [T]> {
    a.as_slice().map_err(|_| PyValueError::new_err(format!("{what} must be a contiguous 1-D array")))
}

/// Rows from scipy CSR parts (indptr, indices, data, n_rows, n_cols).
fn rows_from(csr: &Csr<'_>) -> PyResult<Rows> {
    let (indptr, indices, data, n_rows, n_cols) = csr;
    Rows::from_csr_parts(*n_rows, *n_cols, slice(indptr, "indptr")?, slice(indices, "indices")?, slice(data, "data")?)
        .py()
}

fn item_list(ids: Option<PyReadonlyArray1<'_, i64>>, n_items: usize) -> PyResult<Option<Vec<usize>>> {
    let Some(ids) = ids else { return Ok(None) };
    slice(&ids, "item ids")?
        .iter()
        .map(|&i| match usize::try_from(i) {
            Ok(u) if u < n_items => Ok(u),
            _ => Err(PyKeyError::new_err(format!("unknown item id: {i} (model has {n_items} items)"))),
        })
        .collect::<PyResult<Vec<_>>>()
        .map(Some)
}

/// A Python training callback called from the training thread: it takes the GIL for each
/// call; an exception stops training and is raised by `fit` (not replaced by a core error).
struct Callback {
    callable: Option<Py<PyAny>>,
    raised: Option<PyErr>,
    /// ALS passes `(iteration, elapsed, loss)`, BPR `(epoch, elapsed, correct, skipped)`.
    bpr: bool,
}

impl Callback {
    fn new(callable: Option<Py<PyAny>>) -> Self {
        Callback { callable, raised: None, bpr: false }
    }

    fn call(&mut self, r: &imp::IterationReport) -> mercato::Result<()> {
        let Some(f) = &self.callable else { return Ok(()) };
        let secs = r.elapsed.as_secs_f64();
        let outcome = Python::attach(|py| {
            if self.bpr {
                f.call1(py, (r.iteration, secs, r.correct, r.skipped)).map(drop)
            } else {
                f.call1(py, (r.iteration, secs, r.loss)).map(drop)
            }
        });
        outcome.map_err(|e| {
            self.raised = Some(e);
            Error::invalid("training stopped: the callback raised an exception")
        })
    }

    /// The fit's result, with the callback's own exception in place of the stop error.
    fn result<T>(self, fit: mercato::Result<T>) -> PyResult<T> {
        match (fit, self.raised) {
            (Err(_), Some(e)) => Err(e),
            (fit, _) => fit.py(),
        }
    }
}

/// implicit's `calculate_loss`: the ALS objective of `user_factors`/`item_factors` on
/// `csr` (users × items confidences) divided by the total confidence.
#[pyfunction]
#[pyo3(signature = (csr, user_factors, item_factors, regularization, alpha, confidence))]
fn als_loss(
    csr: Csr<'_>,
    user_factors: numpy::PyReadonlyArray2<'_, f32>,
    item_factors: numpy::PyReadonlyArray2<'_, f32>,
    regularization: f32,
    alpha: f32,
    confidence: &str,
) -> PyResult<f32> {
    let rows = rows_from(&csr)?;
    let confidence = match confidence {
        "linear" => Confidence::Linear,
        "implicit" => Confidence::Implicit,
        "binary" => Confidence::Binary,
        other => return Err(PyValueError::new_err(format!("unknown confidence {other:?}"))),
    };
    let x = user_factors.as_array();
    let y = item_factors.as_array();
    let params =
        Als::params().factors(x.ncols().max(1)).regularization(regularization).alpha(alpha).confidence(confidence);
    let (x, y) = (x.as_standard_layout(), y.as_standard_layout());
    let (x, y) = (x.as_slice().unwrap_or_default(), y.as_slice().unwrap_or_default());
    params.training_loss(&rows, x, y).py()
}

fn pool(threads: usize) -> PyResult<std::sync::Arc<mercato::recommend::implicit::ThreadPool>> {
    imp::thread_pool((threads > 0).then_some(threads)).py()
}

type Served<'py> = (Bound<'py, PyArray2<i32>>, Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<bool>>);

/// Serves `users` (with optional supplied rows) from `m`: known users through the chunked
/// batch path, unknown users (or all with `recalculate`) through fold-in on their row.
#[allow(clippy::too_many_arguments)]
fn serve<'py, M: Recommender>(
    py: Python<'py>,
    m: &M,
    users: &[i64],
    n: usize,
    rows: Option<Rows>,
    filter: Filter,
    recalculate: bool,
    chunk: usize,
    threads: usize,
    candidates: usize,
) -> PyResult<Served<'py>> {
    if n == 0 {
        return Err(PyValueError::new_err("N must be positive, got 0"));
    }
    if let Some(r) = &rows {
        if r.n_rows() != users.len() {
            return Err(PyValueError::new_err(format!("user_items has {} rows for {} users", r.n_rows(), users.len())));
        }
    }
    let n_users = m.n_users();
    let mut batch = Vec::new();
    let mut fold = Vec::new();
    for (k, &u) in users.iter().enumerate() {
        let known = u >= 0 && (u as usize) < n_users;
        if u < 0 || (!known && rows.is_none()) {
            return Err(PyKeyError::new_err(format!(
                "unknown user id: {u} (model has {n_users} users; pass user_items to fold in new users)"
            )));
        }
        if known && !(recalculate && rows.is_some()) {
            batch.push(k);
        } else {
            fold.push(k);
        }
    }
    let pool = pool(threads)?;
    let result: mercato::Result<Vec<Recs>> = py.detach(|| {
        pool.install(|| {
            let mut out: Vec<Option<Recs>> = vec![None; users.len()];
            let batch_users: Vec<usize> = batch.iter().map(|&k| users[k] as usize).collect();
            let sub = rows.as_ref().map(|r| r.select(&batch));
            let recs = m.recommend_batch_chunked(&batch_users, sub.as_ref(), n, &filter, chunk)?;
            for (&k, r) in batch.iter().zip(recs) {
                out[k] = Some(r);
            }
            for &k in &fold {
                let row = rows.as_ref().map(|r| r.row(k)).unwrap_or((&[], &[]));
                let items: Vec<usize> = row.0.iter().map(|&i| i as usize).collect();
                out[k] = Some(m.recommend_row(&items, row.1, n, &filter)?);
            }
            out.into_iter()
                .map(|r| r.ok_or_else(|| mercato::Error::invalid("internal: a user was not served")))
                .collect()
        })
    });
    let recs = result.py()?;
    // One fixed width whatever the data: N, or fewer when fewer items are candidates at
    // all (the catalogue, or the `items` allow-list); rows the filters leave shorter are
    // padded with -1 / -inf.
    let width = n.min(candidates);
    let mut ids = ndarray::Array2::<i32>::from_elem((recs.len(), width), -1);
    let mut scores = ndarray::Array2::<f32>::from_elem((recs.len(), width), f32::NEG_INFINITY);
    for (r, rec) in recs.iter().enumerate() {
        for (c, &(i, s)) in rec.items.iter().enumerate() {
            ids[[r, c]] = i as i32;
            scores[[r, c]] = s;
        }
    }
    let fallback: Vec<bool> = recs.iter().map(|r| r.popularity_fallback).collect();
    Ok((PyArray2::from_owned_array(py, ids), PyArray2::from_owned_array(py, scores), PyArray1::from_vec(py, fallback)))
}

fn pairs<'py>(py: Python<'py>, v: Vec<(usize, f32)>) -> (Bound<'py, PyArray1<i32>>, Bound<'py, PyArray1<f32>>) {
    let (i, s): (Vec<i32>, Vec<f32>) = v.into_iter().map(|(i, s)| (i as i32, s)).unzip();
    (PyArray1::from_vec(py, i), PyArray1::from_vec(py, s))
}

fn id_map(ids: Option<&mercato::recommend::ModelIds>, users: bool) -> PyResult<&IdMap> {
    let ids = ids.ok_or_else(|| PyValueError::new_err("the model has no ids (trained on indices)"))?;
    Ok(if users { &ids.users } else { &ids.items })
}

fn indices(ids: &PyReadonlyArray1<'_, i64>, what: &str) -> PyResult<Vec<usize>> {
    slice(ids, what)?
        .iter()
        .map(|&u| usize::try_from(u).map_err(|_| PyValueError::new_err(format!("{what} must be >= 0, got {u}"))))
        .collect()
}

/// A user or item index: `KeyError` for anything that is not one of the model's `n`
/// indices (negative, past the end, or past 64 bits), `TypeError` for a non-integer.
fn to_index(obj: &Bound<'_, PyAny>, kind: &str, n: usize) -> PyResult<usize> {
    let unknown = || -> PyResult<PyErr> {
        Ok(PyKeyError::new_err(format!("unknown {kind} id: {} (model has {n} {kind}s)", obj.str()?)))
    };
    if obj.is_instance_of::<pyo3::types::PyBool>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!("{kind} id must be an integer, got bool")));
    }
    match obj.extract::<i128>() {
        Ok(v) => match usize::try_from(v) {
            Ok(u) if u < n => Ok(u),
            _ => Err(unknown()?),
        },
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(obj.py()) => Err(unknown()?),
        Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{kind} id must be an integer, got {}",
            obj.get_type().name()?
        ))),
    }
}

fn positive(n: usize, name: &str) -> PyResult<usize> {
    if n == 0 {
        return Err(PyValueError::new_err(format!("{name} must be positive, got 0")));
    }
    Ok(n)
}

fn factors_py<'py>(py: Python<'py>, f: &[f32], width: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let rows = f.len().checked_div(width).unwrap_or(0);
    let a =
        ndarray::Array2::from_shape_vec((rows, width), f.to_vec()).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyArray2::from_owned_array(py, a))
}

/// Methods every model class shares: serving, similarity, metrics, persistence.
macro_rules! shared_methods {
    ($cls:ident, $model:ty, $name:literal, { $($extra:tt)* }) => {
        impl $cls {
            /// The fitted model. Serving methods clone this `Arc` and release their borrow
            /// of the Python object before dropping the GIL, and `fit` / the partial fits
            /// build a new model and swap it in: a call on another thread never meets a
            /// PyO3 "Already borrowed" error, it serves the model as it was when it began.
            fn fitted(&self) -> PyResult<&Arc<$model>> {
                self.model.as_ref().ok_or_else(|| crate::errors::to_py(Error::NotFitted(concat!($name, " use"))))
            }

            /// The fitted model for a change made in place (cloned first if a call on
            /// another thread still serves from it).
            fn fitted_mut(&mut self, what: &'static str) -> PyResult<&mut $model> {
                let m = self.model.as_mut().ok_or_else(|| crate::errors::to_py(Error::NotFitted(what)))?;
                Ok(Arc::make_mut(m))
            }
        }

        #[pymethods]
        impl $cls {
            #[getter]
            fn is_fitted(&self) -> bool {
                self.model.is_some()
            }

            #[getter]
            fn n_users(&self) -> PyResult<usize> {
                Ok(self.fitted()?.n_users())
            }

            #[getter]
            fn n_items(&self) -> PyResult<usize> {
                Ok(self.fitted()?.n_items())
            }

            #[pyo3(signature = (users, n, filter_seen, rows=None, allow=None, deny=None, recalculate=false, chunk=0))]
            #[allow(clippy::too_many_arguments)]
            fn recommend<'py>(
                slf: PyRef<'py, Self>,
                py: Python<'py>,
                users: PyReadonlyArray1<'py, i64>,
                #[pyo3(from_py_with = args::N)] n: usize,
                filter_seen: bool,
                rows: Option<Csr<'py>>,
                allow: Option<PyReadonlyArray1<'py, i64>>,
                deny: Option<PyReadonlyArray1<'py, i64>>,
                recalculate: bool,
                chunk: usize,
            ) -> PyResult<Served<'py>> {
                let (m, threads) = (slf.fitted()?.clone(), slf.threads);
                drop(slf);
                let n_items = m.n_items();
                let mut filter = Filter::new().exclude_seen(filter_seen);
                let mut candidates = n_items;
                if let Some(a) = item_list(allow, n_items)? {
                    candidates = a.iter().collect::<std::collections::HashSet<_>>().len();
                    // implicit ranks a whole `items=` list: seen candidates last, not dropped
                    filter = filter.allow(a).seen_last(true);
                }
                if let Some(d) = item_list(deny, n_items)? {
                    filter = filter.deny(d);
                }
                let rows = rows.as_ref().map(rows_from).transpose()?;
                if let Some(r) = &rows {
                    if r.n_cols() != n_items {
                        return Err(PyValueError::new_err(format!(
                            "user_items has {} item columns, the model has {n_items} items",
                            r.n_cols()
                        )));
                    }
                }
                // 0 = the default: a fixed budget of scores per chunk (see `default_chunk`)
                let chunk = if chunk == 0 { imp::default_chunk(n_items) } else { chunk };
                let users = slice(&users, "userid")?.to_vec();
                serve(py, &*m, &users, n, rows, filter, recalculate, chunk, threads, candidates)
            }

            fn similar_items<'py>(
                slf: PyRef<'py, Self>,
                py: Python<'py>,
                item: &Bound<'py, PyAny>,
                #[pyo3(from_py_with = args::N)] n: usize,
            ) -> PyResult<(Bound<'py, PyArray1<i32>>, Bound<'py, PyArray1<f32>>)> {
                let m = slf.fitted()?.clone();
                drop(slf);
                let item = to_index(item, "item", m.n_items())?;
                let n = positive(n, "N")?;
                Ok(pairs(py, py.detach(|| m.similar_items(item, n)).py()?))
            }

            fn similar_users<'py>(
                slf: PyRef<'py, Self>,
                py: Python<'py>,
                user: &Bound<'py, PyAny>,
                #[pyo3(from_py_with = args::N)] n: usize,
            ) -> PyResult<(Bound<'py, PyArray1<i32>>, Bound<'py, PyArray1<f32>>)> {
                let m = slf.fitted()?.clone();
                drop(slf);
                let user = to_index(user, "user", m.n_users())?;
                let n = positive(n, "N")?;
                Ok(pairs(py, py.detach(|| m.similar_users(user, n)).py()?))
            }

            /// implicit's ranking metrics (precision, map, ndcg, auc, users) at K.
            fn ranking_metrics(
                slf: PyRef<'_, Self>,
                py: Python<'_>,
                train: Csr<'_>,
                test: Csr<'_>,
                #[pyo3(from_py_with = args::K)] k: usize,
            ) -> PyResult<Vec<(String, f64)>> {
                let (m, threads) = (slf.fitted()?.clone(), slf.threads);
                drop(slf);
                let k = positive(k, "K")?;
                let (train, test) = (rows_from(&train)?, rows_from(&test)?);
                let pool = pool(threads)?;
                let r = py.detach(|| pool.install(|| imp::ranking_metrics_at_k(&*m, &train, &test, k))).py()?;
                Ok(vec![
                    ("precision".into(), r.precision),
                    ("map".into(), r.map),
                    ("ndcg".into(), r.ndcg),
                    ("auc".into(), r.auc),
                ])
            }

            /// Names the users and items (index i = the i-th id); duplicates are an error.
            fn set_ids(&mut self, users: &Bound<'_, PyAny>, items: &Bound<'_, PyAny>) -> PyResult<()> {
                let ids = mercato::recommend::ModelIds {
                    users: IdMap::from_ids(external_ids(users)?).py()?,
                    items: IdMap::from_ids(external_ids(items)?).py()?,
                };
                self.fitted_mut("set_ids")?.set_ids(Some(ids)).py()
            }

            #[getter]
            fn has_ids(&self) -> PyResult<bool> {
                Ok(self.fitted()?.ids().is_some())
            }

            /// Indices of external user (`users=true`) or item ids; `KeyError` for unknown ones.
            fn to_indices(&self, ids: &Bound<'_, PyAny>, users: bool) -> PyResult<Vec<i64>> {
                let map = id_map(self.fitted()?.ids(), users)?;
                external_ids(ids)?
                    .iter()
                    .map(|id| {
                        map.index(id).map(|i| i as i64).ok_or_else(|| {
                            PyKeyError::new_err(format!("unknown {} id: {id}", if users { "user" } else { "item" }))
                        })
                    })
                    .collect()
            }

            /// External ids of user or item indices (a list, or an int64 array when all are ints).
            fn to_ids<'py>(
                &self,
                py: Python<'py>,
                indices: PyReadonlyArray1<'py, i64>,
                users: bool,
            ) -> PyResult<Bound<'py, PyAny>> {
                let map = id_map(self.fitted()?.ids(), users)?;
                let ids: Vec<ExternalId> = slice(&indices, "indices")?
                    .iter()
                    .map(|&i| {
                        usize::try_from(i).ok().and_then(|i| map.get_id(i)).cloned().ok_or_else(|| {
                            PyKeyError::new_err(format!("{} index {i} has no id", if users { "user" } else { "item" }))
                        })
                    })
                    .collect::<PyResult<_>>()?;
                ids_to_py(py, &ids)
            }

            /// Indices of user or item ids for a fold-in: known ids keep theirs, unknown ones get
            /// the next free indices (`n_users()`, ...) in order of first appearance.
            fn fold_in_indices(&self, ids: &Bound<'_, PyAny>, users: bool) -> PyResult<Vec<i64>> {
                let m = self.fitted()?;
                let map = id_map(m.ids(), users)?;
                let n = if users { m.n_users() } else { m.n_items() };
                if map.len() != n {
                    return Err(PyValueError::new_err("the model has users or items without ids"));
                }
                let mut fresh = IdMap::new();
                Ok(external_ids(ids)?
                    .into_iter()
                    .map(|id| match map.index(&id) {
                        Some(i) => i as i64,
                        None => (n + fresh.insert(id)) as i64,
                    })
                    .collect())
            }

            /// Appends ids for the users (items) a fold-in added, in index order.
            fn extend_ids(&mut self, ids: &Bound<'_, PyAny>, users: bool) -> PyResult<()> {
                let new = external_ids(ids)?;
                let m = self.fitted_mut("extend_ids")?;
                let mut map = m.ids().cloned().ok_or_else(|| PyValueError::new_err("the model has no ids"))?;
                let target = if users { &mut map.users } else { &mut map.items };
                for id in new {
                    let before = target.len();
                    if target.insert(id.clone()) != before {
                        return Err(PyValueError::new_err(format!("id {id} is already known")));
                    }
                }
                m.set_ids(Some(map)).py()
            }

            /// The stored training rows as (indptr, indices, data).
            fn train_rows<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<PyCsr<'py>> {
                Ok(csr_to_py(py, self.fitted()?.rows().raw()))
            }

            fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                model_to_pybytes(py, &**self.fitted()?)
            }

            /// Checks and decodes without the GIL (a large model takes a while).
            #[staticmethod]
            fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
                let bytes = data.to_vec();
                let model = py.detach(|| <$model>::from_bytes(bytes)).py()?;
                Ok(Self::from_model(model))
            }

            fn save(slf: PyRef<'_, Self>, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
                let m = slf.fitted()?.clone();
                drop(slf);
                py.detach(|| m.save(&path)).py()
            }

            #[staticmethod]
            fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
                let model = py.detach(|| <$model>::load(&path)).py()?;
                Ok(Self::from_model(model))
            }

            #[getter]
            fn num_threads(&self) -> usize {
                self.threads
            }

            #[setter]
            fn set_num_threads(&mut self, #[pyo3(from_py_with = args::num_threads)] t: usize) {
                self.threads = t;
            }

            $($extra)*
        }
    };
}

/// Rust side of `mercato.recommend.ALS`.
#[pyclass(module = "mercato.recommend", name = "_ALS")]
pub struct PyAls {
    params: imp::AlsParams,
    threads: usize,
    model: Option<Arc<Als>>,
}

impl PyAls {
    fn from_model(model: Als) -> Self {
        PyAls { params: model.hyper_params().clone(), threads: 0, model: Some(Arc::new(model)) }
    }
}

shared_methods!(PyAls, Als, "ALS", {
    /// Unfitted, from `AlsParams` as JSON (validated by the core, errors name the field).
    #[new]
    fn new(params_json: &str) -> PyResult<Self> {
        let params = imp::AlsParams::from_json(params_json).py()?;
        Ok(PyAls { threads: params.num_threads.unwrap_or(0), params, model: None })
    }

    /// Trains; `callback`, when given, is called after every iteration with
    /// `(iteration, elapsed_seconds, loss_or_None)`, as implicit's ALS (an exception from it stops training and propagates).
    #[pyo3(signature = (csr, show_progress=None, callback=None))]
    fn fit(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        csr: Csr<'_>,
        show_progress: Option<bool>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let rows = rows_from(&csr)?;
        let mut params = {
            let me = slf.borrow();
            me.params.clone().num_threads((me.threads > 0).then_some(me.threads))
        };
        if let Some(show) = show_progress {
            params = params.show_progress(show);
        }
        let mut watch = Callback::new(callback);
        // trained without holding a borrow, then swapped in (see `fitted`)
        let model = py.detach(|| params.fit_rows_observed(&rows, &mut |r: &imp::IterationReport| watch.call(r)));
        let model = watch.result(model)?;
        slf.borrow_mut().model = Some(Arc::new(model));
        Ok(())
    }

    fn partial_fit_users(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        users: PyReadonlyArray1<'_, i64>,
        csr: Csr<'_>,
    ) -> PyResult<()> {
        let rows = rows_from(&csr)?;
        let users = indices(&users, "userids")?;
        let m =
            slf.borrow().model.clone().ok_or_else(|| crate::errors::to_py(Error::NotFitted("partial_fit_users")))?;
        // a copy is updated and swapped in, so concurrent readers keep a consistent model
        let updated = py
            .detach(|| {
                let mut m = (*m).clone();
                m.partial_fit_users(&users, &rows).map(|()| m)
            })
            .py()?;
        slf.borrow_mut().model = Some(Arc::new(updated));
        Ok(())
    }

    fn partial_fit_items(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        items: PyReadonlyArray1<'_, i64>,
        csr: Csr<'_>,
    ) -> PyResult<()> {
        let rows = rows_from(&csr)?;
        let items = indices(&items, "itemids")?;
        let m =
            slf.borrow().model.clone().ok_or_else(|| crate::errors::to_py(Error::NotFitted("partial_fit_items")))?;
        // a copy is updated and swapped in, so concurrent readers keep a consistent model
        let updated = py
            .detach(|| {
                let mut m = (*m).clone();
                m.partial_fit_items(&items, &rows).map(|()| m)
            })
            .py()?;
        slf.borrow_mut().model = Some(Arc::new(updated));
        Ok(())
    }

    /// Training loss per iteration (empty unless `calculate_training_loss`).
    #[getter]
    fn loss_history(&self) -> PyResult<Vec<f32>> {
        Ok(self.fitted()?.loss_history().to_vec())
    }

    /// The penalty λ the model was trained with.
    #[getter]
    fn regularization(&self) -> PyResult<f32> {
        Ok(self.fitted()?.regularization())
    }

    /// Constructor arguments as the Python class names them (restored after loading).
    #[getter]
    fn hyper_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let p = &self.params;
        let d = pyo3::types::PyDict::new(py);
        d.set_item("factors", p.factors)?;
        d.set_item("regularization", (!p.scale_regularization).then_some(p.regularization))?;
        d.set_item("alpha", p.alpha)?;
        d.set_item("iterations", p.iterations)?;
        d.set_item(
            "confidence",
            match p.confidence {
                Confidence::Linear => "linear",
                Confidence::Implicit => "implicit",
                Confidence::Binary => "binary",
            },
        )?;
        d.set_item("use_cg", p.solver == AlsSolver::ConjugateGradient)?;
        d.set_item("cg_steps", p.cg_steps)?;
        d.set_item("seed", p.seed)?;
        d.set_item("calculate_training_loss", p.calculate_training_loss)?;
        Ok(d)
    }

    #[getter]
    fn user_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let m = self.fitted()?;
        factors_py(py, m.user_factors(), m.factors())
    }

    #[getter]
    fn item_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let m = self.fitted()?;
        factors_py(py, m.item_factors(), m.factors())
    }
});

/// Rust side of `mercato.recommend.BPR`.
#[pyclass(module = "mercato.recommend", name = "_BPR")]
pub struct PyBpr {
    params: imp::BprParams,
    threads: usize,
    model: Option<Arc<Bpr>>,
}

impl PyBpr {
    fn from_model(model: Bpr) -> Self {
        PyBpr { params: model.hyper_params().clone(), threads: 0, model: Some(Arc::new(model)) }
    }
}

shared_methods!(PyBpr, Bpr, "BPR", {
    /// Unfitted, from `BprParams` as JSON (validated by the core, errors name the field).
    #[new]
    fn new(params_json: &str) -> PyResult<Self> {
        let params = imp::BprParams::from_json(params_json).py()?;
        Ok(PyBpr { threads: params.num_threads.unwrap_or(0), params, model: None })
    }

    /// Trains; `callback`, when given, is called after every iteration with
    /// `(epoch, elapsed_seconds, correct, skipped)`, as implicit's BPR (an exception from it stops training and propagates).
    #[pyo3(signature = (csr, show_progress=None, callback=None))]
    fn fit(
        slf: &Bound<'_, Self>,
        py: Python<'_>,
        csr: Csr<'_>,
        show_progress: Option<bool>,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let rows = rows_from(&csr)?;
        let mut params = {
            let me = slf.borrow();
            me.params.clone().num_threads((me.threads > 0).then_some(me.threads))
        };
        if let Some(show) = show_progress {
            params = params.show_progress(show);
        }
        let mut watch = Callback { bpr: true, ..Callback::new(callback) };
        // trained without holding a borrow, then swapped in (see `fitted`)
        let model = py.detach(|| params.fit_rows_observed(&rows, &mut |r: &imp::IterationReport| watch.call(r)));
        let model = watch.result(model)?;
        slf.borrow_mut().model = Some(Arc::new(model));
        Ok(())
    }

    /// Mean BPR loss per epoch (empty unless `calculate_training_loss`).
    #[getter]
    fn loss_history(&self) -> PyResult<Vec<f32>> {
        Ok(self.fitted()?.loss_history().to_vec())
    }

    /// Constructor arguments as the Python class names them (restored after loading).
    #[getter]
    fn hyper_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let p = &self.params;
        let d = pyo3::types::PyDict::new(py);
        d.set_item("factors", p.factors)?;
        d.set_item("learning_rate", p.learning_rate)?;
        d.set_item("regularization", p.regularization)?;
        d.set_item("iterations", p.iterations)?;
        d.set_item("verify_negative_samples", p.verify_negative_samples)?;
        let ns = if p.negative_sampling == NegativeSampling::Uniform { "uniform" } else { "popularity" };
        d.set_item("negative_sampling", ns)?;
        d.set_item("blocks", p.blocks)?;
        d.set_item("seed", p.seed)?;
        d.set_item("calculate_training_loss", p.calculate_training_loss)?;
        Ok(d)
    }

    #[getter]
    fn user_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let m = self.fitted()?;
        factors_py(py, m.user_factors(), m.width())
    }

    #[getter]
    fn item_factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let m = self.fitted()?;
        factors_py(py, m.item_factors(), m.width())
    }
});

/// Rust side of `mercato.recommend.ItemKNN`.
#[pyclass(module = "mercato.recommend", name = "_ItemKNN")]
pub struct PyItemKnn {
    params: imp::ItemKnnParams,
    threads: usize,
    model: Option<Arc<ItemKnn>>,
}

impl PyItemKnn {
    fn from_model(model: ItemKnn) -> Self {
        PyItemKnn { params: model.hyper_params().clone(), threads: 0, model: Some(Arc::new(model)) }
    }
}

shared_methods!(PyItemKnn, ItemKnn, "ItemKNN", {
    /// Unfitted, from `ItemKnnParams` as JSON (validated by the core, errors name the field).
    #[new]
    fn new(params_json: &str) -> PyResult<Self> {
        let params = imp::ItemKnnParams::from_json(params_json).py()?;
        Ok(PyItemKnn { threads: params.num_threads.unwrap_or(0), params, model: None })
    }

    fn fit(slf: &Bound<'_, Self>, py: Python<'_>, csr: Csr<'_>) -> PyResult<()> {
        let rows = rows_from(&csr)?;
        let params = {
            let me = slf.borrow();
            me.params.clone().num_threads((me.threads > 0).then_some(me.threads))
        };
        let model = py.detach(|| params.fit_rows(&rows)).py()?;
        slf.borrow_mut().model = Some(Arc::new(model));
        Ok(())
    }

    /// Constructor arguments as the Python class names them (restored after loading).
    #[getter]
    fn hyper_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(py);
        d.set_item("K", self.params.k)?;
        let (name, k1, b) = match self.params.weighting {
            KnnWeighting::Cosine => ("cosine", None, None),
            KnnWeighting::Bm25 { k1, b } => ("bm25", Some(k1), Some(b)),
            KnnWeighting::TfIdf => ("tfidf", None, None),
            KnnWeighting::None => ("none", None, None),
        };
        d.set_item("weighting", name)?;
        if let (Some(k1), Some(b)) = (k1, b) {
            d.set_item("K1", k1)?;
            d.set_item("B", b)?;
        }
        Ok(d)
    }

    /// The item × item similarity as (indptr, indices, data).
    fn similarity<'py>(&self, py: Python<'py>) -> PyResult<PyCsr<'py>> {
        Ok(csr_to_py(py, self.fitted()?.similarity().raw()))
    }
});

type RawCsr<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f32>>);

/// Applies a weighting to a CSR matrix; the result is returned raw (BM25/TF-IDF idf can be
/// negative for a term present in nearly every row, and implicit keeps those values).
fn weigh<'py>(
    py: Python<'py>,
    csr: Csr<'py>,
    f: impl FnOnce(&sprs::CsMat<f32>) -> mercato::Result<sprs::CsMat<f32>> + Send,
) -> PyResult<RawCsr<'py>> {
    let rows = rows_from(&csr)?;
    let (indptr, indices, data) = rows.raw();
    let m = sprs::CsMat::new(
        (rows.n_rows(), rows.n_cols()),
        indptr.to_vec(),
        indices.iter().map(|&i| i as usize).collect(),
        data.to_vec(),
    );
    let w = py.detach(|| f(&m)).py()?;
    Ok((
        PyArray1::from_vec(py, w.indptr().to_proper().iter().map(|&p| p as i64).collect()),
        PyArray1::from_vec(py, w.indices().iter().map(|&i| i as i64).collect()),
        PyArray1::from_slice(py, w.data()),
    ))
}

/// BM25 weighting of the rows of a CSR matrix (implicit's `bm25_weight`).
#[pyfunction]
fn bm25_weight_csr<'py>(py: Python<'py>, csr: Csr<'py>, k1: f64, b: f64) -> PyResult<RawCsr<'py>> {
    weigh(py, csr, move |m| imp::bm25_weight(m, k1, b))
}

/// TF-IDF weighting of the rows of a CSR matrix (implicit's `tfidf_weight`).
#[pyfunction]
fn tfidf_weight_csr<'py>(py: Python<'py>, csr: Csr<'py>) -> PyResult<RawCsr<'py>> {
    weigh(py, csr, imp::tfidf_weight)
}

/// `ln(1 + r / eps)` of every value.
#[pyfunction]
fn log_weight_csr<'py>(py: Python<'py>, csr: Csr<'py>, eps: f64) -> PyResult<RawCsr<'py>> {
    weigh(py, csr, move |m| imp::log_weight(m, eps))
}

/// Registers this module's classes and functions on `m`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAls>()?;
    m.add_class::<PyBpr>()?;
    m.add_class::<PyItemKnn>()?;
    m.add_function(wrap_pyfunction!(bm25_weight_csr, m)?)?;
    m.add_function(wrap_pyfunction!(tfidf_weight_csr, m)?)?;
    m.add_function(wrap_pyfunction!(log_weight_csr, m)?)?;
    m.add_function(wrap_pyfunction!(als_loss, m)?)?;
    Ok(())
}
