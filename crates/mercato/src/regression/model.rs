//! The fitted model: coefficients, inference, prediction, persistence.

use crate::params::Params;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::dist;
use super::params::LinearRegressionParams;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{bail, Error, Result};

/// Scalars of a fit (serialised as the model file's meta).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub params: LinearRegressionParams,
    pub names: Vec<String>,
    pub nobs: usize,
    pub df_model: f64,
    pub df_resid: f64,
    pub df_inference: f64,
    pub n_groups: Option<usize>,
    pub use_t: bool,
    pub intercept: f64,
    pub ssr: f64,
    pub tss: f64,
    pub sum_log_w: f64,
    pub condition_number: f64,
    pub fvalue: Option<f64>,
    pub f_pvalue: Option<f64>,
}

/// A fitted linear regression (immutable; `Send + Sync`).
///
/// `params()` lists the intercept first (when fitted), then one coefficient per column,
/// as statsmodels does; `coef()` and `intercept()` split them as scikit-learn does.
#[derive(Clone, Debug)]
pub struct LinearRegression {
    meta: Meta,
    coef: Vec<f64>,
    cov: Option<Array2<f64>>,
}

/// Which interval [`LinearRegression::predict_interval`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntervalKind {
    /// For the mean response at x.
    Confidence,
    /// For a new observation at x (adds the residual variance).
    Prediction,
}

/// Predictions with their standard errors and interval bounds.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// Predicted mean.
    pub mean: Array1<f64>,
    /// Standard error of the mean (or of a new observation for prediction intervals).
    pub se: Array1<f64>,
    /// Lower bound.
    pub lower: Array1<f64>,
    /// Upper bound.
    pub upper: Array1<f64>,
}

fn no_inference() -> Error {
    Error::invalid("ridge fits (alpha > 0) have no standard errors, p-values or F test")
}

impl LinearRegression {
    pub(crate) fn new(meta: Meta, coef: Vec<f64>, cov: Option<Array2<f64>>) -> Self {
        LinearRegression { meta, coef, cov }
    }

    /// The hyper-parameters it was fitted with.
    pub fn hyper_params(&self) -> &LinearRegressionParams {
        &self.meta.params
    }
    /// Column names (given at fit, else `x1..xk`).
    pub fn feature_names(&self) -> &[String] {
        &self.meta.names
    }
    /// One coefficient per column.
    pub fn coef(&self) -> &[f64] {
        &self.coef
    }
    /// The intercept (0 when not fitted).
    pub fn intercept(&self) -> f64 {
        self.meta.intercept
    }
    /// Intercept first (when fitted), then the coefficients.
    pub fn params(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(self.coef.len() + 1);
        if self.meta.params.fit_intercept {
            v.push(self.meta.intercept);
        }
        v.extend_from_slice(&self.coef);
        v
    }
    /// Names matching [`Self::params`] (`const` for the intercept, as statsmodels).
    pub fn param_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.meta.params.fit_intercept {
            v.push("const".to_string());
        }
        v.extend(self.meta.names.iter().cloned());
        v
    }
    /// Covariance of [`Self::params`] under the fitted `cov_type`.
    pub fn cov_params(&self) -> Result<&Array2<f64>> {
        self.cov.as_ref().ok_or_else(no_inference)
    }
    /// Standard errors of [`Self::params`].
    pub fn bse(&self) -> Result<Vec<f64>> {
        let c = self.cov_params()?;
        Ok((0..c.nrows()).map(|i| c[[i, i]].sqrt()).collect())
    }
    /// t (or z) statistics.
    pub fn tvalues(&self) -> Result<Vec<f64>> {
        Ok(self.params().iter().zip(self.bse()?).map(|(p, s)| p / s).collect())
    }
    /// Two-sided p-values (Student t with [`Self::df_inference`] degrees of freedom, or normal).
    pub fn pvalues(&self) -> Result<Vec<f64>> {
        Ok(self.tvalues()?.iter().map(|&t| self.two_sided(t)).collect())
    }
    fn two_sided(&self, t: f64) -> f64 {
        if self.meta.use_t {
            dist::t_two_sided(t, self.meta.df_inference)
        } else {
            dist::normal_two_sided(t)
        }
    }
    fn critical(&self, alpha: f64, df: f64) -> Result<f64> {
        if !(alpha > 0.0 && alpha < 1.0) {
            bail!("alpha must lie in (0, 1), got {alpha}");
        }
        Ok(if self.meta.use_t { dist::t_critical(alpha, df) } else { dist::normal_critical(alpha) })
    }
    /// `(lower, upper)` of the `1 − alpha` confidence interval of each parameter.
    pub fn conf_int(&self, alpha: f64) -> Result<Vec<(f64, f64)>> {
        let q = self.critical(alpha, self.meta.df_inference)?;
        Ok(self.params().iter().zip(self.bse()?).map(|(p, s)| (p - q * s, p + q * s)).collect())
    }
    /// Whether p-values and intervals use Student's t (else the normal).
    pub fn use_t(&self) -> bool {
        self.meta.use_t
    }
    /// Observations.
    pub fn nobs(&self) -> usize {
        self.meta.nobs
    }
    /// Residual degrees of freedom n − p.
    pub fn df_resid(&self) -> f64 {
        self.meta.df_resid
    }
    /// Model degrees of freedom (slopes).
    pub fn df_model(&self) -> f64 {
        self.meta.df_model
    }
    /// Degrees of freedom of t tests (clusters − 1 for cluster-robust, else df_resid).
    pub fn df_inference(&self) -> f64 {
        self.meta.df_inference
    }
    /// Number of clusters (cluster-robust fits).
    pub fn n_groups(&self) -> Option<usize> {
        self.meta.n_groups
    }
    /// Weighted sum of squared residuals.
    pub fn ssr(&self) -> f64 {
        self.meta.ssr
    }
    /// Residual variance estimate SSR / df_resid.
    pub fn scale(&self) -> f64 {
        self.meta.ssr / self.meta.df_resid
    }
    /// Total sum of squares (centered with an intercept, uncentered without).
    pub fn tss(&self) -> f64 {
        self.meta.tss
    }
    /// R².
    pub fn rsquared(&self) -> f64 {
        1.0 - self.meta.ssr / self.meta.tss
    }
    /// Adjusted R².
    pub fn rsquared_adj(&self) -> f64 {
        let k_const = self.meta.params.fit_intercept as usize as f64;
        1.0 - (self.meta.nobs as f64 - k_const) / self.meta.df_resid * (1.0 - self.rsquared())
    }
    /// F statistic of all slopes (a Wald test under robust covariances, as statsmodels).
    pub fn fvalue(&self) -> Result<f64> {
        if self.cov.is_none() {
            return Err(no_inference());
        }
        Ok(self.meta.fvalue.unwrap_or(f64::NAN))
    }
    /// p-value of [`Self::fvalue`].
    pub fn f_pvalue(&self) -> Result<f64> {
        if self.cov.is_none() {
            return Err(no_inference());
        }
        Ok(self.meta.f_pvalue.unwrap_or(f64::NAN))
    }
    /// Gaussian log-likelihood (with the weights' Jacobian term, as statsmodels' WLS).
    pub fn llf(&self) -> f64 {
        let n = self.meta.nobs as f64;
        -0.5 * n * ((2.0 * std::f64::consts::PI).ln() + (self.meta.ssr / n).ln() + 1.0) + 0.5 * self.meta.sum_log_w
    }
    fn k_params(&self) -> f64 {
        self.meta.df_model + self.meta.params.fit_intercept as usize as f64
    }
    /// Akaike information criterion.
    pub fn aic(&self) -> f64 {
        -2.0 * self.llf() + 2.0 * self.k_params()
    }
    /// Bayesian information criterion.
    pub fn bic(&self) -> f64 {
        -2.0 * self.llf() + (self.meta.nobs as f64).ln() * self.k_params()
    }
    /// Condition number of the (weighted) design including the constant column, as statsmodels.
    pub fn condition_number(&self) -> f64 {
        self.meta.condition_number
    }

    fn check_x(&self, x: &ArrayView2<'_, f64>) -> Result<()> {
        if x.ncols() != self.coef.len() {
            return Err(Error::shape(format!("{} columns", self.coef.len()), format!("{} columns", x.ncols())));
        }
        for (i, row) in x.rows().into_iter().enumerate() {
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                bail!("X must be finite, found {} at row {i}, column {j}", row[j]);
            }
        }
        Ok(())
    }

    /// Predicted means `b0 + x·β`.
    pub fn predict(&self, x: &ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        self.check_x(x)?;
        Ok(x.dot(&Array1::from(self.coef.clone())) + self.meta.intercept)
    }

    /// Predictions with `1 − alpha` intervals for the mean or a new observation (as
    /// statsmodels' `get_prediction(x).summary_frame(alpha)`, new observations of weight 1).
    pub fn predict_interval(&self, x: &ArrayView2<'_, f64>, kind: IntervalKind, alpha: f64) -> Result<Prediction> {
        let mean = self.predict(x)?;
        let cov = self.cov_params()?;
        let q = self.critical(alpha, self.meta.df_resid)?;
        let o = self.meta.params.fit_intercept as usize;
        let extra = if kind == IntervalKind::Prediction { self.scale() } else { 0.0 };
        let mut row = vec![1.0; self.coef.len() + o];
        let se: Array1<f64> = x
            .rows()
            .into_iter()
            .map(|r| {
                row[o..].copy_from_slice(&r.to_vec());
                let mut v = 0.0;
                for i in 0..row.len() {
                    for j in 0..row.len() {
                        v += row[i] * cov[[i, j]] * row[j];
                    }
                }
                (v.max(0.0) + extra).sqrt()
            })
            .collect();
        let lower = &mean - &(&se * q);
        let upper = &mean + &(&se * q);
        Ok(Prediction { mean, se, lower, upper })
    }
}

impl Persist for LinearRegression {
    const KIND: &'static str = "regression.linear";

    fn write(&self) -> Result<ModelWriter> {
        let mut w = ModelWriter::new(Self::KIND, &self.meta)?.f64("coef", &[self.coef.len()], &self.coef);
        if let Some(c) = &self.cov {
            w = w.array2_f64("cov", c);
        }
        Ok(w)
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: Meta = r.meta()?;
        meta.params.check().map_err(|e| Error::format(format!("bad parameters: {e}")))?;
        let k = meta.names.len();
        let coef = r.array1_f64("coef", Some(k))?.to_vec();
        let p = k + meta.params.fit_intercept as usize;
        let has_cov = r.tensor_names()?.iter().any(|n| n == "cov");
        if has_cov == (meta.params.alpha > 0.0) {
            return Err(Error::format("covariance present exactly when the fit is not ridge"));
        }
        let cov = if has_cov { Some(r.array2_f64("cov", [Some(p), Some(p)])?) } else { None };
        if !coef.iter().all(|v| v.is_finite()) || !meta.intercept.is_finite() {
            return Err(Error::format("non-finite coefficients"));
        }
        Ok(LinearRegression { meta, coef, cov })
    }
}
