//! # mercato
//!
//! Machine learning for commerce and payment platforms, in Rust:
//!
//! * [`recommend`] — explicit-rating and implicit-feedback recommenders, hybrid and content
//!   models, sequential next-item models (SASRec, GRU4Rec; feature `torch`), with top-N serving;
//! * [`fraud`] — unsupervised anomaly detectors for transaction scoring;
//! * `vision` (cargo feature `torch`) — a CNN product-image classifier on libtorch.
//!
//! Shared pieces: [`data`] (ids, the user × item matrix, loaders, splits), [`metrics`],
//! [`persist`] (one safe file format for every model), [`params`] and [`Error`].
//!
//! ## Cargo features
//!
//! * `datasets` (default) — data-set file formats: gzip-compressed IDX (Fashion-MNIST), the
//!   synthetic marketplace's CSV files, PNG sample images (`csv`, `flate2`).
//! * `progress` (default) — progress bars on a terminal for long fits (`indicatif`); without
//!   it, `show_progress` prints one line per epoch for the libtorch trainers and nothing else.
//! * `torch` — image classification and sequential models on libtorch (`tch`).
//!
//! A service that fits and serves models needs neither default:
//! `mercato = { version = "0.1", default-features = false }`.
//!
//! ## One shape for every model
//!
//! Hyper-parameters are a plain `…Params` struct (serde, `Default`, builder setters) that
//! checks itself ([`params::Params::check`]) and fits: `params.fit(&data) -> Result<Model>`.
//! A bad value is an [`Error::InvalidParameter`] naming the field; bad data an
//! [`Error::InvalidInput`], [`Error::ShapeMismatch`] or [`Error::UnknownId`] — so a service
//! can answer 400 or 500 without reading messages ([`Error::is_caller_error`]).
//! Detectors and scalers too: `IsolationForestParams::default().seed(7).fit(&x)` gives a
//! fitted `IsolationForest`; an ensemble's parameters hold its members' parameters
//! (`EnsembleParams::members`), and [`fraud::AnyDetectorParams`] picks a detector by name.
//!
//! ## Ids and indices
//!
//! Training data is an [`data::Interactions`]: a users × items sparse matrix (users are rows)
//! plus two [`data::IdMap`]s from the ids your systems use ([`data::ExternalId`]: integers or
//! strings) to dense indices. Rating predictors answer by external id; implicit models
//! (ALS, BPR, item kNN) compute on indices and keep the id maps (`ids()`); the
//! [`recommend::IdRecommender`] role answers every recommender by external id.
//!
//! ## Serving from a service
//!
//! A fitted model changes only through its explicitly named update methods, each taking
//! `&mut self`: `partial_fit_users` / `partial_fit_items` (ALS), `set_ids` (implicit
//! models), `set_threshold` and `set_feature_names` (detectors, `HybridMF`),
//! `AnyDetector::set_num_threads`. Everything else (scoring, recommending, saving) takes
//! `&self`; the caches some models fill on first use sit behind thread-safe cells. Every
//! model is `Send + Sync`: wrap one in an `Arc` and call it from any number of threads.
//! [`AnyModel`] loads any model file without knowing its kind and hands out the role you need:
//!
//! ```
//! use mercato::data::{DuplicatePolicy, Interactions};
//! use mercato::recommend::{AlsParams, Filter, IdRecommender};
//! use mercato::AnyModel;
//! use std::sync::Arc;
//!
//! let views = Interactions::from_triples(
//!     [("ann", "tea", 3.0), ("ann", "mug", 1.0), ("bob", "tea", 2.0), ("bob", "pot", 5.0), ("cy", "mug", 1.0)],
//!     DuplicatePolicy::Sum,
//! )?;
//! let bytes = mercato::persist::Persist::to_bytes(&AlsParams::default().factors(4).fit(&views)?)?;
//! let model = Arc::new(AnyModel::from_bytes(bytes)?); // or AnyModel::load("als.mercato")
//! let worker = {
//!     let model = Arc::clone(&model);
//!     std::thread::spawn(move || {
//!         let rec = model.as_recommender().expect("a recommender");
//!         rec.recommend_ids(&"cy".into(), 2, &Filter::new().exclude_seen(true))
//!     })
//! };
//! let top = worker.join().expect("no panic")?;
//! assert_eq!(top.items.len(), 2);
//! assert!(!top.items.iter().any(|(item, _)| item == &"mug".into())); // already seen
//! # Ok::<(), mercato::Error>(())
//! ```
//!
//! Metrics in one line:
//!
//! ```
//! use mercato::data::{DuplicatePolicy, Interactions};
//! use mercato::metrics::rmse;
//!
//! let ratings = Interactions::from_triples(
//!     [(1, "tea", 5.0), (1, "mug", 3.0), (2, "tea", 4.0)],
//!     DuplicatePolicy::Error,
//! )?;
//! assert_eq!(ratings.n_users(), 2);
//! assert!(rmse(&[5.0, 3.0], &[4.5, 3.5])? < 0.6);
//! # Ok::<(), mercato::Error>(())
//! ```

#![warn(missing_docs)]

pub mod data;
pub mod error;
pub mod fraud;
#[cfg(test)]
mod hostile_inputs;
pub mod metrics;
mod model;
mod parallel;
pub mod params;
pub mod persist;
pub mod pricing;
mod progress;
#[cfg(test)]
mod proptests;
pub mod recommend;
pub mod regression;
mod rng;
#[cfg(test)]
mod testdata;
#[cfg(feature = "torch")]
pub mod vision;

pub use error::{Error, Result};
pub use model::AnyModel;
/// The ndarray this crate's API uses (0.17): depend on it through this re-export to avoid
/// "multiple different versions of crate `ndarray`" in a service pinned to another.
pub use ndarray;

/// The README's Rust quick start, compiled and run as a doc-test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
