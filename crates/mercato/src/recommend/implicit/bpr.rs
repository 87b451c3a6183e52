//! Bayesian personalised ranking (Rendle et al. 2009) by stratified parallel SGD.

use crate::params::Params;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_item, check_user, cosine_top_n, dot, pool, score_factors, score_one_user, Recommender, Rows};
use crate::data::Interactions;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{ensure, Error, Result};

/// How BPR draws the negative item of a triple.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NegativeSampling {
    /// Every item equally likely (Rendle et al.).
    Uniform,
    /// Items in proportion to their number of interactions, which is what implicit 0.7
    /// does (it draws the item of a random training entry); popular items are pushed down
    /// harder, which usually ranks better on popularity-skewed data. The default.
    #[default]
    Popularity,
}

/// Hyper-parameters of [`Bpr`] (defaults as implicit's `BayesianPersonalizedRanking`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BprParams {
    /// Latent dimension (an item bias is learnt on top).
    pub factors: usize,
    /// SGD step size.
    pub learning_rate: f32,
    /// L2 penalty on the factors touched by each update.
    pub regularization: f32,
    /// Epochs; each draws as many (user, positive, negative) triples as there are entries.
    pub iterations: usize,
    /// Redraw-free rejection of negatives the user has interacted with (the triple is skipped).
    pub verify_negative_samples: bool,
    /// Negative sampling distribution.
    pub negative_sampling: NegativeSampling,
    /// Number of user blocks and item blocks `B` of the stratified schedule (see [`Bpr`]):
    /// at most `B` threads work at once. Results depend on it, not on the thread count.
    /// Fewer blocks rank slightly better (Last.fm-2k P@10: 1 → 0.135, 4 → 0.133,
    /// 16 → 0.130, 64 → 0.116), so the default 4 suits machines with up to 4 cores.
    pub blocks: usize,
    /// Seed of the initial factors and of every sampling stream.
    pub seed: u64,
    /// Worker threads (all cores when `None`); results do not depend on it.
    #[serde(default)]
    pub num_threads: Option<usize>,
    /// Show a progress bar on a terminal.
    #[serde(default)]
    pub show_progress: bool,
    /// Record the mean loss `−ln σ(x_u·(y_i − y_j))` of each epoch's triples (taken before
    /// each triple's update) into [`Bpr::loss_history`]; costs a logarithm per triple.
    #[serde(default)]
    pub calculate_training_loss: bool,
}

impl Default for BprParams {
    fn default() -> Self {
        BprParams {
            factors: 100,
            learning_rate: 0.01,
            regularization: 0.01,
            iterations: 100,
            verify_negative_samples: true,
            negative_sampling: NegativeSampling::Popularity,
            blocks: 4,
            seed: 42,
            num_threads: None,
            show_progress: false,
            calculate_training_loss: false,
        }
    }
}

impl BprParams {
    crate::params::setters!(factors: usize);
    crate::params::setters!(learning_rate: f32);
    crate::params::setters!(regularization: f32);
    crate::params::setters!(iterations: usize);
    crate::params::setters!(verify_negative_samples: bool);
    crate::params::setters!(negative_sampling: NegativeSampling);
    crate::params::setters!(blocks: usize);
    crate::params::setters!(seed: u64);
    crate::params::setters!(num_threads: Option<usize>);
    crate::params::setters!(show_progress: bool);
    crate::params::setters!(calculate_training_loss: bool);
}

impl crate::params::Params for BprParams {
    fn check(&self) -> Result<()> {
        ensure!(self.factors > 0, param "factors", "must be positive");
        ensure!(self.iterations > 0, param "iterations", "must be positive (0 would serve the random initial factors)");
        ensure!(
            self.learning_rate.is_finite() && self.learning_rate > 0.0,
            param "learning_rate", "must be positive, got {}",
            self.learning_rate
        );
        ensure!(
            self.regularization.is_finite() && self.regularization >= 0.0,
            param "regularization", "must be >= 0, got {}",
            self.regularization
        );
        ensure!(self.blocks > 0, param "blocks", "must be positive");
        Ok(())
    }
}

impl BprParams {
    /// Trains on `data` (users × items; any positive weight counts as a positive).
    /// The model keeps `data`'s user and item ids ([`Bpr::ids`]).
    pub fn fit(&self, data: &Interactions) -> Result<Bpr> {
        let mut model = self.fit_rows(&Rows::from_csmat(data.matrix())?)?;
        model.ids = Some(super::ModelIds::of(data));
        Ok(model)
    }

    /// Trains on interaction rows (users × items).
    ///
    /// Training that diverges (a learning rate so large that a factor overflows to `±inf`
    /// or NaN) stops at the end of the first epoch where it happens and returns
    /// [`Error::InvalidInput`] naming `learning_rate`: a model of NaN factors would rank
    /// nothing, and the last finite state is not a trained model either.
    pub fn fit_rows(&self, rows: &Rows) -> Result<Bpr> {
        self.fit_rows_observed(rows, &mut super::observer::ignore)
    }

    /// [`BprParams::fit_rows`], calling `observer` after every epoch with the counts of
    /// correctly ranked and skipped triples (implicit's BPR callback); an error from it
    /// stops training and is returned.
    pub fn fit_rows_observed(&self, rows: &Rows, observer: &mut super::Observer<'_>) -> Result<Bpr> {
        self.check()?;
        super::check_training(rows)?;
        let (n_users, n_items, k) = (rows.n_rows(), rows.n_cols(), self.factors);
        let d = k + 1;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut user_factors: Vec<f32> = (0..n_users * d).map(|_| (rng.random::<f32>() - 0.5) / k as f32).collect();
        let mut item_factors: Vec<f32> = (0..n_items * d).map(|_| (rng.random::<f32>() - 0.5) / k as f32).collect();
        // Users and items without interactions get zero factors (as implicit): an item never
        // seen in training scores 0 instead of a random value.
        let counts = rows.column_counts();
        for u in 0..n_users {
            let f = &mut user_factors[u * d..(u + 1) * d];
            if rows.row(u).0.is_empty() {
                f.fill(0.0);
            }
            f[k] = 1.0;
        }
        for (i, &c) in counts.iter().enumerate() {
            let f = &mut item_factors[i * d..(i + 1) * d];
            if c == 0.0 {
                f.fill(0.0);
            }
            f[k] = 0.0;
        }
        let nb = self.blocks.min(n_users.max(1)).min(n_items.max(1));
        // Users go to block u % B; items to blocks by a seeded shuffle (popular items are
        // often numbered first, and the strata should carry similar work).
        let mut item_order: Vec<usize> = (0..n_items).collect();
        {
            use rand::seq::SliceRandom;
            item_order.shuffle(&mut rng);
        }
        let mut item_block = vec![0usize; n_items];
        let mut item_local = vec![0u32; n_items];
        let mut block_items: Vec<Vec<u32>> = vec![Vec::new(); nb];
        for (rank, &i) in item_order.iter().enumerate() {
            let b = rank % nb;
            item_block[i] = b;
            item_local[i] = block_items[b].len() as u32;
            block_items[b].push(i as u32);
        }
        // strata[ub][ib]: (local user, local item, global user) of every positive
        let mut strata: Vec<Vec<Vec<(u32, u32, u32)>>> = vec![vec![Vec::new(); nb]; nb];
        for u in 0..n_users {
            let (items, vals) = rows.row(u);
            for (&i, &w) in items.iter().zip(vals) {
                if w > 0.0 {
                    let ib = item_block[i as usize];
                    strata[u % nb][ib].push(((u / nb) as u32, item_local[i as usize], u as u32));
                }
            }
        }
        // Popularity sampling draws the item of a random entry of the item block.
        let mut block_entries: Vec<Vec<u32>> = vec![Vec::new(); nb];
        if self.negative_sampling == NegativeSampling::Popularity {
            for row in &strata {
                for (ib, st) in row.iter().enumerate() {
                    block_entries[ib].extend(st.iter().map(|e| e.1));
                }
            }
        }
        // Block-local factor storage so each parallel task owns disjoint slices.
        let mut ublocks: Vec<Vec<f32>> = (0..nb)
            .map(|b| (b..n_users).step_by(nb).flat_map(|u| user_factors[u * d..(u + 1) * d].to_vec()).collect())
            .collect();
        let mut iblocks: Vec<Vec<f32>> = block_items
            .iter()
            .map(|its| its.iter().flat_map(|&i| item_factors[i as usize * d..(i as usize + 1) * d].to_vec()).collect())
            .collect();
        let pool = pool(self.num_threads)?;
        let bar = crate::progress::Bar::new(self.show_progress, self.iterations as u64, "BPR");
        let (lr, reg) = (self.learning_rate, self.regularization);
        let mut loss_history = Vec::new();
        let track_loss = self.calculate_training_loss;
        let started = std::time::Instant::now();
        let diverged = pool.install(|| {
            for epoch in 0..self.iterations {
                let (mut epoch_loss, mut epoch_used) = (0f64, 0u64);
                let (mut epoch_correct, mut epoch_skipped) = (0u64, 0u64);
                for shift in 0..nb {
                    let mut item_refs: Vec<Option<&mut Vec<f32>>> = iblocks.iter_mut().map(Some).collect();
                    let pairs: Vec<(usize, &mut Vec<f32>)> = (0..nb)
                        .map(|ub| {
                            let ib = (ub + shift) % nb;
                            (ib, item_refs[ib].take().expect("each item block is paired once"))
                        })
                        .collect();
                    let mut sums = vec![(0f64, 0u64, 0u64, 0u64); nb];
                    ublocks.par_iter_mut().zip(pairs).zip(sums.par_iter_mut()).enumerate().for_each(
                        |(ub, ((uf, (ib, itf)), acc))| {
                            let stratum = &strata[ub][ib];
                            if stratum.is_empty() {
                                return;
                            }
                            let stream = (epoch as u64) << 40 ^ (ub as u64) << 20 ^ ib as u64;
                            let mut rng = crate::rng::stream(self.seed, stream, 0);
                            let n_block_items = block_items[ib].len();
                            let entries = &block_entries[ib];
                            let (mut loss, mut used, mut correct, mut skipped) = (0f64, 0u64, 0u64, 0u64);
                            for _ in 0..stratum.len() {
                                let (ul, il, ug) = stratum[rng.random_range(0..stratum.len())];
                                let jl = match self.negative_sampling {
                                    NegativeSampling::Uniform => rng.random_range(0..n_block_items),
                                    NegativeSampling::Popularity => {
                                        entries[rng.random_range(0..entries.len())] as usize
                                    }
                                };
                                // a draw of the positive itself, or (verified) of another liked
                                // item, skips the triple as implicit does
                                if jl as u32 == il
                                    || (self.verify_negative_samples
                                        && rows.row(ug as usize).0.binary_search(&block_items[ib][jl]).is_ok())
                                {
                                    skipped += 1;
                                    continue;
                                }
                                let (il, ul) = (il as usize, ul as usize);
                                let x = &mut uf[ul * d..(ul + 1) * d];
                                let score = sgd_step(x, itf, il, jl, d, lr, reg, true);
                                correct += u64::from(score > 0.0);
                                if track_loss {
                                    loss += softplus(-score) as f64;
                                    used += 1;
                                }
                            }
                            *acc = (loss, used, correct, skipped);
                        },
                    );
                    // summed in block order, so the history does not depend on the threads
                    for (l, n, c, k) in sums {
                        epoch_loss += l;
                        epoch_used += n;
                        epoch_correct += c;
                        epoch_skipped += k;
                    }
                }
                let mut loss = None;
                if track_loss {
                    let l = if epoch_used > 0 { (epoch_loss / epoch_used as f64) as f32 } else { 0.0 };
                    bar.set_message(format!("BPR loss {l:.4}"));
                    loss_history.push(l);
                    loss = Some(l);
                }
                bar.inc(1);
                // one pass over the factors per epoch (the epoch itself costs nnz · d)
                let finite = |b: &Vec<f32>| b.iter().all(|v| v.is_finite());
                if !(ublocks.par_iter().all(finite) && iblocks.par_iter().all(finite)) {
                    return Ok(Some(epoch + 1));
                }
                observer(&super::IterationReport {
                    iteration: epoch,
                    elapsed: started.elapsed(),
                    loss,
                    correct: epoch_correct,
                    skipped: epoch_skipped,
                })?;
            }
            Ok::<_, crate::Error>(None)
        })?;
        bar.finish_and_clear();
        if let Some(epoch) = diverged {
            return Err(Error::invalid(format!(
                "BPR training diverged: factors became infinite or NaN in epoch {epoch} of {}; lower \
                 learning_rate (got {}) or raise regularization (got {})",
                self.iterations, self.learning_rate, self.regularization
            )));
        }
        for (b, blk) in ublocks.iter().enumerate() {
            for (l, u) in (b..n_users).step_by(nb).enumerate() {
                user_factors[u * d..(u + 1) * d].copy_from_slice(&blk[l * d..(l + 1) * d]);
            }
        }
        for (b, blk) in iblocks.iter().enumerate() {
            for (l, &i) in block_items[b].iter().enumerate() {
                item_factors[i as usize * d..(i as usize + 1) * d].copy_from_slice(&blk[l * d..(l + 1) * d]);
            }
        }
        let popularity = rows.column_counts();
        Ok(Bpr {
            params: self.clone(),
            ids: None,
            n_users,
            n_items,
            user_factors,
            item_factors,
            rows: rows.clone(),
            popularity,
            loss_history,
        })
    }
}

/// One BPR update on user vector `x` (last component the constant 1) and items `i`
/// (positive) and `j` (negative) of `items` (rows of width `d`, last component the bias):
/// with `z = σ(−x·(y_i − y_j))`, `x += lr (z (y_i − y_j) − reg x)`,
/// `y_i += lr (z x − reg y_i)`, `y_j += lr (−z x − reg y_j)`, all from the old values.
/// Returns the score `x·(y_i − y_j)` before the step.
#[allow(clippy::too_many_arguments)]
#[inline]
fn sgd_step(
    x: &mut [f32],
    items: &mut [f32],
    i: usize,
    j: usize,
    d: usize,
    lr: f32,
    reg: f32,
    update_items: bool,
) -> f32 {
    let k = d - 1;
    let (yi, yj) = if i < j {
        let (a, b) = items.split_at_mut(j * d);
        (&mut a[i * d..(i + 1) * d], &mut b[..d])
    } else {
        let (a, b) = items.split_at_mut(i * d);
        (&mut b[..d], &mut a[j * d..(j + 1) * d])
    };
    let score = dot(x, yi) - dot(x, yj);
    let z = 1.0 / (1.0 + score.exp());
    if update_items {
        for ((xf, a), b) in x[..k].iter_mut().zip(yi[..k].iter_mut()).zip(yj[..k].iter_mut()) {
            let (xu, av, bv) = (*xf, *a, *b);
            *xf += lr * (z * (av - bv) - reg * xu);
            *a += lr * (z * xu - reg * av);
            *b += lr * (-z * xu - reg * bv);
        }
    } else {
        for ((xf, a), b) in x[..k].iter_mut().zip(yi[..k].iter()).zip(yj[..k].iter()) {
            *xf += lr * (z * (a - b) - reg * *xf);
        }
    }
    if update_items {
        yi[k] += lr * (z - reg * yi[k]);
        yj[k] += lr * (-z - reg * yj[k]);
    }
    score
}

/// `ln(1 + eˣ)` without overflow; a triple's BPR loss `−ln σ(s)` is `softplus(−s)`.
#[inline]
fn softplus(x: f32) -> f32 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// Matrix factorisation trained by Bayesian personalised ranking: for sampled triples
/// (user, positive item, uniformly drawn negative item) SGD raises `x_u·y_i − x_u·y_j`.
///
/// **Parallel schedule (deterministic).** Users are split into `B` blocks (`u mod B`) and
/// items into `B` blocks (a seeded shuffle). An epoch is `B` rounds; in round `s`, user
/// block `b` is paired with item block `(b + s) mod B` and the `B` pairs run in parallel:
/// they touch disjoint user and item vectors, so no update is lost or raced (DSGD, Gemulla et
/// al. 2011). Each stratum draws as many samples as it holds positives, its positives with
/// replacement and its negatives *from its item block* (uniformly, or by popularity, see
/// [`NegativeSampling`]); across the epoch every positive's stratum is visited once and the
/// negatives follow the chosen distribution over all items.
/// Each stratum has its own random stream derived from (seed, epoch, user block, item block),
/// so the model is identical for any thread count (implicit's Hogwild updates are not).
///
/// Serving uses `x_u · y_i` including the item bias.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{Bpr, Filter, Recommender};
/// let x = Interactions::from_triples(
///     (0..40).flat_map(|u| [(u, u % 4, 1.0), (u, 4 + u % 4, 1.0)]),
///     DuplicatePolicy::Sum,
/// ).unwrap();
/// let bpr = Bpr::params().factors(8).iterations(50).learning_rate(0.05).blocks(4).fit(&x).unwrap();
/// let recs = bpr.recommend(0, 3, &Filter::new().exclude_seen(true)).unwrap();
/// assert_eq!(recs.items.len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Bpr {
    params: BprParams,
    ids: Option<super::ModelIds>,
    n_users: usize,
    n_items: usize,
    user_factors: Vec<f32>,
    item_factors: Vec<f32>,
    rows: Rows,
    popularity: Vec<f32>,
    loss_history: Vec<f32>,
}

impl Bpr {
    /// Default hyper-parameters, to adjust with the builder methods and then `fit`.
    pub fn params() -> BprParams {
        BprParams::default()
    }

    super::ids_methods!();

    /// The hyper-parameters the model was trained with.
    pub fn hyper_params(&self) -> &BprParams {
        &self.params
    }

    /// User factors, row-major `n_users × (factors + 1)`, last column the constant 1.
    pub fn user_factors(&self) -> &[f32] {
        &self.user_factors
    }

    /// Item factors, row-major `n_items × (factors + 1)`, last column the item bias.
    pub fn item_factors(&self) -> &[f32] {
        &self.item_factors
    }

    /// Mean BPR loss `−ln σ(x_u·(y_i − y_j))` of the triples sampled in each epoch, taken
    /// before each triple's update (see [`BprParams::calculate_training_loss`]; empty when
    /// it was not asked for).
    pub fn loss_history(&self) -> &[f32] {
        &self.loss_history
    }

    /// Row width of the factor arrays (`factors + 1`).
    pub fn width(&self) -> usize {
        self.params.factors + 1
    }

    /// The vector BPR learns for a user with interaction row `items` (item factors fixed):
    /// `iterations` epochs of `len(items)` SGD steps on a fresh vector, seeded by `seed`, so
    /// the same row always gives the same vector. This is BPR's fold-in.
    pub fn user_vector(&self, items: &[u32]) -> Vec<f32> {
        let d = self.width();
        let mut x = vec![0f32; d];
        x[d - 1] = 1.0;
        let positives: Vec<u32> = items.to_vec();
        if positives.is_empty() || self.n_items < 2 {
            return x;
        }
        let mut scratch = self.item_factors.clone();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.params.seed ^ 0xB9B_F01D);
        for _ in 0..self.params.iterations {
            for _ in 0..positives.len() {
                let i = positives[rng.random_range(0..positives.len())] as usize;
                let j = rng.random_range(0..self.n_items);
                if i == j || positives.binary_search(&(j as u32)).is_ok() {
                    continue;
                }
                sgd_step(&mut x, &mut scratch, i, j, d, self.params.learning_rate, self.params.regularization, false);
            }
        }
        x
    }
}

impl Recommender for Bpr {
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
        let w = self.width();
        if let [u] = users {
            if score_one_user(&self.user_factors[u * w..(u + 1) * w], &self.item_factors, w, out) {
                return;
            }
        }
        score_factors(&self.user_factors, &self.item_factors, w, users, out);
    }

    fn score_row(&self, items: &[u32], _values: &[f32], out: &mut [f32]) -> Result<()> {
        let x = self.user_vector(items);
        if !score_one_user(&x, &self.item_factors, self.width(), out) {
            score_factors(&x, &self.item_factors, self.width(), &[0], out);
        }
        Ok(())
    }

    fn similar_items(&self, item: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        super::check_n(n)?;
        check_item(item, self.n_items)?;
        Ok(cosine_top_n(&self.item_factors, self.width(), item, n, None))
    }

    fn similar_users(&self, user: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        super::check_n(n)?;
        check_user(user, self.n_users)?;
        Ok(cosine_top_n(&self.user_factors, self.width(), user, n, None))
    }
}

#[derive(Serialize, Deserialize)]
struct BprMeta {
    params: BprParams,
    n_users: usize,
    n_items: usize,
    #[serde(default)]
    ids: Option<super::ModelIds>,
    #[serde(default)]
    loss_history: Vec<f32>,
}

impl Persist for Bpr {
    const KIND: &'static str = "recommend.bpr";

    fn write(&self) -> Result<ModelWriter> {
        let d = self.width();
        let meta = BprMeta {
            params: self.params.clone(),
            n_users: self.n_users,
            n_items: self.n_items,
            loss_history: self.loss_history.clone(),
            ids: self.ids.clone(),
        };
        let w = ModelWriter::new(Self::KIND, &meta)?.f32("user_factors", &[self.n_users, d], &self.user_factors).f32(
            "item_factors",
            &[self.n_items, d],
            &self.item_factors,
        );
        Ok(self.rows.write(w, "rows"))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: BprMeta = r.meta()?;
        meta.params.check().map_err(|e| Error::format(e.to_string()))?;
        let d = meta.params.factors + 1;
        let uf = r.array2_f32("user_factors", [Some(meta.n_users), Some(d)])?;
        let itf = r.array2_f32("item_factors", [Some(meta.n_items), Some(d)])?;
        let rows = Rows::read(r, "rows", meta.n_users, meta.n_items)?;
        let popularity = rows.column_counts();
        super::ModelIds::check(meta.ids.as_ref(), meta.n_users, meta.n_items)
            .map_err(|e| Error::format(e.to_string()))?;
        Ok(Bpr {
            params: meta.params,
            ids: meta.ids,
            n_users: meta.n_users,
            n_items: meta.n_items,
            user_factors: uf.into_raw_vec_and_offset().0,
            item_factors: itf.into_raw_vec_and_offset().0,
            rows,
            popularity,
            loss_history: meta.loss_history,
        })
    }
}
