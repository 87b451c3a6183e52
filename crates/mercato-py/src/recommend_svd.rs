//! Bindings for `mercato::recommend/explicit` (filled in by its issue).

use pyo3::prelude::*;

/// Registers this module's classes and functions on `m`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
