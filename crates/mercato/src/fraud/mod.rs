//! Fraud scoring: unsupervised anomaly detectors, ensembles, thresholds and explanations.
//!
//! A payments team fits a detector's parameters on a window of (mostly legitimate,
//! unlabelled) transactions (`XParams::fit(&x) -> Result<X>`, as every model family), then
//! scores each new transaction online ([`Detector::score_one`], no
//! allocation for the streaming detectors), thresholds the score ([`Detector::predict`], the
//! threshold set by `contamination` or explicitly), turns it into a 0–1 risk
//! ([`Detector::predict_proba`]) and shows an analyst why ([`Detector::explain`]).
//!
//! | detector | idea | fit | one row |
//! |---|---|---|---|
//! | [`IsolationForest`] | short random-partition paths | `O(t ψ log ψ)` | `O(t log ψ)` |
//! | [`Ecod`], [`Copod`] | empirical tail probabilities | `O(n d log n)` | `O(d log n)` |
//! | [`Hbos`] | per-feature histograms | `O(n d)` | `O(d log b)` |
//! | [`Knn`], [`Lof`] | neighbour distances / local density | kd-tree or brute force | `O(k log n)`–`O(n d)` |
//! | [`Mahalanobis`] | robust (shrunk) covariance distance | `O(n d² + d³)` | `O(d²)` |
//! | [`Pca`] | variance-weighted principal-axis distance | `O(n d² + d³)` | `O(d²)` |
//!
//! Every detector follows PyOD's conventions: higher scores are more anomalous, `fit` keeps
//! the training scores ([`Detector::decision_scores`]) and a [`Calibration`] (threshold at the
//! `1 - contamination` quantile). A fitted detector is immutable apart from the named updates
//! [`Detector::set_threshold`] and [`Detector::set_feature_names`]. [`Ensemble`] combines
//! detectors on normalised scores; [`preprocess`] holds scalers, one-hot encoding and the
//! missing-value policy; [`AnyDetector`] is the boxed-free union used by ensembles and the
//! Python bindings, and [`AnyDetectorParams`] the parameters of any detector (one chosen by
//! name, as the CLI does).
//! Each detector's module ([`iforest`], [`ecdf`], [`hbos`], [`neighbors`], [`linear`],
//! [`ensemble`]) gives its exact definitions, peer conventions and costs.
//!
//! ```
//! use mercato::fraud::{Detector, IsolationForestParams, ProbaMethod};
//! use ndarray::Array2;
//!
//! let mut x = Array2::from_shape_fn((1000, 3), |(i, j)| ((i * 31 + j * 17) % 97) as f64 / 97.0);
//! x.row_mut(999).fill(5.0);
//! let det = IsolationForestParams::default().contamination(0.01).seed(1).fit(&x.view())?;
//! let risk = det.predict_proba(&x.view(), ProbaMethod::Unify)?;
//! assert!(risk[999] > 0.9);
//! let why = det.explain(&[0.5, 0.5, 9.0])?;
//! assert_eq!(why.contributions[0].0, 2); // feature 2 is what stands out
//! # Ok::<(), mercato::Error>(())
//! ```

#[cfg(test)]
pub(crate) mod alloc_count;
mod any;
mod detector;
pub mod ecdf;
pub mod ensemble;
pub mod hbos;
pub mod iforest;
pub mod linear;
pub mod neighbors;
pub mod preprocess;
#[cfg(test)]
mod real_data;
mod reduce;

pub use any::{AnyDetector, AnyDetectorParams};
pub use detector::{check_contamination, erf, Calibration, Detector, Explanation, ProbaMethod};
pub use ecdf::{Copod, CopodParams, Ecod, EcodParams};
pub use ensemble::{Combine, Ensemble, EnsembleParams, Normalize};
pub use hbos::{BinMode, Hbos, HbosParams};
pub use iforest::{average_path_length, IsolationForest, IsolationForestParams, MaxFeatures, MaxSamples};
pub use linear::{CovarianceEstimator, Mahalanobis, MahalanobisParams, Pca, PcaParams, PcaScore};
pub use neighbors::{Knn, KnnMethod, KnnParams, Lof, LofParams, NeighborMetric};
