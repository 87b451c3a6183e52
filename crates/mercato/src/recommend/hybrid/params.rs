//! Hyper-parameters of [`super::HybridMF`].

use serde::{Deserialize, Serialize};

use super::features::Features;
use super::HybridMF;
use crate::data::Interactions;
use crate::params::Params;
use crate::Result;

/// The training objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Weighted Approximate-Rank Pairwise (Weston et al. 2011): for each positive, negatives
    /// are sampled until one scores within 1 of it (at most `max_sampled`), and the update is
    /// weighted by `ln(floor((n_items - 1) / tries))`, the estimated rank. Optimises the top
    /// of the list; the usual choice.
    Warp,
    /// Bayesian Personalised Ranking (Rendle et al. 2009): one negative per positive, drawn
    /// from the observed items (so by popularity), loss `-ln σ(s_pos - s_neg)`.
    Bpr,
    /// Pointwise logistic regression: entries with a value `> 0` are positives, stored
    /// entries `<= 0` negatives (data without negatives learns only biases' direction).
    Logistic,
    /// k-th order statistic WARP (Weston et al. 2013), as LightFM: one step per user and
    /// epoch, `kos_n` of the user's positives are drawn and scored, and the `kos_k`-th highest
    /// is the positive of a WARP update.
    WarpKos,
}

/// How each parameter's step size adapts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Per-coordinate `learning_rate / sqrt(1 + sum of squared gradients)` (Duchi et al. 2011).
    Adagrad,
    /// Per-coordinate `sqrt(E[Δ²] + ε) / sqrt(E[g²] + ε)` from running averages with decay
    /// `rho` (Zeiler 2012), as LightFM's `learning_schedule="adadelta"`: no learning rate
    /// (`learning_rate` is not used), twice Adagrad's optimiser state.
    Adadelta,
}

impl Schedule {
    /// Optimiser values kept per parameter (Adagrad: Σg²; Adadelta: E[g²] and E[Δ²]).
    pub(crate) fn state_per_parameter(self) -> usize {
        match self {
            Schedule::Adagrad => 1,
            Schedule::Adadelta => 2,
        }
    }

    /// The optimiser state's starting value, also its least (LightFM's): Adagrad's sums
    /// start at 1 and only grow; Adadelta's averages of squares start at 0.
    pub(crate) fn initial_state(self) -> f32 {
        match self {
            Schedule::Adagrad => 1.0,
            Schedule::Adadelta => 0.0,
        }
    }
}

/// Hyper-parameters of [`HybridMF`]. Defaults follow LightFM's (`factors = 10` there; 64
/// here as in the Python signature, `learning_rate = 0.05`, WARP with
/// `max_sampled = 10`, no regularisation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HybridMFParams {
    /// Embedding size.
    pub factors: usize,
    /// Objective.
    pub loss: Loss,
    /// Step-size schedule.
    pub schedule: Schedule,
    /// Initial step size (Adagrad).
    pub learning_rate: f32,
    /// Adadelta's decay of its running averages (LightFM's default 0.95).
    pub rho: f32,
    /// Adadelta's ε, added under both square roots (LightFM's default 1e-6).
    pub epsilon: f32,
    /// Passes over the positives.
    pub epochs: usize,
    /// L2 penalty on the item feature embeddings and biases touched by each update.
    pub item_alpha: f32,
    /// L2 penalty on the user feature embeddings and biases touched by each update.
    pub user_alpha: f32,
    /// Most negatives WARP samples per positive.
    pub max_sampled: usize,
    /// WARP-kos: rank (1-based) of the positive used among the `kos_n` drawn.
    pub kos_k: usize,
    /// WARP-kos: positives drawn per user step.
    pub kos_n: usize,
    /// Give every training user an identity feature (its own embedding) besides the supplied
    /// ones. Off: users are represented by their features alone.
    pub user_identity: bool,
    /// Same for items.
    pub item_identity: bool,
    /// The interactions are cut into a `blocks × blocks` grid of user × item blocks, trained
    /// stratum by stratum (see [`HybridMF`]). `None`: from the data size alone
    /// ([`HybridMFParams::grid`]), never from the thread count.
    pub blocks: Option<usize>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Threads (all cores when `None`); never changes the result.
    pub num_threads: Option<usize>,
}

impl Default for HybridMFParams {
    fn default() -> Self {
        HybridMFParams {
            factors: 64,
            loss: Loss::Warp,
            schedule: Schedule::Adagrad,
            learning_rate: 0.05,
            rho: 0.95,
            epsilon: 1e-6,
            epochs: 20,
            item_alpha: 0.0,
            user_alpha: 0.0,
            max_sampled: 10,
            kos_k: 5,
            kos_n: 10,
            user_identity: true,
            item_identity: true,
            blocks: None,
            seed: 0,
            num_threads: None,
        }
    }
}

fn param(ok: bool, name: &str, value: impl std::fmt::Display, rule: &str) -> Result<()> {
    crate::ensure!(ok, param name, "must be {rule}, got {value}");
    Ok(())
}

impl HybridMFParams {
    crate::params::setters! {
        factors: usize, loss: Loss, schedule: Schedule, learning_rate: f32, rho: f32, epsilon: f32, epochs: usize,
        item_alpha: f32, user_alpha: f32, max_sampled: usize, kos_k: usize, kos_n: usize,
        user_identity: bool, item_identity: bool, blocks: Option<usize>, seed: u64,
        num_threads: Option<usize>,
    }
}

impl crate::params::Params for HybridMFParams {
    /// Checks every field, naming the first that breaks its rule.
    fn check(&self) -> Result<()> {
        param(self.factors > 0 && self.factors <= 4096, "factors", self.factors, "in 1..=4096")?;
        param(self.learning_rate > 0.0 && self.learning_rate.is_finite(), "learning_rate", self.learning_rate, "> 0")?;
        param(self.rho > 0.0 && self.rho < 1.0, "rho", self.rho, "in (0, 1)")?;
        param(self.epsilon > 0.0 && self.epsilon.is_finite(), "epsilon", self.epsilon, "> 0 and finite")?;
        param(self.epochs > 0, "epochs", self.epochs, "positive")?;
        param(self.epochs <= 100_000, "epochs", self.epochs, "at most 100000")?;
        for (name, v) in [("item_alpha", self.item_alpha), ("user_alpha", self.user_alpha)] {
            param(v >= 0.0 && v.is_finite(), name, v, ">= 0 and finite")?;
        }
        param(self.max_sampled > 0 && self.max_sampled <= 100_000, "max_sampled", self.max_sampled, "in 1..=100000")?;
        param(self.kos_k > 0 && self.kos_k <= 1000, "kos_k", self.kos_k, "in 1..=1000")?;
        param(self.kos_n > 0 && self.kos_n <= 1000, "kos_n", self.kos_n, "in 1..=1000")?;
        if let Some(b) = self.blocks {
            param(b > 0 && b <= 64, "blocks", b, "in 1..=64")?;
        }
        crate::params::check_threads(self.num_threads)
    }
}

impl HybridMFParams {
    /// The grid size for `nnz` training positives: [`HybridMFParams::blocks`] when set, else
    /// `floor(sqrt(nnz / 10000))` within `1..=16`: a block then holds at least ~10k positives,
    /// so the barrier after each stratum costs little next to its work. Small data trains
    /// on one block, which is plain sequential SGD.
    pub fn grid(&self, nnz: usize) -> usize {
        self.blocks.unwrap_or_else(|| ((nnz / 10_000) as f64).sqrt().floor().clamp(1.0, 16.0) as usize)
    }

    /// Checks the parameters and trains on `data` (users are rows; values `> 0` are positives)
    /// with optional user and item features (one row per user / item of `data`).
    pub fn fit(
        &self,
        data: &Interactions,
        user_features: Option<&Features>,
        item_features: Option<&Features>,
    ) -> Result<HybridMF> {
        self.check()?;
        HybridMF::train(self, data, user_features, item_features)
    }
}
