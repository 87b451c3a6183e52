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
mod recommend_hybrid;
mod recommend_implicit;
mod recommend_svd;
mod regression;

pyo3::create_exception!(
    mercato,
    ModelFormatError,
    pyo3::exceptions::PyValueError,
    "A model file (or pickle) that is truncated, tampered with, of another kind or from a newer mercato."
);

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

/// The kind in a model file's header (`"recommend.als"`, `"fraud.ecod"`, ...): how
/// `mercato.load` picks the estimator class before the model's own reader checks the file.
#[pyfunction]
fn peek_kind(data: &[u8]) -> PyResult<String> {
    use errors::PyResultExt;
    mercato::persist::peek_kind(data).py()
}

/// What an unfitted estimator's file holds: the model kind it will be and its constructor
/// arguments (JSON written by the Python base class).
#[derive(serde::Serialize, serde::Deserialize)]
struct Unfitted {
    kind: String,
    params: String,
}

/// The checked model format for an estimator that is not fitted yet (kind `"unfitted"`):
/// `save` works before `fit`, as in implicit, and `load` gives back the same estimator.
#[pyfunction]
fn unfitted_to_bytes<'py>(
    py: Python<'py>,
    kind: &str,
    params_json: &str,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    use errors::PyResultExt;
    let meta = Unfitted { kind: kind.to_string(), params: params_json.to_string() };
    let bytes = mercato::persist::ModelWriter::new("unfitted", &meta).and_then(|w| w.to_bytes()).py()?;
    Ok(pyo3::types::PyBytes::new(py, &bytes))
}

/// `(kind, params_json)` of an [`unfitted_to_bytes`] file (validated: magic, checksum).
#[pyfunction]
fn unfitted_from_bytes(data: &[u8]) -> PyResult<(String, String)> {
    use errors::PyResultExt;
    let reader = mercato::persist::ModelReader::from_bytes(data.to_vec(), "unfitted").py()?;
    let meta: Unfitted = reader.meta().py()?;
    Ok((meta.kind, meta.params))
}

/// The Rust defaults of a model family's hyper-parameters as JSON, by model-file kind: the
/// Python constructors' defaults are tested against these.
#[pyfunction]
fn default_params(kind: &str) -> PyResult<String> {
    use mercato::params::Params;
    use mercato::{fraud, recommend};
    Ok(match kind {
        "recommend.baseline" => recommend::BaselineParams::default().to_json(),
        "recommend.funk_svd" => recommend::FunkSVDParams::default().to_json(),
        "recommend.svdpp" => recommend::SVDppParams::default().to_json(),
        "recommend.knn" => recommend::KNNParams::default().to_json(),
        "recommend.truncated_svd" => recommend::SvdParams::default().to_json(),
        "recommend.als" => recommend::AlsParams::default().to_json(),
        "recommend.bpr" => recommend::BprParams::default().to_json(),
        "recommend.item_knn" => recommend::ItemKnnParams::default().to_json(),
        "regression.linear" => mercato::regression::LinearRegressionParams::default().to_json(),
        "recommend.hybrid_mf" => recommend::hybrid::HybridMFParams::default().to_json(),
        "recommend.item_content" => recommend::hybrid::ItemContentParams::default().to_json(),
        "fraud.iforest" => fraud::IsolationForestParams::default().to_json(),
        "fraud.ecod" => fraud::EcodParams::default().to_json(),
        "fraud.copod" => fraud::CopodParams::default().to_json(),
        "fraud.hbos" => fraud::HbosParams::default().to_json(),
        "fraud.knn" => fraud::KnnParams::default().to_json(),
        "fraud.lof" => fraud::LofParams::default().to_json(),
        "fraud.mahalanobis" => fraud::MahalanobisParams::default().to_json(),
        "fraud.pca" => fraud::PcaParams::default().to_json(),
        "fraud.ensemble" => fraud::EnsembleParams::default().to_json(),
        other => return Err(pyo3::exceptions::PyValueError::new_err(format!("unknown model kind {other:?}"))),
    })
}

#[pymodule]
fn _mercato(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(peek_kind, m)?)?;
    m.add_function(wrap_pyfunction!(default_params, m)?)?;
    m.add_function(wrap_pyfunction!(unfitted_to_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(unfitted_from_bytes, m)?)?;
    m.add("ModelFormatError", m.py().get_type::<ModelFormatError>())?;
    submodule(m, "metrics", metrics::register)?;
    submodule(m, "datasets", datasets::register)?;
    submodule(m, "fraud", fraud::register)?;
    submodule(m, "regression", regression::register)?;
    submodule(m, "pricing", regression::register_pricing)?;
    submodule(m, "recommend", |r| {
        recommend_explicit::register(r)?;
        recommend_implicit::register(r)?;
        recommend_hybrid::register(r)?;
        recommend_svd::register(r)
    })?;
    Ok(())
}
