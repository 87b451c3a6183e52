//! The two networks: SASRec (causal self-attention) and GRU4Rec, on libtorch.
//!
//! Both read left-aligned item windows `[B, L]` (codes + 1, 0 = padding after the last
//! event) with optional context windows, and return one hidden vector per position
//! `[B, L, d]`; scores are dot products with the shared item embeddings.

use tch::nn::{self, Module, RNN};
use tch::{Device, Kind, Tensor};

use super::params::{SeqArch, SequentialParams};
use crate::persist::{ModelReader, ModelWriter};
use crate::vision::weights;
use crate::{Error, Result};

/// Initial weights as RecBole's: N(0, 0.02) for embeddings and linear layers.
const INIT: nn::Init = nn::Init::Randn { mean: 0.0, stdev: 0.02 };

fn embedding(p: nn::Path, n: i64, d: i64) -> nn::Embedding {
    nn::embedding(p, n, d, nn::EmbeddingConfig { ws_init: INIT, padding_idx: 0, ..Default::default() })
}

fn linear(p: nn::Path, i: i64, o: i64) -> nn::Linear {
    nn::linear(p, i, o, nn::LinearConfig { ws_init: INIT, bs_init: Some(nn::Init::Const(0.0)), bias: true })
}

fn layer_norm(p: nn::Path, d: i64) -> nn::LayerNorm {
    nn::layer_norm(p, vec![d], nn::LayerNormConfig { eps: 1e-12, ..Default::default() })
}

/// One post-norm transformer block (as BERT and RecBole's SASRec).
struct Block {
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    out: nn::Linear,
    ln_attn: nn::LayerNorm,
    ff1: nn::Linear,
    ff2: nn::Linear,
    ln_ff: nn::LayerNorm,
    heads: i64,
}

impl Block {
    fn new(p: nn::Path, d: i64, heads: i64) -> Self {
        Block {
            q: linear(&p / "q", d, d),
            k: linear(&p / "k", d, d),
            v: linear(&p / "v", d, d),
            out: linear(&p / "out", d, d),
            ln_attn: layer_norm(&p / "ln_attn", d),
            ff1: linear(&p / "ff1", d, 4 * d),
            ff2: linear(&p / "ff2", 4 * d, d),
            ln_ff: layer_norm(&p / "ln_ff", d),
            heads,
        }
    }

    /// `x`: `[B, L, d]`; `blocked`: additive mask `[B, 1, L, L]` (0 or -1e4).
    fn forward(&self, x: &Tensor, blocked: &Tensor, dropout: f64, train: bool) -> Tensor {
        let (b, l, d) = x.size3().expect("[B, L, d]");
        let h = self.heads;
        let split = |t: Tensor| t.view([b, l, h, d / h]).transpose(1, 2); // [B, h, L, d/h]
        let (q, k, v) = (split(self.q.forward(x)), split(self.k.forward(x)), split(self.v.forward(x)));
        let scores = q.matmul(&k.transpose(-1, -2)) / ((d / h) as f64).sqrt() + blocked;
        let attn = scores.softmax(-1, Kind::Float).dropout(dropout, train);
        let ctx = attn.matmul(&v).transpose(1, 2).contiguous().view([b, l, d]);
        let x = self.ln_attn.forward(&(self.out.forward(&ctx).dropout(dropout, train) + x));
        let ff = self.ff2.forward(&self.ff1.forward(&x).gelu("none")).dropout(dropout, train);
        self.ln_ff.forward(&(ff + x))
    }
}

enum Body {
    Sasrec { positions: nn::Embedding, ln_in: nn::LayerNorm, blocks: Vec<Block> },
    Gru4rec { gru: nn::GRU, dense: nn::Linear },
}

/// A sequential network with its weights, on one device.
pub(crate) struct SeqNet {
    vs: nn::VarStore,
    items: nn::Embedding,
    context: Vec<nn::Embedding>,
    body: Body,
    dropout: f64,
}

impl SeqNet {
    /// A fresh network for `n_items` items and context columns of `context_sizes` values.
    pub(crate) fn new(p: &SequentialParams, n_items: usize, context_sizes: &[usize], device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let d = p.factors as i64;
        let items = embedding(&root / "items", n_items as i64 + 1, d);
        let context = context_sizes
            .iter()
            .enumerate()
            .map(|(c, &n)| embedding(&root / format!("context{c}"), n as i64 + 1, d))
            .collect();
        let body = match p.arch {
            SeqArch::Sasrec => Body::Sasrec {
                positions: nn::embedding(
                    &root / "positions",
                    p.max_len as i64,
                    d,
                    nn::EmbeddingConfig { ws_init: INIT, ..Default::default() },
                ),
                ln_in: layer_norm(&root / "ln_in", d),
                blocks: (0..p.layers).map(|i| Block::new(&root / format!("block{i}"), d, p.heads as i64)).collect(),
            },
            SeqArch::Gru4rec => Body::Gru4rec {
                gru: nn::gru(
                    &root / "gru",
                    d,
                    d,
                    nn::RNNConfig { num_layers: p.layers as i64, batch_first: true, ..Default::default() },
                ),
                dense: linear(&root / "dense", d, d),
            },
        };
        SeqNet { vs, items, context, body, dropout: p.dropout }
    }

    pub(crate) fn device(&self) -> Device {
        self.vs.device()
    }

    pub(crate) fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// Hidden states `[B, L, d]` of item windows `[B, L]` (int64, 0 = padding) and their
    /// context windows (same shape, one per column).
    pub(crate) fn forward(&self, items: &Tensor, context: &[Tensor], train: bool) -> Tensor {
        let mut x = self.items.forward(items);
        for (emb, codes) in self.context.iter().zip(context) {
            x += emb.forward(codes);
        }
        match &self.body {
            Body::Sasrec { positions, ln_in, blocks } => {
                let (b, l) = items.size2().expect("[B, L]");
                let pos = Tensor::arange(l, (Kind::Int64, items.device()));
                x = ln_in.forward(&(x + positions.forward(&pos).unsqueeze(0))).dropout(self.dropout, train);
                // Position i attends to positions <= i that hold an event (a padded query
                // row attends to nothing and gets a uniform, unused average).
                let causal = Tensor::ones([l, l], (Kind::Bool, items.device())).tril(0);
                let keys = items.ne(0).view([b, 1, 1, l]);
                let allowed = causal.view([1, 1, l, l]).logical_and(&keys);
                let blocked = Tensor::zeros([b, 1, l, l], (Kind::Float, items.device()))
                    .masked_fill(&allowed.logical_not(), -1e4);
                for block in blocks {
                    x = block.forward(&x, &blocked, self.dropout, train);
                }
                x
            }
            Body::Gru4rec { gru, dense } => {
                let (out, _) = gru.seq(&x.dropout(self.dropout, train));
                dense.forward(&out)
            }
        }
    }

    /// A zero GRU state `[layers, lanes, d]` (GRU4Rec only).
    pub(crate) fn zero_state(&self, lanes: i64) -> Result<Tensor> {
        match &self.body {
            Body::Gru4rec { gru, .. } => Ok(gru.zero_state(lanes).0),
            Body::Sasrec { .. } => Err(Error::invalid("a recurrent state needs GRU4Rec")),
        }
    }

    /// One GRU4Rec step for each lane: the input events `[lanes]` (int64, 0 = padding) and
    /// their context codes, the state before; the hidden outputs `[lanes, d]` and the state
    /// after.
    pub(crate) fn gru_step(
        &self,
        items: &Tensor,
        context: &[Tensor],
        state: &Tensor,
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let Body::Gru4rec { gru, dense } = &self.body else {
            return Err(Error::invalid("session-parallel steps need GRU4Rec"));
        };
        let mut x = self.items.forward(items);
        for (emb, codes) in self.context.iter().zip(context) {
            x += emb.forward(codes);
        }
        let x = x.dropout(self.dropout, train).f_unsqueeze(1)?;
        let (out, next) = gru.seq_init(&x, &nn::GRUState(state.shallow_clone()));
        Ok((dense.forward(&out.f_squeeze_dim(1)?), next.0))
    }

    /// The item embeddings `[n_items, d]` (padding row dropped): the output layer.
    pub(crate) fn item_weights(&self) -> Tensor {
        self.items.ws.narrow(0, 1, self.items.ws.size()[0] - 1)
    }

    /// Weights by name, sorted, as CPU f32 tensors.
    pub(crate) fn snapshot(&self) -> Vec<(String, Tensor)> {
        weights::snapshot(&self.vs)
    }

    /// Overwrites the weights, checking names and shapes.
    pub(crate) fn restore(&mut self, w: &[(String, Tensor)]) -> Result<()> {
        weights::restore(&mut self.vs, w)
    }

    /// Adds every weight to `w` as `weights/<variable>` arrays.
    pub(crate) fn write_weights(&self, w: ModelWriter) -> Result<ModelWriter> {
        weights::write(&self.vs, w)
    }

    /// Loads every `weights/…` array of `r`, checking names and shapes.
    pub(crate) fn read_weights(&mut self, r: &ModelReader) -> Result<()> {
        weights::read(&mut self.vs, r)
    }
}
