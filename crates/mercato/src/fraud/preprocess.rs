//! Feature preprocessing for detectors: scaling, one-hot encoding, missing values.
//!
//! Distance- and covariance-based detectors (KNN, LOF, Mahalanobis' shrinkage target) depend
//! on feature scales; tree and ECDF detectors do not. Missing values (NaN) are **rejected by
//! default** — a silently imputed amount is how fraud slips through — and imputed only when
//! asked ([`MissingPolicy`]). Infinities are always rejected. Constant columns get scale 1
//! (never a division by zero).
//!
//! ```
//! use mercato::fraud::preprocess::{MissingPolicy, ScalerParams};
//! let x = ndarray::array![[1.0, 10.0], [3.0, f64::NAN], [5.0, 30.0]];
//! assert!(ScalerParams::standard().fit(&x.view()).is_err()); // NaN rejected by default
//! let s = ScalerParams::standard().missing(MissingPolicy::Median).fit(&x.view())?;
//! let z = s.transform(&x.view())?;
//! assert_eq!(z[[1, 1]], 0.0); // imputed with the median, then centred
//! let mut row = [5.0, 30.0];
//! s.transform_row(&mut row)?; // in place, no allocation
//! assert!((row[0] - 1.224744871391589).abs() < 1e-12);
//! # Ok::<(), mercato::Error>(())
//! ```

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{bail, Error, Result};

/// What to do with NaN cells.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MissingPolicy {
    /// NaN is an error (default).
    #[default]
    Reject,
    /// Replace by the column mean of the non-missing training values.
    Mean,
    /// Replace by the column median of the non-missing training values.
    Median,
    /// Replace by a fixed value.
    Constant(f64),
}

/// Centre and scale estimators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScalerKind {
    /// `(x - mean) / std` (population std, as scikit-learn's StandardScaler).
    #[default]
    Standard,
    /// `(x - median) / IQR` (25th–75th percentile, as scikit-learn's RobustScaler): heavy
    /// tails and the anomalies themselves barely move it.
    Robust,
}

/// Hyper-parameters of [`Scaler`]: the estimator and the missing-value policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScalerParams {
    /// Which estimator (default standard).
    pub kind: ScalerKind,
    /// NaN handling (default reject).
    pub missing: MissingPolicy,
}

impl Params for ScalerParams {
    fn check(&self) -> Result<()> {
        if let MissingPolicy::Constant(c) = self.missing {
            crate::ensure!(c.is_finite(), param "missing", "the fill value must be finite, got {c}");
        }
        Ok(())
    }
}

impl ScalerParams {
    crate::params::setters! {
        /// Sets the estimator.
        kind: ScalerKind,
        /// Sets the missing-value policy.
        missing: MissingPolicy,
    }

    /// A standard scaler's parameters (mean / std).
    pub fn standard() -> Self {
        ScalerParams { kind: ScalerKind::Standard, ..Self::default() }
    }

    /// A robust scaler's parameters (median / IQR).
    pub fn robust() -> Self {
        ScalerParams { kind: ScalerKind::Robust, ..Self::default() }
    }

    /// Checks the parameters and learns centres, scales and fill values from `x`.
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<Scaler> {
        let (n, d) = x.dim();
        crate::ensure!(n > 0 && d > 0, "cannot fit a scaler on an empty {n}x{d} matrix");
        self.check()?;
        let mut s = Scaler {
            kind: self.kind,
            missing: self.missing,
            center: Vec::with_capacity(d),
            scale: Vec::with_capacity(d),
            fill: Vec::with_capacity(d),
        };
        for j in 0..d {
            let mut col: Vec<f64> = Vec::with_capacity(n);
            for (i, &v) in x.column(j).iter().enumerate() {
                if v.is_nan() {
                    if s.missing == MissingPolicy::Reject {
                        bail!("missing value (NaN) at row {i}, column {j}; choose a MissingPolicy to impute");
                    }
                } else if !v.is_finite() {
                    bail!("input must be finite, found {v} at row {i}, column {j}");
                } else {
                    col.push(v);
                }
            }
            crate::ensure!(!col.is_empty(), "column {j} has no non-missing values");
            col.sort_unstable_by(f64::total_cmp);
            let m = col.len() as f64;
            let mean = col.iter().sum::<f64>() / m;
            let median = quantile(&col, 0.5);
            let (center, scale) = match s.kind {
                ScalerKind::Standard => (mean, (col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m).sqrt()),
                ScalerKind::Robust => (median, quantile(&col, 0.75) - quantile(&col, 0.25)),
            };
            s.center.push(center);
            s.scale.push(if scale > 0.0 && scale.is_finite() { scale } else { 1.0 });
            s.fill.push(match s.missing {
                MissingPolicy::Reject => 0.0, // never used: NaN is rejected
                MissingPolicy::Mean => mean,
                MissingPolicy::Median => median,
                MissingPolicy::Constant(c) => c,
            });
        }
        Ok(s)
    }
}

/// A fitted column scaler with a missing-value policy, made by [`ScalerParams::fit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    kind: ScalerKind,
    missing: MissingPolicy,
    center: Vec<f64>,
    scale: Vec<f64>,
    fill: Vec<f64>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    super::reduce::percentile_sorted(sorted, q)
}

impl Scaler {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> ScalerParams {
        ScalerParams { kind: self.kind, missing: self.missing }
    }

    /// Which estimator.
    pub fn kind(&self) -> ScalerKind {
        self.kind
    }

    /// The NaN handling.
    pub fn missing(&self) -> MissingPolicy {
        self.missing
    }

    /// Number of columns seen in fit.
    pub fn n_features(&self) -> usize {
        self.center.len()
    }

    /// Per-column centre (mean or median).
    pub fn center(&self) -> &[f64] {
        &self.center
    }

    /// Per-column scale (std or IQR; 1 for constant columns).
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Scales one row in place (imputing per the policy); no allocation.
    pub fn transform_row(&self, row: &mut [f64]) -> Result<()> {
        crate::ensure!(!self.center.is_empty(), "Scaler is not fitted");
        if row.len() != self.center.len() {
            return Err(Error::shape(format!("{} features", self.center.len()), format!("{} features", row.len())));
        }
        // Validate first so a rejected row is left untouched.
        for (j, &v) in row.iter().enumerate() {
            if v.is_nan() && self.missing == MissingPolicy::Reject {
                bail!("missing value (NaN) in column {j}; choose a MissingPolicy to impute");
            } else if v.is_infinite() {
                bail!("input must be finite, found {v} in column {j}");
            }
        }
        for (j, v) in row.iter_mut().enumerate() {
            let x = if v.is_nan() { self.fill[j] } else { *v };
            *v = (x - self.center[j]) / self.scale[j];
        }
        Ok(())
    }

    /// Scales a matrix (any memory layout: a column-major input, e.g. a pandas DataFrame's
    /// values, is copied row-major, so every row is one slice).
    pub fn transform(&self, x: &ArrayView2<f64>) -> Result<Array2<f64>> {
        let mut out = x.as_standard_layout().into_owned();
        for mut row in out.rows_mut() {
            let r = row.as_slice_mut().ok_or_else(|| Error::invalid("internal: non-contiguous row"))?;
            self.transform_row(r)?;
        }
        Ok(out)
    }

    /// Undoes the scaling of one row in place.
    pub fn inverse_transform_row(&self, row: &mut [f64]) -> Result<()> {
        if row.len() != self.center.len() {
            return Err(Error::shape(format!("{} features", self.center.len()), format!("{} features", row.len())));
        }
        for (j, v) in row.iter_mut().enumerate() {
            *v = *v * self.scale[j] + self.center[j];
        }
        Ok(())
    }
}

impl Persist for Scaler {
    const KIND: &'static str = "fraud.scaler";

    fn write(&self) -> Result<ModelWriter> {
        ModelWriter::new(Self::KIND, self)
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let s: Scaler = r.meta()?;
        let d = s.center.len();
        let fill_ok = s.fill.len() == d && s.fill.iter().all(|v| v.is_finite());
        if s.scale.len() != d || !fill_ok || s.scale.iter().chain(&s.center).any(|v| !v.is_finite()) {
            return Err(Error::format("fraud.scaler: arrays do not match"));
        }
        if s.scale.iter().any(|v| *v <= 0.0) {
            return Err(Error::format("fraud.scaler: scales must be positive"));
        }
        Ok(s)
    }
}

/// Hyper-parameters of [`OneHotEncoder`]: which columns are categorical and what an unseen
/// category does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OneHotEncoderParams {
    /// Indices of the categorical columns (each at most once).
    pub columns: Vec<usize>,
    /// When true, an unseen category encodes as all zeros instead of an error (default false).
    pub ignore_unknown: bool,
}

impl Params for OneHotEncoderParams {
    fn check(&self) -> Result<()> {
        let mut sorted = self.columns.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            crate::bail!(param "columns", "categorical column {} is listed twice", w[0]);
        }
        Ok(())
    }
}

impl OneHotEncoderParams {
    crate::params::setters! {
        /// Sets the categorical columns.
        columns: Vec<usize>,
        /// Encodes unseen categories as all zeros instead of refusing them.
        ignore_unknown: bool,
    }

    /// Checks the parameters and learns the categories of each categorical column of `x`.
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<OneHotEncoder> {
        self.check()?;
        let d = x.ncols();
        crate::ensure!(d > 0, "cannot fit a one-hot encoder on a matrix without columns");
        if let Some(c) = self.columns.iter().find(|&&c| c >= d) {
            return Err(Error::shape(format!("categorical column {c} to exist"), format!("{d} columns")));
        }
        let categories = self
            .columns
            .iter()
            .map(|&c| {
                let mut cats: Vec<f64> = x.column(c).to_vec();
                if let Some(v) = cats.iter().find(|v| !v.is_finite()) {
                    bail!("categorical column {c} must hold finite codes, found {v}");
                }
                cats.sort_unstable_by(f64::total_cmp);
                cats.dedup();
                Ok(cats)
            })
            .collect::<Result<_>>()?;
        Ok(OneHotEncoder { params: self.clone(), n_in: d, categories })
    }
}

/// One-hot encoding of categorical columns given as numeric codes (e.g. merchant category,
/// country, channel): each categorical column is replaced by one 0/1 column per category seen
/// in fit, appended after the numeric columns (kept in their order). Fitted from
/// [`OneHotEncoderParams`].
///
/// ```
/// use mercato::fraud::preprocess::OneHotEncoderParams;
/// let x = ndarray::array![[12.5, 1.0], [3.0, 7.0], [8.0, 1.0]];
/// let enc = OneHotEncoderParams::default().columns(vec![1]).fit(&x.view())?;
/// assert_eq!(enc.transform(&x.view())?.row(1).to_vec(), vec![3.0, 0.0, 1.0]);
/// assert!(enc.transform(&ndarray::array![[1.0, 5.0]].view()).is_err()); // unseen category
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneHotEncoder {
    params: OneHotEncoderParams,
    n_in: usize,
    categories: Vec<Vec<f64>>,
}

impl OneHotEncoder {
    /// The parameters it was fitted with.
    pub fn params(&self) -> &OneHotEncoderParams {
        &self.params
    }

    /// Categories per categorical column (sorted), in the order of `params().columns`.
    pub fn categories(&self) -> &[Vec<f64>] {
        &self.categories
    }

    /// Input column count.
    pub fn n_features_in(&self) -> usize {
        self.n_in
    }

    /// Output column count.
    pub fn n_features_out(&self) -> usize {
        self.n_in - self.params.columns.len() + self.categories.iter().map(Vec::len).sum::<usize>()
    }

    /// Encodes a matrix.
    pub fn transform(&self, x: &ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.n_in {
            return Err(Error::shape(format!("{} columns", self.n_in), format!("{} columns", x.ncols())));
        }
        let mut out = Array2::zeros((x.nrows(), self.n_features_out()));
        for (i, row) in x.rows().into_iter().enumerate() {
            let mut o = 0;
            for j in (0..self.n_in).filter(|j| !self.params.columns.contains(j)) {
                out[[i, o]] = row[j];
                o += 1;
            }
            for (c, cats) in self.params.columns.iter().zip(&self.categories) {
                match cats.binary_search_by(|v| v.total_cmp(&row[*c])) {
                    Ok(k) => out[[i, o + k]] = 1.0,
                    Err(_) if self.params.ignore_unknown => {}
                    Err(_) => bail!("row {i}: category {} of column {c} was not seen in fit", row[*c]),
                }
                o += cats.len();
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scalers_match_sklearn_and_handle_constants() {
        let x = array![[1.0, 4.0, 2.0], [2.0, 4.0, 2.0], [3.0, 4.0, 100.0], [4.0, 4.0, 3.0]];
        let s = ScalerParams::standard().fit(&x.view()).unwrap();
        // sklearn StandardScaler: mean 2.5, std sqrt(1.25); constant column scale 1.
        assert!((s.scale()[0] - 1.25f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.scale()[1], 1.0);
        let z = s.transform(&x.view()).unwrap();
        assert!(z.column(1).iter().all(|&v| v == 0.0));
        let r = ScalerParams::robust().fit(&x.view()).unwrap();
        // RobustScaler: median of [2, 2, 3, 100] = 2.5, IQR = 27.25 - 2 = 25.25.
        assert_eq!(r.center()[2], 2.5);
        assert!((r.scale()[2] - 25.25).abs() < 1e-12);
        let mut row = [2.5, 4.0, 2.5];
        r.transform_row(&mut row).unwrap();
        assert_eq!(row, [0.0, 0.0, 0.0]);
        r.inverse_transform_row(&mut row).unwrap();
        assert_eq!(row, [2.5, 4.0, 2.5]);
        assert!(r.transform_row(&mut [1.0]).is_err());
        assert!(r.transform_row(&mut [f64::NAN, 1.0, 1.0]).is_err());
        assert!(r.transform_row(&mut [f64::INFINITY, 1.0, 1.0]).is_err());
        let back = Scaler::from_bytes(r.to_bytes().unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn transform_accepts_column_major_input() {
        // issue 14: a pandas DataFrame's values are column-major; this used to fail with
        // "internal: non-contiguous row"
        let x = array![[1.0, 4.0, 2.0], [2.0, 5.0, 2.0], [3.0, 4.0, 100.0], [4.0, 4.0, 3.0]];
        let s = ScalerParams::standard().fit(&x.view()).unwrap();
        let fortran = x.t().as_standard_layout().into_owned().reversed_axes();
        assert!(!fortran.is_standard_layout());
        assert_eq!(s.transform(&fortran.view()).unwrap(), s.transform(&x.view()).unwrap());
    }

    #[test]
    fn missing_policies() {
        let x = array![[1.0], [f64::NAN], [5.0], [9.0]];
        assert!(ScalerParams::standard().fit(&x.view()).is_err());
        let mut row = [f64::NAN];
        ScalerParams::standard()
            .missing(MissingPolicy::Constant(-1.0))
            .fit(&x.view())
            .unwrap()
            .transform_row(&mut row)
            .unwrap();
        assert!(row[0] < -1.0);
        let m = ScalerParams::standard().missing(MissingPolicy::Mean).fit(&x.view()).unwrap();
        let mut row = [f64::NAN];
        m.transform_row(&mut row).unwrap();
        assert_eq!(row[0], 0.0);
        assert!(ScalerParams::standard().missing(MissingPolicy::Mean).fit(&array![[f64::NAN]].view()).is_err());
    }

    #[test]
    fn one_hot() {
        let x = array![[1.0, 0.5, 3.0], [2.0, 1.5, 3.0], [1.0, 2.5, 4.0]];
        let e = OneHotEncoderParams::default().columns(vec![0, 2]).fit(&x.view()).unwrap();
        assert_eq!((e.n_features_in(), e.n_features_out()), (3, 5));
        assert_eq!(e.transform(&x.view()).unwrap().row(2).to_vec(), vec![2.5, 1.0, 0.0, 0.0, 1.0]);
        assert!(matches!(e.transform(&array![[9.0, 0.0, 3.0]].view()), Err(Error::InvalidInput(_))));
        let lax = e.params().clone().ignore_unknown(true).fit(&x.view()).unwrap();
        assert_eq!(
            lax.transform(&array![[9.0, 0.0, 3.0]].view()).unwrap().row(0).to_vec(),
            vec![0.0, 0.0, 0.0, 1.0, 0.0]
        );
        let p = OneHotEncoderParams::default();
        assert!(matches!(p.clone().columns(vec![3]).fit(&x.view()), Err(Error::ShapeMismatch { .. })));
        assert!(matches!(p.clone().columns(vec![0, 0]).check(), Err(Error::InvalidParameter { .. })));
        assert!(p.clone().columns(vec![0]).fit(&array![[f64::NAN]].view()).is_err());
        assert!(p.fit(&Array2::<f64>::zeros((2, 0)).view()).is_err());
        assert!(e.transform(&array![[1.0, 2.0]].view()).is_err());
    }
}
