//! Distance-based detectors: [`Knn`] (Ramaswamy et al. 2000; Angiulli & Pizzuti 2002) and
//! [`Lof`] (Breunig et al. 2000), Euclidean distance, with PyOD/scikit-learn semantics.
//!
//! Neighbour search uses a **kd-tree** (bounding-box pruning, leaves of 32 rows) when there
//! are at most 15 features and more than 1,000 rows, else **brute force**, as scikit-learn's
//! `algorithm="auto"` does: kd-trees stop pruning in high dimension.
//!
//! Complexity (n training rows, d features, k neighbours):
//! * kd-tree: build `O(n log n)`, a query about `O(k log n)` in low dimension (degrading
//!   towards `O(n)` as d grows); memory `O(n d)`.
//! * brute force: a query `O(n d)`.
//! * fit scores every training row: `n` queries (parallel).
//!
//! Training rows are scored against the other training rows (each row is excluded from its
//! own neighbours, as scikit-learn's `kneighbors()` without `X`); rows scored later are
//! queried against all training rows.

use ndarray::{Array1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::detector::{
    check_contamination, check_fit_input, check_row, check_score_input, fit_state_accessors, pool, row_major, Detector,
    Explanation, FitState,
};
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

const LEAF_SIZE: usize = 32;

/// Training points with a kd-tree over them (or none, for brute force).
#[derive(Clone, Debug, PartialEq)]
struct Index {
    n: usize,
    d: usize,
    /// Row-major training points in original order.
    points: Vec<f64>,
    tree: Option<KdTree>,
}

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

/// The k best (squared distance, id) so far, ascending.
struct Best<'a> {
    items: &'a mut Vec<(f64, u32)>,
    k: usize,
}

impl Best<'_> {
    #[inline]
    fn worst(&self) -> f64 {
        if self.items.len() < self.k {
            f64::INFINITY
        } else {
            self.items[self.k - 1].0
        }
    }

    #[inline]
    fn push(&mut self, d2: f64, id: u32) {
        if d2 >= self.worst() {
            return;
        }
        if self.items.len() == self.k {
            self.items.pop();
        }
        let pos = self.items.partition_point(|&(v, i)| v < d2 || (v == d2 && i < id));
        self.items.insert(pos, (d2, id));
    }
}

#[inline]
fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl Index {
    fn build(points: Vec<f64>, n: usize, d: usize) -> Index {
        let tree = (d <= 15 && n > 1000).then(|| KdTree::build(&points, n, d));
        Index { n, d, points, tree }
    }

    /// Fills `out` with the k nearest training points to `q` (squared distances, ascending),
    /// skipping training point `exclude`.
    fn knn(&self, q: &[f64], k: usize, exclude: Option<u32>, out: &mut Vec<(f64, u32)>) {
        out.clear();
        let mut best = Best { items: out, k };
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
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.points[i * self.d..(i + 1) * self.d]
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
        if df < best.worst() || (df == 0.0 && best.items.len() < best.k) {
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

/// Hyper-parameters of [`Knn`] and [`Lof`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeighborsParams {
    /// Neighbours per row (PyOD's defaults: 5 for KNN, 20 for LOF).
    pub n_neighbors: usize,
    /// KNN only: how distances become a score.
    pub method: KnnMethod,
    /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
    pub contamination: f64,
    /// Threads for fit and batch scoring (`None` = all cores).
    pub num_threads: Option<usize>,
}

impl Default for NeighborsParams {
    /// k = 5 (PyOD's KNN default; [`Lof::new`] uses 20).
    fn default() -> Self {
        NeighborsParams::with_k(5)
    }
}

impl NeighborsParams {
    /// Defaults with `k` neighbours.
    pub fn with_k(k: usize) -> Self {
        NeighborsParams { n_neighbors: k, method: KnnMethod::Largest, contamination: 0.1, num_threads: None }
    }
}

fn neighbour_state(x: &ArrayView2<f64>, p: &NeighborsParams, who: &str) -> Result<Index> {
    crate::ensure!(p.n_neighbors >= 1, "{who}: n_neighbors must be at least 1, got 0");
    check_contamination(p.contamination)?;
    let (n, d) = x.dim();
    crate::ensure!(
        n > p.n_neighbors,
        "{who}: n_neighbors = {} needs at least {} training rows, got {n}",
        p.n_neighbors,
        p.n_neighbors + 1
    );
    check_fit_input(x, p.n_neighbors + 1, who)?;
    crate::ensure!(n < u32::MAX as usize, "{who}: too many rows ({n})");
    Ok(Index::build(row_major(x).into_owned(), n, d))
}

/// Runs `f(row index, neighbours)` for every row of `data` in parallel; `exclude_self` skips
/// row i among its own neighbours (training rows).
fn for_all_rows(
    index: &Index,
    data: &[f64],
    k: usize,
    exclude_self: bool,
    num_threads: Option<usize>,
    f: impl Fn(&[(f64, u32)]) -> f64 + Sync,
) -> Result<Vec<f64>> {
    let d = index.d;
    let rows = data.len() / d.max(1);
    pool(num_threads)?.install(|| {
        Ok((0..rows)
            .into_par_iter()
            .map_init(
                || Vec::with_capacity(k + 1),
                |buf, i| {
                    index.knn(&data[i * d..(i + 1) * d], k, exclude_self.then_some(i as u32), buf);
                    f(buf)
                },
            )
            .collect())
    })
}

/// k-nearest-neighbour distance detector (see the [module docs](self)).
///
/// ```
/// use mercato::fraud::{Detector, Knn};
/// let x = ndarray::Array2::from_shape_fn((40, 2), |(i, j)| if i == 39 { 9.0 } else { ((i + j) % 5) as f64 });
/// let mut knn = Knn::new().n_neighbors(3);
/// knn.fit(&x.view())?;
/// let s = knn.decision_scores()?;
/// assert!(s[39] > s[0]);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Knn {
    /// Hyper-parameters (validated in `fit`).
    pub params: NeighborsParams,
    index: Option<Index>,
    state: Option<FitState>,
}

impl Default for Knn {
    fn default() -> Self {
        Knn::with_params(NeighborsParams::with_k(5))
    }
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
    /// KNN with PyOD's defaults (k = 5, largest distance).
    pub fn new() -> Self {
        Self::default()
    }

    /// From explicit parameters.
    pub fn with_params(params: NeighborsParams) -> Self {
        Knn { params, index: None, state: None }
    }

    /// Sets k.
    pub fn n_neighbors(mut self, k: usize) -> Self {
        self.params.n_neighbors = k;
        self
    }

    /// Sets how distances become a score.
    pub fn method(mut self, m: KnnMethod) -> Self {
        self.params.method = m;
        self
    }

    /// Sets the contamination.
    pub fn contamination(mut self, c: f64) -> Self {
        self.params.contamination = c;
        self
    }

    /// Sets the thread count.
    pub fn num_threads(mut self, n: Option<usize>) -> Self {
        self.params.num_threads = n;
        self
    }

    fn index(&self) -> Result<&Index> {
        self.index.as_ref().ok_or(Error::NotFitted("using Knn"))
    }
}

impl Detector for Knn {
    fn fit(&mut self, x: &ArrayView2<f64>) -> Result<()> {
        let index = neighbour_state(x, &self.params, "Knn")?;
        let (k, m) = (self.params.n_neighbors, self.params.method);
        let scores = for_all_rows(&index, &index.points, k, true, self.params.num_threads, |nb| knn_score(m, nb))?;
        self.state = Some(FitState::new(index.d, scores, self.params.contamination)?);
        self.index = Some(index);
        Ok(())
    }

    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        let index = self.index()?;
        check_score_input(x, index.d)?;
        let (k, m) = (self.params.n_neighbors, self.params.method);
        Ok(Array1::from(for_all_rows(index, &row_major(x), k, false, self.params.num_threads, |nb| knn_score(m, nb))?))
    }

    /// Allocates one k-sized buffer.
    fn score_one(&self, x: &[f64]) -> Result<f64> {
        let index = self.index()?;
        check_row(x, index.d)?;
        let mut buf = Vec::with_capacity(self.params.n_neighbors);
        index.knn(x, self.params.n_neighbors, None, &mut buf);
        Ok(knn_score(self.params.method, &buf))
    }

    fit_state_accessors!("using Knn");

    /// Each feature's share of the squared distances to the k neighbours:
    /// `Σ_neighbours (x_j - y_j)²`, divided by the total (the shares sum to 1).
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        let index = self.index()?;
        let score = self.score_one(x)?;
        let mut buf = Vec::new();
        index.knn(x, self.params.n_neighbors, None, &mut buf);
        Ok(Explanation::from_values(score, distance_shares(index, x, &buf)))
    }

    fn name(&self) -> &'static str {
        "knn"
    }
}

fn distance_shares(index: &Index, x: &[f64], nb: &[(f64, u32)]) -> Vec<f64> {
    let mut per = vec![0.0; index.d];
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

/// Local outlier factor (see the [module docs](self)); scores are scikit-learn's
/// `-negative_outlier_factor_` (≈ 1 for inliers, larger for outliers).
#[derive(Clone, Debug, PartialEq)]
pub struct Lof {
    /// Hyper-parameters (validated in `fit`; `method` is ignored).
    pub params: NeighborsParams,
    model: Option<LofModel>,
    state: Option<FitState>,
}

#[derive(Clone, Debug, PartialEq)]
struct LofModel {
    index: Index,
    /// Distance of each training row to its k-th neighbour.
    k_dist: Vec<f64>,
    /// Local reachability density of each training row.
    lrd: Vec<f64>,
}

impl Default for Lof {
    fn default() -> Self {
        Lof::with_params(NeighborsParams::with_k(20))
    }
}

impl Lof {
    /// LOF with PyOD's defaults (k = 20).
    pub fn new() -> Self {
        Self::default()
    }

    /// From explicit parameters.
    pub fn with_params(params: NeighborsParams) -> Self {
        Lof { params, model: None, state: None }
    }

    /// Sets k.
    pub fn n_neighbors(mut self, k: usize) -> Self {
        self.params.n_neighbors = k;
        self
    }

    /// Sets the contamination.
    pub fn contamination(mut self, c: f64) -> Self {
        self.params.contamination = c;
        self
    }

    /// Sets the thread count.
    pub fn num_threads(mut self, n: Option<usize>) -> Self {
        self.params.num_threads = n;
        self
    }

    fn model(&self) -> Result<&LofModel> {
        self.model.as_ref().ok_or(Error::NotFitted("using Lof"))
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

impl Detector for Lof {
    fn fit(&mut self, x: &ArrayView2<f64>) -> Result<()> {
        let index = neighbour_state(x, &self.params, "Lof")?;
        let k = self.params.n_neighbors;
        let threads = self.params.num_threads;
        let (n, d) = (index.n, index.d);
        // Pass 1: neighbours of every training row (self excluded).
        let mut neigh: Vec<(f64, u32)> = vec![(0.0, 0); n * k];
        pool(threads)?.install(|| {
            neigh.par_chunks_mut(k).enumerate().for_each_init(
                || Vec::with_capacity(k + 1),
                |buf, (i, out)| {
                    index.knn(index.row(i), k, Some(i as u32), buf);
                    out.copy_from_slice(buf);
                },
            )
        });
        let k_dist: Vec<f64> = neigh.chunks_exact(k).map(|nb| nb[k - 1].0.sqrt()).collect();
        let mut model = LofModel { index, k_dist, lrd: Vec::new() };
        model.lrd = neigh.chunks_exact(k).map(|nb| Self::lrd_of(&model, nb)).collect();
        let scores: Vec<f64> = neigh.chunks_exact(k).map(|nb| Self::lof_of(&model, nb)).collect();
        self.state = Some(FitState::new(d, scores, self.params.contamination)?);
        self.model = Some(model);
        Ok(())
    }

    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        let m = self.model()?;
        check_score_input(x, m.index.d)?;
        let k = self.params.n_neighbors;
        Ok(Array1::from(for_all_rows(&m.index, &row_major(x), k, false, self.params.num_threads, |nb| {
            Self::lof_of(m, nb)
        })?))
    }

    /// Allocates one k-sized buffer.
    fn score_one(&self, x: &[f64]) -> Result<f64> {
        let m = self.model()?;
        check_row(x, m.index.d)?;
        let mut buf = Vec::with_capacity(self.params.n_neighbors);
        m.index.knn(x, self.params.n_neighbors, None, &mut buf);
        Ok(Self::lof_of(m, &buf))
    }

    fit_state_accessors!("using Lof");

    /// Each feature's share of the squared distances to the k neighbours (as [`Knn`]).
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        let m = self.model()?;
        let score = self.score_one(x)?;
        let mut buf = Vec::new();
        m.index.knn(x, self.params.n_neighbors, None, &mut buf);
        Ok(Explanation::from_values(score, distance_shares(&m.index, x, &buf)))
    }

    fn name(&self) -> &'static str {
        "lof"
    }
}

fn read_points(r: &ModelReader, state: &FitState, kind: &str) -> Result<Index> {
    let (shape, points) = r.f64("points")?;
    let d = state.n_features;
    if shape.len() != 2 || shape[1] != d || shape[0] != state.decision_scores.len() || shape[0] == 0 {
        return Err(Error::format(format!("{kind}: training points do not match the model")));
    }
    if points.iter().any(|v| !v.is_finite()) {
        return Err(Error::format(format!("{kind}: training points must be finite")));
    }
    Ok(Index::build(points, shape[0], d))
}

impl Persist for Knn {
    const KIND: &'static str = "fraud.knn";

    fn write(&self) -> Result<ModelWriter> {
        let (Some(ix), Some(state)) = (&self.index, &self.state) else {
            return Err(Error::NotFitted("saving Knn"));
        };
        Ok(ModelWriter::new(Self::KIND, &(self.params.clone(), state.clone()))?.f64(
            "points",
            &[ix.n, ix.d],
            &ix.points,
        ))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let (params, state): (NeighborsParams, FitState) = r.meta()?;
        let index = read_points(r, &state, Self::KIND)?;
        if params.n_neighbors == 0 || params.n_neighbors >= index.n {
            return Err(Error::format("fraud.knn: n_neighbors does not fit the training rows"));
        }
        Ok(Knn { params, index: Some(index), state: Some(state) })
    }
}

impl Persist for Lof {
    const KIND: &'static str = "fraud.lof";

    fn write(&self) -> Result<ModelWriter> {
        let (Some(m), Some(state)) = (&self.model, &self.state) else {
            return Err(Error::NotFitted("saving Lof"));
        };
        let n = m.index.n;
        Ok(ModelWriter::new(Self::KIND, &(self.params.clone(), state.clone()))?
            .f64("points", &[n, m.index.d], &m.index.points)
            .f64("k_dist", &[n], &m.k_dist)
            .f64("lrd", &[n], &m.lrd))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let (params, state): (NeighborsParams, FitState) = r.meta()?;
        let index = read_points(r, &state, Self::KIND)?;
        let k_dist = r.array1_f64("k_dist", Some(index.n))?.to_vec();
        let lrd = r.array1_f64("lrd", Some(index.n))?.to_vec();
        if params.n_neighbors == 0 || params.n_neighbors >= index.n {
            return Err(Error::format("fraud.lof: n_neighbors does not fit the training rows"));
        }
        if k_dist.iter().chain(&lrd).any(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::format("fraud.lof: distances and densities must be finite and non-negative"));
        }
        Ok(Lof { params, model: Some(LofModel { index, k_dist, lrd }), state: Some(state) })
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
        let kd = Index::build(pts.clone(), 3000, 4);
        assert!(kd.tree.is_some());
        let brute = Index { tree: None, ..kd.clone() };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in (0..3000).step_by(37) {
            let q = &pts[i * 4..(i + 1) * 4];
            kd.knn(q, 7, Some(i as u32), &mut a);
            brute.knn(q, 7, Some(i as u32), &mut b);
            assert_eq!(a, b, "row {i}");
            assert!(a.iter().all(|&(_, id)| id != i as u32));
        }
    }

    #[test]
    fn knn_and_lof_definitions() {
        // 1-D points 0, 1, 2, 3, 10: k = 2.
        let x = Array2::from_shape_vec((5, 1), vec![0.0, 1.0, 2.0, 3.0, 10.0]).unwrap();
        let mut knn = Knn::new().n_neighbors(2);
        knn.fit(&x.view()).unwrap();
        assert_eq!(knn.decision_scores().unwrap(), &[2.0, 1.0, 1.0, 2.0, 8.0]);
        assert_eq!(knn.score_one(&[10.0]).unwrap(), 7.0, "new rows include every training row");
        let mut mean = Knn::new().n_neighbors(2).method(KnnMethod::Mean);
        mean.fit(&x.view()).unwrap();
        assert_eq!(mean.decision_scores().unwrap()[4], 7.5);
        let mut lof = Lof::new().n_neighbors(2);
        lof.fit(&x.view()).unwrap();
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
        assert!(Knn::new().n_neighbors(5).fit(&x.slice(ndarray::s![..5, ..]).view()).is_err(), "k >= n");
        assert!(Lof::new().n_neighbors(0).fit(&x.view()).is_err());
        let mut a = Lof::new().num_threads(Some(1));
        let mut b = Lof::new().num_threads(Some(2));
        a.fit(&x.view()).unwrap();
        b.fit(&x.view()).unwrap();
        assert_eq!(a.decision_scores().unwrap(), b.decision_scores().unwrap());
        let back = Lof::from_bytes(a.to_bytes().unwrap()).unwrap();
        assert_eq!(back.score_one(&[0.5, 0.5, 2.0]).unwrap(), a.score_one(&[0.5, 0.5, 2.0]).unwrap());
        assert!(a.score_one(&[0.5]).is_err());
        let mut k = Knn::new();
        k.fit(&x.view()).unwrap();
        let e = k.explain(&[0.5, 0.5, 9.0]).unwrap();
        assert_eq!(e.contributions[0].0, 2);
        let back = Knn::from_bytes(k.to_bytes().unwrap()).unwrap();
        assert_eq!(back, k);
    }
}
