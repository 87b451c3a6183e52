//! Hyper-parameters of [`LinearRegression`](super::LinearRegression).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How the covariance of the coefficients (and so standard errors, t, p, intervals and the
/// F test) is estimated. Names and formulas follow statsmodels' `OLS.fit(cov_type=...)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CovType {
    /// `σ² (X'WX)⁻¹`, σ² = SSR / df_resid.
    #[default]
    #[serde(rename = "nonrobust")]
    NonRobust,
    /// White's heteroscedasticity-robust sandwich with squared residuals.
    HC0,
    /// HC0 scaled by n / df_resid.
    HC1,
    /// Squared residuals divided by 1 − leverage.
    HC2,
    /// Squared residuals divided by (1 − leverage)²; the small-sample choice.
    HC3,
    /// Cluster-robust (groups given at fit), with statsmodels' correction
    /// G/(G−1)·(n−1)/(n−p); inference uses G − 1 degrees of freedom.
    #[serde(rename = "cluster")]
    Cluster,
}

impl CovType {
    /// The name statsmodels uses.
    pub fn as_str(self) -> &'static str {
        match self {
            CovType::NonRobust => "nonrobust",
            CovType::HC0 => "HC0",
            CovType::HC1 => "HC1",
            CovType::HC2 => "HC2",
            CovType::HC3 => "HC3",
            CovType::Cluster => "cluster",
        }
    }
}

impl fmt::Display for CovType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CovType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "nonrobust" => CovType::NonRobust,
            "HC0" | "hc0" => CovType::HC0,
            "HC1" | "hc1" => CovType::HC1,
            "HC2" | "hc2" => CovType::HC2,
            "HC3" | "hc3" => CovType::HC3,
            "cluster" => CovType::Cluster,
            other => {
                return Err(Error::param(
                    "cov_type",
                    format!("{other:?} is not one of nonrobust, HC0, HC1, HC2, HC3, cluster"),
                ))
            }
        })
    }
}

/// Hyper-parameters of a linear regression (OLS, WLS, ridge).
///
/// ```
/// use mercato::regression::{CovType, LinearRegressionParams};
/// let p: LinearRegressionParams = serde_json::from_str(r#"{"cov_type": "HC3"}"#).unwrap();
/// assert_eq!(p.cov_type, CovType::HC3);
/// assert!(p.fit_intercept);
/// use mercato::params::Params;
/// assert!(LinearRegressionParams { alpha: -1.0, ..Default::default() }.check().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearRegressionParams {
    /// Fit an (unpenalized) intercept. Its coefficient comes first in `params`.
    pub fit_intercept: bool,
    /// Covariance estimator for standard errors.
    pub cov_type: CovType,
    /// Ridge penalty α·‖β‖² on the slopes (not the intercept), as scikit-learn's `Ridge`;
    /// 0 = ordinary least squares. Ridge fits have no standard errors.
    pub alpha: f64,
    /// Student t (true) or normal (false) for p-values and intervals; `None` = statsmodels'
    /// default: t for `nonrobust`, normal for the robust covariances.
    pub use_t: Option<bool>,
    /// A column whose part not explained by the intercept and the earlier columns has less
    /// than this fraction of its squared norm (1 − R²) is reported as collinear.
    pub rank_tol: f64,
    /// Threads for the passes over the data (all cores when `None`). Results do not depend on it.
    pub num_threads: Option<usize>,
}

impl Default for LinearRegressionParams {
    fn default() -> Self {
        LinearRegressionParams {
            fit_intercept: true,
            cov_type: CovType::NonRobust,
            alpha: 0.0,
            use_t: None,
            rank_tol: 1e-10,
            num_threads: None,
        }
    }
}

fn param_error(name: &str, msg: String) -> Error {
    Error::param(name, msg)
}

impl crate::params::Params for LinearRegressionParams {
    /// Checks every field against its rule.
    fn check(&self) -> Result<()> {
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(param_error("alpha", format!("must be finite and ≥ 0, got {}", self.alpha)));
        }
        if !(self.rank_tol.is_finite() && self.rank_tol > 0.0 && self.rank_tol < 1.0) {
            return Err(param_error("rank_tol", format!("must lie in (0, 1), got {}", self.rank_tol)));
        }
        if self.num_threads == Some(0) {
            return Err(param_error("num_threads", "must be positive when given, got 0".into()));
        }
        Ok(())
    }
}

impl LinearRegressionParams {
    crate::params::setters! {
        /// Sets `fit_intercept`.
        fit_intercept: bool,
        /// Sets `cov_type`.
        cov_type: CovType,
        /// Sets `alpha` (ridge penalty; 0 = OLS).
        alpha: f64,
        /// Sets `use_t`.
        use_t: Option<bool>,
        /// Sets `num_threads`.
        num_threads: Option<usize>,
    }
}
