//! Neighbour search over the training rows for [`super::Knn`] and [`super::Lof`]. A
//! Mahalanobis metric is Euclidean distance after whitening (`z = x W`, `W Wᵀ = V⁻¹`): the
//! index holds whitened points and queries are whitened first, so both searches below serve
//! either metric.
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

use std::borrow::Cow;

use nalgebra::{DMatrix, SymmetricEigen};
use rayon::prelude::*;

use super::NeighborMetric;
use crate::fraud::detector::pool;
use crate::Result;

pub(super) const LEAF_SIZE: usize = 32;

/// Training points with a kd-tree over them (or none, for brute force).
#[derive(Clone, Debug)]
pub(super) struct Index {
    pub(super) n: usize,
    pub(super) d: usize,
    /// Row-major training points in original order.
    pub(super) points: Vec<f64>,
    pub(super) tree: Option<KdTree>,
    /// Brute force only: the column means, the points minus them (row-major) and their
    /// squared norms, for distances as `|q|^2 + |p|^2 - 2 q.p` by matrix products.
    /// Centring keeps the norms small, so the cancellation in that formula stays far below
    /// the gaps between neighbours. Derived data: not stored in model files.
    pub(super) center: Vec<f64>,
    pub(super) centered: Vec<f64>,
    pub(super) norms: Vec<f64>,
    /// Mahalanobis metric: the whitening `points` went through (queries go through it too).
    pub(super) whiten: Option<Whitening>,
}

/// `z = x W` with `W Wᵀ = V⁻¹` (from the eigendecomposition `V = Q Λ Qᵀ`: `W = Q Λ^-1/2`),
/// so that Euclidean distance between whitened rows is the Mahalanobis distance; `winv`
/// (`Λ^1/2 Qᵀ`) maps whitened differences back to features for `explain`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Whitening {
    pub(super) d: usize,
    /// Row-major d×d: `z_k = Σ_j x_j w[j d + k]`.
    pub(super) w: Vec<f64>,
    /// Row-major d×d: `x_j = Σ_k z_k winv[k d + j]`.
    pub(super) winv: Vec<f64>,
}

impl Whitening {
    /// The whitening for `metric` on `d` features (`None` for Euclidean).
    pub(super) fn new(metric: &NeighborMetric, d: usize) -> Result<Option<Whitening>> {
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
    pub(super) fn row(&self, x: &[f64]) -> Vec<f64> {
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
    pub(super) fn rows(&self, data: &[f64]) -> Vec<f64> {
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
pub(super) const QUERY_BLOCK: usize = 64;
/// Training rows per block of the brute-force search (columns of one matrix product).
pub(super) const TRAIN_BLOCK: usize = 512;

#[derive(Clone, Debug, PartialEq)]
pub(super) struct KdTree {
    /// Point ids in tree order; node `i` covers `perm[start[i]..end[i]]`.
    pub(super) perm: Vec<u32>,
    /// Points in tree order (row-major), for locality in leaf scans.
    pub(super) points: Vec<f64>,
    pub(super) nodes: Vec<KdNode>,
    /// Per node: bounding box lows then highs (2 d values).
    pub(super) boxes: Vec<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct KdNode {
    pub(super) start: u32,
    pub(super) end: u32,
    /// Children (0 for a leaf; the root is node 0 so 0 is never a child).
    pub(super) left: u32,
    pub(super) right: u32,
}

/// The k best (squared distance, id) so far, ascending, in a caller-provided buffer of at
/// least k entries (no allocation).
pub(super) struct Best<'a> {
    pub(super) items: &'a mut [(f64, u32)],
    pub(super) len: usize,
}

impl<'a> Best<'a> {
    /// Keeps the `items.len()` best.
    pub(super) fn new(items: &'a mut [(f64, u32)]) -> Self {
        Best { items, len: 0 }
    }

    #[inline]
    pub(super) fn worst(&self) -> f64 {
        if self.len < self.items.len() {
            f64::INFINITY
        } else {
            self.items[self.len - 1].0
        }
    }

    #[inline]
    pub(super) fn push(&mut self, d2: f64, id: u32) {
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
pub(super) fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl Index {
    /// The index over row-major `points` (already whitened when `whiten` is set).
    pub(super) fn build(points: Vec<f64>, n: usize, d: usize, whiten: Option<Whitening>) -> Index {
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
    pub(super) fn knn(&self, q: &[f64], exclude: Option<u32>, out: &mut [(f64, u32)]) {
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
    pub(super) fn knn_batch(
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
    pub(super) fn brute_block(
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

    pub(super) fn row(&self, i: usize) -> &[f64] {
        &self.points[i * self.d..(i + 1) * self.d]
    }

    /// Query rows in the index's space (whitened for a Mahalanobis metric).
    pub(super) fn queries<'a>(&self, data: Cow<'a, [f64]>) -> Cow<'a, [f64]> {
        match &self.whiten {
            Some(w) => Cow::Owned(w.rows(&data)),
            None => data,
        }
    }
}

impl KdTree {
    pub(super) fn build(points: &[f64], n: usize, d: usize) -> KdTree {
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

    pub(super) fn grow(
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
    pub(super) fn box_dist2(&self, node: usize, q: &[f64], d: usize) -> f64 {
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

    pub(super) fn search(&self, node: usize, q: &[f64], d: usize, exclude: Option<u32>, best: &mut Best<'_>) {
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
