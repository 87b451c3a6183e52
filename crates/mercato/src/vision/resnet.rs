//! A small ResNet (He et al. 2016, the CIFAR variant): 3×3 stem, stages of basic residual
//! blocks with batch norm, global average pooling, one linear layer.

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::{ensure, Result};

/// Shape of a [`ResNet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResNetConfig {
    /// Input channels (1 for grey, 3 for RGB).
    pub channels: i64,
    /// Input height and width (square images).
    pub size: i64,
    /// Output classes.
    pub num_classes: i64,
    /// Filters per stage; every stage after the first halves the resolution.
    pub widths: Vec<i64>,
    /// Basic blocks per stage (ResNet-20 on CIFAR is 3 stages × 3 blocks).
    pub blocks_per_stage: usize,
}

impl Default for ResNetConfig {
    /// A ResNet-8 (3 stages of one block, 16-32-64 filters) for 28×28 grey images: ~78k weights.
    fn default() -> Self {
        ResNetConfig { channels: 1, size: 28, num_classes: 10, widths: vec![16, 32, 64], blocks_per_stage: 1 }
    }
}

impl ResNetConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        ensure!((1..=64).contains(&self.channels), param "channels", "must be in 1..=64, got {}", self.channels);
        ensure!(self.num_classes >= 2, "need at least 2 classes, got {}", self.num_classes);
        ensure!(
            !self.widths.is_empty() && self.widths.len() <= 6,
            "resnet needs 1 to 6 stages, got {}",
            self.widths.len()
        );
        ensure!(self.widths.iter().all(|&w| (1..=2048).contains(&w)), "stage widths must be in 1..=2048");
        ensure!((1..=16).contains(&self.blocks_per_stage), param "blocks_per_stage", "must be in 1..=16");
        let min = 1i64 << (self.widths.len() - 1);
        ensure!(
            (min.max(8)..=1024).contains(&self.size),
            "resnet input size must be in {}..=1024 for {} stages, got {}",
            min.max(8),
            self.widths.len(),
            self.size
        );
        Ok(())
    }
}

fn conv3(p: nn::Path, cin: i64, cout: i64, stride: i64) -> nn::Conv2D {
    nn::conv2d(p, cin, cout, 3, nn::ConvConfig { stride, padding: 1, bias: false, ..Default::default() })
}

#[derive(Debug)]
struct BasicBlock {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    shortcut: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl BasicBlock {
    fn new(p: &nn::Path, cin: i64, cout: i64, stride: i64) -> Self {
        let shortcut = (stride != 1 || cin != cout).then(|| {
            let cfg = nn::ConvConfig { stride, bias: false, ..Default::default() };
            (nn::conv2d(p / "down", cin, cout, 1, cfg), nn::batch_norm2d(p / "down_bn", cout, Default::default()))
        });
        BasicBlock {
            conv1: conv3(p / "conv1", cin, cout, stride),
            bn1: nn::batch_norm2d(p / "bn1", cout, Default::default()),
            conv2: conv3(p / "conv2", cout, cout, 1),
            bn2: nn::batch_norm2d(p / "bn2", cout, Default::default()),
            shortcut,
        }
    }
}

impl ModuleT for BasicBlock {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let ys = xs.apply(&self.conv1).apply_t(&self.bn1, train).relu().apply(&self.conv2).apply_t(&self.bn2, train);
        let skip = match &self.shortcut {
            Some((conv, bn)) => xs.apply(conv).apply_t(bn, train),
            None => xs.shallow_clone(),
        };
        (ys + skip).relu()
    }
}

/// A small residual network with batch norm, for higher accuracy than [`super::SmallCnn`].
#[derive(Debug)]
pub struct ResNet {
    config: ResNetConfig,
    stem: nn::Conv2D,
    stem_bn: nn::BatchNorm,
    blocks: Vec<BasicBlock>,
    fc: nn::Linear,
}

impl ResNet {
    /// Builds the network with freshly initialised weights under `root`.
    pub fn new(root: &nn::Path, config: ResNetConfig) -> Result<Self> {
        config.validate()?;
        let w0 = config.widths[0];
        let stem = conv3(root / "stem", config.channels, w0, 1);
        let stem_bn = nn::batch_norm2d(root / "stem_bn", w0, Default::default());
        let mut blocks = Vec::new();
        let mut cin = w0;
        for (s, &w) in config.widths.iter().enumerate() {
            for b in 0..config.blocks_per_stage {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(&(root / format!("stage{s}") / format!("block{b}")), cin, w, stride));
                cin = w;
            }
        }
        let fc = nn::linear(root / "fc", cin, config.num_classes, Default::default());
        Ok(ResNet { config, stem, stem_bn, blocks, fc })
    }

    /// The network's configuration.
    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }
}

impl ResNet {
    /// The penultimate layer: the pooled features of the last stage `[N, widths.last()]`,
    /// the image embedding [`super::ImageClassifier::embed`] returns.
    pub fn embed_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut h = xs.apply(&self.stem).apply_t(&self.stem_bn, train).relu();
        for b in &self.blocks {
            h = h.apply_t(b, train);
        }
        h.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

impl ModuleT for ResNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.embed_t(xs, train).apply(&self.fc)
    }
}
