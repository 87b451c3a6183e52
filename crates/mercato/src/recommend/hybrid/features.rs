//! Sparse feature rows (one row per user or item) and the feature space a model keeps.

use serde::{Deserialize, Serialize};
use sprs::CsMat;

use crate::{bail, ensure, Error, Result};

/// A sparse `rows × n_features` matrix of non-negative, finite feature weights, one row per
/// user (or item), in compressed-row form with sorted, distinct column indices per row.
///
/// Features may carry names (`with_names`), which [`FeatureSpace::encode`] uses to map
/// `(name, weight)` rows of a new user or item onto the trained columns.
///
/// ```
/// use mercato::recommend::hybrid::Features;
/// let f = Features::from_rows(3, [vec![(0, 1.0), (2, 0.5)], vec![], vec![(1, 1.0)]])?;
/// assert_eq!((f.n_rows(), f.n_features(), f.nnz()), (3, 3, 3));
/// assert_eq!(f.get_row(0), Some((&[0u32, 2][..], &[1.0f32, 0.5][..])));
/// assert!(f.get_row(3).is_none());
/// assert!(Features::from_rows(2, [vec![(5, 1.0)]]).is_err()); // column out of range
/// assert!(Features::from_rows(2, [vec![(0, f32::NAN)]]).is_err());
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    pub(crate) indptr: Vec<usize>,
    pub(crate) indices: Vec<u32>,
    pub(crate) weights: Vec<f32>,
    pub(crate) n_features: usize,
}

impl Features {
    /// Builds from rows of `(column, weight)`; duplicates in a row are summed, columns sorted.
    /// Errors on a column `>= n_features`, or a weight that is NaN, infinite or negative.
    pub fn from_rows<R>(n_features: usize, rows: impl IntoIterator<Item = R>) -> Result<Self>
    where
        R: IntoIterator<Item = (usize, f32)>,
    {
        ensure!(n_features <= u32::MAX as usize, "at most {} features, got {n_features}", u32::MAX);
        let mut f = Features { indptr: vec![0], indices: Vec::new(), weights: Vec::new(), n_features };
        let mut row: Vec<(usize, f32)> = Vec::new();
        for (r, items) in rows.into_iter().enumerate() {
            row.clear();
            row.extend(items);
            for &(c, w) in &row {
                ensure!(c < n_features, "row {r}: feature {c} is outside the {n_features} features");
                ensure!(
                    w.is_finite() && w >= 0.0,
                    "row {r}: feature {c} has weight {w}, weights must be finite and >= 0"
                );
            }
            row.sort_by_key(|&(c, _)| c);
            for &(c, w) in &row {
                if f.indices.len() > *f.indptr.last().unwrap_or(&0) && f.indices.last() == Some(&(c as u32)) {
                    *f.weights.last_mut().expect("one weight per index") += w;
                } else {
                    f.indices.push(c as u32);
                    f.weights.push(w);
                }
            }
            f.indptr.push(f.indices.len());
        }
        Ok(f)
    }

    /// Wraps a CSR (or CSC, converted) matrix, validating every weight.
    pub fn from_csr(m: &CsMat<f32>) -> Result<Self> {
        let m = if m.is_csr() { m.clone() } else { m.to_csr() };
        let rows = (0..m.rows()).map(|r| {
            let row = m.outer_view(r).expect("row in range");
            row.iter().map(|(c, &w)| (c, w)).collect::<Vec<_>>()
        });
        Self::from_rows(m.cols(), rows)
    }

    /// `n` rows of identity features (row `r` has feature `r` with weight 1).
    pub fn identity(n: usize) -> Self {
        Features { indptr: (0..=n).collect(), indices: (0..n as u32).collect(), weights: vec![1.0; n], n_features: n }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of stored weights.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Raw CSR parts (indptr, column indices, weights), as [`crate::recommend::Rows::raw`].
    pub fn raw(&self) -> (&[usize], &[u32], &[f32]) {
        (&self.indptr, &self.indices, &self.weights)
    }

    /// Row `r` as (columns, weights), `None` past the last row.
    pub fn get_row(&self, r: usize) -> Option<(&[u32], &[f32])> {
        (r < self.n_rows()).then(|| self.row(r))
    }

    /// Row `r` (in range: callers index rows they counted).
    pub(crate) fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.weights[a..b])
    }

    /// Side-by-side columns of several matrices with the same rows (e.g. categories, then
    /// [`super::ImageFeatures`]); each part's columns follow the previous part's.
    ///
    /// ```
    /// use mercato::recommend::hybrid::Features;
    /// let a = Features::from_rows(2, [vec![(0, 1.0)], vec![(1, 1.0)]])?;
    /// let b = Features::from_rows(1, [vec![], vec![(0, 0.5)]])?;
    /// let ab = Features::hstack(&[&a, &b])?;
    /// assert_eq!(ab.n_features(), 3);
    /// assert_eq!(ab.get_row(1), Some((&[1u32, 2][..], &[1.0f32, 0.5][..])));
    /// assert!(Features::hstack(&[&a, &Features::identity(3)]).is_err()); // 2 rows vs 3
    /// # Ok::<(), mercato::Error>(())
    /// ```
    pub fn hstack(parts: &[&Features]) -> Result<Features> {
        let Some(first) = parts.first() else { bail!("hstack needs at least one feature matrix") };
        let n = first.n_rows();
        let mut out = Features { indptr: vec![0], indices: Vec::new(), weights: Vec::new(), n_features: 0 };
        for p in parts {
            ensure!(p.n_rows() == n, shape format!("{n} feature rows in every part"), p.n_rows());
            out.n_features += p.n_features;
        }
        ensure!(out.n_features <= u32::MAX as usize, "at most {} features, got {}", u32::MAX, out.n_features);
        for r in 0..n {
            let mut offset = 0u32;
            for p in parts {
                let (c, w) = p.row(r);
                out.indices.extend(c.iter().map(|&c| c + offset));
                out.weights.extend_from_slice(w);
                offset += p.n_features as u32;
            }
            out.indptr.push(out.indices.len());
        }
        Ok(out)
    }

    /// `[identity | self]`: identity columns first, then this matrix's columns shifted.
    pub(crate) fn with_identity(&self) -> Features {
        let n = self.n_rows();
        let mut out =
            Features { indptr: vec![0], indices: Vec::new(), weights: Vec::new(), n_features: n + self.n_features };
        for r in 0..n {
            out.indices.push(r as u32);
            out.weights.push(1.0);
            let (c, w) = self.row(r);
            out.indices.extend(c.iter().map(|&c| c + n as u32));
            out.weights.extend_from_slice(w);
            out.indptr.push(out.indices.len());
        }
        out
    }
}

/// The user (or item) feature columns of a fitted model: whether identity columns lead, how
/// many supplied columns follow, and their names when given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpace {
    /// Identity columns (one per training user/item) come first.
    pub identity: usize,
    /// Supplied feature columns after the identity ones.
    pub n_features: usize,
    /// Names of the supplied columns (empty when unnamed).
    pub names: Vec<String>,
}

impl FeatureSpace {
    /// Total embedding rows (`identity + n_features`).
    pub fn total(&self) -> usize {
        self.identity + self.n_features
    }

    /// Column of a named supplied feature.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| Error::UnknownId { kind: "feature", id: name.to_string() })
    }

    /// Rows of `(feature name, weight)` as [`Features`] over the supplied columns; an unknown
    /// name is an [`Error::UnknownId`] (kind `"feature"`).
    pub fn encode<'a, R>(&self, rows: impl IntoIterator<Item = R>) -> Result<Features>
    where
        R: IntoIterator<Item = (&'a str, f32)>,
    {
        if self.names.is_empty() && self.n_features > 0 {
            bail!("the model's features have no names; pass feature columns by index");
        }
        let rows: Vec<Vec<(usize, f32)>> = rows
            .into_iter()
            .map(|r| r.into_iter().map(|(n, w)| Ok((self.column(n)?, w))).collect::<Result<_>>())
            .collect::<Result<_>>()?;
        Features::from_rows(self.n_features, rows)
    }
}
