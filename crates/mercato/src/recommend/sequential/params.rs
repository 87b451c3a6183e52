//! Hyper-parameters of [`super::SequentialRecommender`].

use serde::{Deserialize, Serialize};

use super::{Sequences, SequentialRecommender};
use crate::vision::DeviceChoice;
use crate::Result;

/// The network that reads a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeqArch {
    /// SASRec (Kang & McAuley 2018): causal self-attention over the last `max_len` events,
    /// learned positions, output scored against the shared item embeddings.
    Sasrec,
    /// GRU4Rec (Hidasi et al. 2016): a GRU over the item embeddings, a dense layer, output
    /// scored against the shared item embeddings.
    Gru4rec,
}

impl SeqArch {
    /// The model-file kind (`"recommend.sasrec"`, `"recommend.gru4rec"`).
    pub fn kind(self) -> &'static str {
        match self {
            SeqArch::Sasrec => super::KIND_SASREC,
            SeqArch::Gru4rec => super::KIND_GRU4REC,
        }
    }
}

/// The training objective at every position of a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeqLoss {
    /// Softmax cross-entropy over the whole catalogue (RecBole's default; the stronger one).
    Ce,
    /// Binary cross-entropy of the next item against `negatives` uniformly sampled items
    /// (the original SASRec). Cheaper per step on very large catalogues.
    Bce,
}

/// How training steps are batched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeqBatching {
    /// `batch_size` windows of up to `max_len` events per step, a target at every position
    /// (a long history trains as several windows; see [`SequentialParams::stride`]).
    #[default]
    Windows,
    /// One example per target: the up to `max_len` events before it, the loss at its last
    /// position only, each with its own dropout mask (RecBole's training examples for
    /// SASRec and GRU4Rec). Up to `max_len` times the work of [`SeqBatching::Windows`] per
    /// epoch on long histories; `batch_size` counts examples.
    Prefixes,
    /// GRU4Rec's session-parallel mini-batches (Hidasi et al. 2016): `batch_size` lanes,
    /// each reading one user's whole history one event per step with the GRU state carried
    /// over (gradients through one step). GRU4Rec only.
    SessionParallel,
}

/// Hyper-parameters of a sequential recommender. Defaults follow RecBole's SASRec where it
/// has them (64 factors, 2 layers, `learning_rate` 1e-3, cross-entropy loss, early stopping
/// after 10 epochs without improvement); `max_len` 50 and dropout 0.2 as in the issue's
/// signature (RecBole: 50 and 0.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SequentialParams {
    /// SASRec or GRU4Rec.
    pub arch: SeqArch,
    /// Most recent events the network reads; longer histories train as several windows.
    pub max_len: usize,
    /// Where windows over a history longer than `max_len` start: every `stride` events from
    /// the end, each window training only its last `stride` targets, so every target is
    /// trained once and sees at least `max_len - stride` earlier events (as when serving,
    /// where the network reads the last `max_len`). `None`: half of `max_len`, rounded up.
    /// `Some(max_len)` gives disjoint windows (cheapest, but a window's first targets see
    /// few events); `Some(1)` gives every target a full window (`max_len` times the work on
    /// long histories; [`SeqBatching::Prefixes`] goes further, one example per target). Only with
    /// [`SeqBatching::Windows`]: prefixes and session-parallel lanes place no windows, so
    /// `check` refuses a stride there.
    pub stride: Option<usize>,
    /// Embedding (and hidden) size.
    pub factors: usize,
    /// Transformer blocks (SASRec) or GRU layers (GRU4Rec).
    pub layers: usize,
    /// Attention heads (SASRec; `factors` must be a multiple).
    pub heads: usize,
    /// Dropout on embeddings and inside the blocks.
    pub dropout: f64,
    /// Passes over the training windows (upper bound with early stopping).
    pub epochs: usize,
    /// Windows per mini-batch (examples with [`SeqBatching::Prefixes`], lanes with
    /// [`SeqBatching::SessionParallel`]).
    pub batch_size: usize,
    /// Windows, one prefix per target, or GRU4Rec's session-parallel lanes.
    pub batching: SeqBatching,
    /// Adam's step size.
    pub learning_rate: f64,
    /// L2 penalty added to the gradient (Adam's `weight_decay`).
    pub weight_decay: f64,
    /// Training objective.
    pub loss: SeqLoss,
    /// Sampled negatives per position with [`SeqLoss::Bce`].
    pub negatives: usize,
    /// Early stopping: hold out each user's last event, evaluate NDCG@10 (full ranking) on
    /// it after every epoch, stop after this many epochs without improvement and keep the
    /// best epoch's weights. `None`: train every epoch on every event.
    pub patience: Option<usize>,
    /// Seed of weight initialisation, dropout, shuffling and negative sampling.
    pub seed: u64,
    /// Where to train and serve.
    pub device: DeviceChoice,
    /// libtorch threads during fit (all cores when `None`). The same count gives the same
    /// model; another count can change SASRec's last float bits (libtorch's sums follow its
    /// threads), unlike mercato's own models.
    pub num_threads: Option<usize>,
    /// A progress bar on a terminal, else one line per epoch on stderr.
    pub show_progress: bool,
}

impl Default for SequentialParams {
    fn default() -> Self {
        SequentialParams {
            arch: SeqArch::Sasrec,
            max_len: 50,
            stride: None,
            factors: 64,
            layers: 2,
            heads: 1,
            dropout: 0.2,
            epochs: 200,
            batch_size: 128,
            batching: SeqBatching::Windows,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            loss: SeqLoss::Ce,
            negatives: 1,
            patience: Some(10),
            seed: 0,
            device: DeviceChoice::Auto,
            num_threads: None,
            show_progress: false,
        }
    }
}

fn param(ok: bool, name: &str, value: impl std::fmt::Debug, rule: &str) -> Result<()> {
    crate::ensure!(ok, param name, "must be {rule}, got {value:?}");
    Ok(())
}

impl SequentialParams {
    /// SASRec with the defaults.
    pub fn sasrec() -> Self {
        Self::default()
    }

    /// GRU4Rec with the defaults (one GRU layer).
    pub fn gru4rec() -> Self {
        SequentialParams { arch: SeqArch::Gru4rec, layers: 1, ..Self::default() }
    }

    crate::params::setters! {
        arch: SeqArch, max_len: usize, stride: Option<usize>, factors: usize, layers: usize, heads: usize, dropout: f64,
        epochs: usize, batch_size: usize, batching: SeqBatching, learning_rate: f64, weight_decay: f64, loss: SeqLoss,
        negatives: usize, patience: Option<usize>, seed: u64, device: DeviceChoice,
        num_threads: Option<usize>, show_progress: bool,
    }

    /// The stride in use: [`Self::stride`], or half of `max_len` rounded up.
    pub fn window_stride(&self) -> usize {
        self.stride.unwrap_or(self.max_len.div_ceil(2))
    }

    /// Checks the parameters and trains on `data`.
    pub fn fit(&self, data: &Sequences) -> Result<SequentialRecommender> {
        crate::params::Params::check(self)?;
        SequentialRecommender::train(self, data)
    }
}

impl crate::params::Params for SequentialParams {
    /// Checks every field, naming the first that breaks its rule.
    fn check(&self) -> Result<()> {
        param((2..=4096).contains(&self.max_len), "max_len", self.max_len, "in 2..=4096")?;
        if let Some(s) = self.stride {
            param((1..=self.max_len).contains(&s), "stride", s, "in 1..=max_len (or None: half of max_len)")?;
            param(
                self.batching == SeqBatching::Windows,
                "stride",
                s,
                "None unless batching is Windows (prefixes and session-parallel lanes place no windows)",
            )?;
        }
        param((1..=4096).contains(&self.factors), "factors", self.factors, "in 1..=4096")?;
        param((1..=32).contains(&self.layers), "layers", self.layers, "in 1..=32")?;
        param((1..=64).contains(&self.heads), "heads", self.heads, "in 1..=64")?;
        param(self.factors.is_multiple_of(self.heads), "heads", self.heads, "a divisor of `factors`")?;
        param((0.0..1.0).contains(&self.dropout), "dropout", self.dropout, "in [0, 1)")?;
        param((1..=100_000).contains(&self.epochs), "epochs", self.epochs, "in 1..=100000")?;
        param((1..=1 << 20).contains(&self.batch_size), "batch_size", self.batch_size, "in 1..=1048576")?;
        param(
            self.learning_rate > 0.0 && self.learning_rate.is_finite(),
            "learning_rate",
            self.learning_rate,
            "> 0 and finite",
        )?;
        param(
            self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
            "weight_decay",
            self.weight_decay,
            ">= 0 and finite",
        )?;
        param((1..=1000).contains(&self.negatives), "negatives", self.negatives, "in 1..=1000")?;
        param(
            self.batching != SeqBatching::SessionParallel || self.arch == SeqArch::Gru4rec,
            "batching",
            self.batching,
            "Windows or Prefixes for SASRec (session-parallel lanes carry a GRU state)",
        )?;
        if let Some(p) = self.patience {
            param(p > 0, "patience", p, "positive (or None for no early stopping)")?;
        }
        crate::params::check_threads(self.num_threads)
    }
}
