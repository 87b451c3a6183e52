//! Rust errors → the Python exceptions users expect. No path here raises PanicException.
//!
//! Shared by both extensions: `mercato-vision-py` compiles this same file (`#[path]`), so
//! `_mercato` and `_mercato_vision` map every error the same way, and model-file errors from
//! either raise the one `mercato.ModelFormatError` class (defined in `_mercato`'s `lib.rs`).

use mercato::Error;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// `mercato.ModelFormatError` with `msg`, looked up in `mercato._mercato` (imported by then:
/// it is the package's core); a `ValueError`, its base class, if that import fails.
fn model_format_error(msg: String) -> PyErr {
    Python::attach(|py| {
        let cls = py
            .import("mercato._mercato")
            .and_then(|m| m.getattr("ModelFormatError"))
            .ok()
            .and_then(|c| c.cast_into::<PyType>().ok());
        match cls {
            Some(cls) => PyErr::from_type(cls, msg),
            None => PyValueError::new_err(msg),
        }
    })
}

/// Maps a [`mercato::Error`] to its Python exception.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::UnknownId { .. } => PyKeyError::new_err(msg),
        Error::ModelFormat(_) => model_format_error(msg),
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
        Error::Io { .. } => PyOSError::new_err(msg),
        Error::Torch(_) => PyRuntimeError::new_err(msg),
        // InvalidInput, InvalidParameter, ShapeMismatch, NotFitted, Parse, and any variant added
        // later: the caller's values.
        _ => PyValueError::new_err(msg),
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
