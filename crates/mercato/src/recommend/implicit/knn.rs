//! Item-item nearest neighbours with cosine, BM25 or TF-IDF weighting.

use crate::params::Params;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{check_item, check_user, pool, top_n, Recommender, Rows};
use crate::data::Interactions;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{ensure, Error, Result};

/// How item vectors (their columns of the users × items matrix) are weighted before their
/// dot products are taken, as implicit's `CosineRecommender`, `BM25Recommender`,
/// `TFIDFRecommender` and plain `ItemItemRecommender`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum KnnWeighting {
    /// Unit-length item vectors: similarity is the cosine.
    Cosine,
    /// BM25 with items as documents and users as terms (implicit's defaults K1 = 1.2, B = 0.75).
    Bm25 {
        /// Term-frequency saturation.
        k1: f32,
        /// Length normalisation.
        b: f32,
    },
    /// TF-IDF (`sqrt(r) · idf`) then unit length.
    TfIdf,
    /// The raw weights (plain co-occurrence counts for binary data).
    None,
}

/// Hyper-parameters of [`ItemKnn`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ItemKnnParams {
    /// Neighbours kept per item (the item itself included, as implicit).
    pub k: usize,
    /// Item vector weighting.
    pub weighting: KnnWeighting,
    /// Worker threads (all cores when `None`); results do not depend on it.
    #[serde(default)]
    pub num_threads: Option<usize>,
}

impl Default for ItemKnnParams {
    fn default() -> Self {
        ItemKnnParams { k: 20, weighting: KnnWeighting::Cosine, num_threads: None }
    }
}

impl ItemKnnParams {
    crate::params::setters!(k: usize);
    crate::params::setters!(weighting: KnnWeighting);
    crate::params::setters!(num_threads: Option<usize>);
}

impl crate::params::Params for ItemKnnParams {
    fn check(&self) -> Result<()> {
        ensure!(self.k > 0, param "K", "must be positive");
        if let KnnWeighting::Bm25 { k1, b } = self.weighting {
            ensure!(k1.is_finite() && k1 >= 0.0, param "K1", "must be >= 0, got {k1}");
            ensure!((0.0..=1.0).contains(&b), param "B", "must be in [0, 1], got {b}");
        }
        Ok(())
    }
}

impl ItemKnnParams {
    /// Trains on `data` (users × items, non-negative weights).
    /// The model keeps `data`'s user and item ids ([`ItemKnn::ids`]).
    pub fn fit(&self, data: &Interactions) -> Result<ItemKnn> {
        let mut model = self.fit_rows(&Rows::from_csmat(data.matrix())?)?;
        model.ids = Some(super::ModelIds::of(data));
        Ok(model)
    }

    /// Trains on interaction rows (users × items).
    pub fn fit_rows(&self, rows: &Rows) -> Result<ItemKnn> {
        self.check()?;
        super::check_training(rows)?;
        let (n_users, n_items) = (rows.n_rows(), rows.n_cols());
        let by_item = weigh_items(&rows.transpose(), self.weighting, n_users);
        let by_user = by_item.transpose();
        let pool = pool(self.num_threads)?;
        let k = self.k;
        let lists: Vec<(Vec<u32>, Vec<f32>)> = pool.install(|| {
            (0..n_items)
                .into_par_iter()
                .map_init(
                    || (vec![0f32; n_items], Vec::<usize>::new()),
                    |(acc, touched), i| {
                        let (users, wi) = by_item.row(i);
                        for (&u, &a) in users.iter().zip(wi) {
                            let (items, wu) = by_user.row(u as usize);
                            for (&j, &b) in items.iter().zip(wu) {
                                let j = j as usize;
                                if acc[j] == 0.0 {
                                    touched.push(j);
                                }
                                acc[j] += a * b;
                            }
                        }
                        // A sum can cancel back to 0.0 and be pushed twice; dedup keeps it once.
                        touched.sort_unstable();
                        touched.dedup();
                        let cand: Vec<f32> = touched.iter().map(|&j| acc[j]).collect();
                        let best = top_n(&cand, k, |c| cand[c] != 0.0);
                        let mut keep: Vec<(u32, f32)> = best.iter().map(|&(c, s)| (touched[c] as u32, s)).collect();
                        keep.sort_unstable_by_key(|e| e.0);
                        for &j in touched.iter() {
                            acc[j] = 0.0;
                        }
                        touched.clear();
                        keep.into_iter().unzip()
                    },
                )
                .collect()
        });
        let mut triplets = Vec::new();
        for (i, (js, ss)) in lists.into_iter().enumerate() {
            triplets.extend(js.into_iter().zip(ss).map(|(j, s)| (i, j as usize, s.max(0.0))));
        }
        let similarity = similarity_rows(n_items, &triplets);
        let popularity = rows.column_counts();
        Ok(ItemKnn { params: self.clone(), ids: None, n_users, n_items, similarity, rows: rows.clone(), popularity })
    }
}

/// Builds the neighbour matrix; similarities are clamped at 0 (weights are non-negative).
fn similarity_rows(n_items: usize, triplets: &[(usize, usize, f32)]) -> Rows {
    Rows::from_triplets(n_items, n_items, triplets).unwrap_or_else(|_| Rows::empty(n_items, n_items))
}

/// Weights the items × users matrix (items are documents) as `w` asks.
fn weigh_items(items: &Rows, w: KnnWeighting, n_users: usize) -> Rows {
    let n_docs = items.n_rows() as f64;
    let df: Vec<f64> = items.column_counts().into_iter().map(|c| c as f64).collect();
    let idf: Vec<f64> = df.iter().map(|d| n_docs.ln() - d.ln_1p()).collect();
    let mut triplets = Vec::with_capacity(items.nnz());
    let sums: Vec<f64> = (0..items.n_rows()).map(|i| items.row(i).1.iter().map(|&v| v as f64).sum()).collect();
    let mean = if sums.is_empty() { 0.0 } else { sums.iter().sum::<f64>() / n_docs };
    for (i, &row_sum) in sums.iter().enumerate() {
        let (us, vs) = items.row(i);
        let mut vals: Vec<f64> = match w {
            KnnWeighting::Cosine | KnnWeighting::None => vs.iter().map(|&v| v as f64).collect(),
            KnnWeighting::TfIdf => us.iter().zip(vs).map(|(&u, &v)| (v as f64).sqrt() * idf[u as usize]).collect(),
            KnnWeighting::Bm25 { k1, b } => {
                let (k1, b) = (k1 as f64, b as f64);
                let norm = if mean > 0.0 { (1.0 - b) + b * row_sum / mean } else { 1.0 };
                us.iter()
                    .zip(vs)
                    .map(|(&u, &v)| {
                        let v = v as f64;
                        let den = k1 * norm + v;
                        if den > 0.0 {
                            v * (k1 + 1.0) / den * idf[u as usize]
                        } else {
                            0.0
                        }
                    })
                    .collect()
            }
        };
        if matches!(w, KnnWeighting::Cosine | KnnWeighting::TfIdf) {
            let norm = vals.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                vals.iter_mut().for_each(|v| *v /= norm);
            }
        }
        triplets.extend(us.iter().zip(vals).map(|(&u, v)| (i, u as usize, v.max(0.0) as f32)));
    }
    Rows::from_triplets(items.n_rows(), n_users, &triplets).unwrap_or_else(|_| Rows::empty(items.n_rows(), n_users))
}

/// Item-item k-nearest-neighbours recommender.
///
/// `fit` computes, for every item, the dot products of its weighted vector with every
/// co-occurring item (sparse accumulation, parallel over items) and keeps the top `k`.
/// A user's score for item `j` is `Σ_i r_ui · sim(i, j)` over the user's row, so any row
/// can be scored without retraining: [`Recommender::recommend_row`] is kNN's fold-in.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// use mercato::recommend::{Filter, ItemKnn, KnnWeighting, Recommender};
/// let x = Interactions::from_triples(
///     [(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 1.0), (2, 0, 1.0), (3, 2, 1.0)],
///     DuplicatePolicy::Sum,
/// ).unwrap();
/// let knn = ItemKnn::params().k(10).weighting(KnnWeighting::Cosine).fit(&x).unwrap();
/// assert_eq!(knn.recommend(2, 1, &Filter::new().exclude_seen(true)).unwrap().items[0].0, 1);
/// // an unseen user known by one interaction
/// let recs = knn.recommend_row(&[1], &[1.0], 1, &Filter::new().exclude_seen(true)).unwrap();
/// assert_eq!(recs.items[0].0, 0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ItemKnn {
    params: ItemKnnParams,
    ids: Option<super::ModelIds>,
    n_users: usize,
    n_items: usize,
    similarity: Rows,
    rows: Rows,
    popularity: Vec<f32>,
}

impl ItemKnn {
    super::ids_methods!();

    /// Default hyper-parameters.
    pub fn params() -> ItemKnnParams {
        ItemKnnParams::default()
    }

    /// The hyper-parameters the model was trained with.
    pub fn hyper_params(&self) -> &ItemKnnParams {
        &self.params
    }

    /// The sparse item × item similarity (row `i`: `i`'s neighbours, sorted by index).
    pub fn similarity(&self) -> &Rows {
        &self.similarity
    }

    fn accumulate(&self, items: &[u32], values: &[f32], out: &mut [f32]) {
        out.iter_mut().for_each(|s| *s = 0.0);
        for (&i, &r) in items.iter().zip(values) {
            let (js, ss) = self.similarity.row(i as usize);
            for (&j, &s) in js.iter().zip(ss) {
                if let Some(o) = out.get_mut(j as usize) {
                    *o += r * s;
                }
            }
        }
    }
}

impl Recommender for ItemKnn {
    fn n_users(&self) -> usize {
        self.n_users
    }

    fn n_items(&self) -> usize {
        self.n_items
    }

    fn rows(&self) -> &Rows {
        &self.rows
    }

    fn popularity(&self) -> &[f32] {
        &self.popularity
    }

    fn score_chunk(&self, _users: &[usize], rows: &[(&[u32], &[f32])], out: &mut [f32]) {
        for ((items, values), o) in rows.iter().zip(out.chunks_mut(self.n_items.max(1))) {
            self.accumulate(items, values, o);
        }
    }

    fn score_row(&self, items: &[u32], values: &[f32], out: &mut [f32]) -> Result<()> {
        self.accumulate(items, values, out);
        Ok(())
    }

    fn similar_items(&self, item: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        super::check_n(n)?;
        check_item(item, self.n_items)?;
        let (js, ss) = self.similarity.row(item);
        let best = top_n(ss, n, |_| true);
        Ok(best.into_iter().map(|(c, s)| (js[c] as usize, s)).collect())
    }

    /// Cosine between users' training rows (computed on demand, `O(nnz)`).
    fn similar_users(&self, user: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        super::check_n(n)?;
        check_user(user, self.n_users)?;
        let by_item = self.rows.transpose();
        let norms: Vec<f32> =
            (0..self.n_users).map(|u| self.rows.row(u).1.iter().map(|v| v * v).sum::<f32>().sqrt()).collect();
        let mut acc = vec![0f32; self.n_users];
        let (items, vals) = self.rows.row(user);
        for (&i, &r) in items.iter().zip(vals) {
            let (us, ws) = by_item.row(i as usize);
            for (&v, &w) in us.iter().zip(ws) {
                acc[v as usize] += r * w;
            }
        }
        let qn = norms[user].max(f32::MIN_POSITIVE);
        for (a, &nv) in acc.iter_mut().zip(&norms) {
            *a /= qn * nv.max(f32::MIN_POSITIVE);
        }
        Ok(top_n(&acc, n, |_| true))
    }
}

#[derive(Serialize, Deserialize)]
struct KnnMeta {
    params: ItemKnnParams,
    n_users: usize,
    n_items: usize,
    #[serde(default)]
    ids: Option<super::ModelIds>,
}

impl Persist for ItemKnn {
    const KIND: &'static str = "recommend.item_knn";

    fn write(&self) -> Result<ModelWriter> {
        let meta = KnnMeta {
            params: self.params.clone(),
            ids: self.ids.clone(),
            n_users: self.n_users,
            n_items: self.n_items,
        };
        let w = ModelWriter::new(Self::KIND, &meta)?;
        Ok(self.rows.write(self.similarity.write(w, "similarity"), "rows"))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: KnnMeta = r.meta()?;
        meta.params.check().map_err(|e| Error::format(e.to_string()))?;
        let similarity = Rows::read(r, "similarity", meta.n_items, meta.n_items)?;
        let rows = Rows::read(r, "rows", meta.n_users, meta.n_items)?;
        let popularity = rows.column_counts();
        super::ModelIds::check(meta.ids.as_ref(), meta.n_users, meta.n_items)
            .map_err(|e| Error::format(e.to_string()))?;
        Ok(ItemKnn {
            params: meta.params,
            ids: meta.ids,
            n_users: meta.n_users,
            n_items: meta.n_items,
            similarity,
            rows,
            popularity,
        })
    }
}
