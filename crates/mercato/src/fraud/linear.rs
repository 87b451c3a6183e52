//! Covariance-based detectors: [`Mahalanobis`] (robust covariance) and [`Pca`] (principal
//! components), both via nalgebra's symmetric eigendecomposition.
//!
//! Both score a row as a quadratic form on its centred (and, for PCA, standardised) values
//! `u`: `score = Σ_c w_c (a_c · u)²` over unit axes `a_c` with weights `w_c`. Scoring one row
//! is `O(r d)` with no allocation; fit is `O(n d² + d³)`.
//!
//! * Mahalanobis: axes = eigenvectors of the covariance, `w_c = 1/λ_c`, i.e. the squared
//!   Mahalanobis distance. The covariance is Ledoit–Wolf shrunk (default; well conditioned
//!   even with near-collinear or constant features), the plain empirical one, or a robust
//!   MCD-style estimate: concentration steps (Rousseeuw & Van Driessen 1999) from the
//!   shrunk full-sample estimate, keeping the `h` rows of smallest distance until the
//!   determinant stops decreasing. This is a single deterministic start, not FastMCD's 500
//!   random starts: cheaper, and robust when the outliers do not dominate the first fit.
//! * PCA (Shyu et al. 2003): standardised features, then either the variance-weighted sum of
//!   squared projections on the selected components (`Weighted`, PyOD's `weighted=True`
//!   idea) or the squared reconstruction error from the top `n_components` (`Reconstruction`).
//!   PyOD's `PCA` scores a row by its Euclidean distance to the component *vectors*, which is
//!   not a projection; this module uses the textbook forms instead.
//!
//! Eigenvalues are floored at `1e-12 × λ_max` so a constant feature never divides by zero:
//! training rows (which never deviate along it) add nothing, while a new row that moves
//! along it scores very high, as it should.

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::detector::{
    check_contamination, check_fit_input, check_row, check_score_input, fit_state_accessors, score_rows_parallel,
    Detector, Explanation, FitState,
};
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

/// The fitted quadratic form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Quadratic {
    d: usize,
    center: Vec<f64>,
    /// 1 / scale per feature (1 when not standardising).
    inv_scale: Vec<f64>,
    /// Row-major r × d unit axes.
    axes: Vec<f64>,
    weights: Vec<f64>,
}

impl Quadratic {
    #[inline]
    fn score(&self, x: &[f64]) -> f64 {
        let mut s = 0.0;
        for (axis, w) in self.axes.chunks_exact(self.d).zip(&self.weights) {
            let mut p = 0.0;
            for j in 0..self.d {
                p += axis[j] * (x[j] - self.center[j]) * self.inv_scale[j];
            }
            s += w * p * p;
        }
        s
    }

    /// `u_j (M u)_j`: an exact additive split of the score over features.
    fn contributions(&self, x: &[f64]) -> Vec<f64> {
        let u: Vec<f64> = (0..self.d).map(|j| (x[j] - self.center[j]) * self.inv_scale[j]).collect();
        let mut mu = vec![0.0; self.d];
        for (axis, w) in self.axes.chunks_exact(self.d).zip(&self.weights) {
            let p: f64 = axis.iter().zip(&u).map(|(a, b)| a * b).sum();
            for (m, a) in mu.iter_mut().zip(axis) {
                *m += w * p * a;
            }
        }
        u.iter().zip(&mu).map(|(a, b)| a * b).collect()
    }

    fn validate(&self, d: usize, kind: &str) -> Result<()> {
        let r = self.weights.len();
        let ok = self.d == d
            && self.center.len() == d
            && self.inv_scale.len() == d
            && self.axes.len() == r * d
            && self.center.iter().chain(&self.inv_scale).chain(&self.axes).chain(&self.weights).all(|v| v.is_finite());
        if ok {
            Ok(())
        } else {
            Err(Error::format(format!("{kind}: model arrays do not match {d} features or are not finite")))
        }
    }

    /// The training-set state of a freshly fitted form: its scores on `x` and the threshold.
    fn fit_state(&self, x: &ArrayView2<f64>, num_threads: Option<usize>, contamination: f64) -> Result<FitState> {
        let scores = score_rows_parallel(x, num_threads, |row| self.score(row))?;
        FitState::new(self.d, scores.to_vec(), contamination)
    }
}

/// `score`, `score_one` and `explain` of a detector whose fitted model is a [`Quadratic`]
/// (`self.model`): Mahalanobis and PCA differ only in how they fit the form.
macro_rules! quadratic_scoring {
    () => {
        fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
            let m = &self.model;
            check_score_input(x, m.d)?;
            score_rows_parallel(x, self.params.num_threads, |row| m.score(row))
        }

        fn score_one(&self, x: &[f64]) -> Result<f64> {
            let m = &self.model;
            check_row(x, m.d)?;
            Ok(m.score(x))
        }

        /// Per-feature shares of the score: `u_j (M u)_j / score` with `u` the scaled, centred
        /// row and `M` the detector's quadratic form (an exact additive split, so they sum to 1).
        fn explain(&self, x: &[f64]) -> Result<Explanation> {
            let m = &self.model;
            check_row(x, m.d)?;
            Ok(Explanation::from_values(m.score(x), m.contributions(x)))
        }
    };
}

fn mean_and_cov(x: &ArrayView2<f64>, rows: Option<&[usize]>) -> (Vec<f64>, DMatrix<f64>) {
    let d = x.ncols();
    let idx: Vec<usize> = rows.map_or_else(|| (0..x.nrows()).collect(), <[usize]>::to_vec);
    let n = idx.len() as f64;
    let mut mean = vec![0.0; d];
    for &i in &idx {
        for (m, v) in mean.iter_mut().zip(x.row(i)) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut cov = DMatrix::zeros(d, d);
    let mut c = vec![0.0; d];
    for &i in &idx {
        for (cj, (v, m)) in c.iter_mut().zip(x.row(i).iter().zip(&mean)) {
            *cj = v - m;
        }
        for a in 0..d {
            for b in a..d {
                cov[(a, b)] += c[a] * c[b];
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            let v = cov[(a, b)] / n;
            cov[(a, b)] = v;
            cov[(b, a)] = v;
        }
    }
    (mean, cov)
}

/// Ledoit & Wolf (2004) shrinkage towards `mu I`, the formula of scikit-learn's `ledoit_wolf`.
fn ledoit_wolf(x: &ArrayView2<f64>, rows: Option<&[usize]>, mean: &[f64], emp: &DMatrix<f64>) -> DMatrix<f64> {
    let d = emp.nrows();
    let idx: Vec<usize> = rows.map_or_else(|| (0..x.nrows()).collect(), <[usize]>::to_vec);
    let n = idx.len() as f64;
    let trace: f64 = (0..d).map(|j| emp[(j, j)]).sum();
    let mu = trace / d as f64;
    // beta_ = Σ_k ||x_k||⁴ (= sum of X2ᵀ X2), delta_ = ||emp||_F².
    let beta_raw: f64 = idx
        .iter()
        .map(|&i| {
            let s: f64 = x.row(i).iter().zip(mean).map(|(v, m)| (v - m) * (v - m)).sum();
            s * s
        })
        .sum();
    let delta_raw: f64 = emp.iter().map(|v| v * v).sum();
    let beta = (beta_raw / n - delta_raw) / (d as f64 * n);
    let delta = (delta_raw - 2.0 * mu * trace + d as f64 * mu * mu) / d as f64;
    let beta = beta.min(delta);
    let shrink = if beta <= 0.0 || delta <= 0.0 { 0.0 } else { beta / delta };
    let mut out = emp * (1.0 - shrink);
    for j in 0..d {
        out[(j, j)] += shrink * mu;
    }
    out
}

/// Eigen-decomposes `cov`; returns (row-major axes, eigenvalues floored), largest first.
fn eigen(cov: DMatrix<f64>) -> (Vec<(Vec<f64>, f64)>, f64) {
    let d = cov.nrows();
    let eig = SymmetricEigen::new(cov);
    let max = eig.eigenvalues.iter().cloned().fold(0.0f64, f64::max);
    let floor = if max > 0.0 { max * 1e-12 } else { 1.0 };
    let mut pairs: Vec<(Vec<f64>, f64)> = (0..d)
        .map(|c| {
            let v: Vec<f64> = eig.eigenvectors.column(c).iter().copied().collect();
            let l = eig.eigenvalues[c];
            (v, if l.is_finite() { l.max(floor) } else { floor })
        })
        .collect();
    pairs.sort_by(|a, b| b.1.total_cmp(&a.1));
    (pairs, floor)
}

/// Covariance estimator for [`Mahalanobis`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CovarianceEstimator {
    /// Ledoit–Wolf shrinkage (default).
    #[default]
    LedoitWolf,
    /// Maximum-likelihood covariance.
    Empirical,
    /// Concentration steps on the `support_fraction` of rows (default `(n + d + 1) / 2n`)
    /// closest to the current estimate; see the [module docs](self).
    Mcd {
        /// Fraction of rows in the support, in (0, 1]; `None` = `(n + d + 1) / (2n)`.
        support_fraction: Option<f64>,
    },
}

/// Hyper-parameters of [`Mahalanobis`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MahalanobisParams {
    /// How the covariance is estimated.
    pub covariance: CovarianceEstimator,
    /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
    pub contamination: f64,
    /// Threads for batch scoring (`None` = all cores).
    pub num_threads: Option<usize>,
}

impl Default for MahalanobisParams {
    fn default() -> Self {
        MahalanobisParams { covariance: CovarianceEstimator::default(), contamination: 0.1, num_threads: None }
    }
}

impl MahalanobisParams {
    crate::params::setters! {
        /// Sets the covariance estimator.
        covariance: CovarianceEstimator,
        /// Sets the contamination.
        contamination: f64,
        /// Sets the thread count.
        num_threads: Option<usize>,
    }

    /// Checks the parameters and fits [`Mahalanobis`] on `x` (finite, at least 2 rows).
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<Mahalanobis> {
        self.check()?;
        let (n, d) = check_fit_input(x, 2, "Mahalanobis")?;
        let mut model = self.estimate(x, None);
        let data = super::detector::row_major(x);
        if let CovarianceEstimator::Mcd { support_fraction } = self.covariance {
            let frac = support_fraction.unwrap_or((n + d + 1) as f64 / (2 * n) as f64);
            crate::ensure!(frac > 0.0 && frac <= 1.0, param "support_fraction", "must be in (0, 1], got {frac}");
            let h = ((frac * n as f64).ceil() as usize).clamp(2.min(n), n);
            let mut best_logdet = f64::INFINITY;
            for _ in 0..30 {
                let mut order: Vec<(f64, usize)> =
                    data.chunks_exact(d).enumerate().map(|(i, row)| (model.score(row), i)).collect();
                order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let mut support: Vec<usize> = order[..h].iter().map(|p| p.1).collect();
                support.sort_unstable();
                let next = self.estimate(x, Some(&support));
                let logdet: f64 = next.weights.iter().map(|w| -w.ln()).sum();
                if logdet >= best_logdet - 1e-12 {
                    break;
                }
                best_logdet = logdet;
                model = next;
            }
        }
        let state = model.fit_state(x, self.num_threads, self.contamination)?;
        Ok(Mahalanobis { params: self.clone(), model, state })
    }

    fn estimate(&self, x: &ArrayView2<f64>, rows: Option<&[usize]>) -> Quadratic {
        let (mean, emp) = mean_and_cov(x, rows);
        let cov = match self.covariance {
            CovarianceEstimator::Empirical => emp,
            _ => ledoit_wolf(x, rows, &mean, &emp),
        };
        let d = mean.len();
        let (pairs, _) = eigen(cov);
        Quadratic {
            d,
            center: mean,
            inv_scale: vec![1.0; d],
            axes: pairs.iter().flat_map(|p| p.0.iter().copied()).collect(),
            weights: pairs.iter().map(|p| 1.0 / p.1).collect(),
        }
    }
}

impl crate::params::Params for MahalanobisParams {
    fn check(&self) -> Result<()> {
        if let CovarianceEstimator::Mcd { support_fraction: Some(frac) } = self.covariance {
            crate::ensure!(frac > 0.0 && frac <= 1.0, param "support_fraction", "must be in (0, 1], got {frac}");
        }
        check_contamination(self.contamination)?;
        crate::params::check_threads(self.num_threads)
    }
}

/// A fitted squared-Mahalanobis-distance detector (distance to a robust centre, see the
/// [module docs](self)), made by [`MahalanobisParams::fit`].
///
/// ```
/// use mercato::fraud::{Detector, MahalanobisParams};
/// // Two strongly correlated features; the last row breaks the correlation.
/// let mut x = ndarray::Array2::from_shape_fn((200, 2), |(i, j)| i as f64 + 0.1 * (j * (i % 3)) as f64);
/// x[[199, 1]] = 0.0;
/// let det = MahalanobisParams::default().fit(&x.view())?;
/// assert!(det.score_one(&[100.0, 0.0])? > det.score_one(&[100.0, 100.1])?);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mahalanobis {
    pub(crate) params: MahalanobisParams,
    model: Quadratic,
    state: FitState,
}

impl Mahalanobis {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &MahalanobisParams {
        &self.params
    }
}

impl Detector for Mahalanobis {
    // explain: `u_j (Σ⁻¹ u)_j` with `u = x - centre`, an exact split of the squared distance (a
    // feature can be negative when, through correlation, it makes the row *more* typical).
    quadratic_scoring!();

    fit_state_accessors!();
    fn name(&self) -> &'static str {
        "mahalanobis"
    }
}

/// What [`Pca`] scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PcaScore {
    /// Σ over the top `n_components` of projection² / eigenvalue.
    #[default]
    Weighted,
    /// Squared distance to the span of the top `n_components` (needs `n_components < d`).
    Reconstruction,
}

/// Hyper-parameters of [`Pca`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcaParams {
    /// Components kept (`None` = all for `Weighted`, half of the features for `Reconstruction`).
    pub n_components: Option<usize>,
    /// Weighted projections or reconstruction error.
    pub score: PcaScore,
    /// Standardise features first (default true, as PyOD).
    pub standardize: bool,
    /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
    pub contamination: f64,
    /// Threads for batch scoring (`None` = all cores).
    pub num_threads: Option<usize>,
}

impl Default for PcaParams {
    fn default() -> Self {
        PcaParams {
            n_components: None,
            score: PcaScore::Weighted,
            standardize: true,
            contamination: 0.1,
            num_threads: None,
        }
    }
}

impl PcaParams {
    crate::params::setters! {
        /// Sets the number of components.
        n_components: Option<usize>,
        /// Sets what is scored.
        score: PcaScore,
        /// Sets whether features are standardised first.
        standardize: bool,
        /// Sets the contamination.
        contamination: f64,
        /// Sets the thread count.
        num_threads: Option<usize>,
    }

    /// Checks the parameters and fits [`Pca`] on `x` (finite, at least 2 rows).
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<Pca> {
        self.check()?;
        let (_, d) = check_fit_input(x, 2, "Pca")?;
        let k = match (self.n_components, self.score) {
            (Some(k), PcaScore::Weighted) => {
                crate::ensure!(k >= 1 && k <= d, param "n_components", "{k} must be in [1, {d}]");
                k
            }
            (Some(k), PcaScore::Reconstruction) => {
                crate::ensure!(k >= 1 && k < d, param "n_components", "{k} must be in [1, {d}) for reconstruction error");
                k
            }
            (None, PcaScore::Weighted) => d,
            (None, PcaScore::Reconstruction) => {
                crate::ensure!(d >= 2, "reconstruction error needs at least 2 features");
                (d / 2).max(1)
            }
        };
        let (mean, mut cov) = mean_and_cov(x, None);
        let mut inv_scale = vec![1.0; d];
        if self.standardize {
            for j in 0..d {
                let sd = cov[(j, j)].sqrt();
                // Constant feature: leave it unscaled instead of dividing by zero.
                inv_scale[j] = if sd > 0.0 { 1.0 / sd } else { 1.0 };
            }
            for a in 0..d {
                for b in 0..d {
                    cov[(a, b)] *= inv_scale[a] * inv_scale[b];
                }
            }
        }
        let (pairs, _) = eigen(cov);
        let chosen: Vec<&(Vec<f64>, f64)> = match self.score {
            PcaScore::Weighted => pairs.iter().take(k).collect(),
            PcaScore::Reconstruction => pairs.iter().skip(k).collect(),
        };
        let model = Quadratic {
            d,
            center: mean,
            inv_scale,
            axes: chosen.iter().flat_map(|p| p.0.iter().copied()).collect(),
            weights: chosen.iter().map(|p| if self.score == PcaScore::Weighted { 1.0 / p.1 } else { 1.0 }).collect(),
        };
        let state = model.fit_state(x, self.num_threads, self.contamination)?;
        Ok(Pca { params: self.clone(), model, state })
    }
}

impl crate::params::Params for PcaParams {
    fn check(&self) -> Result<()> {
        crate::ensure!(self.n_components != Some(0), param "n_components", "must be at least 1");
        check_contamination(self.contamination)?;
        crate::params::check_threads(self.num_threads)
    }
}

/// A fitted principal-component detector (see the [module docs](self)), made by
/// [`PcaParams::fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    pub(crate) params: PcaParams,
    model: Quadratic,
    state: FitState,
}

impl Pca {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &PcaParams {
        &self.params
    }
}

impl Detector for Pca {
    // explain: `u_j (M u)_j` on standardised values, an exact split of the score over features.
    quadratic_scoring!();

    fit_state_accessors!();
    fn name(&self) -> &'static str {
        "pca"
    }
}

macro_rules! quadratic_persist {
    ($ty:ident, $params:ty, $kind:literal) => {
        impl Persist for $ty {
            const KIND: &'static str = $kind;

            fn write(&self) -> Result<ModelWriter> {
                ModelWriter::new(Self::KIND, &(self.params.clone(), self.state.clone(), self.model.clone()))
            }

            fn read(r: &ModelReader) -> Result<Self> {
                let (params, state, model): ($params, FitState, Quadratic) = r.meta()?;
                model.validate(state.n_features, $kind)?;
                Ok($ty { params, model, state })
            }
        }
    };
}

quadratic_persist!(Mahalanobis, MahalanobisParams, "fraud.mahalanobis");
quadratic_persist!(Pca, PcaParams, "fraud.pca");

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    fn correlated(n: usize) -> Array2<f64> {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
        Array2::from_shape_fn((n, 3), |_| 0.0).mapv(|_: f64| rng.random::<f64>()).to_owned()
    }

    #[test]
    fn empirical_mahalanobis_is_exact() {
        // Independent unit-variance-ish data: with the empirical covariance the score of the
        // centre is 0 and the average training score is d (= trace(Σ⁻¹Σ)).
        let mut x = correlated(2000);
        for mut r in x.rows_mut() {
            r[2] = r[0] + 0.05 * r[2];
        }
        let m = MahalanobisParams::default().covariance(CovarianceEstimator::Empirical).fit(&x.view()).unwrap();
        let s = m.decision_scores().unwrap();
        assert!((s.iter().sum::<f64>() / s.len() as f64 - 3.0).abs() < 1e-6);
        // Breaking the correlation is what stands out.
        let e = m.explain(&[0.5, 0.5, 0.9]).unwrap();
        assert!((e.contributions.iter().map(|c| c.1).sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(e.score > 100.0);
        let lw = MahalanobisParams::default().fit(&x.view()).unwrap();
        assert!(lw.score_one(&[0.5, 0.5, 0.9]).unwrap() > 10.0);
    }

    #[test]
    fn mcd_resists_a_cluster_of_outliers() {
        let mut x = correlated(400);
        for i in 360..400 {
            x.row_mut(i).fill(6.0);
        }
        let mcd = MahalanobisParams::default()
            .covariance(CovarianceEstimator::Mcd { support_fraction: None })
            .fit(&x.view())
            .unwrap();
        let lw = MahalanobisParams::default().fit(&x.view()).unwrap();
        let ratio = |m: &Mahalanobis| m.decision_scores().unwrap()[399] / m.decision_scores().unwrap()[0].max(1e-9);
        assert!(ratio(&mcd) > 10.0 * ratio(&lw), "{} vs {}", ratio(&mcd), ratio(&lw));
    }

    #[test]
    fn pca_modes_constant_columns_and_persistence() {
        let mut x = correlated(500);
        x.column_mut(1).fill(2.0);
        for kind in [PcaScore::Weighted, PcaScore::Reconstruction] {
            let p = PcaParams::default().score(kind).n_components(Some(1)).fit(&x.view()).unwrap();
            assert!(p.decision_scores().unwrap().iter().all(|v| v.is_finite()), "{kind:?}");
            assert!(p.score_one(&[0.5, 7.0, 0.5]).unwrap() > p.score_one(&[0.5, 2.0, 0.5]).unwrap(), "{kind:?}");
            let back = Pca::from_bytes(p.to_bytes().unwrap()).unwrap();
            assert_eq!(back, p);
        }
        assert!(PcaParams::default().n_components(Some(4)).fit(&x.view()).is_err());
        assert!(PcaParams::default().score(PcaScore::Reconstruction).n_components(Some(3)).fit(&x.view()).is_err());
        let m = MahalanobisParams::default().fit(&Array2::from_elem((10, 2), 1.0).view()).unwrap();
        assert_eq!(m.score_one(&[1.0, 1.0]).unwrap(), 0.0);
        assert!(m.score_one(&[1.0, 2.0]).unwrap() > 0.5);
        assert!(MahalanobisParams::default().fit(&Array2::from_elem((1, 2), 1.0).view()).is_err());
        let back = Mahalanobis::from_bytes(m.to_bytes().unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
