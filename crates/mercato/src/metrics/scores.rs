//! Metrics of continuous scores against 0/1 labels (higher score = more likely positive).

use crate::{ensure, Error, Result};

fn check(scores: &[f64], labels: &[u8]) -> Result<(usize, usize)> {
    if scores.len() != labels.len() {
        return Err(Error::shape(format!("{} labels", scores.len()), labels.len()));
    }
    crate::error::ensure_finite("scores", scores)?;
    ensure!(labels.iter().all(|&l| l <= 1), "labels must be 0 or 1");
    let n_pos = labels.iter().filter(|&&l| l == 1).count();
    let n_neg = labels.len() - n_pos;
    ensure!(n_pos > 0 && n_neg > 0, "need both classes to score, got {n_pos} positives and {n_neg} negatives");
    Ok((n_pos, n_neg))
}

/// Indices ordered by decreasing score.
fn descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Visits each distinct threshold (descending) with cumulative (true positives, false positives).
fn thresholds(scores: &[f64], labels: &[u8], mut visit: impl FnMut(f64, usize, usize)) {
    let order = descending(scores);
    let (mut tp, mut fp) = (0usize, 0usize);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] == 1 {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            visit(scores[i], tp, fp);
        }
    }
}

/// Area under the ROC curve (ties counted as half), equal to scikit-learn's `roc_auc_score`.
///
/// ```
/// let auc = mercato::metrics::roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap();
/// assert!((auc - 0.75).abs() < 1e-12);
/// ```
pub fn roc_auc(scores: &[f64], labels: &[u8]) -> Result<f64> {
    let (n_pos, n_neg) = check(scores, labels)?;
    // Trapezoids between successive distinct thresholds.
    let (mut area, mut prev_tp, mut prev_fp) = (0.0f64, 0usize, 0usize);
    thresholds(scores, labels, |_, tp, fp| {
        area += (fp - prev_fp) as f64 * (tp + prev_tp) as f64 / 2.0;
        prev_tp = tp;
        prev_fp = fp;
    });
    Ok(area / (n_pos as f64 * n_neg as f64))
}

/// Average precision, scikit-learn's `average_precision_score`: Σ (Rₙ − Rₙ₋₁) Pₙ over
/// distinct thresholds (no interpolation).
pub fn average_precision(scores: &[f64], labels: &[u8]) -> Result<f64> {
    let (n_pos, _) = check(scores, labels)?;
    let (mut ap, mut prev_recall) = (0.0f64, 0.0f64);
    thresholds(scores, labels, |_, tp, fp| {
        let recall = tp as f64 / n_pos as f64;
        ap += (recall - prev_recall) * tp as f64 / (tp + fp) as f64;
        prev_recall = recall;
    });
    Ok(ap)
}

/// ROC curve points `(false positive rate, true positive rate, threshold)`, starting at (0, 0).
pub fn roc_curve(scores: &[f64], labels: &[u8]) -> Result<Vec<(f64, f64, f64)>> {
    let (n_pos, n_neg) = check(scores, labels)?;
    let mut points = vec![(0.0, 0.0, f64::INFINITY)];
    thresholds(scores, labels, |t, tp, fp| points.push((fp as f64 / n_neg as f64, tp as f64 / n_pos as f64, t)));
    Ok(points)
}

/// Precision–recall curve points `(recall, precision, threshold)` by decreasing threshold.
pub fn pr_curve(scores: &[f64], labels: &[u8]) -> Result<Vec<(f64, f64, f64)>> {
    let (n_pos, _) = check(scores, labels)?;
    let mut points = Vec::new();
    thresholds(scores, labels, |t, tp, fp| points.push((tp as f64 / n_pos as f64, tp as f64 / (tp + fp) as f64, t)));
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_with_ties() {
        // sklearn: roc_auc_score([0,1,0,1],[0.5,0.5,0.2,0.9]) == 0.875
        assert!((roc_auc(&[0.5, 0.5, 0.2, 0.9], &[0, 1, 0, 1]).unwrap() - 0.875).abs() < 1e-12);
        // sklearn: average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.8333...
        assert!((average_precision(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap() - 5.0 / 6.0).abs() < 1e-12);
        assert!(roc_auc(&[0.1, 0.2], &[1, 1]).is_err());
        assert!(roc_auc(&[0.1, f64::NAN], &[0, 1]).is_err());
        let curve = roc_curve(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]).unwrap();
        assert_eq!(curve.last().map(|p| (p.0, p.1)), Some((1.0, 1.0)));
        assert_eq!(pr_curve(&[0.1, 0.9], &[0, 1]).unwrap()[0], (1.0, 1.0, 0.9));
    }
}
