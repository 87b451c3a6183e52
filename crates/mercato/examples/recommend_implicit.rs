//! Last.fm-2k end to end: per-user 80/20 split, ALS / BPR / item kNN, implicit's metrics.
//!
//! `cargo run --release -p mercato --example recommend_implicit [path/to/user_artists.dat]`

use std::time::Instant;

use mercato::data::{holdout_per_user, load_lastfm};
use mercato::recommend::{
    bm25_items, ranking_metrics_at_k, Als, Bpr, Confidence, Filter, ItemKnn, KnnWeighting, NegativeSampling,
    Recommender, Rows,
};

fn main() -> mercato::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        let root = std::env::var("MERCATO_DATA")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets").to_string());
        format!("{root}/lastfm-2k/user_artists.dat")
    });
    let data = load_lastfm(&path)?;
    let (train, test) = holdout_per_user(&data, 0.2, 42)?;
    let weighted = bm25_items(&train, 100.0, 0.8)?;
    let train_rows = Rows::from_csmat(train.matrix())?;
    let test_rows = Rows::from_csmat(test.matrix())?;
    println!("{} users, {} items, train {} / test {}", data.n_users(), data.n_items(), train.nnz(), test.nnz());

    let report = |name: &str, fit_s: f64, model: &dyn Recommender| -> mercato::Result<()> {
        let m = ranking_metrics_at_k(model, &train_rows, &test_rows, 10)?;
        let users: Vec<usize> = (0..model.n_users()).collect();
        let t = Instant::now();
        let recs = model.recommend_batch(&users, 10, &Filter::new().exclude_seen(true))?;
        let top_s = t.elapsed().as_secs_f64();
        println!(
            "{name:<28} fit {fit_s:7.3}s  P@10 {:.4}  NDCG@10 {:.4}  MAP@10 {:.4}  AUC {:.4}  top-10 all {:.4}s ({} lists)",
            m.precision, m.ndcg, m.map, m.auc, top_s, recs.len()
        );
        Ok(())
    };

    let t = Instant::now();
    let als =
        Als::params().factors(64).regularization(0.05).alpha(2.0).confidence(Confidence::Linear).fit(&weighted)?;
    report("ALS bm25 (implicit example)", t.elapsed().as_secs_f64(), &als)?;
    let t = Instant::now();
    let als = Als::params().fit(&train)?;
    report("ALS defaults, raw counts", t.elapsed().as_secs_f64(), &als)?;
    let t = Instant::now();
    let bpr = Bpr::params().factors(64).iterations(100).fit(&train)?;
    report("BPR 64f 100 it uniform", t.elapsed().as_secs_f64(), &bpr)?;
    let t = Instant::now();
    let bpr = Bpr::params().factors(64).iterations(100).negative_sampling(NegativeSampling::Popularity).fit(&train)?;
    report("BPR 64f 100 it popularity", t.elapsed().as_secs_f64(), &bpr)?;
    let t = Instant::now();
    let knn = ItemKnn::params().k(100).weighting(KnnWeighting::Cosine).fit(&train)?;
    report("ItemKNN cosine K=100", t.elapsed().as_secs_f64(), &knn)?;
    Ok(())
}
