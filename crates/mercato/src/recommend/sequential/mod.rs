//! Sequential recommendation: next-item models that read the order of each user's events.
//!
//! * [`Sequences`]: events grouped by user and ordered by time, with optional categorical
//!   context columns (event type, category, hour...), and the leave-last-out split;
//! * `SequentialRecommender` (cargo feature `torch`): SASRec (causal self-attention) or
//!   GRU4Rec on libtorch, chosen by `SequentialParams::arch`, trained with
//!   `params.fit(&sequences)`; recommends for training users from their histories and for
//!   live sessions that were never in the training data.
//!
//! Training reads every user's history as left-aligned windows of at most `max_len` events
//! and predicts the next item at every position (cross-entropy over the catalogue, or BCE with
//! sampled negatives). Context columns are embeddings added to the item embeddings. Scores
//! are dot products with the item embeddings, ranked over the whole catalogue.

mod data;
#[cfg(feature = "torch")]
mod model;
#[cfg(feature = "torch")]
mod net;
#[cfg(feature = "torch")]
mod params;
#[cfg(all(test, feature = "torch"))]
mod tests;
#[cfg(feature = "torch")]
mod train;

pub use data::{ContextColumn, Sequences};
#[cfg(feature = "torch")]
pub use model::{next_item_rank, SeqEpoch, SeqHistory, SequentialRecommender};
#[cfg(feature = "torch")]
pub use params::{SeqArch, SeqBatching, SeqLoss, SequentialParams};

/// Model-file kind of a SASRec recommender.
pub const KIND_SASREC: &str = "recommend.sasrec";
/// Model-file kind of a GRU4Rec recommender.
pub const KIND_GRU4REC: &str = "recommend.gru4rec";
