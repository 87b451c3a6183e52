//! Linear regression for demand and sales models: OLS, weighted least squares and ridge, with
//! statsmodels' inference (standard errors under `nonrobust`, HC0–HC3 and cluster-robust
//! covariances, t and p-values, intervals, R², F, log-likelihood, AIC/BIC) and prediction
//! intervals.
//!
//! How it is computed, and why: three passes over X in blocks of rows, never a copy of X.
//! 1. The Gram matrix of `[1, x, y]` about a shift (the mean of the first rows), so its sums
//!    hold deviations and centering afterwards loses nothing.
//! 2. A Cholesky factorisation of the column-scaled centered Gram. Its pivots are the 1 − R²
//!    of each column on the intercept and the earlier columns, so a column at most `rank_tol`
//!    is reported as collinear, naming the columns it depends on. Then one pass of exact
//!    residuals gives one step of iterative refinement (the normal equations alone lose
//!    accuracy with the square of the condition number) and the SSR without cancellation.
//! 3. Robust covariances only: leverages and the sandwich's meat.
//!
//! ```
//! use mercato::regression::{CovType, LinearRegressionParams};
//! use ndarray::array;
//!
//! // log(sales) = 5 − 2·log(price) + 0.5·promo, exactly.
//! let x = array![[0.0, 0.0], [0.5, 1.0], [1.0, 0.0], [1.5, 1.0], [2.0, 0.0], [0.2, 1.0]];
//! let y: Vec<f64> = x.rows().into_iter().map(|r| 5.0 - 2.0 * r[0] + 0.5 * r[1]).collect();
//! let fit = LinearRegressionParams::default().cov_type(CovType::HC3).fit(&x.view(), &y, None, None)?;
//! assert!((fit.coef()[0] + 2.0).abs() < 1e-12); // the price elasticity
//! assert!((fit.intercept() - 5.0).abs() < 1e-12);
//! assert!(fit.rsquared() > 0.999_999);
//!
//! // A column that is a combination of others is a typed error naming it.
//! let bad = array![[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]];
//! let err = LinearRegressionParams::default().fit(&bad.view(), &[1.0, 2.0, 2.5, 4.0], None, None).unwrap_err();
//! assert!(err.to_string().contains("x2"));
//! # Ok::<(), mercato::Error>(())
//! ```

pub mod dist;
mod fit;
mod model;
mod params;
mod passes;
mod solve;
mod summary;
#[cfg(test)]
mod tests;

pub use model::{IntervalKind, LinearRegression, Prediction};
pub use params::{CovType, LinearRegressionParams};
