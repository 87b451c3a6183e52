//! Model files as the CLI writes and reads them: any recommender or detector, dispatched on
//! the kind in the file header.
//!
//! The files are the library's own: implicit models keep the external user and item ids they
//! were trained with (`ModelIds`) and detectors their feature names, so a model trained here
//! serves from Rust or Python too, and one trained there serves here.

use std::path::Path;

use mercato::data::IdMap;
use mercato::fraud::AnyDetector;
use mercato::fraud::Detector;
use mercato::persist::{peek_kind, ModelReader, Persist};
use mercato::recommend::{Als, Baseline, Bpr, FunkSVD, ItemKnn, ModelIds, RatingPredictor, Recommender, SVDpp, KNN};
use mercato::Error;

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

/// The external ids to serve an implicit model by: its own, which must name every user and
/// item; the identity map (ids = indices) for a model trained on a bare matrix (e.g. from a
/// scipy CSR in Python).
fn serving_ids(ids: Option<&ModelIds>, n_users: usize, n_items: usize) -> mercato::Result<(IdMap, IdMap)> {
    match ids {
        None => Ok((IdMap::identity(n_users), IdMap::identity(n_items))),
        Some(ids) if ids.users.len() == n_users && ids.items.len() == n_items => {
            Ok((ids.users.clone(), ids.items.clone()))
        }
        Some(ids) => Err(Error::format(format!(
            "the model names {} of its {n_users} users and {} of its {n_items} items; the CLI needs all of them",
            ids.users.len(),
            ids.items.len()
        ))),
    }
}

/// A recommender of any kind, with what the CLI needs to serve it by external id.
pub enum AnyRecommender {
    /// A rating predictor (baseline, funksvd, svdpp, knn): it keeps its own id maps.
    Explicit(Box<dyn RatingPredictor + Send>),
    /// An implicit-feedback model (als, bpr, itemknn) and its external ids.
    Implicit {
        /// The model (dense indices).
        model: Box<dyn Recommender>,
        /// External user ids by row.
        users: IdMap,
        /// External item ids by column.
        items: IdMap,
    },
}

/// A loaded recommender and the kind in its file.
pub struct LoadedRecommender {
    /// e.g. `recommend.funk_svd`.
    pub kind: String,
    /// The model.
    pub model: AnyRecommender,
}

impl LoadedRecommender {
    /// Loads any recommender file written by mercato.
    pub fn load(path: &Path) -> CliResult<Self> {
        let (bytes, kind) = read_model_file(path)?;
        let r = ModelReader::from_bytes(bytes, &kind).map_err(|e| in_file(path, e))?;
        let explicit = |m: Box<dyn RatingPredictor + Send>| AnyRecommender::Explicit(m);
        let implicit = |model: Box<dyn Recommender>, ids: Option<&ModelIds>| -> mercato::Result<AnyRecommender> {
            let (users, items) = serving_ids(ids, model.n_users(), model.n_items())?;
            Ok(AnyRecommender::Implicit { model, users, items })
        };
        let model = match kind.as_str() {
            Baseline::KIND => Baseline::read(&r).map(|m| explicit(Box::new(m))),
            FunkSVD::KIND => FunkSVD::read(&r).map(|m| explicit(Box::new(m))),
            SVDpp::KIND => SVDpp::read(&r).map(|m| explicit(Box::new(m))),
            KNN::KIND => KNN::read(&r).map(|m| explicit(Box::new(m))),
            Als::KIND => Als::read(&r).and_then(|m| {
                let ids = m.ids().cloned();
                implicit(Box::new(m), ids.as_ref())
            }),
            Bpr::KIND => Bpr::read(&r).and_then(|m| {
                let ids = m.ids().cloned();
                implicit(Box::new(m), ids.as_ref())
            }),
            ItemKnn::KIND => ItemKnn::read(&r).and_then(|m| {
                let ids = m.ids().cloned();
                implicit(Box::new(m), ids.as_ref())
            }),
            other => {
                return Err(CliError::runtime(format!(
                    "{} holds a {other:?} model, not a recommender (train one with `mercato train recommender`)",
                    path.display()
                )))
            }
        }
        .map_err(|e| in_file(path, e))?;
        Ok(LoadedRecommender { kind, model })
    }

    /// True for rating predictors.
    pub fn is_explicit(&self) -> bool {
        matches!(self.model, AnyRecommender::Explicit(_))
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
