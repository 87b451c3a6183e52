//! The [`Detector`] role, input validation shared by every detector, and the decision layer
//! (contamination threshold, `predict`, `predict_proba`).

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::reduce;
use crate::{bail, Error, Result};

/// The scoring role of a fitted unsupervised anomaly detector; **higher scores are more
/// anomalous** (as PyOD's `decision_function`).
///
/// A detector is made by fitting its hyper-parameters, `XParams::fit(&x) -> Result<X>`, on
/// (mostly legitimate, unlabelled) rows; besides the model it keeps the scores of the training
/// rows ([`Detector::decision_scores`]) and the [`Calibration`] derived from them (threshold at
/// the `contamination` quantile, statistics for [`Detector::predict_proba`]). Every method
/// takes `&self` except the named updates [`Detector::set_threshold`] and
/// [`Detector::set_feature_names`]: a fitted detector is plain, immutable data that many
/// threads can share.
///
/// ```
/// use mercato::fraud::{Detector, EcodParams};
/// use ndarray::array;
///
/// let x = array![[0.0, 1.0], [0.1, 1.1], [0.2, 0.9], [0.1, 1.0], [5.0, -3.0]];
/// let det = EcodParams::default().fit(&x.view())?;
/// let scores = det.score(&x.view())?;
/// assert!(scores[4] > scores[0]); // the last row is the outlier
/// assert_eq!(det.score_one(&[5.0, -3.0])?, scores[4]);
/// # Ok::<(), mercato::Error>(())
/// ```
pub trait Detector: Send + Sync {
    /// Anomaly scores of the rows of `x` (higher = more anomalous).
    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>>;

    /// Anomaly score of one row. Detectors designed for streaming (isolation forest, ECOD,
    /// COPOD, HBOS, Mahalanobis, PCA) do not allocate here.
    fn score_one(&self, x: &[f64]) -> Result<f64>;

    /// Number of features seen in `fit` (always `Some` for a fitted detector).
    fn n_features(&self) -> Option<usize>;

    /// Scores of the training rows as computed in `fit` (PyOD's `decision_scores_`).
    fn decision_scores(&self) -> Result<&[f64]>;

    /// Threshold and score statistics derived in `fit`.
    fn calibration(&self) -> Result<&Calibration>;

    /// Mutable access to the calibration (used to set an explicit threshold).
    fn calibration_mut(&mut self) -> Result<&mut Calibration>;

    /// Per-feature shares of the anomaly score of one row (summing to 1), largest first.
    fn explain(&self, x: &[f64]) -> Result<Explanation>;

    /// Short name, e.g. `"iforest"` (also the model-file kind suffix).
    fn name(&self) -> &'static str;

    /// Feature names recorded with [`Detector::set_feature_names`] (kept in model files).
    fn feature_names(&self) -> Option<&[String]> {
        None
    }

    /// Records the names of the fitted features (one per column; `None` clears them), so
    /// explanations can be shown by name after a save/load round trip. The default
    /// implementation, for detectors that do not keep names, refuses.
    fn set_feature_names(&mut self, names: Option<Vec<String>>) -> Result<()> {
        let _ = names;
        bail!("{} does not keep feature names", self.name())
    }

    /// The decision threshold: scores strictly above it are flagged.
    fn threshold(&self) -> Result<f64> {
        Ok(self.calibration()?.threshold)
    }

    /// Replaces the contamination-derived threshold with an explicit score.
    fn set_threshold(&mut self, threshold: f64) -> Result<()> {
        crate::ensure!(threshold.is_finite(), "threshold must be finite, got {threshold}");
        self.calibration_mut()?.threshold = threshold;
        Ok(())
    }

    /// 1 for rows scored above the threshold, else 0 (PyOD's `predict`).
    fn predict(&self, x: &ArrayView2<f64>) -> Result<Array1<u8>> {
        let t = self.threshold()?;
        Ok(self.score(x)?.mapv(|s| u8::from(s > t)))
    }

    /// Risk in [0, 1] for each row (see [`ProbaMethod`]).
    fn predict_proba(&self, x: &ArrayView2<f64>, method: ProbaMethod) -> Result<Array1<f64>> {
        let c = self.calibration()?;
        Ok(self.score(x)?.mapv(|s| c.proba(s, method)))
    }
}

/// How [`Detector::predict_proba`] turns a score into a 0–1 risk (both as PyOD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProbaMethod {
    /// `(s - min) / (max - min)` over the training scores, clipped to [0, 1]. Monotone and
    /// simple, but one extreme training score squashes everything else towards 0.
    #[default]
    Linear,
    /// Kriegel et al. (2011), "Interpreting and Unifying Outlier Scores":
    /// `max(0, erf((s - mean) / (std * sqrt 2)))` over the training scores. Rows at or below
    /// the training mean get 0; the risk approaches 1 several standard deviations out.
    Unify,
}

impl std::str::FromStr for ProbaMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "linear" => Ok(ProbaMethod::Linear),
            "unify" => Ok(ProbaMethod::Unify),
            other => bail!("predict_proba method must be \"linear\" or \"unify\", got {other:?}"),
        }
    }
}

/// Threshold and training-score statistics, computed once in `fit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Expected fraction of anomalies in the training data, in (0, 0.5].
    pub contamination: f64,
    /// Scores strictly above this are predicted anomalous. Defaults to the
    /// `1 - contamination` quantile of the training scores (linear interpolation, as
    /// `numpy.percentile`), which flags `contamination` of the training rows.
    pub threshold: f64,
    /// Minimum training score.
    pub min: f64,
    /// Maximum training score.
    pub max: f64,
    /// Mean training score.
    pub mean: f64,
    /// Population standard deviation of the training scores.
    pub std: f64,
}

impl Calibration {
    /// Derives the calibration from the training scores.
    pub fn from_scores(scores: &[f64], contamination: f64) -> Result<Self> {
        check_contamination(contamination)?;
        crate::ensure!(!scores.is_empty(), "cannot calibrate on zero training scores");
        crate::error::ensure_finite("training scores", scores)?;
        let n = scores.len() as f64;
        let (min, max) = reduce::min_max(scores);
        // As numpy's `mean` and `std` (pairwise sums), which PyOD's "unify" probability uses.
        let mean = reduce::pairwise_sum(scores, |s| s) / n;
        let var = reduce::pairwise_sum(scores, |s| (s - mean) * (s - mean)) / n;
        Ok(Calibration {
            contamination,
            threshold: reduce::percentile(scores, 1.0 - contamination),
            min,
            max,
            mean,
            std: var.sqrt(),
        })
    }

    /// Maps one score to a risk in [0, 1].
    pub fn proba(&self, s: f64, method: ProbaMethod) -> f64 {
        match method {
            ProbaMethod::Linear => {
                let range = self.max - self.min;
                if range > 0.0 {
                    ((s - self.min) / range).clamp(0.0, 1.0)
                } else {
                    f64::from(u8::from(s > self.max))
                }
            }
            ProbaMethod::Unify => {
                if self.std > 0.0 {
                    erf((s - self.mean) / (self.std * std::f64::consts::SQRT_2)).clamp(0.0, 1.0)
                } else {
                    f64::from(u8::from(s > self.mean))
                }
            }
        }
    }
}

/// Error function, |error| < 1.2e-7 (Numerical Recipes' Chebyshev fit of erfc).
pub fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - ans
    } else {
        ans - 1.0
    }
}

/// Checks `contamination` ∈ (0, 0.5] (PyOD's range).
pub fn check_contamination(c: f64) -> Result<()> {
    crate::ensure!(c > 0.0 && c <= 0.5, param "contamination", "must be in (0, 0.5], got {c}");
    Ok(())
}

/// Per-feature contributions to one row's anomaly score, sorted largest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The row's anomaly score.
    pub score: f64,
    /// (feature index, share), largest share first. Every detector reports *shares* of the
    /// row's anomaly that sum to 1 (so explanations of different detectors, and of an
    /// ensemble, mean the same thing); how a detector splits its score is documented on its
    /// `explain`. A share can be negative where a feature pulls the row back towards normal
    /// (Mahalanobis, PCA); all shares are 0 when nothing stands out (a score of 0).
    pub contributions: Vec<(usize, f64)>,
}

impl Explanation {
    /// Builds an explanation from per-feature values (in feature order): scales them into
    /// shares summing to 1 (divided by their sum, or by the sum of their magnitudes when that
    /// is not positive), then sorts them.
    pub fn from_values(score: f64, values: impl IntoIterator<Item = f64>) -> Self {
        let mut values: Vec<f64> = values.into_iter().collect();
        let sum: f64 = values.iter().sum();
        let mass: f64 = values.iter().map(|v| v.abs()).sum();
        // Signed parts (x_j (V⁻¹x)_j) sum to a positive score: dividing by it keeps their signs
        // and sums to 1; a degenerate row (sum ≤ 0) falls back to magnitudes.
        let total = if sum > 0.0 && sum.is_finite() { sum } else { mass };
        if total > 0.0 && total.is_finite() {
            values.iter_mut().for_each(|v| *v /= total);
        } else {
            values.iter_mut().for_each(|v| *v = 0.0);
        }
        let mut contributions: Vec<(usize, f64)> = values.into_iter().enumerate().collect();
        contributions.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Explanation { score, contributions }
    }

    /// The `k` largest contributions.
    pub fn top(&self, k: usize) -> &[(usize, f64)] {
        &self.contributions[..k.min(self.contributions.len())]
    }
}

/// Validates a training matrix: non-empty, all finite. Returns (rows, cols).
pub(crate) fn check_fit_input(x: &ArrayView2<f64>, min_rows: usize, who: &str) -> Result<(usize, usize)> {
    let (n, d) = x.dim();
    crate::ensure!(d > 0, "{who}: input has no columns");
    crate::ensure!(n >= min_rows.max(1), "{who}: needs at least {} rows to fit, got {n}", min_rows.max(1));
    check_finite_matrix(x)?;
    Ok((n, d))
}

/// Validates a scoring matrix against the fitted column count.
pub(crate) fn check_score_input(x: &ArrayView2<f64>, n_features: usize) -> Result<()> {
    if x.ncols() != n_features {
        return Err(Error::shape(format!("{n_features} columns (as in fit)"), format!("{} columns", x.ncols())));
    }
    check_finite_matrix(x)
}

/// Validates one row against the fitted column count (no allocation).
#[inline]
pub(crate) fn check_row(x: &[f64], n_features: usize) -> Result<()> {
    if x.len() != n_features {
        return Err(Error::shape(format!("{n_features} features (as in fit)"), format!("{} features", x.len())));
    }
    if let Some(j) = x.iter().position(|v| !v.is_finite()) {
        bail!("row must be finite, found {} in column {j}", x[j]);
    }
    Ok(())
}

fn check_finite_matrix(x: &ArrayView2<f64>) -> Result<()> {
    // Contiguous input (either order): a branch-free scan in memory order; the row and column
    // are looked for only when something is wrong.
    if let Some(flat) = x.as_slice_memory_order() {
        if all_finite(flat) {
            return Ok(());
        }
    }
    for (i, row) in x.rows().into_iter().enumerate() {
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            bail!("input must be finite (no NaN/inf), found {} at row {i}, column {j}", row[j]);
        }
    }
    Ok(())
}

/// Whether every value is finite (exponent bits not all set), 64 values per branch.
fn all_finite(a: &[f64]) -> bool {
    const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
    let finite = |v: &f64| v.to_bits() & EXPONENT != EXPONENT;
    let mut chunks = a.chunks_exact(64);
    chunks.all(|c| c.iter().fold(true, |ok, v| ok & finite(v))) && chunks.remainder().iter().all(finite)
}

/// A standard-layout copy of `x` (row-major) only when `x` is not already one.
pub(crate) fn row_major<'a>(x: &'a ArrayView2<'_, f64>) -> std::borrow::Cow<'a, [f64]> {
    if let Some(s) = x.as_slice() {
        return std::borrow::Cow::Borrowed(s);
    }
    let (n, d) = x.dim();
    let columns: Option<Vec<&[f64]>> = x.columns().into_iter().map(|c| c.to_slice()).collect();
    match columns {
        // Column-major input (pandas' `to_numpy`): transposed in blocks of rows, so the block
        // being written stays in cache while every column is read in order.
        Some(columns) if d > 0 => {
            let mut out = vec![0.0; n * d];
            for (b, block) in out.chunks_mut(256 * d).enumerate() {
                let first = b * 256;
                for (j, col) in columns.iter().enumerate() {
                    for (row, &v) in block.chunks_exact_mut(d).zip(&col[first..]) {
                        row[j] = v;
                    }
                }
            }
            std::borrow::Cow::Owned(out)
        }
        _ => std::borrow::Cow::Owned(x.iter().copied().collect()),
    }
}

pub(crate) use crate::parallel::pool;

/// Scores the rows of a row-major matrix in parallel blocks with `f(row) -> score`.
pub(crate) fn score_rows_parallel(
    x: &ArrayView2<f64>,
    num_threads: Option<usize>,
    f: impl Fn(&[f64]) -> f64 + Sync,
) -> Result<Array1<f64>> {
    use rayon::prelude::*;
    let d = x.ncols();
    let data = row_major(x);
    let mut out = vec![0.0; x.nrows()];
    if x.nrows() * d < (1 << 18) || x.nrows() < 1024 {
        for (o, row) in out.iter_mut().zip(data.chunks_exact(d.max(1))) {
            *o = f(row);
        }
        return Ok(Array1::from(out));
    }
    pool(num_threads)?.install(|| {
        out.par_chunks_mut(512).zip(data.par_chunks(512 * d)).for_each(|(o, rows)| {
            for (o, row) in o.iter_mut().zip(rows.chunks_exact(d)) {
                *o = f(row);
            }
        })
    });
    Ok(Array1::from(out))
}

/// Stores the result of `fit` common to all detectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct FitState {
    pub n_features: usize,
    pub decision_scores: Vec<f64>,
    pub calibration: Calibration,
    /// Optional names of the features (absent from files written before names were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
}

impl FitState {
    pub fn new(n_features: usize, decision_scores: Vec<f64>, contamination: f64) -> Result<Self> {
        let calibration = Calibration::from_scores(&decision_scores, contamination)?;
        Ok(FitState { n_features, decision_scores, calibration, feature_names: None })
    }

    /// The names, unless their count does not match the features (a tampered file).
    pub fn names(&self) -> Option<&[String]> {
        self.feature_names.as_deref().filter(|n| n.len() == self.n_features)
    }

    pub fn set_names(&mut self, names: Option<Vec<String>>) -> Result<()> {
        if let Some(n) = &names {
            crate::ensure!(
                n.len() == self.n_features,
                "{} feature names given for {} features",
                n.len(),
                self.n_features
            );
        }
        self.feature_names = names;
        Ok(())
    }
}

/// Implements the bookkeeping methods of [`Detector`] for a type with a `state: FitState` field.
macro_rules! fit_state_accessors {
    () => {
        fn n_features(&self) -> Option<usize> {
            Some(self.state.n_features)
        }
        fn decision_scores(&self) -> $crate::Result<&[f64]> {
            Ok(&self.state.decision_scores)
        }
        fn calibration(&self) -> $crate::Result<&$crate::fraud::Calibration> {
            Ok(&self.state.calibration)
        }
        fn calibration_mut(&mut self) -> $crate::Result<&mut $crate::fraud::Calibration> {
            Ok(&mut self.state.calibration)
        }
        fn feature_names(&self) -> Option<&[String]> {
            self.state.names()
        }
        fn set_feature_names(&mut self, names: Option<Vec<String>>) -> $crate::Result<()> {
            self.state.set_names(names)
        }
    };
}
pub(crate) use fit_state_accessors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_matches_numpy_percentile() {
        // np.percentile([1,2,3,4,10], 90) == 7.6
        let c = Calibration::from_scores(&[3.0, 1.0, 10.0, 2.0, 4.0], 0.1).unwrap();
        assert!((c.threshold - 7.6).abs() < 1e-12);
        assert_eq!((c.min, c.max), (1.0, 10.0));
        assert!((c.proba(5.5, ProbaMethod::Linear) - 0.5).abs() < 1e-12);
        assert_eq!(c.proba(-3.0, ProbaMethod::Linear), 0.0);
        assert_eq!(c.proba(c.mean, ProbaMethod::Unify), 0.0);
        assert!(c.proba(100.0, ProbaMethod::Unify) > 0.999);
        for bad in [0.0, -0.1, 0.51, f64::NAN] {
            assert!(Calibration::from_scores(&[1.0], bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn non_finite_values_are_found_in_any_layout() {
        let mut x = ndarray::Array2::<f64>::zeros((70, 3));
        assert!(check_finite_matrix(&x.view()).is_ok());
        for (i, j, bad) in [(0, 0, f64::NAN), (69, 2, f64::INFINITY), (33, 1, f64::NEG_INFINITY)] {
            x[[i, j]] = bad;
            for view in [x.view(), x.t().t(), x.view().reversed_axes()] {
                let err = check_finite_matrix(&view).unwrap_err().to_string();
                assert!(err.contains("finite"), "{err}");
            }
            let f = x.t().as_standard_layout().into_owned().reversed_axes();
            assert!(check_finite_matrix(&f.view()).unwrap_err().to_string().contains(&format!("row {i}, column {j}")));
            x[[i, j]] = 1e308;
            assert!(check_finite_matrix(&x.view()).is_ok());
        }
    }

    #[test]
    fn erf_is_accurate() {
        // Reference values from scipy.special.erf.
        for (x, e) in [(0.0, 0.0), (0.5, 0.5204998778130465), (1.0, 0.8427007929497149), (-2.0, -0.9953222650189527)] {
            assert!((erf(x) - e).abs() < 2e-7, "erf({x})");
        }
    }

    #[test]
    fn explanation_sorts_largest_first() {
        let e = Explanation::from_values(1.0, [0.1, 0.7, -0.2, 0.7]);
        assert_eq!(e.contributions.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 3, 0, 2]);
        let top = e.top(1);
        assert!(top.len() == 1 && top[0].0 == 1 && (top[0].1 - 0.7 / 1.3).abs() < 1e-12, "{top:?}");
    }

    #[test]
    fn explanation_values_become_shares_summing_to_one() {
        // Signed parts of a positive score keep their signs; the shares sum to 1.
        let e = Explanation::from_values(1.3, [0.1, 0.7, -0.2, 0.7]);
        assert!((e.contributions.iter().map(|c| c.1).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(e.contributions.iter().any(|c| c.1 < 0.0));
        // A degenerate sum falls back to magnitudes; all zeros stay zeros (nothing stands out).
        let e = Explanation::from_values(0.0, [1.0, -1.0]);
        assert_eq!(e.contributions.iter().map(|c| c.1).collect::<Vec<_>>(), vec![0.5, -0.5]);
        let e = Explanation::from_values(0.0, [0.0, 0.0]);
        assert!(e.contributions.iter().all(|c| c.1 == 0.0));
    }
}
