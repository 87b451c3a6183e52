//! The models the server holds and the roles the routes use.
//!
//! This is the only file that knows how model files map onto library types: every file loads
//! through the crate-wide handle [`AnyModel`]; detectors are kept with their feature names,
//! recommenders are served by external ids behind the small [`IdRecommender`] trait the
//! routes use (filters by external id, the item itself left out of `similar`). A content
//! model ([`ItemContent`]) has no users: it answers `similar` and, from the items a visitor
//! viewed, `recommend_sequence`.

use std::collections::HashMap;

use mercato::data::ExternalId;
use mercato::fraud::{AnyDetector, Detector};
use mercato::recommend::hybrid::{HybridMF, ItemContent, NamedFeatures};
use mercato::recommend::{similar_but_itself, Filter};
use mercato::{AnyModel, Error, Result};

/// Which items a recommendation may contain, by external id.
#[derive(Clone, Debug, Default)]
pub struct IdFilter {
    /// Leave out items the user interacted with in training.
    pub exclude_seen: bool,
    /// Only these items (all when `None`).
    pub allow: Option<Vec<ExternalId>>,
    /// Never these items.
    pub deny: Vec<ExternalId>,
}

/// A ranked list by external id.
#[derive(Clone, Debug, PartialEq)]
pub struct IdRecs {
    /// (item, score), best first.
    pub items: Vec<(ExternalId, f32)>,
    /// True when the user had no interactions and the list is the popularity ranking.
    pub fallback: bool,
}

/// The answer of a non-sequential model to a session request.
const NOT_SEQUENTIAL: &str = "this model does not recommend from a sequence of items (train SASRec or GRU4Rec)";

/// The answer of a model without user/item features to a cold-start request.
const NO_FEATURES: &str = "this model does not read user or item features (train a hybrid model, HybridMF)";

/// The answer of a content model to a request by user.
const NO_USERS: &str = "a content model (ItemContent) has no users: ask /similar with an item or item_features, \
     or /recommend_sequence with the items a visitor viewed";

/// A recommender served by external ids.
pub trait IdRecommender: Send + Sync {
    /// Users the model knows.
    fn n_users(&self) -> usize;
    /// Items the model ranks.
    fn n_items(&self) -> usize;
    /// Top `n` items for `user`; unknown ids (user, or items in the filter) are errors.
    fn recommend_ids(&self, user: &ExternalId, n: usize, filter: &IdFilter) -> Result<IdRecs>;
    /// The `n` items most similar to `item`, the item itself left out (as `mercato similar`).
    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Vec<(ExternalId, f32)>>;
    /// Top `n` next items for a live session (item ids, oldest first) with its context
    /// columns by name; only sequential models answer, others are an input error.
    fn recommend_sequence_ids(
        &self,
        items: &[ExternalId],
        context: &[(String, Vec<ExternalId>)],
        n: usize,
        exclude_seen: bool,
    ) -> Result<IdRecs> {
        let _ = (items, context, n, exclude_seen);
        Err(Error::invalid(NOT_SEQUENTIAL))
    }
    /// Top `n` training items for a new user described by named user features (hybrid
    /// models); `filter.exclude_seen` has nothing to drop for a new user.
    fn recommend_features(&self, features: &NamedFeatures, n: usize, filter: &IdFilter) -> Result<IdRecs> {
        let _ = (features, n, filter);
        Err(Error::invalid(NO_FEATURES))
    }
    /// The `n` training items most like a new item described by named item features.
    fn similar_to_features(&self, features: &NamedFeatures, n: usize) -> Result<Vec<(ExternalId, f32)>> {
        let _ = (features, n);
        Err(Error::invalid(NO_FEATURES))
    }
    /// New items, each by its named item features, ranked for a training user: the `n` best
    /// as (position in `items`, score).
    fn rank_new_items(&self, user: &ExternalId, items: &[Vec<(&str, f32)>], n: usize) -> Result<Vec<(usize, f32)>> {
        let _ = (user, items, n);
        Err(Error::invalid(NO_FEATURES))
    }
}

/// A detector and its feature names (`f0, f1, ...` when the file has none).
pub struct ServedDetector {
    /// The model.
    pub detector: AnyDetector,
    /// Feature names in column order.
    pub feature_names: Vec<String>,
    /// Column of each feature name, for `instances` requests.
    pub columns: HashMap<String, usize>,
}

/// A loaded model file.
pub enum Model {
    /// A fraud detector.
    Detector(Box<ServedDetector>),
    /// A recommender.
    Recommender(Box<dyn IdRecommender>),
    /// A product-image classifier (feature `torch`).
    #[cfg(feature = "torch")]
    Classifier(Box<mercato::vision::ImageClassifier>),
}

impl Model {
    /// Loads model file bytes, dispatching on the kind in the header; returns the kind too.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<(Model, String)> {
        let any = AnyModel::from_bytes(bytes)?;
        let kind = any.kind().to_string();
        let any = match any {
            AnyModel::Content(m) => return Ok((Model::Recommender(Box::new(Content(m))), kind)),
            other => other,
        };
        if any.as_recommender().is_some() {
            return Ok((Model::Recommender(Box::new(Recommender(any))), kind));
        }
        #[cfg(feature = "torch")]
        let any = match any {
            AnyModel::Classifier(c) => return Ok((Model::Classifier(Box::new(c)), kind)),
            other => other,
        };
        let AnyModel::Detector(detector) = any else {
            return Err(Error::format(format!("{kind:?} models cannot be served")));
        };
        let n = detector.n_features().ok_or_else(|| Error::format("the detector is not fitted"))?;
        let feature_names = match detector.feature_names() {
            Some(names) => names.to_vec(),
            None => (0..n).map(|j| format!("f{j}")).collect(),
        };
        let columns = feature_names.iter().enumerate().map(|(j, f)| (f.clone(), j)).collect();
        Ok((Model::Detector(Box::new(ServedDetector { detector, feature_names, columns })), kind))
    }
}

/// Any recommender [`AnyModel`] holds (checked when it is built).
struct Recommender(AnyModel);

impl Recommender {
    fn get(&self) -> Result<&dyn mercato::recommend::IdRecommender> {
        self.0.as_recommender().ok_or_else(|| Error::format("not a recommender"))
    }

    fn hybrid(&self) -> Result<&HybridMF> {
        match &self.0 {
            AnyModel::Hybrid(m) => Ok(m),
            _ => Err(Error::invalid(NO_FEATURES)),
        }
    }
}

impl IdRecommender for Recommender {
    fn n_users(&self) -> usize {
        self.get().map_or(0, |r| r.user_ids().len())
    }
    fn n_items(&self) -> usize {
        self.get().map_or(0, |r| r.item_ids().len())
    }
    fn recommend_ids(&self, user: &ExternalId, n: usize, f: &IdFilter) -> Result<IdRecs> {
        let r = self.get()?;
        let filter = Filter::from_ids(r.item_ids(), f.exclude_seen, f.allow.as_deref(), &f.deny)?;
        let recs = r.recommend_ids(user, n, &filter)?;
        Ok(IdRecs { items: recs.items, fallback: recs.fallback })
    }
    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Vec<(ExternalId, f32)>> {
        let r = self.get()?;
        similar_but_itself(item, n, |k| r.similar_items_ids(item, k))
    }
    fn recommend_features(&self, features: &NamedFeatures, n: usize, f: &IdFilter) -> Result<IdRecs> {
        let m = self.hybrid()?;
        let filter = Filter::from_ids(&m.ids().items, false, f.allow.as_deref(), &f.deny)?;
        let items = m.recommend_from_features(features, n, &filter)?;
        Ok(IdRecs { items, fallback: false })
    }
    fn similar_to_features(&self, features: &NamedFeatures, n: usize) -> Result<Vec<(ExternalId, f32)>> {
        self.hybrid()?.similar_to_features(features, n)
    }
    fn rank_new_items(&self, user: &ExternalId, items: &[Vec<(&str, f32)>], n: usize) -> Result<Vec<(usize, f32)>> {
        self.hybrid()?.rank_new_items(user, items, n)
    }
    #[cfg(feature = "torch")]
    fn recommend_sequence_ids(
        &self,
        items: &[ExternalId],
        context: &[(String, Vec<ExternalId>)],
        n: usize,
        exclude_seen: bool,
    ) -> Result<IdRecs> {
        let AnyModel::Sequential(m) = &self.0 else {
            return Err(Error::invalid(NOT_SEQUENTIAL));
        };
        let names: Vec<&str> = m.context().iter().map(|c| c.name.as_str()).collect();
        let mut columns = Vec::with_capacity(names.len());
        for name in &names {
            let col = context.iter().find(|(n, _)| n == name).ok_or_else(|| {
                Error::invalid(format!("context must give the model's columns {names:?}; {name:?} is missing"))
            })?;
            columns.push(col.1.clone());
        }
        if let Some((extra, _)) = context.iter().find(|(n, _)| !names.contains(&n.as_str())) {
            return Err(Error::invalid(format!("unknown context column {extra:?}; the model reads {names:?}")));
        }
        let recs = m.recommend_sequence(items, &columns, n, exclude_seen)?;
        Ok(IdRecs { items: recs.items, fallback: recs.fallback })
    }
}

/// A content model, served by item: similar items, and "more like what this visitor viewed".
struct Content(ItemContent);

impl IdRecommender for Content {
    fn n_users(&self) -> usize {
        0
    }
    fn n_items(&self) -> usize {
        self.0.n_items()
    }
    fn recommend_ids(&self, _user: &ExternalId, _n: usize, _filter: &IdFilter) -> Result<IdRecs> {
        Err(Error::invalid(NO_USERS))
    }
    fn recommend_features(&self, _features: &NamedFeatures, _n: usize, _filter: &IdFilter) -> Result<IdRecs> {
        Err(Error::invalid(NO_USERS))
    }
    fn rank_new_items(&self, _user: &ExternalId, _items: &[Vec<(&str, f32)>], _n: usize) -> Result<Vec<(usize, f32)>> {
        Err(Error::invalid(NO_USERS))
    }
    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Vec<(ExternalId, f32)>> {
        similar_but_itself(item, n, |k| self.0.similar_items_ids(item, k))
    }
    fn similar_to_features(&self, features: &NamedFeatures, n: usize) -> Result<Vec<(ExternalId, f32)>> {
        self.0.similar_to_named_features(features, n)
    }
    /// The session's items in any order (a content profile has no order); no context.
    fn recommend_sequence_ids(
        &self,
        items: &[ExternalId],
        context: &[(String, Vec<ExternalId>)],
        n: usize,
        exclude_seen: bool,
    ) -> Result<IdRecs> {
        if let Some((name, _)) = context.first() {
            return Err(Error::invalid(format!("unknown context column {name:?}; a content model reads none")));
        }
        let items = self.0.recommend_from_items(items, n, &Filter::new().exclude_seen(exclude_seen))?;
        Ok(IdRecs { items, fallback: false })
    }
}
