//! Model files as the CLI writes and reads them: any recommender or detector, through the
//! library's [`AnyModel`] handle (dispatched on the kind in the file header).
//!
//! The files are the library's own: implicit models keep the external user and item ids they
//! were trained with (`ModelIds`) and detectors their feature names, so a model trained here
//! serves from Rust or Python too, and one trained there serves here.

use std::path::Path;

use mercato::fraud::AnyDetector;
use mercato::fraud::Detector;
use mercato::persist::peek_kind;
use mercato::recommend::IdRecommender;
use mercato::{AnyModel, Error};

use crate::exit::{write_failure, CliError, CliResult};

/// Reads a model file: its bytes and the kind in its header. A missing file is a data error
/// (exit 3); a file that is not a model is a model error (exit 1).
pub fn read_model_file(path: &Path) -> CliResult<(Vec<u8>, String)> {
    let bytes = std::fs::read(path).map_err(|e| CliError::from(Error::io(path, e)))?;
    let kind = peek_kind(&bytes).map_err(|e| in_file(path, e))?;
    Ok((bytes, kind))
}

/// Prefixes model-format errors with the file name.
pub fn in_file(path: &Path, e: Error) -> CliError {
    match e {
        Error::ModelFormat(m) => CliError::runtime(format!("model format: {}: {m}", path.display())),
        other => other.into(),
    }
}

/// A recommender of any kind, loaded through the library's model handle.
pub struct LoadedRecommender {
    /// e.g. `recommend.funk_svd`.
    pub kind: String,
    /// The model; [`AnyModel::as_recommender`] is always `Some`.
    pub model: AnyModel,
}

impl LoadedRecommender {
    /// Loads any recommender file written by mercato.
    pub fn load(path: &Path) -> CliResult<Self> {
        let (bytes, kind) = read_model_file(path)?;
        let model = AnyModel::from_bytes(bytes).map_err(|e| in_file(path, e))?;
        if model.as_recommender().is_none() {
            return Err(CliError::runtime(format!(
                "{} holds a {kind:?} model, not a recommender (train one with `mercato train recommender`)",
                path.display()
            )));
        }
        Ok(LoadedRecommender { kind, model })
    }

    /// The top-N role by external id.
    pub fn recommender(&self) -> &dyn IdRecommender {
        self.model.as_recommender().expect("checked by load")
    }

    /// True for rating predictors.
    pub fn is_explicit(&self) -> bool {
        self.model.as_rating_predictor().is_some()
    }
}

/// A detector with the names of the columns it was trained on.
pub struct LoadedDetector {
    /// e.g. `fraud.iforest`.
    pub kind: String,
    /// The model.
    pub detector: AnyDetector,
    /// Feature column names, in model order (`f0, f1, ...` for files without names).
    pub feature_names: Vec<String>,
}

impl LoadedDetector {
    /// Loads any detector file written by mercato.
    pub fn load(path: &Path) -> CliResult<Self> {
        let (bytes, kind) = read_model_file(path)?;
        if !kind.starts_with("fraud.") || kind == "fraud.scaler" {
            return Err(CliError::runtime(format!(
                "{} holds a {kind:?} model, not a fraud detector (train one with `mercato train detector`)",
                path.display()
            )));
        }
        let detector = AnyDetector::from_bytes(bytes).map_err(|e| in_file(path, e))?;
        let n = detector
            .n_features()
            .ok_or_else(|| CliError::runtime(format!("{}: the detector is not fitted", path.display())))?;
        let feature_names = match detector.feature_names() {
            Some(names) => names.to_vec(),
            None => (0..n).map(|j| format!("f{j}")).collect(),
        };
        Ok(LoadedDetector { kind, detector, feature_names })
    }
}

/// Saves a fitted detector with the names of its feature columns.
pub fn save_detector(d: &mut AnyDetector, feature_names: &[String], out: &Path) -> CliResult<()> {
    d.set_feature_names(Some(feature_names.to_vec()))?;
    d.save(out).map_err(write_failure)
}
