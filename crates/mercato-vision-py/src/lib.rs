//! `_mercato_vision`: Python bindings for the libtorch models, `mercato::vision` and the
//! sequential recommenders (the `mercato[vision]` extra).
//!
//! Thin: conversions and calls only. The user-facing class is `mercato.vision.ImageClassifier`
//! (python/mercato/vision.py), which holds the hyper-parameters and wraps [`NativeClassifier`].
//! Every fit/predict releases the GIL; every Rust error becomes the Python exception users
//! expect (`ValueError`, `KeyError`, `FileNotFoundError`, `mercato.ModelFormatError`), never
//! a `PanicException` or a libtorch abort.

use std::path::PathBuf;

use mercato::vision::{
    decode_image_bytes, load_image_files, load_image_folder, Arch, Augment, CorruptPolicy, DeviceChoice,
    ImageClassifier, ImageClassifierParams, ImageFolderOptions, Images, LrSchedule, Optimizer, TrainConfig,
};
use mercato::Error;
use numpy::{PyArray1, PyArray2, PyArray4, PyReadonlyArray1, PyReadonlyArrayDyn};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

// The error mapping of the core extension, compiled here from the same file.
#[path = "../../mercato-py/src/errors.rs"]
mod errors;
// Id and array conversions of the core extension, from the same file (not every helper is
// used here).
#[path = "../../mercato-py/src/convert.rs"]
#[allow(dead_code)]
mod convert;
mod sequential;
use convert::args;
use errors::{to_py, PyResultExt};

/// A numpy array of uint8 or float32 pixels (the Python side converts other dtypes).
enum Pixels<'py> {
    U8(PyReadonlyArrayDyn<'py, u8>),
    F32(PyReadonlyArrayDyn<'py, f32>),
}

impl<'py> Pixels<'py> {
    fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, u8>>() {
            return Ok(Pixels::U8(a));
        }
        if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, f32>>() {
            return Ok(Pixels::F32(a));
        }
        Err(PyTypeError::new_err("images must be a numpy array of uint8 (0..255) or float32 (0..1) pixels"))
    }

    fn images(&self) -> Images<'_> {
        match self {
            Pixels::U8(a) => Images::U8(a.as_array()),
            Pixels::F32(a) => Images::F32(a.as_array()),
        }
    }
}

fn labels_vec(labels: &PyReadonlyArray1<'_, i64>) -> PyResult<Vec<usize>> {
    labels
        .as_array()
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            usize::try_from(l).map_err(|_| PyValueError::new_err(format!("label {l} at position {i} is negative")))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn parse_arch(
    arch: &str,
    num_classes: usize,
    channels: usize,
    size: usize,
    hidden: Option<i64>,
    widths: Option<Vec<i64>>,
    blocks_per_stage: Option<usize>,
    dropout: Option<f64>,
) -> mercato::Result<Arch> {
    let mut a = Arch::from_name(arch, num_classes, channels, size)?;
    match &mut a {
        Arch::SmallCnn(c) => {
            if let Some(h) = hidden {
                c.hidden = h;
            }
            if let Some(d) = dropout {
                c.dropout = d;
            }
        }
        Arch::ResNet(c) => {
            if let Some(w) = widths {
                c.widths = w;
            }
            if let Some(b) = blocks_per_stage {
                c.blocks_per_stage = b;
            }
        }
    }
    a.validate()?;
    Ok(a)
}

fn parse_optimizer(name: &str, momentum: f64) -> mercato::Result<Optimizer> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "adam" => Optimizer::Adam,
        "adamw" => Optimizer::AdamW,
        "sgd" => Optimizer::Sgd { momentum, nesterov: false },
        "nesterov" => Optimizer::Sgd { momentum, nesterov: true },
        o => {
            return Err(Error::invalid(format!(
                "unknown optimizer {o:?}; use \"adam\", \"adamw\", \"sgd\" or \"nesterov\""
            )))
        }
    })
}

fn parse_schedule(name: &str, step_every: usize, step_gamma: f64) -> mercato::Result<LrSchedule> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "cosine" => LrSchedule::Cosine,
        "constant" | "none" => LrSchedule::Constant,
        "step" => LrSchedule::Step { every: step_every, gamma: step_gamma },
        o => {
            return Err(Error::invalid(format!("unknown lr_schedule {o:?}; use \"cosine\", \"step\" or \"constant\"")))
        }
    })
}

/// The Rust `ImageClassifier`, as used by `mercato.vision.ImageClassifier`.
#[pyclass(module = "_mercato_vision", frozen)]
struct NativeClassifier {
    inner: ImageClassifier,
}

#[pymethods]
impl NativeClassifier {
    /// Trains a classifier; see `mercato.vision.ImageClassifier.fit` for the parameters.
    #[staticmethod]
    #[pyo3(signature = (images, labels, *, arch, num_classes, channels, size, hidden=None, widths=None,
        blocks_per_stage=None, dropout=None, class_names=None, epochs=10, batch_size=128, optimizer="adam",
        learning_rate=1e-3, momentum=0.9, weight_decay=0.0, lr_schedule="cosine", step_every=10, step_gamma=0.1,
        validation_fraction=0.1, patience=Some(3), crop_padding=2, horizontal_flip=true, normalization=None,
        seed=0, num_threads=None, device="auto", show_progress=true))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        images: &Bound<'_, PyAny>,
        labels: PyReadonlyArray1<'_, i64>,
        arch: &str,
        num_classes: usize,
        channels: usize,
        size: usize,
        hidden: Option<i64>,
        widths: Option<Vec<i64>>,
        blocks_per_stage: Option<usize>,
        dropout: Option<f64>,
        class_names: Option<Vec<String>>,
        epochs: usize,
        batch_size: usize,
        optimizer: &str,
        learning_rate: f64,
        momentum: f64,
        weight_decay: f64,
        lr_schedule: &str,
        step_every: usize,
        step_gamma: f64,
        validation_fraction: f64,
        patience: Option<usize>,
        crop_padding: usize,
        horizontal_flip: bool,
        normalization: Option<(Vec<f32>, Vec<f32>)>,
        seed: u64,
        num_threads: Option<usize>,
        device: &str,
        show_progress: bool,
    ) -> PyResult<Self> {
        let arch = parse_arch(arch, num_classes, channels, size, hidden, widths, blocks_per_stage, dropout).py()?;
        let config = TrainConfig {
            epochs,
            batch_size,
            optimizer: parse_optimizer(optimizer, momentum).py()?,
            learning_rate,
            weight_decay,
            schedule: parse_schedule(lr_schedule, step_every, step_gamma).py()?,
            validation_fraction,
            patience,
            augment: Augment { crop_padding, horizontal_flip },
            seed,
            num_threads,
            device: device.parse::<DeviceChoice>().py()?,
            normalization,
            show_progress,
        };
        let pixels = Pixels::extract(images)?;
        let labels = labels_vec(&labels)?;
        let images = pixels.images();
        let fitted =
            py.detach(|| ImageClassifierParams::new(arch.clone(), config.clone()).fit(images, &labels)).py()?;
        let inner = match class_names {
            Some(names) => fitted.with_class_names(names).py()?,
            None => fitted,
        };
        Ok(NativeClassifier { inner })
    }

    /// Most probable class index per image (int64 array).
    fn predict<'py>(&self, py: Python<'py>, images: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let pixels = Pixels::extract(images)?;
        let images = pixels.images();
        let pred = py.detach(|| self.inner.predict(images)).py()?;
        Ok(PyArray1::from_vec(py, pred.into_iter().map(|p| p as i64).collect()))
    }

    /// Class probabilities `[N, num_classes]` (float32).
    fn predict_proba<'py>(&self, py: Python<'py>, images: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let pixels = Pixels::extract(images)?;
        let images = pixels.images();
        let p = py.detach(|| self.inner.predict_proba(images)).py()?;
        Ok(PyArray2::from_owned_array(py, p))
    }

    /// Penultimate-layer activations `[N, embedding_dim]` (float32), for image similarity and
    /// as item features (`mercato.recommend.ImageFeatures`).
    fn embed<'py>(&self, py: Python<'py>, images: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let pixels = Pixels::extract(images)?;
        let images = pixels.images();
        let e = py.detach(|| self.inner.embed(images)).py()?;
        Ok(PyArray2::from_owned_array(py, e))
    }

    /// Length of the vectors `embed` returns.
    #[getter]
    fn embedding_dim(&self) -> usize {
        self.inner.embedding_dim()
    }

    /// Accuracy, per-class precision/recall/support and confusion matrix, as a dict.
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        labels: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let pixels = Pixels::extract(images)?;
        let labels = labels_vec(&labels)?;
        let images = pixels.images();
        let ev = py.detach(|| self.inner.evaluate(images, &labels)).py()?;
        let d = PyDict::new(py);
        d.set_item("accuracy", ev.accuracy)?;
        d.set_item("class_names", ev.class_names.clone())?;
        d.set_item("precision", PyArray1::from_vec(py, ev.precision.clone()))?;
        d.set_item("recall", PyArray1::from_vec(py, ev.recall.clone()))?;
        d.set_item("support", PyArray1::from_vec(py, ev.support.clone()))?;
        d.set_item("confusion_matrix", PyArray2::from_owned_array(py, ev.confusion.clone()))?;
        d.set_item("report", ev.to_string())?;
        Ok(d)
    }

    /// The model file as bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let b = py.detach(|| self.inner.to_bytes()).py()?;
        Ok(PyBytes::new(py, &b))
    }

    /// Reads a model from bytes (any vision architecture).
    #[staticmethod]
    #[pyo3(signature = (data, device="auto"))]
    fn from_bytes(py: Python<'_>, data: &[u8], device: &str) -> PyResult<Self> {
        let device = device.parse::<DeviceChoice>().py()?;
        let bytes = data.to_vec();
        let inner = py.detach(|| ImageClassifier::from_bytes_on(bytes, None, device)).py()?;
        Ok(NativeClassifier { inner })
    }

    /// Saves the model file.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).py()
    }

    /// Loads a model file (any vision architecture).
    #[staticmethod]
    #[pyo3(signature = (path, device="auto"))]
    fn load(py: Python<'_>, path: PathBuf, device: &str) -> PyResult<Self> {
        let device = device.parse::<DeviceChoice>().py()?;
        let inner = py.detach(|| ImageClassifier::load_on(&path, None, device)).py()?;
        Ok(NativeClassifier { inner })
    }

    /// Architecture name: "small_cnn" or "resnet".
    #[getter]
    fn arch(&self) -> &'static str {
        self.inner.arch().name()
    }

    /// The architecture's full shape as a JSON string.
    #[getter]
    fn arch_json(&self, _py: Python<'_>) -> PyResult<String> {
        serde_json::to_string(self.inner.arch()).map_err(|e| to_py(Error::invalid(e.to_string())))
    }

    #[getter]
    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }

    #[getter]
    fn channels(&self) -> usize {
        self.inner.channels()
    }

    #[getter]
    fn input_size(&self) -> usize {
        self.inner.input_size()
    }

    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.inner.class_names().to_vec()
    }

    #[getter]
    fn normalization(&self) -> (Vec<f32>, Vec<f32>) {
        let (m, s) = self.inner.normalization();
        (m.to_vec(), s.to_vec())
    }

    #[getter]
    fn device(&self) -> String {
        format!("{:?}", self.inner.device())
    }

    #[getter]
    fn num_weights(&self) -> usize {
        self.inner.num_weights()
    }

    /// Training history: a dict with `epochs` (list of per-epoch dicts), `best_epoch`,
    /// `stopped_early`, `device`, `images_per_second`.
    #[getter]
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let h = self.inner.history();
        let epochs = PyList::empty(py);
        for e in &h.epochs {
            let d = PyDict::new(py);
            d.set_item("epoch", e.epoch)?;
            d.set_item("learning_rate", e.learning_rate)?;
            d.set_item("train_loss", e.train_loss)?;
            d.set_item("train_accuracy", e.train_accuracy)?;
            d.set_item("val_loss", e.val_loss)?;
            d.set_item("val_accuracy", e.val_accuracy)?;
            d.set_item("seconds", e.seconds)?;
            epochs.append(d)?;
        }
        let d = PyDict::new(py);
        d.set_item("epochs", epochs)?;
        d.set_item("best_epoch", h.best_epoch)?;
        d.set_item("stopped_early", h.stopped_early)?;
        d.set_item("device", h.device.clone())?;
        d.set_item("images_per_second", h.images_per_second)?;
        Ok(d)
    }
}

/// Decodes image files to a uint8 array `[N, channels, size, size]`; a bad file raises
/// ValueError naming it.
#[pyfunction]
#[pyo3(name = "load_image_files")]
fn load_image_files_py<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    #[pyo3(from_py_with = args::size)] size: usize,
    #[pyo3(from_py_with = args::channels)] channels: usize,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let a = py.detach(|| load_image_files(&paths, size, channels)).py()?;
    Ok(PyArray4::from_owned_array(py, a))
}

/// Decodes PNG/JPEG files held in memory (HTTP bodies, Spark's `binaryFile` content) to a
/// uint8 array `[N, channels, size, size]`, as `load_image_files` decodes files; an
/// undecodable one raises ValueError naming its position.
#[pyfunction]
#[pyo3(name = "decode_images")]
fn decode_images_py<'py>(
    py: Python<'py>,
    blobs: Vec<Vec<u8>>,
    #[pyo3(from_py_with = args::size)] size: usize,
    #[pyo3(from_py_with = args::channels)] channels: usize,
) -> PyResult<Bound<'py, PyArray4<u8>>> {
    let decoded = py.detach(|| -> mercato::Result<mercato::ndarray::Array4<u8>> {
        let mut out = mercato::ndarray::Array4::<u8>::zeros((blobs.len(), channels, size, size));
        for (k, (blob, mut slot)) in blobs.iter().zip(out.outer_iter_mut()).enumerate() {
            let pixels = decode_image_bytes(blob, size, channels).map_err(|e| match e {
                Error::InvalidInput(why) => Error::invalid(format!("image {k} of {}: {why}", blobs.len())),
                other => other,
            })?;
            slot.as_slice_mut().expect("a row of a standard-layout array").copy_from_slice(&pixels);
        }
        Ok(out)
    });
    Ok(PyArray4::from_owned_array(py, decoded.py()?))
}

/// Sets libtorch's intra-op threads for this process (`0`: leave the default, one per
/// core). The engine helpers call it on workers that run one task per core.
#[pyfunction]
fn set_num_threads(n: usize) -> PyResult<()> {
    if n > 0 {
        let n = i32::try_from(n).map_err(|_| PyValueError::new_err(format!("num_threads {n} is too large")))?;
        tch::set_num_threads(n);
    }
    Ok(())
}

/// Reads `root/<class>/*.png|jpg`: (images uint8 [N,C,S,S], labels int64, class_names,
/// paths, skipped [(path, reason)]). Corrupt files are skipped unless `skip_corrupt=False`.
#[pyfunction]
#[pyo3(name = "load_image_folder", signature = (root, size=28, channels=1, skip_corrupt=true, num_threads=None))]
#[allow(clippy::type_complexity)]
fn load_image_folder_py<'py>(
    py: Python<'py>,
    root: PathBuf,
    #[pyo3(from_py_with = args::size)] size: usize,
    #[pyo3(from_py_with = args::channels)] channels: usize,
    skip_corrupt: bool,
    num_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray4<u8>>, Bound<'py, PyArray1<i64>>, Vec<String>, Vec<PathBuf>, Vec<(PathBuf, String)>)>
{
    let corrupt = if skip_corrupt { CorruptPolicy::Skip } else { CorruptPolicy::Error };
    let opts = ImageFolderOptions { size, channels, corrupt, num_threads };
    let f = py.detach(|| load_image_folder(&root, &opts)).py()?;
    let labels = PyArray1::from_vec(py, f.labels.iter().map(|&l| l as i64).collect());
    Ok((PyArray4::from_owned_array(py, f.images), labels, f.class_names, f.paths, f.skipped))
}

/// Path of a shipped model by name (`"fashion_mnist"`), in `$MERCATO_MODELS` or the
/// repository's `models/` folder this extension was built from.
#[pyfunction]
fn pretrained_path(_py: Python<'_>, name: &str) -> PyResult<PathBuf> {
    let file = mercato::vision::PRETRAINED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .ok_or_else(|| to_py(Error::UnknownId { kind: "pretrained model", id: name.to_string() }))?;
    Ok(ImageClassifier::models_dir().join(file))
}

/// Whether libtorch sees a CUDA GPU.
#[pyfunction]
fn cuda_is_available() -> bool {
    tch::Cuda::is_available()
}

#[pymodule]
fn _mercato_vision(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<NativeClassifier>()?;
    m.add_class::<sequential::NativeSequential>()?;
    m.add_function(wrap_pyfunction!(load_image_files_py, m)?)?;
    m.add_function(wrap_pyfunction!(load_image_folder_py, m)?)?;
    m.add_function(wrap_pyfunction!(decode_images_py, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(pretrained_path, m)?)?;
    m.add_function(wrap_pyfunction!(cuda_is_available, m)?)?;
    Ok(())
}
