//! The user × item matrix every recommender trains on.

use serde::{Deserialize, Serialize};
use sprs::CsMat;

use super::{ExternalId, IdMap};
use crate::{bail, Result};

/// What to do when the same (user, item) pair appears more than once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DuplicatePolicy {
    /// Add the values (implicit feedback: play counts, clicks). The default.
    #[default]
    Sum,
    /// Keep the value that came last in input order (explicit ratings that were revised).
    Last,
    /// Reject the data with [`crate::Error::InvalidInput`] naming the pair.
    Error,
}

/// A sparse users × items matrix of `f32` values (ratings, counts, weights) with the maps
/// from external ids to rows and columns.
///
/// Orientation is fixed once for the whole crate: **users are rows, items are columns**.
/// The matrix is CSR with sorted column indices and no duplicates; values are finite.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// let x = Interactions::from_triples(
///     [("ann", "tea", 5.0), ("bob", "tea", 3.0), ("ann", "mug", 1.0), ("ann", "tea", 4.0)],
///     DuplicatePolicy::Last,
/// )
/// .unwrap();
/// assert_eq!((x.n_users(), x.n_items(), x.nnz()), (2, 2, 3));
/// assert_eq!(x.value(0, 0), Some(4.0)); // ann's later rating of tea wins
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interactions {
    matrix: CsMat<f32>,
    users: IdMap,
    items: IdMap,
}

impl Interactions {
    /// Builds from (user, item, value) triples with external ids.
    pub fn from_triples<U, I>(triples: impl IntoIterator<Item = (U, I, f32)>, policy: DuplicatePolicy) -> Result<Self>
    where
        U: Into<ExternalId>,
        I: Into<ExternalId>,
    {
        let (mut users, mut items) = (IdMap::new(), IdMap::new());
        let entries: Vec<(u32, u32, f32)> =
            triples.into_iter().map(|(u, i, v)| (users.insert(u) as u32, items.insert(i) as u32, v)).collect();
        Self::from_indexed(users, items, entries, policy)
    }

    /// Builds from triples already translated to indices of `users` and `items`; the maps
    /// fix the matrix shape (ids with no entry give empty rows or columns). Used to build
    /// train and test sets that share one id space.
    pub fn from_indexed(
        users: IdMap,
        items: IdMap,
        mut entries: Vec<(u32, u32, f32)>,
        policy: DuplicatePolicy,
    ) -> Result<Self> {
        let (n_users, n_items) = (users.len(), items.len());
        for &(u, i, v) in &entries {
            if u as usize >= n_users || i as usize >= n_items {
                bail!("entry ({u}, {i}) is outside the {n_users} x {n_items} id space");
            }
            if !v.is_finite() {
                bail!(
                    "value for user {} and item {} must be finite, got {v}",
                    users.id(u as usize),
                    items.id(i as usize)
                );
            }
        }
        // Stable sort keeps input order among duplicates, which `Last` relies on.
        entries.sort_by_key(|&(u, i, _)| (u, i));
        let mut indptr = vec![0usize; n_users + 1];
        let mut indices: Vec<usize> = Vec::with_capacity(entries.len());
        let mut data: Vec<f32> = Vec::with_capacity(entries.len());
        let mut last: Option<(u32, u32)> = None;
        for (u, i, v) in entries {
            if last == Some((u, i)) {
                let slot = data.last_mut().expect("a previous entry exists");
                match policy {
                    DuplicatePolicy::Sum => *slot += v,
                    DuplicatePolicy::Last => *slot = v,
                    DuplicatePolicy::Error => bail!(
                        "duplicate entry for user {} and item {} (choose DuplicatePolicy::Sum or Last to merge)",
                        users.id(u as usize),
                        items.id(i as usize)
                    ),
                }
                continue;
            }
            last = Some((u, i));
            indptr[u as usize + 1] += 1;
            indices.push(i as usize);
            data.push(v);
        }
        for r in 0..n_users {
            indptr[r + 1] += indptr[r];
        }
        let matrix = CsMat::new((n_users, n_items), indptr, indices, data);
        Ok(Interactions { matrix, users, items })
    }

    /// Wraps a CSR matrix whose row and column indices are the ids (identity maps), as
    /// implicit's `fit(user_items)` does. Rows must have sorted, distinct column indices.
    pub fn from_csr(matrix: CsMat<f32>) -> Result<Self> {
        let (n_users, n_items) = matrix.shape();
        Self::from_csr_with_ids(matrix, IdMap::identity(n_users), IdMap::identity(n_items))
    }

    /// Wraps a CSR matrix with explicit id maps for its rows and columns.
    pub fn from_csr_with_ids(matrix: CsMat<f32>, users: IdMap, items: IdMap) -> Result<Self> {
        let matrix = if matrix.is_csr() { matrix } else { matrix.to_csr() };
        let (rows, cols) = matrix.shape();
        if rows != users.len() || cols != items.len() {
            return Err(crate::Error::shape(
                format!("{} users x {} items", users.len(), items.len()),
                format!("a {rows} x {cols} matrix"),
            ));
        }
        for (u, row) in matrix.outer_iterator().enumerate() {
            let idx = row.indices();
            if idx.windows(2).any(|w| w[0] >= w[1]) {
                bail!("row {u} has unsorted or duplicate column indices (sum duplicates and sort first)");
            }
            if let Some(v) = row.data().iter().find(|v| !v.is_finite()) {
                bail!("row {u} holds a non-finite value {v}");
            }
        }
        Ok(Interactions { matrix, users, items })
    }

    /// Number of users (rows).
    pub fn n_users(&self) -> usize {
        self.matrix.rows()
    }

    /// Number of items (columns).
    pub fn n_items(&self) -> usize {
        self.matrix.cols()
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.matrix.nnz()
    }

    /// The CSR matrix (users × items).
    pub fn matrix(&self) -> &CsMat<f32> {
        &self.matrix
    }

    /// The same data as CSR items × users (one row per item).
    pub fn item_major(&self) -> CsMat<f32> {
        self.matrix.transpose_view().to_csr()
    }

    /// User id map (rows).
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// Item id map (columns).
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// Item indices and values of one user's row. Panics if `user >= n_users()`.
    pub fn row(&self, user: usize) -> (&[usize], &[f32]) {
        let (start, end) = (self.matrix.indptr().index(user), self.matrix.indptr().index(user + 1));
        (&self.matrix.indices()[start..end], &self.matrix.data()[start..end])
    }

    /// Value at (user, item), if stored.
    pub fn value(&self, user: usize, item: usize) -> Option<f32> {
        let (idx, vals) = self.row(user);
        idx.binary_search(&item).ok().map(|k| vals[k])
    }

    /// All entries as (user, item, value), row by row.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize, f32)> + '_ {
        (0..self.n_users()).flat_map(move |u| {
            let (idx, vals) = self.row(u);
            idx.iter().zip(vals).map(move |(&i, &v)| (u, i, v))
        })
    }

    /// Entries as indexed triples, e.g. to split or rebuild.
    pub fn to_indexed(&self) -> Vec<(u32, u32, f32)> {
        self.iter().map(|(u, i, v)| (u as u32, i as u32, v)).collect()
    }

    /// A new set over the same id maps holding `entries` (indices into this set's maps).
    pub fn with_entries(&self, entries: Vec<(u32, u32, f32)>) -> Result<Self> {
        Self::from_indexed(self.users.clone(), self.items.clone(), entries, DuplicatePolicy::Error)
    }

    /// Smallest and largest stored value, `None` when empty.
    pub fn value_range(&self) -> Option<(f32, f32)> {
        let data = self.matrix.data();
        let first = *data.first()?;
        Some(data.iter().fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v))))
    }

    /// Number of entries per user.
    pub fn user_counts(&self) -> Vec<usize> {
        self.matrix
            .indptr()
            .as_slice()
            .map(|p| p.windows(2).map(|w| w[1] - w[0]).collect())
            .unwrap_or_else(|| (0..self.n_users()).map(|u| self.row(u).0.len()).collect())
    }

    /// Number of entries per item.
    pub fn item_counts(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.n_items()];
        for &i in self.matrix.indices() {
            counts[i] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn duplicate_policies() {
        let t = || vec![(1, 10, 1.0f32), (2, 10, 2.0), (1, 10, 3.0)];
        let sum = Interactions::from_triples(t(), DuplicatePolicy::Sum).unwrap();
        assert_eq!(sum.value(0, 0), Some(4.0));
        let last = Interactions::from_triples(t(), DuplicatePolicy::Last).unwrap();
        assert_eq!(last.value(0, 0), Some(3.0));
        let err = Interactions::from_triples(t(), DuplicatePolicy::Error).unwrap_err();
        assert!(err.to_string().contains("duplicate entry for user 1 and item 10"), "{err}");
    }

    #[test]
    fn rejects_non_finite_and_bad_csr() {
        let err = Interactions::from_triples(vec![(1, 1, f32::NAN)], DuplicatePolicy::Sum).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)));
        let m = CsMat::new_from_unsorted((1, 3), vec![0, 2], vec![2, 0], vec![1.0f32, 2.0]).unwrap();
        assert!(Interactions::from_csr(m).is_ok(), "sprs sorts on construction");
        let m = CsMat::new((2, 2), vec![0, 1, 1], vec![0], vec![1.0f32]);
        let x = Interactions::from_csr_with_ids(m, IdMap::identity(3), IdMap::identity(2));
        assert!(matches!(x.unwrap_err(), Error::ShapeMismatch { .. }));
    }

    #[test]
    fn rows_and_counts() {
        let x =
            Interactions::from_triples(vec![("a", "x", 1.0), ("b", "y", 2.0), ("a", "y", 3.0)], DuplicatePolicy::Error)
                .unwrap();
        assert_eq!(x.row(0), (&[0usize, 1][..], &[1.0f32, 3.0][..]));
        assert_eq!(x.user_counts(), vec![2, 1]);
        assert_eq!(x.item_counts(), vec![1, 2]);
        assert_eq!(x.value_range(), Some((1.0, 3.0)));
        assert_eq!(x.item_major().rows(), 2);
        let again = x.with_entries(x.to_indexed()).unwrap();
        assert_eq!(again, x);
    }
}
