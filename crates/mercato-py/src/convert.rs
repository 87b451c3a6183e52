//! Conversions shared by the bindings: ids, arrays, model bytes.

use mercato::data::{ExternalId, IdMap};
use mercato::persist::Persist;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use crate::errors::PyResultExt;

/// Reads one external id: a Python int or str (numpy integer scalars included).
pub fn external_id(obj: &Bound<'_, PyAny>) -> PyResult<ExternalId> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(ExternalId::Str(s.to_str()?.to_string()));
    }
    if obj.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err("ids must be int or str, got bool"));
    }
    match obj.extract::<i64>() {
        Ok(v) => Ok(ExternalId::Int(v)),
        Err(_) => Err(PyTypeError::new_err(format!("ids must be int or str, got {}", obj.get_type().name()?))),
    }
}

/// Reads a sequence of ids (list, tuple, numpy array of ints or objects).
pub fn external_ids(obj: &Bound<'_, PyAny>) -> PyResult<Vec<ExternalId>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i64>>() {
        return Ok(a.as_array().iter().map(|&v| ExternalId::Int(v)).collect());
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i32>>() {
        return Ok(a.as_array().iter().map(|&v| ExternalId::Int(v as i64)).collect());
    }
    obj.try_iter()?.map(|item| external_id(&item?)).collect()
}

/// External ids as a Python object: an int64 numpy array when all are integers, else a list.
pub fn ids_to_py<'py>(py: Python<'py>, ids: &[ExternalId]) -> PyResult<Bound<'py, PyAny>> {
    let ints: Option<Vec<i64>> = ids
        .iter()
        .map(|id| match id {
            ExternalId::Int(v) => Some(*v),
            ExternalId::Str(_) => None,
        })
        .collect();
    match ints {
        Some(v) => Ok(PyArray1::from_vec(py, v).into_any()),
        None => {
            let items: Vec<Bound<'py, PyAny>> = ids.iter().map(|id| id_to_py(py, id)).collect::<PyResult<_>>()?;
            Ok(PyList::new(py, items)?.into_any())
        }
    }
}

/// One external id as a Python int or str.
pub fn id_to_py<'py>(py: Python<'py>, id: &ExternalId) -> PyResult<Bound<'py, PyAny>> {
    Ok(match id {
        ExternalId::Int(v) => v.into_pyobject(py)?.into_any(),
        ExternalId::Str(s) => PyString::new(py, s).into_any(),
    })
}

/// The ids of an [`IdMap`] as a Python object (see [`ids_to_py`]).
pub fn idmap_to_py<'py>(py: Python<'py>, map: &IdMap) -> PyResult<Bound<'py, PyAny>> {
    ids_to_py(py, map.ids())
}

/// A 1-D float64 array, copied only when it is not contiguous.
pub fn f64_vec(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f64>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, f64>>() {
        return Ok(a.as_array().to_vec());
    }
    obj.extract::<Vec<f64>>().map_err(|_| PyValueError::new_err(format!("{what} must be a 1-D array of numbers")))
}

/// A model's file bytes as Python `bytes` (for pickling).
pub fn model_to_pybytes<'py, M: Persist>(py: Python<'py>, model: &M) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = model.to_bytes().py()?;
    Ok(PyBytes::new(py, &bytes))
}

/// Parses model bytes from Python, validating everything (without the GIL: a large model
/// takes a while to check and decode).
pub fn model_from_pybytes<M: Persist + Send>(py: Python<'_>, data: &[u8]) -> PyResult<M> {
    let bytes = data.to_vec();
    py.detach(|| M::from_bytes(bytes)).py()
}
