//! SVD++ (Koren 2008): biased MF plus the implicit feedback of which items a user rated.

use crate::params::Params;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::baseline::known;
use super::core::{
    check_param, check_rank, pool, read_mat, read_vec, stream, unknown_status, Prediction, RatingScale, RatingSet,
};
use super::funk::{init_rows, pad, sgd_params, unpad, TrainingHistory};
use super::simd::{dot, stride_for, LANES};
use super::RatingPredictor;
use crate::data::Interactions;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

/// Hyper-parameters of [`SVDpp`].
///
/// Defaults (`factors = 50`, `epochs = 30`, `lr = 0.007` decaying by `0.95`, `reg = 0.08`,
/// `reg_bias = 0.02`, `reg_implicit = 0.1`, `init_std = 0.05`) were picked on an inner
/// 80/20 split of MovieLens-100k `u1.base`, never on the test folds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SVDppParams {
    /// Number of latent factors.
    pub factors: usize,
    /// Passes over the training ratings.
    pub epochs: usize,
    /// Learning rate of the first epoch.
    pub lr: f32,
    /// Multiplicative learning-rate decay per epoch.
    pub lr_decay: f32,
    /// L2 regularisation of `p_u` and `q_i`.
    pub reg: f32,
    /// L2 regularisation of the biases.
    pub reg_bias: f32,
    /// L2 regularisation of the implicit factors `y_j`.
    pub reg_implicit: f32,
    /// Standard deviation of the normal initialisation.
    pub init_std: f32,
    /// Rating scale predictions are clipped to.
    pub scale: RatingScale,
    /// Seed of every random choice.
    pub seed: u64,
    /// Threads for the parts that run in parallel (set-up, prediction); the SGD itself is
    /// sequential, see [`SVDpp`]. Does not change the result.
    pub num_threads: Option<usize>,
}

impl Default for SVDppParams {
    fn default() -> Self {
        SVDppParams {
            factors: 50,
            epochs: 30,
            lr: 0.007,
            lr_decay: 0.95,
            reg: 0.08,
            reg_bias: 0.02,
            reg_implicit: 0.1,
            init_std: 0.05,
            scale: RatingScale::Auto,
            seed: 0,
            num_threads: None,
        }
    }
}

impl SVDppParams {
    sgd_params!();
    crate::params::setters! {
        /// Sets the implicit-factor regularisation.
        reg_implicit: f32,
    }
}

impl crate::params::Params for SVDppParams {
    fn check(&self) -> Result<()> {
        self.validate_sgd()?;
        check_param(
            self.reg_implicit >= 0.0 && self.reg_implicit.is_finite(),
            "reg_implicit",
            self.reg_implicit,
            ">= 0",
        )
    }
}

/// SVD++: `r̂_ui = mu + b_u + b_i + q_i · (p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j)`, where `N(u)` is
/// the set of items `u` rated in training (Koren 2008, eq. 15).
///
/// **Training.** SGD user by user (users in a seeded random order each epoch, a user's
/// ratings shuffled too): the implicit sum is computed once per user, `b_u, b_i, p_u, q_i`
/// are updated per rating, and the gradient of the `y_j` is accumulated over the user's
/// ratings and applied once at the end of the user. This is the usual fast form of SVD++
/// (Surprise recomputes the sum and updates every `y_j` on each rating, which costs
/// `O(|N(u)| k)` per rating instead of `O(k)`). The `y_j` of a user span all items, so the
/// blocked schedule of [`super::FunkSVD`] does not apply; rather than racing (hogwild) the SGD
/// runs on one thread and is exactly reproducible from the seed.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{RatingPredictor, SVDpp, SVDppParams};
///
/// let triples: Vec<(u32, u32, f32)> =
///     (0..40).flat_map(|u| (0..15).map(move |i| (u, i * 2 + u % 2, ((u * i) % 5 + 1) as f32))).collect();
/// let data = Interactions::from_triples(triples, DuplicatePolicy::Error)?;
/// let model = SVDppParams::default().factors(8).epochs(5).fit(&data)?;
/// assert!((1.0..=5.0).contains(&model.predict(&1.into(), &3.into()).value));
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SVDpp {
    params: SVDppParams,
    data: RatingSet,
    mu: f32,
    bu: Vec<f32>,
    bi: Vec<f32>,
    stride: usize,
    p: Vec<f32>,
    q: Vec<f32>,
    y: Vec<f32>,
    /// `p_u + |N(u)|^-½ Σ y_j`, cached for O(k) predictions.
    pz: Vec<f32>,
    history: TrainingHistory,
}

#[derive(Serialize, Deserialize)]
struct SVDppMeta {
    params: SVDppParams,
    mu: f32,
    history: TrainingHistory,
    ratings: serde_json::Value,
}

/// `z = |N(u)|^-½ Σ_{j ∈ N(u)} y_j` into `z`.
#[inline]
fn implicit_sum(items: &[u32], y: &[f32], stride: usize, z: &mut [f32]) {
    z.fill(0.0);
    for &j in items {
        let yj = &y[j as usize * stride..(j as usize + 1) * stride];
        for (a, b) in z.chunks_exact_mut(LANES).zip(yj.chunks_exact(LANES)) {
            for l in 0..LANES {
                a[l] += b[l];
            }
        }
    }
    let norm = 1.0 / (items.len().max(1) as f32).sqrt();
    z.iter_mut().for_each(|v| *v *= norm);
}

impl SVDpp {
    /// Fits on `data`.
    pub(crate) fn fit_with(data: &Interactions, params: &SVDppParams) -> Result<Self> {
        params.check()?;
        let data = RatingSet::new(data, params.scale)?;
        check_rank(params.factors, &data)?;
        let pool = pool(params.num_threads)?;
        pool.install(|| Self::train(data, params.clone()))
    }

    fn train(data: RatingSet, params: SVDppParams) -> Result<Self> {
        let (nu, ni, k) = (data.n_users(), data.n_items(), params.factors);
        let s = stride_for(k);
        let seed = params.seed;
        let mu = data.mean();
        let mut p = init_rows(nu, k, s, params.init_std, seed, 3);
        let mut q = init_rows(ni, k, s, params.init_std, seed, 4);
        let mut y = init_rows(ni, k, s, params.init_std, seed, 7);
        let (mut bu, mut bi) = (vec![0f32; nu], vec![0f32; ni]);
        let (mut z, mut g) = (vec![0f32; s], vec![0f32; s]);
        let mut order: Vec<u32> = (0..nu as u32).filter(|&u| data.user_known(u as usize)).collect();
        let mut history = TrainingHistory::default();
        let mut lr = params.lr;
        let (reg, reg_b, reg_y) = (params.reg, params.reg_bias, params.reg_implicit);
        let mut idx: Vec<u32> = Vec::new();
        for epoch in 0..params.epochs {
            let mut rng = stream(seed, 6, epoch as u64);
            order.shuffle(&mut rng);
            let mut sse = 0f64;
            for &u in &order {
                let u = u as usize;
                let (items, vals) = (data.user_items(u), data.user_ratings(u));
                implicit_sum(items, &y, s, &mut z);
                g.fill(0.0);
                idx.clear();
                idx.extend(0..items.len() as u32);
                idx.shuffle(&mut rng);
                let pu = &mut p[u * s..(u + 1) * s];
                for &t in &idx {
                    let (i, r) = (items[t as usize] as usize, vals[t as usize]);
                    let qi = &mut q[i * s..(i + 1) * s];
                    let mut acc = [0f32; LANES];
                    for ((a, b), c) in pu.chunks_exact(LANES).zip(z.chunks_exact(LANES)).zip(qi.chunks_exact(LANES)) {
                        for l in 0..LANES {
                            acc[l] += (a[l] + b[l]) * c[l];
                        }
                    }
                    let err = r - (mu + bu[u] + bi[i] + acc.iter().sum::<f32>());
                    sse += (err * err) as f64;
                    bu[u] += lr * (err - reg_b * bu[u]);
                    bi[i] += lr * (err - reg_b * bi[i]);
                    for (((a, c), b), gg) in pu
                        .chunks_exact_mut(LANES)
                        .zip(qi.chunks_exact_mut(LANES))
                        .zip(z.chunks_exact(LANES))
                        .zip(g.chunks_exact_mut(LANES))
                    {
                        for l in 0..LANES {
                            let (pf, qf) = (a[l], c[l]);
                            a[l] = pf + lr * (err * qf - reg * pf);
                            c[l] = qf + lr * (err * (pf + b[l]) - reg * qf);
                            gg[l] += err * qf;
                        }
                    }
                }
                let norm = 1.0 / (items.len() as f32).sqrt();
                for &j in items {
                    let yj = &mut y[j as usize * s..(j as usize + 1) * s];
                    for (a, b) in yj.chunks_exact_mut(LANES).zip(g.chunks_exact(LANES)) {
                        for l in 0..LANES {
                            a[l] += lr * (norm * b[l] - reg_y * a[l]);
                        }
                    }
                }
            }
            history.train_rmse.push((sse / data.nnz() as f64).sqrt() as f32);
            history.best_epoch = epoch;
            lr *= params.lr_decay;
        }
        if p.iter().chain(&q).chain(&y).chain(&bu).chain(&bi).any(|v| !v.is_finite()) {
            return Err(Error::invalid(format!("SGD diverged (non-finite factors); lower lr (now {})", params.lr)));
        }
        let mut model = SVDpp { params, data, mu, bu, bi, stride: s, p, q, y, pz: Vec::new(), history };
        model.cache();
        Ok(model)
    }

    fn cache(&mut self) {
        let s = self.stride;
        let mut pz = self.p.clone();
        let (data, y) = (&self.data, &self.y);
        pz.par_chunks_mut(s).with_min_len(256).enumerate().for_each(|(u, row)| {
            let mut z = vec![0f32; s];
            implicit_sum(data.user_items(u), y, s, &mut z);
            row.iter_mut().zip(&z).for_each(|(a, b)| *a += b);
        });
        self.pz = pz;
    }

    /// The hyper-parameters used.
    pub fn params(&self) -> &SVDppParams {
        &self.params
    }
    /// Loss per epoch.
    pub fn history(&self) -> &TrainingHistory {
        &self.history
    }
    /// User factors `p_u`, `n_users × factors`.
    pub fn user_factors(&self) -> Vec<f32> {
        unpad(&self.p, self.stride, self.params.factors)
    }
    /// Item factors `q_i`, `n_items × factors`.
    pub fn item_factors(&self) -> Vec<f32> {
        unpad(&self.q, self.stride, self.params.factors)
    }
    /// Implicit item factors `y_j`, `n_items × factors`.
    pub fn implicit_factors(&self) -> Vec<f32> {
        unpad(&self.y, self.stride, self.params.factors)
    }
}

impl RatingPredictor for SVDpp {
    super::rating_set_accessors!();

    fn predict_index(&self, user: Option<usize>, item: Option<usize>) -> Prediction {
        let (u, i) = known(&self.data, user, item);
        let s = self.stride;
        let mut v = self.mu + u.map_or(0.0, |u| self.bu[u]) + i.map_or(0.0, |i| self.bi[i]);
        if let (Some(u), Some(i)) = (u, i) {
            v += dot(&self.pz[u * s..(u + 1) * s], &self.q[i * s..(i + 1) * s]);
        }
        Prediction { value: self.data.clip(v), status: unknown_status(u.is_some(), i.is_some()) }
    }

    fn score_items(&self, user: usize, out: &mut [f32]) {
        let s = self.stride;
        let pu = &self.pz[user * s..(user + 1) * s];
        let base = self.mu + self.bu[user];
        for (i, (o, qi)) in out.iter_mut().zip(self.q.chunks_exact(s)).enumerate() {
            *o = base + self.bi[i] + if self.data.item_known(i) { dot(pu, qi) } else { 0.0 };
        }
    }
}

impl Persist for SVDpp {
    const KIND: &'static str = "recommend.svdpp";

    fn write(&self) -> Result<ModelWriter> {
        let meta = SVDppMeta {
            params: self.params.clone(),
            mu: self.mu,
            history: self.history.clone(),
            ratings: self.data.meta(),
        };
        let (k, nu, ni) = (self.params.factors, self.data.n_users(), self.data.n_items());
        Ok(self
            .data
            .write_into(ModelWriter::new(Self::KIND, &meta)?)
            .f32("user_bias", &[nu], &self.bu)
            .f32("item_bias", &[ni], &self.bi)
            .f32("user_factors", &[nu, k], &self.user_factors())
            .f32("item_factors", &[ni, k], &self.item_factors())
            .f32("implicit_factors", &[ni, k], &self.implicit_factors()))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: SVDppMeta = r.meta()?;
        meta.params.check().map_err(|e| Error::format(e.to_string()))?;
        if !meta.mu.is_finite() {
            return Err(Error::format("global mean is not finite"));
        }
        let data = RatingSet::read_from(r, meta.ratings)?;
        let k = meta.params.factors;
        let s = stride_for(k);
        let (nu, ni) = (data.n_users(), data.n_items());
        let mut model = SVDpp {
            mu: meta.mu,
            bu: read_vec(r, "user_bias", nu)?,
            bi: read_vec(r, "item_bias", ni)?,
            p: pad(&read_mat(r, "user_factors", nu, k)?, k, s),
            q: pad(&read_mat(r, "item_factors", ni, k)?, k, s),
            y: pad(&read_mat(r, "implicit_factors", ni, k)?, k, s),
            pz: Vec::new(),
            stride: s,
            params: meta.params,
            history: meta.history,
            data,
        };
        model.cache();
        Ok(model)
    }
}

impl SVDppParams {
    /// Fits a [`SVDpp`] on `data` (users are rows), checking these parameters first.
    pub fn fit(&self, data: &Interactions) -> Result<SVDpp> {
        SVDpp::fit_with(data, self)
    }
}
