//! Distance-based detectors: [`Knn`] (Ramaswamy et al. 2000; Angiulli & Pizzuti 2002) and
//! [`Lof`] (Breunig et al. 2000), Euclidean or Mahalanobis distance ([`NeighborMetric`]), with
//! PyOD/scikit-learn semantics. The neighbour search (kd-tree or blocked brute force, and the
//! whitening that turns Mahalanobis into Euclidean distance) is in the private `index` module.
//!
//! Training rows are scored against the other training rows (each row is excluded from its
//! own neighbours, as scikit-learn's `kneighbors()` without `X`); rows scored later are
//! queried against all training rows; fit scores every training row (`n` queries, parallel).

mod index;

use index::{Index, Whitening};

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::detector::{
    check_contamination, check_fit_input, check_row, check_score_input, fit_state_accessors, row_major, Detector,
    Explanation, FitState,
};
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

/// How [`Knn`] turns the k neighbour distances into a score (PyOD's `method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KnnMethod {
    /// Distance to the k-th neighbour.
    #[default]
    Largest,
    /// Mean distance to the k neighbours.
    Mean,
    /// Median distance to the k neighbours.
    Median,
}

/// Distance between rows for [`Knn`] and [`Lof`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NeighborMetric {
    /// Euclidean distance (PyOD's default, `minkowski` with `p = 2`).
    #[default]
    Euclidean,
    /// Mahalanobis distance `sqrt((x-y)ᵀ V⁻¹ (x-y))` for a covariance `v` (row-major d×d,
    /// symmetric positive definite), as scikit-learn's `metric="mahalanobis"` with
    /// `metric_params={"V": v}`. It is kept in the model file.
    Mahalanobis {
        /// The covariance matrix, row-major.
        v: Vec<f64>,
    },
}

/// The hyper-parameter struct of a neighbour detector: the same fields (and model-file form)
/// for [`KnnParams`] and [`LofParams`], their own defaults and `fit`.
macro_rules! neighbors_params {
    ($params:ident, $ty:ident, $k:literal, $doc:literal, $method_doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $params {
            #[doc = concat!("Neighbours per row (default ", stringify!($k), ", as PyOD).")]
            pub n_neighbors: usize,
            #[doc = $method_doc]
            pub method: KnnMethod,
            /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
            pub contamination: f64,
            /// Threads for fit and batch scoring (`None` = all cores).
            pub num_threads: Option<usize>,
            /// Distance between rows (default Euclidean).
            pub metric: NeighborMetric,
        }

        impl Default for $params {
            fn default() -> Self {
                $params {
                    n_neighbors: $k,
                    method: KnnMethod::Largest,
                    contamination: 0.1,
                    num_threads: None,
                    metric: NeighborMetric::Euclidean,
                }
            }
        }

        impl crate::params::Params for $params {
            fn check(&self) -> Result<()> {
                crate::ensure!(self.n_neighbors >= 1, param "n_neighbors", "must be at least 1, got 0");
                check_contamination(self.contamination)?;
                crate::params::check_threads(self.num_threads)
            }
        }
    };
}

neighbors_params!(
    KnnParams,
    Knn,
    5,
    "Hyper-parameters of [`Knn`] (names and defaults as PyOD's `KNN`).",
    "How distances become a score (default the largest)."
);
neighbors_params!(
    LofParams,
    Lof,
    20,
    "Hyper-parameters of [`Lof`] (names and defaults as PyOD's `LOF`).",
    "Not used by LOF (kept so that LOF and KNN parameters, and model files, have one form)."
);

/// The search index over the training rows, for `k` neighbours (parameters already checked).
fn neighbour_state(x: &ArrayView2<f64>, k: usize, metric: &NeighborMetric, who: &str) -> Result<Index> {
    let (n, d) = x.dim();
    crate::ensure!(n > k, "{who}: n_neighbors = {k} needs at least {} training rows, got {n}", k + 1);
    check_fit_input(x, k + 1, who)?;
    crate::ensure!(n < u32::MAX as usize, "{who}: too many rows ({n})");
    let whiten = Whitening::new(metric, d)?;
    let points = match &whiten {
        Some(w) => w.rows(&row_major(x)),
        None => row_major(x).into_owned(),
    };
    Ok(Index::build(points, n, d, whiten))
}

/// Scores every row of `data` (row-major) from its k neighbours with `f`; `exclude_self`
/// skips row i among its own neighbours (training rows).
fn for_all_rows(
    index: &Index,
    data: &[f64],
    k: usize,
    exclude_self: bool,
    num_threads: Option<usize>,
    f: impl Fn(&[(f64, u32)]) -> f64 + Sync,
) -> Result<Vec<f64>> {
    Ok(index.knn_batch(data, k, exclude_self, num_threads)?.chunks_exact(k).map(f).collect())
}

/// A stack buffer for one row's neighbours in `score_one` / `explain`; larger k fall back to
/// the heap.
const STACK_NEIGHBOURS: usize = 64;

/// Runs `f` on the k nearest training points to `x`, without allocating when
/// `k <= STACK_NEIGHBOURS` and the metric is Euclidean (a Mahalanobis query is whitened first).
fn with_neighbours<T>(index: &Index, x: &[f64], k: usize, f: impl FnOnce(&[(f64, u32)]) -> T) -> T {
    let z;
    let x = match &index.whiten {
        Some(w) => {
            z = w.row(x);
            &z[..]
        }
        None => x,
    };
    if k <= STACK_NEIGHBOURS {
        let mut buf = [(0.0, 0u32); STACK_NEIGHBOURS];
        index.knn(x, None, &mut buf[..k]);
        f(&buf[..k])
    } else {
        let mut buf = vec![(0.0, 0u32); k];
        index.knn(x, None, &mut buf);
        f(&buf)
    }
}

/// A fitted k-nearest-neighbour distance detector (see the [module docs](self)), made by
/// [`KnnParams::fit`].
///
/// ```
/// use mercato::fraud::{Detector, KnnParams};
/// let x = ndarray::Array2::from_shape_fn((40, 2), |(i, j)| if i == 39 { 9.0 } else { ((i + j) % 5) as f64 });
/// let knn = KnnParams::default().n_neighbors(3).fit(&x.view())?;
/// let s = knn.decision_scores()?;
/// assert!(s[39] > s[0]);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Knn {
    pub(crate) params: KnnParams,
    index: Index,
    state: FitState,
}

fn knn_score(method: KnnMethod, nb: &[(f64, u32)]) -> f64 {
    match method {
        KnnMethod::Largest => nb.last().map_or(0.0, |v| v.0.sqrt()),
        KnnMethod::Mean => nb.iter().map(|v| v.0.sqrt()).sum::<f64>() / nb.len().max(1) as f64,
        KnnMethod::Median => {
            let m = nb.len();
            if m == 0 {
                0.0
            } else if m % 2 == 1 {
                nb[m / 2].0.sqrt()
            } else {
                (nb[m / 2 - 1].0.sqrt() + nb[m / 2].0.sqrt()) / 2.0
            }
        }
    }
}

impl Knn {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &KnnParams {
        &self.params
    }
}

impl KnnParams {
    crate::params::setters! {
        /// Sets k.
        n_neighbors: usize,
        /// Sets how distances become a score.
        method: KnnMethod,
        /// Sets the contamination.
        contamination: f64,
        /// Sets the thread count.
        num_threads: Option<usize>,
        /// Sets the distance between rows.
        metric: NeighborMetric,
    }

    /// Checks the parameters and fits [`Knn`] on `x` (finite; more rows than neighbours).
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<Knn> {
        self.check()?;
        let index = neighbour_state(x, self.n_neighbors, &self.metric, "Knn")?;
        let (k, m) = (self.n_neighbors, self.method);
        let scores = for_all_rows(&index, &index.points, k, true, self.num_threads, |nb| knn_score(m, nb))?;
        let state = FitState::new(index.d, scores, self.contamination)?;
        Ok(Knn { params: self.clone(), index, state })
    }
}

impl Detector for Knn {
    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        let index = &self.index;
        check_score_input(x, index.d)?;
        let (k, m) = (self.params.n_neighbors, self.params.method);
        Ok(Array1::from(for_all_rows(index, &index.queries(row_major(x)), k, false, self.params.num_threads, |nb| {
            knn_score(m, nb)
        })?))
    }

    /// No allocation for `n_neighbors <= 64` (neighbours kept in a stack buffer).
    fn score_one(&self, x: &[f64]) -> Result<f64> {
        let index = &self.index;
        check_row(x, index.d)?;
        Ok(with_neighbours(index, x, self.params.n_neighbors, |nb| knn_score(self.params.method, nb)))
    }

    fit_state_accessors!();
    /// Each feature's share of the squared distances to the k neighbours:
    /// `Σ_neighbours (x_j - y_j)²` (Mahalanobis: `(x_j - y_j) (V⁻¹(x - y))_j`), divided by
    /// the total (the shares sum to 1).
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        let index = &self.index;
        check_row(x, index.d)?;
        Ok(with_neighbours(index, x, self.params.n_neighbors, |nb| {
            Explanation::from_values(knn_score(self.params.method, nb), distance_shares(index, x, nb))
        }))
    }

    fn name(&self) -> &'static str {
        "knn"
    }
}

fn distance_shares(index: &Index, x: &[f64], nb: &[(f64, u32)]) -> Vec<f64> {
    let mut per = vec![0.0; index.d];
    if let Some(w) = &index.whiten {
        // In whitened space dz = z_x - z_y; the feature difference is dz W⁻¹ and the
        // quadratic form's split is diff_j (W dz)_j, whose sum is |dz|².
        let (d, zx) = (index.d, w.row(x));
        for &(_, id) in nb {
            let dz: Vec<f64> = zx.iter().zip(index.row(id as usize)).map(|(a, b)| a - b).collect();
            for (j, p) in per.iter_mut().enumerate() {
                let diff: f64 = (0..d).map(|k| dz[k] * w.winv[k * d + j]).sum();
                let wdz: f64 = (0..d).map(|k| w.w[j * d + k] * dz[k]).sum();
                *p += diff * wdz;
            }
        }
        return per;
    }
    for &(_, id) in nb {
        for (p, (a, b)) in per.iter_mut().zip(x.iter().zip(index.row(id as usize))) {
            *p += (a - b) * (a - b);
        }
    }
    let total: f64 = per.iter().sum();
    if total > 0.0 {
        per.iter_mut().for_each(|p| *p /= total);
    }
    per
}

/// A fitted local outlier factor (see the [module docs](self)), made by [`LofParams::fit`];
/// scores are scikit-learn's `-negative_outlier_factor_` (≈ 1 for inliers, larger for
/// outliers).
#[derive(Clone, Debug, PartialEq)]
pub struct Lof {
    pub(crate) params: LofParams,
    model: LofModel,
    state: FitState,
}

#[derive(Clone, Debug, PartialEq)]
struct LofModel {
    index: Index,
    /// Distance of each training row to its k-th neighbour.
    k_dist: Vec<f64>,
    /// Local reachability density of each training row.
    lrd: Vec<f64>,
}

impl Lof {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &LofParams {
        &self.params
    }

    /// 1 / (mean reachability distance + 1e-10), as scikit-learn.
    fn lrd_of(m: &LofModel, nb: &[(f64, u32)]) -> f64 {
        let reach: f64 = nb.iter().map(|&(d2, j)| d2.sqrt().max(m.k_dist[j as usize])).sum();
        1.0 / (reach / nb.len() as f64 + 1e-10)
    }

    fn lof_of(m: &LofModel, nb: &[(f64, u32)]) -> f64 {
        let lrd = Self::lrd_of(m, nb);
        nb.iter().map(|&(_, j)| m.lrd[j as usize]).sum::<f64>() / nb.len() as f64 / lrd
    }
}

impl LofParams {
    crate::params::setters! {
        /// Sets k.
        n_neighbors: usize,
        /// Sets the contamination.
        contamination: f64,
        /// Sets the thread count.
        num_threads: Option<usize>,
        /// Sets the distance between rows.
        metric: NeighborMetric,
    }

    /// Checks the parameters and fits [`Lof`] on `x` (finite; more rows than neighbours).
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<Lof> {
        self.check()?;
        let index = neighbour_state(x, self.n_neighbors, &self.metric, "Lof")?;
        let k = self.n_neighbors;
        let threads = self.num_threads;
        let (n, d) = (index.n, index.d);
        // Pass 1: neighbours of every training row (self excluded).
        let neigh = index.knn_batch(&index.points, k, true, threads)?;
        debug_assert_eq!(neigh.len(), n * k);
        let k_dist: Vec<f64> = neigh.chunks_exact(k).map(|nb| nb[k - 1].0.sqrt()).collect();
        let mut model = LofModel { index, k_dist, lrd: Vec::new() };
        model.lrd = neigh.chunks_exact(k).map(|nb| Lof::lrd_of(&model, nb)).collect();
        let scores: Vec<f64> = neigh.chunks_exact(k).map(|nb| Lof::lof_of(&model, nb)).collect();
        let state = FitState::new(d, scores, self.contamination)?;
        Ok(Lof { params: self.clone(), model, state })
    }
}

impl Detector for Lof {
    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        let m = &self.model;
        check_score_input(x, m.index.d)?;
        let k = self.params.n_neighbors;
        Ok(Array1::from(for_all_rows(
            &m.index,
            &m.index.queries(row_major(x)),
            k,
            false,
            self.params.num_threads,
            |nb| Self::lof_of(m, nb),
        )?))
    }

    /// No allocation for `n_neighbors <= 64` (neighbours kept in a stack buffer).
    fn score_one(&self, x: &[f64]) -> Result<f64> {
        let m = &self.model;
        check_row(x, m.index.d)?;
        Ok(with_neighbours(&m.index, x, self.params.n_neighbors, |nb| Self::lof_of(m, nb)))
    }

    fit_state_accessors!();
    /// Each feature's share of the squared distances to the k neighbours (as [`Knn`]).
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        let m = &self.model;
        check_row(x, m.index.d)?;
        Ok(with_neighbours(&m.index, x, self.params.n_neighbors, |nb| {
            Explanation::from_values(Self::lof_of(m, nb), distance_shares(&m.index, x, nb))
        }))
    }

    fn name(&self) -> &'static str {
        "lof"
    }
}

fn read_points(r: &ModelReader, state: &FitState, metric: &NeighborMetric, kind: &str) -> Result<Index> {
    let (shape, points) = r.f64("points")?;
    let d = state.n_features;
    if shape.len() != 2 || shape[1] != d || shape[0] != state.decision_scores.len() || shape[0] == 0 {
        return Err(Error::format(format!("{kind}: training points do not match the model")));
    }
    if points.iter().any(|v| !v.is_finite()) {
        return Err(Error::format(format!("{kind}: training points must be finite")));
    }
    let whiten = Whitening::new(metric, d).map_err(|e| Error::format(format!("{kind}: {e}")))?;
    Ok(Index::build(points, shape[0], d, whiten))
}

impl Persist for Knn {
    const KIND: &'static str = "fraud.knn";

    fn write(&self) -> Result<ModelWriter> {
        let ix = &self.index;
        Ok(ModelWriter::new(Self::KIND, &(self.params.clone(), self.state.clone()))?.f64(
            "points",
            &[ix.n, ix.d],
            &ix.points,
        ))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let (params, state): (KnnParams, FitState) = r.meta()?;
        let index = read_points(r, &state, &params.metric, Self::KIND)?;
        if params.n_neighbors == 0 || params.n_neighbors >= index.n {
            return Err(Error::format("fraud.knn: n_neighbors does not fit the training rows"));
        }
        Ok(Knn { params, index, state })
    }
}

impl Persist for Lof {
    const KIND: &'static str = "fraud.lof";

    fn write(&self) -> Result<ModelWriter> {
        let m = &self.model;
        let n = m.index.n;
        Ok(ModelWriter::new(Self::KIND, &(self.params.clone(), self.state.clone()))?
            .f64("points", &[n, m.index.d], &m.index.points)
            .f64("k_dist", &[n], &m.k_dist)
            .f64("lrd", &[n], &m.lrd))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let (params, state): (LofParams, FitState) = r.meta()?;
        let index = read_points(r, &state, &params.metric, Self::KIND)?;
        let k_dist = r.array1_f64("k_dist", Some(index.n))?.to_vec();
        let lrd = r.array1_f64("lrd", Some(index.n))?.to_vec();
        if params.n_neighbors == 0 || params.n_neighbors >= index.n {
            return Err(Error::format("fraud.lof: n_neighbors does not fit the training rows"));
        }
        if k_dist.iter().chain(&lrd).any(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::format("fraud.lof: distances and densities must be finite and non-negative"));
        }
        Ok(Lof { params, model: LofModel { index, k_dist, lrd }, state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};

    fn data(n: usize, d: usize) -> Array2<f64> {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        Array2::from_shape_fn((n, d), |_| rng.random::<f64>())
    }

    #[test]
    fn kd_tree_agrees_with_brute_force() {
        let x = data(3000, 4);
        let pts = x.as_slice().unwrap().to_vec();
        let kd = Index::build(pts.clone(), 3000, 4, None);
        assert!(kd.tree.is_some());
        let brute = Index { tree: None, ..kd.clone() };
        let (mut a, mut b) = ([(0.0, 0); 7], [(0.0, 0); 7]);
        for i in (0..3000).step_by(37) {
            let q = &pts[i * 4..(i + 1) * 4];
            kd.knn(q, Some(i as u32), &mut a);
            brute.knn(q, Some(i as u32), &mut b);
            assert_eq!(a, b, "row {i}");
            assert!(a.iter().all(|&(_, id)| id != i as u32));
        }
    }

    #[test]
    fn blocked_brute_force_agrees_with_row_by_row_search() {
        // 20 features: brute force; 700 rows: several query and training blocks, a ragged
        // last block; duplicated rows make exact ties.
        let mut x = data(700, 20);
        for i in 0..10 {
            let r = x.row(i).to_owned();
            x.row_mut(600 + i).assign(&r);
        }
        let pts = x.as_slice().unwrap().to_vec();
        let index = Index::build(pts.clone(), 700, 20, None);
        assert!(index.tree.is_none());
        for exclude_self in [true, false] {
            let one = index.knn_batch(&pts, 9, exclude_self, Some(1)).unwrap();
            let two = index.knn_batch(&pts, 9, exclude_self, Some(2)).unwrap();
            assert_eq!(one, two, "thread count");
            for (i, got) in one.chunks(9).enumerate() {
                let mut want = [(0.0, 0); 9];
                index.knn(&pts[i * 20..(i + 1) * 20], exclude_self.then_some(i as u32), &mut want);
                assert_eq!(got, want, "row {i}");
            }
        }
    }

    #[test]
    fn knn_and_lof_definitions() {
        // 1-D points 0, 1, 2, 3, 10: k = 2.
        let x = Array2::from_shape_vec((5, 1), vec![0.0, 1.0, 2.0, 3.0, 10.0]).unwrap();
        let knn = KnnParams::default().n_neighbors(2).fit(&x.view()).unwrap();
        assert_eq!(knn.decision_scores().unwrap(), &[2.0, 1.0, 1.0, 2.0, 8.0]);
        assert_eq!(knn.score_one(&[10.0]).unwrap(), 7.0, "new rows include every training row");
        let mean = KnnParams::default().n_neighbors(2).method(KnnMethod::Mean).fit(&x.view()).unwrap();
        assert_eq!(mean.decision_scores().unwrap()[4], 7.5);
        let lof = LofParams::default().n_neighbors(2).fit(&x.view()).unwrap();
        let s = lof.decision_scores().unwrap();
        // By hand (= -sklearn LocalOutlierFactor(n_neighbors=2).negative_outlier_factor_):
        // rows 0..3 all have lrd 2/3; row 10 has reach distances 7 and 8, lrd 2/15.
        let want = [1.0, 1.0, 1.0, 1.0, 5.0];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-8, "{s:?}");
        }
        assert!(lof.score(&x.view()).unwrap()[4] > 1.5);
    }

    #[test]
    fn errors_threads_and_persistence() {
        let x = data(2500, 3);
        assert!(KnnParams::default().n_neighbors(5).fit(&x.slice(ndarray::s![..5, ..]).view()).is_err(), "k >= n");
        assert!(LofParams::default().n_neighbors(0).fit(&x.view()).is_err());
        let a = LofParams::default().num_threads(Some(1)).fit(&x.view()).unwrap();
        let b = LofParams::default().num_threads(Some(2)).fit(&x.view()).unwrap();
        assert_eq!(a.decision_scores().unwrap(), b.decision_scores().unwrap());
        let back = Lof::from_bytes(a.to_bytes().unwrap()).unwrap();
        assert_eq!(back.score_one(&[0.5, 0.5, 2.0]).unwrap(), a.score_one(&[0.5, 0.5, 2.0]).unwrap());
        assert!(a.score_one(&[0.5]).is_err());
        let k = KnnParams::default().fit(&x.view()).unwrap();
        let e = k.explain(&[0.5, 0.5, 9.0]).unwrap();
        assert_eq!(e.contributions[0].0, 2);
        let back = Knn::from_bytes(k.to_bytes().unwrap()).unwrap();
        assert_eq!(back, k);
    }

    #[test]
    fn mahalanobis_metric_is_euclidean_after_scaling() {
        // V = diag(4, 1): the Mahalanobis distance is the Euclidean one on (x0 / 2, x1).
        let x = data(300, 2);
        let mut scaled = x.clone();
        scaled.column_mut(0).mapv_inplace(|v| v / 2.0);
        let metric = NeighborMetric::Mahalanobis { v: vec![4.0, 0.0, 0.0, 1.0] };
        let m = KnnParams::default().metric(metric).fit(&x.view()).unwrap();
        let e = KnnParams::default().n_neighbors(5).fit(&scaled.view()).unwrap();
        for (a, b) in m.decision_scores().unwrap().iter().zip(e.decision_scores().unwrap()) {
            assert!((a - b).abs() < 1e-9);
        }
        assert!((m.score_one(&[4.0, 1.0]).unwrap() - e.score_one(&[2.0, 1.0]).unwrap()).abs() < 1e-9);
        let q = ndarray::array![[4.0, 1.0], [0.2, 0.3]];
        assert!((m.score(&q.view()).unwrap()[0] - m.score_one(&[4.0, 1.0]).unwrap()).abs() < 1e-12);
        let ex = m.explain(&[4.0, 0.5]).unwrap();
        assert!((ex.contributions.iter().map(|c| c.1).sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(Knn::from_bytes(m.to_bytes().unwrap()).unwrap(), m);
        // A wrong shape or a matrix that is not positive definite is a parameter error.
        for v in [vec![1.0, 0.0, 0.0], vec![1.0, 2.0, 2.0, 1.0]] {
            let metric = NeighborMetric::Mahalanobis { v };
            let err = KnnParams::default().metric(metric).fit(&x.view());
            assert!(matches!(err, Err(Error::InvalidParameter { .. })), "{err:?}");
        }
    }
}
