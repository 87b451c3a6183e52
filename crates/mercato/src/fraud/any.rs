//! [`AnyDetector`]: one type for every fitted detector, so ensembles and the Python bindings
//! can hold any of them and load a model file without knowing its kind in advance; and
//! [`AnyDetectorParams`], the parameters of any detector (a detector chosen by name).

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{
    Calibration, Copod, CopodParams, Detector, Ecod, EcodParams, Ensemble, EnsembleParams, Explanation, Hbos,
    HbosParams, IsolationForest, IsolationForestParams, Knn, KnnParams, Lof, LofParams, Mahalanobis, MahalanobisParams,
    Pca, PcaParams,
};
use crate::params::Params;
use crate::persist::{peek_kind, Persist};
use crate::{bail, Error, Result};

/// The hyper-parameters of any mercato detector; [`AnyDetectorParams::fit`] gives the
/// matching [`AnyDetector`]. In JSON (as [`EnsembleParams::members`]) a detector's
/// parameters under its kind, e.g. `{"iforest": {"seed": 1}}`.
///
/// ```
/// use mercato::fraud::{AnyDetectorParams, Detector, IsolationForestParams};
/// let x = ndarray::array![[1.0], [2.0], [2.5], [3.0], [40.0]];
/// let by_name = AnyDetectorParams::from_json("iforest", r#"{"n_estimators": 20, "seed": 3}"#)?;
/// let typed: AnyDetectorParams = IsolationForestParams::default().n_estimators(20).seed(3).into();
/// assert_eq!(by_name, typed);
/// assert_eq!(by_name.fit(&x.view())?.score_one(&[40.0])?, typed.fit(&x.view())?.score_one(&[40.0])?);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnyDetectorParams {
    /// [`IsolationForestParams`].
    #[serde(rename = "iforest")]
    IsolationForest(IsolationForestParams),
    /// [`EcodParams`].
    Ecod(EcodParams),
    /// [`CopodParams`].
    Copod(CopodParams),
    /// [`HbosParams`].
    Hbos(HbosParams),
    /// [`KnnParams`].
    Knn(KnnParams),
    /// [`LofParams`].
    Lof(LofParams),
    /// [`MahalanobisParams`].
    Mahalanobis(MahalanobisParams),
    /// [`PcaParams`].
    Pca(PcaParams),
    /// [`EnsembleParams`].
    Ensemble(Box<EnsembleParams>),
}

/// `match` over every variant of `AnyDetectorParams` or `AnyDetector` (the same names), binding
/// the inner value to `$v`.
macro_rules! dispatch {
    ($enum:ident, $self:expr, $v:ident => $e:expr) => {
        match $self {
            $enum::IsolationForest($v) => $e,
            $enum::Ecod($v) => $e,
            $enum::Copod($v) => $e,
            $enum::Hbos($v) => $e,
            $enum::Knn($v) => $e,
            $enum::Lof($v) => $e,
            $enum::Mahalanobis($v) => $e,
            $enum::Pca($v) => $e,
            $enum::Ensemble($v) => $e,
        }
    };
}

impl AnyDetectorParams {
    /// The parameters of a detector of `kind` (`"iforest"`, `"ecod"`, `"copod"`, `"hbos"`,
    /// `"knn"`, `"lof"`, `"mahalanobis"`, `"pca"`, `"ensemble"`) from JSON (field names as
    /// the `*Params` structs; missing fields take their defaults, unknown ones are an error).
    pub fn from_json(kind: &str, json: &str) -> Result<Self> {
        Ok(match kind {
            "iforest" => AnyDetectorParams::IsolationForest(Params::from_json(json)?),
            "ecod" => AnyDetectorParams::Ecod(Params::from_json(json)?),
            "copod" => AnyDetectorParams::Copod(Params::from_json(json)?),
            "hbos" => AnyDetectorParams::Hbos(Params::from_json(json)?),
            "knn" => AnyDetectorParams::Knn(Params::from_json(json)?),
            "lof" => AnyDetectorParams::Lof(Params::from_json(json)?),
            "mahalanobis" => AnyDetectorParams::Mahalanobis(Params::from_json(json)?),
            "pca" => AnyDetectorParams::Pca(Params::from_json(json)?),
            "ensemble" => AnyDetectorParams::Ensemble(Box::new(Params::from_json(json)?)),
            other => bail!(
                "unknown detector {other:?}: expected one of iforest, ecod, copod, hbos, knn, lof, mahalanobis, pca, ensemble"
            ),
        })
    }

    /// The detector's short name, e.g. `"iforest"` (as [`Detector::name`] of the fitted one).
    pub fn name(&self) -> &'static str {
        match self {
            AnyDetectorParams::IsolationForest(_) => "iforest",
            AnyDetectorParams::Ecod(_) => "ecod",
            AnyDetectorParams::Copod(_) => "copod",
            AnyDetectorParams::Hbos(_) => "hbos",
            AnyDetectorParams::Knn(_) => "knn",
            AnyDetectorParams::Lof(_) => "lof",
            AnyDetectorParams::Mahalanobis(_) => "mahalanobis",
            AnyDetectorParams::Pca(_) => "pca",
            AnyDetectorParams::Ensemble(_) => "ensemble",
        }
    }

    /// Checks every field ([`Params::check`] of the detector's parameters).
    pub fn check(&self) -> Result<()> {
        dispatch!(AnyDetectorParams, self, p => p.check())
    }

    /// The parameters alone as JSON (the form [`AnyDetectorParams::from_json`] reads).
    pub fn to_json(&self) -> String {
        dispatch!(AnyDetectorParams, self, p => p.to_json())
    }

    /// Sets the threads of fit and batch scoring (`None`: all cores), in every member of an
    /// ensemble; fitted models do not depend on it.
    pub fn set_num_threads(&mut self, n: Option<usize>) -> Result<()> {
        crate::ensure!(n != Some(0), "num_threads must be positive when given, got 0");
        match self {
            AnyDetectorParams::IsolationForest(p) => p.num_threads = n,
            AnyDetectorParams::Ecod(p) => p.num_threads = n,
            AnyDetectorParams::Copod(p) => p.num_threads = n,
            AnyDetectorParams::Hbos(p) => p.num_threads = n,
            AnyDetectorParams::Knn(p) => p.num_threads = n,
            AnyDetectorParams::Lof(p) => p.num_threads = n,
            AnyDetectorParams::Mahalanobis(p) => p.num_threads = n,
            AnyDetectorParams::Pca(p) => p.num_threads = n,
            AnyDetectorParams::Ensemble(p) => return p.members.iter_mut().try_for_each(|m| m.set_num_threads(n)),
        }
        Ok(())
    }

    /// Checks the parameters and fits the detector on `x`.
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<AnyDetector> {
        Ok(match self {
            AnyDetectorParams::IsolationForest(p) => AnyDetector::IsolationForest(p.fit(x)?),
            AnyDetectorParams::Ecod(p) => AnyDetector::Ecod(p.fit(x)?),
            AnyDetectorParams::Copod(p) => AnyDetector::Copod(p.fit(x)?),
            AnyDetectorParams::Hbos(p) => AnyDetector::Hbos(p.fit(x)?),
            AnyDetectorParams::Knn(p) => AnyDetector::Knn(p.fit(x)?),
            AnyDetectorParams::Lof(p) => AnyDetector::Lof(p.fit(x)?),
            AnyDetectorParams::Mahalanobis(p) => AnyDetector::Mahalanobis(p.fit(x)?),
            AnyDetectorParams::Pca(p) => AnyDetector::Pca(p.fit(x)?),
            AnyDetectorParams::Ensemble(p) => AnyDetector::Ensemble(Box::new(p.fit(x)?)),
        })
    }
}

macro_rules! params_from {
    ($($variant:ident($ty:ident)),*) => {
        $(impl From<$ty> for AnyDetectorParams {
            fn from(p: $ty) -> Self {
                AnyDetectorParams::$variant(p)
            }
        })*
    };
}
params_from!(
    IsolationForest(IsolationForestParams),
    Ecod(EcodParams),
    Copod(CopodParams),
    Hbos(HbosParams),
    Knn(KnnParams),
    Lof(LofParams),
    Mahalanobis(MahalanobisParams),
    Pca(PcaParams)
);

impl From<EnsembleParams> for AnyDetectorParams {
    fn from(p: EnsembleParams) -> Self {
        AnyDetectorParams::Ensemble(Box::new(p))
    }
}

/// Any fitted mercato detector.
///
/// ```
/// use mercato::fraud::{AnyDetector, AnyDetectorParams, Detector};
/// let params = AnyDetectorParams::from_json("hbos", r#"{"n_bins": 5, "contamination": 0.05}"#)?;
/// let det = params.fit(&ndarray::array![[1.0], [2.0], [2.5], [3.0], [40.0]].view())?;
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

impl AnyDetector {
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

    /// The hyper-parameters it was fitted with (an ensemble's members' included).
    pub fn params(&self) -> AnyDetectorParams {
        match self {
            AnyDetector::IsolationForest(d) => d.params().clone().into(),
            AnyDetector::Ecod(d) => d.params().clone().into(),
            AnyDetector::Copod(d) => d.params().clone().into(),
            AnyDetector::Hbos(d) => d.params().clone().into(),
            AnyDetector::Knn(d) => d.params().clone().into(),
            AnyDetector::Lof(d) => d.params().clone().into(),
            AnyDetector::Mahalanobis(d) => d.params().clone().into(),
            AnyDetector::Pca(d) => d.params().clone().into(),
            AnyDetector::Ensemble(e) => e.params().into(),
        }
    }

    /// The hyper-parameters as JSON (the format [`AnyDetectorParams::from_json`] reads; an
    /// ensemble's without its members).
    pub fn params_json(&self) -> Result<String> {
        dispatch!(AnyDetector, self, d => serde_json::to_string(&d.params).map_err(|e| Error::invalid(e.to_string())))
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
        dispatch!(AnyDetector, self, d => d.to_bytes())
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
        dispatch!(AnyDetector, self, d => d.save(path))
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
    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        dispatch!(AnyDetector, self, d => d.score(x))
    }
    #[inline]
    fn score_one(&self, x: &[f64]) -> Result<f64> {
        dispatch!(AnyDetector, self, d => d.score_one(x))
    }
    fn n_features(&self) -> Option<usize> {
        dispatch!(AnyDetector, self, d => d.n_features())
    }
    fn decision_scores(&self) -> Result<&[f64]> {
        dispatch!(AnyDetector, self, d => d.decision_scores())
    }
    fn calibration(&self) -> Result<&Calibration> {
        dispatch!(AnyDetector, self, d => d.calibration())
    }
    fn calibration_mut(&mut self) -> Result<&mut Calibration> {
        dispatch!(AnyDetector, self, d => d.calibration_mut())
    }
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        dispatch!(AnyDetector, self, d => d.explain(x))
    }
    fn name(&self) -> &'static str {
        dispatch!(AnyDetector, self, d => d.name())
    }
    fn feature_names(&self) -> Option<&[String]> {
        dispatch!(AnyDetector, self, d => d.feature_names())
    }
    fn set_feature_names(&mut self, names: Option<Vec<String>>) -> Result<()> {
        dispatch!(AnyDetector, self, d => d.set_feature_names(names))
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
        let members = vec![IsolationForestParams::default().seed(3).into(), EcodParams::default().into()];
        let mut d = AnyDetectorParams::from(EnsembleParams::default().members(members)).fit(&x.view()).unwrap();
        let before = d.score(&x.view()).unwrap();
        d.set_num_threads(Some(1)).unwrap();
        let AnyDetector::Ensemble(e) = &d else { unreachable!() };
        assert!(e.members().iter().all(|m| m.params_json().unwrap().contains(r#""num_threads":1"#)));
        assert_eq!(d.score(&x.view()).unwrap(), before);
        assert!(d.set_num_threads(Some(0)).is_err());
    }

    #[test]
    fn params_are_validated_and_kinds_dispatch() {
        let err = AnyDetectorParams::from_json("iforest", r#"{"n_trees": 3}"#).unwrap_err();
        assert!(err.to_string().contains("n_trees"));
        assert!(AnyDetectorParams::from_json("svm", "{}").is_err());
        // LOF's default k is 20 (PyOD's), KNN's 5.
        assert!(
            matches!(AnyDetectorParams::from_json("lof", "{}").unwrap(), AnyDetectorParams::Lof(p) if p.n_neighbors == 20)
        );
        assert!(
            matches!(AnyDetectorParams::from_json("knn", "{}").unwrap(), AnyDetectorParams::Knn(p) if p.n_neighbors == 5)
        );
        let x = ndarray::Array2::from_shape_fn((60, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
        for kind in ["iforest", "ecod", "copod", "hbos", "knn", "lof", "mahalanobis", "pca"] {
            let p = AnyDetectorParams::from_json(kind, "{}").unwrap();
            assert_eq!(p.name(), kind);
            let d = p.fit(&x.view()).unwrap();
            assert_eq!(d.name(), kind);
            assert_eq!(d.params(), p, "{kind}");
            assert_eq!(AnyDetectorParams::from_json(kind, &d.params_json().unwrap()).unwrap(), p, "{kind}");
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
            let p = AnyDetectorParams::from_json(kind, "{}").unwrap();
            let c = p.fit(&x.view()).unwrap();
            let f = p.fit(&f_order.view()).unwrap();
            assert_eq!(c, f, "{kind}");
            assert_eq!(c.decision_scores().unwrap(), f.decision_scores().unwrap(), "{kind}");
            assert_eq!(c.score(&f_order.view()).unwrap(), c.score(&x.view()).unwrap(), "{kind}");
        }
    }
}
