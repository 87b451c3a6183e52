//! `mercato.metrics`: thin wrappers over `mercato::metrics`.

use mercato::metrics;
use numpy::{PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::convert::f64_vec;
use crate::errors::PyResultExt;

fn labels(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let v: Vec<i64> = obj.extract()?;
    v.into_iter()
        .map(|l| match l {
            0 => Ok(0u8),
            1 => Ok(1u8),
            other => Err(pyo3::exceptions::PyValueError::new_err(format!("labels must be 0 or 1, got {other}"))),
        })
        .collect()
}

fn classes(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<usize>> {
    let v: Vec<i64> = obj.extract()?;
    v.into_iter()
        .map(|c| {
            usize::try_from(c).map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(format!("{what} must hold non-negative classes, got {c}"))
            })
        })
        .collect()
}

fn sorted_items(obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let mut v = classes(obj, "relevant")?;
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// Root mean squared error.
#[pyfunction]
fn rmse(y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    metrics::rmse(&f64_vec(y_true, "y_true")?, &f64_vec(y_pred, "y_pred")?).py()
}

/// Mean absolute error.
#[pyfunction]
fn mae(y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    metrics::mae(&f64_vec(y_true, "y_true")?, &f64_vec(y_pred, "y_pred")?).py()
}

/// ROC-AUC of scores against 0/1 labels (as sklearn.metrics.roc_auc_score).
#[pyfunction]
fn roc_auc(y_true: &Bound<'_, PyAny>, scores: &Bound<'_, PyAny>) -> PyResult<f64> {
    metrics::roc_auc(&f64_vec(scores, "scores")?, &labels(y_true)?).py()
}

/// Average precision of scores against 0/1 labels (as sklearn.metrics.average_precision_score).
#[pyfunction]
fn average_precision(y_true: &Bound<'_, PyAny>, scores: &Bound<'_, PyAny>) -> PyResult<f64> {
    metrics::average_precision(&f64_vec(scores, "scores")?, &labels(y_true)?).py()
}

/// Fraction of correct class predictions.
#[pyfunction]
fn accuracy(y_true: &Bound<'_, PyAny>, y_pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    metrics::accuracy(&classes(y_true, "y_true")?, &classes(y_pred, "y_pred")?).py()
}

/// Confusion matrix C[true, predicted] (int64, sklearn layout).
#[pyfunction]
#[pyo3(signature = (y_true, y_pred, n_classes=None))]
fn confusion_matrix<'py>(
    py: Python<'py>,
    y_true: &Bound<'py, PyAny>,
    y_pred: &Bound<'py, PyAny>,
    n_classes: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let (t, p) = (classes(y_true, "y_true")?, classes(y_pred, "y_pred")?);
    let n = n_classes.unwrap_or_else(|| t.iter().chain(&p).max().map_or(0, |m| m + 1));
    let c = metrics::confusion_matrix(&t, &p, n).py()?;
    Ok(PyArray2::from_owned_array(py, c.mapv(|v| v as i64)))
}

/// Precision@k of a ranked list against the relevant items.
#[pyfunction]
fn precision_at_k(recommended: PyReadonlyArray1<'_, i64>, relevant: &Bound<'_, PyAny>, k: usize) -> PyResult<f64> {
    let rec: Vec<usize> = recommended.as_array().iter().map(|&v| v.max(0) as usize).collect();
    metrics::precision_at_k(&rec, &sorted_items(relevant)?, k).py()
}

/// Recall@k of a ranked list against the relevant items.
#[pyfunction]
fn recall_at_k(recommended: PyReadonlyArray1<'_, i64>, relevant: &Bound<'_, PyAny>, k: usize) -> PyResult<f64> {
    let rec: Vec<usize> = recommended.as_array().iter().map(|&v| v.max(0) as usize).collect();
    metrics::recall_at_k(&rec, &sorted_items(relevant)?, k).py()
}

/// NDCG@k (binary relevance) of a ranked list.
#[pyfunction]
fn ndcg_at_k(recommended: PyReadonlyArray1<'_, i64>, relevant: &Bound<'_, PyAny>, k: usize) -> PyResult<f64> {
    let rec: Vec<usize> = recommended.as_array().iter().map(|&v| v.max(0) as usize).collect();
    metrics::ndcg_at_k(&rec, &sorted_items(relevant)?, k).py()
}

/// Average precision@k (the MAP@k term) of a ranked list.
#[pyfunction]
fn average_precision_at_k(
    recommended: PyReadonlyArray1<'_, i64>,
    relevant: &Bound<'_, PyAny>,
    k: usize,
) -> PyResult<f64> {
    let rec: Vec<usize> = recommended.as_array().iter().map(|&v| v.max(0) as usize).collect();
    metrics::average_precision_at_k(&rec, &sorted_items(relevant)?, k).py()
}

/// Registers the functions on `m`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rmse, m)?)?;
    m.add_function(wrap_pyfunction!(mae, m)?)?;
    m.add_function(wrap_pyfunction!(roc_auc, m)?)?;
    m.add_function(wrap_pyfunction!(average_precision, m)?)?;
    m.add_function(wrap_pyfunction!(accuracy, m)?)?;
    m.add_function(wrap_pyfunction!(confusion_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(precision_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(recall_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(ndcg_at_k, m)?)?;
    m.add_function(wrap_pyfunction!(average_precision_at_k, m)?)?;
    Ok(())
}
