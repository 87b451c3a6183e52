//! The models the server holds and the roles the routes use.
//!
//! This is the only file that knows how model files map onto library types: until the
//! crate-wide handle `mercato::AnyModel` exists, detectors load through
//! [`AnyDetector`] and recommenders through the same dispatch as the CLI, behind the small
//! [`IdRecommender`] trait (the shape `AnyModel::as_recommender` will have). Switching to
//! `AnyModel` replaces this file and nothing else.

use std::collections::HashMap;

use mercato::data::{ExternalId, IdMap};
use mercato::fraud::{AnyDetector, Detector};
use mercato::persist::{peek_kind, ModelReader, Persist};
use mercato::recommend::{Als, Baseline, Bpr, Filter, FunkSVD, ItemKnn, RatingPredictor, Recommender, SVDpp, KNN};
use mercato::{Error, Result};

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
}

impl Model {
    /// Loads model file bytes, dispatching on the kind in the header; returns the kind too.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<(Model, String)> {
        let kind = peek_kind(&bytes)?;
        if kind.starts_with("fraud.") && kind != "fraud.scaler" {
            let detector = AnyDetector::from_bytes(bytes)?;
            let n = detector.n_features().ok_or_else(|| Error::format("the detector is not fitted"))?;
            let feature_names = match detector.feature_names() {
                Some(names) => names.to_vec(),
                None => (0..n).map(|j| format!("f{j}")).collect(),
            };
            let columns = feature_names.iter().enumerate().map(|(j, f)| (f.clone(), j)).collect();
            return Ok((Model::Detector(Box::new(ServedDetector { detector, feature_names, columns })), kind));
        }
        let r = ModelReader::from_bytes(bytes, &kind)?;
        let rec: Box<dyn IdRecommender> = match kind.as_str() {
            Baseline::KIND => Box::new(Explicit(Box::new(Baseline::read(&r)?))),
            FunkSVD::KIND => Box::new(Explicit(Box::new(FunkSVD::read(&r)?))),
            SVDpp::KIND => Box::new(Explicit(Box::new(SVDpp::read(&r)?))),
            KNN::KIND => Box::new(Explicit(Box::new(KNN::read(&r)?))),
            Als::KIND => {
                let m = Als::read(&r)?;
                let ids = m.ids().cloned();
                Box::new(Implicit::new(Box::new(m), ids)?)
            }
            Bpr::KIND => {
                let m = Bpr::read(&r)?;
                let ids = m.ids().cloned();
                Box::new(Implicit::new(Box::new(m), ids)?)
            }
            ItemKnn::KIND => {
                let m = ItemKnn::read(&r)?;
                let ids = m.ids().cloned();
                Box::new(Implicit::new(Box::new(m), ids)?)
            }
            other => return Err(Error::format(format!("{other:?} models cannot be served"))),
        };
        Ok((Model::Recommender(rec), kind))
    }
}

/// A rating predictor; it keeps its own id maps.
struct Explicit(Box<dyn RatingPredictor + Send>);

impl IdRecommender for Explicit {
    fn n_users(&self) -> usize {
        self.0.ratings().users().len()
    }
    fn n_items(&self) -> usize {
        self.0.ratings().items().len()
    }
    fn recommend_ids(&self, user: &ExternalId, n: usize, f: &IdFilter) -> Result<IdRecs> {
        let r = self.0.ratings();
        // The library falls back to item biases for unknown users; a client that sends a
        // mistyped id should hear about it instead (as `mercato recommend`).
        match r.users().index(user) {
            Some(u) if r.user_known(u) => {}
            _ => return Err(Error::UnknownId { kind: "user", id: user.to_string() }),
        }
        let filter = Filter::from_ids(r.items(), false, f.allow.as_deref(), &f.deny)?;
        Ok(IdRecs { items: self.0.recommend(user, n, f.exclude_seen, &filter)?, fallback: false })
    }
    fn similar_items_ids(&self, _item: &ExternalId, _n: usize) -> Result<Vec<(ExternalId, f32)>> {
        mercato::bail!("rating predictors have no item similarity; use an implicit model (als, bpr, itemknn)")
    }
}

/// An implicit-feedback model and the external ids of its rows and columns.
struct Implicit {
    model: Box<dyn Recommender>,
    users: IdMap,
    items: IdMap,
}

impl Implicit {
    /// Models trained on a bare matrix serve by index (identity ids); partial ids are refused.
    fn new(model: Box<dyn Recommender>, ids: Option<mercato::recommend::ModelIds>) -> Result<Implicit> {
        let (nu, ni) = (model.n_users(), model.n_items());
        let (users, items) = match ids {
            None => (IdMap::identity(nu), IdMap::identity(ni)),
            Some(ids) if ids.users.len() == nu && ids.items.len() == ni => (ids.users, ids.items),
            Some(ids) => {
                return Err(Error::format(format!(
                    "the model names {} of its {nu} users and {} of its {ni} items; serving needs all of them",
                    ids.users.len(),
                    ids.items.len()
                )))
            }
        };
        Ok(Implicit { model, users, items })
    }
}

impl IdRecommender for Implicit {
    fn n_users(&self) -> usize {
        self.model.n_users()
    }
    fn n_items(&self) -> usize {
        self.model.n_items()
    }
    fn recommend_ids(&self, user: &ExternalId, n: usize, f: &IdFilter) -> Result<IdRecs> {
        let u = self.users.index_or_err(user, "user")?;
        let filter = Filter::from_ids(&self.items, f.exclude_seen, f.allow.as_deref(), &f.deny)?;
        let recs = self.model.recommend(u, n, &filter)?;
        let items = recs.items.into_iter().map(|(i, s)| (self.items.id(i).clone(), s)).collect();
        Ok(IdRecs { items, fallback: recs.popularity_fallback })
    }
    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Vec<(ExternalId, f32)>> {
        let i = self.items.index_or_err(item, "item")?;
        let found = self.model.similar_items(i, n.saturating_add(1))?;
        Ok(found.into_iter().filter(|&(j, _)| j != i).take(n).map(|(j, s)| (self.items.id(j).clone(), s)).collect())
    }
}
