use ndarray::Array2;

use crate::{ensure, Error, Result};

fn check(y_true: &[usize], y_pred: &[usize]) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::shape(format!("{} predictions", y_true.len()), y_pred.len()));
    }
    ensure!(!y_true.is_empty(), "cannot score an empty set of predictions");
    Ok(())
}

/// Fraction of exact matches.
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check(y_true, y_pred)?;
    Ok(y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count() as f64 / y_true.len() as f64)
}

/// Confusion matrix `C[true, predicted]` over classes `0..n_classes` (scikit-learn layout).
///
/// ```
/// let c = mercato::metrics::confusion_matrix(&[0, 1, 1], &[0, 0, 1], 2).unwrap();
/// assert_eq!(c, ndarray::array![[1, 0], [1, 1]]);
/// ```
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Array2<u64>> {
    check(y_true, y_pred)?;
    let mut c = Array2::zeros((n_classes, n_classes));
    for (&t, &p) in y_true.iter().zip(y_pred) {
        ensure!(t < n_classes && p < n_classes, "class {} is outside 0..{n_classes}", t.max(p));
        c[[t, p]] += 1;
    }
    Ok(c)
}

/// Per-class (precision, recall) from a confusion matrix; 0 where undefined (as sklearn's
/// `zero_division=0`).
pub fn per_class_precision_recall(confusion: &Array2<u64>) -> Vec<(f64, f64)> {
    let n = confusion.nrows();
    (0..n)
        .map(|c| {
            let tp = confusion[[c, c]] as f64;
            let predicted: u64 = confusion.column(c).sum();
            let actual: u64 = confusion.row(c).sum();
            let ratio = |d: u64| if d == 0 { 0.0 } else { tp / d as f64 };
            (ratio(predicted), ratio(actual))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        let t = [0, 0, 1, 2, 2, 2];
        let p = [0, 1, 1, 2, 0, 2];
        assert!((accuracy(&t, &p).unwrap() - 4.0 / 6.0).abs() < 1e-12);
        let c = confusion_matrix(&t, &p, 3).unwrap();
        assert_eq!(c, ndarray::array![[1, 1, 0], [0, 1, 0], [1, 0, 2]]);
        let pr = per_class_precision_recall(&c);
        assert_eq!(pr[0], (0.5, 0.5));
        assert_eq!(pr[2], (1.0, 2.0 / 3.0));
        assert!(confusion_matrix(&[3], &[0], 3).is_err());
    }
}
