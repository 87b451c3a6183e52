//! Hybrid matrix factorisation with user and item features (LightFM's model): cold start
//! for new users and items described by their features; and [`ItemContent`], content-based
//! similarity of items by their features alone.
//!
//! A user's representation is the weighted sum of the embeddings (and biases) of its
//! features, an item's likewise; the score is their dot product plus both biases. With
//! identity features (on by default) every training user and item also has its own
//! embedding, so known ids behave as in plain matrix factorisation while new ones, given
//! only features, are still placed in the same space.

mod cold_start;
mod content;
mod features;
mod image_features;
mod model;
mod params;
mod train;

#[cfg(test)]
mod tests;

pub use cold_start::NamedFeatures;
pub use content::{ContentWeighting, ItemContent, ItemContentParams};
pub use features::{FeatureSpace, Features};
pub use image_features::{ImageFeatures, ImageFeaturesParams};
pub use model::{HybridMF, Reprs};
pub use params::{HybridMFParams, Loss, Schedule};
