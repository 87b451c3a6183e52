//! Recommenders: explicit ratings (baseline, matrix factorisation, kNN, truncated SVD) and
//! implicit feedback (ALS, BPR, item kNN), hybrid factorisation with user/item features
//! (cold start), with top-N serving.
//!
//! Every model is trained on [`crate::data::Interactions`] (users are rows), is immutable
//! after `fit`, and serves from `&self`, so one model can answer many threads.

pub mod explicit;
pub mod hybrid;
pub mod implicit;
mod serving;
pub mod svd;

pub use explicit::{
    Baseline, BaselineMethod, BaselineParams, FunkSVD, FunkSVDParams, KNNParams, KnnVariant, Prediction,
    PredictionStatus, RatingPredictor, RatingScale, SVDpp, SVDppParams, Similarity, KNN,
};
pub use implicit::{
    bm25_items, bm25_weight, log_weight, ranking_metrics_at_k, tfidf_weight, Als, AlsParams, AlsSolver, Bpr, BprParams,
    Confidence, ItemKnn, ItemKnnParams, KnnWeighting, ModelIds, NegativeSampling, RankingMetrics, Recommender, Recs,
    Rows,
};
pub use serving::{check_n, to_external, top_n, Filter, Ranked};
pub use svd::{Centering, SvdAlgorithm, SvdFitInfo, SvdParams, SvdPrediction, TruncatedSvd};
