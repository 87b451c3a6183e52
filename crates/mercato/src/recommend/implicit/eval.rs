//! implicit-compatible ranking metrics over a whole test set.

use std::collections::HashSet;

use super::{Filter, Recommender, Rows};
use crate::{ensure, Result};

/// Mean ranking quality at K over the users with at least one test item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RankingMetrics {
    /// Hits in the top K divided by `Σ min(K, |test_u|)` (implicit's "precision").
    pub precision: f64,
    /// Mean average precision at K, each user's AP divided by `min(K, |test_u|)`.
    pub map: f64,
    /// Mean NDCG at K with binary gains.
    pub ndcg: f64,
    /// Mean AUC of the top-K list against all non-test items (implicit's approximation:
    /// items outside the list rank below it).
    pub auc: f64,
    /// Users evaluated.
    pub users: usize,
}

/// Recommends `k` items to every user with test items, dropping the user's `train` items,
/// and scores the lists against `test` exactly as implicit's
/// `evaluation.ranking_metrics_at_k` does (same precision normalisation, MAP, NDCG and AUC
/// definitions), so numbers are comparable. `train` and `test` are users × items with the
/// model's item indices; `train` rows are used to filter seen items (and by kNN to score).
pub fn ranking_metrics_at_k(model: &dyn Recommender, train: &Rows, test: &Rows, k: usize) -> Result<RankingMetrics> {
    ensure!(k > 0, "K must be positive");
    ensure!(train.n_rows() == test.n_rows(), "train has {} users, test {}", train.n_rows(), test.n_rows());
    ensure!(test.n_rows() <= model.n_users(), "test has {} users, the model {}", test.n_rows(), model.n_users());
    let n_items = model.n_items();
    ensure!(test.n_cols() <= n_items && train.n_cols() <= n_items, "more items in the data than in the model");
    let users: Vec<usize> = (0..test.n_rows()).filter(|&u| !test.row(u).0.is_empty()).collect();
    let rows = train.select(&users);
    // narrower data (items past the last one in these rows) is read as the model's width
    let (indptr, indices, data) = rows.raw();
    let rows = Rows::from_sorted_parts(n_items, indptr.to_vec(), indices.to_vec(), data.to_vec())?;
    let recs = model.recommend_batch_chunked(
        &users,
        Some(&rows),
        k,
        &Filter::new().exclude_seen(true),
        super::default_chunk(model.n_items()),
    )?;
    let cg: Vec<f64> = (0..k).map(|i| 1.0 / ((i + 2) as f64).log2()).collect();
    let cg_sum: Vec<f64> = cg
        .iter()
        .scan(0.0, |s, &v| {
            *s += v;
            Some(*s)
        })
        .collect();
    let (mut relevant, mut pr_div, mut map, mut ndcg, mut auc) = (0f64, 0f64, 0f64, 0f64, 0f64);
    for (&u, r) in users.iter().zip(&recs) {
        let likes: HashSet<u32> = test.row(u).0.iter().copied().collect();
        let n_pos = likes.len();
        let n_neg = n_items.saturating_sub(n_pos);
        pr_div += k.min(n_pos) as f64;
        let idcg = cg_sum[k.min(n_pos) - 1];
        let (mut ap, mut hit, mut miss, mut u_auc) = (0f64, 0f64, 0f64, 0f64);
        for (i, &(item, _)) in r.items.iter().enumerate() {
            if likes.contains(&(item as u32)) {
                relevant += 1.0;
                hit += 1.0;
                ap += hit / (i + 1) as f64;
                ndcg += cg[i] / idcg;
            } else {
                miss += 1.0;
                u_auc += hit;
            }
        }
        u_auc += (hit + n_pos as f64) / 2.0 * (n_neg as f64 - miss);
        map += ap / k.min(n_pos) as f64;
        if n_neg > 0 {
            auc += u_auc / (n_pos as f64 * n_neg as f64);
        }
    }
    let total = users.len().max(1) as f64;
    Ok(RankingMetrics {
        precision: if pr_div > 0.0 { relevant / pr_div } else { 0.0 },
        map: map / total,
        ndcg: ndcg / total,
        auc: auc / total,
        users: users.len(),
    })
}
