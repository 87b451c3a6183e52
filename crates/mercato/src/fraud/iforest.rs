//! Isolation forest (Liu, Ting & Zhou, ICDM 2008), with scikit-learn's score semantics.
//!
//! Each tree is grown on `max_samples` rows drawn without replacement (and `max_features`
//! columns), splitting on a random non-constant feature at a threshold drawn uniformly between
//! the node's min and max, down to depth `ceil(log2 max_samples)`. A row's path length in a tree
//! is the depth of its leaf plus `c(n_leaf)`, the expected depth of an unbuilt subtree of
//! `n_leaf` training rows; the score is `2^(-E[h(x)] / c(max_samples))` ∈ (0, 1], the
//! paper's `s(x, ψ)`, i.e. minus scikit-learn's `score_samples`.
//!
//! Layout for speed: the nodes of all trees live in one flat array of 16-byte nodes
//! (threshold or leaf value, feature, left child; the right child is `left + 1`), so scoring
//! one row walks ~100 × 8 cache-friendly nodes with no allocation. Batches are scored tree by
//! tree over blocks of rows so each tree stays in L1 cache, blocks in parallel.
//!
//! Costs: fit `O(t ψ log ψ)` plus scoring the training rows; score `O(n t log ψ)`;
//! memory `< 2 t ψ` nodes.

use ndarray::{Array1, ArrayView2};
use rand::seq::index::sample;
use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::detector::{
    check_contamination, check_fit_input, check_row, check_score_input, fit_state_accessors, pool, row_major, Detector,
    Explanation, FitState,
};
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

/// Rows per tree (scikit-learn's `max_samples`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum MaxSamples {
    /// `min(256, n_rows)`.
    #[default]
    #[serde(with = "auto_tag")]
    Auto,
    /// An exact count (must not exceed the number of training rows).
    Count(usize),
    /// A fraction of the training rows, in (0, 1].
    Fraction(f64),
}

mod auto_tag {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("auto")
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
        let s = String::deserialize(d)?;
        if s == "auto" {
            Ok(())
        } else {
            Err(serde::de::Error::custom(format!("max_samples must be \"auto\", an int or a float, got {s:?}")))
        }
    }
}

/// Features per tree (scikit-learn's `max_features`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaxFeatures {
    /// An exact count, at most the number of features.
    Count(usize),
    /// A fraction of the features, in (0, 1].
    Fraction(f64),
}

impl Default for MaxFeatures {
    fn default() -> Self {
        MaxFeatures::Fraction(1.0)
    }
}

/// Hyper-parameters of [`IsolationForest`] (names as scikit-learn's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationForestParams {
    /// Number of trees (default 100).
    pub n_estimators: usize,
    /// Rows per tree (default `auto` = min(256, n)).
    pub max_samples: MaxSamples,
    /// Features per tree (default all).
    pub max_features: MaxFeatures,
    /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
    pub contamination: f64,
    /// Seed: tree `t` uses its own stream derived from `(seed, t)`, so any thread count gives
    /// the same forest.
    pub seed: u64,
    /// Threads for fit and batch scoring (`None` = all cores).
    pub num_threads: Option<usize>,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams {
            n_estimators: 100,
            max_samples: MaxSamples::Auto,
            max_features: MaxFeatures::default(),
            contamination: 0.1,
            seed: 0,
            num_threads: None,
        }
    }
}

impl IsolationForestParams {
    crate::params::setters! {
        /// Sets the number of trees.
        n_estimators: usize,
        /// Sets rows per tree.
        max_samples: MaxSamples,
        /// Sets features per tree.
        max_features: MaxFeatures,
        /// Sets the contamination.
        contamination: f64,
        /// Sets the seed.
        seed: u64,
        /// Sets the thread count.
        num_threads: Option<usize>,
    }

    /// Checks the parameters, grows the forest on `x` (rows = transactions, columns =
    /// features) and scores the training rows. Rejects NaN/inf, empty input and
    /// `max_samples`/`max_features` beyond the data.
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<IsolationForest> {
        let (n, d) = check_fit_input(x, 1, "IsolationForest")?;
        crate::ensure!(d < u32::MAX as usize, "too many features: {d}");
        let (psi, k) = self.resolve(n, d)?;
        let p = self;
        let data = row_major(x);
        let trees: Vec<Vec<Node>> = pool(p.num_threads)?.install(|| {
            (0..p.n_estimators)
                .into_par_iter()
                .map(|t| {
                    let mut rng = crate::rng::stream(p.seed, TREE_STREAM, t as u64);
                    let rows = sample(&mut rng, n, psi).into_vec();
                    let mut features = if k == d { (0..d).collect() } else { sample(&mut rng, d, k).into_vec() };
                    features.sort_unstable();
                    let mut sub = vec![0.0; psi * k];
                    for (c, &f) in features.iter().enumerate() {
                        for (r, &row) in rows.iter().enumerate() {
                            sub[c * psi + r] = data[row * d + f];
                        }
                    }
                    grow_tree(&sub, psi, &features, &mut rng)
                })
                .collect()
        });
        let total: usize = trees.iter().map(Vec::len).sum();
        crate::ensure!(total < u32::MAX as usize, "forest too large: {total} nodes");
        let mut nodes = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(trees.len() + 1);
        for tree in trees {
            let base = nodes.len() as u32;
            offsets.push(base);
            nodes.extend(tree.into_iter().map(|mut nd| {
                if nd.feature != LEAF {
                    nd.left += base;
                }
                nd
            }));
        }
        offsets.push(nodes.len() as u32);
        let forest = Forest::from_built(nodes, offsets, psi, p.n_estimators);
        // A single-row subsample has c(1) = 0: every row then scores 2^0 = 1 (nothing to isolate).
        let scores = score_matrix(&forest, x, p.num_threads)?;
        let state = FitState::new(d, scores.to_vec(), p.contamination)?;
        Ok(IsolationForest { params: self.clone(), forest, state })
    }

    fn resolve(&self, n: usize, d: usize) -> Result<(usize, usize)> {
        let p = self;
        p.check()?;
        let psi = match p.max_samples {
            MaxSamples::Auto => n.min(256),
            MaxSamples::Count(m) => {
                crate::ensure!(m >= 1, param "max_samples", "must be at least 1, got {m}");
                crate::ensure!(m <= n, param "max_samples", "{m} is more than the {n} training rows");
                m
            }
            MaxSamples::Fraction(f) => {
                crate::ensure!(f > 0.0 && f <= 1.0, "max_samples as a fraction must be in (0, 1], got {f}");
                ((f * n as f64) as usize).max(1)
            }
        };
        let k = match p.max_features {
            MaxFeatures::Count(k) => {
                crate::ensure!(k >= 1 && k <= d, param "max_features", "{k} must be in [1, {d}] (the number of features)");
                k
            }
            MaxFeatures::Fraction(f) => {
                crate::ensure!(f > 0.0 && f <= 1.0, "max_features as a fraction must be in (0, 1], got {f}");
                ((f * d as f64) as usize).max(1)
            }
        };
        Ok((psi, k))
    }
}

impl crate::params::Params for IsolationForestParams {
    fn check(&self) -> Result<()> {
        crate::ensure!(self.n_estimators > 0, param "n_estimators", "must be positive, got 0");
        crate::ensure!(self.n_estimators < (1 << 20), param "n_estimators", "is unreasonably large: {}", self.n_estimators);
        check_contamination(self.contamination)?;
        match self.max_samples {
            MaxSamples::Count(m) => {
                crate::ensure!(m >= 1, param "max_samples", "must be at least 1, got {m}");
            }
            MaxSamples::Fraction(f) => {
                crate::ensure!(f > 0.0 && f <= 1.0, param "max_samples", "as a fraction must be in (0, 1], got {f}");
            }
            MaxSamples::Auto => {}
        }
        if let MaxFeatures::Fraction(f) = self.max_features {
            crate::ensure!(f > 0.0 && f <= 1.0, param "max_features", "as a fraction must be in (0, 1], got {f}");
        }
        crate::params::check_threads(self.num_threads)
    }
}

const LEAF: u32 = u32::MAX;

/// One node: an internal split (`feature`, threshold in `value`, children `left`, `left+1`).
/// As grown (and in model files) a leaf has `feature == LEAF` and its path value
/// (depth + c(n_leaf)) in `value`; in the scoring layout it is a self-loop (see [`Forest`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Node {
    value: f64,
    feature: u32,
    left: u32,
}

/// The forest in its scoring layout. Leaves are self-loops (`left` = own index, threshold
/// +inf, feature 0) so a walk is a fixed number of branch-free steps per tree, `x > +inf`
/// never moving off a leaf; their path values live in `leaf`. Several walks are interleaved
/// (rows in batches, trees in `score_one`) so the CPU overlaps their memory loads.
#[derive(Clone, Debug, PartialEq)]
struct Forest {
    nodes: Vec<Node>,
    /// Path value (depth + c(n_leaf)) of each leaf node; 0 for internal nodes.
    leaf: Vec<f64>,
    /// Depth of each tree (steps from the root to its deepest leaf).
    depth: Vec<u32>,
    /// Index of each tree's root in `nodes`, plus `nodes.len()` at the end.
    offsets: Vec<u32>,
    /// c(ψ) × number of trees: the normaliser of the summed path lengths.
    norm: f64,
    psi: usize,
}

/// A fitted isolation forest (see the [module docs](self)), made by
/// [`IsolationForestParams::fit`].
///
/// ```
/// use mercato::fraud::{Detector, IsolationForestParams};
/// use ndarray::Array2;
///
/// // 500 points on a small grid plus one far away.
/// let mut x = Array2::from_shape_fn((501, 2), |(i, j)| ((i * (j + 3)) % 17) as f64 / 17.0);
/// x[[500, 0]] = 8.0;
/// let forest = IsolationForestParams::default().n_estimators(50).seed(7).fit(&x.view())?;
/// let scores = forest.score(&x.view())?;
/// // the far point is the most anomalous row (scores above 0.5 lean anomalous)
/// assert!(scores[500] > 0.6 && scores.iter().take(500).all(|&s| s < scores[500]));
/// assert_eq!(forest.score_one(x.row(500).as_slice().unwrap())?, scores[500]);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct IsolationForest {
    pub(crate) params: IsolationForestParams,
    forest: Forest,
    state: FitState,
}

/// Expected path length of an unsuccessful BST search among `n` points, as scikit-learn's
/// `_average_path_length`: 0 for n ≤ 1, 1 for n = 2, else `2 H(n-1) - 2 (n-1)/n`.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

/// The purpose of the trees' random streams ([`crate::rng::stream`]; block = tree index).
const TREE_STREAM: u64 = 1;

impl IsolationForest {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &IsolationForestParams {
        &self.params
    }

    /// Number of fitted trees.
    pub fn n_trees(&self) -> usize {
        self.forest.depth.len()
    }

    /// Rows per tree used in fit.
    pub fn max_samples_used(&self) -> usize {
        self.forest.psi
    }

    /// Sum over trees of the row's path length: 4 trees walked in lockstep.
    #[inline]
    fn path_sum(f: &Forest, x: &[f64]) -> f64 {
        let nodes = &f.nodes[..];
        let n_trees = f.depth.len();
        let mut total = 0.0;
        let mut t = 0;
        while t + 4 <= n_trees {
            let mut i = [f.offsets[t], f.offsets[t + 1], f.offsets[t + 2], f.offsets[t + 3]].map(|r| r as usize);
            let steps = f.depth[t..t + 4].iter().copied().max().unwrap_or(0);
            for _ in 0..steps {
                for k in &mut i {
                    let n = nodes[*k];
                    *k = n.left as usize + usize::from(x[n.feature as usize] > n.value);
                }
            }
            // Added one by one in tree order: the same sum, bit for bit, as batch scoring.
            for &k in &i {
                total += f.leaf[k];
            }
            t += 4;
        }
        for t in t..n_trees {
            let mut k = f.offsets[t] as usize;
            for _ in 0..f.depth[t] {
                let n = nodes[k];
                k = n.left as usize + usize::from(x[n.feature as usize] > n.value);
            }
            total += f.leaf[k];
        }
        total
    }
}

/// Scores the rows of `x` with the forest `f`.
fn score_matrix(f: &Forest, x: &ArrayView2<f64>, num_threads: Option<usize>) -> Result<Array1<f64>> {
    let d = x.ncols();
    let data = row_major(x);
    let mut out = vec![0.0; x.nrows()];
    const BLOCK: usize = 256;
    let n_trees = f.offsets.len() - 1;
    let score_block = |o: &mut [f64], rows: &[f64]| {
        // Tree-major inside the block: one tree's nodes stay hot for 256 rows, walked
        // 8 rows in lockstep.
        let nodes = &f.nodes[..];
        for t in 0..n_trees {
            let root = f.offsets[t] as usize;
            let steps = f.depth[t];
            let mut acc8 = o.chunks_exact_mut(8);
            let mut rows8 = rows.chunks_exact(8 * d);
            for (acc, r8) in (&mut acc8).zip(&mut rows8) {
                let mut i = [root; 8];
                for _ in 0..steps {
                    for (k, ik) in i.iter_mut().enumerate() {
                        let n = nodes[*ik];
                        *ik = n.left as usize + usize::from(r8[k * d + n.feature as usize] > n.value);
                    }
                }
                for (a, &ik) in acc.iter_mut().zip(&i) {
                    *a += f.leaf[ik];
                }
            }
            for (a, row) in acc8.into_remainder().iter_mut().zip(rows8.remainder().chunks_exact(d)) {
                let mut ik = root;
                for _ in 0..steps {
                    let n = nodes[ik];
                    ik = n.left as usize + usize::from(row[n.feature as usize] > n.value);
                }
                *a += f.leaf[ik];
            }
        }
        for v in o.iter_mut() {
            *v = (-*v / f.norm).exp2();
        }
    };
    if x.nrows() <= 4 * BLOCK {
        for (o, rows) in out.chunks_mut(BLOCK).zip(data.chunks(BLOCK * d)) {
            score_block(o, rows);
        }
    } else {
        pool(num_threads)?.install(|| {
            out.par_chunks_mut(BLOCK).zip(data.par_chunks(BLOCK * d)).for_each(|(o, rows)| score_block(o, rows))
        });
    }
    Ok(Array1::from(out))
}

impl Forest {
    /// Converts nodes as grown (leaves marked `LEAF`, path value in `value`; children after
    /// their parent) to the scoring layout.
    fn from_built(built: Vec<Node>, offsets: Vec<u32>, psi: usize, n_trees: usize) -> Forest {
        let mut leaf = vec![0.0; built.len()];
        let mut node_depth = vec![0u32; built.len()];
        let mut depth = vec![0u32; offsets.len().saturating_sub(1)];
        let mut nodes = built;
        for t in 0..depth.len() {
            for i in offsets[t] as usize..offsets[t + 1] as usize {
                let nd = nodes[i];
                if nd.feature == LEAF {
                    leaf[i] = nd.value;
                    nodes[i] = Node { value: f64::INFINITY, feature: 0, left: i as u32 };
                    depth[t] = depth[t].max(node_depth[i]);
                } else {
                    node_depth[nd.left as usize] = node_depth[i] + 1;
                    node_depth[nd.left as usize + 1] = node_depth[i] + 1;
                }
            }
        }
        let norm = average_path_length(psi).max(f64::MIN_POSITIVE) * n_trees as f64;
        Forest { nodes, leaf, depth, offsets, norm, psi }
    }

    /// Whether node `i` is a leaf (a self-loop).
    #[inline]
    fn is_leaf(&self, i: usize) -> bool {
        self.nodes[i].left as usize == i
    }
}

/// Grows one tree on the (column-major) subsample `sub` of `m` rows; feature ids in `features`.
fn grow_tree(sub: &[f64], m: usize, features: &[usize], rng: &mut Xoshiro256PlusPlus) -> Vec<Node> {
    let max_depth = (m.max(2) as f64).log2().ceil() as usize;
    let mut nodes = vec![Node { value: 0.0, feature: LEAF, left: 0 }];
    let mut idx: Vec<u32> = (0..m as u32).collect();
    let mut cand: Vec<usize> = (0..features.len()).collect();
    // (node, start, end, depth)
    let mut stack = vec![(0usize, 0usize, m, 0usize)];
    while let Some((node, start, end, depth)) = stack.pop() {
        let size = end - start;
        let leaf_value = depth as f64 + average_path_length(size);
        if size <= 1 || depth >= max_depth {
            nodes[node] = Node { value: leaf_value, feature: LEAF, left: 0 };
            continue;
        }
        // Draw features without replacement until one is not constant here (as scikit-learn).
        let rows = &idx[start..end];
        let mut remaining = cand.len();
        let mut split = None;
        while remaining > 0 {
            let k = rng.random_range(0..remaining);
            let local = cand[k];
            let col = &sub[local * m..(local + 1) * m];
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for &r in rows {
                let v = col[r as usize];
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if hi > lo {
                let mut t = lo + (hi - lo) * rng.random::<f64>();
                if t >= hi {
                    t = lo;
                }
                split = Some((local, t));
                break;
            }
            remaining -= 1;
            cand.swap(k, remaining);
        }
        let Some((local, t)) = split else {
            nodes[node] = Node { value: leaf_value, feature: LEAF, left: 0 };
            continue;
        };
        let col = &sub[local * m..(local + 1) * m];
        let slice = &mut idx[start..end];
        let mut mid = 0;
        for i in 0..slice.len() {
            if col[slice[i] as usize] <= t {
                slice.swap(i, mid);
                mid += 1;
            }
        }
        let left = nodes.len();
        nodes.push(Node { value: 0.0, feature: LEAF, left: 0 });
        nodes.push(Node { value: 0.0, feature: LEAF, left: 0 });
        nodes[node] = Node { value: t, feature: features[local] as u32, left: left as u32 };
        stack.push((left + 1, start + mid, end, depth + 1));
        stack.push((left, start, start + mid, depth + 1));
    }
    nodes
}

impl Detector for IsolationForest {
    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        let f = &self.forest;
        check_score_input(x, self.state.n_features)?;
        score_matrix(f, x, self.params.num_threads)
    }

    #[inline]
    fn score_one(&self, x: &[f64]) -> Result<f64> {
        let f = &self.forest;
        check_row(x, self.state.n_features)?;
        Ok((-Self::path_sum(f, x) / f.norm).exp2())
    }

    fit_state_accessors!();
    /// Isolation-depth attribution: in each tree, the row's path of length `h` credits every
    /// split on it with `1/h` to that split's feature (short paths = strong evidence); the
    /// credits are averaged over trees and normalised to sum to 1. A feature that isolates
    /// the row near the root of many trees gets most of the weight.
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        let f = &self.forest;
        let d = self.state.n_features;
        check_row(x, d)?;
        let mut credit = vec![0.0; d];
        let mut path: Vec<usize> = Vec::with_capacity(64);
        for &root in &f.offsets[..f.offsets.len() - 1] {
            path.clear();
            let mut i = root as usize;
            while !f.is_leaf(i) {
                let n = f.nodes[i];
                path.push(n.feature as usize);
                i = n.left as usize + usize::from(x[n.feature as usize] > n.value);
            }
            let h = f.leaf[i];
            if h > 0.0 {
                for &feat in &path {
                    credit[feat] += 1.0 / h;
                }
            }
        }
        let total: f64 = credit.iter().sum();
        if total > 0.0 {
            credit.iter_mut().for_each(|c| *c /= total);
        }
        Ok(Explanation::from_values(self.score_one(x)?, credit))
    }

    fn name(&self) -> &'static str {
        "iforest"
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    params: IsolationForestParams,
    psi: usize,
    state: FitState,
}

impl Persist for IsolationForest {
    const KIND: &'static str = "fraud.iforest";

    fn write(&self) -> Result<ModelWriter> {
        let f = &self.forest;
        let meta = Meta { params: self.params.clone(), psi: f.psi, state: self.state.clone() };
        let n = f.nodes.len();
        // The file keeps the grown layout (leaves marked, path value in `value`).
        let leaf = |i: usize| f.is_leaf(i);
        let values: Vec<f64> = (0..n).map(|i| if leaf(i) { f.leaf[i] } else { f.nodes[i].value }).collect();
        let features: Vec<u32> = (0..n).map(|i| if leaf(i) { LEAF } else { f.nodes[i].feature }).collect();
        let lefts: Vec<u32> = (0..n).map(|i| if leaf(i) { 0 } else { f.nodes[i].left }).collect();
        Ok(ModelWriter::new(Self::KIND, &meta)?
            .f64("value", &[n], &values)
            .u32("feature", &[n], &features)
            .u32("left", &[n], &lefts)
            .u32("offsets", &[f.offsets.len()], &f.offsets))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: Meta = r.meta()?;
        let (_, values) = r.f64("value")?;
        let (_, features) = r.u32("feature")?;
        let (_, lefts) = r.u32("left")?;
        let (_, offsets) = r.u32("offsets")?;
        let n = values.len();
        let d = meta.state.n_features;
        let bad = |m: String| Err(Error::format(format!("IsolationForest: {m}")));
        if features.len() != n || lefts.len() != n {
            return bad("node arrays differ in length".into());
        }
        // strictly increasing from 0 to n: every tree is non-empty and inside the node arrays
        // (a later offset past n once indexed out of bounds; found by fuzzing, issue 14)
        if offsets.len() != meta.params.n_estimators + 1
            || offsets.first() != Some(&0)
            || offsets.last() != Some(&(n as u32))
            || offsets.windows(2).any(|w| w[0] >= w[1])
        {
            return bad("tree offsets do not match the trees".into());
        }
        if meta.state.decision_scores.is_empty() || meta.psi == 0 {
            return bad("empty training state".into());
        }
        for t in 0..offsets.len() - 1 {
            let (lo, hi) = (offsets[t] as usize, offsets[t + 1] as usize);
            if lo >= hi {
                return bad(format!("tree {t} is empty"));
            }
            for i in lo..hi {
                if features[i] == LEAF {
                    if !values[i].is_finite() {
                        return bad(format!("leaf {i} has a non-finite value"));
                    }
                    continue;
                }
                // Children come after their parent, inside the same tree: walks terminate.
                let l = lefts[i] as usize;
                if features[i] as usize >= d || l <= i || l + 1 >= hi || values[i].is_nan() {
                    return bad(format!("node {i} is malformed"));
                }
            }
        }
        let nodes = (0..n).map(|i| Node { value: values[i], feature: features[i], left: lefts[i] }).collect();
        let forest = Forest::from_built(nodes, offsets, meta.psi, meta.params.n_estimators);
        Ok(IsolationForest { params: meta.params, forest, state: meta.state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn blob(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = crate::rng::stream(seed, 0, 0);
        Array2::from_shape_fn((n, d), |_| rng.random::<f64>() * 2.0 - 1.0)
    }

    #[test]
    fn c_matches_sklearn() {
        // sklearn.ensemble._iforest._average_path_length([256, 3, 2, 1]) (numpy, 2026-11-25)
        assert!((average_path_length(256) - 10.244770920119917).abs() < 1e-12);
        assert!((average_path_length(3) - 1.207392357589623).abs() < 1e-12);
        assert_eq!(average_path_length(2), 1.0);
        assert_eq!(average_path_length(1), 0.0);
    }

    #[test]
    fn finds_outliers_and_scores_consistently() {
        let mut x = blob(1000, 4, 1);
        for i in 990..1000 {
            x.row_mut(i).fill(4.0 + i as f64 * 0.01);
        }
        let f = IsolationForestParams::default().seed(3).fit(&x.view()).unwrap();
        let s = f.score(&x.view()).unwrap();
        assert_eq!(s.as_slice().unwrap(), f.decision_scores().unwrap());
        let min_out = s.slice(ndarray::s![990..]).fold(f64::INFINITY, |a, &b| a.min(b));
        let max_in = s.slice(ndarray::s![..990]).fold(0.0f64, |a, &b| a.max(b));
        assert!(min_out > max_in, "{min_out} vs {max_in}");
        for i in [0, 500, 995] {
            assert_eq!(f.score_one(x.row(i).as_slice().unwrap()).unwrap(), s[i]);
        }
        let p = f.predict(&x.view()).unwrap();
        assert_eq!(p.iter().filter(|&&v| v == 1).count(), 100, "10% contamination flags 100 rows");
        let e = f.explain(&[0.0, 0.0, 9.0, 0.0]).unwrap();
        assert_eq!(e.contributions[0].0, 2, "{e:?}");
        assert!((e.contributions.iter().map(|c| c.1).sum::<f64>() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn same_forest_for_any_thread_count() {
        let x = blob(3000, 5, 2);
        let a = IsolationForestParams::default().seed(11).num_threads(Some(1)).fit(&x.view()).unwrap();
        let b = IsolationForestParams::default().seed(11).num_threads(Some(2)).fit(&x.view()).unwrap();
        assert_eq!(a.forest, b.forest);
        assert_eq!(a.score(&x.view()).unwrap(), b.score(&x.view()).unwrap());
        let c = IsolationForestParams::default().seed(12).fit(&x.view()).unwrap();
        assert_ne!(a.forest, c.forest, "the seed matters");
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = blob(50, 3, 3);
        let mut nan = x.clone();
        nan[[3, 1]] = f64::NAN;
        assert!(IsolationForestParams::default().fit(&nan.view()).is_err());
        let f = IsolationForestParams::default().max_samples(MaxSamples::Count(100));
        assert!(f.fit(&x.view()).unwrap_err().to_string().contains("max_samples"));
        for c in [0.0, 0.6] {
            assert!(IsolationForestParams::default().contamination(c).fit(&x.view()).is_err());
        }
        assert!(IsolationForestParams::default().max_features(MaxFeatures::Count(4)).fit(&x.view()).is_err());
        assert!(IsolationForestParams::default().n_estimators(0).fit(&x.view()).is_err());
        let f = IsolationForestParams::default().fit(&x.view()).unwrap();
        assert!(matches!(f.score(&blob(3, 2, 0).view()), Err(Error::ShapeMismatch { .. })));
        assert!(f.score_one(&[0.0, 1.0]).is_err());
        assert!(f.score_one(&[0.0, f64::INFINITY, 1.0]).is_err());
        // Constant columns and a single row are handled, not divided by zero.
        let f = IsolationForestParams::default().fit(&Array2::from_elem((20, 3), 1.5).view()).unwrap();
        assert!(f.score_one(&[1.5, 1.5, 1.5]).unwrap().is_finite());
        let f = IsolationForestParams::default().fit(&Array2::from_elem((1, 3), 1.5).view()).unwrap();
        assert!(f.score_one(&[0.0, 0.0, 0.0]).unwrap().is_finite());
    }

    #[test]
    fn persists_and_rejects_tampering() {
        let x = blob(300, 3, 4);
        let f = IsolationForestParams::default()
            .n_estimators(10)
            .max_features(MaxFeatures::Count(2))
            .fit(&x.view())
            .unwrap();
        let bytes = f.to_bytes().unwrap();
        let g = IsolationForest::from_bytes(bytes.clone()).unwrap();
        assert_eq!(f, g);
        // A node pointing backwards would loop forever: rejected at load.
        let mut forest = f.forest.clone();
        let internal = (1..forest.nodes.len()).find(|&i| !forest.is_leaf(i)).unwrap();
        forest.nodes[internal].left = 0;
        let h = IsolationForest { forest, ..f.clone() };
        assert!(matches!(IsolationForest::from_bytes(h.to_bytes().unwrap()), Err(Error::ModelFormat(_))));
    }
}
