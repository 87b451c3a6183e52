//! Distance-based detectors: [`Knn`] (Ramaswamy et al. 2000; Angiulli & Pizzuti 2002) and
//! [`Lof`] (Breunig et al. 2000), Euclidean or Mahalanobis distance ([`NeighborMetric`]), with
//! PyOD/scikit-learn semantics. A Mahalanobis metric is Euclidean distance after whitening
//! (`z = x W`, `W Wᵀ = V⁻¹`): the index holds whitened points and queries are whitened first,
//! so both searches below serve either metric.
//!
//! Neighbour search uses a **kd-tree** (bounding-box pruning, leaves of 32 rows) when there
//! are at most 16 features and more than 1,000 rows, else **brute force** (kd-trees stop
//! pruning in high dimension). The cut-off is scikit-learn's (15) moved by one: on the
//! benchmark sets the tree still beats the blocked brute force at 16 features and loses from
//! 21 on (timings in the README, "Fraud detectors").
//!
//! Complexity (n training rows, d features, k neighbours):
//! * kd-tree: build `O(n log n)`, a query about `O(k log n)` in low dimension (degrading
//!   towards `O(n)` as d grows); memory `O(n d)`.
//! * brute force: a query `O(n d)`, computed for blocks of rows by matrix products
//!   (`Index::knn_batch`); memory `O(n d)` plus a centred copy of the points.
//! * fit scores every training row: `n` queries (parallel).
//!
//! Training rows are scored against the other training rows (each row is excluded from its
//! own neighbours, as scikit-learn's `kneighbors()` without `X`); rows scored later are
//! queried against all training rows.

use std::borrow::Cow;

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{Array1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::detector::{
    check_contamination, check_fit_input, check_row, check_score_input, fit_state_accessors, pool, row_major, Detector,
    Explanation, FitState,
};
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

const LEAF_SIZE: usize = 32;

/// Training points with a kd-tree over them (or none, for brute force).
#[derive(Clone, Debug)]
struct Index {
    n: usize,
    d: usize,
    /// Row-major training points in original order.
    points: Vec<f64>,
    tree: Option<KdTree>,
    /// Brute force only: the column means, the points minus them (row-major) and their
    /// squared norms, for distances as `|q|^2 + |p|^2 - 2 q.p` by matrix products.
    /// Centring keeps the norms small, so the cancellation in that formula stays far below
    /// the gaps between neighbours. Derived data: not stored in model files.
    center: Vec<f64>,
    centered: Vec<f64>,
    norms: Vec<f64>,
    /// Mahalanobis metric: the whitening `points` went through (queries go through it too).
    whiten: Option<Whitening>,
}

/// `z = x W` with `W Wᵀ = V⁻¹` (from the eigendecomposition `V = Q Λ Qᵀ`: `W = Q Λ^-1/2`),
/// so that Euclidean distance between whitened rows is the Mahalanobis distance; `winv`
/// (`Λ^1/2 Qᵀ`) maps whitened differences back to features for `explain`.
#[derive(Clone, Debug, PartialEq)]
struct Whitening {
    d: usize,
    /// Row-major d×d: `z_k = Σ_j x_j w[j d + k]`.
    w: Vec<f64>,
    /// Row-major d×d: `x_j = Σ_k z_k winv[k d + j]`.
    winv: Vec<f64>,
}

impl Whitening {
    /// The whitening for `metric` on `d` features (`None` for Euclidean).
    fn new(metric: &NeighborMetric, d: usize) -> Result<Option<Whitening>> {
        let NeighborMetric::Mahalanobis { v } = metric else { return Ok(None) };
        crate::ensure!(
            v.len() == d * d,
            param "metric",
            "the Mahalanobis covariance V must be {d}x{d} (one row and column per feature), got {} values",
            v.len()
        );
        crate::ensure!(v.iter().all(|x| x.is_finite()), param "metric", "the Mahalanobis covariance V must be finite");
        let m = DMatrix::from_row_slice(d, d, v);
        let asym = (0..d).flat_map(|i| (0..d).map(move |j| (i, j))).map(|(i, j)| (m[(i, j)] - m[(j, i)]).abs());
        let scale = v.iter().fold(0.0f64, |a, x| a.max(x.abs())).max(f64::MIN_POSITIVE);
        crate::ensure!(asym.fold(0.0f64, f64::max) <= 1e-9 * scale, param "metric", "the Mahalanobis covariance V must be symmetric");
        let eig = SymmetricEigen::new(m);
        let min = eig.eigenvalues.iter().copied().fold(f64::INFINITY, f64::min);
        crate::ensure!(
            min > 1e-12 * scale,
            param "metric",
            "the Mahalanobis covariance V must be positive definite (smallest eigenvalue {min})"
        );
        let (mut w, mut winv) = (vec![0.0; d * d], vec![0.0; d * d]);
        for k in 0..d {
            let root = eig.eigenvalues[k].sqrt();
            for j in 0..d {
                let q = eig.eigenvectors[(j, k)];
                w[j * d + k] = q / root;
                winv[k * d + j] = q * root;
            }
        }
        Ok(Some(Whitening { d, w, winv }))
    }

    /// One whitened row.
    fn row(&self, x: &[f64]) -> Vec<f64> {
        let d = self.d;
        let mut z = vec![0.0; d];
        for (j, xj) in x.iter().enumerate() {
            for (zk, wk) in z.iter_mut().zip(&self.w[j * d..(j + 1) * d]) {
                *zk += xj * wk;
            }
        }
        z
    }

    /// Whitened copies of row-major rows. Sequential: `O(n d²)` is small next to the
    /// neighbour search, and the global rayon pool would ignore the caller's `num_threads`.
    fn rows(&self, data: &[f64]) -> Vec<f64> {
        data.chunks_exact(self.d).flat_map(|r| self.row(r)).collect()
    }
}

impl PartialEq for Index {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n
            && self.d == other.d
            && self.points == other.points
            && self.tree == other.tree
            && self.whiten == other.whiten
    }
}

/// Query rows per block of the brute-force search (rows of one matrix product).
const QUERY_BLOCK: usize = 64;
/// Training rows per block of the brute-force search (columns of one matrix product).
const TRAIN_BLOCK: usize = 512;

#[derive(Clone, Debug, PartialEq)]
struct KdTree {
    /// Point ids in tree order; node `i` covers `perm[start[i]..end[i]]`.
    perm: Vec<u32>,
    /// Points in tree order (row-major), for locality in leaf scans.
    points: Vec<f64>,
    nodes: Vec<KdNode>,
    /// Per node: bounding box lows then highs (2 d values).
    boxes: Vec<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct KdNode {
    start: u32,
    end: u32,
    /// Children (0 for a leaf; the root is node 0 so 0 is never a child).
    left: u32,
    right: u32,
}

/// The k best (squared distance, id) so far, ascending, in a caller-provided buffer of at
/// least k entries (no allocation).
struct Best<'a> {
    items: &'a mut [(f64, u32)],
    len: usize,
}

impl<'a> Best<'a> {
    /// Keeps the `items.len()` best.
    fn new(items: &'a mut [(f64, u32)]) -> Self {
        Best { items, len: 0 }
    }

    #[inline]
    fn worst(&self) -> f64 {
        if self.len < self.items.len() {
            f64::INFINITY
        } else {
            self.items[self.len - 1].0
        }
    }

    #[inline]
    fn push(&mut self, d2: f64, id: u32) {
        if d2 >= self.worst() {
            return;
        }
        let k = self.items.len();
        let pos = self.items[..self.len].partition_point(|&(v, i)| v < d2 || (v == d2 && i < id));
        if self.len < k {
            self.len += 1;
        }
        // Shift the tail right by one (dropping the last when full), then insert.
        self.items.copy_within(pos..self.len - 1, pos + 1);
        self.items[pos] = (d2, id);
    }
}

#[inline]
fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl Index {
    /// The index over row-major `points` (already whitened when `whiten` is set).
    fn build(points: Vec<f64>, n: usize, d: usize, whiten: Option<Whitening>) -> Index {
        let tree = (d <= 16 && n > 1000).then(|| KdTree::build(&points, n, d));
        let mut index =
            Index { n, d, points, tree, center: Vec::new(), centered: Vec::new(), norms: Vec::new(), whiten };
        if index.tree.is_none() {
            let mut center = vec![0.0; d];
            for row in index.points.chunks_exact(d) {
                for (c, v) in center.iter_mut().zip(row) {
                    *c += v;
                }
            }
            center.iter_mut().for_each(|c| *c /= n as f64);
            let centered: Vec<f64> =
                index.points.chunks_exact(d).flat_map(|r| r.iter().zip(&center).map(|(v, c)| v - c)).collect();
            index.norms = centered.chunks_exact(d).map(|r| r.iter().map(|v| v * v).sum()).collect();
            index.center = center;
            index.centered = centered;
        }
        index
    }

    /// Fills `out` (k entries) with the k nearest training points to `q` (squared distances,
    /// ascending, ties by id), skipping training point `exclude`. No allocation.
    fn knn(&self, q: &[f64], exclude: Option<u32>, out: &mut [(f64, u32)]) {
        let mut best = Best::new(out);
        match &self.tree {
            Some(t) => t.search(0, q, self.d, exclude, &mut best),
            None => {
                for (i, p) in self.points.chunks_exact(self.d).enumerate() {
                    if Some(i as u32) != exclude {
                        best.push(dist2(q, p), i as u32);
                    }
                }
            }
        }
        debug_assert_eq!(best.len, out.len(), "k < n is checked in fit");
    }

    /// The k nearest training points of every row of `queries` (row-major), `k` entries per
    /// row as [`Index::knn`] gives them; `exclude_self` skips training point i for query row
    /// i (the queries are then the training rows).
    ///
    /// With a kd-tree, one search per row. Brute force works on blocks of
    /// `QUERY_BLOCK` × `TRAIN_BLOCK` pairs: the block's dot products come from one matrix
    /// product (ndarray / matrixmultiply, SIMD), squared distances as
    /// `|q|^2 + |p|^2 - 2 q.p` on centred data, and a candidate enters the row's k best only
    /// if it beats the current k-th. The chosen neighbours' distances are then recomputed
    /// exactly (as [`Index::knn`] does), so scores agree with `score_one` to the last bit
    /// unless two neighbours tie within rounding. Blocks of query rows run in parallel; each
    /// row's result depends only on that row, so it is the same for any thread count.
    fn knn_batch(
        &self,
        queries: &[f64],
        k: usize,
        exclude_self: bool,
        num_threads: Option<usize>,
    ) -> Result<Vec<(f64, u32)>> {
        let d = self.d;
        let rows = queries.len() / d.max(1);
        let mut out = vec![(0.0, 0u32); rows * k];
        let parallel = rows * self.n * d >= 1 << 20 && num_threads != Some(1);
        let run = |out: &mut [(f64, u32)]| match &self.tree {
            Some(_) => {
                let per_row = |(i, o): (usize, &mut [(f64, u32)])| {
                    self.knn(&queries[i * d..(i + 1) * d], exclude_self.then_some(i as u32), o)
                };
                if parallel {
                    out.par_chunks_mut(k).enumerate().for_each(per_row);
                } else {
                    out.chunks_mut(k).enumerate().for_each(per_row);
                }
            }
            None => {
                let block = |dots: &mut Vec<f64>, (b, o): (usize, &mut [(f64, u32)])| {
                    let first = b * QUERY_BLOCK;
                    let q = &queries[first * d..(first + o.len() / k) * d];
                    self.brute_block(q, first, k, exclude_self, dots, o);
                };
                if parallel {
                    out.par_chunks_mut(QUERY_BLOCK * k).enumerate().for_each_init(Vec::new, block);
                } else {
                    let mut dots = Vec::new();
                    out.chunks_mut(QUERY_BLOCK * k).enumerate().for_each(|b| block(&mut dots, b));
                }
            }
        };
        if parallel {
            pool(num_threads)?.install(|| run(&mut out));
        } else {
            run(&mut out);
        }
        Ok(out)
    }

    /// Brute-force neighbours of the query rows `q` (row-major; `first` is the index of the
    /// first one, for `exclude_self`) into `out` (k per row). `dots` is scratch.
    fn brute_block(
        &self,
        q: &[f64],
        first: usize,
        k: usize,
        exclude_self: bool,
        dots: &mut Vec<f64>,
        out: &mut [(f64, u32)],
    ) {
        use ndarray::{linalg::general_mat_mul, Array2, ArrayView2, ArrayViewMut2};
        let d = self.d;
        let m = q.len() / d;
        let qc = Array2::from_shape_fn((m, d), |(i, j)| q[i * d + j] - self.center[j]);
        let q_norms: Vec<f64> = qc.rows().into_iter().map(|r| r.dot(&r)).collect();
        let mut bests: Vec<Best<'_>> = out.chunks_mut(k).map(Best::new).collect();
        dots.resize(m * TRAIN_BLOCK, 0.0);
        for (c, (p, p_norms)) in self.centered.chunks(TRAIN_BLOCK * d).zip(self.norms.chunks(TRAIN_BLOCK)).enumerate() {
            let t = p_norms.len();
            // Shapes are consistent by construction (p holds t rows of d values, dots m * t).
            let (Ok(p), Ok(mut g)) =
                (ArrayView2::from_shape((t, d), p), ArrayViewMut2::from_shape((m, t), &mut dots[..m * t]))
            else {
                continue;
            };
            general_mat_mul(1.0, &qc, &p.t(), 0.0, &mut g);
            let base = c * TRAIN_BLOCK;
            for (i, (best, row)) in bests.iter_mut().zip(dots[..m * t].chunks_exact_mut(t)).enumerate() {
                let qn = q_norms[i];
                let skip = if exclude_self { first + i } else { usize::MAX };
                let mut worst = best.worst();
                // Eight candidates at a time: distances and "does any beat the current k-th"
                // in one branch-free pass the compiler vectorises; the few chunks that hold a
                // candidate are then scanned one by one. The rounding can make a distance
                // slightly negative: harmless here, as chosen neighbours are recomputed
                // exactly below.
                for (c8, (chunk, pn)) in row.chunks_mut(8).zip(p_norms.chunks(8)).enumerate() {
                    let mut hit = false;
                    for (v, &pn) in chunk.iter_mut().zip(pn) {
                        *v = qn + pn - 2.0 * *v;
                        hit |= *v < worst;
                    }
                    if hit {
                        for (j, &d2) in chunk.iter().enumerate() {
                            let id = base + c8 * 8 + j;
                            if d2 < worst && id != skip {
                                best.push(d2, id as u32);
                                worst = best.worst();
                            }
                        }
                    }
                }
            }
        }
        // Exact distances of the chosen neighbours, in the order `knn` would give.
        for (i, o) in out.chunks_mut(k).enumerate() {
            let row = &q[i * d..(i + 1) * d];
            for nb in o.iter_mut() {
                nb.0 = dist2(row, self.row(nb.1 as usize));
            }
            o.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.points[i * self.d..(i + 1) * self.d]
    }

    /// Query rows in the index's space (whitened for a Mahalanobis metric).
    fn queries<'a>(&self, data: Cow<'a, [f64]>) -> Cow<'a, [f64]> {
        match &self.whiten {
            Some(w) => Cow::Owned(w.rows(&data)),
            None => data,
        }
    }
}

impl KdTree {
    fn build(points: &[f64], n: usize, d: usize) -> KdTree {
        let mut perm: Vec<u32> = (0..n as u32).collect();
        let mut nodes = Vec::new();
        let mut boxes = Vec::new();
        Self::grow(points, d, &mut perm, 0, n, &mut nodes, &mut boxes);
        let mut tree_points = Vec::with_capacity(n * d);
        for &p in &perm {
            tree_points.extend_from_slice(&points[p as usize * d..(p as usize + 1) * d]);
        }
        KdTree { perm, points: tree_points, nodes, boxes }
    }

    fn grow(
        points: &[f64],
        d: usize,
        perm: &mut [u32],
        start: usize,
        end: usize,
        nodes: &mut Vec<KdNode>,
        boxes: &mut Vec<f64>,
    ) -> u32 {
        let id = nodes.len();
        nodes.push(KdNode { start: start as u32, end: end as u32, left: 0, right: 0 });
        let mut lo = vec![f64::INFINITY; d];
        let mut hi = vec![f64::NEG_INFINITY; d];
        for &p in &perm[start..end] {
            for j in 0..d {
                let v = points[p as usize * d + j];
                lo[j] = lo[j].min(v);
                hi[j] = hi[j].max(v);
            }
        }
        boxes.extend_from_slice(&lo);
        boxes.extend_from_slice(&hi);
        if end - start > LEAF_SIZE {
            let (dim, spread) =
                (0..d).map(|j| (j, hi[j] - lo[j])).fold((0, -1.0), |a, b| if b.1 > a.1 { b } else { a });
            if spread > 0.0 {
                let mid = start + (end - start) / 2;
                perm[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
                    points[a as usize * d + dim].total_cmp(&points[b as usize * d + dim])
                });
                let left = Self::grow(points, d, perm, start, mid, nodes, boxes);
                let right = Self::grow(points, d, perm, mid, end, nodes, boxes);
                nodes[id].left = left;
                nodes[id].right = right;
            }
        }
        id as u32
    }

    #[inline]
    fn box_dist2(&self, node: usize, q: &[f64], d: usize) -> f64 {
        let b = &self.boxes[node * 2 * d..(node + 1) * 2 * d];
        let (lo, hi) = b.split_at(d);
        let mut s = 0.0;
        for j in 0..d {
            let v = q[j];
            let e = if v < lo[j] {
                lo[j] - v
            } else if v > hi[j] {
                v - hi[j]
            } else {
                0.0
            };
            s += e * e;
        }
        s
    }

    fn search(&self, node: usize, q: &[f64], d: usize, exclude: Option<u32>, best: &mut Best<'_>) {
        let nd = self.nodes[node];
        if nd.left == 0 {
            for pos in nd.start as usize..nd.end as usize {
                let id = self.perm[pos];
                if Some(id) != exclude {
                    best.push(dist2(q, &self.points[pos * d..(pos + 1) * d]), id);
                }
            }
            return;
        }
        let (l, r) = (nd.left as usize, nd.right as usize);
        let (dl, dr) = (self.box_dist2(l, q, d), self.box_dist2(r, q, d));
        let (first, df, second, ds) = if dl <= dr { (l, dl, r, dr) } else { (r, dr, l, dl) };
        if df < best.worst() || (df == 0.0 && best.len < best.items.len()) {
            self.search(first, q, d, exclude, best);
        }
        if ds < best.worst() {
            self.search(second, q, d, exclude, best);
        }
    }
}

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
