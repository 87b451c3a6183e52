//! The fitted [`HybridMF`]: scoring, top-N, similar items, cold-start representations, files.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::features::{FeatureSpace, Features};
use super::params::{HybridMFParams, Loss};
use super::train::{self, Ctx, Example, Table};
use crate::data::Interactions;
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::recommend::implicit::ModelIds;
use crate::recommend::{check_n, top_n, Filter};
use crate::{ensure, Error, Result};

/// Representations of users or items: per row, `k` factors then the summed bias.
#[derive(Clone, Debug, PartialEq)]
pub struct Reprs {
    k: usize,
    data: Vec<f32>,
    /// The largest embedding norm and the largest absolute bias over the rows (infinite when
    /// a value is not finite), kept beside the rows because every cold-start request checks
    /// its scores against them ([`scores_fit_f32`]).
    largest: (f64, f64),
}

impl Reprs {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / (self.k + 1)
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `r`'s embedding (`k` values); `r < len()`.
    pub fn embedding(&self, r: usize) -> &[f32] {
        &self.data[r * (self.k + 1)..][..self.k]
    }

    /// Row `r`'s bias; `r < len()`.
    pub fn bias(&self, r: usize) -> f32 {
        self.data[r * (self.k + 1) + self.k]
    }

    /// All embeddings, row-major `len × k`.
    pub fn embeddings(&self) -> Vec<f32> {
        (0..self.len()).flat_map(|r| self.embedding(r).iter().copied()).collect()
    }

    /// All biases.
    pub fn biases(&self) -> Vec<f32> {
        (0..self.len()).map(|r| self.bias(r)).collect()
    }

    #[inline]
    fn score(&self, u: usize, items: &Reprs, i: usize) -> f32 {
        let w = self.k + 1;
        let (a, b) = (&self.data[u * w..][..w], &items.data[i * w..][..w]);
        let mut s = 0f32;
        for c in 0..self.k {
            s += a[c] * b[c];
        }
        s + a[self.k] + b[self.k]
    }

    fn of(table: &Table, k: usize, rows: &Features, offset: u32) -> Reprs {
        let w = k + 1;
        let mut data = vec![0f32; rows.n_rows() * w];
        data.par_chunks_mut(w).enumerate().for_each(|(r, out)| {
            // Write before the first read: on a fresh zeroed allocation a first read maps the
            // shared zero page, and the write after it faults again with a TLB shootdown on
            // every core (a third of a 72,000-item fit went there).
            out.fill(0.0);
            let (idx, wt) = rows.row(r);
            for (&f, &x) in idx.iter().zip(wt) {
                let row = &table.rows[(f + offset) as usize * w..][..w];
                for (o, &e) in out.iter_mut().zip(row) {
                    *o += x * e;
                }
            }
        });
        Reprs::new(k, data)
    }

    fn new(k: usize, data: Vec<f32>) -> Reprs {
        let largest = data
            .par_chunks(k + 1)
            .map(|row| {
                if row.iter().all(|v| v.is_finite()) {
                    (norm_f64(&row[..k]), f64::from(row[k]).abs())
                } else {
                    (f64::INFINITY, f64::INFINITY)
                }
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
        Reprs { k, data, largest }
    }
}

/// Hybrid matrix factorisation (LightFM's model) trained with WARP, BPR, logistic or
/// WARP-kos loss and Adagrad, in a deterministic parallel schedule.
///
/// **Reproducible parallel training.** LightFM trains Hogwild-style: threads race on shared
/// rows and results differ run to run. Here users and items are dealt into a fixed
/// `blocks × blocks` grid (from the data size, never the thread count); the blocks of a
/// stratum touch disjoint identity rows and train on private copies of features shared
/// across blocks, averaged in block order; every block has its own seeded stream. The model is
/// the same bit for bit at any `num_threads`. Negatives are sampled from the positive's
/// item block (a uniform sample of the catalogue), so WARP's rank estimate is unchanged.
///
/// **Cold start.** [`HybridMF::item_reprs`] and [`HybridMF::user_reprs`] build
/// representations for new items/users from their supplied features alone; rank them with
/// [`HybridMF::recommend_reprs`].
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::hybrid::{Features, HybridMFParams};
/// use mercato::recommend::Filter;
/// // 40 users, 30 items: users like items of their own parity; feature 0/1 = item parity.
/// let events: Vec<(u32, u32, f32)> =
///     (0..40u32).flat_map(|u| (0..30u32).filter(move |i| i % 2 == u % 2 && (i + u) % 3 != 0).map(move |i| (u, i, 1.0))).collect();
/// let data = Interactions::from_triples(events, DuplicatePolicy::Error)?;
/// let parity = Features::from_rows(2, (0..30).map(|i| vec![(i % 2, 1.0)]))?;
/// let model = HybridMFParams::default().factors(8).epochs(30).seed(1).fit(&data, None, Some(&parity))?;
/// let top = model.recommend(&[0], 3, &Filter::new().exclude_seen(true))?;
/// assert_eq!(top[0].len(), 3);
/// // A new item described only by "even" scores above a new "odd" one for an even user.
/// let new = model.item_reprs(&Features::from_rows(2, [vec![(0, 1.0)], vec![(1, 1.0)]])?)?;
/// let s = model.score_reprs(&model.known_user_reprs().clone(), &[0, 0], &new, &[0, 1])?;
/// assert!(s[0] > s[1]);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct HybridMF {
    params: HybridMFParams,
    ids: ModelIds,
    user_space: FeatureSpace,
    item_space: FeatureSpace,
    /// Training users' / items' supplied feature rows (identity columns implied).
    user_features: Features,
    item_features: Features,
    pub(super) users: Table,
    pub(super) items: Table,
    /// Each training user's positive items, sorted.
    seen: Vec<Vec<u32>>,
    epochs_done: usize,
    user_reprs: Reprs,
    item_reprs: Reprs,
}

fn check_rows(what: &str, f: Option<&Features>, n: usize) -> Result<()> {
    if let Some(f) = f {
        if f.n_rows() != n {
            return Err(Error::shape(
                format!("{n} {what} feature rows (one per {what})"),
                format!("{} rows", f.n_rows()),
            ));
        }
    }
    Ok(())
}

/// Supplied features, or none (zero columns).
fn or_empty(f: Option<&Features>, n: usize) -> Features {
    f.cloned().unwrap_or_else(|| Features::empty(n, 0))
}

fn space(identity: bool, n: usize, f: &Features, names: Option<&[String]>) -> FeatureSpace {
    FeatureSpace {
        identity: if identity { n } else { 0 },
        n_features: f.n_cols(),
        names: names.map(<[String]>::to_vec).unwrap_or_default(),
    }
}

fn full(space: &FeatureSpace, f: &Features) -> Features {
    if space.identity > 0 {
        f.with_identity()
    } else {
        f.clone()
    }
}

impl HybridMF {
    /// The default hyper-parameters, to adjust and `fit`.
    pub fn params() -> HybridMFParams {
        HybridMFParams::default()
    }

    pub(crate) fn train(
        params: &HybridMFParams,
        data: &Interactions,
        user_features: Option<&Features>,
        item_features: Option<&Features>,
    ) -> Result<HybridMF> {
        let (nu, ni) = (data.n_users(), data.n_items());
        check_rows("user", user_features, nu)?;
        check_rows("item", item_features, ni)?;
        let uf = or_empty(user_features, nu);
        let itf = or_empty(item_features, ni);
        let user_space = space(params.user_identity, nu, &uf, None);
        let item_space = space(params.item_identity, ni, &itf, None);
        ensure!(user_space.total() > 0, "users have no features: enable user_identity or pass user features");
        ensure!(item_space.total() > 0, "items have no features: enable item_identity or pass item features");
        let users = Table::init(user_space.total(), params.factors, params.seed, 1, params.schedule);
        let items = Table::init(item_space.total(), params.factors, params.seed, 2, params.schedule);
        let mut model = HybridMF {
            params: params.clone(),
            ids: ModelIds::of(data),
            user_space,
            item_space,
            user_features: uf,
            item_features: itf,
            users,
            items,
            seen: Vec::new(),
            epochs_done: 0,
            user_reprs: Reprs::new(params.factors, vec![]),
            item_reprs: Reprs::new(params.factors, vec![]),
        };
        model.run(data, params.epochs)?;
        Ok(model)
    }

    /// Names the supplied user and item feature columns (for [`FeatureSpace::encode`]); each
    /// list empty or one name per column.
    pub fn set_feature_names(&mut self, user: Vec<String>, item: Vec<String>) -> Result<()> {
        for (what, names, n) in
            [("user", &user, self.user_space.n_features), ("item", &item, self.item_space.n_features)]
        {
            if !names.is_empty() && names.len() != n {
                return Err(Error::shape(format!("{n} {what} feature names"), names.len()));
            }
        }
        self.user_space.names = user;
        self.item_space.names = item;
        Ok(())
    }

    /// Trains `epochs` more epochs on `data` (same users and items as the first fit),
    /// continuing the Adagrad state and the seeded streams: `fit` with `e1` epochs then
    /// `partial_fit` with `e2` equals `fit` with `e1 + e2`.
    pub fn partial_fit(&self, data: &Interactions, epochs: usize) -> Result<HybridMF> {
        ensure!(epochs > 0, "epochs must be positive");
        ensure!(
            data.n_users() == self.n_users() && data.n_items() == self.n_items(),
            "partial_fit needs the same {} users x {} items, got {} x {}",
            self.n_users(),
            self.n_items(),
            data.n_users(),
            data.n_items()
        );
        let mut m = self.clone();
        m.run(data, epochs)?;
        Ok(m)
    }

    fn run(&mut self, data: &Interactions, epochs: usize) -> Result<()> {
        let p = &self.params;
        let logistic = p.loss == Loss::Logistic;
        let mut seen = vec![Vec::new(); data.n_users()];
        let mut examples = Vec::with_capacity(data.nnz());
        for (u, i, v) in data.iter() {
            ensure!(v.is_finite(), "interaction ({u}, {i}) has value {v}");
            if v > 0.0 {
                seen[u].push(i as u32);
            }
            if v > 0.0 || logistic {
                examples.push(Example { u: u as u32, i: i as u32, y: if v > 0.0 { 1.0 } else { 0.0 } });
            }
        }
        ensure!(!examples.is_empty(), "no positive interactions (values > 0) to train on");
        let uf = full(&self.user_space, &self.user_features);
        let itf = full(&self.item_space, &self.item_features);
        let pool = crate::parallel::pool(p.num_threads)?;
        let ctx = Ctx { params: p, positives: &seen, n_items: data.n_items() };
        train::train(&ctx, &examples, &uf, &itf, &mut self.users, &mut self.items, self.epochs_done, epochs, &pool);
        self.epochs_done += epochs;
        self.seen = seen;
        self.refresh();
        ensure!(
            scores_fit_f32(&self.user_reprs, &self.item_reprs),
            "training diverged (embeddings overflow); lower learning_rate (now {})",
            self.params.learning_rate
        );
        Ok(())
    }

    fn refresh(&mut self) {
        let k = self.params.factors;
        self.user_reprs = Reprs::of(&self.users, k, &full(&self.user_space, &self.user_features), 0);
        self.item_reprs = Reprs::of(&self.items, k, &full(&self.item_space, &self.item_features), 0);
    }

    /// The hyper-parameters.
    pub fn hyper_params(&self) -> &HybridMFParams {
        &self.params
    }

    /// External ids of the training users and items.
    pub fn ids(&self) -> &ModelIds {
        &self.ids
    }

    /// Training users.
    pub fn n_users(&self) -> usize {
        self.user_features.n_rows()
    }

    /// Training items.
    pub fn n_items(&self) -> usize {
        self.item_features.n_rows()
    }

    /// Epochs trained so far.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// The user feature columns.
    pub fn user_space(&self) -> &FeatureSpace {
        &self.user_space
    }

    /// The item feature columns.
    pub fn item_space(&self) -> &FeatureSpace {
        &self.item_space
    }

    /// Embeddings of every user feature (identity rows first), row-major `total × k`, and
    /// their biases.
    pub fn user_feature_embeddings(&self) -> (Vec<f32>, Vec<f32>) {
        split_table(&self.users, self.params.factors)
    }

    /// Same for the item features.
    pub fn item_feature_embeddings(&self) -> (Vec<f32>, Vec<f32>) {
        split_table(&self.items, self.params.factors)
    }

    /// Representations of the training users.
    pub fn known_user_reprs(&self) -> &Reprs {
        &self.user_reprs
    }

    /// Representations of the training items.
    pub fn known_item_reprs(&self) -> &Reprs {
        &self.item_reprs
    }

    /// Representations of new users from their supplied features only (no identity): rows
    /// over the model's `user_space().n_features` columns. A row without features gets the
    /// zero representation (scores are then the item biases: a popularity-like ranking).
    ///
    /// Feature weights so large that a score against the training items would overflow
    /// `f32` are refused (`InvalidInput`).
    pub fn user_reprs(&self, features: &Features) -> Result<Reprs> {
        let r = reprs_for("user", &self.user_space, &self.users, self.params.factors, features)?;
        ensure!(scores_fit_f32(&r, &self.item_reprs), "user feature weights so large that scores overflow");
        Ok(r)
    }

    /// Representations of new items from their supplied features only; weights so large that
    /// a score for a training user would overflow `f32` are refused (`InvalidInput`).
    pub fn item_reprs(&self, features: &Features) -> Result<Reprs> {
        let r = reprs_for("item", &self.item_space, &self.items, self.params.factors, features)?;
        ensure!(scores_fit_f32(&self.user_reprs, &r), "item feature weights so large that scores overflow");
        Ok(r)
    }

    /// Scores of (user, item) index pairs of the training users and items.
    pub fn predict(&self, users: &[usize], items: &[usize]) -> Result<Vec<f32>> {
        self.score_reprs(&self.user_reprs, users, &self.item_reprs, items)
    }

    /// Scores of pairs of rows of any user and item representations.
    pub fn score_reprs(&self, users: &Reprs, u: &[usize], items: &Reprs, i: &[usize]) -> Result<Vec<f32>> {
        ensure!(u.len() == i.len(), "{} users but {} items: pass one of each per pair", u.len(), i.len());
        check_k(self.params.factors, users)?;
        check_k(self.params.factors, items)?;
        u.iter()
            .zip(i)
            .map(|(&a, &b)| {
                ensure!(a < users.len(), "user {a} out of range ({} users)", users.len());
                ensure!(b < items.len(), "item {b} out of range ({} items)", items.len());
                Ok(users.score(a, items, b))
            })
            .collect()
    }

    /// Top-`n` training items for training users (indices), in parallel with one score row
    /// per worker (memory `threads × n_items`). `filter.exclude_seen` drops the user's
    /// training positives.
    pub fn recommend(&self, users: &[usize], n: usize, filter: &Filter) -> Result<Vec<Vec<(usize, f32)>>> {
        for &u in users {
            ensure!(u < self.n_users(), "user {u} out of range ({} users)", self.n_users());
        }
        let seen = filter.exclude_seen.then_some(&self.seen[..]);
        self.recommend_reprs(&self.user_reprs, users, &self.item_reprs, n, filter, seen)
    }

    /// Top-`n` rows of `items` for rows `users` of `user_reprs` (new users or items, or
    /// both). `exclude[u]`, when given, lists item rows to drop for user row `u` (sorted or
    /// not); `filter.allow`/`deny` restrict the item rows.
    pub fn recommend_reprs(
        &self,
        user_reprs: &Reprs,
        users: &[usize],
        items: &Reprs,
        n: usize,
        filter: &Filter,
        exclude: Option<&[Vec<u32>]>,
    ) -> Result<Vec<Vec<(usize, f32)>>> {
        check_n(n)?;
        check_k(self.params.factors, user_reprs)?;
        check_k(self.params.factors, items)?;
        filter.validate(items.len())?;
        for &u in users {
            ensure!(u < user_reprs.len(), "user row {u} out of range ({} rows)", user_reprs.len());
            if let Some(ex) = exclude {
                ensure!(u < ex.len(), "no exclusion row for user row {u}");
            }
        }
        let pool = crate::parallel::pool(self.params.num_threads)?;
        Ok(pool.install(|| {
            users
                .par_iter()
                .map_init(
                    || vec![0f32; items.len()],
                    |scores, &u| {
                        for (i, s) in scores.iter_mut().enumerate() {
                            *s = user_reprs.score(u, items, i);
                        }
                        if let Some(ex) = exclude {
                            for &i in &ex[u] {
                                if let Some(s) = scores.get_mut(i as usize) {
                                    *s = f32::NAN;
                                }
                            }
                        }
                        top_n(scores, n, |i| {
                            filter.allow.as_ref().is_none_or(|a| a.contains(&i)) && !filter.deny.contains(&i)
                        })
                    },
                )
                .collect()
        }))
    }

    /// The `n` training items most similar to training item `item` (cosine of embeddings).
    pub fn similar_items(&self, item: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        ensure!(item < self.n_items(), "item {item} out of range ({} items)", self.n_items());
        let q = self.item_reprs.embedding(item).to_vec();
        let mut out = similar(&self.item_reprs, &q, n + 1)?;
        out.retain(|&(i, _)| i != item);
        out.truncate(n);
        Ok(out)
    }

    /// The `n` rows of `items` most similar (cosine) to the embedding `query`, e.g. a new
    /// item's from [`HybridMF::item_reprs`].
    pub fn similar_to(&self, query: &[f32], items: &Reprs, n: usize) -> Result<Vec<(usize, f32)>> {
        ensure!(
            query.len() == self.params.factors,
            "query has {} values, the model {} factors",
            query.len(),
            self.params.factors
        );
        similar(items, query, n)
    }
}

fn similar(items: &Reprs, q: &[f32], n: usize) -> Result<Vec<(usize, f32)>> {
    check_n(n)?;
    ensure!(q.iter().all(|v| v.is_finite()), "query has non-finite values");
    // In f64: a squared norm of finite f32 values cannot overflow there, so the cosine of
    // any finite embeddings is finite.
    let qn = norm_f64(q);
    let scores: Vec<f32> = (0..items.len())
        .map(|i| {
            let e = items.embedding(i);
            let d = norm_f64(e) * qn;
            if d > 0.0 {
                (e.iter().zip(q).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum::<f64>() / d) as f32
            } else {
                0.0
            }
        })
        .collect();
    Ok(top_n(&scores, n, |_| true))
}

fn norm_f64(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
}

/// Whether every score of a row of `users` against a row of `items` is a finite `f32`, with
/// every partial sum too: by Cauchy–Schwarz `|u·i| ≤ ‖u‖‖i‖`, so the largest norms and biases
/// bound every score. Trained models are far inside this; a model file that is not, or
/// feature weights that push a new row past it, would score ±inf or NaN. (A non-finite value
/// makes its side's bound infinite, and `0 · ∞` a NaN: both fail the comparison.)
fn scores_fit_f32(users: &Reprs, items: &Reprs) -> bool {
    let ((nu, bu), (ni, bi)) = (users.largest, items.largest);
    nu * ni + bu + bi < f64::from(f32::MAX) / 2.0
}

fn check_k(k: usize, r: &Reprs) -> Result<()> {
    ensure!(r.k == k, "representations have {} factors, the model {k}", r.k);
    Ok(())
}

fn split_table(t: &Table, k: usize) -> (Vec<f32>, Vec<f32>) {
    let emb = t.rows.chunks_exact(k + 1).flat_map(|r| r[..k].iter().copied()).collect();
    let bias = t.rows.chunks_exact(k + 1).map(|r| r[k]).collect();
    (emb, bias)
}

fn reprs_for(what: &str, space: &FeatureSpace, t: &Table, k: usize, f: &Features) -> Result<Reprs> {
    if f.n_cols() != space.n_features {
        return Err(Error::shape(
            format!("{} {what} feature columns", space.n_features),
            format!("{} columns", f.n_cols()),
        ));
    }
    Ok(Reprs::of(t, k, f, space.identity as u32))
}

#[derive(Serialize, Deserialize)]
struct Meta {
    params: HybridMFParams,
    ids: ModelIds,
    user_space: FeatureSpace,
    item_space: FeatureSpace,
    epochs_done: usize,
}

/// Writes feature rows as `{name}.indptr`, `{name}.indices`, `{name}.weights`: the hybrid
/// model format's names (`Rows::write` calls the values `.data`), kept so files stay the same.
fn write_features(w: ModelWriter, name: &str, f: &Features) -> ModelWriter {
    let indptr: Vec<u64> = f.indptr.iter().map(|&x| x as u64).collect();
    w.u64(&format!("{name}.indptr"), &[indptr.len()], &indptr)
        .u32(&format!("{name}.indices"), &[f.indices.len()], &f.indices)
        .f32(&format!("{name}.weights"), &[f.data.len()], &f.data)
}

/// Reads what `write_features` wrote, with the checks the model has always made (shape,
/// pointers, column bounds, finite non-negative weights): files that loaded before still load.
fn read_features(r: &ModelReader, name: &str, rows: usize, cols: usize) -> Result<Features> {
    let indptr = r.u64(&format!("{name}.indptr"))?.1;
    let indices = r.u32(&format!("{name}.indices"))?.1;
    let weights = r.f32(&format!("{name}.weights"))?.1;
    let bad = |m: &str| Error::format(format!("{name}: {m}"));
    if indptr.len() != rows + 1 || indptr[0] != 0 || indices.len() != weights.len() {
        return Err(bad("inconsistent lengths"));
    }
    if indptr.windows(2).any(|w| w[0] > w[1]) || *indptr.last().unwrap_or(&0) as usize != indices.len() {
        return Err(bad("row pointers out of order"));
    }
    if indices.iter().any(|&c| c as usize >= cols) || weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(bad("feature index or weight out of range"));
    }
    Ok(Features { n_cols: cols, indptr: indptr.into_iter().map(|x| x as usize).collect(), indices, data: weights })
}

impl Persist for HybridMF {
    const KIND: &'static str = "recommend.hybrid_mf";

    fn write(&self) -> Result<ModelWriter> {
        let meta = Meta {
            params: self.params.clone(),
            ids: self.ids.clone(),
            user_space: self.user_space.clone(),
            item_space: self.item_space.clone(),
            epochs_done: self.epochs_done,
        };
        let w = self.params.factors + 1;
        let mut out = ModelWriter::new(Self::KIND, &meta)?
            .f32("users", &[self.user_space.total(), w], &self.users.rows)
            .f32("users.acc", &[self.user_space.total(), self.users.aw], &self.users.acc)
            .f32("items", &[self.item_space.total(), w], &self.items.rows)
            .f32("items.acc", &[self.item_space.total(), self.items.aw], &self.items.acc);
        out = write_features(out, "user_features", &self.user_features);
        out = write_features(out, "item_features", &self.item_features);
        let seen = Features {
            n_cols: self.n_items(),
            indptr: std::iter::once(0)
                .chain(self.seen.iter().scan(0, |a, s| {
                    *a += s.len();
                    Some(*a)
                }))
                .collect(),
            indices: self.seen.iter().flatten().copied().collect(),
            data: vec![1.0; self.seen.iter().map(Vec::len).sum()],
        };
        Ok(write_features(out, "seen", &seen))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: Meta = r.meta()?;
        meta.params.check().map_err(|e| Error::format(e.to_string()))?;
        let k = meta.params.factors;
        let aw = (k + 1) * meta.params.schedule.state_per_parameter();
        let table = |name: &str, n: usize| -> Result<Table> {
            let rows = r.array2_f32(name, [Some(n), Some(k + 1)])?.into_raw_vec_and_offset().0;
            let acc = r.array2_f32(&format!("{name}.acc"), [Some(n), Some(aw)])?.into_raw_vec_and_offset().0;
            if rows.iter().chain(&acc).any(|v| !v.is_finite()) {
                return Err(Error::format(format!("{name}: non-finite parameters")));
            }
            // Adagrad divides by the root of its sums (at least the initial 1); Adadelta's
            // averages are of squares: a smaller value would make an infinite or NaN step.
            let floor = meta.params.schedule.initial_state();
            if acc.iter().any(|&a| a < floor) {
                return Err(Error::format(format!("{name}: optimiser state out of range")));
            }
            Ok(Table { w: k + 1, rows, aw, acc })
        };
        let users = table("users", meta.user_space.total())?;
        let items = table("items", meta.item_space.total())?;
        let nu = r.u64("user_features.indptr")?.1.len().saturating_sub(1);
        let ni = r.u64("item_features.indptr")?.1.len().saturating_sub(1);
        let user_features = read_features(r, "user_features", nu, meta.user_space.n_features)?;
        let item_features = read_features(r, "item_features", ni, meta.item_space.n_features)?;
        for (space, n) in [(&meta.user_space, nu), (&meta.item_space, ni)] {
            if (space.identity != 0 && space.identity != n)
                || (!space.names.is_empty() && space.names.len() != space.n_features)
            {
                return Err(Error::format("feature space does not match the feature rows"));
            }
        }
        ModelIds::check(Some(&meta.ids), nu, ni).map_err(|e| Error::format(e.to_string()))?;
        let seen_f = read_features(r, "seen", nu, ni)?;
        let seen = (0..nu).map(|u| seen_f.row(u).0.to_vec()).collect();
        let mut m = HybridMF {
            params: meta.params,
            ids: meta.ids,
            user_space: meta.user_space,
            item_space: meta.item_space,
            user_features,
            item_features,
            users,
            items,
            seen,
            epochs_done: meta.epochs_done,
            user_reprs: Reprs::new(k, vec![]),
            item_reprs: Reprs::new(k, vec![]),
        };
        m.refresh();
        if !scores_fit_f32(&m.user_reprs, &m.item_reprs) {
            return Err(Error::format("embeddings so large that scores overflow"));
        }
        Ok(m)
    }
}
