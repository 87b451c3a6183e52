//! Top-k ranking metrics with binary relevance. `recommended` is a ranked list of item
//! indices (best first); `relevant` is the set of held-out items, sorted ascending.

use crate::{ensure, Result};

fn hits<'a>(recommended: &'a [usize], relevant: &'a [usize], k: usize) -> impl Iterator<Item = bool> + 'a {
    recommended.iter().take(k).map(move |i| relevant.binary_search(i).is_ok())
}

fn check(relevant: &[usize], k: usize) -> Result<()> {
    ensure!(k > 0, "k must be positive");
    ensure!(relevant.windows(2).all(|w| w[0] < w[1]), "relevant items must be sorted and distinct");
    Ok(())
}

/// Fraction of the top `k` that is relevant (divides by `k`).
///
/// ```
/// use mercato::metrics::precision_at_k;
/// assert_eq!(precision_at_k(&[3, 1, 7], &[1, 2], 2).unwrap(), 0.5);
/// ```
pub fn precision_at_k(recommended: &[usize], relevant: &[usize], k: usize) -> Result<f64> {
    check(relevant, k)?;
    Ok(hits(recommended, relevant, k).filter(|&h| h).count() as f64 / k as f64)
}

/// Fraction of the relevant items found in the top `k` (0 when nothing is relevant).
pub fn recall_at_k(recommended: &[usize], relevant: &[usize], k: usize) -> Result<f64> {
    check(relevant, k)?;
    if relevant.is_empty() {
        return Ok(0.0);
    }
    Ok(hits(recommended, relevant, k).filter(|&h| h).count() as f64 / relevant.len() as f64)
}

/// Average precision at `k`, normalised by `min(k, |relevant|)` (the usual MAP@k term).
pub fn average_precision_at_k(recommended: &[usize], relevant: &[usize], k: usize) -> Result<f64> {
    check(relevant, k)?;
    if relevant.is_empty() {
        return Ok(0.0);
    }
    let (mut found, mut sum) = (0usize, 0.0);
    for (rank, hit) in hits(recommended, relevant, k).enumerate() {
        if hit {
            found += 1;
            sum += found as f64 / (rank + 1) as f64;
        }
    }
    Ok(sum / k.min(relevant.len()) as f64)
}

/// Normalised discounted cumulative gain at `k` with binary gains and `log2(rank + 1)`
/// discounts; the ideal list puts `min(k, |relevant|)` hits first.
pub fn ndcg_at_k(recommended: &[usize], relevant: &[usize], k: usize) -> Result<f64> {
    check(relevant, k)?;
    if relevant.is_empty() {
        return Ok(0.0);
    }
    let discount = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let dcg: f64 = hits(recommended, relevant, k).enumerate().filter(|(_, h)| *h).map(|(r, _)| discount(r)).sum();
    let idcg: f64 = (0..k.min(relevant.len())).map(discount).sum();
    Ok(dcg / idcg)
}

/// Area under the ROC curve of a full ranking of `n_candidates` items: the probability that
/// a random relevant item is ranked above a random irrelevant one. Candidates missing from
/// `ranking` count as ranked last (tied among themselves, counted as half).
pub fn ranking_auc(ranking: &[usize], relevant: &[usize], n_candidates: usize) -> Result<f64> {
    check(relevant, 1)?;
    let n_pos = relevant.len();
    ensure!(n_pos <= n_candidates, "{n_pos} relevant items among only {n_candidates} candidates");
    let n_neg = n_candidates - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Ok(0.5);
    }
    // Count, for each relevant item in the ranking, the irrelevant items ranked below it.
    let (mut pos_seen, mut neg_seen, mut correct) = (0usize, 0usize, 0.0f64);
    for &item in ranking {
        if relevant.binary_search(&item).is_ok() {
            pos_seen += 1;
            correct += (n_neg - neg_seen) as f64;
        } else {
            neg_seen += 1;
        }
    }
    // Unranked positives vs unranked negatives: a coin flip.
    correct += (n_pos - pos_seen) as f64 * (n_neg - neg_seen) as f64 * 0.5;
    Ok(correct / (n_pos * n_neg) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        let rec = [5, 1, 9, 2, 7];
        let rel = [1, 2, 3];
        assert!((precision_at_k(&rec, &rel, 5).unwrap() - 0.4).abs() < 1e-12);
        assert!((recall_at_k(&rec, &rel, 5).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        // hits at ranks 2 and 4: (1/2 + 2/4) / min(5, 3)
        assert!((average_precision_at_k(&rec, &rel, 5).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 0.5;
        assert!((ndcg_at_k(&rec, &rel, 5).unwrap() - dcg / idcg).abs() < 1e-12);
        assert_eq!(ndcg_at_k(&[1, 2, 3], &rel, 3).unwrap(), 1.0);
        assert!(precision_at_k(&rec, &[2, 1], 5).is_err());
    }

    #[test]
    fn auc_of_rankings() {
        assert_eq!(ranking_auc(&[0, 1, 2, 3], &[0, 1], 4).unwrap(), 1.0);
        assert_eq!(ranking_auc(&[2, 3, 0, 1], &[0, 1], 4).unwrap(), 0.0);
        // positive 0 beats both negatives; positive 3 beats none.
        assert_eq!(ranking_auc(&[0, 1, 2, 3], &[0, 3], 4).unwrap(), 0.5);
        // nothing ranked: every pair is a tie.
        assert_eq!(ranking_auc(&[], &[0], 3).unwrap(), 0.5);
    }
}
