//! Evaluation metrics for ratings, rankings, scores and classes.
//!
//! Score metrics ([`roc_auc`], [`average_precision`]) follow scikit-learn's definitions
//! (ties share the average rank; AP is the step-wise sum over distinct thresholds), and are
//! tested against it.

mod classification;
mod ranking;
mod regression;
mod scores;

pub use classification::{accuracy, confusion_matrix, per_class_precision_recall};
pub use ranking::{average_precision_at_k, ndcg_at_k, precision_at_k, ranking_auc, recall_at_k};
pub use regression::{mae, rmse};
pub use scores::{average_precision, pr_curve, roc_auc, roc_curve};
