//! Compressed sparse rows (`u32` columns, `f32` values), validated on entry: interaction
//! rows, feature rows and the matrix the truncated SVD factorises.

use rayon::prelude::*;
use sprs::CsMat;

use crate::persist::{ModelReader, ModelWriter};
use crate::{bail, Error, Result};

/// Compressed sparse rows, the crate's one sparse-matrix type: row `r` holds sorted, distinct
/// `u32` column indices and finite, non-negative `f32` values (8 bytes per entry).
///
/// Implicit-feedback models keep their training rows in this form to drop seen items when
/// serving; [`Features`](crate::recommend::hybrid::Features) is a `Rows` whose columns are
/// features; the truncated SVD runs its sparse products over one (there alone values may be
/// negative: centred ratings).
///
/// ```
/// use mercato::data::Rows;
/// // unsorted columns and a duplicate are normalised: sorted, duplicates summed
/// let rows = Rows::from_triplets(2, 3, &[(1, 2, 1.0), (0, 1, 2.0), (1, 0, 4.0), (1, 2, 0.5)]).unwrap();
/// assert_eq!(rows.row(1), (&[0u32, 2][..], &[4.0f32, 1.5][..]));
/// assert!(Rows::from_triplets(1, 3, &[(0, 5, 1.0)]).is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub(crate) n_cols: usize,
    pub(crate) indptr: Vec<usize>,
    pub(crate) indices: Vec<u32>,
    pub(crate) data: Vec<f32>,
}

impl Rows {
    /// An empty `n_rows × n_cols` set.
    pub fn empty(n_rows: usize, n_cols: usize) -> Self {
        Rows { n_cols, indptr: vec![0; n_rows + 1], indices: Vec::new(), data: Vec::new() }
    }

    /// From a CSR (or CSC) matrix. Unsorted column indices are sorted and duplicates summed
    /// (scipy allows both); negative or non-finite values are an error.
    pub fn from_csmat(m: &CsMat<f32>) -> Result<Self> {
        let m = if m.is_csr() { m.view() } else { return Self::from_csmat(&m.to_csr()) };
        let (n_rows, n_cols) = m.shape();
        crate::ensure!(n_cols <= i32::MAX as usize, "at most {} items are supported, got {n_cols}", i32::MAX);
        let mut out = Rows { n_cols, indptr: Vec::with_capacity(n_rows + 1), indices: Vec::new(), data: Vec::new() };
        out.indptr.push(0);
        out.indices.reserve(m.nnz());
        out.data.reserve(m.nnz());
        let mut buf: Vec<(u32, f32)> = Vec::new();
        for (r, row) in m.outer_iterator().enumerate() {
            buf.clear();
            for (c, &v) in row.iter() {
                if !v.is_finite() || v < 0.0 {
                    bail!("row {r}, column {c}: values must be finite and non-negative, got {v}");
                }
                buf.push((c as u32, v));
            }
            out.push_sorted(&mut buf);
        }
        Ok(out)
    }

    /// From raw CSR parts as scipy holds them (`indptr`, `indices`, `data`); checks the
    /// pointers and bounds, sorts unsorted rows and sums duplicates.
    pub fn from_csr_parts(n_rows: usize, n_cols: usize, indptr: &[i64], indices: &[i64], data: &[f32]) -> Result<Self> {
        if indptr.len() != n_rows + 1 {
            return Err(Error::shape(format!("indptr of length {}", n_rows + 1), indptr.len()));
        }
        if indices.len() != data.len() {
            return Err(Error::shape(format!("{} values", indices.len()), data.len()));
        }
        crate::ensure!(n_cols <= i32::MAX as usize, "at most {} items are supported, got {n_cols}", i32::MAX);
        let nnz = indices.len() as i64;
        if indptr[0] != 0 || indptr[n_rows] != nnz || indptr.windows(2).any(|w| w[0] > w[1]) {
            bail!("indptr must start at 0, be non-decreasing and end at nnz = {nnz}");
        }
        let mut out = Rows { n_cols, indptr: Vec::with_capacity(n_rows + 1), indices: Vec::new(), data: Vec::new() };
        out.indptr.push(0);
        out.indices.reserve(indices.len());
        out.data.reserve(indices.len());
        let mut buf: Vec<(u32, f32)> = Vec::new();
        for r in 0..n_rows {
            buf.clear();
            for k in indptr[r] as usize..indptr[r + 1] as usize {
                let (c, v) = (indices[k], data[k]);
                if c < 0 || c as usize >= n_cols {
                    return Err(Error::UnknownId {
                        kind: "item",
                        id: format!("index {c} (matrix has {n_cols} columns)"),
                    });
                }
                if !v.is_finite() || v < 0.0 {
                    bail!("row {r}, column {c}: values must be finite and non-negative, got {v}");
                }
                buf.push((c as u32, v));
            }
            out.push_sorted(&mut buf);
        }
        Ok(out)
    }

    /// From CSR parts already in this layout (moved, not copied): validates that pointers
    /// are monotone, every row's columns strictly increase and are below `n_cols`, and
    /// values are finite and non-negative.
    pub fn from_sorted_parts(n_cols: usize, indptr: Vec<usize>, indices: Vec<u32>, data: Vec<f32>) -> Result<Self> {
        check_layout(n_cols, &indptr, &indices, data.len())?;
        if let Some(v) = data.iter().find(|v| !v.is_finite() || **v < 0.0) {
            bail!("values must be finite and non-negative, got {v}");
        }
        Ok(Rows { n_cols, indptr, indices, data })
    }

    /// From CSR parts already in this layout whose values may be negative: the truncated SVD's
    /// matrix, where centring (subtracting a global or per-user mean) makes ratings signed,
    /// which every other constructor rejects as interaction or feature values. Nothing is
    /// copied or checked in release builds: the caller takes the parts from a matrix that sprs
    /// validated (sorted, distinct, in-range columns) and has checked the values are finite.
    pub(crate) fn from_signed_parts(n_cols: usize, indptr: Vec<usize>, indices: Vec<u32>, data: Vec<f32>) -> Self {
        debug_assert!(check_layout(n_cols, &indptr, &indices, data.len()).is_ok());
        debug_assert!(data.iter().all(|v| v.is_finite()));
        Rows { n_cols, indptr, indices, data }
    }

    /// From (row, column, value) triplets; sorted per row, duplicates summed.
    pub fn from_triplets(n_rows: usize, n_cols: usize, triplets: &[(usize, usize, f32)]) -> Result<Self> {
        let mut by_row: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_rows];
        for &(r, c, v) in triplets {
            if r >= n_rows || c >= n_cols {
                return Err(Error::UnknownId { kind: "item", id: format!("({r}, {c}) outside {n_rows} x {n_cols}") });
            }
            if !v.is_finite() || v < 0.0 {
                bail!("row {r}, column {c}: values must be finite and non-negative, got {v}");
            }
            by_row[r].push((c as u32, v));
        }
        let mut out = Rows::empty(0, n_cols);
        for mut b in by_row {
            out.push_sorted(&mut b);
        }
        Ok(out)
    }

    /// Appends one row from unsorted (column, value) pairs, summing duplicates.
    fn push_sorted(&mut self, buf: &mut [(u32, f32)]) {
        buf.sort_unstable_by_key(|e| e.0);
        let mut last: Option<u32> = None;
        for &(c, v) in buf.iter() {
            if last == Some(c) {
                if let Some(d) = self.data.last_mut() {
                    *d += v;
                }
                continue;
            }
            last = Some(c);
            self.indices.push(c);
            self.data.push(v);
        }
        self.indptr.push(self.indices.len());
    }

    /// `n` rows of identity columns (row `r` has column `r` with value 1).
    pub fn identity(n: usize) -> Self {
        Rows { n_cols: n, indptr: (0..=n).collect(), indices: (0..n as u32).collect(), data: vec![1.0; n] }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column indices and values of row `r` (empty past the last row).
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        if r + 1 >= self.indptr.len() {
            return (&[], &[]);
        }
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Row `r` as (columns, values), `None` past the last row.
    pub fn get_row(&self, r: usize) -> Option<(&[u32], &[f32])> {
        (r < self.n_rows()).then(|| self.row(r))
    }

    /// Number of entries per column.
    pub fn column_counts(&self) -> Vec<f32> {
        let mut c = vec![0f32; self.n_cols];
        for &i in &self.indices {
            c[i as usize] += 1.0;
        }
        c
    }

    /// The transpose (columns become rows), each row sorted.
    ///
    /// A counting sort, O(nnz), in parallel over row ranges (each range counts its columns,
    /// then writes its entries at offsets that follow from those counts). The layout is the
    /// canonical one whatever the ranges or the thread count: the same as a sequential
    /// transpose's.
    pub fn transpose(&self) -> Rows {
        let (rows, cols) = (self.n_rows(), self.n_cols);
        let nnz = self.data.len();
        let parts = rayon::current_num_threads().clamp(1, 16).min(nnz / 65_536 + 1);
        let bounds: Vec<usize> = (0..=parts).map(|p| self.indptr.partition_point(|&x| x < nnz * p / parts)).collect();
        let range = |p: usize| bounds[p].min(rows)..bounds[p + 1].min(rows).max(bounds[p].min(rows));
        // counts[p][j]: entries of column j in row range p; turned into write offsets below.
        let mut counts: Vec<Vec<usize>> = (0..parts)
            .into_par_iter()
            .map(|p| {
                let mut c = vec![0usize; cols];
                for r in range(p) {
                    for &j in &self.indices[self.indptr[r]..self.indptr[r + 1]] {
                        c[j as usize] += 1;
                    }
                }
                c
            })
            .collect();
        let mut indptr = vec![0usize; cols + 1];
        let mut running = 0;
        for j in 0..cols {
            indptr[j] = running;
            for c in counts.iter_mut() {
                let here = c[j];
                c[j] = running;
                running += here;
            }
        }
        indptr[cols] = running;
        let mut indices = vec![0u32; nnz];
        let mut data = vec![0f32; nnz];
        // Each range writes disjoint positions (its own offsets per column).
        let (ip, vp) = (SendPtr(indices.as_mut_ptr()), SendPtr(data.as_mut_ptr()));
        counts.into_par_iter().enumerate().for_each(|(p, mut next)| {
            let (ip, vp) = (&ip, &vp);
            for r in range(p) {
                for k in self.indptr[r]..self.indptr[r + 1] {
                    let j = self.indices[k] as usize;
                    // SAFETY: `next[j]` runs over this range's own slots of column j, which no
                    // other range writes, and stays below nnz.
                    unsafe {
                        *ip.0.add(next[j]) = r as u32;
                        *vp.0.add(next[j]) = self.data[k];
                    }
                    next[j] += 1;
                }
            }
        });
        Rows { n_cols: rows, indptr, indices, data }
    }

    /// The rows `ids` (in that order) as a new set; ids past the end give empty rows.
    pub fn select(&self, ids: &[usize]) -> Rows {
        let mut out = Rows::empty(0, self.n_cols);
        for &r in ids {
            let (c, v) = self.row(r);
            out.indices.extend_from_slice(c);
            out.data.extend_from_slice(v);
            out.indptr.push(out.indices.len());
        }
        out
    }

    /// Replaces (or appends, growing with empty rows) the rows `ids` by `new`'s rows.
    pub(crate) fn set_rows(&mut self, ids: &[usize], new: &Rows) {
        let n = self.n_rows().max(ids.iter().map(|&u| u + 1).max().unwrap_or(0));
        let mut replace: Vec<Option<usize>> = vec![None; n];
        for (k, &u) in ids.iter().enumerate() {
            replace[u] = Some(k);
        }
        let mut out = Rows::empty(0, self.n_cols.max(new.n_cols));
        for (r, rep) in replace.iter().enumerate() {
            let (c, v) = match rep {
                Some(k) => new.row(*k),
                None => self.row(r),
            };
            out.indices.extend_from_slice(c);
            out.data.extend_from_slice(v);
            out.indptr.push(out.indices.len());
        }
        *self = out;
    }

    /// Replaces (or appends) the columns `ids` by the rows of `new` (columns × rows), the
    /// result having `n_rows` rows and `n_cols` columns (both at least the current ones).
    pub(crate) fn set_cols(&mut self, ids: &[usize], new: &Rows, n_rows: usize, n_cols: usize) {
        let mut t = self.transpose();
        t.n_cols = t.n_cols.max(n_rows);
        t.set_rows(ids, new);
        while t.n_rows() < n_cols {
            t.indptr.push(t.indices.len());
        }
        *self = t.transpose();
    }

    /// Raw parts (indptr, indices, data).
    pub fn raw(&self) -> (&[usize], &[u32], &[f32]) {
        (&self.indptr, &self.indices, &self.data)
    }

    pub(crate) fn write(&self, w: ModelWriter, prefix: &str) -> ModelWriter {
        let indptr: Vec<u64> = self.indptr.iter().map(|&p| p as u64).collect();
        w.u64(&format!("{prefix}.indptr"), &[indptr.len()], &indptr)
            .u32(&format!("{prefix}.indices"), &[self.indices.len()], &self.indices)
            .f32(&format!("{prefix}.data"), &[self.data.len()], &self.data)
    }

    /// Reads and validates rows written by `write` (`n_rows`, `n_cols` from the meta).
    pub(crate) fn read(r: &ModelReader, prefix: &str, n_rows: usize, n_cols: usize) -> Result<Rows> {
        let (_, indptr) = r.u64(&format!("{prefix}.indptr"))?;
        let (_, indices) = r.u32(&format!("{prefix}.indices"))?;
        let (_, data) = r.f32(&format!("{prefix}.data"))?;
        let bad = |m: &str| Err(Error::format(format!("array {prefix:?}: {m}")));
        if indptr.len() != n_rows + 1 || indptr.first() != Some(&0) || indices.len() != data.len() {
            return bad("lengths do not match the model's shape");
        }
        if indptr.windows(2).any(|w| w[0] > w[1]) || indptr[n_rows] != indices.len() as u64 {
            return bad("row pointers are not monotone");
        }
        let indptr: Vec<usize> = indptr.into_iter().map(|p| p as usize).collect();
        for w in indptr.windows(2) {
            let cols = &indices[w[0]..w[1]];
            if cols.windows(2).any(|c| c[0] >= c[1]) || cols.last().is_some_and(|&c| c as usize >= n_cols) {
                return bad("column indices unsorted or out of range");
            }
        }
        if data.iter().any(|v| !v.is_finite()) {
            return bad("non-finite values");
        }
        Ok(Rows { n_cols, indptr, indices, data })
    }
}

/// Checks the CSR layout: pointers start at 0, do not decrease and end at `nnz` (one value
/// per index), and every row's columns strictly increase and stay below `n_cols`.
fn check_layout(n_cols: usize, indptr: &[usize], indices: &[u32], n_values: usize) -> Result<()> {
    let nnz = indices.len();
    let ok_ptr = indptr.first() == Some(&0)
        && indptr.last() == Some(&nnz)
        && n_values == nnz
        && indptr.windows(2).all(|w| w[0] <= w[1]);
    if !ok_ptr {
        bail!("indptr must start at 0, be non-decreasing and end at nnz = {nnz}, with one value per index");
    }
    for (r, w) in indptr.windows(2).enumerate() {
        let cols = &indices[w[0]..w[1]];
        if cols.windows(2).any(|c| c[0] >= c[1]) || cols.last().is_some_and(|&c| c as usize >= n_cols) {
            bail!("row {r}: columns must be strictly increasing and below {n_cols}");
        }
    }
    Ok(())
}

/// A raw pointer that parallel writers share, each to its own disjoint positions.
struct SendPtr<T>(*mut T);

// SAFETY: only used where every thread writes a disjoint set of positions.
unsafe impl<T> Sync for SendPtr<T> {}

/// Validates and normalises one supplied row: indices below `n_cols`, values finite and
/// non-negative; sorted, duplicates summed.
pub(crate) fn normalize_row(items: &[usize], values: &[f32], n_cols: usize) -> Result<(Vec<u32>, Vec<f32>)> {
    if items.len() != values.len() {
        return Err(Error::shape(format!("{} values", items.len()), format!("{} values", values.len())));
    }
    let mut buf = Vec::with_capacity(items.len());
    for (&i, &v) in items.iter().zip(values) {
        if i >= n_cols {
            return Err(Error::UnknownId { kind: "item", id: format!("index {i} (model has {n_cols} items)") });
        }
        if !v.is_finite() || v < 0.0 {
            bail!("item {i}: values must be finite and non-negative, got {v}");
        }
        buf.push((i as u32, v));
    }
    let mut r = Rows::empty(0, n_cols);
    r.push_sorted(&mut buf);
    Ok((r.indices, r.data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csmat_normalised_and_validated() {
        // unsorted row with a duplicate, built without sprs' checks
        let m = CsMat::new_from_unsorted((2, 3), vec![0, 3, 3], vec![2, 0, 2], vec![1.0f32, 2.0, 3.0]);
        let m = match m {
            Ok(m) => m,
            Err((indptr, indices, data, _)) => unsafe {
                CsMat::new_unchecked(sprs::CSR, (2, 3), indptr, indices, data)
            },
        };
        let r = Rows::from_csmat(&m).unwrap();
        assert_eq!(r.row(0), (&[0u32, 2][..], &[2.0f32, 4.0][..]));
        assert_eq!(r.row(1).0.len(), 0);
        let neg = CsMat::new((1, 2), vec![0, 1], vec![1], vec![-1.0f32]);
        assert!(Rows::from_csmat(&neg).is_err());
        let t = r.transpose();
        assert_eq!((t.n_rows(), t.n_cols()), (3, 2));
        assert_eq!(t.row(2), (&[0u32][..], &[4.0f32][..]));
    }

    #[test]
    fn set_rows_grows() {
        let mut r = Rows::from_triplets(2, 3, &[(0, 0, 1.0), (1, 1, 1.0)]).unwrap();
        let new = Rows::from_triplets(2, 3, &[(0, 2, 5.0), (1, 0, 1.0)]).unwrap();
        r.set_rows(&[1, 3], &new);
        assert_eq!(r.n_rows(), 4);
        assert_eq!(r.row(1).0, &[2]);
        assert_eq!(r.row(2).0.len(), 0);
        assert_eq!(r.row(3).0, &[0]);
        assert!(normalize_row(&[0, 7], &[1.0, 1.0], 3).is_err());
        assert!(normalize_row(&[0], &[f32::NAN], 3).is_err());
        assert_eq!(normalize_row(&[2, 0, 2], &[1.0, 1.0, 1.0], 3).unwrap(), (vec![0, 2], vec![1.0, 2.0]));
    }
}
