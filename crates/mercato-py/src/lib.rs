//! Python bindings for mercato: thin conversions around the Rust core, one file per core
//! module. The extension is `mercato._mercato`; the Python package `mercato` re-exports it.
//!
//! Conventions: every heavy call releases the GIL (`py.detach`), every Rust error becomes a
//! Python exception through [`errors::to_py`], every model pickles through the model format.

use pyo3::prelude::*;

#[allow(dead_code)] // helpers used as the model bindings land
mod convert;
mod datasets;
mod errors;
mod fraud;
mod metrics;
mod recommend_explicit;
mod recommend_implicit;
mod recommend_svd;
mod regression;

fn submodule<'py>(
    parent: &Bound<'py, PyModule>,
    name: &str,
    fill: impl Fn(&Bound<'py, PyModule>) -> PyResult<()>,
) -> PyResult<()> {
    let m = PyModule::new(parent.py(), name)?;
    fill(&m)?;
    parent.add_submodule(&m)?;
    // Register in sys.modules so `from mercato._mercato.fraud import X` works.
    let qualified = format!("mercato._mercato.{name}");
    parent.py().import("sys")?.getattr("modules")?.set_item(qualified, &m)
}

#[pymodule]
fn _mercato(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ModelFormatError", m.py().get_type::<errors::ModelFormatError>())?;
    submodule(m, "metrics", metrics::register)?;
    submodule(m, "datasets", datasets::register)?;
    submodule(m, "fraud", fraud::register)?;
    submodule(m, "regression", regression::register)?;
    submodule(m, "pricing", regression::register_pricing)?;
    submodule(m, "recommend", |r| {
        recommend_explicit::register(r)?;
        recommend_implicit::register(r)?;
        recommend_svd::register(r)
    })?;
    Ok(())
}
