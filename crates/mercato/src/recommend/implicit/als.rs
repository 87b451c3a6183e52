//! Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008).

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{axpy, check_item, check_user, cosine_top_n, dot, pool, score_factors, Recommender, Rows};
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
    /// `c = 1 + alpha · r` (Hu, Koren & Volinsky). implicit 0.7 uses `c = alpha · r`,
    /// which differs only for small weights.
    Linear,
    /// `c = 1 + alpha` whatever the weight (LensKit's `ImplicitMF(use_ratings=False)`):
    /// robust to play counts spanning orders of magnitude.
    #[default]
    Binary,
}

/// Hyper-parameters of [`Als`]. Defaults (`64` factors, binary confidence with `alpha 10`,
/// `regularization 30`, `15` iterations, CG with 3 steps) were chosen by a grid search
/// (alpha 2–40 × reg 0.1–100, linear and log confidence) on a validation split carved out
/// of the Last.fm-2k *training* data (`python3 benches/compare/implicit.py --tune`); they work
/// on raw counts without weighting. The penalty is not scaled by a user's number of
/// interactions, so datasets with much longer rows may want a larger one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlsParams {
    /// Latent dimension.
    pub factors: usize,
    /// L2 penalty `λ` on every factor vector.
    pub regularization: f32,
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
    #[serde(skip)]
    pub num_threads: Option<usize>,
    /// Show a progress bar on a terminal.
    #[serde(skip)]
    pub show_progress: bool,
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 64,
            regularization: 30.0,
            alpha: 10.0,
            confidence: Confidence::Binary,
            iterations: 15,
            solver: AlsSolver::ConjugateGradient,
            cg_steps: 3,
            seed: 42,
            num_threads: None,
            show_progress: false,
        }
    }
}

macro_rules! setter {
    ($name:ident, $t:ty) => {
        #[doc = concat!("Sets `", stringify!($name), "`.")]
        pub fn $name(mut self, v: $t) -> Self {
            self.$name = v;
            self
        }
    };
}

impl AlsParams {
    setter!(factors, usize);
    setter!(regularization, f32);
    setter!(alpha, f32);
    setter!(confidence, Confidence);
    setter!(iterations, usize);
    setter!(solver, AlsSolver);
    setter!(cg_steps, usize);
    setter!(seed, u64);
    setter!(num_threads, Option<usize>);
    setter!(show_progress, bool);

    fn check(&self) -> Result<()> {
        ensure!(self.factors > 0, "factors must be positive");
        ensure!(
            self.regularization.is_finite() && self.regularization >= 0.0,
            "regularization must be >= 0, got {}",
            self.regularization
        );
        ensure!(self.alpha.is_finite() && self.alpha >= 0.0, "alpha must be >= 0, got {}", self.alpha);
        ensure!(self.cg_steps > 0 || self.solver == AlsSolver::Cholesky, "cg_steps must be positive");
        if let Some(t) = self.num_threads {
            ensure!(t > 0, "num_threads must be positive");
        }
        Ok(())
    }

    /// Trains on `data` (users × items, non-negative weights).
    pub fn fit(&self, data: &Interactions) -> Result<Als> {
        self.fit_rows(&Rows::from_csmat(data.matrix())?)
    }

    /// Trains on interaction rows (users × items).
    pub fn fit_rows(&self, rows: &Rows) -> Result<Als> {
        self.check()?;
        let (n_users, n_items, k) = (rows.n_rows(), rows.n_cols(), self.factors);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut init = |n: usize| -> Vec<f32> { (0..n * k).map(|_| rng.random::<f32>() * 0.01).collect() };
        let mut user_factors = init(n_users);
        let mut item_factors = init(n_items);
        let by_item = rows.transpose();
        let pool = pool(self.num_threads)?;
        let bar = super::progress(self.show_progress, self.iterations as u64, "ALS");
        pool.install(|| {
            for _ in 0..self.iterations {
                solve_all(self, rows, &item_factors, &mut user_factors, false);
                solve_all(self, &by_item, &user_factors, &mut item_factors, false);
                bar.inc(1);
            }
        });
        bar.finish_and_clear();
        let popularity = rows.column_counts();
        Ok(Als { params: self.clone(), n_users, n_items, user_factors, item_factors, rows: rows.clone(), popularity })
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
    n_users: usize,
    n_items: usize,
    user_factors: Vec<f32>,
    item_factors: Vec<f32>,
    rows: Rows,
    popularity: Vec<f32>,
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
            if exact {
                solve_exact(p, &g, y, items, vals, xu);
            } else {
                solve_cg_dispatch(p, &g, y, items, vals, xu, scratch);
            }
        },
    );
}

/// Runs [`solve_cg`] compiled for AVX2+FMA when the CPU has them (detected at run time;
/// the portable build targets SSE2). Results are identical across thread counts on one
/// machine; they may differ in the last bits between CPUs with and without FMA.
#[allow(clippy::too_many_arguments)]
fn solve_cg_dispatch(p: &AlsParams, g: &[f32], y: &[f32], items: &[u32], vals: &[f32], x: &mut [f32], s: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the features the function is compiled for were just detected.
            unsafe { solve_cg_avx2(p, g, y, items, vals, x, s) };
            return;
        }
    }
    solve_cg(p, g, y, items, vals, x, s);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn solve_cg_avx2(
    p: &AlsParams,
    g: &[f32],
    y: &[f32],
    items: &[u32],
    vals: &[f32],
    x: &mut [f32],
    s: &mut [f32],
) {
    solve_cg(p, g, y, items, vals, x, s);
}

/// Conjugate gradient on `(G + Σ (c−1) y yᵀ) x = Σ c y`, warm-started at `x`
/// (implicit's `least_squares_cg`).
#[inline(always)]
fn solve_cg(p: &AlsParams, g: &[f32], y: &[f32], items: &[u32], vals: &[f32], x: &mut [f32], scratch: &mut [f32]) {
    let k = x.len();
    let (r, rest) = scratch.split_at_mut(k);
    let (dir, ap) = rest.split_at_mut(k);
    matvec(g, x, r);
    r.iter_mut().for_each(|v| *v = -*v);
    for (&i, &w) in items.iter().zip(vals) {
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
        for (&i, &w) in items.iter().zip(vals) {
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

    /// The hyper-parameters the model was trained with.
    pub fn hyper_params(&self) -> &AlsParams {
        &self.params
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

    /// Solves the factors of `user_ids` from their (new or changed) interaction `rows`
    /// (`rows.n_rows() == user_ids.len()`) against the fixed item factors, exactly (Cholesky,
    /// as implicit's `recalculate_user`), without retraining. Ids at or past `n_users()` add
    /// users (intermediate ids get empty rows and popularity recommendations).
    pub fn partial_fit_users(&mut self, user_ids: &[usize], rows: &Rows) -> Result<()> {
        ensure!(rows.n_rows() == user_ids.len(), "{} rows supplied for {} users", rows.n_rows(), user_ids.len());
        ensure!(rows.n_cols() <= self.n_items, "rows have {} items, the model {}", rows.n_cols(), self.n_items);
        let mut seen = std::collections::HashSet::new();
        for &u in user_ids {
            ensure!(seen.insert(u), "user {u} appears twice in user_ids");
            ensure!(u < u32::MAX as usize, "user id {u} is too large");
        }
        let k = self.params.factors;
        let new_n = self.n_users.max(user_ids.iter().map(|&u| u + 1).max().unwrap_or(0));
        self.user_factors.resize(new_n * k, 0.0);
        self.n_users = new_n;
        let g = gram(&self.item_factors, k, self.params.regularization);
        let pool = pool(self.params.num_threads)?;
        let solved: Vec<Vec<f32>> = pool.install(|| {
            (0..user_ids.len())
                .into_par_iter()
                .map(|j| {
                    let (items, vals) = rows.row(j);
                    let mut x = vec![0f32; k];
                    solve_exact(&self.params, &g, &self.item_factors, items, vals, &mut x);
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
        let g = gram(&self.item_factors, k, self.params.regularization);
        let mut x = vec![0f32; k];
        solve_exact(&self.params, &g, &self.item_factors, items, values, &mut x);
        x
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
        score_factors(&self.user_factors, &self.item_factors, self.params.factors, users, out);
    }

    fn score_row(&self, items: &[u32], values: &[f32], out: &mut [f32]) -> Result<()> {
        let x = self.user_vector(items, values);
        score_factors(&x, &self.item_factors, self.params.factors, &[0], out);
        Ok(())
    }

    fn similar_items(&self, item: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        super::check_n(n)?;
        check_item(item, self.n_items)?;
        Ok(cosine_top_n(&self.item_factors, self.params.factors, item, n))
    }

    fn similar_users(&self, user: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        super::check_n(n)?;
        check_user(user, self.n_users)?;
        Ok(cosine_top_n(&self.user_factors, self.params.factors, user, n))
    }
}

#[derive(Serialize, Deserialize)]
struct AlsMeta {
    params: AlsParams,
    n_users: usize,
    n_items: usize,
}

impl Persist for Als {
    const KIND: &'static str = "recommend.als";

    fn write(&self) -> Result<ModelWriter> {
        let k = self.params.factors;
        let meta = AlsMeta { params: self.params.clone(), n_users: self.n_users, n_items: self.n_items };
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
        Ok(Als {
            params: meta.params,
            n_users: meta.n_users,
            n_items: meta.n_items,
            user_factors: uf.into_raw_vec_and_offset().0,
            item_factors: itf.into_raw_vec_and_offset().0,
            rows,
            popularity,
        })
    }
}
