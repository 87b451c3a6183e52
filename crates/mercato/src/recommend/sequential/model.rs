//! The fitted sequential recommender: training loop, scoring, serving and its model file.

use std::path::Path;
use std::time::Instant;

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

use super::data::{ContextColumn, Sequences};
use super::net::SeqNet;
use super::params::{SeqBatching, SeqLoss, SequentialParams};
use super::{KIND_GRU4REC, KIND_SASREC};
use crate::data::{ExternalId, IdMap};
use crate::persist::{peek_kind, ModelReader, ModelWriter};
use crate::recommend::{check_n, to_external, top_n, Filter, IdRecommender, IdRecs, Ranked};
use crate::vision::DeviceChoice;
use crate::{ensure, Error, Result};

/// libtorch's random generator and thread count are process-wide: seeded fits take turns
/// with each other and with image-classifier fits.
use crate::vision::FIT_LOCK;

/// Users scored per forward pass when ranking many users (bounds memory to
/// `CHUNK × n_items` scores).
const CHUNK: usize = 256;

/// Purpose of the per-epoch random stream (window order, sampled negatives).
const EPOCH_STREAM: u64 = 0x5E0;

/// One epoch of training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeqEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss per predicted position.
    pub loss: f64,
    /// NDCG@10 on the held-out last events (with early stopping).
    pub val_ndcg: Option<f64>,
    /// Wall time of the epoch, validation included.
    pub seconds: f64,
}

/// What training did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeqHistory {
    /// One entry per epoch run.
    pub epochs: Vec<SeqEpoch>,
    /// Epoch whose weights were kept (with early stopping).
    pub best_epoch: Option<usize>,
    /// True when early stopping ended training before `epochs`.
    pub stopped_early: bool,
    /// Device trained on, e.g. `"Cpu"`.
    pub device: String,
    /// Training seconds per epoch (validation excluded), mean over epochs.
    pub seconds_per_epoch: f64,
}

/// A next-item recommender that reads the order of each user's events: SASRec or GRU4Rec
/// ([`SequentialParams::arch`]) on libtorch (cargo feature `torch`).
///
/// Trained with [`SequentialParams::fit`] on [`Sequences`]; recommends for a training user
/// from their history ([`SequentialRecommender::recommend`]) or for a live session that was
/// never in the training data ([`SequentialRecommender::recommend_sequence`]). The same
/// seed, data and thread count give the same model on the CPU.
///
/// ```
/// use mercato::recommend::sequential::{SequentialParams, Sequences};
///
/// // Every user walks the same cycle a → b → c → d → a ...
/// let cycle = ["a", "b", "c", "d"];
/// let (mut users, mut items, mut times) = (vec![], vec![], vec![]);
/// for u in 0..40 {
///     for t in 0..6 {
///         users.push(format!("u{u}").into());
///         items.push(cycle[(u + t) % 4].into());
///         times.push(t as i64);
///     }
/// }
/// let data = Sequences::from_events(&users, &items, &times, &[])?;
/// let model = SequentialParams::sasrec().factors(16).epochs(40).patience(None).device("cpu".parse()?).fit(&data)?;
/// let next = model.recommend_sequence(&["b".into(), "c".into()], &[], 1, false)?;
/// assert_eq!(next.items[0].0, "d".into());
/// # Ok::<(), mercato::Error>(())
/// ```
pub struct SequentialRecommender {
    params: SequentialParams,
    data: Sequences,
    /// Training events per item (the fallback ranking).
    popularity: Vec<u32>,
    history: SeqHistory,
    net: SeqNet,
}

// SAFETY: as for `ImageClassifier`: tch's `Tensor` is `Send` but not `Sync` because some
// `&self` methods mutate (gradients, in-place ops). A fitted model never exposes its
// tensors; after fit or load its only uses of the network are forward passes under
// `no_grad` in evaluation mode, which read the weights and allocate fresh outputs.
unsafe impl Sync for SequentialRecommender {}

impl std::fmt::Debug for SequentialRecommender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequentialRecommender")
            .field("arch", &self.params.arch)
            .field("users", &self.data.users.len())
            .field("items", &self.data.items.len())
            .field("device", &self.net.device())
            .finish_non_exhaustive()
    }
}

/// A training window: `len` inputs of `user` from `start`, each predicting the next event.
#[derive(Clone, Copy)]
struct Window {
    user: usize,
    start: usize,
    len: usize,
    /// Leading targets of the window that another window already trains.
    skip: usize,
}

/// Every event except each user's first is a target exactly once. A history longer than
/// `max_len + 1` is read as windows of `max_len` inputs that end every `stride` events from
/// the end; a window trains only the targets no later window has (its last `stride`, or all
/// of the first window's), so each target sees at least `max_len - stride` earlier events.
fn windows(data: &Sequences, max_len: usize, stride: usize) -> Vec<Window> {
    debug_assert!((1..=max_len).contains(&stride));
    let mut out = Vec::new();
    for u in 0..data.users.len() {
        let n = data.sequence(u).len();
        let mut end = n.saturating_sub(1); // inputs are [start, end), targets [start+1, end+1)
        while end > 0 {
            let start = end.saturating_sub(max_len);
            // A window that does not reach the history's start is full (max_len >= stride
            // events): it trains its last `stride` targets, and the next one ends where they begin.
            let lo = if start == 0 { 0 } else { end - stride };
            out.push(Window { user: u, start, len: end - start, skip: lo - start });
            end = lo;
        }
    }
    out
}

/// A left-aligned `[rows, max_len]` int64 batch (code + 1, 0 = padding) and its context.
struct Batch {
    items: Tensor,
    context: Vec<Tensor>,
    /// Position of each row's last event.
    last: Tensor,
}

fn batch(rows: &[(&[u32], Vec<&[u32]>)], max_len: usize, device: Device) -> Result<Batch> {
    let b = rows.len();
    let n_ctx = rows.first().map_or(0, |r| r.1.len());
    let mut items = vec![0i64; b * max_len];
    let mut ctx = vec![vec![0i64; b * max_len]; n_ctx];
    let mut last = Vec::with_capacity(b);
    for (i, (seq, cols)) in rows.iter().enumerate() {
        let seq = &seq[seq.len().saturating_sub(max_len)..];
        for (j, &it) in seq.iter().enumerate() {
            items[i * max_len + j] = it as i64 + 1;
        }
        for (c, col) in cols.iter().enumerate() {
            let col = &col[col.len().saturating_sub(max_len)..];
            for (j, &v) in col.iter().enumerate() {
                // An unknown context value (`u32::MAX`) reads as padding: no contribution.
                ctx[c][i * max_len + j] = v.checked_add(1).map_or(0, i64::from);
            }
        }
        last.push(seq.len().saturating_sub(1) as i64);
    }
    let shape = [b as i64, max_len as i64];
    Ok(Batch {
        items: Tensor::f_from_slice(&items)?.f_view(shape)?.f_to_device(device)?,
        context: ctx
            .iter()
            .map(|c| Ok(Tensor::f_from_slice(c)?.f_view(shape)?.f_to_device(device)?))
            .collect::<Result<_>>()?,
        last: Tensor::f_from_slice(&last)?.f_to_device(device)?,
    })
}

/// The state of one training epoch that every step updates.
struct EpochRun<'a> {
    opt: &'a mut nn::Optimizer,
    /// The epoch's stream: window order or lane order, sampled negatives.
    rng: rand_xoshiro::Xoshiro256PlusPlus,
    pb: &'a crate::progress::Bar,
    epoch: usize,
    loss_sum: f64,
    positions: i64,
}

/// Steps of a session-parallel epoch with `lanes` lanes, for the progress bar: each user of
/// two or more events occupies a lane for `len - 1` steps, taking the lane that frees first.
/// Counted in user order; the epochs' random orders change it a little.
pub(super) fn session_steps(data: &Sequences, lanes: usize) -> usize {
    use std::cmp::Reverse;
    let mut free: std::collections::BinaryHeap<Reverse<usize>> = (0..lanes).map(|_| Reverse(0)).collect();
    let mut end = 0;
    for u in 0..data.users.len() {
        let steps = data.sequence(u).len().saturating_sub(1);
        if steps > 0 {
            let Reverse(t) = free.pop().unwrap_or(Reverse(0));
            end = end.max(t + steps);
            free.push(Reverse(t + steps));
        }
    }
    end
}

impl SequentialRecommender {
    pub(crate) fn train(p: &SequentialParams, data: &Sequences) -> Result<Self> {
        ensure!(data.n_events() > 0, "no events to train on");
        let device = p.device.resolve()?;
        let (train_data, targets) = if p.patience.is_some() {
            let (t, targets) = data.leave_last_out();
            ensure!(
                targets.iter().any(Option::is_some),
                "early stopping holds out each user's last event, but no user has two events; \
                 set patience to None"
            );
            (t, Some(targets))
        } else {
            (data.clone(), None)
        };
        let wins = windows(&train_data, p.max_len, p.window_stride());
        ensure!(!wins.is_empty(), "no user has two events: nothing to learn an order from");

        let _rng = FIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _threads = crate::vision::ThreadGuard::set(p.num_threads);
        tch::manual_seed(p.seed as i64);
        let sizes: Vec<usize> = data.context.iter().map(|c| c.values.len()).collect();
        let mut model = SequentialRecommender {
            params: p.clone(),
            data: train_data,
            popularity: popularity(data),
            history: SeqHistory { device: format!("{device:?}"), ..Default::default() },
            net: SeqNet::new(p, data.items.len(), &sizes, device),
        };
        model.fit_loop(&wins, targets.as_deref())?;
        if targets.is_some() {
            // Serve from every event, the held-out ones included.
            model.data = data.clone();
        }
        Ok(model)
    }

    fn fit_loop(&mut self, wins: &[Window], targets: Option<&[Option<u32>]>) -> Result<()> {
        let p = self.params.clone();
        let mut opt =
            nn::Adam { wd: p.weight_decay, ..Default::default() }.build(self.net.var_store(), p.learning_rate)?;
        let mut order: Vec<usize> = (0..wins.len()).collect();
        let steps = match p.batching {
            SeqBatching::Windows => order.len().div_ceil(p.batch_size),
            SeqBatching::SessionParallel => session_steps(&self.data, p.batch_size),
        };
        let pb = crate::progress::Bar::batches(p.show_progress, (steps * p.epochs) as u64);
        let mut best: Option<(f64, Vec<(String, Tensor)>)> = None;
        let mut since_best = 0usize;
        let mut train_seconds = 0f64;
        for epoch in 0..p.epochs {
            let started = Instant::now();
            pb.set_prefix(format!("epoch {}/{}", epoch + 1, p.epochs));
            let mut run = EpochRun {
                opt: &mut opt,
                rng: crate::rng::stream(p.seed, EPOCH_STREAM, epoch as u64),
                pb: &pb,
                epoch,
                loss_sum: 0.0,
                positions: 0,
            };
            match p.batching {
                SeqBatching::Windows => self.epoch_windows(wins, &mut order, &mut run)?,
                SeqBatching::SessionParallel => self.epoch_sessions(&mut run)?,
            }
            let (loss_sum, positions) = (run.loss_sum, run.positions);
            train_seconds += started.elapsed().as_secs_f64();
            let val_ndcg = match targets {
                Some(t) => Some(self.ndcg_at_10(t)?),
                None => None,
            };
            let stats = SeqEpoch {
                epoch: epoch + 1,
                loss: loss_sum / positions.max(1) as f64,
                val_ndcg,
                seconds: started.elapsed().as_secs_f64(),
            };
            pb.epoch_line(format!(
                "epoch {:>3}: loss {:.4}{} ({:.2} s)",
                stats.epoch,
                stats.loss,
                val_ndcg.map_or(String::new(), |v| format!(" | val NDCG@10 {v:.4}")),
                stats.seconds
            ));
            self.history.epochs.push(stats);
            if let Some(v) = val_ndcg {
                if best.as_ref().is_none_or(|(b, _)| v > *b) {
                    best = Some((v, self.net.snapshot()));
                    self.history.best_epoch = Some(epoch + 1);
                    since_best = 0;
                } else {
                    since_best += 1;
                    if p.patience.is_some_and(|pat| since_best >= pat) {
                        self.history.stopped_early = epoch + 1 < p.epochs;
                        break;
                    }
                }
            }
        }
        pb.finish_and_clear();
        self.history.seconds_per_epoch = train_seconds / self.history.epochs.len().max(1) as f64;
        if let Some((_, weights)) = best {
            if self.history.best_epoch != Some(self.history.epochs.len()) {
                self.net.restore(&weights)?;
            }
        }
        Ok(())
    }

    /// One pass over the windows in a fresh random order, `batch_size` windows per step,
    /// a target at every position.
    fn epoch_windows(&mut self, wins: &[Window], order: &mut [usize], run: &mut EpochRun<'_>) -> Result<()> {
        let p = &self.params;
        let device = self.net.device();
        order.shuffle(&mut run.rng);
        for chunk in order.chunks(p.batch_size) {
            // Inputs are the `len` events of each window, targets the events after each.
            let inputs: Vec<(&[u32], Vec<&[u32]>)> = chunk
                .iter()
                .map(|&w| {
                    let Window { user, start, len, .. } = wins[w];
                    let ctx = (0..self.data.context.len())
                        .map(|c| &self.data.context_sequence(c, user)[start..start + len])
                        .collect();
                    (&self.data.sequence(user)[start..start + len], ctx)
                })
                .collect();
            let b = batch(&inputs, p.max_len, device)?;
            let mut tgt = vec![-1i64; chunk.len() * p.max_len];
            for (i, &w) in chunk.iter().enumerate() {
                let Window { user, start, len, skip } = wins[w];
                for (j, &t) in self.data.sequence(user)[start + 1..=start + len].iter().enumerate().skip(skip) {
                    tgt[i * p.max_len + j] = t as i64;
                }
            }
            let hidden = self.net.forward(&b.items, &b.context, true);
            let h = hidden.f_view([-1, p.factors as i64])?;
            self.train_step(&h, &tgt, run)?;
        }
        Ok(())
    }

    /// One epoch of GRU4Rec's session-parallel mini-batches (Hidasi et al. 2016):
    /// `batch_size` lanes each read one user's events in order, one event per step, and
    /// carry the GRU state to the next step (gradients stop there: back-propagation through
    /// one step, as GRU4Rec's). A lane whose user has no next event takes the next user in
    /// the epoch's random order, with a zero state. No padding, and a history longer than
    /// `max_len` is read whole.
    fn epoch_sessions(&mut self, run: &mut EpochRun<'_>) -> Result<()> {
        let device = self.net.device();
        let n_ctx = self.data.context.len();
        let mut users: Vec<usize> = (0..self.data.users.len()).filter(|&u| self.data.sequence(u).len() >= 2).collect();
        users.shuffle(&mut run.rng);
        let n_lanes = self.params.batch_size.min(users.len());
        let mut queue = users.into_iter();
        // (user, position of the lane's current input event)
        let mut lanes: Vec<Option<(usize, usize)>> = vec![None; n_lanes];
        let mut state = self.net.zero_state(n_lanes as i64)?;
        loop {
            let mut carry = vec![1f32; n_lanes];
            for (lane, keep) in lanes.iter_mut().zip(&mut carry) {
                if lane.is_none() {
                    *lane = queue.next().map(|u| (u, 0));
                    *keep = 0.0;
                }
            }
            if lanes.iter().all(Option::is_none) {
                return Ok(());
            }
            // Inactive lanes (the queue ran dry) read padding and have no target.
            let (mut items, mut tgt) = (vec![0i64; n_lanes], vec![-1i64; n_lanes]);
            let mut ctx = vec![vec![0i64; n_lanes]; n_ctx];
            for (k, &(u, pos)) in lanes.iter().enumerate().filter_map(|(k, l)| l.as_ref().map(|l| (k, l))) {
                let seq = self.data.sequence(u);
                items[k] = seq[pos] as i64 + 1;
                tgt[k] = seq[pos + 1] as i64;
                for (c, col) in ctx.iter_mut().enumerate() {
                    col[k] = self.data.context_sequence(c, u)[pos].checked_add(1).map_or(0, i64::from);
                }
            }
            let items = Tensor::f_from_slice(&items)?.f_to_device(device)?;
            let ctx =
                ctx.iter().map(|c| Ok(Tensor::f_from_slice(c)?.f_to_device(device)?)).collect::<Result<Vec<_>>>()?;
            let carry = Tensor::f_from_slice(&carry)?.f_view([1, n_lanes as i64, 1])?.f_to_device(device)?;
            let (h, next_state) = self.net.gru_step(&items, &ctx, &(state * carry), true)?;
            self.train_step(&h, &tgt, run)?;
            state = next_state.f_detach()?;
            for lane in lanes.iter_mut() {
                if let Some((u, pos)) = lane {
                    *pos += 1;
                    if *pos + 1 >= self.data.sequence(*u).len() {
                        *lane = None;
                    }
                }
            }
        }
    }

    /// One optimiser step on hidden states `h` `[rows, d]` and their targets (`-1`: none),
    /// with the configured loss; a non-finite loss is an error (training diverged).
    fn train_step(&self, h: &Tensor, tgt: &[i64], run: &mut EpochRun<'_>) -> Result<()> {
        let p = &self.params;
        let device = self.net.device();
        let n_items = self.data.items.len() as i64;
        let tgt = Tensor::f_from_slice(tgt)?.f_to_device(device)?;
        let keep = tgt.f_ge(0)?.f_nonzero()?.f_squeeze_dim(1)?;
        let h = h.f_index_select(0, &keep)?;
        let t = tgt.f_index_select(0, &keep)?;
        let w = self.net.item_weights();
        let loss = match p.loss {
            SeqLoss::Ce => h.f_matmul(&w.f_transpose(0, 1)?)?.f_cross_entropy_loss::<Tensor>(
                &t,
                None,
                tch::Reduction::Mean,
                -100,
                0.0,
            )?,
            SeqLoss::Bce => {
                let n_pos = t.size()[0];
                let neg: Vec<i64> =
                    (0..n_pos as usize * p.negatives).map(|_| run.rng.random_range(0..n_items)).collect();
                let neg = Tensor::f_from_slice(&neg)?.f_view([n_pos, p.negatives as i64])?.f_to_device(device)?;
                let pos_logit = (&h * w.f_index_select(0, &t)?).f_sum_dim_intlist(-1, false, Kind::Float)?;
                let neg_logit =
                    (h.f_unsqueeze(1)? * w.f_index(&[Some(neg)])?).f_sum_dim_intlist(-1, false, Kind::Float)?;
                let ones = pos_logit.f_ones_like()?;
                let zeros = neg_logit.f_zeros_like()?;
                pos_logit.f_binary_cross_entropy_with_logits::<Tensor>(&ones, None, None, tch::Reduction::Mean)?
                    + neg_logit.f_binary_cross_entropy_with_logits::<Tensor>(
                        &zeros,
                        None,
                        None,
                        tch::Reduction::Mean,
                    )?
            }
        };
        run.opt.backward_step(&loss);
        let l = loss.double_value(&[]);
        if !l.is_finite() {
            run.pb.finish_and_clear();
            return Err(Error::invalid(format!(
                "training diverged: loss is {l} at epoch {}; lower the learning rate",
                run.epoch + 1
            )));
        }
        let n = keep.size()[0];
        run.loss_sum += l * n as f64;
        run.positions += n;
        run.pb.inc(1);
        run.pb.set_message(format!("loss {:.4}", run.loss_sum / run.positions.max(1) as f64));
        Ok(())
    }

    /// NDCG@10 of `targets` (one per user, `None` skipped) over all items, each user's
    /// history masked.
    fn ndcg_at_10(&self, targets: &[Option<u32>]) -> Result<f64> {
        let users: Vec<usize> = (0..targets.len()).filter(|&u| targets[u].is_some()).collect();
        let (mut sum, mut n) = (0f64, 0usize);
        for chunk in users.chunks(CHUNK) {
            let scores = self.user_scores(chunk)?;
            for (row, &u) in scores.outer_iter().zip(chunk) {
                let t = targets[u].expect("filtered") as usize;
                let rank = next_item_rank(row.as_slice().expect("contiguous row"), self.data.sequence(u), t);
                if rank < 10 {
                    sum += 1.0 / ((rank + 2) as f64).log2();
                }
                n += 1;
            }
        }
        Ok(sum / n.max(1) as f64)
    }

    /// Next-item scores `[rows, n_items]` for item windows (codes) with their context.
    fn window_scores(&self, rows: &[(&[u32], Vec<&[u32]>)]) -> Result<Array2<f32>> {
        let n_items = self.data.items.len();
        let mut out = Array2::<f32>::zeros((rows.len(), n_items));
        for (k, chunk) in rows.chunks(CHUNK).enumerate() {
            let b = batch(chunk, self.params.max_len, self.net.device())?;
            let scores = tch::no_grad(|| -> Result<Tensor> {
                let h = self.net.forward(&b.items, &b.context, false);
                let d = self.params.factors as i64;
                let idx = b.last.f_view([-1, 1, 1])?.f_expand([-1, 1, d], false)?;
                let last = h.f_gather(1, &idx, false)?.f_squeeze_dim(1)?;
                Ok(last.f_matmul(&self.net.item_weights().f_transpose(0, 1)?)?.f_to_device(Device::Cpu)?)
            })?;
            let flat = Vec::<f32>::try_from(&scores.f_flatten(0, -1)?)?;
            let start = k * CHUNK;
            for (i, row) in flat.chunks(n_items).enumerate() {
                out.row_mut(start + i).assign(&ndarray::ArrayView1::from(row));
            }
        }
        Ok(out)
    }

    /// Next-item scores `[users.len(), n_items]` of training users (by index) from their
    /// histories, computed in chunks of 256 users.
    pub fn user_scores(&self, users: &[usize]) -> Result<Array2<f32>> {
        let n = self.data.users.len();
        if let Some(&u) = users.iter().find(|&&u| u >= n) {
            return Err(Error::UnknownId { kind: "user", id: format!("index {u} (model has {n} users)") });
        }
        let rows: Vec<(&[u32], Vec<&[u32]>)> = users
            .iter()
            .map(|&u| {
                let ctx = (0..self.data.context.len()).map(|c| self.data.context_sequence(c, u)).collect();
                (self.data.sequence(u), ctx)
            })
            .collect();
        self.window_scores(&rows)
    }

    fn rank(&self, scores: ndarray::ArrayView1<f32>, seen: &[usize], n: usize, filter: &Filter) -> Vec<(usize, f32)> {
        top_n(scores.as_slice().expect("contiguous row"), n, |i| filter.allows(i, seen))
    }

    fn seen(&self, u: usize) -> Vec<usize> {
        let mut s: Vec<usize> = self.data.sequence(u).iter().map(|&i| i as usize).collect();
        s.sort_unstable();
        s.dedup();
        s
    }

    /// The `n` best next items for training user `user` (by external id), given their whole
    /// history; `exclude_seen` drops items already in it.
    pub fn recommend(&self, user: &ExternalId, n: usize, exclude_seen: bool) -> Result<Ranked> {
        Ok(self.recommend_ids(user, n, &Filter::new().exclude_seen(exclude_seen))?.items)
    }

    /// The `n` best next items for a live session given as item ids (oldest first) with one
    /// context value per item and column (`context[c][i]`; empty when the model has no
    /// context). Items the model never saw are skipped (a new product cannot be embedded);
    /// when none is known the list is the popularity ranking with `fallback` set.
    pub fn recommend_sequence(
        &self,
        items: &[ExternalId],
        context: &[Vec<ExternalId>],
        n: usize,
        exclude_seen: bool,
    ) -> Result<IdRecs> {
        check_n(n)?;
        let cols = &self.data.context;
        ensure!(
            context.len() == cols.len(),
            shape format!("{} context columns ({})", cols.len(), cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")),
            context.len()
        );
        for (col, values) in cols.iter().zip(context) {
            ensure!(
                values.len() == items.len(),
                shape format!("{} values in context column {:?} (one per item)", items.len(), col.name),
                values.len()
            );
        }
        // (position in the session, item code) of the items the model knows.
        let known: Vec<(usize, u32)> =
            items.iter().enumerate().filter_map(|(k, id)| Some((k, self.data.items.index(id)? as u32))).collect();
        let seq: Vec<u32> = known.iter().map(|&(_, code)| code).collect();
        let ctx: Vec<Vec<u32>> = cols
            .iter()
            .zip(context)
            .map(|(col, values)| {
                known.iter().map(|&(k, _)| col.values.index(&values[k]).map_or(u32::MAX, |v| v as u32)).collect()
            })
            .collect();
        let mut seen: Vec<usize> = seq.iter().map(|&i| i as usize).collect();
        seen.sort_unstable();
        seen.dedup();
        let filter = Filter::new().exclude_seen(exclude_seen);
        if seq.is_empty() {
            let pop: Vec<f32> = self.popularity.iter().map(|&c| c as f32).collect();
            let ranked = top_n(&pop, n, |i| filter.allows(i, &seen));
            return Ok(IdRecs { items: to_external(&self.data.items, ranked), fallback: true });
        }
        let ctx_refs: Vec<&[u32]> = ctx.iter().map(Vec::as_slice).collect();
        let scores = self.window_scores(&[(&seq, ctx_refs)])?;
        let ranked = self.rank(scores.row(0), &seen, n, &filter);
        Ok(IdRecs { items: to_external(&self.data.items, ranked), fallback: false })
    }

    /// The parameters the model was trained with.
    pub fn params(&self) -> &SequentialParams {
        &self.params
    }

    /// The training history (losses, validation NDCG@10, best epoch).
    pub fn history(&self) -> &SeqHistory {
        &self.history
    }

    /// The training sequences (every event, in time order).
    pub fn sequences(&self) -> &Sequences {
        &self.data
    }

    /// The context columns the model reads.
    pub fn context(&self) -> &[ContextColumn] {
        &self.data.context
    }

    /// The device the network is on.
    pub fn device(&self) -> Device {
        self.net.device()
    }

    // ---- persistence -------------------------------------------------------------------

    fn writer(&self) -> Result<ModelWriter> {
        let meta = Meta {
            params: self.params.clone(),
            users: self.data.users.clone(),
            items: self.data.items.clone(),
            context: self.data.context.clone(),
            history: self.history.clone(),
        };
        let indptr: Vec<u64> = self.data.indptr.iter().map(|&v| v as u64).collect();
        let mut w = ModelWriter::new(self.params.arch.kind(), &meta)?
            .u64("indptr", &[indptr.len()], &indptr)
            .u32("events", &[self.data.events.len()], &self.data.events)
            .u32("popularity", &[self.popularity.len()], &self.popularity);
        for (c, codes) in self.data.context_codes.iter().enumerate() {
            w = w.u32(&format!("context{c}"), &[codes.len()], codes);
        }
        self.net.write_weights(w)
    }

    /// The model file as bytes (also what Python pickles).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.writer()?.to_bytes()
    }

    /// Saves the model file (atomically).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.writer()?.save(path)
    }

    /// Reads a model (either architecture) from its bytes onto `device`.
    pub fn from_bytes_on(bytes: Vec<u8>, device: DeviceChoice) -> Result<Self> {
        let kind = peek_kind(&bytes)?;
        if kind != KIND_SASREC && kind != KIND_GRU4REC {
            return Err(Error::format(format!(
                "file holds a {kind:?} model, expected a sequential recommender ({KIND_SASREC:?} or {KIND_GRU4REC:?})"
            )));
        }
        Self::read(&ModelReader::from_bytes(bytes, &kind)?, device.resolve()?)
    }

    /// Reads a model from its bytes onto [`DeviceChoice::Auto`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_bytes_on(bytes, DeviceChoice::Auto)
    }

    /// Loads a model file onto [`DeviceChoice::Auto`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(bytes).map_err(|e| match e {
            Error::ModelFormat(m) => Error::format(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn read(r: &ModelReader, device: Device) -> Result<Self> {
        let meta: Meta = r.meta()?;
        let bad = |m: String| Error::format(m);
        crate::params::Params::check(&meta.params).map_err(|e| bad(format!("parameters: {e}")))?;
        if meta.params.arch.kind() != r.kind() {
            return Err(bad(format!("file kind {:?} does not match its architecture", r.kind())));
        }
        let (nu, ni) = (meta.users.len(), meta.items.len());
        let indptr: Vec<usize> = r.u64("indptr")?.1.into_iter().map(|v| v as usize).collect();
        let events = r.u32("events")?.1;
        let popularity = r.u32("popularity")?.1;
        let sorted = indptr.windows(2).all(|w| w[0] <= w[1]);
        if indptr.len() != nu + 1 || indptr.first() != Some(&0) || indptr.last() != Some(&events.len()) || !sorted {
            return Err(bad("event offsets do not match the users".into()));
        }
        if events.iter().any(|&i| i as usize >= ni) || popularity.len() != ni {
            return Err(bad("events name items the model does not have".into()));
        }
        let mut context_codes = Vec::with_capacity(meta.context.len());
        for (c, col) in meta.context.iter().enumerate() {
            let codes = r.u32(&format!("context{c}"))?.1;
            if codes.len() != events.len() || codes.iter().any(|&v| v as usize >= col.values.len()) {
                return Err(bad(format!("context column {:?} does not match the events", col.name)));
            }
            context_codes.push(codes);
        }
        let sizes: Vec<usize> = meta.context.iter().map(|c| c.values.len()).collect();
        // Building a network draws initial weights from libtorch's process-wide generator:
        // hold the fit lock so a load never shifts the random stream of a seeded fit.
        let net = {
            let _rng = FIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut net = SeqNet::new(&meta.params, ni, &sizes, device);
            net.read_weights(r)?;
            net
        };
        Ok(SequentialRecommender {
            params: meta.params,
            data: Sequences {
                users: meta.users,
                items: meta.items,
                indptr,
                events,
                context: meta.context,
                context_codes,
            },
            popularity,
            history: meta.history,
            net,
        })
    }
}

/// Rank (0 = first) of item `target` among all items by `scores`, the items of `history`
/// masked except the target itself: the full-ranking protocol of next-item evaluation.
pub fn next_item_rank(scores: &[f32], history: &[u32], target: usize) -> usize {
    let mut seen = history.to_vec();
    seen.sort_unstable();
    let t = scores[target];
    scores
        .iter()
        .enumerate()
        .filter(|&(i, &s)| s > t && i != target && seen.binary_search(&(i as u32)).is_err())
        .count()
}

fn popularity(data: &Sequences) -> Vec<u32> {
    let mut counts = vec![0u32; data.items.len()];
    for &i in &data.events {
        counts[i as usize] = counts[i as usize].saturating_add(1);
    }
    counts
}

#[derive(Serialize, Deserialize)]
struct Meta {
    params: SequentialParams,
    users: IdMap,
    items: IdMap,
    context: Vec<ContextColumn>,
    history: SeqHistory,
}

impl IdRecommender for SequentialRecommender {
    fn user_ids(&self) -> &IdMap {
        &self.data.users
    }

    fn item_ids(&self) -> &IdMap {
        &self.data.items
    }

    fn recommend_ids(&self, user: &ExternalId, n: usize, filter: &Filter) -> Result<IdRecs> {
        check_n(n)?;
        filter.validate(self.data.items.len())?;
        let u = self.data.users.index_or_err(user, "user")?;
        let scores = self.user_scores(&[u])?;
        let ranked = self.rank(scores.row(0), &self.seen(u), n, filter);
        Ok(IdRecs { items: to_external(&self.data.items, ranked), fallback: false })
    }

    fn recommend_ids_batch(&self, users: &[ExternalId], n: usize, filter: &Filter) -> Result<Vec<IdRecs>> {
        check_n(n)?;
        filter.validate(self.data.items.len())?;
        let idx: Vec<usize> = users.iter().map(|u| self.data.users.index_or_err(u, "user")).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(idx.len());
        for chunk in idx.chunks(CHUNK) {
            let scores = self.user_scores(chunk)?;
            for (row, &u) in scores.outer_iter().zip(chunk) {
                let ranked = self.rank(row, &self.seen(u), n, filter);
                out.push(IdRecs { items: to_external(&self.data.items, ranked), fallback: false });
            }
        }
        Ok(out)
    }

    /// Cosine similarity of the item embeddings (the output layer).
    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Ranked> {
        check_n(n)?;
        let i = self.data.items.index_or_err(item, "item")?;
        let sims = tch::no_grad(|| -> Result<Vec<f32>> {
            let w = self.net.item_weights().f_to_device(Device::Cpu)?;
            let norms = w.f_norm_scalaropt_dim(2, [1i64].as_slice(), false)?.f_clamp_min(1e-12)?;
            let unit = w.f_div(&norms.f_unsqueeze(1)?)?;
            let s = unit.f_matmul(&unit.f_get(i as i64)?.f_unsqueeze(1)?)?.f_squeeze_dim(1)?;
            Ok(Vec::<f32>::try_from(&s)?)
        })?;
        Ok(to_external(&self.data.items, top_n(&sims, n, |_| true)))
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;
    use crate::data::ExternalId;

    #[test]
    fn windows_train_every_target_once_with_enough_events_before_it() {
        for n in [1usize, 2, 9, 10, 11, 17, 30, 131] {
            let users = vec![ExternalId::from("u"); n];
            let items: Vec<ExternalId> = (0..n as i64).map(ExternalId::from).collect();
            let times: Vec<i64> = (0..n as i64).collect();
            let data = Sequences::from_events(&users, &items, &times, &[]).unwrap();
            for (max_len, stride) in [(8, 8), (8, 4), (8, 3), (8, 1), (50, 25)] {
                let mut trained = vec![0usize; n];
                for w in windows(&data, max_len, stride) {
                    assert!(w.len <= max_len && w.skip < w.len.max(1), "n {n}: {:?}", (w.start, w.len, w.skip));
                    let first = w.start + 1 + w.skip;
                    for (t, count) in trained.iter_mut().enumerate().take(w.start + w.len + 1).skip(first) {
                        *count += 1;
                        let before = t - w.start; // events the network reads for target t
                        assert!(
                            before >= t.min(max_len - stride + 1),
                            "n {n}, max_len {max_len}, stride {stride}: target {t} sees {before}"
                        );
                    }
                }
                let want: Vec<usize> = (0..n).map(|t| usize::from(t > 0)).collect();
                assert_eq!(trained, want, "n {n}, max_len {max_len}, stride {stride}");
            }
        }
    }
}
