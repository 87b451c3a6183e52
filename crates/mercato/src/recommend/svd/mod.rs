//! Truncated SVD of a sparse user × item matrix: the top-`k` singular triplets
//! `A ≈ U · diag(s) · Vᵀ` (the classic `scipy.sparse.linalg.svds` use), and the low-rank
//! reconstruction as an explicit-rating recommender.
//!
//! Two algorithms, both over parallel sparse × dense products written for CSR rows (`A·X`
//! gathers along each row; `Aᵀ·X` scatters each row into cache-resident partials), on the
//! `f32` matrix with `f64` factors:
//!
//! * [`SvdAlgorithm::Randomized`] (default): Halko–Martinsson–Tropp range finder with
//!   `k + n_oversamples` columns and `n_iter` power iterations re-normalised by Cholesky QR,
//!   then the SVD of the small projected matrix. `n_iter = None` picks scikit-learn's 'auto'
//!   (7 when `k < 0.1 · min(n, m)`, else 4). The sketch products run in `f32` (as
//!   scikit-learn's float32 path) on sketches padded to 32 columns in aligned buffers that are
//!   allocated once, built in registers 32 columns at a time and runtime-dispatched to AVX2;
//!   the projection `B = Qᵀ A`, the orthonormalisations and the small SVD are `f64`, so
//!   `U S Vᵀ = Q Qᵀ A` holds to `f64` rounding for the basis found. `Q = Y R⁻¹` stays implicit
//!   (one Cholesky QR of the final sketch `Y`; the explicit two-pass path when `Y` is
//!   ill-conditioned).
//! * [`SvdAlgorithm::Accurate`]: thick-restart Golub–Kahan–Lanczos bidiagonalisation with
//!   full one-sided reorthogonalisation, iterated until every wanted triplet has residual
//!   `‖Aᵀu − σv‖ ≤ tol · σ₁` (ARPACK-grade singular values).
//!
//! Centring ([`Centering`]) subtracts the global mean or each user's mean from the *stored*
//! ratings only: an absent rating is read as "equal to the mean" (mean imputation, Sarwar et
//! al. 2000), which keeps the matrix sparse and is what `predict = mean + U_u·diag(s)·V_i`
//! needs on explicit ratings. The relative reconstruction error `‖A − U S Vᵀ‖_F / ‖A‖_F` (of
//! the centred matrix when centring) is evaluated exactly without densifying, from
//! `‖A‖² − 2 tr(S Uᵀ A V) + tr(S UᵀU S VᵀV)`, which holds for any `U`, `V`.
//!
//! Results are identical for any `num_threads`: every random block has its own stream, every
//! product row is computed by one thread and every reduction sums fixed blocks in order. The
//! AVX2 kernels do the same operations in the same order as the portable ones, only wider, so
//! results do not depend on the CPU either.

mod lanczos;
mod linalg;
mod randomized;

use crate::params::Params;
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sprs::CsMat;

use crate::data::{IdMap, Interactions, Rows};
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::recommend::explicit::{unknown_status, Prediction, RatingPredictor};
use crate::recommend::{check_n, top_n};
use crate::{bail, ensure, Error, Result};

/// Which solver computes the singular triplets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SvdAlgorithm {
    /// Randomized range finder with power iterations (fast; error close to optimal).
    #[default]
    Randomized,
    /// Thick-restart Lanczos bidiagonalisation to a residual tolerance (as ARPACK).
    Accurate,
}

/// What is subtracted from the stored ratings before factorising.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Centering {
    /// Factorise the matrix as given (absent entries are zeros).
    #[default]
    None,
    /// Subtract the mean of all stored values.
    Global,
    /// Subtract each user's (row's) mean from that user's stored values.
    User,
}

/// Hyper-parameters of [`TruncatedSvd`]; validated once in `fit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SvdParams {
    /// Number of singular triplets (1 ≤ k ≤ min(n_users, n_items)).
    pub k: usize,
    /// Solver.
    pub algorithm: SvdAlgorithm,
    /// Randomized: power iterations; `None` = scikit-learn's 'auto' (7 if k < 0.1·min(n, m), else 4).
    pub n_iter: Option<usize>,
    /// Randomized: extra sketch columns beyond `k` (scikit-learn's default 10).
    pub n_oversamples: usize,
    /// Accurate: Lanczos basis size; `None` = max(2k + 1, 20) as `scipy.sparse.linalg.svds`.
    pub ncv: Option<usize>,
    /// Accurate: stop when every residual is below `tol · σ₁`.
    pub tol: f64,
    /// Accurate: restarts before giving up (the result is then flagged not converged).
    pub max_restarts: usize,
    /// Centring of the stored values.
    pub center: Centering,
    /// Seed of the random sketch / start vector.
    pub seed: u64,
    /// Threads of the local rayon pool (`None` = all cores).
    pub num_threads: Option<usize>,
}

impl Default for SvdParams {
    fn default() -> Self {
        SvdParams {
            k: 50,
            algorithm: SvdAlgorithm::Randomized,
            n_iter: None,
            n_oversamples: 10,
            ncv: None,
            tol: 1e-10,
            max_restarts: 1000,
            center: Centering::None,
            seed: 0,
            num_threads: None,
        }
    }
}

impl SvdParams {
    /// Defaults with `k` triplets.
    pub fn new(k: usize) -> Self {
        SvdParams { k, ..Self::default() }
    }

    crate::params::setters! {
        /// Sets the number of triplets.
        k: usize,
        /// Sets the solver.
        algorithm: SvdAlgorithm,
        /// Sets the power iterations (`None` = 'auto').
        n_iter: Option<usize>,
        /// Sets the oversampling.
        n_oversamples: usize,
        /// Sets the Lanczos basis size (`None` = max(2k + 1, 20)).
        ncv: Option<usize>,
        /// Sets the Lanczos residual tolerance (relative to σ₁).
        tol: f64,
        /// Sets the maximum number of Lanczos restarts.
        max_restarts: usize,
        /// Sets the centring.
        center: Centering,
        /// Sets the seed.
        seed: u64,
        /// Sets the number of threads.
        num_threads: Option<usize>,
    }

    /// The power iterations used on an `n × m` matrix (resolves 'auto').
    pub fn resolved_n_iter(&self, n: usize, m: usize) -> usize {
        self.n_iter.unwrap_or(if (self.k as f64) < 0.1 * n.min(m) as f64 { 7 } else { 4 })
    }

    /// Checks the parameters against an `n × m` matrix: [`Params::check`], then `k` against
    /// the matrix's rank bound.
    pub fn check_for(&self, n: usize, m: usize) -> Result<()> {
        self.check()?;
        ensure!(
            self.k <= n.min(m),
            param "k", "{} exceeds min(n_users, n_items) = {} (the matrix is {n} x {m})",
            self.k,
            n.min(m)
        );
        Ok(())
    }
}

impl Params for SvdParams {
    fn check(&self) -> Result<()> {
        ensure!(self.k > 0, param "k", "must be positive, got 0");
        ensure!(self.tol.is_finite() && self.tol > 0.0, param "tol", "must be a positive number, got {}", self.tol);
        if let Some(ncv) = self.ncv {
            ensure!(ncv > self.k, param "ncv", "must exceed k ({}), got {ncv}", self.k);
        }
        ensure!(self.n_iter.is_none_or(|q| q <= 1000), param "n_iter", "must be at most 1000");
        crate::params::check_threads(self.num_threads)
    }
}

/// What a fit did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SvdFitInfo {
    /// `‖A − U S Vᵀ‖_F / ‖A‖_F` of the (centred) matrix.
    pub reconstruction_error: f64,
    /// Power iterations (randomized) or restarts (accurate).
    pub iterations: usize,
    /// Sparse products with `A` or `Aᵀ` (one per vector for Lanczos, one per block otherwise).
    pub products: usize,
    /// False when the accurate solver hit `max_restarts` before its tolerance.
    pub converged: bool,
}

pub(crate) struct Factors {
    /// `Σ_c s_c · u_cᵀ A v_c`, computed by each solver from products it already has (exact
    /// for the returned factors, so the error needs no further pass over the matrix).
    pub cross: f64,
    pub u: Array2<f64>,
    pub s: Vec<f64>,
    pub v: Array2<f64>,
    pub iterations: usize,
    pub products: usize,
    pub converged: bool,
}

/// A fitted truncated SVD: factors `U` (users × k), `s` (k, decreasing), `Vᵀ` (k × items),
/// the means used for centring and fall-backs, and the training rows (to exclude rated items).
///
/// A [`RatingPredictor`]: predictions are `mean + U_u · diag(s) · V_i` clipped to the
/// training rating range, where `mean` is 0, the global mean or the user's mean per
/// [`Centering`]. Unknown users fall back to the item's mean rating, unknown items to the
/// user's mean, both unknown to the global mean (flagged in [`Prediction::status`]).
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{Centering, Filter, RatingPredictor, SvdAlgorithm, SvdParams, TruncatedSvd};
///
/// let ratings = Interactions::from_triples(
///     [("ann", "tea", 5.0), ("ann", "mug", 3.0), ("bob", "tea", 4.0), ("bob", "pot", 2.0), ("cy", "mug", 4.0)],
///     DuplicatePolicy::Error,
/// )?;
/// let params = SvdParams::new(2).algorithm(SvdAlgorithm::Accurate).center(Centering::Global);
/// let model = params.fit(&ratings)?;
/// assert_eq!(model.s().len(), 2);
/// assert!(model.s()[0] >= model.s()[1]);
/// let p = model.predict(&"ann".into(), &"pot".into());
/// assert!(!p.is_fallback() && (1.0..=5.0).contains(&p.value));
/// assert!(model.predict(&"zed".into(), &"tea".into()).is_fallback());
/// let top = model.recommend(&"cy".into(), 2, &Filter::new().exclude_seen(true))?;
/// assert_eq!(top.items.len(), 2); // tea and pot: cy already rated mug
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TruncatedSvd {
    params: SvdParams,
    users: IdMap,
    items: IdMap,
    u: Array2<f64>,
    s: Array1<f64>,
    vt: Array2<f64>,
    global_mean: f64,
    user_means: Array1<f64>,
    item_means: Array1<f64>,
    rating_range: (f64, f64),
    seen_indptr: Vec<usize>,
    seen_indices: Vec<u32>,
    info: SvdFitInfo,
}

fn means(sum: &[f64], count: &[usize], fallback: f64) -> Array1<f64> {
    sum.iter().zip(count).map(|(&s, &c)| if c > 0 { s / c as f64 } else { fallback }).collect()
}

impl TruncatedSvd {
    /// Fits on a user × item matrix with its id maps.
    pub(crate) fn fit_with(data: &Interactions, params: &SvdParams) -> Result<Self> {
        params.check()?;
        // Everything, the preparation passes included, runs on the pool of `num_threads`.
        crate::parallel::pool(params.num_threads)?.install(|| Self::fit_on_pool(data, params))
    }

    fn fit_on_pool(data: &Interactions, params: &SvdParams) -> Result<Self> {
        let (n, m) = (data.n_users(), data.n_items());
        ensure!(
            n > 0 && m > 0 && data.nnz() > 0,
            "empty matrix ({n} x {m}, {} stored values): nothing to factorise",
            data.nnz()
        );
        params.check_for(n, m)?;
        let matrix = data.matrix();
        let base = matrix.indptr().index(0);
        let indptr: Vec<usize> = (0..=n).map(|r| matrix.indptr().index(r) - base).collect();
        ensure!(m <= u32::MAX as usize, "at most {} items are supported, got {m}", u32::MAX);
        let indices: Vec<u32> = matrix.indices().par_iter().map(|&j| j as u32).collect();
        let mut values: Vec<f32> = matrix.data().to_vec();
        // One pass for the checks and the global statistics, over fixed chunks summed in order
        // (the same total for any thread count).
        let chunks: Vec<(f64, f32, f32, bool)> = values
            .par_chunks(1 << 16)
            .map(|c| {
                let finite = c.iter().all(|v| v.is_finite());
                let sum = c.iter().map(|&v| f64::from(v)).sum::<f64>();
                let (lo, hi) = c.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                (sum, lo, hi, finite)
            })
            .collect();
        if let Some(v) = chunks.iter().any(|c| !c.3).then(|| values.iter().find(|v| !v.is_finite())).flatten() {
            bail!("the matrix holds a non-finite value {v}");
        }
        let nnz = values.len();
        let total: f64 = chunks.iter().map(|c| c.0).sum();
        let (lo, hi) = chunks
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| (lo.min(f64::from(c.1)), hi.max(f64::from(c.2))));
        let global_mean = total / nnz as f64;
        let row_sums: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|r| values[indptr[r]..indptr[r + 1]].iter().map(|&v| f64::from(v)).sum())
            .collect();
        let row_counts: Vec<usize> = indptr.windows(2).map(|w| w[1] - w[0]).collect();
        let (mut isum, mut icount) = (vec![0.0; m], vec![0usize; m]);
        for (&j, &v) in indices.iter().zip(&values) {
            isum[j as usize] += f64::from(v);
            icount[j as usize] += 1;
        }
        let user_means = means(&row_sums, &row_counts, global_mean);
        let item_means = means(&isum, &icount, global_mean);

        match params.center {
            Centering::None => {}
            Centering::Global => values.par_iter_mut().for_each(|v| *v = (f64::from(*v) - global_mean) as f32),
            Centering::User => {
                for r in 0..n {
                    for v in &mut values[indptr[r]..indptr[r + 1]] {
                        *v = (f64::from(*v) - user_means[r]) as f32;
                    }
                }
            }
        }
        // Signed after centring, so not through the checked constructors; the layout is the
        // validated matrix's and the values were checked finite above.
        let a = Rows::from_signed_parts(m, indptr, indices, values);
        let norm_sq = a.frobenius_sq();
        ensure!(
            norm_sq > 0.0,
            "the {}matrix is all zeros: nothing to factorise",
            if params.center == Centering::None { "" } else { "centred " }
        );

        let (factors, error) = {
            let mut f = match params.algorithm {
                SvdAlgorithm::Randomized => randomized::randomized(
                    &a,
                    params.k,
                    params.n_oversamples,
                    params.resolved_n_iter(n, m),
                    params.seed,
                ),
                SvdAlgorithm::Accurate => {
                    let ncv = params.ncv.unwrap_or((2 * params.k + 1).max(20));
                    let at = a.transpose();
                    lanczos::lanczos(&a, &at, params.k, ncv, params.tol, params.max_restarts, params.seed)
                }
            };
            randomized::flip_signs(&mut f.u, &mut f.v);
            let error = relative_error(norm_sq, &f);
            (f, error)
        };
        let Factors { u, s, v, iterations, products, converged, .. } = factors;
        Ok(TruncatedSvd {
            params: params.clone(),
            users: data.users().clone(),
            items: data.items().clone(),
            u,
            s: Array1::from(s),
            vt: v.reversed_axes().as_standard_layout().into_owned(),
            global_mean,
            user_means,
            item_means,
            rating_range: (lo, hi),
            seen_indptr: a.indptr,
            seen_indices: a.indices,
            info: SvdFitInfo { reconstruction_error: error, iterations, products, converged },
        })
    }

    /// `U`: users × k, orthonormal columns.
    pub fn u(&self) -> &Array2<f64> {
        &self.u
    }

    /// Singular values, decreasing.
    pub fn s(&self) -> &Array1<f64> {
        &self.s
    }

    /// `Vᵀ`: k × items, orthonormal rows.
    pub fn vt(&self) -> &Array2<f64> {
        &self.vt
    }

    /// The parameters used.
    pub fn params(&self) -> &SvdParams {
        &self.params
    }

    /// What the fit did, including the relative reconstruction error.
    pub fn info(&self) -> &SvdFitInfo {
        &self.info
    }

    /// `‖A − U S Vᵀ‖_F / ‖A‖_F` on the (centred) training matrix.
    pub fn reconstruction_error(&self) -> f64 {
        self.info.reconstruction_error
    }

    /// User ids (rows of `U`).
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// Item ids (columns of `Vᵀ`).
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// Mean of the training values.
    pub fn global_mean(&self) -> f64 {
        self.global_mean
    }

    /// Smallest and largest training value (predictions are clipped to it).
    pub fn rating_range(&self) -> (f64, f64) {
        self.rating_range
    }

    fn offset(&self, user: usize) -> f64 {
        match self.params.center {
            Centering::None => 0.0,
            Centering::Global => self.global_mean,
            Centering::User => self.user_means[user],
        }
    }

    fn raw_score(&self, user: usize, item: usize) -> f64 {
        let urow = self.u.row(user);
        let mut acc = self.offset(user);
        for (c, &uc) in urow.iter().enumerate() {
            acc += uc * self.s[c] * self.vt[[c, item]];
        }
        acc
    }

    fn clip(&self, v: f64) -> f64 {
        v.clamp(self.rating_range.0, self.rating_range.1)
    }

    /// Unclipped predicted ratings of every item for a user index (the ranking scores).
    pub fn scores(&self, user: usize) -> Result<Vec<f32>> {
        if user >= self.users.len() {
            return Err(Error::UnknownId { kind: "user", id: format!("index {user}") });
        }
        let mut out = vec![0f32; self.items.len()];
        self.score_items(user, &mut out);
        Ok(out)
    }

    /// Item indices the user rated in training (sorted).
    pub fn seen(&self, user: usize) -> &[u32] {
        match (self.seen_indptr.get(user), self.seen_indptr.get(user + 1)) {
            (Some(&a), Some(&b)) => &self.seen_indices[a..b],
            _ => &[],
        }
    }

    /// The `n` items most similar to item index `item`: cosine similarity of their rows of
    /// `V Σ` (the item itself first, as implicit's `similar_items`).
    pub fn similar_items(&self, item: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        check_n(n)?;
        let m = self.vt.ncols();
        if item >= m {
            return Err(Error::UnknownId { kind: "item", id: format!("index {item} (model has {m} items)") });
        }
        // Columns of Σ Vᵀ are the item embeddings.
        let emb = &self.vt * &self.s.view().insert_axis(ndarray::Axis(1));
        let norms: Vec<f64> = emb.columns().into_iter().map(|c| c.dot(&c).sqrt()).collect();
        let target = emb.column(item);
        let scores: Vec<f32> = emb
            .columns()
            .into_iter()
            .zip(&norms)
            .map(|(c, &norm)| {
                let denom = norm * norms[item];
                if denom > 0.0 {
                    (c.dot(&target) / denom) as f32
                } else {
                    0.0
                }
            })
            .collect();
        Ok(top_n(&scores, n, |_| true))
    }
}

/// Unknown users are ranked by the items' mean ratings (flagged as a fallback); the order
/// of a known user's list comes from the unclipped scores, and each item's reported score is
/// its clipped prediction, so `recommend` and `predict` agree on every pair.
impl RatingPredictor for TruncatedSvd {
    fn users(&self) -> &IdMap {
        &self.users
    }

    fn items(&self) -> &IdMap {
        &self.items
    }

    fn scale(&self) -> (f32, f32) {
        (self.rating_range.0 as f32, self.rating_range.1 as f32)
    }

    fn rated(&self, user: usize) -> &[u32] {
        self.seen(user)
    }

    fn predict_index(&self, user: Option<usize>, item: Option<usize>) -> Prediction {
        let user = user.filter(|&u| u < self.users.len());
        let item = item.filter(|&i| i < self.items.len());
        let value = match (user, item) {
            (Some(u), Some(i)) => self.raw_score(u, i),
            (None, Some(i)) => self.item_means[i],
            (Some(u), None) => self.user_means[u],
            (None, None) => self.global_mean,
        };
        Prediction { value: self.clip(value) as f32, status: unknown_status(user.is_some(), item.is_some()) }
    }

    fn score_items(&self, user: usize, out: &mut [f32]) {
        let w: Array1<f64> = &self.u.row(user) * &self.s;
        let offset = self.offset(user);
        for (o, x) in out.iter_mut().zip(w.dot(&self.vt)) {
            *o = (x + offset) as f32;
        }
    }
}

/// `‖A − U S Vᵀ‖_F / ‖A‖_F` without densifying: `‖A‖² − 2 tr(S Uᵀ A V) + tr(S UᵀU S VᵀV)`,
/// exact for any `U`, `V` (orthonormality is not assumed).
fn relative_error(norm_sq: f64, f: &Factors) -> f64 {
    let k = f.s.len();
    // Gram matrices in parallel fixed blocks (U is tall: users × k).
    let utu = linalg::gram(f.u.view());
    let vtv = linalg::gram(f.v.view());
    let mut fit = 0.0;
    for i in 0..k {
        for j in 0..k {
            fit += f.s[i] * utu[(i, j)] * f.s[j] * vtv[(j, i)];
        }
    }
    ((norm_sq - 2.0 * f.cross + fit).max(0.0) / norm_sq).sqrt()
}

#[derive(Serialize, Deserialize)]
struct Meta {
    params: SvdParams,
    users: IdMap,
    items: IdMap,
    k: usize,
    global_mean: f64,
    rating_range: (f64, f64),
    info: SvdFitInfo,
}

impl Persist for TruncatedSvd {
    const KIND: &'static str = "recommend.truncated_svd";

    fn write(&self) -> Result<ModelWriter> {
        let meta = Meta {
            params: self.params.clone(),
            users: self.users.clone(),
            items: self.items.clone(),
            k: self.s.len(),
            global_mean: self.global_mean,
            rating_range: self.rating_range,
            info: self.info.clone(),
        };
        let indptr: Vec<u64> = self.seen_indptr.iter().map(|&p| p as u64).collect();
        Ok(ModelWriter::new(Self::KIND, &meta)?
            .array2_f64("u", &self.u)
            .f64("s", &[self.s.len()], self.s.as_slice().expect("contiguous"))
            .array2_f64("vt", &self.vt)
            .f64("user_means", &[self.user_means.len()], self.user_means.as_slice().expect("contiguous"))
            .f64("item_means", &[self.item_means.len()], self.item_means.as_slice().expect("contiguous"))
            .u64("seen_indptr", &[indptr.len()], &indptr)
            .u32("seen_indices", &[self.seen_indices.len()], &self.seen_indices))
    }

    fn read(reader: &ModelReader) -> Result<Self> {
        let meta: Meta = reader.meta()?;
        let (n, m, k) = (meta.users.len(), meta.items.len(), meta.k);
        let bad = |what: &str| Error::format(format!("truncated SVD: {what}"));
        meta.params.check_for(n, m).map_err(|e| bad(&e.to_string()))?;
        if k != meta.params.k {
            return Err(bad("k does not match the parameters"));
        }
        let u = reader.array2_f64("u", [Some(n), Some(k)])?;
        let s = reader.array1_f64("s", Some(k))?;
        let vt = reader.array2_f64("vt", [Some(k), Some(m)])?;
        let user_means = reader.array1_f64("user_means", Some(n))?;
        let item_means = reader.array1_f64("item_means", Some(m))?;
        let (_, indptr) = reader.u64("seen_indptr")?;
        let (_, seen_indices) = reader.u32("seen_indices")?;
        fn finite<'a>(mut a: impl Iterator<Item = &'a f64>) -> bool {
            a.all(|v| v.is_finite())
        }
        let (lo, hi) = meta.rating_range;
        if !(finite(u.iter())
            && finite(s.iter())
            && finite(vt.iter())
            && finite(user_means.iter())
            && finite(item_means.iter())
            && meta.global_mean.is_finite()
            && lo.is_finite()
            && hi.is_finite()
            && lo <= hi)
        {
            return Err(bad("non-finite values or an empty rating range"));
        }
        if indptr.len() != n + 1
            || indptr.first() != Some(&0)
            || indptr.last() != Some(&(seen_indices.len() as u64))
            || indptr.windows(2).any(|w| w[0] > w[1])
        {
            return Err(bad("inconsistent training rows"));
        }
        let seen_indptr: Vec<usize> = indptr.iter().map(|&p| p as usize).collect();
        for r in 0..n {
            let row = &seen_indices[seen_indptr[r]..seen_indptr[r + 1]];
            if row.windows(2).any(|w| w[0] >= w[1]) || row.iter().any(|&i| i as usize >= m) {
                return Err(bad("training rows hold unsorted or out-of-range items"));
            }
        }
        Ok(TruncatedSvd {
            params: meta.params,
            users: meta.users,
            items: meta.items,
            u,
            s,
            vt,
            global_mean: meta.global_mean,
            user_means,
            item_means,
            rating_range: meta.rating_range,
            seen_indptr,
            seen_indices,
            info: meta.info,
        })
    }
}

// Used by the Python bindings to report shapes without copying.
impl TruncatedSvd {
    /// Number of components actually computed (= k).
    pub fn n_components(&self) -> usize {
        self.s.len()
    }

    /// `U · diag(s)` row of a user (the user's embedding scaled by the singular values).
    pub fn user_embedding(&self, user: usize) -> Option<Array1<f64>> {
        (user < self.users.len()).then(|| &self.u.row(user) * &self.s)
    }

    /// `Vᵀ` column of an item.
    pub fn item_embedding(&self, item: usize) -> Option<Array1<f64>> {
        (item < self.items.len()).then(|| self.vt.index_axis(Axis(1), item).to_owned())
    }
}

impl SvdParams {
    /// Fits on a CSR matrix whose row and column indices are the ids (identity maps).
    pub fn fit_csr(&self, matrix: &CsMat<f32>) -> Result<TruncatedSvd> {
        TruncatedSvd::fit_with(&Interactions::from_csr(matrix.clone())?, self)
    }

    /// Fits a [`TruncatedSvd`] on `data` (users are rows), checking these parameters first.
    pub fn fit(&self, data: &Interactions) -> Result<TruncatedSvd> {
        TruncatedSvd::fit_with(data, self)
    }
}

#[cfg(test)]
mod tests;
