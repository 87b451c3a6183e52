use std::path::PathBuf;

use super::*;
use crate::data::{ml100k_fold, DuplicatePolicy, Interactions};
use crate::metrics::rmse;
use crate::persist::Persist;
use crate::Error;

/// A small rating set with structure (two user groups with opposite tastes) and a cold item.
fn toy() -> Interactions {
    let mut t = Vec::new();
    for u in 0..60u32 {
        for i in 0..30u32 {
            if (u * 7 + i * 3) % 4 == 0 {
                continue;
            }
            let like = (u % 2 == 0) == (i < 15);
            let r = if like { 4.0 + ((u + i) % 2) as f32 } else { 1.0 + ((u * i) % 2) as f32 };
            t.push((u, i, r));
        }
    }
    Interactions::from_triples(t, DuplicatePolicy::Error).unwrap()
}

fn models(data: &Interactions) -> Vec<(&'static str, Box<dyn RatingPredictor>)> {
    vec![
        ("baseline", Box::new(BaselineParams::default().fit(data).unwrap())),
        ("funk", Box::new(FunkSVDParams::default().factors(8).epochs(30).fit(data).unwrap())),
        ("svdpp", Box::new(SVDppParams::default().factors(8).epochs(30).fit(data).unwrap())),
        ("knn-item", Box::new(KNNParams::default().k(10).fit(data).unwrap())),
        ("knn-user", Box::new(KNNParams::default().user_based(true).k(10).fit(data).unwrap())),
    ]
}

#[test]
fn every_model_predicts_in_scale_and_learns_structure() {
    let data = toy();
    for (name, m) in models(&data) {
        let mut sq = 0.0;
        for (u, i, r) in data.iter() {
            let p = m.predict_index(Some(u), Some(i));
            assert!((1.0..=5.0).contains(&p.value), "{name}: {p:?}");
            assert_eq!(p.status, PredictionStatus::Model, "{name}");
            sq += ((p.value - r) as f64).powi(2);
        }
        let train_rmse = (sq / data.nnz() as f64).sqrt();
        if name != "baseline" {
            // The baseline cannot see the two taste groups; the others must.
            assert!(train_rmse < 1.0, "{name}: train RMSE {train_rmse}");
        }
    }
}

#[test]
fn unknown_ids_fall_back_with_a_flag() {
    let data = toy();
    for (name, m) in models(&data) {
        let p = m.predict(&ExternalId::from(9999), &ExternalId::from(3));
        assert_eq!(p.status, PredictionStatus::UnknownUser, "{name}");
        let p = m.predict(&ExternalId::from(3), &ExternalId::from("nope"));
        assert_eq!(p.status, PredictionStatus::UnknownItem, "{name}");
        let p = m.predict(&ExternalId::from("x"), &ExternalId::from("y"));
        assert_eq!(p.status, PredictionStatus::UnknownUserAndItem, "{name}");
        assert!(p.is_fallback() && (1.0..=5.0).contains(&p.value));
    }
}

#[test]
fn recommend_excludes_rated_and_ranks_liked_items_first() {
    let data = toy();
    let user = ExternalId::from(0); // an even user: likes items < 15
    let rated: Vec<usize> = data.row(0).0.to_vec();
    for (name, m) in models(&data) {
        let top = m.recommend(&user, 5, &Filter::new().exclude_seen(true)).unwrap().items;
        assert_eq!(top.len(), 5, "{name}");
        for (id, s) in &top {
            let idx = data.items().index(id).unwrap();
            assert!(!rated.contains(&idx), "{name}: rated item {id} recommended");
            assert!((1.0..=5.0).contains(s));
        }
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1), "{name}: not sorted");
        if name != "baseline" {
            let liked = top.iter().filter(|(id, _)| matches!(id, ExternalId::Int(i) if *i < 15)).count();
            assert!(liked >= 3, "{name}: only {liked} of 5 from the liked half: {top:?}");
        }
        let all = m.recommend(&user, 100, &Filter::new()).unwrap().items;
        assert_eq!(all.len(), data.n_items());
        let denied = m.recommend(&user, 100, &Filter::new().deny([0, 1])).unwrap().items;
        assert_eq!(denied.len(), data.n_items() - 2);
        assert!(m.recommend(&user, 0, &Filter::new()).is_err());
        assert!(m.recommend(&user, 3, &Filter::new().deny([500])).is_err());
    }
}

#[test]
fn predict_batch_matches_predict_and_checks_lengths() {
    let data = toy();
    let m = FunkSVDParams::default().factors(4).epochs(5).fit(&data).unwrap();
    let users: Vec<ExternalId> = (0..40).map(ExternalId::from).collect();
    let items: Vec<ExternalId> = (0..40).map(|i| ExternalId::from(i % 31)).collect();
    let batch = m.predict_batch(&users, &items).unwrap();
    for ((u, i), p) in users.iter().zip(&items).zip(&batch) {
        assert_eq!(*p, m.predict(u, i));
    }
    assert!(m.predict_batch(&users, &items[..3]).is_err());
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let data = toy();
    // The toy set is small enough for the automatic grid to be 1 x 1; ask for a real grid.
    assert_eq!(FunkSVDParams::default().grid(data.nnz()), 1);
    let p = FunkSVDParams::default().factors(8).epochs(5).seed(3).blocks(Some(4));
    let fit = |t| p.clone().num_threads(Some(t)).fit(&data);
    let (a, b) = (fit(1).unwrap(), fit(2).unwrap());
    assert_eq!(a.user_factors(), b.user_factors());
    assert_eq!(a.item_factors(), b.item_factors());
    assert_eq!(a.history(), b.history());
    assert_eq!(fit(3).unwrap().item_factors(), a.item_factors());
    let c = FunkSVDParams::default().factors(8).epochs(5).seed(4).fit(&data).unwrap();
    assert_ne!(a.user_factors(), c.user_factors(), "the seed must matter");
    let fit = |t| SVDppParams::default().factors(8).epochs(5).num_threads(Some(t)).fit(&data);
    assert_eq!(fit(1).unwrap().implicit_factors(), fit(2).unwrap().implicit_factors());
    let fit = |t| KNNParams::default().num_threads(Some(t)).fit(&data);
    let (a, b) = (fit(1).unwrap(), fit(2).unwrap());
    assert_eq!(a.neighbours(3), b.neighbours(3));
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let data = toy();
    let p = FunkSVDParams::default().factors(8).epochs(60).lr(0.05).validation_fraction(0.2).patience(2);
    let m = p.fit(&data).unwrap();
    let h = m.history();
    assert!(!h.validation_rmse.is_empty());
    let best = h.validation_rmse.iter().cloned().fold(f32::INFINITY, f32::min);
    assert_eq!(h.validation_rmse[h.best_epoch], best);
}

#[test]
fn every_similarity_and_variant_works() {
    let data = toy();
    for sim in [Similarity::Cosine, Similarity::Pearson, Similarity::PearsonBaseline, Similarity::Msd] {
        for variant in [KnnVariant::Basic, KnnVariant::WithMeans, KnnVariant::WithZScore, KnnVariant::WithBaseline] {
            for user_based in [false, true] {
                let p = KNNParams::default().similarity(sim).variant(variant).user_based(user_based).k(10);
                let m = p.fit(&data).unwrap();
                let (y, yhat): (Vec<f64>, Vec<f64>) =
                    data.iter().map(|(u, i, r)| (r as f64, m.predict_index(Some(u), Some(i)).value as f64)).unzip();
                let e = rmse(&y, &yhat).unwrap();
                assert!(e < 1.3, "{sim:?} {variant:?} user_based={user_based}: train RMSE {e}");
            }
        }
    }
    // Bounded neighbour lists.
    let m = KNNParams::default().max_neighbours(Some(3)).fit(&data).unwrap();
    assert!((0..data.n_items()).all(|i| m.neighbours(i).unwrap().0.len() <= 3));
    // min_k above what any pair offers: every prediction falls back and says so.
    let m = KNNParams::default().k(500).min_k(500).fit(&data).unwrap();
    assert_eq!(m.predict_index(Some(0), Some(0)).status, PredictionStatus::TooFewNeighbours);
}

#[test]
fn bad_input_is_a_typed_error() {
    let empty = Interactions::from_triples(Vec::<(u32, u32, f32)>::new(), DuplicatePolicy::Error).unwrap();
    assert!(matches!(FunkSVDParams::default().fit(&empty), Err(Error::InvalidInput(_))));
    assert!(matches!(KNNParams::default().fit(&empty), Err(Error::InvalidInput(_))));
    let data = toy();
    let fixed = RatingScale::Fixed(1.0, 4.0);
    let err = BaselineParams::default().scale(fixed).fit(&data).unwrap_err();
    assert!(err.to_string().contains("outside the declared scale"), "{err}");
    assert!(SVDppParams::default().scale(RatingScale::Fixed(5.0, 1.0)).fit(&data).is_err());
    assert!(FunkSVDParams::default().factors(0).fit(&data).is_err());
    assert!(FunkSVDParams::default().lr(f32::NAN).fit(&data).is_err());
    assert!(FunkSVDParams::default().num_threads(Some(0)).fit(&data).is_err());
    assert!(KNNParams::default().k(5).min_k(6).fit(&data).is_err());
    // A rank above min(n_users, n_items) = min(60, 30).
    for k in [31, 100] {
        let err = FunkSVDParams::default().factors(k).fit(&data).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)) && err.to_string().contains("min(n_users, n_items)"), "{err}");
        let err = SVDppParams::default().factors(k).epochs(1).fit(&data).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    }
    assert!(FunkSVDParams::default().factors(30).epochs(1).fit(&data).is_ok());
    let diverged = FunkSVDParams::default().lr(50.0).lr_decay(1.0).epochs(50).fit(&data);
    assert!(matches!(diverged, Err(Error::InvalidInput(_))), "divergence must be reported");
    // A declared scale wider than the data clips to itself.
    let m = BaselineParams::default().scale(RatingScale::Fixed(0.0, 10.0)).fit(&data).unwrap();
    assert_eq!(m.scale(), (0.0, 10.0));
}

fn round_trip<M: Persist + RatingPredictor>(m: &M, data: &Interactions) {
    let bytes = m.to_bytes().unwrap();
    let back = M::from_bytes(bytes.clone()).unwrap();
    for (u, i, _) in data.iter().step_by(7) {
        assert_eq!(m.predict_index(Some(u), Some(i)), back.predict_index(Some(u), Some(i)));
    }
    let mut bad = bytes.clone();
    let at = bad.len() - 5;
    bad[at] ^= 0x55;
    assert!(matches!(M::from_bytes(bad), Err(Error::ModelFormat(_))));
    assert!(matches!(M::from_bytes(bytes[..bytes.len() / 2].to_vec()), Err(Error::ModelFormat(_))));
}

#[test]
fn models_round_trip_through_the_file_format() {
    let data = toy();
    round_trip(&BaselineParams::default().fit(&data).unwrap(), &data);
    round_trip(&FunkSVDParams::default().factors(5).epochs(3).fit(&data).unwrap(), &data);
    round_trip(&SVDppParams::default().factors(5).epochs(3).fit(&data).unwrap(), &data);
    round_trip(&KNNParams::default().fit(&data).unwrap(), &data);
    round_trip(&KNNParams::default().user_based(true).fit(&data).unwrap(), &data);
    let m = BaselineParams::default().fit(&data).unwrap();
    assert!(matches!(FunkSVD::from_bytes(m.to_bytes().unwrap()), Err(Error::ModelFormat(_))), "wrong kind");
}

fn ml100k() -> Option<PathBuf> {
    let base = crate::testdata::dataset("movielens-100k/u1.base", "MovieLens-100k tests")?;
    Some(base.parent()?.to_path_buf())
}

fn mean_rmse(dir: &std::path::Path, fit: impl Fn(&Interactions) -> Box<dyn RatingPredictor>) -> f64 {
    let mut total = 0.0;
    for k in 1..=5 {
        let (train, test) = ml100k_fold(dir, k).unwrap();
        let m = fit(&train);
        let (y, p): (Vec<f64>, Vec<f64>) =
            test.iter().map(|(u, i, r)| (r as f64, m.predict_index(Some(u), Some(i)).value as f64)).unzip();
        total += rmse(&y, &p).unwrap();
    }
    total / 5.0
}

/// The quality bounds on the five official folds, with the shipped defaults.
#[test]
fn movielens_100k_rmse_bounds() {
    let Some(dir) = ml100k() else { return };
    let base = mean_rmse(&dir, |d| Box::new(BaselineParams::default().fit(d).unwrap()));
    let funk = mean_rmse(&dir, |d| Box::new(FunkSVDParams::default().fit(d).unwrap()));
    let svdpp = mean_rmse(&dir, |d| Box::new(SVDppParams::default().fit(d).unwrap()));
    let knn = mean_rmse(&dir, |d| Box::new(KNNParams::default().fit(d).unwrap()));
    eprintln!("ml-100k 5-fold RMSE: baseline {base:.4} funk {funk:.4} svdpp {svdpp:.4} knn {knn:.4}");
    assert!(base <= 0.945, "Baseline RMSE {base}");
    assert!(funk <= 0.912, "FunkSVD RMSE {funk}");
    assert!(svdpp <= 0.910, "SVDpp RMSE {svdpp}");
    assert!(knn <= 0.916, "KNN RMSE {knn}");
}
