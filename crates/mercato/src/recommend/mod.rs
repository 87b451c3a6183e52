//! Recommenders: explicit ratings (baseline, matrix factorisation, kNN, truncated SVD) and
//! implicit feedback (ALS, BPR, item kNN), hybrid factorisation with user/item features
//! (cold start), sequential next-item models (SASRec, GRU4Rec; cargo feature `torch`), with
//! top-N serving.
//!
//! Every model is fitted from its parameters (`params.fit(&data)`) on
//! [`crate::data::Interactions`] (users are rows) and serves from `&self`, so one model can
//! answer many threads. A fitted model changes only through its explicitly named update
//! methods (`partial_fit_users`, `partial_fit_items`, `set_ids`), which take `&mut self`.
//!
//! Roles: [`RatingPredictor`] (explicit ratings, by external id), [`Recommender`] (implicit
//! models, by dense index), and [`IdRecommender`] (top-N and similar items by external id,
//! for every recommender; what [`crate::AnyModel::as_recommender`] returns).

mod by_id;
pub mod explicit;
pub mod hybrid;
pub mod implicit;
pub mod sequential;
mod serving;
pub mod svd;

pub use by_id::{ById, IdRecommender, IdRecs};
pub use explicit::{
    Baseline, BaselineMethod, BaselineParams, FunkSVD, FunkSVDParams, KNNParams, KnnVariant, Prediction,
    PredictionStatus, RatingPredictor, RatingScale, SVDpp, SVDppParams, Similarity, KNN,
};
pub use implicit::{
    bm25_items, bm25_weight, log_weight, ranking_metrics_at_k, tfidf_weight, Als, AlsParams, AlsSolver, Bpr, BprParams,
    Confidence, ItemKnn, ItemKnnParams, IterationReport, KnnWeighting, ModelIds, NegativeSampling, Observer,
    RankingMetrics, Recommender, Recs, Rows,
};
pub use serving::{check_n, similar_but_itself, to_external, top_n, Filter, Ranked};
pub use svd::{Centering, SvdAlgorithm, SvdFitInfo, SvdParams, TruncatedSvd};
