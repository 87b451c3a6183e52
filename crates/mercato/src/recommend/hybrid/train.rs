//! The deterministic blocked SGD schedule and the per-block update kernels.
//!
//! Users and items are dealt (seeded permutation) into `g` blocks each. An epoch visits the
//! `g` strata in a seeded order; stratum `s` runs the blocks `(b, (b + s) mod g)` at once.
//! A feature used only by users (items) of one block is *owned* by it, so the blocks of a
//! stratum write disjoint parameter rows (identity features always are). Features shared
//! across blocks (genres, age bands) are trained on a private copy per block and averaged
//! after the stratum, in block order. Nothing depends on which thread
//! runs a block, so the model is a function of the data, the parameters and the seed alone.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::features::Features;
use super::params::{HybridMFParams, Loss, Schedule};

pub(crate) use crate::rng::stream;

const INIT: u64 = 0x4859_4252_4944_0001;
const BLOCKS: u64 = 0x4859_4252_4944_0002;
const STRATA: u64 = 0x4859_4252_4944_0003;
const WORK: u64 = 0x4859_4252_4944_0004;

/// Largest WARP weight (LightFM's `MAX_LOSS`): keeps early steps on rare items stable.
const MAX_LOSS: f32 = 10.0;

/// Embedding rows (`k` factors then the bias) with their optimiser state: per row `aw`
/// values, Adagrad's `w` sums of squared gradients, or Adadelta's `w` averages of squared
/// gradients followed by `w` averages of squared updates.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    pub w: usize,
    pub rows: Vec<f32>,
    pub aw: usize,
    pub acc: Vec<f32>,
}

impl Table {
    /// LightFM's initialisation: factors uniform in `(-0.5, 0.5) / k`, biases 0, one RNG
    /// stream per row so the values do not depend on any ordering; Adagrad's accumulators at
    /// 1, Adadelta's at 0 (as LightFM's).
    pub fn init(n: usize, k: usize, seed: u64, side: u64, schedule: Schedule) -> Table {
        let w = k + 1;
        let mut rows = vec![0f32; n * w];
        for (r, row) in rows.chunks_exact_mut(w).enumerate() {
            let mut rng = stream(seed, INIT ^ side, r as u64);
            for v in &mut row[..k] {
                *v = (rng.random::<f32>() - 0.5) / k as f32;
            }
        }
        let aw = w * schedule.state_per_parameter();
        Table { w, rows, aw, acc: vec![schedule.initial_state(); n * aw] }
    }
}

/// How a step turns a gradient into an update.
#[derive(Clone, Copy)]
enum Rate {
    Adagrad { lr: f32 },
    Adadelta { rho: f32, eps: f32 },
}

/// One side (users or items) laid out for training: features renumbered so that each
/// block's owned features are contiguous, shared ones last.
struct Side {
    indptr: Vec<usize>,
    idx: Vec<u32>,
    wt: Vec<f32>,
    /// Training position of each original feature.
    pos: Vec<u32>,
    /// `g + 1` bounds of the owned feature ranges; `bounds[g]..n` are shared.
    bounds: Vec<usize>,
    /// Block of each row.
    block: Vec<u32>,
}

impl Side {
    fn new(f: &Features, g: usize, rng: &mut Xoshiro256PlusPlus) -> Side {
        let n = f.n_rows();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(rng);
        let mut block = vec![0u32; n];
        for (p, &r) in order.iter().enumerate() {
            block[r as usize] = (p * g / n.max(1)) as u32;
        }
        // owner: g+1 = unused, g = shared, else the owning block.
        let unused = g as u32 + 1;
        let mut owner = vec![unused; f.n_cols()];
        for (r, &b) in block.iter().enumerate() {
            for &c in f.row(r).0 {
                let o = &mut owner[c as usize];
                if *o == unused {
                    *o = b;
                } else if *o != b {
                    *o = g as u32;
                }
            }
        }
        let key = |o: u32| if o == unused { 0 } else { o as usize };
        let mut counts = vec![0usize; g + 1];
        for &o in &owner {
            counts[key(o)] += 1;
        }
        let mut bounds = vec![0usize; g + 2];
        for b in 0..=g {
            bounds[b + 1] = bounds[b] + counts[b];
        }
        let mut next = bounds.clone();
        let pos: Vec<u32> = owner
            .iter()
            .map(|&o| {
                let p = next[key(o)];
                next[key(o)] += 1;
                p as u32
            })
            .collect();
        bounds.truncate(g + 1);
        let idx = f.indices.iter().map(|&c| pos[c as usize]).collect();
        Side { indptr: f.indptr.clone(), idx, wt: f.data.clone(), pos, bounds, block }
    }

    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.idx[a..b], &self.wt[a..b])
    }

    /// Asks the CPU to start loading row `r`'s pointers (`level` 0) or, once they are
    /// cached, its features and weights (`level` 1); a hint, no effect on results.
    #[inline(always)]
    fn prefetch(&self, r: usize, level: u8) {
        if level == 0 {
            prefetch(self.indptr.as_ptr().wrapping_add(r));
        } else if let Some(&a) = self.indptr.get(r) {
            prefetch(self.idx.as_ptr().wrapping_add(a));
            prefetch(self.wt.as_ptr().wrapping_add(a));
        }
    }

    fn shared_start(&self) -> usize {
        *self.bounds.last().expect("g + 1 bounds")
    }

    /// The table in training order, and back.
    fn permute(&self, t: &Table) -> Table {
        let mut out = t.clone();
        for (f, &p) in self.pos.iter().enumerate() {
            let p = p as usize;
            out.rows[p * t.w..][..t.w].copy_from_slice(&t.rows[f * t.w..][..t.w]);
            out.acc[p * t.aw..][..t.aw].copy_from_slice(&t.acc[f * t.aw..][..t.aw]);
        }
        out
    }
    fn unpermute(&self, t: &Table) -> Table {
        let mut out = t.clone();
        for (f, &p) in self.pos.iter().enumerate() {
            let p = p as usize;
            out.rows[f * t.w..][..t.w].copy_from_slice(&t.rows[p * t.w..][..t.w]);
            out.acc[f * t.aw..][..t.aw].copy_from_slice(&t.acc[p * t.aw..][..t.aw]);
        }
        out
    }
}

/// A block's window on one side's parameters: its owned rows, and its copy of the shared ones.
struct View<'a> {
    own: &'a mut [f32],
    own_acc: &'a mut [f32],
    own_start: usize,
    shared: Vec<f32>,
    shared_acc: Vec<f32>,
    shared_start: usize,
    w: usize,
    /// Optimiser values per row (`w` or `2w`).
    aw: usize,
}

impl View<'_> {
    #[inline]
    fn row(&self, f: u32) -> &[f32] {
        let f = f as usize;
        if f >= self.shared_start {
            &self.shared[(f - self.shared_start) * self.w..][..self.w]
        } else {
            &self.own[(f - self.own_start) * self.w..][..self.w]
        }
    }

    #[inline]
    fn row_mut(&mut self, f: u32) -> (&mut [f32], &mut [f32]) {
        let f = f as usize;
        let (w, aw) = (self.w, self.aw);
        if f >= self.shared_start {
            let r = f - self.shared_start;
            (&mut self.shared[r * w..][..w], &mut self.shared_acc[r * aw..][..aw])
        } else {
            let r = f - self.own_start;
            (&mut self.own[r * w..][..w], &mut self.own_acc[r * aw..][..aw])
        }
    }

    /// Sum of the row's feature embeddings (and biases) weighted, into `out`.
    #[inline]
    fn repr(&self, (idx, wt): (&[u32], &[f32]), out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        for (&f, &x) in idx.iter().zip(wt) {
            for (o, &e) in out.iter_mut().zip(self.row(f)) {
                *o += x * e;
            }
        }
    }

    /// A step on every feature of the row: gradient `scale * weight * dir + alpha * θ`.
    #[inline]
    fn step(&mut self, (idx, wt): (&[u32], &[f32]), dir: &[f32], scale: f32, rate: Rate, alpha: f32) {
        for (&f, &x) in idx.iter().zip(wt) {
            let (row, acc) = self.row_mut(f);
            let s = scale * x;
            match rate {
                Rate::Adagrad { lr } => {
                    for ((p, a), &d) in row.iter_mut().zip(acc.iter_mut()).zip(dir) {
                        let g = s * d + alpha * *p;
                        *p -= lr / a.sqrt() * g;
                        *a += g * g;
                    }
                }
                Rate::Adadelta { rho, eps } => {
                    let (grads, updates) = acc.split_at_mut(row.len());
                    for (((p, eg), eu), &d) in row.iter_mut().zip(grads).zip(updates).zip(dir) {
                        let g = s * d + alpha * *p;
                        *eg = rho * *eg + (1.0 - rho) * g * g;
                        let update = (*eu + eps).sqrt() / (*eg + eps).sqrt() * g;
                        *eu = rho * *eu + (1.0 - rho) * update * update;
                        *p -= update;
                    }
                }
            }
        }
    }
}

/// Read-only inputs of every block.
pub(crate) struct Ctx<'a> {
    pub params: &'a HybridMFParams,
    /// Users' positive items, sorted (for "is this negative really a positive?").
    pub positives: &'a [Vec<u32>],
    pub n_items: usize,
}

/// One training example: user, item, label (1 positive, 0 negative; only logistic uses 0).
#[derive(Clone, Copy)]
pub(crate) struct Example {
    pub u: u32,
    pub i: u32,
    pub y: f32,
}

struct Job<'a> {
    examples: &'a [Example],
    items: &'a [u32],
    users: View<'a>,
    itemv: View<'a>,
    rng: Xoshiro256PlusPlus,
}

/// `a[..k] · b[..k] + a[k] + b[k]`, summed in eight fixed lanes so the compiler can
/// vectorise it (the order of additions is fixed, so results do not depend on the CPU).
#[inline(always)]
fn dot(a: &[f32], b: &[f32], k: usize) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a[..k].chunks_exact(8), b[..k].chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s + a[k] + b[k]
}

/// A prefetch hint for the cache line holding `p` (never faults, whatever the address).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it reads nothing and cannot fault.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// WARP negatives whose feature rows are fetched ahead of their scoring.
const AHEAD: usize = 8;

/// The first negatives a WARP step will draw. They are drawn whatever the scores, so a copy
/// of the stream names them before the first is scored, and their rows (random among all
/// items, out of cache on a large catalogue) load while the earlier ones are scored: 15 %
/// off a CrossValidated fit (72,360 items). The stream itself is drawn exactly as without
/// this, so results are unchanged.
struct Upcoming {
    items: [u32; AHEAD],
    len: usize,
}

impl Upcoming {
    /// Names the next negatives and requests their row pointers.
    #[inline(always)]
    fn request(rng: &Xoshiro256PlusPlus, items: &[u32], max_sampled: usize, side: &Side) -> Upcoming {
        let mut peek = rng.clone();
        let mut up = Upcoming { items: [0; AHEAD], len: max_sampled.min(AHEAD) };
        for slot in &mut up.items[..up.len] {
            *slot = items[peek.random_range(0..items.len())];
            side.prefetch(*slot as usize, 0);
        }
        up
    }

    /// Before scoring negative number `sampled` (from 1): requests the next one's features.
    #[inline(always)]
    fn request_features(&self, sampled: usize, side: &Side) {
        if let Some(&next) = self.items[..self.len].get(sampled) {
            side.prefetch(next as usize, 1);
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn is_positive(pos: &[u32], j: u32) -> bool {
    pos.binary_search(&j).is_ok()
}

/// Trains one block's examples (in a fresh seeded order) against its views; an AVX2 build
/// is chosen at run time where the CPU has it (no FMA contraction: same results).
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn run_block<'a, 'b>(job: &mut Job<'a>, ctx: &Ctx<'b>, us: &Side, is: &Side) {
    let p = ctx.params;
    let k = p.factors;
    let w = k + 1;
    let rate = match p.schedule {
        Schedule::Adagrad => Rate::Adagrad { lr: p.learning_rate },
        Schedule::Adadelta => Rate::Adadelta { rho: p.rho, eps: p.epsilon },
    };
    let (ua, ia) = (p.user_alpha, p.item_alpha);
    let mut ur = vec![0f32; w];
    let mut pr = vec![0f32; w];
    let mut nr = vec![0f32; w];
    let mut dir = vec![0f32; w];
    let Job { examples, items, users, itemv, rng } = job;
    if items.is_empty() || examples.is_empty() {
        return;
    }
    // A fresh permutation of the block's examples in their fixed order, so an epoch depends
    // only on its own stream (and `partial_fit` continues exactly).
    let mut order: Vec<u32> = (0..examples.len() as u32).collect();
    order.shuffle(rng);
    let pairwise = |loss: f32,
                    u: usize,
                    i: usize,
                    j: usize,
                    ur: &[f32],
                    pr: &[f32],
                    nr: &[f32],
                    dir: &mut [f32],
                    users: &mut View<'_>,
                    itemv: &mut View<'_>| {
        dir[..k].copy_from_slice(&ur[..k]);
        dir[k] = 1.0;
        itemv.step(is.row(i), dir, -loss, rate, ia);
        itemv.step(is.row(j), dir, loss, rate, ia);
        for c in 0..k {
            dir[c] = nr[c] - pr[c];
        }
        dir[k] = 0.0;
        users.step(us.row(u), dir, loss, rate, ua);
    };
    match p.loss {
        Loss::Warp | Loss::Bpr => {
            for (t, &o) in order.iter().enumerate() {
                // The rows of the examples two and one steps ahead (pointers, then features),
                // as the negatives' below.
                if let Some(&o2) = order.get(t + 2) {
                    let e2 = examples[o2 as usize];
                    us.prefetch(e2.u as usize, 0);
                    is.prefetch(e2.i as usize, 0);
                }
                if let Some(&o1) = order.get(t + 1) {
                    let e1 = examples[o1 as usize];
                    us.prefetch(e1.u as usize, 1);
                    is.prefetch(e1.i as usize, 1);
                }
                let e = examples[o as usize];
                let (u, i) = (e.u as usize, e.i as usize);
                users.repr(us.row(u), &mut ur);
                itemv.repr(is.row(i), &mut pr);
                let sp = dot(&ur, &pr, k);
                if p.loss == Loss::Bpr {
                    // Negatives by popularity, as LightFM: the item of a random example.
                    let j = examples[rng.random_range(0..examples.len())].i;
                    if is_positive(&ctx.positives[u], j) {
                        continue;
                    }
                    itemv.repr(is.row(j as usize), &mut nr);
                    let loss = sigmoid(dot(&ur, &nr, k) - sp);
                    pairwise(loss, u, i, j as usize, &ur, &pr, &nr, &mut dir, users, itemv);
                    continue;
                }
                let upcoming = Upcoming::request(rng, items, p.max_sampled, is);
                for sampled in 1..=p.max_sampled {
                    upcoming.request_features(sampled, is);
                    let j = items[rng.random_range(0..items.len())];
                    itemv.repr(is.row(j as usize), &mut nr);
                    if dot(&ur, &nr, k) > sp - 1.0 {
                        if is_positive(&ctx.positives[u], j) {
                            continue;
                        }
                        let loss = (((ctx.n_items - 1) / sampled).max(1) as f32).ln().min(MAX_LOSS);
                        pairwise(loss, u, i, j as usize, &ur, &pr, &nr, &mut dir, users, itemv);
                        break;
                    }
                }
            }
        }
        Loss::Logistic => {
            for &o in &order {
                let e = examples[o as usize];
                let (u, i) = (e.u as usize, e.i as usize);
                users.repr(us.row(u), &mut ur);
                itemv.repr(is.row(i), &mut pr);
                let loss = sigmoid(dot(&ur, &pr, k)) - e.y;
                dir[..k].copy_from_slice(&ur[..k]);
                dir[k] = 1.0;
                itemv.step(is.row(i), &dir, loss, rate, ia);
                dir[..k].copy_from_slice(&pr[..k]);
                users.step(us.row(u), &dir, loss, rate, ua);
            }
        }
        Loss::WarpKos => {
            // Examples are grouped by user: one step per user of the block, in the shuffled
            // order of each user's first example.
            let mut by_user: Vec<(u32, u32)> = examples.iter().map(|e| (e.u, e.i)).collect();
            by_user.sort_unstable();
            let mut starts: Vec<usize> =
                (0..by_user.len()).filter(|&x| x == 0 || by_user[x - 1].0 != by_user[x].0).collect();
            starts.shuffle(rng);
            let mut scored: Vec<(f32, u32)> = Vec::with_capacity(p.kos_n);
            for &s in &starts {
                let u = by_user[s].0;
                let end = by_user[s..].iter().position(|x| x.0 != u).map_or(by_user.len(), |l| s + l);
                let mine = &by_user[s..end];
                users.repr(us.row(u as usize), &mut ur);
                scored.clear();
                for _ in 0..p.kos_n {
                    let i = mine[rng.random_range(0..mine.len())].1;
                    itemv.repr(is.row(i as usize), &mut pr);
                    scored.push((dot(&ur, &pr, k), i));
                }
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let (sp, i) = scored[(p.kos_k - 1).min(scored.len() - 1)];
                itemv.repr(is.row(i as usize), &mut pr);
                let upcoming = Upcoming::request(rng, items, p.max_sampled, is);
                for sampled in 1..=p.max_sampled {
                    upcoming.request_features(sampled, is);
                    let j = items[rng.random_range(0..items.len())];
                    itemv.repr(is.row(j as usize), &mut nr);
                    if dot(&ur, &nr, k) > sp - 1.0 {
                        if is_positive(&ctx.positives[u as usize], j) {
                            continue;
                        }
                        let loss = (((ctx.n_items - 1) / sampled).max(1) as f32).ln().min(MAX_LOSS);
                        pairwise(loss, u as usize, i as usize, j as usize, &ur, &pr, &nr, &mut dir, users, itemv);
                        break;
                    }
                }
            }
        }
    }
}

/// Splits rows `[bounds[b], bounds[b+1])` of a width-`w` table into disjoint slices.
fn split<'a>(mut v: &'a mut [f32], bounds: &[usize], w: usize) -> Vec<Option<&'a mut [f32]>> {
    let mut out = Vec::with_capacity(bounds.len() - 1);
    for b in bounds.windows(2) {
        let (head, tail) = v.split_at_mut((b[1] - b[0]) * w);
        out.push(Some(head));
        v = tail;
    }
    out
}

/// Merges the blocks' copies of the shared rows (parameters and optimiser state) into
/// `base`: their mean, summed in block order. Each block trained its copy on its own share of
/// the stratum, so the mean is the average model (local SGD's merge). Adding every block's
/// change instead, as if the blocks had run one after another, moves a shared row `g` times
/// as far with steps sized for one block: measured on MovieLens-100k and CrossValidated (2
/// blocks), the sum fell short of LightFM's quality (AUC 0.7407 against 0.7485 on
/// CrossValidated; with Adadelta, whose steps do not shrink as its state grows, 0.9046
/// against 0.9202 on MovieLens) and the mean does not (0.7455; 0.9266).
fn merge(base: &mut [f32], copies: &[Vec<f32>]) {
    let n = copies.len() as f32;
    for (j, b) in base.iter_mut().enumerate() {
        *b = copies.iter().map(|c| c[j]).sum::<f32>() / n;
    }
}

/// Runs `epochs` epochs (numbered from `first_epoch`, which seeds their streams) on the
/// tables (in original feature order; updated in place).
#[allow(clippy::too_many_arguments)]
pub(crate) fn train(
    ctx: &Ctx<'_>,
    examples: &[Example],
    user_features: &Features,
    item_features: &Features,
    user_table: &mut Table,
    item_table: &mut Table,
    first_epoch: usize,
    epochs: usize,
    pool: &rayon::ThreadPool,
) {
    let p = ctx.params;
    let g = p.grid(examples.len()).min(user_features.n_rows().max(1)).min(ctx.n_items.max(1));
    let mut rng = stream(p.seed, BLOCKS, 0);
    let us = Side::new(user_features, g, &mut rng);
    let is = Side::new(item_features, g, &mut rng);
    let w = p.factors + 1;
    let aw = w * p.schedule.state_per_parameter();
    let mut ut = us.permute(user_table);
    let mut it = is.permute(item_table);
    let mut cells: Vec<Vec<Example>> = vec![Vec::new(); g * g];
    for e in examples {
        cells[us.block[e.u as usize] as usize * g + is.block[e.i as usize] as usize].push(*e);
    }
    let mut block_items: Vec<Vec<u32>> = vec![Vec::new(); g];
    for (i, &b) in is.block.iter().enumerate() {
        block_items[b as usize].push(i as u32);
    }
    let (uss, iss) = (us.shared_start(), is.shared_start());
    for epoch in first_epoch..first_epoch + epochs {
        let mut strata: Vec<usize> = (0..g).collect();
        strata.shuffle(&mut stream(p.seed, STRATA, epoch as u64));
        for &s in &strata {
            let (uo, us_sh) = ut.rows.split_at_mut(uss * w);
            let (uoa, us_sha) = ut.acc.split_at_mut(uss * aw);
            let (io, is_sh) = it.rows.split_at_mut(iss * w);
            let (ioa, is_sha) = it.acc.split_at_mut(iss * aw);
            let mut u_own = split(uo, &us.bounds, w);
            let mut u_acc = split(uoa, &us.bounds, aw);
            let mut i_own = split(io, &is.bounds, w);
            let mut i_acc = split(ioa, &is.bounds, aw);
            let mut jobs = Vec::with_capacity(g);
            for b in 0..g {
                let c = (b + s) % g;
                jobs.push(Job {
                    examples: &cells[b * g + c],
                    items: &block_items[c],
                    users: View {
                        own: u_own[b].take().expect("block once"),
                        own_acc: u_acc[b].take().expect("block once"),
                        own_start: us.bounds[b],
                        shared: us_sh.to_vec(),
                        shared_acc: us_sha.to_vec(),
                        shared_start: uss,
                        w,
                        aw,
                    },
                    itemv: View {
                        own: i_own[c].take().expect("block once"),
                        own_acc: i_acc[c].take().expect("block once"),
                        own_start: is.bounds[c],
                        shared: is_sh.to_vec(),
                        shared_acc: is_sha.to_vec(),
                        shared_start: iss,
                        w,
                        aw,
                    },
                    rng: stream(p.seed, WORK, (epoch * g * g + b * g + c) as u64),
                });
            }
            let mut slots: Vec<Option<Job<'_>>> = jobs.into_iter().map(Some).collect();
            {
                let tasks: Vec<&mut Option<Job<'_>>> = slots.iter_mut().collect();
                crate::parallel::run_tasks(pool, tasks, |slot| {
                    if let Some(job) = slot.as_mut() {
                        run_block(job, ctx, &us, &is);
                    }
                });
            }
            let jobs: Vec<Job<'_>> = slots.into_iter().flatten().collect();
            if !us_sh.is_empty() {
                merge(us_sh, &jobs.iter().map(|j| j.users.shared.clone()).collect::<Vec<_>>());
                merge(us_sha, &jobs.iter().map(|j| j.users.shared_acc.clone()).collect::<Vec<_>>());
            }
            if !is_sh.is_empty() {
                merge(is_sh, &jobs.iter().map(|j| j.itemv.shared.clone()).collect::<Vec<_>>());
                merge(is_sha, &jobs.iter().map(|j| j.itemv.shared_acc.clone()).collect::<Vec<_>>());
            }
        }
    }
    *user_table = us.unpermute(&ut);
    *item_table = is.unpermute(&it);
}
