//! Top-N by external id: the role every recommender plays behind [`crate::AnyModel`].
//!
//! The family traits work on what each model naturally holds (rating predictors on external
//! ids, implicit models on dense indices); a service wants one surface that takes the ids its
//! users and products carry and returns them, with a flag when the list is not personal.
//! [`IdRecommender`] is that surface; [`ById`] gives it to an implicit model together with the
//! id maps it was trained with.

use super::explicit::RatingPredictor;
use super::hybrid::HybridMF;
use super::implicit::{ModelIds, Recommender};
use super::serving::{to_external, Filter, Ranked};
use super::svd::TruncatedSvd;
use crate::data::{ExternalId, IdMap};
use crate::{Error, Result};

/// A ranked list of external item ids, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct IdRecs {
    /// (item id, score), best first; fewer than `n` when the filter leaves fewer items.
    pub items: Ranked,
    /// True when the model could not personalise the list: the user has no interactions and
    /// the list is the popularity ranking (scores are then training counts).
    pub fallback: bool,
}

/// Top-N recommendation by external id (users and items as the training data named them).
///
/// Every method is `&self` and the trait is `Send + Sync`, so one loaded model serves many
/// threads. A user or item the model never saw is an [`Error::UnknownId`] carrying the id.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{AlsParams, Filter, IdRecommender};
/// use mercato::AnyModel;
///
/// let events = Interactions::from_triples(
///     [("ann", "tea", 3.0), ("ann", "mug", 1.0), ("bob", "tea", 2.0), ("bob", "pot", 5.0)],
///     DuplicatePolicy::Sum,
/// )?;
/// let model = AnyModel::from(AlsParams::default().factors(4).fit(&events)?);
/// let rec = model.as_recommender().expect("ALS recommends");
/// let filter = Filter::from_ids(rec.item_ids(), true, None, &[])?;
/// let top = rec.recommend_ids(&"ann".into(), 2, &filter)?;
/// assert_eq!(top.items[0].0, "pot".into()); // the only item ann has not seen
/// assert!(matches!(rec.recommend_ids(&"zoe".into(), 2, &filter), Err(mercato::Error::UnknownId { .. })));
/// # Ok::<(), mercato::Error>(())
/// ```
pub trait IdRecommender: Send + Sync {
    /// The users' external ids, by index.
    fn user_ids(&self) -> &IdMap;

    /// The items' external ids, by index (what [`Filter::from_ids`] translates).
    fn item_ids(&self) -> &IdMap;

    /// The `n` best items for `user`. `filter` holds item indices of [`IdRecommender::item_ids`].
    fn recommend_ids(&self, user: &ExternalId, n: usize, filter: &Filter) -> Result<IdRecs>;

    /// [`IdRecommender::recommend_ids`] for many users (one unknown id fails the call).
    fn recommend_ids_batch(&self, users: &[ExternalId], n: usize, filter: &Filter) -> Result<Vec<IdRecs>> {
        users.iter().map(|u| self.recommend_ids(u, n, filter)).collect()
    }

    /// The `n` items most similar to `item` (the item itself included, as implicit does).
    /// Models without an item similarity answer [`Error::InvalidInput`].
    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Ranked>;
}

fn index_of(ids: &IdMap, id: &ExternalId, kind: &'static str) -> Result<usize> {
    ids.index(id).ok_or_else(|| Error::UnknownId { kind, id: id.to_string() })
}

/// An implicit-feedback model with the external ids of its users and items.
#[derive(Clone, Debug)]
pub struct ById<M> {
    model: M,
    users: IdMap,
    items: IdMap,
}

impl<M: Recommender> ById<M> {
    /// Wraps `model` with its own ids; a model trained on a bare matrix (no ids) is served
    /// by index (ids `0..n`). Ids that name only some users or items are an error: every
    /// row must be reachable.
    pub fn new(model: M, ids: Option<&ModelIds>) -> Result<Self> {
        let (nu, ni) = (model.n_users(), model.n_items());
        let (users, items) = match ids {
            None => (IdMap::identity(nu), IdMap::identity(ni)),
            Some(ids) if ids.users.len() == nu && ids.items.len() == ni => (ids.users.clone(), ids.items.clone()),
            Some(ids) => {
                return Err(Error::format(format!(
                    "the model names {} of its {nu} users and {} of its {ni} items; serving by id needs all of them",
                    ids.users.len(),
                    ids.items.len()
                )))
            }
        };
        Ok(ById { model, users, items })
    }

    /// The wrapped model.
    pub fn model(&self) -> &M {
        &self.model
    }

    fn to_id_recs(&self, recs: super::Recs) -> IdRecs {
        IdRecs { items: to_external(&self.items, recs.items), fallback: recs.popularity_fallback }
    }
}

impl<M: Recommender + Send + Sync> IdRecommender for ById<M> {
    fn user_ids(&self) -> &IdMap {
        &self.users
    }
    fn item_ids(&self) -> &IdMap {
        &self.items
    }
    fn recommend_ids(&self, user: &ExternalId, n: usize, filter: &Filter) -> Result<IdRecs> {
        let u = index_of(&self.users, user, "user")?;
        Ok(self.to_id_recs(self.model.recommend(u, n, filter)?))
    }
    fn recommend_ids_batch(&self, users: &[ExternalId], n: usize, filter: &Filter) -> Result<Vec<IdRecs>> {
        let idx = users.iter().map(|u| index_of(&self.users, u, "user")).collect::<Result<Vec<_>>>()?;
        Ok(self.model.recommend_batch(&idx, n, filter)?.into_iter().map(|r| self.to_id_recs(r)).collect())
    }
    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Ranked> {
        let i = index_of(&self.items, item, "item")?;
        Ok(to_external(&self.items, self.model.similar_items(i, n)?))
    }
}

/// Rating predictors rank by predicted rating; a user without training ratings is unknown
/// here (their fallback list would be the same for everyone, see [`RatingPredictor::recommend`]).
/// `$similar` answers `similar_items_ids` for `$model`, `$item` and `$n`.
macro_rules! rating_predictor_by_id {
    ($ty:ty, |$model:ident, $item:ident, $n:ident| $similar:expr) => {
        impl IdRecommender for $ty {
            fn user_ids(&self) -> &IdMap {
                RatingPredictor::users(self)
            }
            fn item_ids(&self) -> &IdMap {
                RatingPredictor::items(self)
            }
            fn recommend_ids(&self, user: &ExternalId, n: usize, filter: &Filter) -> Result<IdRecs> {
                index_of(RatingPredictor::users(self), user, "user")?;
                RatingPredictor::recommend(self, user, n, filter)
            }
            fn similar_items_ids(&self, $item: &ExternalId, $n: usize) -> Result<Ranked> {
                let $model = self;
                $similar
            }
        }
    };
    ($($ty:ty),*) => {$(
        rating_predictor_by_id!($ty, |_model, _item, _n| Err(Error::invalid(concat!(
            stringify!($ty),
            " has no item similarity; use an implicit model or TruncatedSvd"
        ))));
    )*};
}
rating_predictor_by_id!(super::Baseline, super::FunkSVD, super::SVDpp, super::KNN);
rating_predictor_by_id!(TruncatedSvd, |model, item, n| {
    let i = index_of(model.items(), item, "item")?;
    Ok(to_external(model.items(), model.similar_items(i, n)?))
});

/// A hybrid model by the ids of its training users and items (known users only; new users
/// and items, given by features, go through [`HybridMF::recommend_reprs`]).
impl IdRecommender for HybridMF {
    fn user_ids(&self) -> &IdMap {
        &self.ids().users
    }

    fn item_ids(&self) -> &IdMap {
        &self.ids().items
    }

    fn recommend_ids(&self, user: &ExternalId, n: usize, filter: &Filter) -> Result<IdRecs> {
        let u = index_of(self.user_ids(), user, "user")?;
        let found = self.recommend(&[u], n, filter)?.pop().unwrap_or_default();
        Ok(IdRecs { items: to_external(self.item_ids(), found), fallback: false })
    }

    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Ranked> {
        let i = index_of(self.item_ids(), item, "item")?;
        let items = self.known_item_reprs();
        let found = self.similar_to(items.embedding(i), items, n)?;
        Ok(to_external(self.item_ids(), found))
    }
}
