//! The small 2-conv network: conv(5×5) → max-pool → conv(5×5) → max-pool → fc → dropout → fc.

use serde::{Deserialize, Serialize};
use tch::nn;
use tch::{Device, Kind, Tensor};

use crate::persist::{ModelReader, ModelWriter};
use crate::{ensure, Error, Result};

/// Shape of a [`SmallCnn`].
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
    fn feature_side(&self) -> i64 {
        ((self.size - 4) / 2 - 4) / 2
    }

    fn validate(&self) -> Result<()> {
        ensure!(self.channels > 0 && self.num_classes > 1, "need channels > 0 and at least 2 classes");
        ensure!(self.size >= 16, "input size must be at least 16 pixels, got {}", self.size);
        ensure!((0.0..1.0).contains(&self.dropout), "dropout must be in [0, 1), got {}", self.dropout);
        Ok(())
    }
}

/// A small convolutional classifier. Owns its [`nn::VarStore`].
///
/// ```no_run
/// use mercato::vision::{SmallCnn, SmallCnnConfig};
/// let net = SmallCnn::new(SmallCnnConfig::default(), tch::Device::Cpu)?;
/// let logits = net.forward(&tch::Tensor::zeros([2, 1, 28, 28], (tch::Kind::Float, tch::Device::Cpu)), false);
/// assert_eq!(logits.size(), vec![2, 10]);
/// # Ok::<(), mercato::Error>(())
/// ```
pub struct SmallCnn {
    config: SmallCnnConfig,
    vs: nn::VarStore,
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl SmallCnn {
    /// Builds the network with freshly initialised weights on `device`.
    pub fn new(config: SmallCnnConfig, device: Device) -> Result<Self> {
        config.validate()?;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let side = config.feature_side();
        let conv1 = nn::conv2d(&root / "conv1", config.channels, config.conv.0, 5, Default::default());
        let conv2 = nn::conv2d(&root / "conv2", config.conv.0, config.conv.1, 5, Default::default());
        let fc1 = nn::linear(&root / "fc1", config.conv.1 * side * side, config.hidden, Default::default());
        let fc2 = nn::linear(&root / "fc2", config.hidden, config.num_classes, Default::default());
        Ok(SmallCnn { config, vs, conv1, conv2, fc1, fc2 })
    }

    /// The network's configuration.
    pub fn config(&self) -> &SmallCnnConfig {
        &self.config
    }

    /// Trainable variables.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// Logits for a `[N, C, H, W]` float batch.
    pub fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv1)
            .max_pool2d_default(2)
            .relu()
            .apply(&self.conv2)
            .max_pool2d_default(2)
            .relu()
            .flatten(1, -1)
            .apply(&self.fc1)
            .relu()
            .dropout(self.config.dropout, train)
            .apply(&self.fc2)
    }

    /// Writes config and weights (as f32 arrays) into a model file writer.
    pub fn write(&self, kind: &str) -> Result<ModelWriter> {
        let mut w = ModelWriter::new(kind, &self.config)?;
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in vars {
            let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
            let flat = t.to_device(Device::Cpu).to_kind(Kind::Float).flatten(0, -1);
            let data = Vec::<f32>::try_from(&flat)?;
            w = w.f32(&name, &shape, &data);
        }
        Ok(w)
    }

    /// Rebuilds a network from a model file, checking every weight's shape.
    pub fn read(reader: &ModelReader, device: Device) -> Result<Self> {
        let config: SmallCnnConfig = reader.meta()?;
        let net = SmallCnn::new(config, device)?;
        tch::no_grad(|| -> Result<()> {
            for (name, mut var) in net.vs.variables() {
                let (shape, data) = reader.f32(&name)?;
                let expected: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
                if shape != expected {
                    return Err(Error::format(format!(
                        "weight {name:?} has shape {shape:?}, the network needs {expected:?}"
                    )));
                }
                let dims: Vec<i64> = expected.iter().map(|&d| d as i64).collect();
                var.copy_(&Tensor::from_slice(&data).reshape(dims.as_slice()).to_device(device));
            }
            Ok(())
        })?;
        Ok(net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::OptimizerConfig;

    /// The tch smoke test: forward, backward, one optimiser step, save, reload, same outputs.
    #[test]
    fn forward_backward_save_reload() {
        tch::manual_seed(0);
        let net = SmallCnn::new(SmallCnnConfig::default(), Device::Cpu).unwrap();
        let xs = Tensor::randn([8, 1, 28, 28], (Kind::Float, Device::Cpu));
        let ys = Tensor::from_slice(&[0i64, 1, 2, 3, 4, 5, 6, 7]);
        let mut opt = nn::Adam::default().build(net.var_store(), 1e-3).unwrap();
        let loss_before = net.forward(&xs, true).cross_entropy_for_logits(&ys);
        opt.backward_step(&loss_before);
        let grad_norm: f64 =
            net.var_store().trainable_variables().iter().map(|v| v.grad().norm().double_value(&[])).sum();
        assert!(grad_norm > 0.0, "backward pass produced gradients");

        let out = net.forward(&xs, false);
        assert_eq!(out.size(), vec![8, 10]);
        let bytes = net.write("vision.small_cnn").unwrap().to_bytes().unwrap();
        let reader = ModelReader::from_bytes(bytes, "vision.small_cnn").unwrap();
        let again = SmallCnn::read(&reader, Device::Cpu).unwrap();
        let diff = (out - again.forward(&xs, false)).abs().max().double_value(&[]);
        assert!(diff == 0.0, "reloaded network differs by {diff}");
    }
}
