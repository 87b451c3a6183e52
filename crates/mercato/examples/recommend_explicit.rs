//! Quick start for the explicit-rating models (the README snippet):
//! `cargo run --release -p mercato --example recommend_explicit`

use mercato::data::ml100k_fold;
use mercato::metrics::rmse;
use mercato::persist::Persist;
use mercato::recommend::{Filter, FunkSVD, FunkSVDParams, KNNParams, RatingPredictor};

fn main() -> mercato::Result<()> {
    let data = std::env::var("MERCATO_DATA").unwrap_or_else(|_| "../shared/datasets".into());
    let (train, test) = ml100k_fold(format!("{data}/movielens-100k"), 1)?;

    let model = FunkSVDParams::default().seed(42).num_threads(Some(2)).fit(&train)?;
    let p = model.predict(&196.into(), &242.into()); // MovieLens user 196, movie 242
    println!("user 196, movie 242: {:.2} (fallback: {})", p.value, p.is_fallback());
    let top = model.recommend(&196.into(), 5, &Filter::new().exclude_seen(true))?.items;
    println!("top-5 for user 196: {top:?}");

    let knn = KNNParams::default().fit(&train)?;
    let (y, yhat): (Vec<f64>, Vec<f64>) =
        test.iter().map(|(u, i, r)| (r as f64, knn.predict_index(Some(u), Some(i)).value as f64)).unzip();
    println!("item-kNN RMSE on u1.test: {:.4}", rmse(&y, &yhat)?);

    model.save("/tmp/funk.mercato")?;
    assert_eq!(FunkSVD::load("/tmp/funk.mercato")?.predict(&196.into(), &242.into()), p);
    Ok(())
}
