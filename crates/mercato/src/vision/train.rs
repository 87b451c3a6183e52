//! Training hyper-parameters and the training loop.

use std::str::FromStr;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::images::scale;
use super::net::Network;
use crate::{ensure, Error, Result};

/// Where to run: CPU, a CUDA GPU, or CUDA when one is available.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceChoice {
    /// `Device::cuda_if_available()`: the first GPU when libtorch sees one, else the CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// This CUDA device; an error when libtorch sees no GPU.
    Cuda(usize),
}

impl DeviceChoice {
    /// The tch device, or [`Error::InvalidInput`] when CUDA is asked for and not available.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Auto => Ok(Device::cuda_if_available()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(i) => {
                let n = tch::Cuda::device_count().max(0) as usize;
                ensure!(
                    tch::Cuda::is_available() && i < n,
                    "CUDA device {i} requested but libtorch sees {n} GPU(s) (CPU-only build, no driver, or linker dropped libtorch_cuda)"
                );
                Ok(Device::Cuda(i))
            }
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = Error;

    /// `"auto"`, `"cpu"`, `"cuda"` (device 0) or `"cuda:N"`.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            _ => s.strip_prefix("cuda:").and_then(|i| i.parse().ok()).map(DeviceChoice::Cuda).ok_or_else(|| {
                Error::invalid(format!("unknown device {s:?}; use \"auto\", \"cpu\", \"cuda\" or \"cuda:N\""))
            }),
        }
    }
}

/// The optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// Adam; weight decay is an L2 penalty added to the gradient (as `torch.optim.Adam`).
    Adam,
    /// AdamW: decoupled weight decay (Loshchilov & Hutter).
    AdamW,
    /// SGD with momentum (Nesterov when `nesterov`).
    Sgd {
        /// Momentum, e.g. 0.9.
        momentum: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
}

/// How the learning rate changes over training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant,
    /// Cosine annealing from the base rate to 0 over all steps, updated every mini-batch.
    Cosine,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Factor applied at each decay.
        gamma: f64,
    },
}

impl LrSchedule {
    /// Learning rate at `step` of `total` (mini-batches), in `epoch`.
    fn rate(&self, base: f64, epoch: usize, step: usize, total: usize) -> f64 {
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total.max(1) as f64).cos()),
            LrSchedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
        }
    }
}

/// Training-time augmentation (applied to training batches only).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Pad by this many black pixels on each side, then crop back to size at a random offset
    /// (0 = off).
    pub crop_padding: usize,
    /// Mirror left-right with probability ½ (right for clothes and most products; wrong for
    /// text or digits).
    pub horizontal_flip: bool,
}

impl Augment {
    /// No augmentation.
    pub const NONE: Augment = Augment { crop_padding: 0, horizontal_flip: false };
}

impl Default for Augment {
    /// Crop with 2 pixels of padding and horizontal flips.
    fn default() -> Self {
        Augment { crop_padding: 2, horizontal_flip: true }
    }
}

/// Training hyper-parameters. Build with [`Default`] and the builder methods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training data (upper bound when early stopping is on).
    pub epochs: usize,
    /// Images per mini-batch.
    pub batch_size: usize,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Base learning rate.
    pub learning_rate: f64,
    /// Weight decay (L2 for Adam/SGD, decoupled for AdamW).
    pub weight_decay: f64,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// Fraction of the images held out (at random, by `seed`) to measure validation loss
    /// and accuracy each epoch; 0 = none.
    pub validation_fraction: f64,
    /// Stop when the validation loss has not improved for this many epochs, and restore
    /// the best epoch's weights. `None` = train all epochs. Needs a validation split.
    pub patience: Option<usize>,
    /// Augmentation of training batches.
    pub augment: Augment,
    /// Seed for weight initialisation, shuffling, the split, augmentation and dropout.
    pub seed: u64,
    /// libtorch intra-op threads during training (`None` = libtorch's default). libtorch's
    /// thread pool is process-wide: the previous value is restored afterwards.
    pub num_threads: Option<usize>,
    /// Where to train.
    pub device: DeviceChoice,
    /// Per-channel normalisation (mean, std) on the 0..1 scale; `None` = computed from the
    /// training images.
    pub normalization: Option<(Vec<f32>, Vec<f32>)>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub show_progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 128,
            optimizer: Optimizer::Adam,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            schedule: LrSchedule::Cosine,
            validation_fraction: 0.1,
            patience: Some(3),
            augment: Augment::default(),
            seed: 0,
            num_threads: None,
            device: DeviceChoice::Auto,
            normalization: None,
            show_progress: true,
        }
    }
}

impl TrainConfig {
    crate::params::setters!(/// Sets [`TrainConfig::epochs`].
        epochs: usize);
    crate::params::setters!(/// Sets [`TrainConfig::batch_size`].
        batch_size: usize);
    crate::params::setters!(/// Sets [`TrainConfig::optimizer`].
        optimizer: Optimizer);
    crate::params::setters!(/// Sets [`TrainConfig::learning_rate`].
        learning_rate: f64);
    crate::params::setters!(/// Sets [`TrainConfig::weight_decay`].
        weight_decay: f64);
    crate::params::setters!(/// Sets [`TrainConfig::schedule`].
        schedule: LrSchedule);
    crate::params::setters!(/// Sets [`TrainConfig::validation_fraction`].
        validation_fraction: f64);
    crate::params::setters!(/// Sets [`TrainConfig::patience`].
        patience: Option<usize>);
    crate::params::setters!(/// Sets [`TrainConfig::augment`].
        augment: Augment);
    crate::params::setters!(/// Sets [`TrainConfig::seed`].
        seed: u64);
    crate::params::setters!(/// Sets [`TrainConfig::num_threads`].
        num_threads: Option<usize>);
    crate::params::setters!(/// Sets [`TrainConfig::device`].
        device: DeviceChoice);
    crate::params::setters!(/// Sets [`TrainConfig::normalization`].
        normalization: Option<(Vec<f32>, Vec<f32>)>);
    crate::params::setters!(/// Sets [`TrainConfig::show_progress`].
        show_progress: bool);
}

impl crate::params::Params for TrainConfig {
    fn check(&self) -> Result<()> {
        ensure!(self.epochs >= 1, param "epochs", "must be at least 1");
        ensure!(self.batch_size >= 1, param "batch_size", "must be at least 1");
        ensure!(
            self.learning_rate.is_finite() && self.learning_rate > 0.0,
            param "learning_rate", "must be positive, got {}",
            self.learning_rate
        );
        ensure!(
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            param "weight_decay", "must be >= 0, got {}",
            self.weight_decay
        );
        ensure!(
            (0.0..1.0).contains(&self.validation_fraction),
            param "validation_fraction", "must be in [0, 1), got {}",
            self.validation_fraction
        );
        ensure!(
            self.patience.is_none() || self.validation_fraction > 0.0,
            "early stopping (patience) needs validation_fraction > 0; set patience to None to train all epochs"
        );
        ensure!(self.patience != Some(0), param "patience", "must be at least 1");
        ensure!(self.augment.crop_padding <= 64, param "crop_padding", "must be at most 64");
        ensure!(self.num_threads != Some(0), param "num_threads", "must be at least 1");
        if let Optimizer::Sgd { momentum, .. } = self.optimizer {
            ensure!((0.0..1.0).contains(&momentum), param "momentum", "must be in [0, 1), got {momentum}");
        }
        if let LrSchedule::Step { every, gamma } = self.schedule {
            ensure!(every >= 1 && gamma > 0.0 && gamma <= 1.0, "step schedule needs every >= 1 and gamma in (0, 1]");
        }
        Ok(())
    }
}

/// Metrics of one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Learning rate at the end of the epoch.
    pub learning_rate: f64,
    /// Mean cross-entropy over the epoch's training batches (augmented, dropout on).
    pub train_loss: f64,
    /// Accuracy over the epoch's training batches.
    pub train_accuracy: f64,
    /// Cross-entropy on the validation split.
    pub val_loss: Option<f64>,
    /// Accuracy on the validation split.
    pub val_accuracy: Option<f64>,
    /// Wall-clock seconds (training and validation).
    pub seconds: f64,
}

/// What happened during training: the loss curve and where it stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<EpochStats>,
    /// Epoch (1-based) whose weights were kept, when a validation split was used.
    pub best_epoch: Option<usize>,
    /// True when early stopping ended training before `epochs`.
    pub stopped_early: bool,
    /// Device the model trained on, e.g. `"Cpu"` or `"Cuda(0)"`.
    pub device: String,
    /// Training images per second (excluding validation).
    pub images_per_second: f64,
}

/// Restores libtorch's thread count when dropped.
pub(crate) struct ThreadGuard(Option<i32>);

impl ThreadGuard {
    pub(crate) fn set(n: Option<usize>) -> Self {
        match n {
            Some(n) => {
                let prev = tch::get_num_threads();
                tch::set_num_threads(n as i32);
                ThreadGuard(Some(prev))
            }
            None => ThreadGuard(None),
        }
    }
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        if let Some(prev) = self.0 {
            tch::set_num_threads(prev);
        }
    }
}

/// Random crop after zero padding, and random horizontal flip, of a float batch `[B, C, H, W]`.
pub(crate) fn augment(x: &Tensor, aug: &Augment, rng: &mut Xoshiro256PlusPlus) -> Result<Tensor> {
    let size = x.size();
    let (b, h, w) = (size[0], size[2], size[3]);
    let mut x = x.shallow_clone();
    if aug.crop_padding > 0 {
        let p = aug.crop_padding as i64;
        let padded = x.f_constant_pad_nd([p, p, p, p].as_slice())?;
        let crops = (0..b)
            .map(|i| {
                let (dy, dx) = (rng.random_range(0..=2 * p), rng.random_range(0..=2 * p));
                padded.get(i).narrow(1, dy, h).narrow(2, dx, w)
            })
            .collect::<Vec<_>>();
        x = Tensor::f_stack(&crops, 0)?;
    }
    if aug.horizontal_flip {
        let mask: Vec<bool> = (0..b).map(|_| rng.random_bool(0.5)).collect();
        let mask = Tensor::f_from_slice(&mask)?.f_view([b, 1, 1, 1])?.f_to_device(x.device())?;
        x = x.f_flip([3i64].as_slice())?.f_where_self(&mask, &x)?;
    }
    Ok(x)
}

/// Normalised float batch on `device` from raw images (CPU, u8 or 0..1 float).
pub(crate) struct Normalizer {
    mean: Tensor,
    std: Tensor,
}

impl Normalizer {
    pub(crate) fn new(mean: &[f32], std: &[f32], device: Device) -> Result<Self> {
        let c = mean.len() as i64;
        Ok(Normalizer {
            mean: Tensor::f_from_slice(mean)?.f_view([1, c, 1, 1])?.f_to_device(device)?,
            std: Tensor::f_from_slice(std)?.f_view([1, c, 1, 1])?.f_to_device(device)?,
        })
    }

    pub(crate) fn apply(&self, x01: &Tensor) -> Result<Tensor> {
        Ok(x01.f_to_device(self.mean.device())?.f_sub(&self.mean)?.f_div(&self.std)?)
    }
}

/// Everything the loop needs besides the network.
pub(crate) struct TrainData<'a> {
    /// `[N, C, H, W]` on the CPU, `Uint8` or `Float` (0..1).
    pub raw: &'a Tensor,
    /// `[N]` int64 labels on the CPU, already checked against the class count.
    pub labels: &'a Tensor,
    pub mean: &'a [f32],
    pub std: &'a [f32],
}

/// One RNG stream per piece of work: the split shuffle (`u64::MAX`) and each epoch. The piece
/// is the stream's purpose with block 0, which draws exactly what the models shipped so far
/// were trained with.
fn stream(seed: u64, piece: u64) -> Xoshiro256PlusPlus {
    crate::rng::stream(seed, piece, 0)
}

/// Mean loss and accuracy of `net` (eval mode) on `idx` of the data.
fn evaluate(net: &Network, data: &TrainData, norm: &Normalizer, idx: &[i64], batch: usize) -> Result<(f64, f64)> {
    let (mut loss, mut correct) = (0f64, 0i64);
    tch::no_grad(|| -> Result<()> {
        for chunk in idx.chunks(batch.max(256)) {
            let i = Tensor::f_from_slice(chunk)?;
            let xb = norm.apply(&scale(&data.raw.f_index_select(0, &i)?)?)?;
            let yb = data.labels.f_index_select(0, &i)?.f_to_device(net.device())?;
            let logits = net.forward_t(&xb, false);
            loss +=
                logits.f_cross_entropy_loss::<Tensor>(&yb, None, tch::Reduction::Mean, -100, 0.0)?.double_value(&[])
                    * chunk.len() as f64;
            correct += logits.f_argmax(-1, false)?.f_eq_tensor(&yb)?.f_sum(Kind::Int64)?.int64_value(&[]);
        }
        Ok(())
    })?;
    let n = idx.len().max(1) as f64;
    Ok((loss / n, correct as f64 / n))
}

/// Trains `net` in place and returns its history.
pub(crate) fn train(net: &mut Network, data: &TrainData, cfg: &TrainConfig) -> Result<History> {
    let n = data.raw.size()[0] as usize;
    let mut order: Vec<i64> = (0..n as i64).collect();
    order.shuffle(&mut stream(cfg.seed, u64::MAX));
    let n_val =
        if cfg.validation_fraction > 0.0 { ((n as f64 * cfg.validation_fraction).round() as usize).max(1) } else { 0 };
    ensure!(
        n_val < n,
        "{n} images are too few for validation_fraction {}: nothing left to train on",
        cfg.validation_fraction
    );
    let (val_idx, train_idx) = order.split_at(n_val);
    let mut train_idx = train_idx.to_vec();
    let device = net.device();
    let norm = Normalizer::new(data.mean, data.std, device)?;

    let vs = net.var_store();
    let lr = cfg.learning_rate;
    let wd = cfg.weight_decay;
    let mut opt = match cfg.optimizer {
        Optimizer::Adam => nn::Adam { wd, ..Default::default() }.build(vs, lr)?,
        Optimizer::AdamW => nn::AdamW { wd, ..Default::default() }.build(vs, lr)?,
        Optimizer::Sgd { momentum, nesterov } => nn::Sgd { momentum, dampening: 0.0, wd, nesterov }.build(vs, lr)?,
    };

    let batches = train_idx.len().div_ceil(cfg.batch_size);
    let total_steps = batches * cfg.epochs;
    let pb = crate::progress::Bar::batches(cfg.show_progress, total_steps as u64);

    let mut history = History { device: format!("{device:?}"), ..Default::default() };
    let mut best: Option<(f64, Vec<(String, Tensor)>)> = None;
    let mut since_best = 0usize;
    let mut step = 0usize;
    let (mut train_images, mut train_seconds) = (0usize, 0f64);
    for epoch in 0..cfg.epochs {
        let started = Instant::now();
        pb.set_prefix(format!("epoch {}/{}", epoch + 1, cfg.epochs));
        let mut rng = stream(cfg.seed, epoch as u64);
        train_idx.shuffle(&mut rng);
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0i64, 0usize);
        let mut rate = lr;
        for (b, chunk) in train_idx.chunks(cfg.batch_size).enumerate() {
            rate = cfg.schedule.rate(lr, epoch, step, total_steps);
            opt.set_lr(rate);
            let i = Tensor::f_from_slice(chunk)?;
            let x01 = scale(&data.raw.f_index_select(0, &i)?)?;
            let x01 = if cfg.augment == Augment::NONE { x01 } else { augment(&x01, &cfg.augment, &mut rng)? };
            let xb = norm.apply(&x01)?;
            let yb = data.labels.f_index_select(0, &i)?.f_to_device(device)?;
            let logits = net.forward_t(&xb, true);
            let loss = logits.f_cross_entropy_loss::<Tensor>(&yb, None, tch::Reduction::Mean, -100, 0.0)?;
            opt.backward_step(&loss);
            let l = loss.double_value(&[]);
            if !l.is_finite() {
                pb.finish_and_clear();
                return Err(Error::invalid(format!(
                    "training diverged: loss is {l} at epoch {} batch {}; lower the learning rate",
                    epoch + 1,
                    b + 1
                )));
            }
            loss_sum += l * chunk.len() as f64;
            correct += logits.f_argmax(-1, false)?.f_eq_tensor(&yb)?.f_sum(Kind::Int64)?.int64_value(&[]);
            seen += chunk.len();
            step += 1;
            pb.inc(1);
            if b % 20 == 0 {
                pb.set_message(format!("loss {:.4} acc {:.4}", loss_sum / seen as f64, correct as f64 / seen as f64));
            }
        }
        train_seconds += started.elapsed().as_secs_f64();
        train_images += seen;
        let (val_loss, val_accuracy) = if val_idx.is_empty() {
            (None, None)
        } else {
            let (l, a) = evaluate(net, data, &norm, val_idx, cfg.batch_size)?;
            (Some(l), Some(a))
        };
        let stats = EpochStats {
            epoch: epoch + 1,
            learning_rate: rate,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        };
        let line = format!(
            "epoch {:>3}: train loss {:.4} acc {:.4}{} ({:.1} s)",
            stats.epoch,
            stats.train_loss,
            stats.train_accuracy,
            match (val_loss, val_accuracy) {
                (Some(l), Some(a)) => format!(" | val loss {l:.4} acc {a:.4}"),
                _ => String::new(),
            },
            stats.seconds
        );
        pb.epoch_line(line);
        history.epochs.push(stats);
        if let Some(vl) = val_loss {
            if best.as_ref().is_none_or(|(b, _)| vl < *b) {
                best = Some((vl, net.snapshot()));
                history.best_epoch = Some(epoch + 1);
                since_best = 0;
            } else {
                since_best += 1;
                if cfg.patience.is_some_and(|p| since_best >= p) {
                    history.stopped_early = epoch + 1 < cfg.epochs;
                    break;
                }
            }
        }
    }
    pb.finish_and_clear();
    history.images_per_second = train_images as f64 / train_seconds.max(1e-9);
    // With a validation split, keep the weights of the epoch with the lowest validation loss.
    if let Some((_, weights)) = best {
        if history.best_epoch != Some(history.epochs.len()) {
            net.restore(&weights)?;
        }
    }
    Ok(history)
}
