//! `mercato.regression`: bindings for `mercato::regression`. The Python classes in
//! `mercato/regression.py` give the scikit-learn / statsmodels surface; parameters arrive as
//! JSON and are validated by the Rust core.

use mercato::params::Params;
use mercato::regression::{IntervalKind, LinearRegression, LinearRegressionParams};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{model_from_pybytes, model_to_pybytes};
use crate::errors::PyResultExt;

/// A fitted linear regression (internal; use `mercato.regression.LinearRegression`).
#[pyclass(name = "_LinearRegression", module = "mercato._mercato.regression", frozen)]
pub struct PyLinearRegression {
    inner: LinearRegression,
}

fn vec1<'py>(py: Python<'py>, v: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_vec(py, v)
}

#[pymethods]
impl PyLinearRegression {
    /// Fits a model (GIL released). `x` may be C- or Fortran-ordered.
    #[staticmethod]
    #[pyo3(signature = (params_json, x, y, sample_weight=None, groups=None, names=None))]
    fn fit(
        py: Python<'_>,
        params_json: &str,
        x: PyReadonlyArray2<'_, f64>,
        y: PyReadonlyArray1<'_, f64>,
        sample_weight: Option<PyReadonlyArray1<'_, f64>>,
        groups: Option<PyReadonlyArray1<'_, i64>>,
        names: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let params = LinearRegressionParams::from_json(params_json).py()?;
        let xv = x.as_array();
        let ys = y.as_slice().map_err(|_| PyValueError::new_err("y must be contiguous"))?;
        let ws = match &sample_weight {
            Some(w) => Some(w.as_slice().map_err(|_| PyValueError::new_err("sample_weight must be contiguous"))?),
            None => None,
        };
        let gs = match &groups {
            Some(g) => Some(g.as_slice().map_err(|_| PyValueError::new_err("groups must be contiguous"))?),
            None => None,
        };
        let inner = py.detach(|| params.fit_named(&xv, ys, ws, gs, names.as_deref())).py()?;
        Ok(PyLinearRegression { inner })
    }

    /// Slopes, one per column.
    #[getter]
    fn coef<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vec1(py, self.inner.coef().to_vec())
    }
    /// Intercept first (when fitted), then slopes.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vec1(py, self.inner.params())
    }
    /// Names of `params` (`const` first).
    #[getter]
    fn param_names(&self) -> Vec<String> {
        self.inner.param_names()
    }
    /// Column names.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names().to_vec()
    }
    /// Standard errors.
    #[getter]
    fn bse<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(vec1(py, self.inner.bse().py()?))
    }
    /// t or z statistics.
    #[getter]
    fn tvalues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(vec1(py, self.inner.tvalues().py()?))
    }
    /// Two-sided p-values.
    #[getter]
    fn pvalues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(vec1(py, self.inner.pvalues().py()?))
    }
    /// Covariance of `params`.
    #[getter]
    fn cov_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        Ok(PyArray2::from_owned_array(py, self.inner.cov_params().py()?.clone()))
    }
    /// (p, 2) confidence intervals.
    fn conf_int<'py>(&self, py: Python<'py>, alpha: f64) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let ci = self.inner.conf_int(alpha).py()?;
        let a = ndarray::Array2::from_shape_fn((ci.len(), 2), |(i, j)| if j == 0 { ci[i].0 } else { ci[i].1 });
        Ok(PyArray2::from_owned_array(py, a))
    }
    /// statsmodels' `summary()` text (see `LinearRegression::summary`).
    fn summary(&self, yname: &str, alpha: f64) -> PyResult<String> {
        self.inner.summary(yname, alpha).py()
    }
    /// Scalar statistics as a dict (F entries are None for ridge).
    fn scalars<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = &self.inner;
        let d = PyDict::new(py);
        d.set_item("intercept", m.intercept())?;
        d.set_item("rsquared", m.rsquared())?;
        d.set_item("rsquared_adj", m.rsquared_adj())?;
        d.set_item("fvalue", m.fvalue().ok())?;
        d.set_item("f_pvalue", m.f_pvalue().ok())?;
        d.set_item("llf", m.llf())?;
        d.set_item("aic", m.aic())?;
        d.set_item("bic", m.bic())?;
        d.set_item("nobs", m.nobs())?;
        d.set_item("df_resid", m.df_resid())?;
        d.set_item("df_model", m.df_model())?;
        d.set_item("df_inference", m.df_inference())?;
        d.set_item("n_groups", m.n_groups())?;
        d.set_item("ssr", m.ssr())?;
        d.set_item("scale", m.scale())?;
        d.set_item("tss", m.tss())?;
        d.set_item("condition_number", m.condition_number())?;
        d.set_item("use_t", m.use_t())?;
        d.set_item("cov_type", m.hyper_params().cov_type.as_str())?;
        d.set_item("fit_intercept", m.hyper_params().fit_intercept)?;
        d.set_item("alpha", m.hyper_params().alpha)?;
        Ok(d)
    }
    /// Predicted means (GIL released).
    fn predict<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let xv = x.as_array();
        let p = py.detach(|| self.inner.predict(&xv)).py()?;
        Ok(PyArray1::from_owned_array(py, p))
    }
    /// (mean, se, lower, upper) for `kind` "confidence" or "prediction".
    #[allow(clippy::type_complexity)]
    fn predict_interval<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        kind: &str,
        alpha: f64,
    ) -> PyResult<(
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
    )> {
        let kind = match kind {
            "confidence" => IntervalKind::Confidence,
            "prediction" => IntervalKind::Prediction,
            other => {
                return Err(PyValueError::new_err(format!(
                    "interval must be 'confidence' or 'prediction', got {other:?}"
                )))
            }
        };
        let xv = x.as_array();
        let p = py.detach(|| self.inner.predict_interval(&xv, kind, alpha)).py()?;
        Ok((
            PyArray1::from_owned_array(py, p.mean),
            PyArray1::from_owned_array(py, p.se),
            PyArray1::from_owned_array(py, p.lower),
            PyArray1::from_owned_array(py, p.upper),
        ))
    }
    /// Model file bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        model_to_pybytes(py, &self.inner)
    }
    /// Loads model file bytes.
    #[staticmethod]
    fn _from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyLinearRegression { inner: model_from_pybytes(py, data)? })
    }
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let bytes = slf.get().to_bytes(slf.py())?;
        Ok((slf.get_type().getattr("_from_bytes")?, (bytes,)))
    }
}

/// Registers the module's classes.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLinearRegression>()
}

/// `optimal_price(elasticity, unit_cost, min_price, max_price)`.
#[pyfunction]
#[pyo3(signature = (elasticity, unit_cost, min_price=None, max_price=None))]
fn optimal_price(elasticity: f64, unit_cost: f64, min_price: Option<f64>, max_price: Option<f64>) -> PyResult<f64> {
    mercato::pricing::optimal_price(elasticity, unit_cost, min_price, max_price).py()
}

fn pricing_inputs(
    optimizer_json: &str,
    demand_json: &str,
) -> PyResult<(mercato::pricing::PriceOptimizer, mercato::pricing::Demand)> {
    let opt: mercato::pricing::PriceOptimizer = serde_json::from_str(optimizer_json)
        .map_err(|e| PyValueError::new_err(format!("invalid PriceOptimizer parameters: {e}")))?;
    let demand: mercato::pricing::Demand =
        serde_json::from_str(demand_json).map_err(|e| PyValueError::new_err(format!("invalid demand curve: {e}")))?;
    Ok((opt, demand))
}

/// Optimises a price; the result as JSON.
#[pyfunction]
fn optimize_price(optimizer_json: &str, demand_json: &str) -> PyResult<String> {
    let (opt, demand) = pricing_inputs(optimizer_json, demand_json)?;
    let r = opt.optimize(&demand).py()?;
    serde_json::to_string(&r).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// What-if curve as JSON rows.
#[pyfunction]
fn price_curve(optimizer_json: &str, demand_json: &str, prices: Vec<f64>) -> PyResult<String> {
    let (opt, demand) = pricing_inputs(optimizer_json, demand_json)?;
    let r = opt.curve(&demand, &prices).py()?;
    serde_json::to_string(&r).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Registers the pricing functions.
pub fn register_pricing(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(optimal_price, m)?)?;
    m.add_function(wrap_pyfunction!(optimize_price, m)?)?;
    m.add_function(wrap_pyfunction!(price_curve, m)?)
}
