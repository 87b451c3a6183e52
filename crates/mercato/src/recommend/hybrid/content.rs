//! Content-based recommendation: items compared by their features alone ("more like this"),
//! so a product listed a minute ago, with no interaction yet, already has neighbours.
//!
//! Each item's feature row is weighted (TF-IDF as scikit-learn's `TfidfTransformer` with its
//! defaults — smooth idf `ln((1 + n) / (1 + df)) + 1`, raw term frequency —, BM25, or as
//! given) and scaled to unit length; similarity is the cosine. A new item's row is weighted
//! with the statistics of the fitted catalogue, so it lands in the same space. A user's
//! content score for an item is the cosine summed over the items in the user's row (each
//! weighted by its value): the profile is the sum of what they interacted with.
//!
//! Blending with a collaborative model: both score the same candidates; put each on one
//! scale (e.g. the ranks, or z-scores per user) and mix with a weight, leaning on content for
//! items with few interactions. `mercato.recommend.blend` does this in Python.
//!
//! Served by external id and feature name ([`ItemContent::set_item_ids`],
//! [`ItemContent::set_feature_names`]): similar items to a catalogue item or to a new one
//! given by named features, and recommendations from the items a visitor has viewed
//! ([`ItemContent::recommend_from_items`]) — what `mercato serve` answers on `/similar` and
//! `/recommend_sequence`. The model has no users, so it never answers by user id.
//!
//! ```
//! use mercato::params::Params;
//! use mercato::recommend::hybrid::ItemContentParams;
//! use mercato::recommend::Rows;
//!
//! // four products, features: 0 = "kitchen", 1 = "steel", 2 = "garden"
//! let features = Rows::from_triplets(4, 3, &[(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0), (2, 2, 1.0), (3, 1, 1.0)])?;
//! let model = ItemContentParams::default().fit(&features)?;
//! let similar = model.similar_items(0, 3)?;
//! assert_eq!(similar[0].0, 0); // itself first
//! assert!(similar.iter().all(|&(i, _)| i != 2)); // nothing in common with the garden item
//! // a new item described only by its features
//! let new_item = Rows::from_triplets(1, 3, &[(0, 0, 1.0)])?;
//! assert_eq!(model.similar_to_features(&new_item, 1)?[0][0].0, 1);
//! # Ok::<(), mercato::Error>(())
//! ```

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cold_start::NamedFeatures;
use super::features::FeatureSpace;
use crate::data::{ExternalId, IdMap};
use crate::error::{Error, Result};
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::recommend::serving::{to_external, Ranked};
use crate::recommend::{top_n, Filter, Rows};
use crate::{ensure, parallel};

/// How feature values are weighted before the cosine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum ContentWeighting {
    /// The values as given.
    None,
    /// `value · idf`, `idf = ln((1 + n) / (1 + df)) + 1` (scikit-learn's smooth idf).
    #[default]
    TfIdf,
    /// BM25 with Lucene's idf `ln(1 + (n − df + 0.5) / (df + 0.5))` and length normalisation
    /// by the mean row sum.
    Bm25 {
        /// Saturation of repeated feature values.
        k1: f64,
        /// Strength of the length normalisation, in [0, 1].
        b: f64,
    },
}

/// Hyper-parameters of [`ItemContent`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ItemContentParams {
    /// Feature weighting.
    pub weighting: ContentWeighting,
    /// Worker threads (all cores when `None`); results do not depend on it.
    pub num_threads: Option<usize>,
}

impl ItemContentParams {
    crate::params::setters!(weighting: ContentWeighting);
    crate::params::setters!(num_threads: Option<usize>);

    /// Fits on `item_features` (items × features, finite non-negative values).
    pub fn fit(&self, item_features: &Rows) -> Result<ItemContent> {
        self.check()?;
        ensure!(item_features.n_rows() > 0, "item_features has no rows (items)");
        ensure!(item_features.n_cols() > 0, "item_features has no columns (features)");
        check_values(item_features)?;
        let n = item_features.n_rows() as f64;
        let df = item_features.column_counts();
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| match self.weighting {
                ContentWeighting::None => 1.0,
                ContentWeighting::TfIdf => (((1.0 + n) / (1.0 + d as f64)).ln() + 1.0) as f32,
                ContentWeighting::Bm25 { .. } => ((n - d as f64 + 0.5) / (d as f64 + 0.5)).ln_1p() as f32,
            })
            .collect();
        let (_, _, values) = item_features.raw();
        let mean_length = (values.iter().map(|&v| v as f64).sum::<f64>() / n) as f32;
        let mut model = ItemContent {
            params: self.clone(),
            idf,
            mean_length,
            items: Rows::empty(0, 0),
            by_feature: Rows::empty(0, 0),
            ids: IdMap::identity(item_features.n_rows()),
            features: FeatureSpace { identity: 0, n_features: item_features.n_cols(), names: Vec::new() },
        };
        model.items = model.weigh(item_features)?;
        model.by_feature = model.items.transpose();
        Ok(model)
    }
}

impl Params for ItemContentParams {
    fn check(&self) -> Result<()> {
        if let ContentWeighting::Bm25 { k1, b } = self.weighting {
            ensure!(k1.is_finite() && k1 >= 0.0, param "K1", "must be finite and >= 0, got {k1}");
            ensure!((0.0..=1.0).contains(&b), param "B", "must be in [0, 1], got {b}");
        }
        crate::params::check_threads(self.num_threads)
    }
}

fn check_values(rows: &Rows) -> Result<()> {
    let (_, _, values) = rows.raw();
    ensure!(values.iter().all(|v| v.is_finite() && *v >= 0.0), "feature values must be finite and >= 0");
    Ok(())
}

/// A fitted content model: the catalogue's weighted, unit-length feature rows.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemContent {
    params: ItemContentParams,
    /// Per-feature weight (idf; 1 without weighting).
    idf: Vec<f32>,
    /// Mean feature-row sum of the catalogue (BM25's length normalisation).
    mean_length: f32,
    /// Items × features, weighted, rows of unit length (or empty).
    items: Rows,
    /// The transpose, for scoring a query against every item.
    by_feature: Rows,
    /// External ids of the catalogue's items (their row indices until set).
    ids: IdMap,
    /// The feature columns and their names (none until set).
    features: FeatureSpace,
}

impl ItemContent {
    /// The parameters it was fitted with.
    pub fn params(&self) -> &ItemContentParams {
        &self.params
    }

    /// Items in the fitted catalogue.
    pub fn n_items(&self) -> usize {
        self.items.n_rows()
    }

    /// Feature columns.
    pub fn n_features(&self) -> usize {
        self.idf.len()
    }

    /// The weighted, unit-length rows of the catalogue (items × features).
    pub fn item_vectors(&self) -> &Rows {
        &self.items
    }

    /// External ids of the catalogue's items, by row (the row indices until
    /// [`ItemContent::set_item_ids`]).
    pub fn item_ids(&self) -> &IdMap {
        &self.ids
    }

    /// Names the catalogue's items, one id per row of the fitted features, so the model is
    /// asked (and answers) by external id.
    pub fn set_item_ids(&mut self, ids: IdMap) -> Result<()> {
        ensure!(ids.len() == self.n_items(), shape format!("{} item ids", self.n_items()), ids.len().to_string());
        self.ids = ids;
        Ok(())
    }

    /// Names of the feature columns (empty when unnamed).
    pub fn feature_names(&self) -> &[String] {
        &self.features.names
    }

    /// Names the feature columns (empty, or one distinct name per column), so new items can
    /// be given as `(name, weight)` pairs ([`ItemContent::similar_to_named_features`]).
    pub fn set_feature_names(&mut self, names: Vec<String>) -> Result<()> {
        if !names.is_empty() {
            ensure!(
                names.len() == self.n_features(),
                shape format!("{} feature names", self.n_features()),
                names.len().to_string()
            );
            let distinct: std::collections::HashSet<&String> = names.iter().collect();
            ensure!(distinct.len() == names.len(), "feature names must be distinct");
        }
        self.features.names = names;
        Ok(())
    }

    /// Weighs feature rows (items × features, e.g. new products) with the fitted catalogue's
    /// statistics and scales each to unit length; an all-zero row stays zero.
    pub fn weigh(&self, features: &Rows) -> Result<Rows> {
        ensure!(
            features.n_cols() == self.n_features(),
            shape format!("{} feature columns", self.n_features()),
            format!("{}", features.n_cols())
        );
        check_values(features)?;
        let mut indptr = vec![0usize];
        let (mut indices, mut data) = (Vec::with_capacity(features.nnz()), Vec::with_capacity(features.nnz()));
        for r in 0..features.n_rows() {
            let (cols, vals) = features.row(r);
            let length: f32 = vals.iter().sum();
            let start = data.len();
            for (&c, &v) in cols.iter().zip(vals) {
                let w = match self.params.weighting {
                    ContentWeighting::None | ContentWeighting::TfIdf => v,
                    ContentWeighting::Bm25 { k1, b } => {
                        let (k1, b) = (k1 as f32, b as f32);
                        let norm = if self.mean_length > 0.0 { length / self.mean_length } else { 1.0 };
                        v * (k1 + 1.0) / (v + k1 * (1.0 - b + b * norm))
                    }
                } * self.idf[c as usize];
                if w != 0.0 {
                    indices.push(c);
                    data.push(w);
                }
            }
            let norm = data[start..].iter().map(|w| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                data[start..].iter_mut().for_each(|w| *w /= norm);
            }
            indptr.push(data.len());
        }
        Rows::from_sorted_parts(self.n_features(), indptr, indices, data)
    }

    /// Cosine of the weighted query `(feature columns, weights)` — already weighted and
    /// scaled — with every item, into `out` (one slot per item).
    fn score_weighted(&self, cols: &[u32], weights: &[f32], out: &mut [f32]) {
        out.fill(0.0);
        for (&f, &w) in cols.iter().zip(weights) {
            let (items, vals) = self.by_feature.row(f as usize);
            for (&i, &v) in items.iter().zip(vals) {
                out[i as usize] += w * v;
            }
        }
    }

    /// The `n` items most similar to catalogue item `item` (itself first when it has any
    /// feature), by cosine; items sharing no feature are left out.
    pub fn similar_items(&self, item: usize, n: usize) -> Result<Vec<(usize, f32)>> {
        crate::recommend::check_n(n)?;
        if item >= self.n_items() {
            return Err(Error::UnknownId { kind: "item", id: item.to_string() });
        }
        let (cols, weights) = self.items.row(item);
        let mut scores = vec![0f32; self.n_items()];
        self.score_weighted(cols, weights, &mut scores);
        Ok(top_n(&scores, n, |i| scores[i] > 0.0 || i == item))
    }

    /// For each row of `features` (new items given by their features, unweighted), the `n`
    /// most similar catalogue items, by cosine; rows sharing no feature get none.
    pub fn similar_to_features(&self, features: &Rows, n: usize) -> Result<Vec<Vec<(usize, f32)>>> {
        crate::recommend::check_n(n)?;
        let query = self.weigh(features)?;
        let pool = parallel::pool(self.params.num_threads)?;
        Ok(pool.install(|| {
            (0..query.n_rows())
                .into_par_iter()
                .map(|r| {
                    let (cols, weights) = query.row(r);
                    let mut scores = vec![0f32; self.n_items()];
                    self.score_weighted(cols, weights, &mut scores);
                    top_n(&scores, n, |i| scores[i] > 0.0)
                })
                .collect()
        }))
    }

    /// [`ItemContent::similar_items`] by external id: the `n` items most similar to `item`,
    /// itself first (as every recommender's `similar_items_ids`).
    pub fn similar_items_ids(&self, item: &ExternalId, n: usize) -> Result<Ranked> {
        let i = self.ids.index_or_err(item, "item")?;
        Ok(to_external(&self.ids, self.similar_items(i, n)?))
    }

    /// The `n` catalogue items most similar to a new item given by named features (see
    /// [`ItemContent::set_feature_names`]); an unknown name is an [`Error::UnknownId`] of kind
    /// `"feature"`.
    pub fn similar_to_named_features(&self, features: &NamedFeatures, n: usize) -> Result<Ranked> {
        let row = self.features.encode([features.iter().copied()])?;
        let found = self.similar_to_features(&row, n)?.pop().unwrap_or_default();
        Ok(to_external(&self.ids, found))
    }

    /// The `n` items most like what a visitor has viewed (`items`, by external id, in any
    /// order; repeats count again): each candidate scored by its cosines to those items,
    /// summed. `filter.exclude_seen` leaves the viewed items out; `allow`/`deny` hold item
    /// indices. Candidates sharing no feature with any viewed item are left out.
    pub fn recommend_from_items(&self, items: &[ExternalId], n: usize, filter: &Filter) -> Result<Ranked> {
        let mut triplets = Vec::with_capacity(items.len());
        for id in items {
            triplets.push((0, self.ids.index_or_err(id, "item")?, 1.0));
        }
        let row = Rows::from_triplets(1, self.n_items(), &triplets)?;
        let found = self.recommend_rows(&row, n, filter)?.pop().unwrap_or_default();
        Ok(to_external(&self.ids, found))
    }

    /// Content scores of every item for a user whose row holds `items` with `values`: the
    /// sum over those items of `value · cosine(item, candidate)`.
    pub fn score_profile(&self, items: &[u32], values: &[f32], out: &mut [f32]) -> Result<()> {
        ensure!(items.len() == values.len(), shape format!("{} values", items.len()), values.len().to_string());
        ensure!(
            out.len() == self.n_items(),
            shape format!("{} score slots", self.n_items()),
            out.len().to_string()
        );
        // the profile in feature space: Σ value · unit item vector
        let mut profile = vec![0f32; self.n_features()];
        for (&i, &v) in items.iter().zip(values) {
            if i as usize >= self.n_items() {
                return Err(Error::UnknownId { kind: "item", id: i.to_string() });
            }
            ensure!(v.is_finite(), "user_items values must be finite");
            let (cols, weights) = self.items.row(i as usize);
            for (&c, &w) in cols.iter().zip(weights) {
                profile[c as usize] += v * w;
            }
        }
        let (cols, weights): (Vec<u32>, Vec<f32>) =
            profile.iter().enumerate().filter(|(_, w)| **w != 0.0).map(|(c, &w)| (c as u32, w)).unzip();
        self.score_weighted(&cols, &weights, out);
        Ok(())
    }
}

impl ItemContent {
    /// Top-`n` content recommendations for each row of `user_items` (users × the catalogue's
    /// items): [`ItemContent::score_profile`] ranked under `filter` (`exclude_seen` drops the
    /// row's own items; `allow`/`deny` restrict candidates); candidates scoring 0 (sharing no
    /// feature with the profile) are left out.
    pub fn recommend_rows(&self, user_items: &Rows, n: usize, filter: &Filter) -> Result<Vec<Vec<(usize, f32)>>> {
        crate::recommend::check_n(n)?;
        ensure!(
            user_items.n_cols() == self.n_items(),
            shape format!("{} item columns", self.n_items()),
            user_items.n_cols().to_string()
        );
        let pool = parallel::pool(self.params.num_threads)?;
        pool.install(|| {
            (0..user_items.n_rows())
                .into_par_iter()
                .map(|r| {
                    let (items, values) = user_items.row(r);
                    let mut scores = vec![0f32; self.n_items()];
                    self.score_profile(items, values, &mut scores)?;
                    let seen = |i: usize| filter.exclude_seen && items.binary_search(&(i as u32)).is_ok();
                    let allowed = |i: usize| filter.allow.as_ref().is_none_or(|a| a.contains(&i));
                    Ok(top_n(&scores, n, |i| scores[i] > 0.0 && allowed(i) && !filter.deny.contains(&i) && !seen(i)))
                })
                .collect()
        })
    }
}

#[derive(Serialize, Deserialize)]
struct ContentMeta {
    params: ItemContentParams,
    n_items: usize,
    n_features: usize,
    mean_length: f32,
    /// The items' external ids; absent when they are the row indices (and in files written
    /// before ids existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item_ids: Option<IdMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    feature_names: Vec<String>,
}

impl Persist for ItemContent {
    const KIND: &'static str = "recommend.item_content";

    fn write(&self) -> Result<ModelWriter> {
        let meta = ContentMeta {
            params: self.params.clone(),
            n_items: self.n_items(),
            n_features: self.n_features(),
            mean_length: self.mean_length,
            item_ids: (!self.ids.is_identity()).then(|| self.ids.clone()),
            feature_names: self.features.names.clone(),
        };
        let w = ModelWriter::new(Self::KIND, &meta)?.f32("idf", &[self.idf.len()], &self.idf);
        Ok(self.items.write(w, "items"))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let meta: ContentMeta = r.meta()?;
        meta.params.check().map_err(|e| Error::format(e.to_string()))?;
        let idf = r.array1_f32("idf", Some(meta.n_features))?.to_vec();
        let items = Rows::read(r, "items", meta.n_items, meta.n_features)?;
        check_values(&items).map_err(|e| Error::format(e.to_string()))?;
        if !(meta.mean_length.is_finite() && meta.mean_length >= 0.0) || idf.iter().any(|v| !v.is_finite()) {
            return Err(Error::format("item content statistics must be finite"));
        }
        let by_feature = items.transpose();
        let mut model = ItemContent {
            params: meta.params,
            idf,
            mean_length: meta.mean_length,
            items,
            by_feature,
            ids: IdMap::identity(meta.n_items),
            features: FeatureSpace { identity: 0, n_features: meta.n_features, names: Vec::new() },
        };
        let named = |r: Result<()>| r.map_err(|e| Error::format(e.to_string()));
        if let Some(ids) = meta.item_ids {
            // rebuilt so that a repeated id is refused (deserialising keeps the first silently)
            named(IdMap::from_ids(ids.ids().to_vec()).and_then(|ids| model.set_item_ids(ids)))?;
        }
        named(model.set_feature_names(meta.feature_names))?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 items × 4 features: 0, 1 share features 0 and 1; 2 has 2 only; 3 has 0 and 3; 4 none.
    fn catalogue() -> Rows {
        Rows::from_triplets(
            5,
            4,
            &[(0, 0, 1.0), (0, 1, 1.0), (1, 0, 1.0), (1, 1, 1.0), (2, 2, 2.0), (3, 0, 1.0), (3, 3, 1.0)],
        )
        .unwrap()
    }

    #[test]
    fn tfidf_cosine_matches_the_formula() {
        let m = ItemContentParams::default().fit(&catalogue()).unwrap();
        // smooth idf: n = 5; df = [3, 2, 1, 1]
        let idf = |df: f64| ((1.0 + 5.0) / (1.0 + df)).ln() + 1.0;
        let (a, b, d) = (idf(3.0), idf(2.0), idf(1.0));
        // items 0 and 3 share feature 0: cos = a² / (|(a, b)| · |(a, d)|)
        let expect = (a * a / ((a * a + b * b).sqrt() * (a * a + d * d).sqrt())) as f32;
        let sim = m.similar_items(0, 5).unwrap();
        assert_eq!(sim[0].0, 0);
        assert!((sim[0].1 - 1.0).abs() < 1e-6 && sim[1].0 == 1 && (sim[1].1 - 1.0).abs() < 1e-6, "{sim:?}");
        let s3 = sim.iter().find(|p| p.0 == 3).unwrap().1;
        assert!((s3 - expect).abs() < 1e-6, "{s3} vs {expect}");
        assert!(sim.iter().all(|p| p.0 != 2 && p.0 != 4), "no shared feature, no neighbour");
        // an item without features is similar to nothing but itself
        assert_eq!(m.similar_items(4, 3).unwrap(), vec![(4, 0.0)]);
    }

    #[test]
    fn new_items_and_profiles_use_the_catalogue_statistics() {
        for weighting in [ContentWeighting::None, ContentWeighting::TfIdf, ContentWeighting::Bm25 { k1: 1.2, b: 0.75 }]
        {
            let p = ItemContentParams::default().weighting(weighting);
            let m = p.clone().fit(&catalogue()).unwrap();
            // a new item equal to item 2's features ranks item 2 first, with cosine 1
            let new = Rows::from_triplets(2, 4, &[(0, 2, 2.0), (1, 3, 1.0)]).unwrap();
            let got = m.similar_to_features(&new, 2).unwrap();
            assert_eq!(got[0][0].0, 2, "{weighting:?}");
            assert!((got[0][0].1 - 1.0).abs() < 1e-5);
            assert_eq!(got[1][0].0, 3);
            let two = p.num_threads(Some(2)).fit(&catalogue()).unwrap().similar_to_features(&new, 2).unwrap();
            assert_eq!(got, two, "threads do not change results");
            // recommendations rank the profile's scores, without the seen items
            let rows = Rows::from_triplets(1, 5, &[(0, 0, 1.0)]).unwrap();
            let recs = m.recommend_rows(&rows, 5, &Filter::new().exclude_seen(true)).unwrap();
            assert_eq!(recs[0][0].0, 1, "{weighting:?}: item 1 has item 0's features");
            assert!(recs[0].iter().all(|&(i, _)| i != 0 && i != 2 && i != 4));
            // a profile of items 0 and 2 scores each candidate by the summed cosines
            let mut scores = vec![0f32; 5];
            m.score_profile(&[0, 2], &[1.0, 1.0], &mut scores).unwrap();
            let cos = |i: usize, j: usize| {
                let (a, b) = (m.item_vectors().row(i), m.item_vectors().row(j));
                a.0.iter()
                    .zip(a.1)
                    .map(|(c, v)| b.0.iter().position(|x| x == c).map_or(0.0, |k| v * b.1[k]))
                    .sum::<f32>()
            };
            for (j, s) in scores.iter().enumerate() {
                assert!((s - cos(0, j) - cos(2, j)).abs() < 1e-5, "{weighting:?} {j}");
            }
        }
    }

    #[test]
    fn served_by_external_id_and_feature_name() {
        let mut m = ItemContentParams::default().fit(&catalogue()).unwrap();
        let by_index = m.similar_items(0, 3).unwrap();
        let sku = |i: usize| ExternalId::from(format!("sku-{i}").as_str());
        m.set_item_ids(IdMap::from_ids((0..5).map(sku)).unwrap()).unwrap();
        m.set_feature_names(["kitchen", "steel", "garden", "blue"].map(String::from).to_vec()).unwrap();
        let by_id = m.similar_items_ids(&sku(0), 3).unwrap();
        assert_eq!(by_id, by_index.iter().map(|&(i, s)| (sku(i), s)).collect::<Vec<_>>());
        // a new item by name equals the same row by column
        let named = m.similar_to_named_features(&[("garden", 2.0)], 2).unwrap();
        let row = Rows::from_triplets(1, 4, &[(0, 2, 2.0)]).unwrap();
        let by_col = m.similar_to_features(&row, 2).unwrap().pop().unwrap();
        assert_eq!(named, by_col.iter().map(|&(i, s)| (sku(i), s)).collect::<Vec<_>>());
        // a visitor who viewed item 0 is shown item 1 (same features) first, never item 0
        let recs = m.recommend_from_items(&[sku(0)], 3, &Filter::new().exclude_seen(true)).unwrap();
        assert_eq!(recs[0].0, sku(1));
        assert!(recs.iter().all(|(id, _)| *id != sku(0)));
        // unknown ids and names are typed; names and ids must fit the catalogue
        assert!(matches!(m.similar_items_ids(&sku(9), 2), Err(Error::UnknownId { kind: "item", .. })));
        assert!(matches!(m.recommend_from_items(&[sku(9)], 2, &Filter::new()), Err(Error::UnknownId { .. })));
        assert!(matches!(
            m.similar_to_named_features(&[("red", 1.0)], 2),
            Err(Error::UnknownId { kind: "feature", .. })
        ));
        assert!(matches!(m.set_item_ids(IdMap::identity(4)), Err(Error::ShapeMismatch { .. })));
        assert!(m.clone().set_feature_names(vec!["a".into(); 4]).is_err(), "repeated names");
        // ids and names survive the file; a model without them writes none
        let back = ItemContent::from_bytes(m.to_bytes().unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.item_ids().id(2), &sku(2));
        assert_eq!(back.feature_names()[3], "blue");
        let plain = ItemContentParams::default().fit(&catalogue()).unwrap();
        let back = ItemContent::from_bytes(plain.to_bytes().unwrap()).unwrap();
        assert!(back.item_ids().is_identity() && back.feature_names().is_empty());
    }

    #[test]
    fn bad_input_is_a_typed_error_and_files_round_trip() {
        let p = ItemContentParams::default();
        for bad in [f32::NAN, -1.0] {
            // refused by Rows already, or by fit
            assert!(Rows::from_triplets(2, 2, &[(0, 0, bad)]).map_or(true, |r| p.fit(&r).is_err()));
        }
        assert!(p.fit(&Rows::empty(0, 3)).is_err());
        let bad = ItemContentParams::default().weighting(ContentWeighting::Bm25 { k1: 1.0, b: 2.0 });
        assert!(matches!(bad.check(), Err(Error::InvalidParameter { .. })));
        let m = p.fit(&catalogue()).unwrap();
        assert!(matches!(m.similar_items(9, 2), Err(Error::UnknownId { .. })));
        assert!(m.similar_items(0, 0).is_err());
        assert!(matches!(m.similar_to_features(&Rows::empty(1, 3), 2), Err(Error::ShapeMismatch { .. })));
        assert!(m.score_profile(&[7], &[1.0], &mut [0.0; 5]).is_err());
        let back = ItemContent::from_bytes(m.to_bytes().unwrap()).unwrap();
        assert_eq!(back, m);
        let mut bytes = m.to_bytes().unwrap();
        let last = bytes.len() - 5;
        bytes[last] ^= 0x55;
        assert!(ItemContent::from_bytes(bytes).is_err());
    }
}
