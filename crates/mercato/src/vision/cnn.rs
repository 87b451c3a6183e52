//! The small 2-conv network: conv(5×5) → max-pool → conv(5×5) → max-pool → fc → dropout → fc.

use serde::{Deserialize, Serialize};
use tch::nn;
use tch::Tensor;

use crate::{ensure, Result};

/// Shape of a [`SmallCnn`] (the tch-rs MNIST network, with its sizes made configurable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmallCnnConfig {
    /// Input channels (1 for grey, 3 for RGB).
    pub channels: i64,
    /// Input height and width (square images).
    pub size: i64,
    /// Output classes.
    pub num_classes: i64,
    /// Filters of the two convolutions.
    pub conv: (i64, i64),
    /// Width of the hidden fully connected layer.
    pub hidden: i64,
    /// Dropout before the last layer (training only).
    pub dropout: f64,
}

impl Default for SmallCnnConfig {
    fn default() -> Self {
        SmallCnnConfig { channels: 1, size: 28, num_classes: 10, conv: (32, 64), hidden: 1024, dropout: 0.5 }
    }
}

impl SmallCnnConfig {
    /// Side of the feature map after two (conv 5×5 valid, pool 2) stages.
    pub fn feature_side(&self) -> i64 {
        ((self.size - 4) / 2 - 4) / 2
    }

    /// Sets the input channels.
    pub fn channels(mut self, c: i64) -> Self {
        self.channels = c;
        self
    }

    /// Sets the input side.
    pub fn size(mut self, s: i64) -> Self {
        self.size = s;
        self
    }

    /// Sets the number of classes.
    pub fn num_classes(mut self, n: i64) -> Self {
        self.num_classes = n;
        self
    }

    /// Sets the hidden fully connected width.
    pub fn hidden(mut self, h: i64) -> Self {
        self.hidden = h;
        self
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        ensure!((1..=64).contains(&self.channels), param "channels", "must be in 1..=64, got {}", self.channels);
        ensure!(self.num_classes >= 2, "need at least 2 classes, got {}", self.num_classes);
        ensure!((16..=1024).contains(&self.size), "small_cnn input size must be in 16..=1024, got {}", self.size);
        ensure!(self.conv.0 > 0 && self.conv.1 > 0 && self.hidden > 0, "layer widths must be positive");
        ensure!((0.0..1.0).contains(&self.dropout), param "dropout", "must be in [0, 1), got {}", self.dropout);
        Ok(())
    }
}

/// A small convolutional classifier; its weights live in the [`nn::VarStore`] passed to [`SmallCnn::new`].
///
/// ```no_run
/// use mercato::vision::{SmallCnn, SmallCnnConfig};
/// use tch::nn::ModuleT;
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let net = SmallCnn::new(&vs.root(), SmallCnnConfig::default())?;
/// let logits = net.forward_t(&tch::Tensor::zeros([2, 1, 28, 28], (tch::Kind::Float, tch::Device::Cpu)), false);
/// assert_eq!(logits.size(), vec![2, 10]);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Debug)]
pub struct SmallCnn {
    config: SmallCnnConfig,
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl SmallCnn {
    /// Builds the network with freshly initialised weights under `root`.
    pub fn new(root: &nn::Path, config: SmallCnnConfig) -> Result<Self> {
        config.validate()?;
        let side = config.feature_side();
        let conv1 = nn::conv2d(root / "conv1", config.channels, config.conv.0, 5, Default::default());
        let conv2 = nn::conv2d(root / "conv2", config.conv.0, config.conv.1, 5, Default::default());
        let fc1 = nn::linear(root / "fc1", config.conv.1 * side * side, config.hidden, Default::default());
        let fc2 = nn::linear(root / "fc2", config.hidden, config.num_classes, Default::default());
        Ok(SmallCnn { config, conv1, conv2, fc1, fc2 })
    }

    /// The network's configuration.
    pub fn config(&self) -> &SmallCnnConfig {
        &self.config
    }
}

impl SmallCnn {
    /// The penultimate layer: the hidden layer's activations `[N, hidden]` (before dropout),
    /// the image embedding [`super::ImageClassifier::embed`] returns.
    pub fn embed_t(&self, xs: &Tensor) -> Tensor {
        xs.apply(&self.conv1)
            .max_pool2d_default(2)
            .relu()
            .apply(&self.conv2)
            .max_pool2d_default(2)
            .relu()
            .flatten(1, -1)
            .apply(&self.fc1)
            .relu()
    }
}

impl nn::ModuleT for SmallCnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.embed_t(xs).dropout(self.config.dropout, train).apply(&self.fc2)
    }
}
