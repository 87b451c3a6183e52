//! Training: windows or prefixes of each user's history (or GRU4Rec's session-parallel lanes), the
//! epoch loop with early stopping on the held-out last events, and one optimiser step.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::Rng;
use tch::nn::OptimizerConfig;
use tch::{nn, Kind, Tensor};

use super::data::Sequences;
use super::model::{batch, next_item_rank, SeqEpoch, SeqHistory, SequentialRecommender, CHUNK};
use super::net::SeqNet;
use super::params::{SeqBatching, SeqLoss, SequentialParams};
use crate::vision::FIT_LOCK;
use crate::{ensure, Error, Result};

/// Purpose of the per-epoch random stream (window order, sampled negatives).
const EPOCH_STREAM: u64 = 0x5E0;

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

/// One window per target (every event except each user's first): the up to `max_len` events
/// before it, trained at its last position only.
fn prefixes(data: &Sequences, max_len: usize) -> Vec<Window> {
    let mut out = Vec::new();
    for u in 0..data.users.len() {
        for end in 1..data.sequence(u).len() {
            let start = end.saturating_sub(max_len);
            out.push(Window { user: u, start, len: end - start, skip: end - start - 1 });
        }
    }
    out
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
        // Session-parallel lanes train from the histories, not these windows; the windows
        // still tell whether any user has an order to learn.
        let wins = match p.batching {
            SeqBatching::Prefixes => prefixes(&train_data, p.max_len),
            SeqBatching::Windows | SeqBatching::SessionParallel => windows(&train_data, p.max_len, p.window_stride()),
        };
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
            SeqBatching::Windows | SeqBatching::Prefixes => order.len().div_ceil(p.batch_size),
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
                SeqBatching::Windows | SeqBatching::Prefixes => self.epoch_windows(wins, &mut order, &mut run)?,
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

    /// One pass over the windows (or prefixes) in a fresh random order, `batch_size` per
    /// step, a target at every position after the window's `skip`.
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
}

fn popularity(data: &Sequences) -> Vec<u32> {
    let mut counts = vec![0u32; data.items.len()];
    for &i in &data.events {
        counts[i as usize] = counts[i as usize].saturating_add(1);
    }
    counts
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

    #[test]
    fn prefixes_train_each_target_alone_after_all_it_can_see() {
        for n in [1usize, 2, 9, 10, 11, 30] {
            let users = vec![ExternalId::from("u"); n];
            let items: Vec<ExternalId> = (0..n as i64).map(ExternalId::from).collect();
            let times: Vec<i64> = (0..n as i64).collect();
            let data = Sequences::from_events(&users, &items, &times, &[]).unwrap();
            let max_len = 8;
            let wins = prefixes(&data, max_len);
            assert_eq!(wins.len(), n.saturating_sub(1), "n {n}");
            for (k, w) in wins.iter().enumerate() {
                let target = k + 1; // in time order
                assert_eq!(w.skip + 1, w.len, "n {n}: only the last position trains");
                assert_eq!(w.start + w.len, target, "n {n}: the window ends just before its target");
                assert_eq!(w.len, target.min(max_len), "n {n}: target {target} sees all it can");
            }
        }
    }
}
