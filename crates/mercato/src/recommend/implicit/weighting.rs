//! Weighting of interaction matrices before training: BM25, TF-IDF and log confidence.
//!
//! The functions weight the *rows* of a CSR matrix as documents whose columns are terms, as
//! implicit's `bm25_weight` / `tfidf_weight` do. implicit's last.fm example weights the
//! items × users matrix (artists are the documents), which is
//! [`Interactions::item_major`](crate::data::Interactions::item_major); [`bm25_items`] does
//! exactly that and returns a users × items matrix ready for [`super::Als::fit`].

use sprs::CsMat;

use crate::data::Interactions;
use crate::{ensure, Result};

fn check_weights(x: &CsMat<f32>) -> Result<()> {
    if let Some(v) = x.data().iter().find(|v| !v.is_finite() || **v < 0.0) {
        crate::bail!("weights must be finite and non-negative, found {v}");
    }
    Ok(())
}

/// Number of rows holding each column.
fn column_counts(x: &CsMat<f32>) -> Vec<f64> {
    let mut df = vec![0f64; x.cols()];
    for &c in x.indices() {
        df[c] += 1.0;
    }
    df
}

fn csr(x: &CsMat<f32>) -> CsMat<f32> {
    if x.is_csr() {
        x.clone()
    } else {
        x.to_csr()
    }
}

/// BM25 weighting of each row (document) of `x`, columns being terms, as implicit's
/// `bm25_weight(X, K1=100, B=0.8)`:
/// `w = r · (K1 + 1) / (K1 · norm(row) + r) · idf(col)` with
/// `norm = (1 − B) + B · rowsum / mean(rowsum)` and `idf = ln(N) − ln(1 + df)`, N = rows.
///
/// ```
/// use sprs::CsMat;
/// let x = CsMat::new((2, 3), vec![0, 2, 3], vec![0, 2, 1], vec![3.0f32, 1.0, 5.0]);
/// let w = mercato::recommend::bm25_weight(&x, 100.0, 0.8).unwrap();
/// assert_eq!(w.nnz(), 3);
/// ```
pub fn bm25_weight(x: &CsMat<f32>, k1: f64, b: f64) -> Result<CsMat<f32>> {
    ensure!(k1.is_finite() && k1 >= 0.0, "K1 must be finite and >= 0, got {k1}");
    ensure!(b.is_finite() && (0.0..=1.0).contains(&b), "B must be in [0, 1], got {b}");
    check_weights(x)?;
    let mut x = csr(x);
    let n = x.rows() as f64;
    let idf: Vec<f64> = column_counts(&x).iter().map(|df| n.ln() - df.ln_1p()).collect();
    let row_sums: Vec<f64> = x.outer_iterator().map(|r| r.data().iter().map(|&v| v as f64).sum()).collect();
    let mean = if row_sums.is_empty() { 0.0 } else { row_sums.iter().sum::<f64>() / n };
    let indptr: Vec<usize> = x.indptr().to_proper().to_vec();
    let indices = x.indices().to_vec();
    let data = x.data_mut();
    for r in 0..indptr.len().saturating_sub(1) {
        let norm = if mean > 0.0 { (1.0 - b) + b * row_sums[r] / mean } else { 1.0 };
        for k in indptr[r]..indptr[r + 1] {
            let v = data[k] as f64;
            let denom = k1 * norm + v;
            data[k] = if denom > 0.0 { (v * (k1 + 1.0) / denom * idf[indices[k]]) as f32 } else { 0.0 };
        }
    }
    Ok(x)
}

/// TF-IDF weighting of each row of `x`, as implicit's `tfidf_weight`:
/// `w = sqrt(r) · (ln(N) − ln(1 + df(col)))`.
///
/// ```
/// use sprs::CsMat;
/// let x = CsMat::new((2, 2), vec![0, 1, 2], vec![0, 1], vec![4.0f32, 1.0]);
/// let w = mercato::recommend::tfidf_weight(&x).unwrap();
/// assert!((w.data()[0] - 2.0 * (2f32.ln() - 2f32.ln())).abs() < 1e-6);
/// ```
pub fn tfidf_weight(x: &CsMat<f32>) -> Result<CsMat<f32>> {
    check_weights(x)?;
    let mut x = csr(x);
    let n = x.rows() as f64;
    let idf: Vec<f64> = column_counts(&x).iter().map(|df| n.ln() - df.ln_1p()).collect();
    let indices = x.indices().to_vec();
    for (v, &c) in x.data_mut().iter_mut().zip(&indices) {
        *v = ((*v as f64).sqrt() * idf[c]) as f32;
    }
    Ok(x)
}

/// Log confidence `ln(1 + r / eps)` (Hu, Koren & Volinsky's alternative to `1 + alpha · r`):
/// play counts spanning five orders of magnitude become comparable weights. Feed the result
/// to [`super::Als`] with linear confidence to get `c = 1 + alpha · ln(1 + r / eps)`.
///
/// ```
/// use sprs::CsMat;
/// let x = CsMat::new((1, 2), vec![0, 2], vec![0, 1], vec![1.0f32, 100.0]);
/// let w = mercato::recommend::log_weight(&x, 1.0).unwrap();
/// assert!((w.data()[1] - 101f32.ln()).abs() < 1e-5);
/// ```
pub fn log_weight(x: &CsMat<f32>, eps: f64) -> Result<CsMat<f32>> {
    ensure!(eps.is_finite() && eps > 0.0, "eps must be positive, got {eps}");
    check_weights(x)?;
    let mut x = csr(x);
    for v in x.data_mut() {
        *v = ((*v as f64) / eps).ln_1p() as f32;
    }
    Ok(x)
}

/// BM25 with items as documents and users as terms (implicit's last.fm example), returned as
/// users × items interactions over the same id maps.
///
/// ```
/// use mercato::data::{DuplicatePolicy, Interactions};
/// let x = Interactions::from_triples([(1, 10, 3.0), (2, 10, 1.0), (2, 11, 7.0)], DuplicatePolicy::Sum).unwrap();
/// let w = mercato::recommend::bm25_items(&x, 100.0, 0.8).unwrap();
/// assert_eq!((w.n_users(), w.n_items(), w.nnz()), (2, 2, 3));
/// ```
pub fn bm25_items(x: &Interactions, k1: f64, b: f64) -> Result<Interactions> {
    let weighted = bm25_weight(&x.item_major(), k1, b)?;
    let users_items = weighted.transpose_view().to_csr();
    Interactions::from_csr_with_ids(users_items, x.users().clone(), x.items().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bm25_matches_formula() {
        // rows: 3 documents, columns: 2 terms
        let x = CsMat::new((3, 2), vec![0, 2, 3, 4], vec![0, 1, 0, 1], vec![2.0f32, 4.0, 6.0, 1.0]);
        let w = bm25_weight(&x, 100.0, 0.8).unwrap();
        let sums = [6.0f64, 6.0, 1.0];
        let mean = 13.0 / 3.0;
        let idf = |df: f64| 3f64.ln() - df.ln_1p();
        let expect = |r: f64, row: usize| {
            let norm = 0.2 + 0.8 * sums[row] / mean;
            r * 101.0 / (100.0 * norm + r) * idf(2.0)
        };
        let got: Vec<f64> = w.data().iter().map(|&v| v as f64).collect();
        let want = [expect(2.0, 0), expect(4.0, 0), expect(6.0, 1), expect(1.0, 2)];
        for (g, e) in got.iter().zip(want) {
            assert!((g - e).abs() < 1e-5, "{g} vs {e}");
        }
    }

    #[test]
    fn rejects_bad_weights_and_params() {
        let x = CsMat::new((1, 2), vec![0, 2], vec![0, 1], vec![1.0f32, -1.0]);
        assert!(bm25_weight(&x, 100.0, 0.8).is_err());
        assert!(tfidf_weight(&x).is_err());
        let ok = CsMat::new((1, 1), vec![0, 1], vec![0], vec![1.0f32]);
        assert!(bm25_weight(&ok, -1.0, 0.8).is_err());
        assert!(bm25_weight(&ok, 1.0, 1.5).is_err());
        assert!(log_weight(&ok, 0.0).is_err());
        let nan = CsMat::new((1, 1), vec![0, 1], vec![0], vec![f32::NAN]);
        assert!(log_weight(&nan, 1.0).is_err());
    }
}
