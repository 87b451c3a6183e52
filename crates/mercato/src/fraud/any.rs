//! [`AnyDetector`]: one type for every detector, so ensembles and the Python bindings can hold
//! any of them and load a model file without knowing its kind in advance.

use ndarray::{Array1, ArrayView2};

use super::{
    Calibration, Copod, Detector, Ecod, Ensemble, Explanation, Hbos, IsolationForest, Knn, Lof, Mahalanobis, Pca,
};
use crate::params::Params;
use crate::persist::{peek_kind, Persist};
use crate::{bail, Error, Result};

/// Any mercato detector.
///
/// ```
/// use mercato::fraud::{AnyDetector, Detector};
/// let mut det = AnyDetector::from_params("hbos", r#"{"n_bins": 5, "contamination": 0.05}"#)?;
/// det.fit(&ndarray::array![[1.0], [2.0], [2.5], [3.0], [40.0]].view())?;
/// let again = AnyDetector::from_bytes(det.to_bytes()?)?;
/// assert_eq!(again.score_one(&[40.0])?, det.score_one(&[40.0])?);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum AnyDetector {
    /// [`IsolationForest`].
    IsolationForest(IsolationForest),
    /// [`Ecod`].
    Ecod(Ecod),
    /// [`Copod`].
    Copod(Copod),
    /// [`Hbos`].
    Hbos(Hbos),
    /// [`Knn`].
    Knn(Knn),
    /// [`Lof`].
    Lof(Lof),
    /// [`Mahalanobis`].
    Mahalanobis(Mahalanobis),
    /// [`Pca`].
    Pca(Pca),
    /// [`Ensemble`].
    Ensemble(Box<Ensemble>),
}

macro_rules! dispatch {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            AnyDetector::IsolationForest($d) => $e,
            AnyDetector::Ecod($d) => $e,
            AnyDetector::Copod($d) => $e,
            AnyDetector::Hbos($d) => $e,
            AnyDetector::Knn($d) => $e,
            AnyDetector::Lof($d) => $e,
            AnyDetector::Mahalanobis($d) => $e,
            AnyDetector::Pca($d) => $e,
            AnyDetector::Ensemble($d) => $e,
        }
    };
}

fn params<P: Params>(json: &str) -> Result<P> {
    P::from_json(json)
}

impl AnyDetector {
    /// An unfitted detector of `kind` (`"iforest"`, `"ecod"`, `"copod"`, `"hbos"`, `"knn"`,
    /// `"lof"`, `"mahalanobis"`, `"pca"`) from its parameters as JSON (field names as the
    /// `*Params` structs; missing fields take their defaults, unknown ones are an error).
    pub fn from_params(kind: &str, json: &str) -> Result<Self> {
        Ok(match kind {
            "iforest" => AnyDetector::IsolationForest(IsolationForest::with_params(params(json)?)),
            "ecod" => AnyDetector::Ecod(Ecod::with_params(params(json)?)),
            "copod" => AnyDetector::Copod(Copod::with_params(params(json)?)),
            "hbos" => AnyDetector::Hbos(Hbos::with_params(params(json)?)),
            "knn" => AnyDetector::Knn(Knn::with_params(params(json)?)),
            "lof" => {
                // LOF's default k is 20 (PyOD), KNN's is 5: fill it in before the shared defaults.
                let mut v: serde_json::Value = serde_json::from_str(json)
                    .map_err(|e| Error::param("parameters", format!("not valid JSON: {e}")))?;
                if let Some(obj) = v.as_object_mut() {
                    obj.entry("n_neighbors").or_insert(serde_json::json!(20));
                }
                AnyDetector::Lof(Lof::with_params(params(&v.to_string())?))
            }
            "mahalanobis" => AnyDetector::Mahalanobis(Mahalanobis::with_params(params(json)?)),
            "pca" => AnyDetector::Pca(Pca::with_params(params(json)?)),
            other => bail!(
                "unknown detector {other:?}: expected one of iforest, ecod, copod, hbos, knn, lof, mahalanobis, pca"
            ),
        })
    }

    /// The kind written in the model file header, e.g. `"fraud.iforest"`.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyDetector::IsolationForest(_) => IsolationForest::KIND,
            AnyDetector::Ecod(_) => Ecod::KIND,
            AnyDetector::Copod(_) => Copod::KIND,
            AnyDetector::Hbos(_) => Hbos::KIND,
            AnyDetector::Knn(_) => Knn::KIND,
            AnyDetector::Lof(_) => Lof::KIND,
            AnyDetector::Mahalanobis(_) => Mahalanobis::KIND,
            AnyDetector::Pca(_) => Pca::KIND,
            AnyDetector::Ensemble(_) => Ensemble::KIND,
        }
    }

    /// The hyper-parameters as JSON (the format [`AnyDetector::from_params`] reads).
    pub fn params_json(&self) -> Result<String> {
        dispatch!(self, d => serde_json::to_string(&d.params).map_err(|e| Error::invalid(e.to_string())))
    }

    /// Sets the threads scoring uses (`None`: all cores), in every member of an ensemble.
    ///
    /// Scores do not depend on it. A distributed engine (Dask, Spark, Ray) that runs one task
    /// per core sets 1 on each worker's copy, so tasks do not oversubscribe the cores.
    pub fn set_num_threads(&mut self, n: Option<usize>) -> Result<()> {
        crate::ensure!(n != Some(0), "num_threads must be positive when given, got 0");
        let slot = match self {
            AnyDetector::Ensemble(e) => return e.members_mut().iter_mut().try_for_each(|m| m.set_num_threads(n)),
            AnyDetector::IsolationForest(d) => &mut d.params.num_threads,
            AnyDetector::Ecod(d) => &mut d.params.num_threads,
            AnyDetector::Copod(d) => &mut d.params.num_threads,
            AnyDetector::Hbos(d) => &mut d.params.num_threads,
            AnyDetector::Knn(d) => &mut d.params.num_threads,
            AnyDetector::Lof(d) => &mut d.params.num_threads,
            AnyDetector::Mahalanobis(d) => &mut d.params.num_threads,
            AnyDetector::Pca(d) => &mut d.params.num_threads,
        };
        *slot = n;
        Ok(())
    }

    /// The model file bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        dispatch!(self, d => d.to_bytes())
    }

    /// Loads any detector from model file bytes, dispatching on the kind in the header.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let kind = peek_kind(&bytes)?;
        Ok(match kind.as_str() {
            IsolationForest::KIND => AnyDetector::IsolationForest(IsolationForest::from_bytes(bytes)?),
            Ecod::KIND => AnyDetector::Ecod(Ecod::from_bytes(bytes)?),
            Copod::KIND => AnyDetector::Copod(Copod::from_bytes(bytes)?),
            Hbos::KIND => AnyDetector::Hbos(Hbos::from_bytes(bytes)?),
            Knn::KIND => AnyDetector::Knn(Knn::from_bytes(bytes)?),
            Lof::KIND => AnyDetector::Lof(Lof::from_bytes(bytes)?),
            Mahalanobis::KIND => AnyDetector::Mahalanobis(Mahalanobis::from_bytes(bytes)?),
            Pca::KIND => AnyDetector::Pca(Pca::from_bytes(bytes)?),
            Ensemble::KIND => AnyDetector::Ensemble(Box::new(Ensemble::from_bytes(bytes)?)),
            other => return Err(Error::format(format!("{other:?} is not a fraud detector model"))),
        })
    }

    /// Saves the model file (atomically).
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        dispatch!(self, d => d.save(path))
    }

    /// Loads any detector from a model file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(bytes).map_err(|e| match e {
            Error::ModelFormat(m) => Error::format(format!("{}: {m}", path.display())),
            other => other,
        })
    }
}

impl Detector for AnyDetector {
    fn fit(&mut self, x: &ArrayView2<f64>) -> Result<()> {
        dispatch!(self, d => d.fit(x))
    }
    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        dispatch!(self, d => d.score(x))
    }
    #[inline]
    fn score_one(&self, x: &[f64]) -> Result<f64> {
        dispatch!(self, d => d.score_one(x))
    }
    fn n_features(&self) -> Option<usize> {
        dispatch!(self, d => d.n_features())
    }
    fn decision_scores(&self) -> Result<&[f64]> {
        dispatch!(self, d => d.decision_scores())
    }
    fn calibration(&self) -> Result<&Calibration> {
        dispatch!(self, d => d.calibration())
    }
    fn calibration_mut(&mut self) -> Result<&mut Calibration> {
        dispatch!(self, d => d.calibration_mut())
    }
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        dispatch!(self, d => d.explain(x))
    }
    fn name(&self) -> &'static str {
        dispatch!(self, d => d.name())
    }
    fn feature_names(&self) -> Option<&[String]> {
        dispatch!(self, d => d.feature_names())
    }
    fn set_feature_names(&mut self, names: Option<Vec<String>>) -> Result<()> {
        dispatch!(self, d => d.set_feature_names(names))
    }
}

macro_rules! from_impl {
    ($($ty:ident),*) => {
        $(impl From<$ty> for AnyDetector {
            fn from(d: $ty) -> Self {
                AnyDetector::$ty(d)
            }
        })*
    };
}
from_impl!(IsolationForest, Ecod, Copod, Hbos, Knn, Lof, Mahalanobis, Pca);

impl From<Ensemble> for AnyDetector {
    fn from(e: Ensemble) -> Self {
        AnyDetector::Ensemble(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_num_threads_reaches_ensemble_members_and_keeps_scores() {
        let x = ndarray::Array2::from_shape_fn((300, 3), |(i, j)| ((i * 7 + j * 3) % 13) as f64);
        let mut d: AnyDetector = Ensemble::new(vec![IsolationForest::new().seed(3).into(), Ecod::new().into()]).into();
        d.fit(&x.view()).unwrap();
        let before = d.score(&x.view()).unwrap();
        d.set_num_threads(Some(1)).unwrap();
        let AnyDetector::Ensemble(e) = &d else { unreachable!() };
        assert!(e.members().iter().all(|m| m.params_json().unwrap().contains(r#""num_threads":1"#)));
        assert_eq!(d.score(&x.view()).unwrap(), before);
        assert!(d.set_num_threads(Some(0)).is_err());
    }

    #[test]
    fn params_are_validated_and_kinds_dispatch() {
        assert!(AnyDetector::from_params("iforest", r#"{"n_trees": 3}"#).unwrap_err().to_string().contains("n_trees"));
        assert!(AnyDetector::from_params("svm", "{}").is_err());
        let x = ndarray::Array2::from_shape_fn((60, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
        for kind in ["iforest", "ecod", "copod", "hbos", "knn", "lof", "mahalanobis", "pca"] {
            let mut d = AnyDetector::from_params(kind, "{}").unwrap();
            assert!(matches!(d.to_bytes(), Err(Error::NotFitted(_))), "{kind}");
            d.fit(&x.view()).unwrap();
            assert_eq!(d.name(), kind);
            let back = AnyDetector::from_bytes(d.to_bytes().unwrap()).unwrap();
            assert_eq!(back, d, "{kind}");
            assert_eq!(back.score(&x.view()).unwrap(), d.score(&x.view()).unwrap(), "{kind}");
            let mut bytes = d.to_bytes().unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            assert!(matches!(AnyDetector::from_bytes(bytes), Err(Error::ModelFormat(_))), "{kind}");
        }
        assert!(AnyDetector::from_bytes(b"MERCATO\x1a\x01\0\0\0\xff\xff\0\0".to_vec()).is_err());
    }

    #[test]
    fn column_major_input_gives_the_same_model() {
        // 700 x 5, ragged against the 256-row transpose blocks; integer-valued column for ties.
        let x = ndarray::Array2::from_shape_fn((700, 5), |(i, j)| match j {
            0 => (i % 13) as f64,
            _ => ((i * 7919 + j * 104_729) % 997) as f64 / (j as f64 + 0.5),
        });
        let f_order = x.t().as_standard_layout().into_owned().reversed_axes();
        assert!(!f_order.is_standard_layout() && f_order == x);
        assert_eq!(crate::fraud::detector::row_major(&f_order.view()).as_ref(), x.as_slice().unwrap());
        for kind in ["iforest", "ecod", "copod", "hbos", "knn", "lof", "mahalanobis", "pca"] {
            let mut c = AnyDetector::from_params(kind, "{}").unwrap();
            let mut f = c.clone();
            c.fit(&x.view()).unwrap();
            f.fit(&f_order.view()).unwrap();
            assert_eq!(c, f, "{kind}");
            assert_eq!(c.decision_scores().unwrap(), f.decision_scores().unwrap(), "{kind}");
            assert_eq!(c.score(&f_order.view()).unwrap(), c.score(&x.view()).unwrap(), "{kind}");
        }
    }
}
