//! Property tests (proptest): id maps, splits, metric invariants, save → load → predict
//! identity and thread-count invariance of the seeded models (ALS, BPR, item kNN, FunkSVD,
//! SVD++, HybridMF with and without item features, truncated SVD, isolation forest). Case
//! counts are small so that `cargo test` stays fast; failing cases shrink to a minimal example.

use proptest::prelude::*;

use crate::data::{holdout_per_user, k_fold, DuplicatePolicy, ExternalId, IdMap, Interactions};
use crate::fraud::{Detector, Ecod, EcodParams, IsolationForest, IsolationForestParams};
use crate::metrics::{mae, ndcg_at_k, precision_at_k, rmse, roc_auc};
use crate::persist::Persist;
use crate::recommend::hybrid::{Features, HybridMF, HybridMFParams, Loss, Schedule};
use crate::recommend::{
    Als, Bpr, Centering, Filter, FunkSVD, FunkSVDParams, ItemKnn, RatingPredictor, Recommender, Rows, SVDpp,
    SVDppParams, SvdAlgorithm, SvdParams, TruncatedSvd,
};

fn external_id() -> impl Strategy<Value = ExternalId> {
    prop_oneof![
        any::<i64>().prop_map(ExternalId::Int),
        any::<u64>().prop_map(ExternalId::from_u64),
        "[a-z0-9]{0,6}".prop_map(ExternalId::Str),
    ]
}

/// Small interaction sets: (user, item, value) with values in 1..5.
fn triples(max_users: u32, max_items: u32) -> impl Strategy<Value = Vec<(u32, u32, f32)>> {
    prop::collection::vec((0..max_users, 0..max_items, 1u8..=5).prop_map(|(u, i, v)| (u, i, v as f32)), 1..120)
}

fn interactions(t: &[(u32, u32, f32)]) -> Interactions {
    Interactions::from_triples(t.iter().copied(), DuplicatePolicy::Sum).expect("valid triples")
}

fn rows_of(x: &Interactions) -> Rows {
    Rows::from_csmat(x.matrix()).expect("valid rows")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn idmap_indexes_every_id_once(ids in prop::collection::vec(external_id(), 0..60)) {
        let mut map = IdMap::new();
        let idx: Vec<usize> = ids.iter().map(|id| map.insert(id.clone())).collect();
        for (id, &i) in ids.iter().zip(&idx) {
            prop_assert_eq!(map.index(id), Some(i));
            prop_assert_eq!(map.id(i), id);
            prop_assert_eq!(map.insert(id.clone()), i, "insert is idempotent");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        prop_assert_eq!(map.len(), distinct.len());
        let back: IdMap = serde_json::from_str(&serde_json::to_string(&map).unwrap()).unwrap();
        prop_assert_eq!(&back, &map);
        for id in ids.iter() {
            prop_assert_eq!(back.index(id), map.index(id));
        }
    }

    #[test]
    fn parsed_ids_round_trip_through_display(v in any::<u64>(), w in any::<i64>()) {
        prop_assert_eq!(ExternalId::parse(&v.to_string()), ExternalId::from_u64(v));
        prop_assert_eq!(ExternalId::parse(&w.to_string()), ExternalId::Int(w));
    }

    #[test]
    fn k_fold_partitions_the_entries(t in triples(12, 10), k in 2usize..5, seed in any::<u64>()) {
        let x = interactions(&t);
        prop_assume!(x.nnz() >= k);
        let folds = k_fold(&x, k, seed).unwrap();
        let mut all = x.to_indexed();
        all.sort_by_key(|e| (e.0, e.1));
        let mut tests = Vec::new();
        for (train, test) in &folds {
            prop_assert_eq!(train.nnz() + test.nnz(), x.nnz());
            tests.extend(test.to_indexed());
        }
        tests.sort_by_key(|e| (e.0, e.1));
        prop_assert_eq!(tests, all, "each entry is in exactly one test fold");
    }

    #[test]
    fn holdout_keeps_a_training_entry_per_user(t in triples(10, 12), frac in 0.05f64..0.95, seed in any::<u64>()) {
        let x = interactions(&t);
        let (train, test) = holdout_per_user(&x, frac, seed).unwrap();
        prop_assert_eq!(train.nnz() + test.nnz(), x.nnz());
        for u in 0..x.n_users() {
            if !x.row(u).0.is_empty() {
                prop_assert!(!train.row(u).0.is_empty(), "user {} lost every training entry", u);
            }
        }
        prop_assert_eq!(holdout_per_user(&x, frac, seed).unwrap().1.to_indexed(), test.to_indexed());
    }

    #[test]
    fn auc_is_rank_based_and_symmetric(
        pairs in prop::collection::vec((-1e3f64..1e3, 0u8..=1), 2..80),
    ) {
        let (scores, labels): (Vec<f64>, Vec<u8>) = pairs.into_iter().unzip();
        prop_assume!(labels.contains(&0) && labels.contains(&1));
        let auc = roc_auc(&scores, &labels).unwrap();
        prop_assert!((0.0..=1.0).contains(&auc));
        let flipped: Vec<f64> = scores.iter().map(|s| -s).collect();
        prop_assert!((auc + roc_auc(&flipped, &labels).unwrap() - 1.0).abs() < 1e-12);
        // any strictly increasing transform keeps the ranking, hence the AUC
        let squashed: Vec<f64> = scores.iter().map(|s| (s / 100.0).tanh() * 7.0 + 3.0).collect();
        prop_assert!((auc - roc_auc(&squashed, &labels).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn rmse_bounds_mae(y in prop::collection::vec((-50f64..50.0, -50f64..50.0), 1..60)) {
        let (a, b): (Vec<f64>, Vec<f64>) = y.into_iter().unzip();
        let (r, m) = (rmse(&a, &b).unwrap(), mae(&a, &b).unwrap());
        prop_assert!(r + 1e-12 >= m && m >= 0.0);
        prop_assert_eq!(rmse(&a, &a).unwrap(), 0.0);
    }

    #[test]
    fn ranking_metrics_stay_in_unit_interval(
        rec in prop::collection::vec(0usize..30, 0..20),
        rel in prop::collection::btree_set(0usize..30, 1..10),
        k in 1usize..15,
    ) {
        let mut rec = rec;
        let mut seen = std::collections::HashSet::new();
        rec.retain(|i| seen.insert(*i));
        let rel: Vec<usize> = rel.into_iter().collect(); // sorted, distinct
        let p = precision_at_k(&rec, &rel, k).unwrap();
        let n = ndcg_at_k(&rec, &rel, k).unwrap();
        prop_assert!((0.0..=1.0).contains(&p) && (0.0..=1.0 + 1e-12).contains(&n), "p {} ndcg {}", p, n);
        // the relevant items first is the ideal ranking
        prop_assert!((ndcg_at_k(&rel, &rel, k).unwrap() - 1.0).abs() < 1e-9);
    }
}

proptest! {
    // model fits: few cases, tiny data
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn implicit_models_save_load_serve_identically_at_any_thread_count(t in triples(15, 12), seed in any::<u64>()) {
        let rows = rows_of(&interactions(&t));
        let users: Vec<usize> = (0..rows.n_rows()).collect();
        let f = Filter::new().exclude_seen(true);
        let fit_als = |th| Als::params().factors(4).iterations(3).seed(seed).num_threads(Some(th)).fit_rows(&rows).unwrap();
        let (a1, a3) = (fit_als(1), fit_als(3));
        prop_assert_eq!(a1.user_factors(), a3.user_factors());
        let back = Als::from_bytes(a1.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(back.recommend_batch(&users, 5, &f).unwrap(), a1.recommend_batch(&users, 5, &f).unwrap());

        let fit_bpr = |th| Bpr::params().factors(4).iterations(5).seed(seed).num_threads(Some(th)).fit_rows(&rows).unwrap();
        let (b1, b3) = (fit_bpr(1), fit_bpr(3));
        prop_assert_eq!(b1.item_factors(), b3.item_factors());
        let back = Bpr::from_bytes(b1.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(back.recommend_batch(&users, 5, &f).unwrap(), b1.recommend_batch(&users, 5, &f).unwrap());

        let fit_knn = |th| ItemKnn::params().k(4).num_threads(Some(th)).fit_rows(&rows).unwrap();
        let (k1, k3) = (fit_knn(1), fit_knn(3));
        prop_assert_eq!(k1.similarity(), k3.similarity());
        let back = ItemKnn::from_bytes(k1.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(back.recommend_batch(&users, 5, &f).unwrap(), k1.recommend_batch(&users, 5, &f).unwrap());
    }

    #[test]
    fn funk_svd_save_load_predicts_identically_at_any_thread_count(t in triples(15, 12), seed in any::<u64>()) {
        let x = interactions(&t);
        // the rank may not exceed min(n_users, n_items), which a small random sample can make < 3
        let k = 3.min(x.n_users()).min(x.n_items()).max(1);
        let p = FunkSVDParams::default().factors(k).epochs(4).seed(seed);
        let m1 = p.clone().num_threads(Some(1)).fit(&x).unwrap();
        let m3 = p.num_threads(Some(3)).fit(&x).unwrap();
        let back = FunkSVD::from_bytes(m1.to_bytes().unwrap()).unwrap();
        for u in 0..x.n_users() {
            for i in 0..x.n_items() {
                let (uid, iid) = (x.users().id(u).clone(), x.items().id(i).clone());
                let a = m1.predict(&uid, &iid);
                prop_assert_eq!(a, m3.predict(&uid, &iid));
                prop_assert_eq!(a, back.predict(&uid, &iid));
            }
        }
    }

    #[test]
    fn svdpp_save_load_predicts_identically_at_any_thread_count(t in triples(15, 12), seed in any::<u64>()) {
        let x = interactions(&t);
        let k = 3.min(x.n_users()).min(x.n_items()).max(1);
        let p = SVDppParams::default().factors(k).epochs(4).seed(seed);
        let fits: Vec<SVDpp> = [1, 2, 3].iter().map(|&th| p.clone().num_threads(Some(th)).fit(&x).unwrap()).collect();
        for m in &fits[1..] {
            prop_assert_eq!(m.user_factors(), fits[0].user_factors());
            prop_assert_eq!(m.item_factors(), fits[0].item_factors());
            prop_assert_eq!(m.implicit_factors(), fits[0].implicit_factors());
        }
        let back = SVDpp::from_bytes(fits[0].to_bytes().unwrap()).unwrap();
        for u in 0..x.n_users() {
            for i in 0..x.n_items() {
                let (uid, iid) = (x.users().id(u).clone(), x.items().id(i).clone());
                let a = fits[0].predict(&uid, &iid);
                for m in &fits[1..] {
                    prop_assert_eq!(a, m.predict(&uid, &iid));
                }
                prop_assert_eq!(a, back.predict(&uid, &iid));
            }
        }
    }

    #[test]
    fn hybrid_mf_save_load_serves_identically_at_any_thread_count(
        t in triples(15, 12),
        seed in any::<u64>(),
        loss in prop_oneof![Just(Loss::Warp), Just(Loss::Bpr), Just(Loss::Logistic), Just(Loss::WarpKos)],
        blocks in 1usize..4,
        with_features in any::<bool>(),
        schedule in prop_oneof![Just(Schedule::Adagrad), Just(Schedule::Adadelta)],
    ) {
        let x = interactions(&t);
        // items carry one of 3 categories plus a feature shared by all (crossing every block)
        let item_features = Features::from_rows(
            4,
            (0..x.n_items()).map(|i| vec![(i % 3, 1.0), (3, 0.5)]),
        ).unwrap();
        let itf = with_features.then_some(&item_features);
        let p =
            HybridMFParams::default().factors(4).epochs(3).loss(loss).schedule(schedule).blocks(Some(blocks)).seed(seed);
        let fits: Vec<HybridMF> =
            [1, 2, 3].iter().map(|&th| p.clone().num_threads(Some(th)).fit(&x, None, itf).unwrap()).collect();
        let users: Vec<usize> = (0..x.n_users()).collect();
        let (pu, pi): (Vec<usize>, Vec<usize>) =
            (0..x.n_users()).flat_map(|u| (0..x.n_items()).map(move |i| (u, i))).unzip();
        let f = Filter::new().exclude_seen(true);
        let predicted = fits[0].predict(&pu, &pi).unwrap();
        let recommended = fits[0].recommend(&users, 5, &f).unwrap();
        for m in &fits[1..] {
            prop_assert_eq!(m.known_user_reprs().embeddings(), fits[0].known_user_reprs().embeddings());
            prop_assert_eq!(m.known_item_reprs().embeddings(), fits[0].known_item_reprs().embeddings());
            prop_assert_eq!(m.known_item_reprs().biases(), fits[0].known_item_reprs().biases());
            prop_assert_eq!(&m.predict(&pu, &pi).unwrap(), &predicted);
            prop_assert_eq!(&m.recommend(&users, 5, &f).unwrap(), &recommended);
        }
        if let Some(features) = itf {
            // cold-start representations of the same items, from their features alone
            let cold: Vec<_> = fits.iter().map(|m| m.item_reprs(features).unwrap().embeddings()).collect();
            prop_assert!(cold.iter().all(|c| c == &cold[0]));
        }
        let back = HybridMF::from_bytes(fits[0].to_bytes().unwrap()).unwrap();
        prop_assert_eq!(&back.predict(&pu, &pi).unwrap(), &predicted);
        prop_assert_eq!(&back.recommend(&users, 5, &f).unwrap(), &recommended);
    }

    #[test]
    fn truncated_svd_save_load_is_identical_at_any_thread_count(
        t in triples(15, 12),
        seed in any::<u64>(),
        accurate in any::<bool>(),
        center in prop_oneof![Just(Centering::None), Just(Centering::Global), Just(Centering::User)],
    ) {
        let x = interactions(&t);
        let k = 3.min(x.n_users()).min(x.n_items()).max(1);
        let algorithm = if accurate { SvdAlgorithm::Accurate } else { SvdAlgorithm::Randomized };
        let p = SvdParams::new(k).algorithm(algorithm).center(center).seed(seed);
        let fits: Vec<_> = [1, 2, 3].iter().map(|&th| p.clone().num_threads(Some(th)).fit(&x)).collect();
        if let Err(e) = &fits[0] {
            // e.g. a centred matrix that is all zeros: the same typed error at every count
            for r in &fits[1..] {
                prop_assert_eq!(r.as_ref().err().map(|e| e.to_string()), Some(e.to_string()));
            }
            return Ok(());
        }
        let fits: Vec<TruncatedSvd> = fits.into_iter().map(Result::unwrap).collect();
        for m in &fits[1..] {
            prop_assert_eq!(m.u(), fits[0].u());
            prop_assert_eq!(m.s(), fits[0].s());
            prop_assert_eq!(m.vt(), fits[0].vt());
        }
        let back = TruncatedSvd::from_bytes(fits[0].to_bytes().unwrap()).unwrap();
        for u in 0..x.n_users() {
            let scores = fits[0].scores(u).unwrap();
            for m in &fits[1..] {
                prop_assert_eq!(&m.scores(u).unwrap(), &scores);
            }
            prop_assert_eq!(&back.scores(u).unwrap(), &scores);
            for i in 0..x.n_items() {
                let (uid, iid) = (x.users().id(u).clone(), x.items().id(i).clone());
                let a = fits[0].predict(&uid, &iid);
                prop_assert_eq!(&a, &back.predict(&uid, &iid));
                for m in &fits[1..] {
                    prop_assert_eq!(&a, &m.predict(&uid, &iid));
                }
            }
        }
    }

    #[test]
    fn detectors_save_load_score_identically_at_any_thread_count(
        cells in prop::collection::vec(-10f64..10.0, 30..120),
        seed in any::<u64>(),
    ) {
        let n = cells.len() / 3;
        let x = ndarray::Array2::from_shape_vec((n, 3), cells[..n * 3].to_vec()).unwrap();
        let f1 = IsolationForestParams::default().seed(seed).n_estimators(20).num_threads(Some(1)).fit(&x.view()).unwrap();
        let f3 = IsolationForestParams::default().seed(seed).n_estimators(20).num_threads(Some(3)).fit(&x.view()).unwrap();
        let s1 = f1.score(&x.view()).unwrap();
        prop_assert_eq!(&s1, &f3.score(&x.view()).unwrap());
        prop_assert_eq!(&s1, &IsolationForest::from_bytes(f1.to_bytes().unwrap()).unwrap().score(&x.view()).unwrap());
        let e = EcodParams::default().fit(&x.view()).unwrap();
        let back = Ecod::from_bytes(e.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(e.score(&x.view()).unwrap(), back.score(&x.view()).unwrap());
    }
}
