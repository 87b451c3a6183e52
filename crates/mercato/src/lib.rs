//! # mercato
//!
//! Machine learning for commerce and payment platforms, in Rust:
//!
//! * [`recommend`] — explicit-rating and implicit-feedback recommenders with top-N serving;
//! * [`fraud`] — unsupervised anomaly detectors for transaction scoring;
//! * `vision` (cargo feature `torch`) — a CNN product-image classifier on libtorch.
//!
//! Shared pieces: [`data`] (ids, the user × item matrix, loaders, splits), [`metrics`],
//! [`persist`] (one safe file format for every model) and [`Error`].
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
mod parallel;
pub mod persist;
#[cfg(test)]
mod proptests;
pub mod recommend;
#[cfg(test)]
mod testdata;
#[cfg(feature = "torch")]
pub mod vision;

pub use error::{Error, Result};

/// The README's Rust quick start, compiled and run as a doc-test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
