//! Cold start by external id and feature name: the three questions a catalogue service asks
//! of a hybrid model about users and products it has never trained on.
//!
//! - a new shopper described by features (country, signup channel): which training items?
//!   [`HybridMF::recommend_from_features`]
//! - a new product described by features (category, brand, photo directions from
//!   [`super::ImageFeatures`]): which training items is it like?
//!   [`HybridMF::similar_to_features`]
//! - a batch of new products: in which order for this known shopper?
//!   [`HybridMF::rank_new_items`]
//!
//! Features are named (as the model was fitted with, or set by
//! [`HybridMF::set_feature_names`]); an unknown name is an [`crate::Error::UnknownId`] of kind
//! `"feature"`, so a service can answer 404 as for an unknown user.

use super::model::HybridMF;
use crate::data::ExternalId;
use crate::recommend::serving::{to_external, Filter, Ranked};
use crate::{ensure, Result};

/// One row of `(feature name, weight)` pairs.
pub type NamedFeatures<'a> = [(&'a str, f32)];

impl HybridMF {
    /// The `n` best training items for a new user known only by `features` (named user
    /// features). `filter.allow` / `deny` apply; a new user has no training history, so
    /// `filter.exclude_seen` has nothing to drop.
    ///
    /// ```
    /// # use mercato::data::{DuplicatePolicy, Interactions};
    /// # use mercato::recommend::hybrid::{Features, HybridMFParams};
    /// # use mercato::recommend::Filter;
    /// // users like the items of their own parity; each user's feature names the parity
    /// let events: Vec<(u32, u32, f32)> =
    ///     (0..40u32).flat_map(|u| (0..30u32).filter(move |i| i % 2 == u % 2).map(move |i| (u, i, 1.0))).collect();
    /// let data = Interactions::from_triples(events, DuplicatePolicy::Error)?;
    /// let parity = |n: usize| Features::from_rows(2, (0..n).map(|r| vec![(r % 2, 1.0)]));
    /// let (users, items) = (parity(data.n_users())?, parity(data.n_items())?);
    /// let mut model = HybridMFParams::default().factors(8).epochs(30).seed(1).fit(&data, Some(&users), Some(&items))?;
    /// model.set_feature_names(vec!["even".into(), "odd".into()], vec!["even".into(), "odd".into()])?;
    /// let top = model.recommend_from_features(&[("odd", 1.0)], 3, &Filter::new())?;
    /// assert!(top.iter().all(|(id, _)| id.to_string().parse::<u32>().unwrap() % 2 == 1));
    /// # Ok::<(), mercato::Error>(())
    /// ```
    pub fn recommend_from_features(&self, features: &NamedFeatures, n: usize, filter: &Filter) -> Result<Ranked> {
        let user = self.user_reprs(&self.user_space().encode([features.iter().copied()])?)?;
        let found = self.recommend_reprs(&user, &[0], self.known_item_reprs(), n, filter, None)?;
        Ok(to_external(&self.ids().items, found.into_iter().next().unwrap_or_default()))
    }

    /// The `n` training items whose embeddings are closest (cosine) to a new item known only
    /// by `features` (named item features): "more like this" for a product not yet sold.
    pub fn similar_to_features(&self, features: &NamedFeatures, n: usize) -> Result<Ranked> {
        let item = self.item_reprs(&self.item_space().encode([features.iter().copied()])?)?;
        let found = self.similar_to(item.embedding(0), self.known_item_reprs(), n)?;
        Ok(to_external(&self.ids().items, found))
    }

    /// New items, each known only by its named item features, ranked for the training user
    /// `user`: the `n` best as `(position in items, score)`, best first. Scores are on the
    /// scale of [`HybridMF::predict`], so they compare with the user's training items.
    pub fn rank_new_items(&self, user: &ExternalId, items: &[Vec<(&str, f32)>], n: usize) -> Result<Vec<(usize, f32)>> {
        let u = self.ids().users.index_or_err(user, "user")?;
        ensure!(!items.is_empty(), "no new items to rank");
        let reprs = self.item_reprs(&self.item_space().encode(items.iter().map(|row| row.iter().copied()))?)?;
        let found = self.recommend_reprs(self.known_user_reprs(), &[u], &reprs, n, &Filter::new(), None)?;
        Ok(found.into_iter().next().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{DuplicatePolicy, ExternalId, Interactions};
    use crate::recommend::hybrid::{Features, HybridMF, HybridMFParams};
    use crate::recommend::Filter;
    use crate::Error;

    /// 60 users × 40 items in two taste groups; users and items carry their group by name.
    fn grouped() -> HybridMF {
        let events: Vec<(u32, u32, f32)> = (0..60u32)
            .flat_map(|u| (0..40u32).filter(move |i| i % 2 == u % 2 && (u + i) % 3 != 0).map(move |i| (u, i, 1.0)))
            .collect();
        let data = Interactions::from_triples(events, DuplicatePolicy::Error).unwrap();
        let group = |ids: &crate::data::IdMap, r: usize| ids.id(r).to_string().parse::<usize>().unwrap() % 2;
        let users = Features::from_rows(2, (0..data.n_users()).map(|r| vec![(group(data.users(), r), 1.0)])).unwrap();
        let items = Features::from_rows(2, (0..data.n_items()).map(|r| vec![(group(data.items(), r), 1.0)])).unwrap();
        let mut m =
            HybridMFParams::default().factors(8).epochs(30).seed(2).fit(&data, Some(&users), Some(&items)).unwrap();
        let names = vec!["even".to_string(), "odd".to_string()];
        m.set_feature_names(names.clone(), names).unwrap();
        m
    }

    fn parity(id: &ExternalId) -> u32 {
        id.to_string().parse::<u32>().unwrap() % 2
    }

    #[test]
    fn new_users_and_items_follow_their_features() {
        let m = grouped();
        let top = m.recommend_from_features(&[("even", 1.0)], 5, &Filter::new()).unwrap();
        assert_eq!(top.len(), 5);
        assert!(top.iter().all(|(id, _)| parity(id) == 0), "{top:?}");
        let like = m.similar_to_features(&[("odd", 2.0)], 5).unwrap();
        assert!(like.iter().all(|(id, _)| parity(id) == 1), "{like:?}");
        // an odd user ranks the odd new product first, whichever order they come in
        let new = vec![vec![("even", 1.0)], vec![("odd", 1.0)], vec![]];
        let ranked = m.rank_new_items(&ExternalId::Int(1), &new, 3).unwrap();
        assert_eq!(ranked.len(), 3);
        assert_eq!(ranked[0].0, 1, "{ranked:?}");
        // the same scores predict gives a training item of the same features
        let odd_item = m.ids().items.index(&ExternalId::Int(1)).unwrap();
        let u = m.ids().users.index(&ExternalId::Int(1)).unwrap();
        let known = m.predict(&[u], &[odd_item]).unwrap()[0];
        assert!(ranked[0].1.is_finite() && known.is_finite());
        // only the allowed items
        let allow =
            Filter::from_ids(&m.ids().items, false, Some(&[ExternalId::Int(2), ExternalId::Int(3)]), &[]).unwrap();
        let top = m.recommend_from_features(&[("odd", 1.0)], 5, &allow).unwrap();
        assert_eq!(top.len(), 2);
    }

    #[test]
    fn unknown_names_users_and_empty_batches_are_typed_errors() {
        let m = grouped();
        let unknown = m.recommend_from_features(&[("teal", 1.0)], 3, &Filter::new());
        assert!(matches!(unknown, Err(Error::UnknownId { kind: "feature", ref id }) if id == "teal"));
        assert!(matches!(m.similar_to_features(&[("odd", f32::NAN)], 3), Err(Error::InvalidInput(_))));
        assert!(matches!(m.similar_to_features(&[("odd", -1.0)], 3), Err(Error::InvalidInput(_))));
        let one = vec![vec![("odd", 1.0)]];
        assert!(matches!(m.rank_new_items(&ExternalId::Int(999), &one, 3), Err(Error::UnknownId { kind: "user", .. })));
        assert!(matches!(m.rank_new_items(&ExternalId::Int(1), &[], 3), Err(Error::InvalidInput(_))));
        assert!(m.rank_new_items(&ExternalId::Int(1), &one, 0).is_err());
        // a huge n costs no more than the candidates
        assert_eq!(m.rank_new_items(&ExternalId::Int(1), &one, usize::MAX).unwrap().len(), 1);
    }
}
