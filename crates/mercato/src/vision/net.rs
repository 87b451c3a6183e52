//! The architectures behind one enum, and a network that owns its weights.

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Device, Tensor};

use super::{ResNet, ResNetConfig, SmallCnn, SmallCnnConfig};
use crate::persist::{ModelReader, ModelWriter};
use crate::{Error, Result};

/// Which network an [`super::ImageClassifier`] uses, with its shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "snake_case")]
pub enum Arch {
    /// [`SmallCnn`]: two 5×5 convolutions, a hidden layer with dropout. Fast on CPU.
    SmallCnn(SmallCnnConfig),
    /// [`ResNet`]: residual blocks with batch norm. Slower, more accurate.
    ResNet(ResNetConfig),
}

impl Default for Arch {
    fn default() -> Self {
        Arch::SmallCnn(SmallCnnConfig::default())
    }
}

impl Arch {
    /// The architecture's name: `"small_cnn"` or `"resnet"`.
    pub fn name(&self) -> &'static str {
        match self {
            Arch::SmallCnn(_) => "small_cnn",
            Arch::ResNet(_) => "resnet",
        }
    }

    /// The model-file kind for this architecture (`"vision.small_cnn"`, `"vision.resnet"`).
    pub fn kind(&self) -> &'static str {
        match self {
            Arch::SmallCnn(_) => KIND_SMALL_CNN,
            Arch::ResNet(_) => KIND_RESNET,
        }
    }

    /// Default shape of the architecture called `name` (`"small_cnn"`, `"resnet"`) for
    /// `num_classes` classes of `channels`×`size`×`size` images.
    pub fn from_name(name: &str, num_classes: usize, channels: usize, size: usize) -> Result<Self> {
        let (n, c, s) = (num_classes as i64, channels as i64, size as i64);
        let arch = match name {
            "small_cnn" | "smallcnn" | "cnn" => {
                Arch::SmallCnn(SmallCnnConfig { channels: c, size: s, num_classes: n, ..Default::default() })
            }
            "resnet" | "resnet8" => {
                Arch::ResNet(ResNetConfig { channels: c, size: s, num_classes: n, ..Default::default() })
            }
            other => {
                return Err(Error::invalid(format!("unknown architecture {other:?}; use \"small_cnn\" or \"resnet\"")))
            }
        };
        arch.validate()?;
        Ok(arch)
    }

    /// Number of output classes.
    pub fn num_classes(&self) -> usize {
        match self {
            Arch::SmallCnn(c) => c.num_classes as usize,
            Arch::ResNet(c) => c.num_classes as usize,
        }
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        match self {
            Arch::SmallCnn(c) => c.channels as usize,
            Arch::ResNet(c) => c.channels as usize,
        }
    }

    /// Input side in pixels (images are square).
    pub fn size(&self) -> usize {
        match self {
            Arch::SmallCnn(c) => c.size as usize,
            Arch::ResNet(c) => c.size as usize,
        }
    }

    /// Width of the penultimate layer: the length of an image embedding.
    pub fn embedding_dim(&self) -> usize {
        match self {
            Arch::SmallCnn(c) => c.hidden as usize,
            Arch::ResNet(c) => c.widths.last().copied().unwrap_or(0) as usize,
        }
    }

    /// Checks the shape parameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            Arch::SmallCnn(c) => c.validate(),
            Arch::ResNet(c) => c.validate(),
        }
    }
}

/// Model-file kind of a small-CNN classifier.
pub const KIND_SMALL_CNN: &str = "vision.small_cnn";
/// Model-file kind of a ResNet classifier.
pub const KIND_RESNET: &str = "vision.resnet";

enum Module {
    SmallCnn(SmallCnn),
    ResNet(ResNet),
}

/// A network with its weights, on one device.
pub(crate) struct Network {
    vs: nn::VarStore,
    module: Module,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("device", &self.vs.device()).finish_non_exhaustive()
    }
}

impl Network {
    pub(crate) fn new(arch: &Arch, device: Device) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let module = match arch {
            Arch::SmallCnn(c) => Module::SmallCnn(SmallCnn::new(&root, c.clone())?),
            Arch::ResNet(c) => Module::ResNet(ResNet::new(&root, c.clone())?),
        };
        Ok(Network { vs, module })
    }

    pub(crate) fn device(&self) -> Device {
        self.vs.device()
    }

    pub(crate) fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub(crate) fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match &self.module {
            Module::SmallCnn(m) => m.forward_t(xs, train),
            Module::ResNet(m) => m.forward_t(xs, train),
        }
    }

    /// Penultimate-layer activations in evaluation mode (see [`super::ImageClassifier::embed`]).
    pub(crate) fn embed(&self, xs: &Tensor) -> Tensor {
        match &self.module {
            Module::SmallCnn(m) => m.embed_t(xs),
            Module::ResNet(m) => m.embed_t(xs, false),
        }
    }

    /// Weights (and batch-norm running statistics) by name, sorted, as CPU f32 tensors.
    pub(crate) fn snapshot(&self) -> Vec<(String, Tensor)> {
        super::weights::snapshot(&self.vs)
    }

    /// Overwrites the weights from `(name, tensor)` pairs, checking names and shapes.
    pub(crate) fn restore(&mut self, weights: &[(String, Tensor)]) -> Result<()> {
        super::weights::restore(&mut self.vs, weights)
    }

    /// Adds every weight to `w` as an f32 array named after the variable.
    pub(crate) fn write_weights(&self, w: ModelWriter) -> Result<ModelWriter> {
        super::weights::write(&self.vs, w)
    }

    /// Loads every weight from `r`, checking names and shapes against this network.
    pub(crate) fn read_weights(&mut self, r: &ModelReader) -> Result<()> {
        super::weights::read(&mut self.vs, r)
    }
}
