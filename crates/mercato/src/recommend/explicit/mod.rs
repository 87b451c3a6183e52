//! Explicit-rating predictors (Surprise's territory): [`Baseline`], [`FunkSVD`], [`SVDpp`]
//! and [`KNN`], all behind one role trait, [`RatingPredictor`].
//!
//! Conventions shared by every model here:
//!
//! * **Rating scale.** Predictions are clipped to the rating scale: the one declared in the
//!   hyper-parameters ([`RatingScale::Fixed`], ratings outside it are rejected by `fit`) or
//!   the smallest and largest training rating ([`RatingScale::Auto`], the default).
//! * **Unknown users and items.** A user or item with no training rating (an id the model
//!   never saw, or an id in the training id map whose row or column is empty) cannot be
//!   scored by the model proper. The prediction then falls back to the biases the model
//!   has: `mu + b_i` for an unknown user, `mu + b_u` for an unknown item, `mu` for both,
//!   and [`Prediction::status`] says so. The kNN models fall back to their Koren baseline,
//!   also when fewer than `min_k` neighbours are available.
//! * **Duplicates.** The training [`Interactions`](crate::data::Interactions) hold one rating per (user, item) pair;
//!   build them with `DuplicatePolicy::Error` to reject duplicates or `Last` to keep the
//!   latest revision.
//! * **Determinism.** Randomised fits take `seed` and `num_threads`; results are identical
//!   for any thread count (see [`FunkSVD`] for the parallel SGD schedule).

mod baseline;
mod core;
mod funk;
mod knn;
mod simd;
mod svdpp;

pub use baseline::{Baseline, BaselineMethod, BaselineParams, Biases};
pub(crate) use core::unknown_status;
pub use core::{Prediction, PredictionStatus, RatingScale, RatingSet};
pub use funk::{FunkSVD, FunkSVDParams, TrainingHistory};
pub use knn::{KNNParams, KnnVariant, Similarity, KNN};
pub use svdpp::{SVDpp, SVDppParams};

use rayon::prelude::*;

use super::{check_n, to_external, top_n, Filter};
use crate::data::{ExternalId, IdMap};
use crate::Result;

/// A model that predicts the rating a user would give an item: the explicit models here and
/// [`TruncatedSvd`](super::TruncatedSvd).
///
/// Implementors provide the id maps, the rating scale, each user's training items and
/// [`RatingPredictor::predict_index`]; the id-based calls, batches and top-N lists come with
/// the trait.
pub trait RatingPredictor: Send + Sync {
    /// The training users (row indices of [`RatingPredictor::predict_index`]).
    fn users(&self) -> &IdMap;

    /// The training items (column indices of [`RatingPredictor::predict_index`]).
    fn items(&self) -> &IdMap;

    /// The rating scale `(low, high)` predictions are clipped to.
    fn scale(&self) -> (f32, f32);

    /// The items user `user` rated in training, sorted; empty for a user without training
    /// ratings, who is ranked by the fallback.
    fn rated(&self, user: usize) -> &[u32];

    /// Prediction for dense indices; `None` stands for an id the model never saw. The value
    /// is clipped to the rating scale.
    fn predict_index(&self, user: Option<usize>, item: Option<usize>) -> Prediction;

    /// Unclipped scores of every item for a known user, written into `out` (length
    /// `n_items`). The default calls [`RatingPredictor::predict_index`] item by item;
    /// factor models override it with one pass over the item factors.
    fn score_items(&self, user: usize, out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.predict_index(Some(user), Some(i)).value;
        }
    }

    /// Prediction for external ids (unknown ids fall back, never fail).
    fn predict(&self, user: &ExternalId, item: &ExternalId) -> Prediction {
        self.predict_index(self.users().index(user), self.items().index(item))
    }

    /// Predictions for many (user, item) pairs, in parallel on the current rayon pool.
    fn predict_batch(&self, users: &[ExternalId], items: &[ExternalId]) -> Result<Vec<Prediction>> {
        crate::ensure!(
            users.len() == items.len(),
            "users and items must have the same length, got {} and {}",
            users.len(),
            items.len()
        );
        Ok(users.par_iter().zip(items.par_iter()).with_min_len(256).map(|(u, i)| self.predict(u, i)).collect())
    }

    /// The `n` items with the highest predicted rating for `user`, best first (ratings clipped
    /// to the scale). `filter.exclude_seen` leaves out the user's training items. A user
    /// without training ratings gets the items ranked by the fallback (`mu + b_i`), flagged
    /// by [`IdRecs::fallback`](super::IdRecs).
    fn recommend(&self, user: &ExternalId, n: usize, filter: &Filter) -> Result<super::IdRecs> {
        check_n(n)?;
        let n_items = self.items().len();
        filter.validate(n_items)?;
        let mut scores = vec![0f32; n_items];
        let rated = self.users().index(user).map(|u| (u, self.rated(u)));
        let (seen, fallback): (&[u32], bool) = match rated {
            Some((u, seen)) if !seen.is_empty() => {
                self.score_items(u, &mut scores);
                (seen, false)
            }
            _ => {
                for (i, s) in scores.iter_mut().enumerate() {
                    *s = self.predict_index(None, Some(i)).value;
                }
                (&[], true)
            }
        };
        let (lo, hi) = self.scale();
        let keep = |i: usize| {
            if filter.exclude_seen && seen.binary_search(&(i as u32)).is_ok() {
                return false;
            }
            filter.deny.is_empty() && filter.allow.is_none() || filter.allows(i, &[])
        };
        let ranked = top_n(&scores, n, keep).into_iter().map(|(i, s)| (i, s.clamp(lo, hi))).collect();
        Ok(super::IdRecs { items: to_external(self.items(), ranked), fallback })
    }
}

/// The [`RatingPredictor`] accessors of a model that keeps its training set as a
/// [`RatingSet`] in `self.data`.
macro_rules! rating_set_accessors {
    () => {
        fn users(&self) -> &crate::data::IdMap {
            self.data.users()
        }
        fn items(&self) -> &crate::data::IdMap {
            self.data.items()
        }
        fn scale(&self) -> (f32, f32) {
            self.data.scale()
        }
        fn rated(&self, user: usize) -> &[u32] {
            self.data.user_items(user)
        }
    };
}
use rating_set_accessors;

#[cfg(test)]
mod tests;
