//! Rust errors → the Python exceptions users expect. No path here raises PanicException.

use mercato::Error;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    mercato,
    ModelFormatError,
    PyValueError,
    "A model file (or pickle) that is truncated, tampered with, of another kind or from a newer mercato."
);

/// Maps a [`mercato::Error`] to its Python exception.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::UnknownId { .. } => PyKeyError::new_err(msg),
        Error::ModelFormat(_) => ModelFormatError::new_err(msg),
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
        Error::Io { .. } => PyOSError::new_err(msg),
        Error::Torch(_) => PyRuntimeError::new_err(msg),
        Error::InvalidInput(_) | Error::ShapeMismatch { .. } | Error::NotFitted(_) | Error::Parse { .. } => {
            PyValueError::new_err(msg)
        }
    }
}

/// `.py()?` on a mercato result converts its error.
pub trait PyResultExt<T> {
    /// Converts the error into a Python exception.
    fn py(self) -> PyResult<T>;
}

impl<T> PyResultExt<T> for mercato::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
