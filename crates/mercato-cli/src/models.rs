//! Model files as the CLI writes and reads them: any recommender or detector, dispatched on
//! the kind in the file header.
//!
//! The CLI stores what a command line needs beyond the model proper as extra arrays in the
//! same file (JSON bytes in `u8` tensors named `mercato_cli.*`): the external user and item
//! ids of implicit models (the library's implicit models work on dense indices) and the
//! feature column names of detectors. The model's own reader ignores arrays it does not
//! know, so these files still load with `Als::load`, `AnyDetector::load` or from Python, and
//! the checksum covers the extra arrays like everything else.

use std::path::Path;

use mercato::data::{ExternalId, IdMap};
use mercato::fraud::AnyDetector;
use mercato::persist::{peek_kind, ModelReader, ModelWriter, Persist};
use mercato::recommend::{Als, Baseline, Bpr, FunkSVD, ItemKnn, RatingPredictor, Recommender, SVDpp, KNN};
use mercato::Error;

use crate::exit::{write_failure, CliError, CliResult};

const USER_IDS: &str = "mercato_cli.user_ids";
const ITEM_IDS: &str = "mercato_cli.item_ids";
const FEATURE_NAMES: &str = "mercato_cli.feature_names";

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

fn json_tensor(w: ModelWriter, name: &str, value: &impl serde::Serialize) -> CliResult<ModelWriter> {
    let bytes = serde_json::to_vec(value).map_err(|e| CliError::runtime(format!("cannot encode {name}: {e}")))?;
    Ok(w.u8(name, &[bytes.len()], &bytes))
}

fn read_json_tensor<T: serde::de::DeserializeOwned>(r: &ModelReader, name: &str) -> mercato::Result<Option<T>> {
    if !r.tensor_names()?.iter().any(|n| n == name) {
        return Ok(None);
    }
    let (_, bytes) = r.u8(name)?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::format(format!("array {name:?}: {e}")))
}

/// The id map stored under `name`, checked against the model's size; the identity map
/// (ids = indices) for files written without one (e.g. from Python).
fn read_ids(r: &ModelReader, name: &str, n: usize) -> mercato::Result<IdMap> {
    match read_json_tensor::<Vec<ExternalId>>(r, name)? {
        None => Ok(IdMap::identity(n)),
        Some(ids) => {
            if ids.len() != n {
                return Err(Error::format(format!("{name} holds {} ids, the model {n}", ids.len())));
            }
            IdMap::from_ids(ids).map_err(|e| Error::format(format!("{name}: {e}")))
        }
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
        let implicit = |model: Box<dyn Recommender>| -> mercato::Result<AnyRecommender> {
            let users = read_ids(&r, USER_IDS, model.n_users())?;
            let items = read_ids(&r, ITEM_IDS, model.n_items())?;
            Ok(AnyRecommender::Implicit { model, users, items })
        };
        let model = match kind.as_str() {
            Baseline::KIND => Baseline::read(&r).map(|m| explicit(Box::new(m))),
            FunkSVD::KIND => FunkSVD::read(&r).map(|m| explicit(Box::new(m))),
            SVDpp::KIND => SVDpp::read(&r).map(|m| explicit(Box::new(m))),
            KNN::KIND => KNN::read(&r).map(|m| explicit(Box::new(m))),
            Als::KIND => Als::read(&r).and_then(|m| implicit(Box::new(m))),
            Bpr::KIND => Bpr::read(&r).and_then(|m| implicit(Box::new(m))),
            ItemKnn::KIND => ItemKnn::read(&r).and_then(|m| implicit(Box::new(m))),
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

/// Saves an implicit model with its external ids.
pub fn save_implicit<M: Persist>(model: &M, users: &IdMap, items: &IdMap, out: &Path) -> CliResult<()> {
    let w = model.write().map_err(write_failure)?;
    let w = json_tensor(w, USER_IDS, &users.ids())?;
    let w = json_tensor(w, ITEM_IDS, &items.ids())?;
    w.save(out).map_err(write_failure)
}

fn detector_writer(d: &AnyDetector) -> mercato::Result<ModelWriter> {
    match d {
        AnyDetector::IsolationForest(m) => m.write(),
        AnyDetector::Ecod(m) => m.write(),
        AnyDetector::Copod(m) => m.write(),
        AnyDetector::Hbos(m) => m.write(),
        AnyDetector::Knn(m) => m.write(),
        AnyDetector::Lof(m) => m.write(),
        AnyDetector::Mahalanobis(m) => m.write(),
        AnyDetector::Pca(m) => m.write(),
        AnyDetector::Ensemble(m) => m.write(),
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
        let r = ModelReader::from_bytes(bytes.clone(), &kind).map_err(|e| in_file(path, e))?;
        let detector = AnyDetector::from_bytes(bytes).map_err(|e| in_file(path, e))?;
        let n = mercato::fraud::Detector::n_features(&detector)
            .ok_or_else(|| CliError::runtime(format!("{}: the detector is not fitted", path.display())))?;
        let feature_names = match read_json_tensor::<Vec<String>>(&r, FEATURE_NAMES).map_err(|e| in_file(path, e))? {
            Some(names) if names.len() == n => names,
            Some(names) => {
                return Err(in_file(
                    path,
                    Error::format(format!("{} feature names for a model of {n} features", names.len())),
                ))
            }
            None => (0..n).map(|j| format!("f{j}")).collect(),
        };
        Ok(LoadedDetector { kind, detector, feature_names })
    }
}

/// Saves a fitted detector with its feature names.
pub fn save_detector(d: &AnyDetector, feature_names: &[String], out: &Path) -> CliResult<()> {
    let w = detector_writer(d).map_err(write_failure)?;
    json_tensor(w, FEATURE_NAMES, &feature_names)?.save(out).map_err(write_failure)
}
