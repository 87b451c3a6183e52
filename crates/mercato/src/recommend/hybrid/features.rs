//! Sparse feature rows (one row per user or item, a [`Rows`] whose columns are features) and
//! the feature space a model keeps.

use serde::{Deserialize, Serialize};

use crate::data::Rows;
use crate::{bail, ensure, Error, Result};

/// Feature rows: a [`Rows`] whose columns are features, a sparse `rows × n_features` matrix
/// of non-negative, finite feature weights, one row per user (or item), with sorted,
/// distinct column indices per row. `n_cols()` is the number of features.
///
/// Features may carry names (`with_names`), which [`FeatureSpace::encode`] uses to map
/// `(name, weight)` rows of a new user or item onto the trained columns.
///
/// ```
/// use mercato::recommend::hybrid::Features;
/// let f = Features::from_rows(3, [vec![(0, 1.0), (2, 0.5)], vec![], vec![(1, 1.0)]])?;
/// assert_eq!((f.n_rows(), f.n_cols(), f.nnz()), (3, 3, 3));
/// assert_eq!(f.get_row(0), Some((&[0u32, 2][..], &[1.0f32, 0.5][..])));
/// assert!(f.get_row(3).is_none());
/// assert!(Features::from_rows(2, [vec![(5, 1.0)]]).is_err()); // column out of range
/// assert!(Features::from_rows(2, [vec![(0, f32::NAN)]]).is_err());
/// # Ok::<(), mercato::Error>(())
/// ```
pub type Features = Rows;

/// The constructors that feature matrices need (rows of `(column, weight)` pairs, side-by-side
/// parts, identity columns); their messages speak of features and weights.
impl Rows {
    /// Builds from rows of `(column, weight)`; duplicates in a row are summed (in the order
    /// given), columns sorted. Errors on a column `>= n_features`, or a weight that is NaN,
    /// infinite or negative.
    pub fn from_rows<R>(n_features: usize, rows: impl IntoIterator<Item = R>) -> Result<Self>
    where
        R: IntoIterator<Item = (usize, f32)>,
    {
        ensure!(n_features <= u32::MAX as usize, "at most {} features, got {n_features}", u32::MAX);
        let mut f = Rows { n_cols: n_features, indptr: vec![0], indices: Vec::new(), data: Vec::new() };
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
            // A stable sort: duplicates are summed in the order given, as before.
            row.sort_by_key(|&(c, _)| c);
            for &(c, w) in &row {
                if f.indices.len() > *f.indptr.last().unwrap_or(&0) && f.indices.last() == Some(&(c as u32)) {
                    *f.data.last_mut().expect("one weight per index") += w;
                } else {
                    f.indices.push(c as u32);
                    f.data.push(w);
                }
            }
            f.indptr.push(f.indices.len());
        }
        Ok(f)
    }

    /// Side-by-side columns of several matrices with the same rows (e.g. categories, then
    /// [`super::ImageFeatures`]); each part's columns follow the previous part's.
    ///
    /// ```
    /// use mercato::recommend::hybrid::Features;
    /// let a = Features::from_rows(2, [vec![(0, 1.0)], vec![(1, 1.0)]])?;
    /// let b = Features::from_rows(1, [vec![], vec![(0, 0.5)]])?;
    /// let ab = Features::hstack(&[&a, &b])?;
    /// assert_eq!(ab.n_cols(), 3);
    /// assert_eq!(ab.get_row(1), Some((&[1u32, 2][..], &[1.0f32, 0.5][..])));
    /// assert!(Features::hstack(&[&a, &Features::identity(3)]).is_err()); // 2 rows vs 3
    /// # Ok::<(), mercato::Error>(())
    /// ```
    pub fn hstack(parts: &[&Rows]) -> Result<Rows> {
        let Some(first) = parts.first() else { bail!("hstack needs at least one feature matrix") };
        let n = first.n_rows();
        let mut out = Rows { n_cols: 0, indptr: vec![0], indices: Vec::new(), data: Vec::new() };
        for p in parts {
            ensure!(p.n_rows() == n, shape format!("{n} feature rows in every part"), p.n_rows());
            out.n_cols += p.n_cols;
        }
        ensure!(out.n_cols <= u32::MAX as usize, "at most {} features, got {}", u32::MAX, out.n_cols);
        for r in 0..n {
            let mut offset = 0u32;
            for p in parts {
                let (c, w) = p.row(r);
                out.indices.extend(c.iter().map(|&c| c + offset));
                out.data.extend_from_slice(w);
                offset += p.n_cols as u32;
            }
            out.indptr.push(out.indices.len());
        }
        Ok(out)
    }

    /// `[identity | self]`: identity columns first, then this matrix's columns shifted.
    pub(crate) fn with_identity(&self) -> Rows {
        let n = self.n_rows();
        let mut out = Rows { n_cols: n + self.n_cols, indptr: vec![0], indices: Vec::new(), data: Vec::new() };
        for r in 0..n {
            out.indices.push(r as u32);
            out.data.push(1.0);
            let (c, w) = self.row(r);
            out.indices.extend(c.iter().map(|&c| c + n as u32));
            out.data.extend_from_slice(w);
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
