//! Image embeddings (or any dense item vectors) as hybrid item features.
//!
//! A CNN's penultimate layer ([`crate::vision::ImageClassifier::embed`]) has hundreds of
//! mostly redundant, non-negative activations. [`HybridMF`](super::HybridMF) learns one
//! embedding per feature column and sums them weighted, so hundreds of dense columns would
//! cost hundreds of updates per item and spread the signal thin. [`ImageFeatures`] keeps
//! the few directions along which the catalogue's pictures actually vary (principal
//! components of the embeddings, fitted on the catalogue), standardises each, and splits it
//! into a positive and a negative column, because feature weights are non-negative. The
//! item's representation is then a learned linear function of where its picture lies on
//! those directions: a new product known only by its photo is placed by the same function.

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::Features;
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{ensure, Error, Result};

/// Hyper-parameters of [`ImageFeatures`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageFeaturesParams {
    /// Principal directions kept (default 16; fewer when the catalogue spans fewer).
    pub n_components: usize,
}

impl Default for ImageFeaturesParams {
    fn default() -> Self {
        ImageFeaturesParams { n_components: 16 }
    }
}

impl Params for ImageFeaturesParams {
    fn check(&self) -> Result<()> {
        ensure!(self.n_components >= 1, param "n_components", "must be >= 1, got {}", self.n_components);
        ensure!(self.n_components <= 4096, param "n_components", "must be <= 4096, got {}", self.n_components);
        Ok(())
    }
}

impl ImageFeaturesParams {
    crate::params::setters!(
        /// Sets the number of principal directions kept.
        n_components: usize
    );

    /// Fits the principal directions of `embeddings` (one row per catalogue item). Fewer
    /// than `n_components` are kept when the rows span fewer directions (at most
    /// `rows − 1`, and none of zero variance). Deterministic: signs are fixed, ties broken
    /// by index.
    pub fn fit(&self, embeddings: ArrayView2<f32>) -> Result<ImageFeatures> {
        self.check()?;
        ImageFeatures::fit_directions(embeddings, self.n_components)
    }
}

/// Principal directions of a catalogue's image embeddings, as non-negative item features:
/// `2 × n_components` columns, `+` and `−` parts of each standardised component, scaled by
/// `1/√n_components` so the block weighs about as much as one unit-weight feature.
///
/// ```
/// use mercato::recommend::hybrid::ImageFeatures;
/// use ndarray::array;
/// // Four "pictures" varying along one direction (and a little along another).
/// let emb = array![[1.0f32, 0.0, 2.0], [2.0, 0.1, 4.0], [3.0, 0.0, 6.0], [4.0, 0.1, 8.0]];
/// let img = ImageFeatures::params().n_components(1).fit(emb.view())?;
/// let f = img.transform(emb.view())?;
/// assert_eq!((f.n_rows(), f.n_cols()), (4, 2));
/// assert_eq!(img.names("img"), ["img0+", "img0-"]);
/// // Opposite ends of the direction land in opposite columns.
/// assert_ne!(f.get_row(0).unwrap().0, f.get_row(3).unwrap().0);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageFeatures {
    mean: Vec<f32>,
    /// `n_components × dim`, row-major, unit length, sign fixed (largest entry positive).
    components: Vec<f32>,
    /// Standard deviation of each component over the fitted rows.
    scale: Vec<f32>,
}

impl ImageFeatures {
    /// Default hyper-parameters, to adjust and `fit`.
    pub fn params() -> ImageFeaturesParams {
        ImageFeaturesParams::default()
    }

    fn fit_directions(embeddings: ArrayView2<f32>, n_components: usize) -> Result<Self> {
        let (n, d) = embeddings.dim();
        ensure!(n >= 2, "need at least 2 embeddings to find directions, got {n}");
        ensure!(d >= 1, "embeddings have no columns");
        ensure!(embeddings.iter().all(|v| v.is_finite()), "embeddings must be finite (found NaN or inf)");
        let mean: Vec<f64> =
            (0..d).map(|j| embeddings.column(j).iter().map(|&v| v as f64).sum::<f64>() / n as f64).collect();
        let centred = DMatrix::from_fn(n, d, |i, j| embeddings[[i, j]] as f64 - mean[j]);
        // Eigen-decompose the smaller of X Xᵀ (n × n) and Xᵀ X (d × d): same spectrum.
        let by_rows = n <= d;
        let gram = if by_rows { &centred * centred.transpose() } else { centred.transpose() * &centred };
        let eig = SymmetricEigen::new(gram);
        let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]).then(a.cmp(&b)));
        let top = eig.eigenvalues[order[0]].max(0.0);
        let mut components = Vec::new();
        let mut scale = Vec::new();
        for &k in order.iter().take(n_components.min(n - 1)) {
            let value = eig.eigenvalues[k];
            if value <= top * 1e-9 || value <= 0.0 {
                break;
            }
            let v = eig.eigenvectors.column(k);
            // Direction in embedding space: v itself (d × d case) or Xᵀ u / ‖Xᵀ u‖.
            let mut dir: Vec<f64> =
                if by_rows { (centred.transpose() * v).iter().copied().collect() } else { v.iter().copied().collect() };
            let norm = dir.iter().map(|x| x * x).sum::<f64>().sqrt();
            ensure!(norm > 0.0, "degenerate embedding direction");
            let largest = dir.iter().copied().fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            let sign = if largest < 0.0 { -1.0 } else { 1.0 };
            dir.iter_mut().for_each(|x| *x *= sign / norm);
            components.extend(dir.iter().map(|&x| x as f32));
            scale.push((value / (n - 1) as f64).sqrt() as f32);
        }
        ensure!(!scale.is_empty(), "the embeddings do not vary: every row is the same");
        Ok(ImageFeatures { mean: mean.iter().map(|&m| m as f32).collect(), components, scale })
    }

    /// Number of components kept.
    pub fn n_components(&self) -> usize {
        self.scale.len()
    }

    /// Number of feature columns [`transform`](Self::transform) produces (`2 × n_components`).
    pub fn n_features(&self) -> usize {
        2 * self.n_components()
    }

    /// Length of the embeddings this was fitted on.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Column names: `{prefix}{j}+` and `{prefix}{j}-` for each component `j`.
    pub fn names(&self, prefix: &str) -> Vec<String> {
        (0..self.n_components()).flat_map(|j| [format!("{prefix}{j}+"), format!("{prefix}{j}-")]).collect()
    }

    /// Feature rows for `embeddings` (catalogue items or new ones, same embedding model).
    pub fn transform(&self, embeddings: ArrayView2<f32>) -> Result<Features> {
        let (n, d) = embeddings.dim();
        ensure!(d == self.dim(), shape format!("embeddings of length {}", self.dim()), d);
        ensure!(embeddings.iter().all(|v| v.is_finite()), "embeddings must be finite (found NaN or inf)");
        let k = self.n_components();
        let norm = 1.0 / (k as f32).sqrt();
        let rows = (0..n).map(|i| {
            let row = embeddings.row(i);
            (0..k)
                .filter_map(|j| {
                    let dir = &self.components[j * d..(j + 1) * d];
                    let z: f32 = row.iter().zip(&self.mean).zip(dir).map(|((&x, &m), &c)| (x - m) * c).sum::<f32>()
                        / self.scale[j];
                    let column = if z >= 0.0 { 2 * j } else { 2 * j + 1 };
                    (z != 0.0).then_some((column, z.abs() * norm))
                })
                .collect::<Vec<_>>()
        });
        Features::from_rows(self.n_features(), rows)
    }
}

#[derive(Serialize, Deserialize)]
struct ImageFeaturesMeta {
    dim: usize,
    n_components: usize,
}

impl Persist for ImageFeatures {
    const KIND: &'static str = "recommend.image_features";

    fn write(&self) -> Result<ModelWriter> {
        let (d, k) = (self.dim(), self.n_components());
        Ok(ModelWriter::new(Self::KIND, &ImageFeaturesMeta { dim: d, n_components: k })?
            .f32("mean", &[d], &self.mean)
            .f32("components", &[k, d], &self.components)
            .f32("scale", &[k], &self.scale))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: ImageFeaturesMeta = r.meta()?;
        if meta.dim == 0 || meta.n_components == 0 {
            return Err(Error::format("image features: no dimensions or no components"));
        }
        let mean = r.array1_f32("mean", Some(meta.dim))?.to_vec();
        let components =
            r.array2_f32("components", [Some(meta.n_components), Some(meta.dim)])?.iter().copied().collect();
        let scale = r.array1_f32("scale", Some(meta.n_components))?.to_vec();
        let model = ImageFeatures { mean, components, scale };
        let finite = model.mean.iter().chain(&model.components).all(|v| v.is_finite());
        if !finite || model.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::format("image features: values must be finite and scales positive"));
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn finds_the_direction_pictures_vary_along_and_refuses_bad_input() {
        // 40 rows along (1, 2, 0, ...) plus small noise in a 6-wide embedding: the first
        // component is that direction, and its sign is fixed (largest entry positive).
        let emb = Array2::from_shape_fn((40, 6), |(i, j)| {
            let t = i as f32 - 20.0;
            [t, 2.0 * t, 0.0, 0.0, 0.0, 0.0][j] + 0.01 * ((i * 7 + j * 3) % 5) as f32
        });
        let img = ImageFeatures::params().n_components(3).fit(emb.view()).unwrap();
        let c0 = &img.components[..6];
        assert!((c0[1] - 2.0 / 5f32.sqrt()).abs() < 1e-3 && (c0[0] - 1.0 / 5f32.sqrt()).abs() < 1e-3, "{c0:?}");
        // Both ends of the direction, split into its + and - columns.
        let f = img.transform(emb.view()).unwrap();
        assert_eq!(f.n_cols(), 2 * img.n_components());
        assert_eq!(f.get_row(39).unwrap().0[0], 0);
        assert_eq!(f.get_row(0).unwrap().0[0], 1);
        // The same input fits the same directions (the transposed path for n > d included).
        assert_eq!(ImageFeatures::params().n_components(3).fit(emb.view()).unwrap(), img);

        assert!(ImageFeatures::params().n_components(2).fit(emb.slice(ndarray::s![..1, ..])).is_err(), "one row");
        assert!(matches!(
            ImageFeatures::params().n_components(0).fit(emb.view()),
            Err(crate::Error::InvalidParameter { .. })
        ));
        assert!(
            ImageFeatures::params().n_components(2).fit(Array2::<f32>::ones((5, 3)).view()).is_err(),
            "no variation"
        );
        let mut nan = emb.clone();
        nan[[3, 2]] = f32::NAN;
        assert!(ImageFeatures::params().n_components(2).fit(nan.view()).is_err());
        assert!(img.transform(nan.view()).is_err());
        assert!(matches!(img.transform(Array2::<f32>::zeros((2, 5)).view()), Err(crate::Error::ShapeMismatch { .. })));
    }

    #[test]
    fn round_trips_through_the_model_file_and_refuses_damaged_ones() {
        let emb = Array2::from_shape_fn((12, 5), |(i, j)| ((i * (j + 2)) % 7) as f32 - 0.3 * j as f32);
        let img = ImageFeatures::params().n_components(3).fit(emb.view()).unwrap();
        let bytes = img.to_bytes().unwrap();
        let back = ImageFeatures::from_bytes(bytes.clone()).unwrap();
        assert_eq!(back, img);
        assert_eq!(back.transform(emb.view()).unwrap(), img.transform(emb.view()).unwrap());
        let any = crate::AnyModel::from_bytes(bytes.clone()).unwrap();
        assert_eq!(any.kind(), "recommend.image_features");
        for cut in [0, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(ImageFeatures::from_bytes(bytes[..cut].to_vec()).is_err(), "truncated at {cut}");
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x40;
        assert!(ImageFeatures::from_bytes(flipped).is_err(), "checksum catches a flipped bit");
    }
}
