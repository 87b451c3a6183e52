//! Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008).

use crate::params::Params;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    axpy, check_item, check_user, cosine_top_n, dot, pool, row_norms, score_factors, score_one_user, Derived,
    Recommender, Rows,
};
use crate::data::Interactions;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{ensure, Error, Result};

/// How ALS solves each user's (item's) least-squares system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlsSolver {
    /// A few conjugate-gradient steps warm-started from the previous factors (Takács,
    /// Pilászy & Tikk 2011, as implicit's default): `O(nnz·k·steps + n·k²·steps)`.
    #[default]
    ConjugateGradient,
    /// The exact solution by Cholesky factorisation of the `k × k` system: `O(nnz·k² + n·k³)`.
    Cholesky,
}

/// The confidence `c` given to an observed weight `r > 0`; unobserved pairs have `c = 1`,
/// preference 0. Stored zeros count as unobserved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Confidence {
    /// `c = 1 + alpha · r` (Hu, Koren & Volinsky). implicit uses `c = alpha · r`
    /// ([`Confidence::Implicit`]), which differs for small weights.
    Linear,
    /// `c = alpha · r`, implicit's definition (`AlternatingLeastSquares` weights an observed
    /// entry by `alpha` times its value): with implicit's `alpha` this trains the model
    /// implicit trains. Weights below `1 / alpha` get less confidence than unobserved pairs.
    Implicit,
    /// `c = 1 + alpha` whatever the weight (LensKit's `ImplicitMF(use_ratings=False)`):
    /// robust to play counts spanning orders of magnitude.
    #[default]
    Binary,
}

/// Hyper-parameters of [`Als`]. Defaults: `64` factors, binary confidence with `alpha 10`,
/// a penalty scaled to the data (`λ = 1 ×` the mean number of interactions per user, see
/// [`AlsParams::regularization_per_interaction`]), `15` iterations, CG with 3 steps; they
/// work on raw counts without weighting. They were chosen by grids (alpha 2–40, λ 0.1–450,
/// linear and log confidence; `python3 benches/compare/implicit.py --tune`) on a validation
/// split carved out of the Last.fm-2k *training* data and on the marketplace demo's
/// views/purchases: a fixed λ that suits one catalogue does not suit the other (Last.fm-2k
/// rows average 31–39 interactions and the best λ was 30–47; the marketplace's 56 and
/// 56–84), while `λ = mean row length` was within noise of the best on both.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlsParams {
    /// Latent dimension.
    pub factors: usize,
    /// L2 penalty on every factor vector: `λ` itself, or, when `scale_regularization` is
    /// set, `λ` per interaction (`λ = regularization × nnz / n_users` of the training data).
    /// [`Als::regularization`] gives the `λ` a model was trained with.
    pub regularization: f32,
    /// Whether `regularization` is per interaction (see there); the builder methods
    /// [`AlsParams::regularization`] (absolute, as implicit) and
    /// [`AlsParams::regularization_per_interaction`] set both fields.
    #[serde(default)]
    pub scale_regularization: bool,
    /// Confidence scale, see [`Confidence`].
    pub alpha: f32,
    /// How weights become confidences.
    pub confidence: Confidence,
    /// Number of (users, items) sweeps.
    pub iterations: usize,
    /// Least-squares solver.
    pub solver: AlsSolver,
    /// Conjugate-gradient steps per solve.
    pub cg_steps: usize,
    /// Seed of the initial factors (uniform in `[0, 0.01)`, as implicit).
    pub seed: u64,
    /// Worker threads (all cores when `None`); results do not depend on it.
    #[serde(default)]
    pub num_threads: Option<usize>,
    /// Show a progress bar on a terminal.
    #[serde(default)]
    pub show_progress: bool,
    /// Compute the training loss after every iteration into [`Als::loss_history`] (implicit's
    /// `calculate_training_loss`): one more pass over the data per iteration.
    #[serde(default)]
    pub calculate_training_loss: bool,
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 64,
            regularization: 1.0,
            scale_regularization: true,
            alpha: 10.0,
            confidence: Confidence::Binary,
            iterations: 15,
            solver: AlsSolver::ConjugateGradient,
            cg_steps: 3,
            seed: 42,
            num_threads: None,
            show_progress: false,
            calculate_training_loss: false,
        }
    }
}

impl AlsParams {
    crate::params::setters!(factors: usize);

    /// Sets an absolute penalty `λ` (as implicit's `regularization`), whatever the data.
    pub fn regularization(mut self, lambda: f32) -> Self {
        self.regularization = lambda;
        self.scale_regularization = false;
        self
    }

    /// Sets the penalty per interaction: `λ = r × nnz / n_users` of the training data, so one
    /// value suits catalogues with short and long rows (the default, with `r = 1`).
    pub fn regularization_per_interaction(mut self, r: f32) -> Self {
        self.regularization = r;
        self.scale_regularization = true;
        self
    }

    /// The `λ` these parameters give on `rows`.
    pub fn lambda(&self, rows: &Rows) -> f32 {
        if self.scale_regularization {
            self.regularization * rows.nnz() as f32 / rows.n_rows().max(1) as f32
        } else {
            self.regularization
        }
    }

    /// The objective ALS minimises (see [`Als`]) for factors `user_factors` (users × k) and
    /// `item_factors` (items × k, row-major, `k = factors`) on `rows`, divided by the total
    /// confidence over all pairs: implicit's `calculate_loss`, with `λ = lambda(rows)`.
    pub fn training_loss(&self, rows: &Rows, user_factors: &[f32], item_factors: &[f32]) -> Result<f32> {
        let k = self.factors;
        ensure!(k > 0, param "factors", "must be positive");
        ensure!(
            user_factors.len() == rows.n_rows() * k && item_factors.len() == rows.n_cols() * k,
            shape format!("factors of {} users and {} items with {k} columns", rows.n_rows(), rows.n_cols()),
            format!("{} user and {} item values", user_factors.len(), item_factors.len())
        );
        ensure!(user_factors.iter().chain(item_factors).all(|v| v.is_finite()), "factors must be finite");
        Ok(training_loss(&self.with_lambda(self.lambda(rows)), rows, user_factors, item_factors))
    }

    /// These parameters with `regularization` replaced by the absolute `lambda`.
    fn with_lambda(&self, lambda: f32) -> AlsParams {
        let mut p = self.clone();
        p.regularization = lambda;
        p.scale_regularization = false;
        p
    }
    crate::params::setters!(alpha: f32);
    crate::params::setters!(confidence: Confidence);
    crate::params::setters!(iterations: usize);
    crate::params::setters!(solver: AlsSolver);
    crate::params::setters!(cg_steps: usize);
    crate::params::setters!(seed: u64);
    crate::params::setters!(num_threads: Option<usize>);
    crate::params::setters!(show_progress: bool);
    crate::params::setters!(calculate_training_loss: bool);
}

impl crate::params::Params for AlsParams {
    fn check(&self) -> Result<()> {
        ensure!(self.factors > 0, param "factors", "must be positive");
        ensure!(self.iterations > 0, param "iterations", "must be positive (0 would serve the random initial factors)");
        ensure!(
            self.regularization.is_finite() && self.regularization >= 0.0,
            param "regularization", "must be >= 0, got {}",
            self.regularization
        );
        ensure!(self.alpha.is_finite() && self.alpha >= 0.0, param "alpha", "must be >= 0, got {}", self.alpha);
        ensure!(
            self.alpha > 0.0 || self.confidence != Confidence::Implicit,
            param "alpha", "must be > 0 with Confidence::Implicit (c = alpha · r)"
        );
        ensure!(self.cg_steps > 0 || self.solver == AlsSolver::Cholesky, param "cg_steps", "must be positive");
        if let Some(t) = self.num_threads {
            ensure!(t > 0, param "num_threads", "must be positive");
        }
        Ok(())
    }
}

impl AlsParams {
    /// Trains on `data` (users × items, non-negative weights).
    /// The model keeps `data`'s user and item ids ([`Als::ids`]).
    pub fn fit(&self, data: &Interactions) -> Result<Als> {
        let mut model = self.fit_rows(&Rows::from_csmat(data.matrix())?)?;
        model.ids = Some(super::ModelIds::of(data));
        Ok(model)
    }

    /// Trains on interaction rows (users × items).
    pub fn fit_rows(&self, rows: &Rows) -> Result<Als> {
        self.fit_rows_observed(rows, &mut super::observer::ignore)
    }

    /// [`AlsParams::fit_rows`], calling `observer` after every iteration (with the loss when
    /// `calculate_training_loss` is on); an error from it stops training and is returned.
    pub fn fit_rows_observed(&self, rows: &Rows, observer: &mut super::Observer<'_>) -> Result<Als> {
        self.check()?;
        super::check_training(rows)?;
        let lambda = self.lambda(rows);
        let solve = self.with_lambda(lambda);
        let (n_users, n_items, k) = (rows.n_rows(), rows.n_cols(), self.factors);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut init = |n: usize| -> Vec<f32> { (0..n * k).map(|_| rng.random::<f32>() * 0.01).collect() };
        let mut user_factors = init(n_users);
        let mut item_factors = init(n_items);
        let by_item = rows.transpose();
        let pool = pool(self.num_threads)?;
        let bar = crate::progress::Bar::new(self.show_progress, self.iterations as u64, "ALS");
        let mut loss_history = Vec::new();
        let started = std::time::Instant::now();
        pool.install(|| {
            for iteration in 0..self.iterations {
                solve_all(&solve, rows, &item_factors, &mut user_factors, false);
                solve_all(&solve, &by_item, &user_factors, &mut item_factors, false);
                let mut loss = None;
                if self.calculate_training_loss {
                    let l = training_loss(&solve, rows, &user_factors, &item_factors);
                    bar.set_message(format!("ALS loss {l:.5}"));
                    loss_history.push(l);
                    loss = Some(l);
                }
                bar.inc(1);
                let elapsed = started.elapsed();
                observer(&super::IterationReport { iteration, elapsed, loss, correct: 0, skipped: 0 })?;
            }
            Ok::<(), crate::Error>(())
        })?;
        bar.finish_and_clear();
        let popularity = rows.column_counts();
        Ok(Als {
            params: self.clone(),
            ids: None,
            lambda,
            n_users,
            n_items,
            user_factors,
            item_factors,
            rows: rows.clone(),
            popularity,
            loss_history,
            item_gram: Derived::default(),
            item_norms: Derived::default(),
            user_norms: Derived::default(),
        })
    }
}

/// Implicit-feedback matrix factorisation by alternating least squares.
///
/// Minimises `Σ_{u,i} c_ui (p_ui − x_uᵀ y_i)² + λ (Σ‖x_u‖² + Σ‖y_i‖²)` over all user-item
/// pairs, with `p_ui = 1` where a positive weight was observed and confidence `c_ui` from
/// [`Confidence`]. Each half-iteration precomputes `YᵀY + λI` once, then solves every user
/// (item) independently and in parallel, so the result does not depend on the thread count.
/// Factors are `f32`, row-major and contiguous.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{Als, Filter, Recommender};
/// use mercato::persist::Persist;
/// let x = Interactions::from_triples(
///     [(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 1.0), (2, 2, 1.0), (2, 3, 1.0), (3, 2, 1.0)],
///     DuplicatePolicy::Sum,
/// ).unwrap();
/// let mut als = Als::params().factors(8).iterations(10).regularization(0.1).fit(&x).unwrap();
/// // user 3 likes item 2, whose co-consumed item is 3
/// assert_eq!(als.recommend(3, 1, &Filter::new().exclude_seen(true)).unwrap().items[0].0, 3);
/// // fold in a new user (index 4) without retraining
/// let row = mercato::recommend::Rows::from_triplets(1, 4, &[(0, 0, 1.0)]).unwrap();
/// als.partial_fit_users(&[4], &row).unwrap();
/// assert_eq!(als.n_users(), 5);
/// let back = Als::from_bytes(als.to_bytes().unwrap()).unwrap();
/// assert_eq!(back.user_factors(), als.user_factors());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Als {
    params: AlsParams,
    ids: Option<super::ModelIds>,
    lambda: f32,
    n_users: usize,
    n_items: usize,
    user_factors: Vec<f32>,
    item_factors: Vec<f32>,
    rows: Rows,
    popularity: Vec<f32>,
    loss_history: Vec<f32>,
    /// `YᵀY + λI` of the item factors, for fold-in (`recommend_row`, `user_vector`).
    item_gram: Derived<Vec<f32>>,
    /// Norms of the item factors, for `similar_items`.
    item_norms: Derived<Vec<f32>>,
    /// Norms of the user factors, for `similar_users`.
    user_norms: Derived<Vec<f32>>,
}

/// The objective ALS minimises, `Σ_{u,i} c_ui (p_ui − x_uᵀy_i)² + λ (Σ‖x_u‖² + Σ‖y_i‖²)`,
/// divided by `Σ c_ui` over all pairs (implicit's `calculate_loss`). The sum over all pairs
/// is `Σ_u x_uᵀ(YᵀY)x_u` plus a correction per observed entry, so it costs one pass over
/// the data; users are summed in fixed blocks so the value does not depend on the threads.
fn training_loss(p: &AlsParams, rows: &Rows, x: &[f32], y: &[f32]) -> f32 {
    const BLOCK: usize = 1024;
    let k = p.factors;
    let g = gram(y, k, 0.0);
    let n_users = rows.n_rows();
    let partials: Vec<(f64, f64, u64)> = (0..n_users.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let (mut loss, mut conf, mut observed) = (0f64, 0f64, 0u64);
            let mut gx = vec![0f32; k];
            for u in b * BLOCK..((b + 1) * BLOCK).min(n_users) {
                let xu = &x[u * k..(u + 1) * k];
                matvec(&g, xu, &mut gx);
                loss += dot(xu, &gx) as f64 + p.regularization as f64 * dot(xu, xu) as f64;
                let (items, vals) = rows.row(u);
                for (&i, &w) in items.iter().zip(vals) {
                    if w <= 0.0 {
                        continue;
                    }
                    let c = confidence(p, w) as f64;
                    let s = dot(xu, &y[i as usize * k..(i as usize + 1) * k]) as f64;
                    // c (1 − s)² replaces the 1 · s² counted in xᵀ(YᵀY)x
                    loss += (c - 1.0) * s * s - 2.0 * c * s + c;
                    conf += c;
                    observed += 1;
                }
            }
            (loss, conf, observed)
        })
        .collect();
    let (mut loss, mut conf, mut observed) = (0f64, 0f64, 0u64);
    for (l, c, o) in partials {
        loss += l;
        conf += c;
        observed += o;
    }
    let items_norm: f64 = y.chunks_exact(k.max(1)).map(|r| dot(r, r) as f64).sum();
    loss += p.regularization as f64 * items_norm;
    let total = conf + (n_users as f64 * (y.len() / k.max(1)) as f64 - observed as f64);
    if total > 0.0 {
        (loss / total) as f32
    } else {
        0.0
    }
}

/// `YᵀY + λI` (row-major k × k), summed in fixed blocks of rows so the floating-point result
/// does not depend on the thread count.
fn gram(y: &[f32], k: usize, reg: f32) -> Vec<f32> {
    const BLOCK: usize = 4096;
    let partials: Vec<Vec<f32>> = y
        .par_chunks(BLOCK * k)
        .map(|blk| {
            use ndarray::ArrayView2;
            let m = ArrayView2::from_shape((blk.len() / k, k), blk).expect("block shape");
            m.t().dot(&m).iter().copied().collect()
        })
        .collect();
    let mut g = vec![0f32; k * k];
    for p in partials {
        axpy(1.0, &p, &mut g);
    }
    for d in 0..k {
        g[d * k + d] += reg;
    }
    g
}

#[inline(always)]
fn confidence(p: &AlsParams, r: f32) -> f32 {
    match p.confidence {
        Confidence::Linear => 1.0 + p.alpha * r,
        Confidence::Implicit => p.alpha * r,
        Confidence::Binary => 1.0 + p.alpha,
    }
}

/// `out = G · v` for a symmetric k × k `g`.
#[inline(always)]
fn matvec(g: &[f32], v: &[f32], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(g.chunks_exact(v.len())) {
        *o = dot(row, v);
    }
}

/// Solves every row of `x` (n × k) against fixed `y`, in parallel.
fn solve_all(p: &AlsParams, cui: &Rows, y: &[f32], x: &mut [f32], exact: bool) {
    let k = p.factors;
    let g = gram(y, k, p.regularization);
    let exact = exact || p.solver == AlsSolver::Cholesky;
    x.par_chunks_mut(k).enumerate().for_each_init(
        || vec![0f32; 3 * k],
        |scratch, (u, xu)| {
            let (items, vals) = cui.row(u);
            if vals.iter().all(|&w| w <= 0.0) {
                // (YᵀY + λI) x = 0: zero is the exact (least-norm) solution; CG from the
                // random start would leave noise that makes the row look similar to others.
                xu.fill(0.0);
                return;
            }
            if exact {
                solve_exact(p, &g, y, items, vals, xu);
            } else {
                solve_cg(p, &g, y, items, vals, xu, scratch);
            }
        },
    );
}

/// Conjugate gradient on `(G + Σ (c−1) y yᵀ) x = Σ c y`, warm-started at `x`
/// (implicit's `least_squares_cg`). Compiled twice: for AVX2+FMA, chosen at run time when
/// the CPU has them, and portable (SSE2). Results are identical across thread counts on one
/// machine; they may differ in the last bits between CPUs with and without FMA.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn solve_cg(p: &AlsParams, g: &[f32], y: &[f32], items: &[u32], vals: &[f32], x: &mut [f32], scratch: &mut [f32]) {
    let k = x.len();
    let (r, rest) = scratch.split_at_mut(k);
    let (dir, ap) = rest.split_at_mut(k);
    matvec(g, x, r);
    r.iter_mut().for_each(|v| *v = -*v);
    for (j, (&i, &w)) in items.iter().zip(vals).enumerate() {
        prefetch_ahead(y, items, j, k);
        if w <= 0.0 {
            continue;
        }
        let c = confidence(p, w);
        let yi = &y[i as usize * k..(i as usize + 1) * k];
        axpy(c - (c - 1.0) * dot(yi, x), yi, r);
    }
    dir.copy_from_slice(r);
    let mut rs_old = dot(r, r);
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..p.cg_steps {
        matvec(g, dir, ap);
        for (j, (&i, &w)) in items.iter().zip(vals).enumerate() {
            prefetch_ahead(y, items, j, k);
            if w <= 0.0 {
                continue;
            }
            let c = confidence(p, w);
            let yi = &y[i as usize * k..(i as usize + 1) * k];
            axpy((c - 1.0) * dot(yi, dir), yi, ap);
        }
        let denom = dot(dir, ap);
        if denom <= 0.0 || !denom.is_finite() {
            break;
        }
        let a = rs_old / denom;
        axpy(a, dir, x);
        axpy(-a, ap, r);
        let rs_new = dot(r, r);
        if rs_new < 1e-20 {
            break;
        }
        let beta = rs_new / rs_old;
        for (d, &rv) in dir.iter_mut().zip(r.iter()) {
            *d = rv + beta * *d;
        }
        rs_old = rs_new;
    }
}

/// Entries ahead of the current one whose factor row is prefetched.
const PREFETCH_DISTANCE: usize = 8;

/// Asks the CPU to start loading the factor row of entry `j + PREFETCH_DISTANCE`: the rows
/// of a user's items (an item's users) are scattered over a factor matrix far larger than
/// the caches, and without prefetching every entry waits for its row from memory.
#[inline(always)]
fn prefetch_ahead(y: &[f32], items: &[u32], j: usize, k: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(&next) = items.get(j + PREFETCH_DISTANCE) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = next as usize * k;
        if let Some(row) = y.get(start..start + k) {
            // one prefetch per 64-byte line, plus the last element (rows need not be aligned)
            for off in (0..k).step_by(16).chain(std::iter::once(k - 1)) {
                // SAFETY: prefetching is a hint with no effect on memory; the address is
                // inside `row`.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(row.as_ptr().add(off).cast::<i8>()) };
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (y, items, j, k);
}

/// The exact solution in f64 by Cholesky; falls back to leaving `x` unchanged if the
/// system is not positive definite (only possible with `λ = 0` and a degenerate `Y`).
fn solve_exact(p: &AlsParams, g: &[f32], y: &[f32], items: &[u32], vals: &[f32], x: &mut [f32]) {
    use nalgebra::{DMatrix, DVector};
    let k = x.len();
    let mut a = DMatrix::<f64>::from_iterator(k, k, g.iter().map(|&v| v as f64));
    let mut b = DVector::<f64>::zeros(k);
    for (&i, &w) in items.iter().zip(vals) {
        if w <= 0.0 {
            continue;
        }
        let c = confidence(p, w) as f64;
        let yi = &y[i as usize * k..(i as usize + 1) * k];
        for r in 0..k {
            let yr = yi[r] as f64;
            b[r] += c * yr;
            for col in 0..k {
                a[(r, col)] += (c - 1.0) * yr * yi[col] as f64;
            }
        }
    }
    if let Some(ch) = a.cholesky() {
        let sol = ch.solve(&b);
        for (xv, s) in x.iter_mut().zip(sol.iter()) {
            *xv = *s as f32;
        }
    }
}

impl Als {
    /// Default hyper-parameters, to adjust with the builder methods and then `fit`.
    pub fn params() -> AlsParams {
        AlsParams::default()
    }

    super::ids_methods!();

    /// The hyper-parameters the model was trained with.
    pub fn hyper_params(&self) -> &AlsParams {
        &self.params
    }

    /// The penalty `λ` the model was trained with (resolved from the data when
    /// [`AlsParams::scale_regularization`] is set).
    pub fn regularization(&self) -> f32 {
        self.lambda
    }

    /// User factors, row-major `n_users × factors`.
    pub fn user_factors(&self) -> &[f32] {
        &self.user_factors
    }

    /// Item factors, row-major `n_items × factors`.
    pub fn item_factors(&self) -> &[f32] {
        &self.item_factors
    }

    /// Latent dimension.
    pub fn factors(&self) -> usize {
        self.params.factors
    }

    /// Training loss after each iteration (see [`AlsParams::calculate_training_loss`]);
    /// empty when it was not asked for.
    pub fn loss_history(&self) -> &[f32] {
        &self.loss_history
    }

    /// Solves the factors of `item_ids` from their (new or changed) interaction columns
    /// `item_users` (items × users, `item_users.n_rows() == item_ids.len()`, user indices
    /// below `n_users()`) against the fixed user factors, exactly, without retraining
    /// (implicit's `partial_fit_items`). New items are appended: ids at or past `n_items()`
    /// must be exactly `n_items(), n_items() + 1, …` (any order), anything further is an
    /// error, so the model grows by the rows supplied. The stored interactions are updated,
    /// so seen-item filtering and popularity follow.
    pub fn partial_fit_items(&mut self, item_ids: &[usize], item_users: &Rows) -> Result<()> {
        ensure!(
            item_users.n_rows() == item_ids.len(),
            "{} rows supplied for {} items",
            item_users.n_rows(),
            item_ids.len()
        );
        if item_users.n_cols() != self.n_users {
            return Err(Error::shape(format!("rows with {} user columns", self.n_users), item_users.n_cols()));
        }
        let new_n = super::check_partial_ids(item_ids, self.n_items, "item")?;
        let k = self.params.factors;
        let p = self.params.with_lambda(self.lambda);
        let g = gram(&self.user_factors, k, self.lambda);
        let pool = pool(self.params.num_threads)?;
        let solved: Vec<Vec<f32>> = pool.install(|| {
            (0..item_ids.len())
                .into_par_iter()
                .map(|j| {
                    let (users, vals) = item_users.row(j);
                    let mut y = vec![0f32; k];
                    solve_exact(&p, &g, &self.user_factors, users, vals, &mut y);
                    y
                })
                .collect()
        });
        self.item_factors.resize(new_n * k, 0.0);
        self.n_items = new_n;
        self.item_gram.reset();
        self.item_norms.reset();
        for (&i, y) in item_ids.iter().zip(solved) {
            self.item_factors[i * k..(i + 1) * k].copy_from_slice(&y);
        }
        self.rows.set_cols(item_ids, item_users, self.n_users, new_n);
        self.popularity = self.rows.column_counts();
        Ok(())
    }

    /// Solves the factors of `user_ids` from their (new or changed) interaction `rows`
    /// (`rows.n_rows() == user_ids.len()`) against the fixed item factors, exactly (Cholesky,
    /// as implicit's `recalculate_user`), without retraining. New users are appended: ids at
    /// or past `n_users()` must be exactly `n_users(), n_users() + 1, …` (any order); an id
    /// further out is an error, so memory grows with the rows supplied, never with the
    /// size of an id.
    pub fn partial_fit_users(&mut self, user_ids: &[usize], rows: &Rows) -> Result<()> {
        ensure!(rows.n_rows() == user_ids.len(), "{} rows supplied for {} users", rows.n_rows(), user_ids.len());
        if rows.n_cols() != self.n_items {
            return Err(Error::shape(format!("rows with {} item columns", self.n_items), rows.n_cols()));
        }
        let new_n = super::check_partial_ids(user_ids, self.n_users, "user")?;
        let k = self.params.factors;
        self.user_factors.resize(new_n * k, 0.0);
        self.n_users = new_n;
        self.user_norms.reset();
        let p = self.params.with_lambda(self.lambda);
        let g = self.item_gram();
        let pool = pool(self.params.num_threads)?;
        let solved: Vec<Vec<f32>> = pool.install(|| {
            (0..user_ids.len())
                .into_par_iter()
                .map(|j| {
                    let (items, vals) = rows.row(j);
                    let mut x = vec![0f32; k];
                    solve_exact(&p, g, &self.item_factors, items, vals, &mut x);
                    x
                })
                .collect()
        });
        for (&u, x) in user_ids.iter().zip(solved) {
            self.user_factors[u * k..(u + 1) * k].copy_from_slice(&x);
        }
        self.rows.set_rows(user_ids, rows);
        self.popularity = self.rows.column_counts();
        Ok(())
    }

    /// The factors ALS would give a user with interaction row (`items`, `values`), solved
    /// exactly against the item factors.
    pub fn user_vector(&self, items: &[u32], values: &[f32]) -> Vec<f32> {
        let k = self.params.factors;
        let mut x = vec![0f32; k];
        solve_exact(&self.params, self.item_gram(), &self.item_factors, items, values, &mut x);
        x
    }

    /// `YᵀY + λI`, computed once per model (it depends only on the item factors and `λ`).
    fn item_gram(&self) -> &[f32] {
        self.item_gram.get(|| gram(&self.item_factors, self.params.factors, self.lambda))
    }
}

impl Recommender for Als {
    fn n_users(&self) -> usize {
        self.n_users
    }

    fn n_items(&self) -> usize {
        self.n_items
    }

    fn rows(&self) -> &Rows {
        &self.rows
    }

    fn popularity(&self) -> &[f32] {
        &self.popularity
    }

    fn score_chunk(&self, users: &[usize], _rows: &[(&[u32], &[f32])], out: &mut [f32]) {
        let k = self.params.factors;
        if let [u] = users {
            if score_one_user(&self.user_factors[u * k..(u + 1) * k], &self.item_factors, k, out) {
                return;
            }
        }
        score_factors(&self.user_factors, &self.item_factors, k, users, out);
    }

    fn score_row(&self, items: &[u32], values: &[f32], out: &mut [f32]) -> Result<()> {
        let x = self.user_vector(items, values);
        let k = self.params.factors;
        if !score_one_user(&x, &self.item_factors, k, out) {
            score_factors(&x, &self.item_factors, k, &[0], out);
        }
        Ok(())
    }

    fn similar_items(&self, item: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        super::check_n(n)?;
        check_item(item, self.n_items)?;
        let k = self.params.factors;
        let norms = self.item_norms.get(|| row_norms(&self.item_factors, k));
        Ok(cosine_top_n(&self.item_factors, k, item, n, Some(norms)))
    }

    fn similar_users(&self, user: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        super::check_n(n)?;
        check_user(user, self.n_users)?;
        let k = self.params.factors;
        let norms = self.user_norms.get(|| row_norms(&self.user_factors, k));
        Ok(cosine_top_n(&self.user_factors, k, user, n, Some(norms)))
    }
}

#[derive(Serialize, Deserialize)]
struct AlsMeta {
    params: AlsParams,
    n_users: usize,
    n_items: usize,
    #[serde(default)]
    ids: Option<super::ModelIds>,
    #[serde(default)]
    loss_history: Vec<f32>,
    /// Absent in files written before the penalty could scale: `regularization` then is `λ`.
    #[serde(default)]
    lambda: Option<f32>,
}

impl Persist for Als {
    const KIND: &'static str = "recommend.als";

    fn write(&self) -> Result<ModelWriter> {
        let k = self.params.factors;
        let meta = AlsMeta {
            params: self.params.clone(),
            n_users: self.n_users,
            n_items: self.n_items,
            loss_history: self.loss_history.clone(),
            lambda: Some(self.lambda),
            ids: self.ids.clone(),
        };
        let w = ModelWriter::new(Self::KIND, &meta)?.f32("user_factors", &[self.n_users, k], &self.user_factors).f32(
            "item_factors",
            &[self.n_items, k],
            &self.item_factors,
        );
        Ok(self.rows.write(w, "rows"))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: AlsMeta = r.meta()?;
        meta.params.check().map_err(|e| Error::format(e.to_string()))?;
        let k = meta.params.factors;
        let uf = r.array2_f32("user_factors", [Some(meta.n_users), Some(k)])?;
        let itf = r.array2_f32("item_factors", [Some(meta.n_items), Some(k)])?;
        let rows = Rows::read(r, "rows", meta.n_users, meta.n_items)?;
        let popularity = rows.column_counts();
        let lambda = meta.lambda.unwrap_or(meta.params.regularization);
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::format(format!("regularization {lambda} is not a valid penalty")));
        }
        super::ModelIds::check(meta.ids.as_ref(), meta.n_users, meta.n_items)
            .map_err(|e| Error::format(e.to_string()))?;
        Ok(Als {
            params: meta.params,
            ids: meta.ids,
            lambda,
            n_users: meta.n_users,
            n_items: meta.n_items,
            user_factors: uf.into_raw_vec_and_offset().0,
            item_factors: itf.into_raw_vec_and_offset().0,
            rows,
            popularity,
            loss_history: meta.loss_history,
            item_gram: Derived::default(),
            item_norms: Derived::default(),
            user_norms: Derived::default(),
        })
    }
}
