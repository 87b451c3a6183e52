//! Top-N serving shared by every recommender: filters and partial-sort selection.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use crate::data::{ExternalId, IdMap};
use crate::{ensure, Error, Result};

/// Which items may be recommended.
///
/// ```
/// use mercato::recommend::Filter;
/// let f = Filter::new().exclude_seen(true).deny([3, 4]);
/// assert!(!f.allows(3, &[]));
/// assert!(!f.allows(1, &[0, 1]));   // seen
/// assert!(f.allows(2, &[0, 1]));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Drop items already in the user's row.
    pub exclude_seen: bool,
    /// Only these item indices may appear (all items when `None`).
    pub allow: Option<HashSet<usize>>,
    /// With `exclude_seen`: rank seen items after every other candidate (score −∞) instead
    /// of dropping them, as implicit ranks an `items=` list. Honoured by the
    /// implicit-feedback recommenders (ALS, BPR, ItemKNN); the others drop seen items.
    pub seen_last: bool,
    /// These item indices never appear.
    pub deny: HashSet<usize>,
}

impl Filter {
    /// No restriction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether already-seen items are dropped.
    pub fn exclude_seen(mut self, yes: bool) -> Self {
        self.exclude_seen = yes;
        self
    }

    /// Sets whether seen items are ranked last rather than dropped (see [`Filter::seen_last`]).
    pub fn seen_last(mut self, yes: bool) -> Self {
        self.seen_last = yes;
        self
    }

    /// Restricts candidates to `items` (indices).
    pub fn allow(mut self, items: impl IntoIterator<Item = usize>) -> Self {
        self.allow = Some(items.into_iter().collect());
        self
    }

    /// Removes `items` (indices) from the candidates.
    pub fn deny(mut self, items: impl IntoIterator<Item = usize>) -> Self {
        self.deny.extend(items);
        self
    }

    /// Builds a filter from external item ids; an unknown id in either list is an error
    /// (a typo in an allow-list should not silently empty the result).
    pub fn from_ids(
        items: &IdMap,
        exclude_seen: bool,
        allow: Option<&[ExternalId]>,
        deny: &[ExternalId],
    ) -> Result<Self> {
        let to_index = |ids: &[ExternalId]| -> Result<Vec<usize>> {
            ids.iter().map(|id| items.index_or_err(id, "item")).collect()
        };
        let mut f = Filter::new().exclude_seen(exclude_seen).deny(to_index(deny)?);
        if let Some(allow) = allow {
            f = f.allow(to_index(allow)?);
        }
        Ok(f)
    }

    /// Checks the indices against the number of items.
    pub fn validate(&self, n_items: usize) -> Result<()> {
        let bad = self.allow.iter().flatten().chain(&self.deny).find(|&&i| i >= n_items);
        match bad {
            Some(i) => Err(Error::UnknownId { kind: "item", id: format!("index {i} (model has {n_items} items)") }),
            None => Ok(()),
        }
    }

    /// True when `item` may be recommended to a user whose row holds `seen` (sorted).
    #[inline]
    pub fn allows(&self, item: usize, seen: &[usize]) -> bool {
        if self.deny.contains(&item) {
            return false;
        }
        if let Some(allow) = &self.allow {
            if !allow.contains(&item) {
                return false;
            }
        }
        !(self.exclude_seen && seen.binary_search(&item).is_ok())
    }
}

#[derive(PartialEq)]
struct Scored(f32, usize);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    /// Reversed so the heap's top is the *worst* kept candidate; ties prefer the lower index.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

/// The `n` best (index, score) pairs of `scores` that pass `keep`, best first, ties broken
/// by lower index. A bounded heap: O(len · log n) time, O(n) memory; NaN scores are skipped.
///
/// ```
/// let best = mercato::recommend::top_n(&[0.1, 0.9, 0.5, 0.7], 2, |i| i != 1);
/// assert_eq!(best, vec![(3, 0.7), (2, 0.5)]);
/// ```
pub fn top_n(scores: &[f32], n: usize, keep: impl Fn(usize) -> bool) -> Vec<(usize, f32)> {
    if n == 0 {
        return Vec::new();
    }
    // Never more than the candidates: a caller's huge `n` must not size the allocation.
    let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(n.min(scores.len()) + 1);
    for (i, &s) in scores.iter().enumerate() {
        if s.is_nan() || !keep(i) {
            continue;
        }
        if heap.len() < n {
            heap.push(Scored(s, i));
        } else if let Some(worst) = heap.peek() {
            if Scored(s, i) < *worst {
                heap.pop();
                heap.push(Scored(s, i));
            }
        }
    }
    heap.into_sorted_vec().into_iter().map(|Scored(s, i)| (i, s)).collect()
}

/// Validates a requested list length.
pub fn check_n(n: usize) -> Result<()> {
    ensure!(n > 0, "N must be positive");
    Ok(())
}

/// A recommendation list in external ids, best first.
pub type Ranked = Vec<(ExternalId, f32)>;

/// Maps a ranked list of item indices back to external ids.
pub fn to_external(items: &IdMap, ranked: Vec<(usize, f32)>) -> Ranked {
    ranked.into_iter().map(|(i, s)| (items.id(i).clone(), s)).collect()
}

/// The `n` items most similar to `item`, the item itself left out, as `mercato similar` and
/// `mercato serve`'s `/similar` answer. `nearest(k)` gives the `k` nearest items, which
/// usually include `item` itself, so it is asked for one more than `n`.
pub fn similar_but_itself(
    item: &ExternalId,
    n: usize,
    nearest: impl FnOnce(usize) -> Result<Ranked>,
) -> Result<Ranked> {
    let found = nearest(n.saturating_add(1))?;
    Ok(found.into_iter().filter(|(id, _)| id != item).take(n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_but_itself_drops_only_the_item() {
        let id = |s: &str| ExternalId::parse(s);
        let ranked = |ids: &[&str]| -> Ranked { ids.iter().map(|s| (id(s), 1.0)).collect() };
        let mut asked = 0;
        let got = similar_but_itself(&id("b"), 2, |k| {
            asked = k;
            Ok(ranked(&["b", "a", "c"]))
        });
        assert_eq!((asked, got.unwrap()), (3, ranked(&["a", "c"])));
        // the item is not among its neighbours (a duplicate row outranks it): n items still
        let got = similar_but_itself(&id("z"), 2, |_| Ok(ranked(&["a", "c", "d"])));
        assert_eq!(got.unwrap(), ranked(&["a", "c"]));
        assert!(similar_but_itself(&id("z"), usize::MAX, |_| Err(Error::invalid("no"))).is_err());
    }

    #[test]
    fn top_n_matches_full_sort() {
        let scores: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1009) as f32 / 10.0).collect();
        let mut full: Vec<(usize, f32)> = scores.iter().copied().enumerate().filter(|(i, _)| i % 3 != 0).collect();
        full.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        assert_eq!(top_n(&scores, 25, |i| i % 3 != 0), full[..25].to_vec());
        assert_eq!(top_n(&scores, 0, |_| true), vec![]);
        assert_eq!(top_n(&[1.0, f32::NAN, 2.0], 5, |_| true), vec![(2, 2.0), (0, 1.0)]);
    }

    #[test]
    fn a_huge_n_costs_no_more_than_the_candidates() {
        // Before, the heap reserved `n + 1` slots: usize::MAX overflowed, 10^12 aborted.
        assert_eq!(top_n(&[0.5, 0.25], usize::MAX - 1, |_| true), vec![(0, 0.5), (1, 0.25)]);
        assert_eq!(top_n(&[0.5, 0.25], 1 << 40, |i| i == 1), vec![(1, 0.25)]);
    }

    #[test]
    fn ties_prefer_lower_index() {
        assert_eq!(top_n(&[1.0, 1.0, 1.0], 2, |_| true), vec![(0, 1.0), (1, 1.0)]);
    }

    #[test]
    fn filter_from_ids_rejects_unknown() {
        let items = IdMap::from(vec![ExternalId::from("a"), ExternalId::from("b")]);
        let f = Filter::from_ids(&items, true, Some(&["b".into()]), &[]).unwrap();
        assert!(f.allows(1, &[]) && !f.allows(0, &[]));
        let err = Filter::from_ids(&items, true, Some(&["zz".into()]), &[]).unwrap_err();
        assert!(matches!(err, Error::UnknownId { .. }));
        assert!(Filter::new().deny([5]).validate(2).is_err());
    }
}
