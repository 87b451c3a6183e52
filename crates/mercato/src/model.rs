//! [`AnyModel`]: one handle for every model file mercato writes.
//!
//! A service, the CLI, the Python bindings and the distributed helpers load models without
//! knowing their kind in advance, then ask for the role they need: a detector scores rows,
//! a recommender ranks items by external id, a rating predictor predicts a rating, an image
//! classifier labels pictures. The kind comes from the file header ([`persist::peek_kind`]);
//! the model's own reader then validates the whole file.

use std::path::Path;

use crate::data::IdMap;
use crate::fraud::preprocess::Scaler;
use crate::fraud::AnyDetector;
use crate::persist::{peek_kind, Persist};
use crate::recommend::hybrid::{HybridMF, ImageFeatures, ItemContent};
use crate::recommend::{
    Als, Baseline, Bpr, ById, FunkSVD, IdRecommender, ItemKnn, RatingPredictor, Recommender, SVDpp, TruncatedSvd, KNN,
};
use crate::regression::LinearRegression;
use crate::{Error, Result};

/// Any fitted mercato model.
///
/// ```
/// use mercato::fraud::{Detector, EcodParams};
/// use mercato::persist::Persist;
/// use mercato::AnyModel;
///
/// let det = EcodParams::default().fit(&ndarray::array![[1.0], [2.0], [2.5], [3.0], [40.0]].view())?;
/// let model = AnyModel::from_bytes(det.to_bytes()?)?;
/// assert_eq!(model.kind(), "fraud.ecod");
/// assert!(model.as_recommender().is_none());
/// let scorer = model.as_detector().expect("a detector");
/// assert_eq!(scorer.score_one(&[40.0])?, det.score_one(&[40.0])?);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)]
pub enum AnyModel {
    /// A fraud detector (any kind, ensembles included).
    Detector(AnyDetector),
    /// A fraud feature scaler (standardisation before distance-based detectors).
    Scaler(Scaler),
    /// [`Baseline`] rating predictor.
    Baseline(Baseline),
    /// [`FunkSVD`] rating predictor.
    FunkSvd(FunkSVD),
    /// [`SVDpp`] rating predictor.
    SvdPp(SVDpp),
    /// [`KNN`] rating predictor.
    Knn(KNN),
    /// [`TruncatedSvd`] of a rating matrix.
    TruncatedSvd(TruncatedSvd),
    /// [`Als`] with its user and item ids.
    Als(ById<Als>),
    /// [`Bpr`] with its user and item ids.
    Bpr(ById<Bpr>),
    /// [`ItemKnn`] with its user and item ids.
    ItemKnn(ById<ItemKnn>),
    /// [`HybridMF`](crate::recommend::hybrid::HybridMF) (features and cold start); its
    /// [`IdRecommender`] role serves the training users and items by id.
    Hybrid(crate::recommend::hybrid::HybridMF),
    /// [`ItemContent`](crate::recommend::hybrid::ItemContent): items compared by their
    /// features (no user ids, so no [`IdRecommender`] role).
    Content(ItemContent),
    /// [`ImageFeatures`](crate::recommend::hybrid::ImageFeatures): image embeddings turned
    /// into hybrid item features (a transformer, no serving role).
    ImageFeatures(ImageFeatures),
    /// A fitted [`LinearRegression`](crate::regression::LinearRegression) (OLS, WLS, ridge).
    Regression(crate::regression::LinearRegression),
    /// An image classifier (cargo feature `torch`).
    #[cfg(feature = "torch")]
    Classifier(crate::vision::ImageClassifier),
    /// A sequential next-item recommender, SASRec or GRU4Rec (cargo feature `torch`).
    #[cfg(feature = "torch")]
    Sequential(crate::recommend::sequential::SequentialRecommender),
}

impl AnyModel {
    /// Loads any model from its file bytes, dispatching on the kind in the header.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let kind = peek_kind(&bytes)?;
        Ok(match kind.as_str() {
            k if k.starts_with("fraud.") && k != Scaler::KIND => AnyModel::Detector(AnyDetector::from_bytes(bytes)?),
            Scaler::KIND => AnyModel::Scaler(Scaler::from_bytes(bytes)?),
            Baseline::KIND => AnyModel::Baseline(Baseline::from_bytes(bytes)?),
            FunkSVD::KIND => AnyModel::FunkSvd(FunkSVD::from_bytes(bytes)?),
            SVDpp::KIND => AnyModel::SvdPp(SVDpp::from_bytes(bytes)?),
            KNN::KIND => AnyModel::Knn(KNN::from_bytes(bytes)?),
            TruncatedSvd::KIND => AnyModel::TruncatedSvd(TruncatedSvd::from_bytes(bytes)?),
            Als::KIND => Als::from_bytes(bytes)?.into(),
            Bpr::KIND => Bpr::from_bytes(bytes)?.into(),
            ItemKnn::KIND => ItemKnn::from_bytes(bytes)?.into(),
            HybridMF::KIND => AnyModel::Hybrid(HybridMF::from_bytes(bytes)?),
            ItemContent::KIND => AnyModel::Content(ItemContent::from_bytes(bytes)?),
            ImageFeatures::KIND => AnyModel::ImageFeatures(ImageFeatures::from_bytes(bytes)?),
            LinearRegression::KIND => AnyModel::Regression(LinearRegression::from_bytes(bytes)?),
            #[cfg(feature = "torch")]
            crate::vision::KIND_SMALL_CNN | crate::vision::KIND_RESNET => {
                AnyModel::Classifier(crate::vision::ImageClassifier::from_bytes(bytes)?)
            }
            #[cfg(feature = "torch")]
            crate::recommend::sequential::KIND_SASREC | crate::recommend::sequential::KIND_GRU4REC => {
                AnyModel::Sequential(crate::recommend::sequential::SequentialRecommender::from_bytes(bytes)?)
            }
            other => return Err(Error::format(format!("unknown model kind {other:?} (from a newer mercato?)"))),
        })
    }

    /// Loads any model file; format errors name the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(bytes).map_err(|e| match e {
            Error::ModelFormat(m) => Error::format(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// The model file bytes ([`AnyModel::from_bytes`] reads them back).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        match self {
            AnyModel::Detector(m) => m.to_bytes(),
            AnyModel::Scaler(m) => m.to_bytes(),
            AnyModel::Baseline(m) => m.to_bytes(),
            AnyModel::FunkSvd(m) => m.to_bytes(),
            AnyModel::SvdPp(m) => m.to_bytes(),
            AnyModel::Knn(m) => m.to_bytes(),
            AnyModel::TruncatedSvd(m) => m.to_bytes(),
            AnyModel::Als(m) => m.model().to_bytes(),
            AnyModel::Bpr(m) => m.model().to_bytes(),
            AnyModel::ItemKnn(m) => m.model().to_bytes(),
            AnyModel::Hybrid(m) => m.to_bytes(),
            AnyModel::Content(m) => m.to_bytes(),
            AnyModel::ImageFeatures(m) => m.to_bytes(),
            AnyModel::Regression(m) => m.to_bytes(),
            #[cfg(feature = "torch")]
            AnyModel::Classifier(m) => m.to_bytes(),
            #[cfg(feature = "torch")]
            AnyModel::Sequential(m) => m.to_bytes(),
        }
    }

    /// Saves the model file (written to a temporary file, then renamed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        crate::persist::write_atomically(path, &self.to_bytes()?)
    }

    /// The kind written in the file header, e.g. `"recommend.als"`, `"fraud.iforest"`.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyModel::Detector(m) => m.kind(),
            AnyModel::Scaler(_) => Scaler::KIND,
            AnyModel::Baseline(_) => Baseline::KIND,
            AnyModel::FunkSvd(_) => FunkSVD::KIND,
            AnyModel::SvdPp(_) => SVDpp::KIND,
            AnyModel::Knn(_) => KNN::KIND,
            AnyModel::TruncatedSvd(_) => TruncatedSvd::KIND,
            AnyModel::Als(_) => Als::KIND,
            AnyModel::Bpr(_) => Bpr::KIND,
            AnyModel::ItemKnn(_) => ItemKnn::KIND,
            AnyModel::Hybrid(_) => HybridMF::KIND,
            AnyModel::Content(_) => ItemContent::KIND,
            AnyModel::ImageFeatures(_) => ImageFeatures::KIND,
            AnyModel::Regression(_) => LinearRegression::KIND,
            #[cfg(feature = "torch")]
            AnyModel::Classifier(m) => m.arch().kind(),
            #[cfg(feature = "torch")]
            AnyModel::Sequential(m) => m.params().arch.kind(),
        }
    }

    /// The detector role: scores rows, higher = more anomalous.
    pub fn as_detector(&self) -> Option<&AnyDetector> {
        match self {
            AnyModel::Detector(d) => Some(d),
            _ => None,
        }
    }

    /// The top-N role, by external id (every recommender).
    pub fn as_recommender(&self) -> Option<&dyn IdRecommender> {
        match self {
            AnyModel::Baseline(m) => Some(m),
            AnyModel::FunkSvd(m) => Some(m),
            AnyModel::SvdPp(m) => Some(m),
            AnyModel::Knn(m) => Some(m),
            AnyModel::TruncatedSvd(m) => Some(m),
            AnyModel::Als(m) => Some(m),
            AnyModel::Bpr(m) => Some(m),
            AnyModel::ItemKnn(m) => Some(m),
            AnyModel::Hybrid(m) => Some(m),
            #[cfg(feature = "torch")]
            AnyModel::Sequential(m) => Some(m),
            _ => None,
        }
    }

    /// The regression role: predictions and statsmodels' inference.
    pub fn as_regressor(&self) -> Option<&LinearRegression> {
        match self {
            AnyModel::Regression(m) => Some(m),
            _ => None,
        }
    }

    /// The implicit-feedback role by index (ALS, BPR, item kNN): the model and the ids of its
    /// users and items, for evaluation and fold-in on interaction rows.
    pub fn as_implicit(&self) -> Option<(&dyn Recommender, &IdMap, &IdMap)> {
        fn parts<M: Recommender + Send + Sync>(m: &ById<M>) -> (&dyn Recommender, &IdMap, &IdMap) {
            (m.model(), m.user_ids(), m.item_ids())
        }
        match self {
            AnyModel::Als(m) => Some(parts(m)),
            AnyModel::Bpr(m) => Some(parts(m)),
            AnyModel::ItemKnn(m) => Some(parts(m)),
            _ => None,
        }
    }

    /// The rating-predictor role (explicit-rating models and the truncated SVD).
    pub fn as_rating_predictor(&self) -> Option<&dyn RatingPredictor> {
        match self {
            AnyModel::Baseline(m) => Some(m),
            AnyModel::FunkSvd(m) => Some(m),
            AnyModel::SvdPp(m) => Some(m),
            AnyModel::Knn(m) => Some(m),
            AnyModel::TruncatedSvd(m) => Some(m),
            _ => None,
        }
    }

    /// The image-classifier role (cargo feature `torch`).
    #[cfg(feature = "torch")]
    pub fn as_classifier(&self) -> Option<&crate::vision::ImageClassifier> {
        match self {
            AnyModel::Classifier(m) => Some(m),
            _ => None,
        }
    }
}

macro_rules! from_model {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl From<$ty> for AnyModel {
            fn from(m: $ty) -> Self {
                AnyModel::$variant(m)
            }
        }
    )*};
}
from_model!(
    AnyDetector => Detector, Scaler => Scaler, Baseline => Baseline, FunkSVD => FunkSvd, SVDpp => SvdPp,
    KNN => Knn, TruncatedSvd => TruncatedSvd,
);

macro_rules! from_implicit {
    ($($ty:ident),*) => {$(
        impl From<$ty> for AnyModel {
            /// Wraps the model with its own ids ([`ById::new`]); a model whose ids name only
            /// some of its users or items is served by index instead.
            fn from(m: $ty) -> Self {
                let ids = m.ids().cloned();
                match ById::new(m.clone(), ids.as_ref()) {
                    Ok(by_id) => AnyModel::$ty(by_id),
                    Err(_) => AnyModel::$ty(ById::new(m, None).expect("identity ids fit any model")),
                }
            }
        }
    )*};
}
from_implicit!(Als, Bpr, ItemKnn);

#[cfg(feature = "torch")]
impl From<crate::recommend::sequential::SequentialRecommender> for AnyModel {
    fn from(m: crate::recommend::sequential::SequentialRecommender) -> Self {
        AnyModel::Sequential(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DuplicatePolicy, Interactions};
    use crate::recommend::{AlsParams, Filter};

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn every_role_is_send_and_sync() {
        assert_send_sync::<AnyModel>();
        assert_send_sync::<Box<dyn IdRecommender>>();
        assert_send_sync::<Box<dyn RatingPredictor>>();
    }

    #[test]
    fn round_trips_and_dispatches_by_kind() {
        let data = Interactions::from_triples(
            [("a", "x", 1.0), ("a", "y", 2.0), ("b", "y", 1.0), ("b", "z", 3.0), ("c", "x", 1.0)],
            DuplicatePolicy::Sum,
        )
        .unwrap();
        let als = AlsParams::default().factors(2).iterations(3).fit(&data).unwrap();
        let model = AnyModel::from(als);
        let back = AnyModel::from_bytes(model.to_bytes().unwrap()).unwrap();
        assert_eq!(back.kind(), "recommend.als");
        let (r1, r2) = (model.as_recommender().unwrap(), back.as_recommender().unwrap());
        let f = Filter::new().exclude_seen(true);
        assert_eq!(r1.recommend_ids(&"c".into(), 2, &f).unwrap(), r2.recommend_ids(&"c".into(), 2, &f).unwrap());
        assert_eq!(r2.similar_items_ids(&"x".into(), 3).unwrap().len(), 3);
        assert!(
            matches!(r2.recommend_ids(&"nobody".into(), 2, &f), Err(Error::UnknownId { id, .. }) if id == "\"nobody\"")
        );
        assert!(back.as_detector().is_none() && back.as_rating_predictor().is_none());
        assert!(matches!(AnyModel::from_bytes(b"junk".to_vec()), Err(Error::ModelFormat(_))));
        let mut tampered = model.to_bytes().unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x40;
        assert!(matches!(AnyModel::from_bytes(tampered), Err(Error::ModelFormat(_))));
    }
}
