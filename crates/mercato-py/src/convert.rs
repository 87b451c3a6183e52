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
    if let Ok(v) = obj.extract::<i64>() {
        return Ok(ExternalId::Int(v));
    }
    if let Ok(v) = obj.extract::<u64>() {
        // uint64 ids from 2**63 keep their value instead of wrapping to negative
        return Ok(ExternalId::from_u64(v));
    }
    if obj.is_instance_of::<pyo3::types::PyInt>() || obj.hasattr("__index__")? {
        return Err(PyValueError::new_err(format!(
            "integer id {} is out of range: ids must lie in -2**63 .. 2**64 - 1 (use a str id for larger numbers)",
            obj.str()?
        )));
    }
    Err(PyTypeError::new_err(format!("ids must be int or str, got {}", obj.get_type().name()?)))
}

/// Reads a sequence of ids (list, tuple, numpy array of ints or objects).
pub fn external_ids(obj: &Bound<'_, PyAny>) -> PyResult<Vec<ExternalId>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i64>>() {
        return Ok(a.as_array().iter().map(|&v| ExternalId::Int(v)).collect());
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i32>>() {
        return Ok(a.as_array().iter().map(|&v| ExternalId::Int(v as i64)).collect());
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, u64>>() {
        return Ok(a.as_array().iter().map(|&v| ExternalId::from_u64(v)).collect());
    }
    obj.try_iter()?.map(|item| external_id(&item?)).collect()
}

/// External ids as a Python object: an int64 numpy array when all are integers, else a list.
pub fn ids_to_py<'py>(py: Python<'py>, ids: &[ExternalId]) -> PyResult<Bound<'py, PyAny>> {
    let ints: Option<Vec<i64>> = ids
        .iter()
        .map(|id| match id {
            ExternalId::Int(v) => Some(*v),
            ExternalId::UInt(_) | ExternalId::Str(_) => None,
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
        ExternalId::UInt(v) => v.into_pyobject(py)?.into_any(),
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

/// CSR parts (indptr, indices, data) handed to Python, as scipy builds a `csr_matrix` from.
pub type PyCsr<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i32>>, Bound<'py, PyArray1<f32>>);

/// The raw parts of a core CSR matrix ([`mercato::data::Rows::raw`], feature rows included) as [`PyCsr`].
pub fn csr_to_py<'py>(py: Python<'py>, (indptr, indices, data): (&[usize], &[u32], &[f32])) -> PyCsr<'py> {
    (
        PyArray1::from_vec(py, indptr.iter().map(|&p| p as i64).collect()),
        PyArray1::from_vec(py, indices.iter().map(|&i| i as i32).collect()),
        PyArray1::from_slice(py, data),
    )
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

/// A non-negative integer argument named `name`, as `T`. A negative value or one above
/// `T`'s maximum is a `ValueError` naming the parameter (PyO3's own conversion raises
/// `OverflowError: can't convert negative int to unsigned` without saying which argument);
/// anything but an integer (bools included) is a `TypeError`.
pub fn unsigned<T: TryFrom<u128>>(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<T> {
    if obj.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!("{name} must be an integer, got bool")));
    }
    let max = || std::any::type_name::<T>();
    match obj.extract::<i128>() {
        Ok(v) if v < 0 => Err(PyValueError::new_err(format!("{name} must be >= 0, got {v}"))),
        Ok(v) => T::try_from(v as u128)
            .map_err(|_| PyValueError::new_err(format!("{name} = {v} is too large ({} max)", max()))),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(obj.py()) => {
            Err(PyValueError::new_err(format!("{name} = {} is out of range ({} max)", obj.str()?, max())))
        }
        Err(_) => Err(PyTypeError::new_err(format!("{name} must be an integer, got {}", obj.get_type().name()?))),
    }
}

/// `#[pyo3(from_py_with = args::NAME)]` extractors: [`unsigned`] with the Python name of the
/// parameter, so `ALS(factors=-1)` says "factors must be >= 0, got -1".
#[allow(non_snake_case)]
pub mod args {
    use pyo3::prelude::*;

    macro_rules! named {
        ($($name:ident: $t:ty),* $(,)?) => {$(
            #[doc = concat!("The non-negative argument `", stringify!($name), "`.")]
            pub fn $name(obj: &Bound<'_, PyAny>) -> PyResult<$t> {
                super::unsigned(obj, stringify!($name))
            }
        )*};
    }

    named!(
        factors: usize, iterations: usize, cg_steps: usize, seed: u64, num_threads: usize, blocks: usize,
        K: usize, chunk: usize, n: usize, N: usize, k: usize, n_classes: usize, epochs: usize,
        size: usize, channels: usize, n_users: usize,
    );
}
