//! Neighbourhood models (Surprise's KNNBasic / KNNWithMeans / KNNWithZScore / KNNBaseline),
//! user- or item-based, with sparse parallel similarities kept as top-N neighbour lists.

use crate::params::Params;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::baseline::{known, BaselineParams, Biases};
use super::core::{check_param, pool, unknown_status, Prediction, PredictionStatus, RatingScale, RatingSet};
use super::RatingPredictor;
use crate::data::Interactions;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

/// Similarity between two users (or two items) over their common ratings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Similarity {
    /// `Σ a b / sqrt(Σ a² Σ b²)` on raw ratings.
    Cosine,
    /// Pearson correlation over the common ratings (means taken over them).
    Pearson,
    /// Cosine of the baseline residuals `r - b_ui` (Koren 2010, eq. 11).
    PearsonBaseline,
    /// `1 / (1 + mean squared difference)`.
    Msd,
}

/// How neighbour ratings are aggregated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KnnVariant {
    /// Similarity-weighted mean of the neighbours' ratings.
    Basic,
    /// The target's mean plus the weighted mean of the neighbours' deviations from theirs.
    WithMeans,
    /// As `WithMeans`, with deviations divided by each neighbour's standard deviation.
    WithZScore,
    /// The baseline `b_ui` plus the weighted mean of the neighbours' baseline residuals.
    WithBaseline,
}

/// Hyper-parameters of [`KNN`].
///
/// Defaults: item-based, `PearsonBaseline`, `WithBaseline`, `k = 40`, `min_k = 1`,
/// `shrinkage = 100`, `damping = 0.5`, baseline as [`BaselineParams::default`] — the best
/// of a small grid on an inner 80/20 split of MovieLens-100k `u1.base` (Surprise's
/// KNNBaseline settings plus `damping`, which took that split from 0.9319 to 0.9243 RMSE;
/// case amplification, larger `k` and other variants did not help).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KNNParams {
    /// Neighbours are users (`true`) or items (`false`, the default).
    pub user_based: bool,
    /// Similarity measure.
    pub similarity: Similarity,
    /// Aggregation.
    pub variant: KnnVariant,
    /// At most `k` neighbours (the most similar that rated the target) per prediction.
    pub k: usize,
    /// With fewer usable neighbours the prediction falls back (see [`PredictionStatus`]).
    pub min_k: usize,
    /// Similarities are shrunk by `(n - 1) / (n - 1 + shrinkage)` where `n` is the number
    /// of common ratings (0 disables; Surprise applies it to `PearsonBaseline` only).
    pub shrinkage: f32,
    /// Pairs with fewer common ratings get similarity 0.
    pub min_support: usize,
    /// Added to the sum of neighbour weights for the deviation variants (`WithMeans`,
    /// `WithZScore`, `WithBaseline`): shrinks the neighbours' correction towards zero when
    /// few or weakly similar neighbours back it (0 = Surprise's plain weighted mean).
    pub damping: f32,
    /// Case amplification (Breese et al. 1998): similarities are raised to this power,
    /// favouring the closest neighbours (1 = off).
    pub amplify: f32,
    /// Keep only this many most similar neighbours per user/item (memory bound); `None`
    /// keeps every positive similarity.
    pub max_neighbours: Option<usize>,
    /// The baseline for `PearsonBaseline`, `WithBaseline` and for fallbacks.
    pub baseline: BaselineParams,
    /// Rating scale predictions are clipped to.
    pub scale: RatingScale,
    /// Threads for the similarity computation (no randomness, same result for any count).
    pub num_threads: Option<usize>,
}

impl Default for KNNParams {
    fn default() -> Self {
        KNNParams {
            user_based: false,
            similarity: Similarity::PearsonBaseline,
            variant: KnnVariant::WithBaseline,
            k: 40,
            min_k: 1,
            shrinkage: 100.0,
            min_support: 1,
            amplify: 1.0,
            damping: 0.5,
            max_neighbours: None,
            baseline: BaselineParams::default(),
            scale: RatingScale::Auto,
            num_threads: None,
        }
    }
}

impl KNNParams {
    crate::params::setters! {
        /// User-based (`true`) or item-based.
        user_based: bool,
        /// Sets the similarity.
        similarity: Similarity,
        /// Sets the aggregation variant.
        variant: KnnVariant,
        /// Sets `k`.
        k: usize,
        /// Sets `min_k`.
        min_k: usize,
        /// Sets the shrinkage.
        shrinkage: f32,
        /// Sets the minimum support.
        min_support: usize,
        /// Sets the case amplification exponent.
        amplify: f32,
        /// Sets the damping of the neighbour correction.
        damping: f32,
        /// Bounds the stored neighbour lists.
        max_neighbours: Option<usize>,
        /// Sets the baseline parameters.
        baseline: BaselineParams,
        /// Sets the rating scale.
        scale: RatingScale,
        /// Sets the thread count.
        num_threads: Option<usize>,
    }
}

impl crate::params::Params for KNNParams {
    fn check(&self) -> Result<()> {
        self.scale.validate()?;
        self.baseline.check()?;
        check_param(self.k > 0, "k", self.k, "positive")?;
        check_param(self.min_k <= self.k, "min_k", self.min_k, &format!("<= k ({})", self.k))?;
        check_param(self.amplify > 0.0 && self.amplify <= 10.0, "amplify", self.amplify, "in (0, 10]")?;
        check_param(self.damping >= 0.0 && self.damping.is_finite(), "damping", self.damping, ">= 0")?;
        check_param(self.shrinkage >= 0.0 && self.shrinkage.is_finite(), "shrinkage", self.shrinkage, ">= 0")?;
        if let Some(m) = self.max_neighbours {
            check_param(m > 0, "max_neighbours", m, "positive")?;
        }
        if let Some(n) = self.num_threads {
            check_param(n > 0, "num_threads", n, "positive")?;
        }
        Ok(())
    }
}

/// Lists per entity: for each x, the (other index, value) pairs, CSR style.
#[derive(Clone, Debug)]
struct Lists {
    ptr: Vec<usize>,
    idx: Vec<u32>,
    val: Vec<f32>,
}

impl Lists {
    #[inline]
    fn get(&self, x: usize) -> (&[u32], &[f32]) {
        let s = self.ptr[x]..self.ptr[x + 1];
        (&self.idx[s.clone()], &self.val[s])
    }
}

/// Per-thread accumulators for one target's similarities.
struct Acc {
    n: Vec<u32>,
    ab: Vec<f64>,
    aa: Vec<f64>,
    bb: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
    touched: Vec<u32>,
}

impl Acc {
    fn new(n: usize) -> Self {
        Acc {
            n: vec![0; n],
            ab: vec![0.0; n],
            aa: vec![0.0; n],
            bb: vec![0.0; n],
            a: vec![0.0; n],
            b: vec![0.0; n],
            touched: Vec::new(),
        }
    }
}

/// kNN rating predictor (Surprise's `KNNBasic`, `KNNWithMeans`, `KNNWithZScore`,
/// `KNNBaseline`, selected by [`KnnVariant`]).
///
/// Similarities are computed sparsely: for each target (in parallel) the accumulators run
/// over the co-rating pairs only (`O(Σ_u |I_u|²)` for items), and only positive similarities
/// are kept, optionally truncated to the `max_neighbours` best per target, so memory is
/// `O(n · max_neighbours)` instead of a dense `n²` matrix. The computation has no
/// randomness, and every target's list is computed by one thread, so the model is the same
/// for any thread count.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{KNNParams, RatingPredictor, KNN};
///
/// let triples: Vec<(u32, u32, f32)> =
///     (0..30).flat_map(|u| (0..12).map(move |i| (u, i, ((u + 2 * i) % 5 + 1) as f32))).collect();
/// let data = Interactions::from_triples(triples, DuplicatePolicy::Error)?;
/// let model = KNNParams::default().k(10).fit(&data)?;
/// assert!((1.0..=5.0).contains(&model.predict(&0.into(), &3.into()).value));
/// assert!(model.n_neighbours() > 0);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct KNN {
    params: KNNParams,
    data: RatingSet,
    biases: Biases,
    /// For each x: neighbour x' (sorted by index) and similarity.
    nbr: Lists,
    /// The other side's lists: for item-based, users' (item, rating) rows.
    other: Lists,
    means: Vec<f32>,
    sigmas: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct KnnMeta {
    params: KNNParams,
    mu: f32,
    ratings: serde_json::Value,
}

impl KNN {
    /// Fits on `data`.
    pub(crate) fn fit_with(data: &Interactions, params: &KNNParams) -> Result<Self> {
        params.check()?;
        let data = RatingSet::new(data, params.scale)?;
        let pool = pool(params.num_threads)?;
        pool.install(|| {
            let biases = Biases::fit(&data, &params.baseline);
            let (xs, other) = Self::sides(&data, params.user_based);
            let nbr = similarities(&xs, &other, &biases, params);
            Ok(Self::assemble(params.clone(), data, biases, nbr, xs, other))
        })
    }

    /// (x-major lists, other side's lists) for the orientation.
    fn sides(data: &RatingSet, user_based: bool) -> (Lists, Lists) {
        let (iptr, iu, iv) = data.item_major();
        let items = Lists { ptr: iptr, idx: iu, val: iv };
        let mut uptr = Vec::with_capacity(data.n_users() + 1);
        uptr.push(0usize);
        let (mut ui, mut uv) = (Vec::with_capacity(data.nnz()), Vec::with_capacity(data.nnz()));
        for u in 0..data.n_users() {
            ui.extend_from_slice(data.user_items(u));
            uv.extend_from_slice(data.user_ratings(u));
            uptr.push(ui.len());
        }
        let users = Lists { ptr: uptr, idx: ui, val: uv };
        if user_based {
            (users, items)
        } else {
            (items, users)
        }
    }

    fn assemble(params: KNNParams, data: RatingSet, biases: Biases, nbr: Lists, xs: Lists, other: Lists) -> Self {
        let n = xs.ptr.len() - 1;
        let (mut means, mut sigmas) = (vec![biases.mu; n], vec![1f32; n]);
        for x in 0..n {
            let (_, v) = xs.get(x);
            if !v.is_empty() {
                let m = v.iter().map(|&r| r as f64).sum::<f64>() / v.len() as f64;
                let var = v.iter().map(|&r| (r as f64 - m).powi(2)).sum::<f64>() / v.len() as f64;
                means[x] = m as f32;
                sigmas[x] = if var > 0.0 { var.sqrt() as f32 } else { 1.0 };
            }
        }
        KNN { params, data, biases, nbr, other, means, sigmas }
    }

    /// The hyper-parameters used.
    pub fn params(&self) -> &KNNParams {
        &self.params
    }
    /// The baseline used for residuals and fallbacks.
    pub fn biases(&self) -> &Biases {
        &self.biases
    }
    /// Number of stored (target, neighbour) similarities.
    pub fn n_neighbours(&self) -> usize {
        self.nbr.idx.len()
    }
    /// The stored neighbours of user or item index `x` (by the orientation) with their
    /// similarities, sorted by index.
    pub fn neighbours(&self, x: usize) -> Option<(&[u32], &[f32])> {
        (x + 1 < self.nbr.ptr.len()).then(|| self.nbr.get(x))
    }

    #[inline]
    fn baseline_of(&self, u: usize, i: usize) -> f32 {
        self.biases.mu + self.biases.user[u] + self.biases.item[i]
    }

    fn estimate(&self, u: usize, i: usize) -> Prediction {
        let (x, y) = if self.params.user_based { (u, i) } else { (i, u) };
        let (nidx, nsim) = self.nbr.get(x);
        let (cidx, cval) = self.other.get(y);
        // Merge-join the target's neighbours with the candidates that rated `y`.
        let mut cand: Vec<(f32, u32, f32)> = Vec::new();
        let (mut a, mut b) = (0, 0);
        while a < nidx.len() && b < cidx.len() {
            match nidx[a].cmp(&cidx[b]) {
                std::cmp::Ordering::Less => a += 1,
                std::cmp::Ordering::Greater => b += 1,
                std::cmp::Ordering::Equal => {
                    cand.push((nsim[a], nidx[a], cval[b]));
                    a += 1;
                    b += 1;
                }
            }
        }
        let k = self.params.k;
        if cand.len() > k {
            // Highest similarity first, ties to the lower index: deterministic.
            cand.select_nth_unstable_by(k - 1, |p, q| q.0.total_cmp(&p.0).then(p.1.cmp(&q.1)));
            cand.truncate(k);
        }
        let base = self.baseline_of(u, i);
        if cand.len() < self.params.min_k || cand.is_empty() {
            let v = match self.params.variant {
                KnnVariant::WithMeans | KnnVariant::WithZScore => self.means[x],
                _ => base,
            };
            return Prediction { value: self.data.clip(v), status: PredictionStatus::TooFewNeighbours };
        }
        let (mut num, mut den) = (0f64, 0f64);
        for &(sim, x2, r) in &cand {
            let x2 = x2 as usize;
            let dev = match self.params.variant {
                KnnVariant::Basic => r,
                KnnVariant::WithMeans => r - self.means[x2],
                KnnVariant::WithZScore => (r - self.means[x2]) / self.sigmas[x2],
                KnnVariant::WithBaseline => {
                    let (u2, i2) = if self.params.user_based { (x2, i) } else { (u, x2) };
                    r - self.baseline_of(u2, i2)
                }
            };
            num += sim as f64 * dev as f64;
            den += sim as f64;
        }
        if self.params.variant != KnnVariant::Basic {
            den += self.params.damping as f64;
        }
        let agg = (num / den) as f32;
        let v = match self.params.variant {
            KnnVariant::Basic => agg,
            KnnVariant::WithMeans => self.means[x] + agg,
            KnnVariant::WithZScore => self.means[x] + self.sigmas[x] * agg,
            KnnVariant::WithBaseline => base + agg,
        };
        Prediction { value: self.data.clip(v), status: PredictionStatus::Model }
    }
}

/// Similarity lists for every x (positive similarities only, sorted by index).
fn similarities(xs: &Lists, other: &Lists, biases: &Biases, p: &KNNParams) -> Lists {
    let n = xs.ptr.len() - 1;
    let user_based = p.user_based;
    // Values used in the similarity: baseline residuals for PearsonBaseline, else ratings.
    let resid = |x: usize, y: usize, r: f32| -> f32 {
        if p.similarity != Similarity::PearsonBaseline {
            return r;
        }
        let (u, i) = if user_based { (x, y) } else { (y, x) };
        r - (biases.mu + biases.user[u] + biases.item[i])
    };
    let xval: Vec<f32> = (0..n)
        .flat_map(|x| {
            let (ys, rs) = xs.get(x);
            ys.iter().zip(rs).map(move |(&y, &r)| resid(x, y as usize, r)).collect::<Vec<_>>()
        })
        .collect();
    let oval: Vec<f32> = (0..other.ptr.len() - 1)
        .flat_map(|y| {
            let (xs_, rs) = other.get(y);
            xs_.iter().zip(rs).map(move |(&x, &r)| resid(x as usize, y, r)).collect::<Vec<_>>()
        })
        .collect();
    // Without a bound on the lists every similarity is kept anyway, so compute each pair
    // once (upper triangle) and mirror: half the work. With `max_neighbours` every row is
    // computed in full and truncated at once, so memory stays O(n · max_neighbours).
    let triangle = p.max_neighbours.is_none();
    let rows: Vec<Vec<(u32, f32)>> = (0..n)
        .into_par_iter()
        .with_min_len(8)
        .map_init(
            || Acc::new(n),
            |acc, x| {
                let s = xs.ptr[x]..xs.ptr[x + 1];
                let sums = p.similarity == Similarity::Pearson;
                for (&y, &a) in xs.idx[s.clone()].iter().zip(&xval[s]) {
                    let mut t = other.ptr[y as usize]..other.ptr[y as usize + 1];
                    if triangle {
                        // Lists are sorted by index: skip to the partners after `x`.
                        t.start += other.idx[t.clone()].partition_point(|&v| v as usize <= x);
                    }
                    let (a, mut touched) = (a as f64, std::mem::take(&mut acc.touched));
                    for (&x2, &b) in other.idx[t.clone()].iter().zip(&oval[t]) {
                        let j = x2 as usize;
                        if j == x {
                            continue;
                        }
                        let b = b as f64;
                        if acc.n[j] == 0 {
                            touched.push(x2);
                        }
                        acc.n[j] += 1;
                        acc.ab[j] += a * b;
                        acc.aa[j] += a * a;
                        acc.bb[j] += b * b;
                        if sums {
                            acc.a[j] += a;
                            acc.b[j] += b;
                        }
                    }
                    acc.touched = touched;
                }
                let mut row: Vec<(u32, f32)> = Vec::with_capacity(acc.touched.len());
                for &j in &acc.touched {
                    let j = j as usize;
                    let cnt = acc.n[j] as f64;
                    let sim = if (acc.n[j] as usize) < p.min_support {
                        0.0
                    } else {
                        match p.similarity {
                            Similarity::Cosine | Similarity::PearsonBaseline => {
                                let d = (acc.aa[j] * acc.bb[j]).sqrt();
                                if d > 0.0 {
                                    acc.ab[j] / d
                                } else {
                                    0.0
                                }
                            }
                            Similarity::Pearson => {
                                let num = cnt * acc.ab[j] - acc.a[j] * acc.b[j];
                                let d = ((cnt * acc.aa[j] - acc.a[j] * acc.a[j]).max(0.0)
                                    * (cnt * acc.bb[j] - acc.b[j] * acc.b[j]).max(0.0))
                                .sqrt();
                                if d > 0.0 {
                                    num / d
                                } else {
                                    0.0
                                }
                            }
                            Similarity::Msd => {
                                // Σ (a - b)² = Σa² - 2Σab + Σb².
                                let msd = (acc.aa[j] - 2.0 * acc.ab[j] + acc.bb[j]).max(0.0) / cnt;
                                1.0 / (1.0 + msd)
                            }
                        }
                    };
                    let sim =
                        if p.shrinkage > 0.0 { sim * (cnt - 1.0) / (cnt - 1.0 + p.shrinkage as f64) } else { sim };
                    if sim > 0.0 && sim.is_finite() {
                        let sim = if p.amplify != 1.0 { sim.powf(p.amplify as f64) } else { sim };
                        row.push((j as u32, sim as f32));
                    }
                    acc.n[j] = 0;
                    acc.ab[j] = 0.0;
                    acc.aa[j] = 0.0;
                    acc.bb[j] = 0.0;
                    acc.a[j] = 0.0;
                    acc.b[j] = 0.0;
                }
                acc.touched.clear();
                if let Some(m) = p.max_neighbours {
                    truncate(&mut row, m);
                }
                row.sort_unstable_by_key(|e| e.0);
                row
            },
        )
        .collect();
    let rows = if triangle { mirror(rows) } else { rows };
    let mut ptr = Vec::with_capacity(n + 1);
    ptr.push(0usize);
    let total: usize = rows.iter().map(Vec::len).sum();
    let (mut idx, mut val) = (Vec::with_capacity(total), Vec::with_capacity(total));
    for row in rows {
        for (j, s) in row {
            idx.push(j);
            val.push(s);
        }
        ptr.push(idx.len());
    }
    Lists { ptr, idx, val }
}

/// Keeps the `m` most similar entries (ties to the lower index).
fn truncate(row: &mut Vec<(u32, f32)>, m: usize) {
    if row.len() > m {
        row.select_nth_unstable_by(m - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        row.truncate(m);
    }
}

/// Full, index-sorted lists from upper-triangle rows (row `x` holds partners `j > x`, sorted).
fn mirror(upper: Vec<Vec<(u32, f32)>>) -> Vec<Vec<(u32, f32)>> {
    let mut deg: Vec<usize> = upper.iter().map(Vec::len).collect();
    for row in &upper {
        for &(j, _) in row {
            deg[j as usize] += 1;
        }
    }
    let mut full: Vec<Vec<(u32, f32)>> = deg.into_iter().map(Vec::with_capacity).collect();
    // Visiting rows in increasing `x` appends every list in increasing index order: first the
    // partners below it (as their rows come), then its own row.
    for (x, row) in upper.into_iter().enumerate() {
        for &(j, s) in &row {
            full[j as usize].push((x as u32, s));
        }
        full[x].extend_from_slice(&row);
    }
    full
}

impl RatingPredictor for KNN {
    super::rating_set_accessors!();

    fn predict_index(&self, user: Option<usize>, item: Option<usize>) -> Prediction {
        match known(&self.data, user, item) {
            (Some(u), Some(i)) => self.estimate(u, i),
            (u, i) => Prediction {
                value: self.data.clip(self.biases.estimate(u, i)),
                status: unknown_status(u.is_some(), i.is_some()),
            },
        }
    }
}

impl Persist for KNN {
    const KIND: &'static str = "recommend.knn";

    fn write(&self) -> Result<ModelWriter> {
        let meta = KnnMeta { params: self.params.clone(), mu: self.biases.mu, ratings: self.data.meta() };
        let ptr: Vec<u64> = self.nbr.ptr.iter().map(|&p| p as u64).collect();
        let w = self.biases.write_into(self.data.write_into(ModelWriter::new(Self::KIND, &meta)?), "bias");
        Ok(w.u64("neighbours.indptr", &[ptr.len()], &ptr)
            .u32("neighbours.indices", &[self.nbr.idx.len()], &self.nbr.idx)
            .f32("neighbours.sims", &[self.nbr.val.len()], &self.nbr.val))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: KnnMeta = r.meta()?;
        meta.params.check().map_err(|e| Error::format(e.to_string()))?;
        let data = RatingSet::read_from(r, meta.ratings)?;
        let biases = Biases::read_from(r, "bias", meta.mu, &data)?;
        let n = if meta.params.user_based { data.n_users() } else { data.n_items() };
        let (_, ptr) = r.u64("neighbours.indptr")?;
        let (_, idx) = r.u32("neighbours.indices")?;
        let (_, val) = r.f32("neighbours.sims")?;
        let ok = ptr.len() == n + 1
            && ptr[0] == 0
            && ptr.windows(2).all(|w| w[0] <= w[1])
            && ptr[n] as usize == idx.len()
            && idx.len() == val.len()
            && idx.iter().all(|&j| (j as usize) < n)
            && val.iter().all(|v| v.is_finite())
            && ptr.windows(2).all(|w| idx[w[0] as usize..w[1] as usize].windows(2).all(|p| p[0] < p[1]));
        if !ok {
            return Err(Error::format("neighbour lists are inconsistent with the rating set"));
        }
        let nbr = Lists { ptr: ptr.into_iter().map(|p| p as usize).collect(), idx, val };
        let (xs, other) = Self::sides(&data, meta.params.user_based);
        Ok(Self::assemble(meta.params, data, biases, nbr, xs, other))
    }
}

impl KNNParams {
    /// Fits a [`KNN`] on `data` (users are rows), checking these parameters first.
    pub fn fit(&self, data: &Interactions) -> Result<KNN> {
        KNN::fit_with(data, self)
    }
}
