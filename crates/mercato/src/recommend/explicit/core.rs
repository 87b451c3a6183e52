//! Pieces every explicit model shares: the training set, the rating scale, predictions.

use serde::{Deserialize, Serialize};

use crate::data::{ExternalId, IdMap, Interactions};
use crate::persist::{ModelReader, ModelWriter};
use crate::{bail, ensure, Error, Result};

/// The rating scale predictions are clipped to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum RatingScale {
    /// The smallest and largest training rating.
    #[default]
    Auto,
    /// A declared scale `(low, high)`; `fit` rejects ratings outside it.
    Fixed(f32, f32),
}

impl RatingScale {
    /// Checks the declared bounds.
    pub fn validate(&self) -> Result<()> {
        if let RatingScale::Fixed(lo, hi) = *self {
            ensure!(
                lo.is_finite() && hi.is_finite() && lo < hi,
                "rating scale must be finite with low < high, got ({lo}, {hi})"
            );
        }
        Ok(())
    }
}

/// Why a prediction is (or is not) the model's own estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PredictionStatus {
    /// The model scored the pair.
    Model,
    /// The user has no training rating: fallback `mu + b_i`.
    UnknownUser,
    /// The item has no training rating: fallback `mu + b_u`.
    UnknownItem,
    /// Neither is known: fallback `mu`.
    UnknownUserAndItem,
    /// kNN only: fewer than `min_k` usable neighbours, fallback to the baseline (or the mean).
    TooFewNeighbours,
}

/// A predicted rating, clipped to the rating scale, and how it was obtained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// The predicted rating.
    pub value: f32,
    /// [`PredictionStatus::Model`] unless a fallback was used.
    pub status: PredictionStatus,
}

impl Prediction {
    /// True when the model could not score the pair itself (Surprise's "was_impossible").
    pub fn is_fallback(&self) -> bool {
        self.status != PredictionStatus::Model
    }
}

/// The status for a pair given which sides are known.
pub(crate) fn unknown_status(user_known: bool, item_known: bool) -> PredictionStatus {
    match (user_known, item_known) {
        (true, true) => PredictionStatus::Model,
        (false, true) => PredictionStatus::UnknownUser,
        (true, false) => PredictionStatus::UnknownItem,
        (false, false) => PredictionStatus::UnknownUserAndItem,
    }
}

/// The training ratings as a compact CSR (users are rows), with the id maps, the global
/// mean and the rating scale. Kept by every model: for `exclude_rated`, for SVD++'s implicit
/// feedback and for kNN's neighbours.
#[derive(Clone, Debug)]
pub struct RatingSet {
    users: IdMap,
    items: IdMap,
    indptr: Vec<u64>,
    indices: Vec<u32>,
    values: Vec<f32>,
    item_counts: Vec<u32>,
    scale: (f32, f32),
    mean: f32,
}

#[derive(Serialize, Deserialize)]
struct RatingSetMeta {
    users: Vec<ExternalId>,
    items: Vec<ExternalId>,
    scale: (f32, f32),
}

impl RatingSet {
    /// Validates `data` against `scale` and copies it.
    pub fn new(data: &Interactions, scale: RatingScale) -> Result<Self> {
        scale.validate()?;
        ensure!(data.nnz() > 0, "cannot fit on an empty rating set");
        ensure!(data.n_items() < u32::MAX as usize, "too many items ({})", data.n_items());
        let (lo, hi) = data.value_range().ok_or_else(|| Error::invalid("empty rating set"))?;
        let scale = match scale {
            RatingScale::Auto => (lo, hi),
            RatingScale::Fixed(a, b) => {
                if let Some((u, i, v)) = data.iter().find(|&(_, _, v)| v < a || v > b) {
                    bail!(
                        "rating {v} of user {} for item {} is outside the declared scale [{a}, {b}]",
                        data.users().id(u),
                        data.items().id(i)
                    );
                }
                (a, b)
            }
        };
        let m = data.matrix();
        let mut indptr = Vec::with_capacity(data.n_users() + 1);
        let (mut indices, mut values) = (Vec::with_capacity(data.nnz()), Vec::with_capacity(data.nnz()));
        indptr.push(0u64);
        for row in m.outer_iterator() {
            indices.extend(row.indices().iter().map(|&i| i as u32));
            values.extend_from_slice(row.data());
            indptr.push(indices.len() as u64);
        }
        let mut set = RatingSet {
            users: data.users().clone(),
            items: data.items().clone(),
            indptr,
            indices,
            values,
            item_counts: Vec::new(),
            scale,
            mean: 0.0,
        };
        set.finish();
        Ok(set)
    }

    fn finish(&mut self) {
        let mut counts = vec![0u32; self.items.len()];
        for &i in &self.indices {
            counts[i as usize] += 1;
        }
        self.item_counts = counts;
        let sum: f64 = self.values.iter().map(|&v| v as f64).sum();
        self.mean = (sum / self.values.len().max(1) as f64) as f32;
    }

    /// User id map (rows).
    pub fn users(&self) -> &IdMap {
        &self.users
    }
    /// Item id map (columns).
    pub fn items(&self) -> &IdMap {
        &self.items
    }
    /// Number of users in the id map.
    pub fn n_users(&self) -> usize {
        self.users.len()
    }
    /// Number of items in the id map.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }
    /// Number of training ratings.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }
    /// Mean training rating.
    pub fn mean(&self) -> f32 {
        self.mean
    }
    /// The rating scale `(low, high)` predictions are clipped to.
    pub fn scale(&self) -> (f32, f32) {
        self.scale
    }
    /// Clips to the scale.
    #[inline]
    pub fn clip(&self, v: f32) -> f32 {
        v.clamp(self.scale.0, self.scale.1)
    }
    #[inline]
    fn span(&self, u: usize) -> std::ops::Range<usize> {
        self.indptr[u] as usize..self.indptr[u + 1] as usize
    }
    /// Position of user `u`'s first rating in row order (as in [`RatingSet::triples`]).
    #[inline]
    pub(crate) fn offset(&self, u: usize) -> usize {
        self.indptr[u] as usize
    }
    /// Items rated by user `u` (sorted).
    #[inline]
    pub fn user_items(&self, u: usize) -> &[u32] {
        &self.indices[self.span(u)]
    }
    /// Ratings of user `u`, aligned with [`RatingSet::user_items`].
    #[inline]
    pub fn user_ratings(&self, u: usize) -> &[f32] {
        &self.values[self.span(u)]
    }
    /// True when user `u` has at least one training rating.
    #[inline]
    pub fn user_known(&self, u: usize) -> bool {
        self.indptr[u + 1] > self.indptr[u]
    }
    /// True when item `i` has at least one training rating.
    #[inline]
    pub fn item_known(&self, i: usize) -> bool {
        self.item_counts[i] > 0
    }
    /// Number of ratings of each item.
    pub fn item_counts(&self) -> &[u32] {
        &self.item_counts
    }
    /// All ratings as (user, item, rating), row by row.
    pub fn triples(&self) -> impl Iterator<Item = (u32, u32, f32)> + '_ {
        (0..self.n_users()).flat_map(move |u| {
            let s = self.span(u);
            self.indices[s.clone()].iter().zip(&self.values[s]).map(move |(&i, &v)| (u as u32, i, v))
        })
    }
    /// Item-major copy: for each item the (user, rating) pairs, as (indptr, users, ratings).
    pub(crate) fn item_major(&self) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
        let n_items = self.n_items();
        let mut indptr = vec![0usize; n_items + 1];
        for &i in &self.indices {
            indptr[i as usize + 1] += 1;
        }
        for i in 0..n_items {
            indptr[i + 1] += indptr[i];
        }
        let mut fill = indptr.clone();
        let (mut users, mut vals) = (vec![0u32; self.nnz()], vec![0f32; self.nnz()]);
        for (u, i, v) in self.triples() {
            let at = &mut fill[i as usize];
            users[*at] = u;
            vals[*at] = v;
            *at += 1;
        }
        (indptr, users, vals)
    }

    /// Adds the rating set to a model file.
    pub(crate) fn write_into(&self, w: ModelWriter) -> ModelWriter {
        w.u64("ratings.indptr", &[self.indptr.len()], &self.indptr)
            .u32("ratings.indices", &[self.indices.len()], &self.indices)
            .f32("ratings.values", &[self.values.len()], &self.values)
    }

    /// The meta part (ids and scale) to embed in a model's meta.
    pub(crate) fn meta(&self) -> serde_json::Value {
        let m = RatingSetMeta { users: self.users.ids().to_vec(), items: self.items.ids().to_vec(), scale: self.scale };
        serde_json::to_value(m).unwrap_or(serde_json::Value::Null)
    }

    /// Rebuilds from a model file, validating every array.
    pub(crate) fn read_from(r: &ModelReader, meta: serde_json::Value) -> Result<Self> {
        let meta: RatingSetMeta =
            serde_json::from_value(meta).map_err(|e| Error::format(format!("bad rating-set meta: {e}")))?;
        let users = IdMap::from_ids(meta.users).map_err(|e| Error::format(e.to_string()))?;
        let items = IdMap::from_ids(meta.items).map_err(|e| Error::format(e.to_string()))?;
        let (lo, hi) = meta.scale;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Error::format(format!("bad rating scale ({lo}, {hi})")));
        }
        let (_, indptr) = r.u64("ratings.indptr")?;
        let (_, indices) = r.u32("ratings.indices")?;
        let (_, values) = r.f32("ratings.values")?;
        let bad = |m: &str| Err(Error::format(format!("rating set: {m}")));
        if indptr.len() != users.len() + 1 || indptr[0] != 0 || indices.len() != values.len() {
            return bad("array lengths do not match the id maps");
        }
        if indptr.windows(2).any(|w| w[0] > w[1]) || indptr[users.len()] as usize != indices.len() {
            return bad("row pointers are not monotone or do not end at the entry count");
        }
        for w in indptr.windows(2) {
            let row = &indices[w[0] as usize..w[1] as usize];
            if row.windows(2).any(|p| p[0] >= p[1]) || row.last().is_some_and(|&i| i as usize >= items.len()) {
                return bad("unsorted or out-of-range item indices");
            }
        }
        if values.iter().any(|v| !v.is_finite()) || values.is_empty() {
            return bad("non-finite or missing ratings");
        }
        let mut set =
            RatingSet { users, items, indptr, indices, values, item_counts: Vec::new(), scale: (lo, hi), mean: 0.0 };
        set.finish();
        Ok(set)
    }
}

/// Checks a common hyper-parameter condition.
pub(crate) fn check_param(ok: bool, name: &str, value: impl std::fmt::Display, expected: &str) -> Result<()> {
    ensure!(ok, param name, "must be {expected}, got {value}");
    Ok(())
}

/// Rejects a factor model's rank `k` above `min(n_users, n_items)`: the rating matrix has no
/// more independent directions than that, so larger factors only fit noise.
pub(crate) fn check_rank(k: usize, data: &RatingSet) -> Result<()> {
    let (nu, ni) = (data.n_users(), data.n_items());
    ensure!(k <= nu.min(ni), "factors ({k}) must not exceed min(n_users, n_items) = min({nu}, {ni}) = {}", nu.min(ni));
    Ok(())
}

/// Reads a 1-D f32 array of exactly `len` values, all finite.
pub(crate) fn read_vec(r: &ModelReader, name: &str, len: usize) -> Result<Vec<f32>> {
    let (shape, data) = r.f32(name)?;
    if shape != [len] || data.iter().any(|v| !v.is_finite()) {
        return Err(Error::format(format!("array {name:?}: expected {len} finite values, got shape {shape:?}")));
    }
    Ok(data)
}

/// Reads a (rows × cols) f32 matrix, row-major, all finite.
pub(crate) fn read_mat(r: &ModelReader, name: &str, rows: usize, cols: usize) -> Result<Vec<f32>> {
    let (shape, data) = r.f32(name)?;
    if shape != [rows, cols] || data.iter().any(|v| !v.is_finite()) {
        return Err(Error::format(format!("array {name:?}: expected finite {rows} x {cols}, got shape {shape:?}")));
    }
    Ok(data)
}

pub(crate) use crate::parallel::pool;
pub(crate) use crate::rng::stream;
