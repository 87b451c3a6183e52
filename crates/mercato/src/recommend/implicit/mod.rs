//! Implicit-feedback recommenders (ALS, BPR, item kNN) and the top-N serving they share.
//!
//! All three train on a users × items matrix of non-negative weights (play counts, clicks,
//! or BM25-weighted counts, see [`bm25_items`]) and implement [`Recommender`]:
//! `recommend(user, n, &filter)`, `recommend_batch(users, n, &filter)` (scored in chunks of
//! users so memory stays bounded, selected with a partial sort), `recommend_row` for a user
//! given only an interaction row (fold-in without retraining), `similar_items`, `similar_users`.
//!
//! Indices are the dense indices of the training [`Interactions`](crate::data::Interactions)
//! (`users().index(..)`, `items().id(..)` translate external ids).
//!
//! A user with no interactions (an empty training row, or an empty supplied row) gets the
//! popularity ranking (items by number of users in training), flagged by
//! [`Recs::popularity_fallback`], instead of scores from an uninformed factor.

mod als;
mod bpr;
mod eval;
mod knn;
mod observer;
mod weighting;

use rayon::prelude::*;

pub use als::{Als, AlsParams, AlsSolver, Confidence};
pub use bpr::{Bpr, BprParams, NegativeSampling};
pub use eval::{ranking_metrics_at_k, RankingMetrics};
pub use knn::{ItemKnn, ItemKnnParams, KnnWeighting};
pub use observer::{IterationReport, Observer};
pub use rayon::ThreadPool;
// `Rows` lives in `crate::data` (one sparse-row type for the whole crate); kept here so
// `mercato::recommend::Rows` and `mercato::recommend::implicit::Rows` still name it.
pub use crate::data::Rows;
pub use weighting::{bm25_items, bm25_weight, log_weight, tfidf_weight};

use super::{check_n, top_n, Filter};
use crate::{Error, Result};
pub(crate) use thread_pool as pool;

/// Bytes of `f32` scores one chunk of [`Recommender::recommend_batch`] holds (4 MiB): the
/// default chunk is this budget divided by the catalogue size, see [`default_chunk`].
pub const CHUNK_SCORE_BYTES: usize = 4 << 20;

/// Users scored together by [`Recommender::recommend_batch`] for a catalogue of `n_items`:
/// as many as fit [`CHUNK_SCORE_BYTES`] of scores, between 16 and 1024. One chunk's score
/// buffer is `chunk × n_items × 4` bytes and at most one chunk per worker thread is alive,
/// so peak memory is about `threads × 4 MiB` whatever the catalogue size (down to 16 users
/// per chunk, i.e. up to 65,536 items; larger catalogues pay `threads × 64 × n_items` bytes).
/// A smaller block costs little speed: the scores are one GEMM per chunk against all items.
pub fn default_chunk(n_items: usize) -> usize {
    (CHUNK_SCORE_BYTES / 4 / n_items.max(1)).clamp(16, 1024)
}

/// The external ids of a model's users and items, index `i` naming user (item) `i`.
///
/// `fit(&Interactions)` keeps the data's [`IdMap`](crate::data::IdMap)s so that indices can
/// be translated back (`ids.items.id(i)`) after the model is saved and loaded; `fit_rows`
/// has none. Users or items added later by index (`partial_fit_users` / `_items`) are
/// unnamed until [`Als::set_ids`] (and the same method of every model) names them.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{Als, Filter, Recommender};
/// let events = Interactions::from_triples(
///     [("ann", "tea", 3.0), ("ann", "mug", 1.0), ("bob", "tea", 2.0), ("bob", "pot", 5.0), ("cy", "mug", 1.0)],
///     DuplicatePolicy::Sum,
/// )?;
/// let als = Als::params().factors(8).iterations(10).calculate_training_loss(true).fit(&events)?;
/// let ids = als.ids().expect("fit(&Interactions) keeps the ids");
/// let cy = ids.users.index(&"cy".into()).expect("a training user");
/// let recs = als.recommend(cy, 2, &Filter::new().exclude_seen(true))?;
/// let names: Vec<String> = recs.items.iter().map(|&(i, _)| ids.items.id(i).to_string()).collect();
/// assert_eq!(names.len(), 2);
/// assert!(!names.contains(&"mug".to_string()), "already seen");
/// assert_eq!(als.loss_history().len(), 10);
/// assert!((als.regularization() - 5.0 / 3.0).abs() < 1e-6); // λ = mean interactions per user
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelIds {
    /// User ids by index (at most `n_users()` of them).
    pub users: crate::data::IdMap,
    /// Item ids by index (at most `n_items()` of them).
    pub items: crate::data::IdMap,
}

impl ModelIds {
    /// The ids of `data`'s users and items.
    pub fn of(data: &crate::data::Interactions) -> ModelIds {
        ModelIds { users: data.users().clone(), items: data.items().clone() }
    }

    /// Checks there are no more ids than users and items.
    pub(crate) fn check(ids: Option<&ModelIds>, n_users: usize, n_items: usize) -> Result<()> {
        if let Some(ids) = ids {
            crate::ensure!(ids.users.len() <= n_users, "{} user ids for {n_users} users", ids.users.len());
            crate::ensure!(ids.items.len() <= n_items, "{} item ids for {n_items} items", ids.items.len());
        }
        Ok(())
    }
}

/// Accessors for a model's optional [`ModelIds`] (field `ids`, sizes `n_users`/`n_items`).
macro_rules! ids_methods {
    () => {
        /// The external ids of the users and items, when trained with `fit(&Interactions)`
        /// or named with `set_ids`.
        pub fn ids(&self) -> Option<&super::ModelIds> {
            self.ids.as_ref()
        }

        /// Names (or renames, or with `None` forgets) the users and items; at most
        /// `n_users()` user ids and `n_items()` item ids.
        pub fn set_ids(&mut self, ids: Option<super::ModelIds>) -> Result<()> {
            super::ModelIds::check(ids.as_ref(), self.n_users, self.n_items)?;
            self.ids = ids;
            Ok(())
        }
    };
}
pub(crate) use ids_methods;

/// A ranked list for one user, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct Recs {
    /// (item index, score), best first; fewer than `n` when the filter leaves fewer items.
    pub items: Vec<(usize, f32)>,
    /// True when the user had no interactions and the list is the popularity ranking
    /// (scores are then the items' training counts).
    pub popularity_fallback: bool,
}

/// A dense view of a [`Filter`]: `true` = may be recommended (before dropping seen items).
fn allowed_mask(filter: &Filter, n_items: usize) -> Result<Option<Vec<bool>>> {
    filter.validate(n_items)?;
    if filter.allow.is_none() && filter.deny.is_empty() {
        return Ok(None);
    }
    let mut mask = match &filter.allow {
        Some(allow) => {
            let mut m = vec![false; n_items];
            for &i in allow {
                m[i] = true;
            }
            m
        }
        None => vec![true; n_items],
    };
    for &i in &filter.deny {
        mask[i] = false;
    }
    Ok(Some(mask))
}

/// Masks disallowed and (optionally) seen items with NaN, which [`top_n`] skips, or seen
/// items with −∞ (ranked after every other candidate) under [`Filter::seen_last`].
fn select(scores: &mut [f32], n: usize, mask: Option<&[bool]>, seen: Option<(&[u32], f32)>) -> Vec<(usize, f32)> {
    if let Some(mask) = mask {
        for (s, &ok) in scores.iter_mut().zip(mask) {
            if !ok {
                *s = f32::NAN;
            }
        }
    }
    if let Some((seen, score)) = seen {
        for &i in seen {
            if let Some(s) = scores.get_mut(i as usize) {
                if !s.is_nan() {
                    *s = score;
                }
            }
        }
    }
    fast_top_n(scores, n)
}

/// [`top_n`] without a filter, with the same result (ties to the lower index, NaN
/// skipped), but a scan that rejects most scores with one float comparison against the
/// worst kept score: items arrive in increasing index, so an equal score never displaces.
fn fast_top_n(scores: &[f32], n: usize) -> Vec<(usize, f32)> {
    if n == 0 {
        return Vec::new();
    }
    // bounded by the candidates: a caller's huge `n` must not size the allocation
    let mut kept: Vec<(usize, f32)> = Vec::with_capacity(n.min(scores.len()) + 1);
    let mut worst = f32::NEG_INFINITY;
    for (i, &s) in scores.iter().enumerate() {
        if kept.len() == n {
            // NaN and anything not better than the worst kept score are rejected here
            if s.partial_cmp(&worst) != Some(std::cmp::Ordering::Greater) {
                continue;
            }
        } else if s.is_nan() {
            continue;
        }
        // insertion into a small sorted list (best first, ties by index)
        let pos = kept.partition_point(|&(j, t)| t > s || (t == s && j < i));
        kept.insert(pos, (i, s));
        if kept.len() > n {
            kept.pop();
        }
        if kept.len() == n {
            worst = kept[n - 1].1;
        }
    }
    kept
}

/// Rejects training data no implicit model can learn from, as the rating and fraud models
/// do: no users, no items, or no positive weight at all (an all-zero matrix). Without this a
/// model "trained" on nothing serves random initial factors as similarities.
pub(crate) fn check_training(rows: &Rows) -> Result<()> {
    let (n_users, n_items) = (rows.n_rows(), rows.n_cols());
    crate::ensure!(n_users > 0 && n_items > 0, "cannot fit on an empty {n_users} x {n_items} interaction matrix");
    crate::ensure!(
        rows.raw().2.iter().any(|&v| v > 0.0),
        "cannot fit on interactions without a positive value ({n_users} x {n_items}, {} stored entries, all zero)",
        rows.nnz()
    );
    Ok(())
}

/// Checks the ids of a partial fit against a model of `n` users (items): each id appears
/// once, and ids at or past `n` are exactly `n, n + 1, …` (in any order), so new rows are
/// appended and the model grows by the number of rows supplied, never by the size of a
/// number the caller typed. Returns the new size.
pub(crate) fn check_partial_ids(ids: &[usize], n: usize, kind: &str) -> Result<usize> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let mut added = 0usize;
    for &i in ids {
        crate::ensure!(seen.insert(i), "{kind} {i} appears twice in {kind}_ids");
        if i >= n {
            added += 1;
        }
    }
    let grown = n + added;
    if let Some(&bad) = ids.iter().find(|&&i| i >= grown) {
        crate::bail!(
            "{kind} index {bad} is past the end: the model has {n} {kind}s and new {kind}s are appended, \
             so the {added} new id(s) must be {n}..{grown} (a gap would add {kind}s without rows)"
        );
    }
    crate::ensure!(grown < u32::MAX as usize, "too many {kind}s ({grown})");
    Ok(grown)
}

fn check_user(user: usize, n_users: usize) -> Result<()> {
    if user >= n_users {
        return Err(Error::UnknownId { kind: "user", id: format!("index {user} (model has {n_users} users)") });
    }
    Ok(())
}

fn check_item(item: usize, n_items: usize) -> Result<()> {
    if item >= n_items {
        return Err(Error::UnknownId { kind: "item", id: format!("index {item} (model has {n_items} items)") });
    }
    Ok(())
}

/// A trained implicit-feedback model that ranks items for users.
///
/// Implementors provide scoring; ranking, filtering, chunking and the popularity fallback
/// are shared. Methods take `&self`: one model serves many threads.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{Als, Filter, Recommender};
/// let x = Interactions::from_triples(
///     [(0, 0, 3.0), (0, 1, 1.0), (1, 1, 2.0), (1, 2, 5.0), (2, 0, 1.0), (2, 2, 1.0)],
///     DuplicatePolicy::Sum,
/// ).unwrap();
/// let model = Als::params().factors(4).iterations(5).fit(&x).unwrap();
/// let recs = model.recommend(0, 2, &Filter::new().exclude_seen(true)).unwrap();
/// assert_eq!(recs.items.len(), 1); // only item 2 is unseen
/// let all = model.recommend_batch(&[0, 1, 2], 3, &Filter::new()).unwrap();
/// assert_eq!(all.len(), 3);
/// ```
pub trait Recommender: Send + Sync {
    /// Number of users the model knows.
    fn n_users(&self) -> usize;

    /// Number of items the model ranks.
    fn n_items(&self) -> usize;

    /// The training interactions (users × items), used to drop seen items and by kNN.
    fn rows(&self) -> &Rows;

    /// Number of training users per item, the cold-start ranking.
    fn popularity(&self) -> &[f32];

    /// Scores every item for each of `users` (validated indices) into `out`, row-major
    /// `users.len() × n_items`. `rows[k]` is the interaction row to use for `users[k]`
    /// (the stored one or one supplied by the caller); factor models may ignore it.
    fn score_chunk(&self, users: &[usize], rows: &[(&[u32], &[f32])], out: &mut [f32]);

    /// Scores every item for a user known only by an interaction row (item indices, values),
    /// without changing the model: ALS solves the user's factors against the item factors,
    /// BPR runs SGD on a fresh user vector, kNN sums item neighbourhoods.
    fn score_row(&self, items: &[u32], values: &[f32], out: &mut [f32]) -> Result<()>;

    /// The `n` items most similar to `item` (the item itself included, as implicit does).
    fn similar_items(&self, item: usize, n: usize) -> Result<Vec<(usize, f32)>>;

    /// The `n` users most similar to `user` (the user itself included).
    fn similar_users(&self, user: usize, n: usize) -> Result<Vec<(usize, f32)>>;

    /// Top `n` items for a known user.
    fn recommend(&self, user: usize, n: usize, filter: &Filter) -> Result<Recs> {
        check_user(user, self.n_users())?;
        Ok(self.recommend_batch(&[user], n, filter)?.remove(0))
    }

    /// Top `n` items for each of `users`, in chunks of [`default_chunk`] users, in parallel
    /// on the current rayon pool (wrap the call in `pool.install` to bound the threads).
    fn recommend_batch(&self, users: &[usize], n: usize, filter: &Filter) -> Result<Vec<Recs>> {
        self.recommend_batch_chunked(users, None, n, filter, default_chunk(self.n_items()))
    }

    /// [`Recommender::recommend_batch`] with an explicit chunk size and, optionally, the
    /// interaction rows to use instead of the stored ones (`rows.n_rows() == users.len()`;
    /// they decide which items count as seen, and kNN scores from them).
    fn recommend_batch_chunked(
        &self,
        users: &[usize],
        rows: Option<&Rows>,
        n: usize,
        filter: &Filter,
        chunk: usize,
    ) -> Result<Vec<Recs>> {
        check_n(n)?;
        crate::ensure!(chunk > 0, "chunk size must be positive");
        let n_items = self.n_items();
        for &u in users {
            check_user(u, self.n_users())?;
        }
        if let Some(rows) = rows {
            crate::ensure!(
                rows.n_rows() == users.len(),
                "{} interaction rows supplied for {} users",
                rows.n_rows(),
                users.len()
            );
            // the columns must be the model's items: a narrower matrix is misaligned data (the
            // rating and fraud models refuse a width that differs from training as well)
            if rows.n_cols() != n_items {
                return Err(Error::shape(
                    format!("rows with {n_items} item columns"),
                    format!("{} columns", rows.n_cols()),
                ));
            }
        }
        let mask = allowed_mask(filter, n_items)?;
        if n_items == 0 {
            // nothing to rank (a model file may hold no items): every user gets an empty list
            return Ok(users.iter().map(|_| Recs { items: Vec::new(), popularity_fallback: false }).collect());
        }
        let stored = self.rows();
        let row_of = |k: usize| match rows {
            Some(r) => r.row(k),
            None => stored.row(users[k]),
        };
        let run = |buffer: &mut Vec<f32>, ks: &[usize]| -> Vec<Recs> {
            let chunk_users: Vec<usize> = ks.iter().map(|&k| users[k]).collect();
            let chunk_rows: Vec<(&[u32], &[f32])> = ks.iter().map(|&k| row_of(k)).collect();
            buffer.clear();
            buffer.resize(ks.len() * n_items, 0.0);
            let scores = &mut buffer[..];
            self.score_chunk(&chunk_users, &chunk_rows, scores);
            scores
                .chunks_mut(n_items.max(1))
                .zip(&chunk_rows)
                .map(|(s, (seen, _))| {
                    if seen.is_empty() {
                        return self.popular(n, mask.as_deref(), None);
                    }
                    let seen = filter.exclude_seen.then_some((*seen, seen_score(filter)));
                    Recs { items: select(s, n, mask.as_deref(), seen), popularity_fallback: false }
                })
                .collect()
        };
        let ks: Vec<usize> = (0..users.len()).collect();
        if ks.len() <= chunk {
            // one chunk (e.g. a single user): handing it to the pool and waiting for a
            // worker to wake costs more than the work
            return Ok(run(&mut Vec::new(), &ks));
        }
        let out: Vec<Vec<Recs>> = ks
            .par_chunks(chunk)
            // one score buffer per worker, reused across its chunks: a fresh multi-megabyte
            // allocation per chunk costs a page fault per 4 KiB (the OS zeroes each page)
            .map_init(Vec::new, |buffer: &mut Vec<f32>, ks| run(buffer, ks))
            .collect();
        Ok(out.into_iter().flatten().collect())
    }

    /// Top `n` items for a user known only by an interaction row (fold-in, see
    /// [`Recommender::score_row`]); an empty row gets the popularity ranking, flagged.
    /// Item indices must be below `n_items()` and values finite and non-negative; the row
    /// is sorted and duplicates summed.
    fn recommend_row(&self, items: &[usize], values: &[f32], n: usize, filter: &Filter) -> Result<Recs> {
        check_n(n)?;
        let n_items = self.n_items();
        let mask = allowed_mask(filter, n_items)?;
        let (items, values) = crate::data::normalize_row(items, values, n_items)?;
        if items.is_empty() {
            return Ok(self.popular(n, mask.as_deref(), None));
        }
        let mut scores = vec![0f32; n_items];
        self.score_row(&items, &values, &mut scores)?;
        let seen = filter.exclude_seen.then_some((items.as_slice(), seen_score(filter)));
        Ok(Recs { items: select(&mut scores, n, mask.as_deref(), seen), popularity_fallback: false })
    }

    /// The popularity ranking under `mask`, flagged as a fallback.
    #[doc(hidden)]
    fn popular(&self, n: usize, mask: Option<&[bool]>, seen: Option<(&[u32], f32)>) -> Recs {
        let mut scores = self.popularity().to_vec();
        Recs { items: select(&mut scores, n, mask, seen), popularity_fallback: true }
    }
}

/// The score a seen item gets when the filter excludes seen items: NaN drops it, −∞ ranks
/// it last ([`Filter::seen_last`]).
fn seen_score(filter: &Filter) -> f32 {
    if filter.seen_last {
        f32::NEG_INFINITY
    } else {
        f32::NAN
    }
}

/// The Euclidean norm of every row of `factors` (row-major, `k` columns).
fn row_norms(factors: &[f32], k: usize) -> Vec<f32> {
    factors.chunks_exact(k).map(|r| dot(r, r).sqrt()).collect()
}

/// Cosine top-n between row `q` of `factors` (row-major, `k` columns) and all rows; `norms`
/// are the rows' [`row_norms`] when the model keeps them, else computed here.
fn cosine_top_n(factors: &[f32], k: usize, q: usize, n: usize, norms: Option<&[f32]>) -> Vec<(usize, f32)> {
    let computed;
    let norms = match norms {
        Some(norms) => norms,
        None => {
            computed = row_norms(factors, k);
            &computed
        }
    };
    let query = &factors[q * k..(q + 1) * k];
    let qn = norms[q].max(f32::MIN_POSITIVE);
    let scores: Vec<f32> =
        factors.chunks_exact(k).zip(norms).map(|(r, &rn)| dot(r, query) / (qn * rn.max(f32::MIN_POSITIVE))).collect();
    top_n(&scores, n, |_| true)
}

/// Dot product written so LLVM vectorises it (8 independent accumulators).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut acc = [0f32; 8];
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
}

/// `y += a · x`.
#[inline(always)]
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Builds a rayon pool local to a call with `threads` workers (all cores when `None`), so
/// the global pool is never reconfigured.
pub fn thread_pool(threads: Option<usize>) -> Result<std::sync::Arc<rayon::ThreadPool>> {
    crate::parallel::pool(threads)
}

/// Values derived from a model's fields (a Gram matrix, norms), computed on first use and
/// kept: ignored by equality, never saved (a loaded model rebuilds them), reset by the
/// methods that change the fields they come from.
#[derive(Clone, Debug, Default)]
pub(crate) struct Derived<T>(std::sync::OnceLock<T>);

impl<T> PartialEq for Derived<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Derived<T> {
    /// The value, computed by `f` on first use.
    pub(crate) fn get(&self, f: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(f)
    }

    /// Forgets the value (its inputs changed).
    pub(crate) fn reset(&mut self) {
        self.0 = std::sync::OnceLock::new();
    }
}

/// Largest factor width for which [`score_one_user`] reproduces [`score_factors`]: the GEMM
/// (matrixmultiply's sgemm) sums up to 256 columns in one chain per cell, then starts anew.
const ONE_USER_MAX_K: usize = 256;

/// [`score_factors`] for one user vector `q` (`k` values), equal to it bit for bit, without
/// the GEMM's packing of the whole item matrix (which dominates a one-row product): per
/// item the same sequential chain over the columns — fused multiply-adds where the GEMM
/// kernel uses them — with 16 items in flight to hide the chain's latency. Returns false,
/// writing nothing, where the equality is not established (not x86-64, or `k` over 256).
pub(crate) fn score_one_user(q: &[f32], item_factors: &[f32], k: usize, out: &mut [f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if k == 0 || k > ONE_USER_MAX_K || q.len() != k || item_factors.len() != out.len() * k {
            return false;
        }
        one_user(q, item_factors, k, out);
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (q, item_factors, k, out);
        false
    }
}

/// [`one_user_body`] compiled for AVX2+FMA (chosen at run time when the CPU has both) and
/// portable. matrixmultiply's sgemm fuses its multiply-adds exactly where the CPU has FMA and
/// AVX2 (or AVX-512, which no CPU has without AVX2), so each build fuses where its features
/// say so.
#[cfg(target_arch = "x86_64")]
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn one_user(q: &[f32], item_factors: &[f32], k: usize, out: &mut [f32]) {
    if multiversion::target::target_cfg_f!(all(target_feature = "avx2", target_feature = "fma")) {
        one_user_body::<true>(q, item_factors, k, out);
    } else {
        one_user_body::<false>(q, item_factors, k, out);
    }
}

/// See [`score_one_user`]: the GEMM's main columns as one chain per item (fused or not),
/// then the columns past the last multiple of 8 added one by one as [`score_factors`] does.
#[inline(always)]
fn one_user_body<const FUSED: bool>(q: &[f32], y: &[f32], k: usize, out: &mut [f32]) {
    const B: usize = 16;
    let main = if k > 8 { k - k % 8 } else { k };
    for (b, o) in out.chunks_mut(B).enumerate() {
        let rows = &y[b * B * k..(b * B + o.len()) * k];
        let mut acc = [0f32; B];
        for l in 0..main {
            let a = q[l];
            for (j, r) in rows.chunks_exact(k).enumerate() {
                acc[j] = if FUSED { a.mul_add(r[l], acc[j]) } else { acc[j] + a * r[l] };
            }
        }
        for (j, r) in rows.chunks_exact(k).enumerate() {
            let mut s = acc[j];
            for c in main..k {
                s += q[c] * r[c];
            }
            o[j] = s;
        }
    }
}

/// Dense factor scoring shared by ALS and BPR: `out = U[users] · Vᵀ` as one GEMM per chunk.
///
/// The GEMM covers the first multiple of 8 columns; the few columns left (BPR's bias column
/// makes its width 65) are added as rank-1 updates from contiguous copies, which is faster
/// than an odd-width GEMM.
pub(crate) fn score_factors(user_factors: &[f32], item_factors: &[f32], k: usize, users: &[usize], out: &mut [f32]) {
    use ndarray::{s, ArrayView2, ArrayViewMut2};
    let n_items = item_factors.len() / k.max(1);
    if k == 0 || n_items == 0 {
        out.iter_mut().for_each(|s| *s = 0.0);
        return;
    }
    let mut q = Vec::with_capacity(users.len() * k);
    for &u in users {
        q.extend_from_slice(&user_factors[u * k..(u + 1) * k]);
    }
    let main = if k > 8 { k - k % 8 } else { k };
    let qv = ArrayView2::from_shape((users.len(), k), &q).expect("query shape");
    let v = ArrayView2::from_shape((n_items, k), item_factors).expect("item factor shape");
    let mut o = ArrayViewMut2::from_shape((users.len(), n_items), &mut *out).expect("score buffer shape");
    ndarray::linalg::general_mat_mul(1.0, &qv.slice(s![.., ..main]), &v.slice(s![.., ..main]).t(), 0.0, &mut o);
    for c in main..k {
        let column: Vec<f32> = item_factors.chunks_exact(k).map(|row| row[c]).collect();
        for (row, qu) in out.chunks_exact_mut(n_items).zip(q.chunks_exact(k)) {
            axpy(qu[c], &column, row);
        }
    }
}

#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod tests;
