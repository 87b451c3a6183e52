//! [`ImageClassifier`]: a trained network plus everything needed to use it on raw images.

use crate::params::Params;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::images::{channel_stats, scale, Images};
use super::net::{Arch, Network, KIND_RESNET, KIND_SMALL_CNN};
use super::train::{train, History, Normalizer, ThreadGuard, TrainConfig, TrainData};
use super::DeviceChoice;
use crate::persist::{peek_kind, ModelReader, ModelWriter};
use crate::{ensure, Error, Result};

/// Serialises every seeded libtorch fit in the crate (image classifiers and sequential
/// recommenders): libtorch's random generator and thread count belong to the whole process,
/// so two fits that each held their own lock could still draw from one generator.
pub(crate) static FIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Images per forward pass when predicting: bounds memory on big inputs; the size was
/// chosen by timing benches/compare/vision.py (figures in the README).
const PREDICT_BATCH: usize = 256;

/// Names of the pre-trained models [`ImageClassifier::pretrained`] knows, with their files.
pub const PRETRAINED: &[(&str, &str)] = &[("fashion_mnist", "fashion_cnn.mercato")];

#[derive(Serialize, Deserialize)]
struct Meta {
    arch: Arch,
    class_names: Vec<String>,
    mean: Vec<f32>,
    std: Vec<f32>,
    history: History,
}

/// A CNN image classifier: architecture, class names, input size, normalisation and
/// weights. Predicts on raw images (u8 or 0..1 float, `[N, H, W]` or `[N, C, H, W]`) and
/// saves all of it in one model file, so a loaded model needs no extra arguments.
///
/// No method changes a fitted model in place: [`fine_tune`](Self::fine_tune) returns a new
/// model, [`with_class_names`](Self::with_class_names) and [`to_device`](Self::to_device)
/// consume it and return it renamed or moved. Prediction takes `&self` and may run from
/// several threads at once.
///
/// ```no_run
/// use mercato::data::idx::load_fashion_mnist;
/// use mercato::vision::{Arch, ImageClassifierParams, TrainConfig};
///
/// let fm = load_fashion_mnist(None::<&str>)?;
/// let arch = Arch::from_name("small_cnn", 10, 1, 28)?;
/// let params = ImageClassifierParams::new(arch, TrainConfig::default().epochs(2));
/// let clf = params.fit(&fm.train_images, &fm.train_labels.mapv(|l| l as usize).to_vec())?
///     .with_class_names(fm.class_names.clone())?;
/// let report = clf.evaluate(&fm.test_images, &fm.test_labels.mapv(|l| l as usize).to_vec())?;
/// println!("{report}");
/// clf.save("fashion.mercato")?;
/// let again = mercato::vision::ImageClassifier::load("fashion.mercato")?;
/// assert_eq!(again.predict(&fm.test_images)?, clf.predict(&fm.test_images)?);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Debug)]
pub struct ImageClassifier {
    arch: Arch,
    class_names: Vec<String>,
    mean: Vec<f32>,
    std: Vec<f32>,
    history: History,
    net: Network,
}

// SAFETY: tch's `Tensor` is `Send` but not `Sync`, because some of its `&self` methods can
// mutate shared state (gradients, in-place ops). An `ImageClassifier` never exposes its
// tensors: after construction (fit or load, which own the value) its only uses of the
// network are forward passes under `no_grad` in evaluation mode, which read the weights and
// allocate fresh outputs. libtorch supports concurrent inference on shared modules (it is
// how TorchScript and PyTorch servers run), so sharing `&ImageClassifier` across threads is sound.
unsafe impl Sync for ImageClassifier {}

/// Accuracy, per-class precision/recall and the confusion matrix of a labelled image set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Fraction of images classified correctly.
    pub accuracy: f64,
    /// Class names, in label order.
    pub class_names: Vec<String>,
    /// Per-class precision (0 where the class is never predicted).
    pub precision: Vec<f64>,
    /// Per-class recall (0 where the class never occurs).
    pub recall: Vec<f64>,
    /// Images per true class.
    pub support: Vec<u64>,
    /// `confusion[[true, predicted]]` counts (scikit-learn layout).
    pub confusion: Array2<u64>,
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self.class_names.iter().map(|s| s.len()).max().unwrap_or(5).max(5);
        writeln!(f, "accuracy {:.4} on {} images", self.accuracy, self.support.iter().sum::<u64>())?;
        writeln!(f, "{:>width$}  precision  recall  support", "class")?;
        for (i, name) in self.class_names.iter().enumerate() {
            writeln!(f, "{name:>width$}  {:>9.4}  {:>6.4}  {:>7}", self.precision[i], self.recall[i], self.support[i])?;
        }
        writeln!(f, "confusion matrix (rows = true class, columns = predicted):")?;
        for row in self.confusion.rows() {
            let cells: Vec<String> = row.iter().map(|c| format!("{c:>5}")).collect();
            writeln!(f, "{}", cells.join(""))?;
        }
        Ok(())
    }
}

fn default_names(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

fn check_labels(labels: &[usize], n_images: usize, num_classes: usize) -> Result<()> {
    if labels.len() != n_images {
        return Err(Error::shape(format!("{n_images} labels (one per image)"), labels.len()));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, &l)| l >= num_classes) {
        return Err(Error::invalid(format!(
            "label {l} at position {i} is outside 0..{num_classes} (num_classes = {num_classes})"
        )));
    }
    Ok(())
}

/// Hyper-parameters of an [`ImageClassifier`]: the network ([`Arch`], which fixes the
/// classes, channels and input size) and how to train it ([`TrainConfig`]).
///
/// ```no_run
/// use mercato::vision::{Arch, ImageClassifierParams, TrainConfig};
/// # let (images, labels) = (ndarray::Array3::<u8>::zeros((10, 28, 28)), vec![0usize; 10]);
/// let params = ImageClassifierParams::new(Arch::default(), TrainConfig::default().epochs(2));
/// let clf = params.fit(&images, &labels)?;
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageClassifierParams {
    /// The network and its shape.
    pub arch: Arch,
    /// Epochs, optimiser, seed, device...
    pub train: TrainConfig,
}

impl Params for ImageClassifierParams {
    fn check(&self) -> Result<()> {
        self.arch.validate()?;
        self.train.check()
    }
}

impl ImageClassifierParams {
    /// The network `arch` trained with `train`.
    pub fn new(arch: Arch, train: TrainConfig) -> Self {
        ImageClassifierParams { arch, train }
    }

    /// Trains a new classifier on `images` with `labels` in `0..num_classes`. Class names
    /// default to `"0"`, `"1"`, ...; set them with
    /// [`with_class_names`](ImageClassifier::with_class_names).
    ///
    /// Everything is checked before libtorch sees it (shapes, channels, labels, NaN, empty
    /// input, hyper-parameters). The same `seed`, data and thread count give the same model;
    /// because libtorch's random generator is process-wide, concurrent fits in one process
    /// run one after the other.
    pub fn fit<'a>(&self, images: impl Into<Images<'a>>, labels: &[usize]) -> Result<ImageClassifier> {
        self.check()?;
        ImageClassifier::train_new(&self.arch, &self.train, images.into(), labels)
    }
}

impl ImageClassifier {
    /// [`ImageClassifierParams::fit`] once the parameters are checked.
    fn train_new(arch: &Arch, config: &TrainConfig, images: Images<'_>, labels: &[usize]) -> Result<Self> {
        ensure!(!images.is_empty(), "cannot train on an empty set of images");
        images.check(arch.channels(), arch.size())?;
        check_labels(labels, images.len(), arch.num_classes())?;
        let raw = images.to_tensor(arch.channels(), arch.size())?;
        let labels_t = Tensor::f_from_slice(&labels.iter().map(|&l| l as i64).collect::<Vec<_>>())?;
        let device = config.device.resolve()?;
        // libtorch's random generator (weight initialisation, dropout) and its thread count
        // are process-wide (as torch.manual_seed): fits in one process take turns so each
        // seeded run repeats.
        let _rng = FIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _threads = ThreadGuard::set(config.num_threads);
        let (mean, std) = match &config.normalization {
            Some((m, s)) => {
                ensure!(
                    m.len() == arch.channels() && s.len() == arch.channels(),
                    "normalization needs one mean and one std per channel ({}), got {} and {}",
                    arch.channels(),
                    m.len(),
                    s.len()
                );
                ensure!(
                    m.iter().all(|v| v.is_finite()) && s.iter().all(|v| v.is_finite() && *v > 0.0),
                    "normalization mean must be finite and std positive"
                );
                (m.clone(), s.clone())
            }
            None => channel_stats(&raw)?,
        };
        tch::manual_seed(config.seed as i64);
        let mut net = Network::new(arch, device)?;
        let data = TrainData { raw: &raw, labels: &labels_t, mean: &mean, std: &std };
        let history = train(&mut net, &data, config)?;
        Ok(ImageClassifier {
            arch: arch.clone(),
            class_names: default_names(arch.num_classes()),
            mean,
            std,
            history,
            net,
        })
    }

    /// Continues training from this model's weights (fine-tuning, e.g. the shipped
    /// Fashion-MNIST model on a catalogue's own photos with the same classes and input).
    /// Keeps the architecture, class names and normalisation; `config.normalization` is
    /// ignored. Returns a new model; `self` is unchanged.
    pub fn fine_tune<'a>(&self, config: &TrainConfig, images: impl Into<Images<'a>>, labels: &[usize]) -> Result<Self> {
        config.check()?;
        let images = images.into();
        ensure!(!images.is_empty(), "cannot train on an empty set of images");
        let raw = images.to_tensor(self.channels(), self.input_size())?;
        check_labels(labels, images.len(), self.num_classes())?;
        let labels_t = Tensor::f_from_slice(&labels.iter().map(|&l| l as i64).collect::<Vec<_>>())?;
        let device = config.device.resolve()?;
        let _rng = FIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _threads = ThreadGuard::set(config.num_threads);
        tch::manual_seed(config.seed as i64);
        let mut net = Network::new(&self.arch, device)?;
        net.restore(&self.net.snapshot())?;
        let data = TrainData { raw: &raw, labels: &labels_t, mean: &self.mean, std: &self.std };
        let mut history = train(&mut net, &data, config)?;
        let mut epochs = self.history.epochs.clone();
        let offset = epochs.len();
        for e in &mut history.epochs {
            e.epoch += offset;
        }
        history.best_epoch = history.best_epoch.map(|b| b + offset);
        epochs.append(&mut history.epochs);
        history.epochs = epochs;
        Ok(ImageClassifier {
            arch: self.arch.clone(),
            class_names: self.class_names.clone(),
            mean: self.mean.clone(),
            std: self.std.clone(),
            history,
            net,
        })
    }

    /// Sets the class names (one per class, in label order).
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Self> {
        if names.len() != self.num_classes() {
            return Err(Error::shape(format!("{} class names", self.num_classes()), names.len()));
        }
        self.class_names = names;
        Ok(self)
    }

    /// The architecture and its shape.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// Class names in label order.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.arch.num_classes()
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        self.arch.channels()
    }

    /// Input side in pixels.
    pub fn input_size(&self) -> usize {
        self.arch.size()
    }

    /// Per-channel (mean, std) used to normalise 0..1 pixels.
    pub fn normalization(&self) -> (&[f32], &[f32]) {
        (&self.mean, &self.std)
    }

    /// Training history: loss and accuracy per epoch, best epoch, speed.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.net.device()
    }

    /// Number of weights (trainable parameters and batch-norm statistics).
    pub fn num_weights(&self) -> usize {
        self.net.var_store().variables().values().map(|t| t.numel()).sum()
    }

    /// Moves the weights to another device (e.g. train on GPU, serve on CPU).
    pub fn to_device(self, device: DeviceChoice) -> Result<Self> {
        let device = device.resolve()?;
        if device == self.net.device() {
            return Ok(self);
        }
        let _rng = FIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut net = Network::new(&self.arch, device)?;
        net.restore(&self.net.snapshot())?;
        Ok(ImageClassifier { net, ..self })
    }

    /// Class probabilities `[N, num_classes]` (softmax of the logits).
    pub fn predict_proba<'a>(&self, images: impl Into<Images<'a>>) -> Result<Array2<f32>> {
        let images = images.into();
        let raw = images.to_tensor(self.channels(), self.input_size())?;
        let probs = self.proba_raw(&raw)?;
        let n = images.len();
        let data = Vec::<f32>::try_from(probs.f_flatten(0, -1)?)?;
        Array2::from_shape_vec((n, self.num_classes()), data).map_err(|e| Error::Torch(e.to_string()))
    }

    /// Most probable class per image.
    pub fn predict<'a>(&self, images: impl Into<Images<'a>>) -> Result<Vec<usize>> {
        let images = images.into();
        let raw = images.to_tensor(self.channels(), self.input_size())?;
        let probs = self.proba_raw(&raw)?;
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let idx = Vec::<i64>::try_from(probs.f_argmax(-1, false)?)?;
        Ok(idx.into_iter().map(|i| i as usize).collect())
    }

    /// Most probable class name per image.
    pub fn predict_names<'a>(&self, images: impl Into<Images<'a>>) -> Result<Vec<String>> {
        Ok(self.predict(images)?.into_iter().map(|i| self.class_names[i].clone()).collect())
    }

    /// Class probabilities for a raw tensor `[N, C, H, W]` (`Uint8`, or float on the 0..1
    /// scale), on any device; returns a `[N, num_classes]` float tensor on the CPU.
    pub fn predict_proba_tensor(&self, images: &Tensor) -> Result<Tensor> {
        let size = images.size();
        let (c, s) = (self.channels() as i64, self.input_size() as i64);
        if size.len() != 4 || size[1] != c || size[2] != s || size[3] != s {
            return Err(Error::shape(format!("tensor [N, {c}, {s}, {s}]"), format!("{size:?}")));
        }
        let raw = match images.kind() {
            Kind::Uint8 => images.f_to_device(Device::Cpu)?,
            Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16 => {
                let f = images.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?;
                ensure!(
                    f.f_isfinite()?.f_all()?.int64_value(&[]) == 1,
                    "pixel values must be finite (found NaN or inf)"
                );
                f
            }
            k => return Err(Error::invalid(format!("image tensor must be Uint8 or float, got {k:?}"))),
        };
        self.proba_raw(&raw)
    }

    /// Image embeddings `[N, embedding_dim]`: the activations of the penultimate layer (the
    /// small CNN's hidden layer, the ResNet's pooled features), the representation the
    /// classifier's last layer separates the classes with. Images that look alike get nearby
    /// vectors, so they serve as item features for products known only by a photo (see
    /// [`crate::recommend::hybrid::ImageFeatures`]). Same input checks as
    /// [`predict`](Self::predict); computed in chunks, so memory is bounded by the output.
    ///
    /// ```no_run
    /// # let images = ndarray::Array3::<u8>::zeros((2, 28, 28));
    /// let clf = mercato::vision::ImageClassifier::pretrained("fashion_mnist")?;
    /// let emb = clf.embed(&images)?;
    /// assert_eq!(emb.dim(), (2, clf.embedding_dim()));
    /// # Ok::<(), mercato::Error>(())
    /// ```
    pub fn embed<'a>(&self, images: impl Into<Images<'a>>) -> Result<Array2<f32>> {
        let images = images.into();
        let raw = images.to_tensor(self.channels(), self.input_size())?;
        let out = self.chunked(&raw, self.embedding_dim(), |x| Ok(self.net.embed(x)))?;
        let data = Vec::<f32>::try_from(out.f_flatten(0, -1)?)?;
        Array2::from_shape_vec((images.len(), self.embedding_dim()), data).map_err(|e| Error::Torch(e.to_string()))
    }

    /// Length of the vectors [`embed`](Self::embed) returns.
    pub fn embedding_dim(&self) -> usize {
        self.arch.embedding_dim()
    }

    /// Softmax outputs for a checked raw CPU tensor, in chunks.
    fn proba_raw(&self, raw: &Tensor) -> Result<Tensor> {
        self.chunked(raw, self.num_classes(), |x| Ok(self.net.forward_t(x, false).f_softmax(-1, Kind::Float)?))
    }

    /// `f` on normalised chunks of [`PREDICT_BATCH`] images of a checked raw CPU tensor, in
    /// evaluation mode without gradients; the `[N, width]` outputs gathered on the CPU.
    fn chunked(&self, raw: &Tensor, width: usize, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
        let n = raw.size()[0];
        if n == 0 {
            return Ok(Tensor::f_zeros([0, width as i64], (Kind::Float, Device::Cpu))?);
        }
        let norm = Normalizer::new(&self.mean, &self.std, self.net.device())?;
        tch::no_grad(|| -> Result<Tensor> {
            let mut outs = Vec::new();
            let mut start = 0;
            while start < n {
                let len = (PREDICT_BATCH as i64).min(n - start);
                let x = norm.apply(&scale(&raw.f_narrow(0, start, len)?)?)?;
                outs.push(f(&x)?.f_to_device(Device::Cpu)?);
                start += len;
            }
            Ok(if outs.len() == 1 { outs.pop().expect("one chunk") } else { Tensor::f_cat(&outs, 0)? })
        })
    }

    /// Accuracy, per-class precision/recall and confusion matrix on labelled images.
    pub fn evaluate<'a>(&self, images: impl Into<Images<'a>>, labels: &[usize]) -> Result<Evaluation> {
        let images = images.into();
        ensure!(!images.is_empty(), "cannot evaluate on an empty set of images");
        images.check(self.channels(), self.input_size())?;
        check_labels(labels, images.len(), self.num_classes())?;
        let pred = self.predict(images)?;
        self.evaluation(labels, &pred)
    }

    /// Builds an [`Evaluation`] from true and predicted labels.
    pub fn evaluation(&self, labels: &[usize], predicted: &[usize]) -> Result<Evaluation> {
        let k = self.num_classes();
        let confusion = crate::metrics::confusion_matrix(labels, predicted, k)?;
        let accuracy = crate::metrics::accuracy(labels, predicted)?;
        let pr = crate::metrics::per_class_precision_recall(&confusion);
        Ok(Evaluation {
            accuracy,
            class_names: self.class_names.clone(),
            precision: pr.iter().map(|p| p.0).collect(),
            recall: pr.iter().map(|p| p.1).collect(),
            support: confusion.rows().into_iter().map(|r| r.sum()).collect(),
            confusion,
        })
    }

    // ---- persistence -------------------------------------------------------------------

    fn writer(&self) -> Result<ModelWriter> {
        let meta = Meta {
            arch: self.arch.clone(),
            class_names: self.class_names.clone(),
            mean: self.mean.clone(),
            std: self.std.clone(),
            history: self.history.clone(),
        };
        self.net.write_weights(ModelWriter::new(self.arch.kind(), &meta)?)
    }

    /// The model file as bytes (also what Python pickles).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.writer()?.to_bytes()
    }

    /// Saves the model file (atomically: temporary file, then rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.writer()?.save(path)
    }

    /// Reads a classifier of any architecture from model-file bytes, onto
    /// [`DeviceChoice::Auto`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_bytes_on(bytes, None, DeviceChoice::Auto)
    }

    /// Reads a classifier from bytes; with `expected = Some(kind)` a file of another
    /// architecture is a [`Error::ModelFormat`] error.
    pub fn from_bytes_on(bytes: Vec<u8>, expected: Option<&str>, device: DeviceChoice) -> Result<Self> {
        let kind = match expected {
            Some(k) => k.to_string(),
            None => peek_kind(&bytes)?,
        };
        if kind != KIND_SMALL_CNN && kind != KIND_RESNET {
            return Err(Error::format(format!(
                "file holds a {kind:?} model, expected an image classifier ({KIND_SMALL_CNN:?} or {KIND_RESNET:?})"
            )));
        }
        let reader = ModelReader::from_bytes(bytes, &kind)?;
        Self::read(&reader, device.resolve()?)
    }

    /// Loads a classifier of any architecture (onto [`DeviceChoice::Auto`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_on(path, None, DeviceChoice::Auto)
    }

    /// Loads a classifier onto `device`; with `expected = Some(kind)` (e.g.
    /// [`KIND_SMALL_CNN`]) a file of another architecture is a [`Error::ModelFormat`] error.
    pub fn load_on(path: impl AsRef<Path>, expected: Option<&str>, device: DeviceChoice) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes_on(bytes, expected, device).map_err(|e| match e {
            Error::ModelFormat(m) => Error::format(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn read(r: &ModelReader, device: Device) -> Result<Self> {
        let meta: Meta = r.meta()?;
        let bad = |m: String| Error::format(m);
        meta.arch.validate().map_err(|e| bad(format!("architecture: {e}")))?;
        if meta.arch.kind() != r.kind() {
            return Err(bad(format!(
                "file kind {:?} does not match its architecture {:?}",
                r.kind(),
                meta.arch.name()
            )));
        }
        let (k, c) = (meta.arch.num_classes(), meta.arch.channels());
        if meta.class_names.len() != k {
            return Err(bad(format!("{} class names for {k} classes", meta.class_names.len())));
        }
        if meta.mean.len() != c || meta.std.len() != c {
            return Err(bad(format!(
                "normalisation has {}/{} values for {c} channels",
                meta.mean.len(),
                meta.std.len()
            )));
        }
        if !meta.mean.iter().all(|v| v.is_finite()) || !meta.std.iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err(bad("normalisation mean must be finite and std positive".into()));
        }
        // Building a network draws initial weights from libtorch's process-wide generator:
        // hold the fit lock so a load never shifts the random stream of a seeded fit.
        let _rng = FIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut net = Network::new(&meta.arch, device).map_err(|e| bad(e.to_string()))?;
        net.read_weights(r)?;
        Ok(ImageClassifier {
            arch: meta.arch,
            class_names: meta.class_names,
            mean: meta.mean,
            std: meta.std,
            history: meta.history,
            net,
        })
    }

    /// Folder holding the shipped models: `$MERCATO_MODELS` when set, else the repository's
    /// `models/` folder (found from this crate's source location at build time).
    pub fn models_dir() -> PathBuf {
        std::env::var_os("MERCATO_MODELS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"))
    }

    /// Loads a shipped pre-trained model by name: `"fashion_mnist"` (small CNN on
    /// Fashion-MNIST, see `models/fashion_cnn.md`). Looked up in [`Self::models_dir`].
    pub fn pretrained(name: &str) -> Result<Self> {
        let file = PRETRAINED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| Error::UnknownId { kind: "pretrained model", id: name.to_string() })?;
        Self::load(Self::models_dir().join(file))
    }
}
