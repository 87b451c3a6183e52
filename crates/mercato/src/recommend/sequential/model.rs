//! The fitted sequential recommender: scoring, serving and its model file (training is in
//! `train.rs`).

use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::data::{ContextColumn, Sequences};
use super::net::SeqNet;
use super::params::SequentialParams;
use super::{KIND_GRU4REC, KIND_SASREC};
use crate::data::{ExternalId, IdMap};
use crate::persist::{peek_kind, ModelReader, ModelWriter};
use crate::recommend::{check_n, to_external, top_n, Filter, IdRecommender, IdRecs, Ranked};
use crate::vision::DeviceChoice;
use crate::{ensure, Error, Result};

/// libtorch's random generator and thread count are process-wide: seeded fits take turns
/// with each other and with image-classifier fits.
use crate::vision::FIT_LOCK;

/// Users scored per forward pass when ranking many users (bounds memory to
/// `CHUNK × n_items` scores).
pub(super) const CHUNK: usize = 256;

/// One epoch of training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeqEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss per predicted position.
    pub loss: f64,
    /// NDCG@10 on the held-out last events (with early stopping).
    pub val_ndcg: Option<f64>,
    /// Wall time of the epoch, validation included.
    pub seconds: f64,
}

/// What training did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeqHistory {
    /// One entry per epoch run.
    pub epochs: Vec<SeqEpoch>,
    /// Epoch whose weights were kept (with early stopping).
    pub best_epoch: Option<usize>,
    /// True when early stopping ended training before `epochs`.
    pub stopped_early: bool,
    /// Device trained on, e.g. `"Cpu"`.
    pub device: String,
    /// Training seconds per epoch (validation excluded), mean over epochs.
    pub seconds_per_epoch: f64,
}

/// A next-item recommender that reads the order of each user's events: SASRec or GRU4Rec
/// ([`SequentialParams::arch`]) on libtorch (cargo feature `torch`).
///
/// Trained with [`SequentialParams::fit`] on [`Sequences`]; recommends for a training user
/// from their history ([`SequentialRecommender::recommend`]) or for a live session that was
/// never in the training data ([`SequentialRecommender::recommend_sequence`]). The same
/// seed, data and thread count give the same model on the CPU.
///
/// ```
/// use mercato::recommend::sequential::{SequentialParams, Sequences};
///
/// // Every user walks the same cycle a → b → c → d → a ...
/// let cycle = ["a", "b", "c", "d"];
/// let (mut users, mut items, mut times) = (vec![], vec![], vec![]);
/// for u in 0..40 {
///     for t in 0..6 {
///         users.push(format!("u{u}").into());
///         items.push(cycle[(u + t) % 4].into());
///         times.push(t as i64);
///     }
/// }
/// let data = Sequences::from_events(&users, &items, &times, &[])?;
/// let model = SequentialParams::sasrec().factors(16).epochs(40).patience(None).device("cpu".parse()?).fit(&data)?;
/// let next = model.recommend_sequence(&["b".into(), "c".into()], &[], 1, false)?;
/// assert_eq!(next.items[0].0, "d".into());
/// # Ok::<(), mercato::Error>(())
/// ```
pub struct SequentialRecommender {
    pub(super) params: SequentialParams,
    pub(super) data: Sequences,
    /// Training events per item (the fallback ranking).
    pub(super) popularity: Vec<u32>,
    pub(super) history: SeqHistory,
    pub(super) net: SeqNet,
}

// SAFETY: as for `ImageClassifier`: tch's `Tensor` is `Send` but not `Sync` because some
// `&self` methods mutate (gradients, in-place ops). A fitted model never exposes its
// tensors; after fit or load its only uses of the network are forward passes under
// `no_grad` in evaluation mode, which read the weights and allocate fresh outputs.
unsafe impl Sync for SequentialRecommender {}

impl std::fmt::Debug for SequentialRecommender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequentialRecommender")
            .field("arch", &self.params.arch)
            .field("users", &self.data.users.len())
            .field("items", &self.data.items.len())
            .field("device", &self.net.device())
            .finish_non_exhaustive()
    }
}

/// A left-aligned `[rows, max_len]` int64 batch (code + 1, 0 = padding) and its context.
pub(super) struct Batch {
    pub(super) items: Tensor,
    pub(super) context: Vec<Tensor>,
    /// Position of each row's last event.
    pub(super) last: Tensor,
}

pub(super) fn batch(rows: &[(&[u32], Vec<&[u32]>)], max_len: usize, device: Device) -> Result<Batch> {
    let b = rows.len();
    let n_ctx = rows.first().map_or(0, |r| r.1.len());
    let mut items = vec![0i64; b * max_len];
    let mut ctx = vec![vec![0i64; b * max_len]; n_ctx];
    let mut last = Vec::with_capacity(b);
    for (i, (seq, cols)) in rows.iter().enumerate() {
        let seq = &seq[seq.len().saturating_sub(max_len)..];
        for (j, &it) in seq.iter().enumerate() {
            items[i * max_len + j] = it as i64 + 1;
        }
        for (c, col) in cols.iter().enumerate() {
            let col = &col[col.len().saturating_sub(max_len)..];
            for (j, &v) in col.iter().enumerate() {
                // An unknown context value (`u32::MAX`) reads as padding: no contribution.
                ctx[c][i * max_len + j] = v.checked_add(1).map_or(0, i64::from);
            }
        }
        last.push(seq.len().saturating_sub(1) as i64);
    }
    let shape = [b as i64, max_len as i64];
    Ok(Batch {
        items: Tensor::f_from_slice(&items)?.f_view(shape)?.f_to_device(device)?,
        context: ctx
            .iter()
            .map(|c| Ok(Tensor::f_from_slice(c)?.f_view(shape)?.f_to_device(device)?))
            .collect::<Result<_>>()?,
        last: Tensor::f_from_slice(&last)?.f_to_device(device)?,
    })
}

impl SequentialRecommender {
    /// Next-item scores `[rows, n_items]` for item windows (codes) with their context.
    fn window_scores(&self, rows: &[(&[u32], Vec<&[u32]>)]) -> Result<Array2<f32>> {
        let n_items = self.data.items.len();
        let mut out = Array2::<f32>::zeros((rows.len(), n_items));
        for (k, chunk) in rows.chunks(CHUNK).enumerate() {
            let b = batch(chunk, self.params.max_len, self.net.device())?;
            let scores = tch::no_grad(|| -> Result<Tensor> {
                let h = self.net.forward(&b.items, &b.context, false);
                let d = self.params.factors as i64;
                let idx = b.last.f_view([-1, 1, 1])?.f_expand([-1, 1, d], false)?;
                let last = h.f_gather(1, &idx, false)?.f_squeeze_dim(1)?;
                Ok(last.f_matmul(&self.net.item_weights().f_transpose(0, 1)?)?.f_to_device(Device::Cpu)?)
            })?;
            let flat = Vec::<f32>::try_from(&scores.f_flatten(0, -1)?)?;
            let start = k * CHUNK;
            for (i, row) in flat.chunks(n_items).enumerate() {
                out.row_mut(start + i).assign(&ndarray::ArrayView1::from(row));
            }
        }
        Ok(out)
    }

    /// Next-item scores `[users.len(), n_items]` of training users (by index) from their
    /// histories, computed in chunks of 256 users.
    pub fn user_scores(&self, users: &[usize]) -> Result<Array2<f32>> {
        let n = self.data.users.len();
        if let Some(&u) = users.iter().find(|&&u| u >= n) {
            return Err(Error::UnknownId { kind: "user", id: format!("index {u} (model has {n} users)") });
        }
        let rows: Vec<(&[u32], Vec<&[u32]>)> = users
            .iter()
            .map(|&u| {
                let ctx = (0..self.data.context.len()).map(|c| self.data.context_sequence(c, u)).collect();
                (self.data.sequence(u), ctx)
            })
            .collect();
        self.window_scores(&rows)
    }

    fn rank(&self, scores: ndarray::ArrayView1<f32>, seen: &[usize], n: usize, filter: &Filter) -> Vec<(usize, f32)> {
        top_n(scores.as_slice().expect("contiguous row"), n, |i| filter.allows(i, seen))
    }

    fn seen(&self, u: usize) -> Vec<usize> {
        let mut s: Vec<usize> = self.data.sequence(u).iter().map(|&i| i as usize).collect();
        s.sort_unstable();
        s.dedup();
        s
    }

    /// The `n` best next items for training user `user` (by external id), given their whole
    /// history; `exclude_seen` drops items already in it.
    pub fn recommend(&self, user: &ExternalId, n: usize, exclude_seen: bool) -> Result<Ranked> {
        Ok(self.recommend_ids(user, n, &Filter::new().exclude_seen(exclude_seen))?.items)
    }

    /// The `n` best next items for a live session given as item ids (oldest first) with one
    /// context value per item and column (`context[c][i]`; empty when the model has no
    /// context). Items the model never saw are skipped (a new product cannot be embedded);
    /// when none is known the list is the popularity ranking with `fallback` set.
    pub fn recommend_sequence(
        &self,
        items: &[ExternalId],
        context: &[Vec<ExternalId>],
        n: usize,
        exclude_seen: bool,
    ) -> Result<IdRecs> {
        check_n(n)?;
        let cols = &self.data.context;
        ensure!(
            context.len() == cols.len(),
            shape format!("{} context columns ({})", cols.len(), cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")),
            context.len()
        );
        for (col, values) in cols.iter().zip(context) {
            ensure!(
                values.len() == items.len(),
                shape format!("{} values in context column {:?} (one per item)", items.len(), col.name),
                values.len()
            );
        }
        // (position in the session, item code) of the items the model knows.
        let known: Vec<(usize, u32)> =
            items.iter().enumerate().filter_map(|(k, id)| Some((k, self.data.items.index(id)? as u32))).collect();
        let seq: Vec<u32> = known.iter().map(|&(_, code)| code).collect();
        let ctx: Vec<Vec<u32>> = cols
            .iter()
            .zip(context)
            .map(|(col, values)| {
                known.iter().map(|&(k, _)| col.values.index(&values[k]).map_or(u32::MAX, |v| v as u32)).collect()
            })
            .collect();
        let mut seen: Vec<usize> = seq.iter().map(|&i| i as usize).collect();
        seen.sort_unstable();
        seen.dedup();
        let filter = Filter::new().exclude_seen(exclude_seen);
        if seq.is_empty() {
            let pop: Vec<f32> = self.popularity.iter().map(|&c| c as f32).collect();
            let ranked = top_n(&pop, n, |i| filter.allows(i, &seen));
            return Ok(IdRecs { items: to_external(&self.data.items, ranked), fallback: true });
        }
        let ctx_refs: Vec<&[u32]> = ctx.iter().map(Vec::as_slice).collect();
        let scores = self.window_scores(&[(&seq, ctx_refs)])?;
        let ranked = self.rank(scores.row(0), &seen, n, &filter);
        Ok(IdRecs { items: to_external(&self.data.items, ranked), fallback: false })
    }

    /// The parameters the model was trained with.
    pub fn params(&self) -> &SequentialParams {
        &self.params
    }

    /// The training history (losses, validation NDCG@10, best epoch).
    pub fn history(&self) -> &SeqHistory {
        &self.history
    }

    /// The training sequences (every event, in time order).
    pub fn sequences(&self) -> &Sequences {
        &self.data
    }

    /// The context columns the model reads.
    pub fn context(&self) -> &[ContextColumn] {
        &self.data.context
    }

    /// The device the network is on.
    pub fn device(&self) -> Device {
        self.net.device()
    }

    // ---- persistence -------------------------------------------------------------------

    fn writer(&self) -> Result<ModelWriter> {
        let meta = Meta {
            params: self.params.clone(),
            users: self.data.users.clone(),
            items: self.data.items.clone(),
            context: self.data.context.clone(),
            history: self.history.clone(),
        };
        let indptr: Vec<u64> = self.data.indptr.iter().map(|&v| v as u64).collect();
        let mut w = ModelWriter::new(self.params.arch.kind(), &meta)?
            .u64("indptr", &[indptr.len()], &indptr)
            .u32("events", &[self.data.events.len()], &self.data.events)
            .u32("popularity", &[self.popularity.len()], &self.popularity);
        for (c, codes) in self.data.context_codes.iter().enumerate() {
            w = w.u32(&format!("context{c}"), &[codes.len()], codes);
        }
        self.net.write_weights(w)
    }

    /// The model file as bytes (also what Python pickles).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.writer()?.to_bytes()
    }

    /// Saves the model file (atomically).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.writer()?.save(path)
    }

    /// Reads a model (either architecture) from its bytes onto `device`.
    pub fn from_bytes_on(bytes: Vec<u8>, device: DeviceChoice) -> Result<Self> {
        let kind = peek_kind(&bytes)?;
        if kind != KIND_SASREC && kind != KIND_GRU4REC {
            return Err(Error::format(format!(
                "file holds a {kind:?} model, expected a sequential recommender ({KIND_SASREC:?} or {KIND_GRU4REC:?})"
            )));
        }
        Self::read(&ModelReader::from_bytes(bytes, &kind)?, device.resolve()?)
    }

    /// Reads a model from its bytes onto [`DeviceChoice::Auto`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_bytes_on(bytes, DeviceChoice::Auto)
    }

    /// Loads a model file onto [`DeviceChoice::Auto`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(bytes).map_err(|e| match e {
            Error::ModelFormat(m) => Error::format(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn read(r: &ModelReader, device: Device) -> Result<Self> {
        let meta: Meta = r.meta()?;
        let bad = |m: String| Error::format(m);
        crate::params::Params::check(&meta.params).map_err(|e| bad(format!("parameters: {e}")))?;
        if meta.params.arch.kind() != r.kind() {
            return Err(bad(format!("file kind {:?} does not match its architecture", r.kind())));
        }
        let (nu, ni) = (meta.users.len(), meta.items.len());
        let indptr: Vec<usize> = r.u64("indptr")?.1.into_iter().map(|v| v as usize).collect();
        let events = r.u32("events")?.1;
        let popularity = r.u32("popularity")?.1;
        let sorted = indptr.windows(2).all(|w| w[0] <= w[1]);
        if indptr.len() != nu + 1 || indptr.first() != Some(&0) || indptr.last() != Some(&events.len()) || !sorted {
            return Err(bad("event offsets do not match the users".into()));
        }
        if events.iter().any(|&i| i as usize >= ni) || popularity.len() != ni {
            return Err(bad("events name items the model does not have".into()));
        }
        let mut context_codes = Vec::with_capacity(meta.context.len());
        for (c, col) in meta.context.iter().enumerate() {
            let codes = r.u32(&format!("context{c}"))?.1;
            if codes.len() != events.len() || codes.iter().any(|&v| v as usize >= col.values.len()) {
                return Err(bad(format!("context column {:?} does not match the events", col.name)));
            }
            context_codes.push(codes);
        }
        let sizes: Vec<usize> = meta.context.iter().map(|c| c.values.len()).collect();
        // Building a network draws initial weights from libtorch's process-wide generator:
        // hold the fit lock so a load never shifts the random stream of a seeded fit.
        let net = {
            let _rng = FIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut net = SeqNet::new(&meta.params, ni, &sizes, device);
            net.read_weights(r)?;
            net
        };
        Ok(SequentialRecommender {
            params: meta.params,
            data: Sequences {
                users: meta.users,
                items: meta.items,
                indptr,
                events,
                context: meta.context,
                context_codes,
            },
            popularity,
            history: meta.history,
            net,
        })
    }
}

/// Rank (0 = first) of item `target` among all items by `scores`, the items of `history`
/// masked except the target itself: the full-ranking protocol of next-item evaluation.
pub fn next_item_rank(scores: &[f32], history: &[u32], target: usize) -> usize {
    let mut seen = history.to_vec();
    seen.sort_unstable();
    let t = scores[target];
    scores
        .iter()
        .enumerate()
        .filter(|&(i, &s)| s > t && i != target && seen.binary_search(&(i as u32)).is_err())
        .count()
}

#[derive(Serialize, Deserialize)]
struct Meta {
    params: SequentialParams,
    users: IdMap,
    items: IdMap,
    context: Vec<ContextColumn>,
    history: SeqHistory,
}

impl IdRecommender for SequentialRecommender {
    fn user_ids(&self) -> &IdMap {
        &self.data.users
    }

    fn item_ids(&self) -> &IdMap {
        &self.data.items
    }

    fn recommend_ids(&self, user: &ExternalId, n: usize, filter: &Filter) -> Result<IdRecs> {
        check_n(n)?;
        filter.validate(self.data.items.len())?;
        let u = self.data.users.index_or_err(user, "user")?;
        let scores = self.user_scores(&[u])?;
        let ranked = self.rank(scores.row(0), &self.seen(u), n, filter);
        Ok(IdRecs { items: to_external(&self.data.items, ranked), fallback: false })
    }

    fn recommend_ids_batch(&self, users: &[ExternalId], n: usize, filter: &Filter) -> Result<Vec<IdRecs>> {
        check_n(n)?;
        filter.validate(self.data.items.len())?;
        let idx: Vec<usize> = users.iter().map(|u| self.data.users.index_or_err(u, "user")).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(idx.len());
        for chunk in idx.chunks(CHUNK) {
            let scores = self.user_scores(chunk)?;
            for (row, &u) in scores.outer_iter().zip(chunk) {
                let ranked = self.rank(row, &self.seen(u), n, filter);
                out.push(IdRecs { items: to_external(&self.data.items, ranked), fallback: false });
            }
        }
        Ok(out)
    }

    /// Cosine similarity of the item embeddings (the output layer).
    fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Ranked> {
        check_n(n)?;
        let i = self.data.items.index_or_err(item, "item")?;
        let sims = tch::no_grad(|| -> Result<Vec<f32>> {
            let w = self.net.item_weights().f_to_device(Device::Cpu)?;
            let norms = w.f_norm_scalaropt_dim(2, [1i64].as_slice(), false)?.f_clamp_min(1e-12)?;
            let unit = w.f_div(&norms.f_unsqueeze(1)?)?;
            let s = unit.f_matmul(&unit.f_get(i as i64)?.f_unsqueeze(1)?)?.f_squeeze_dim(1)?;
            Ok(Vec::<f32>::try_from(&s)?)
        })?;
        Ok(to_external(&self.data.items, top_n(&sims, n, |_| true)))
    }
}
