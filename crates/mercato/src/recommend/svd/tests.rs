use super::*;
use crate::data::{DuplicatePolicy, ExternalId};
use crate::recommend::{Filter, IdRecommender, PredictionStatus};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A random sparse n × m matrix with a decaying spectrum: a rank-r signal with weights
/// 1, 1/2, 1/3, ... sampled at `density` of the positions, plus small noise.
fn random_sparse(n: usize, m: usize, density: f64, seed: u64) -> CsMat<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let r = 8;
    let a: Vec<f64> = (0..n * r).map(|_| rng.random::<f64>() - 0.5).collect();
    let b: Vec<f64> = (0..m * r).map(|_| rng.random::<f64>() - 0.5).collect();
    let mut tri = sprs::TriMat::new((n, m));
    for i in 0..n {
        for j in 0..m {
            if rng.random::<f64>() < density {
                let mut v = 0.0;
                for t in 0..r {
                    v += a[i * r + t] * b[j * r + t] * 10.0 / (t + 1) as f64;
                }
                v += 0.05 * (rng.random::<f64>() - 0.5);
                tri.add_triplet(i, j, v as f32);
            }
        }
    }
    tri.to_csr()
}

fn dense(m: &CsMat<f32>) -> DMatrix<f64> {
    let mut d = DMatrix::zeros(m.rows(), m.cols());
    for (v, (i, j)) in m.iter() {
        d[(i, j)] = f64::from(*v);
    }
    d
}

fn dense_singular_values(m: &CsMat<f32>) -> Vec<f64> {
    let mut s: Vec<f64> = dense(m).singular_values().iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

fn fit(m: &CsMat<f32>, p: SvdParams) -> TruncatedSvd {
    p.fit_csr(m).unwrap()
}

#[test]
fn singular_values_match_dense_svd_both_modes() {
    for (n, m) in [(80, 50), (45, 90)] {
        let a = random_sparse(n, m, 0.3, 1);
        let exact = dense_singular_values(&a);
        let k = 6;
        let acc = fit(&a, SvdParams::new(k).algorithm(SvdAlgorithm::Accurate));
        assert!(acc.info().converged);
        for (i, &e) in exact.iter().enumerate().take(k) {
            let rel = (acc.s()[i] - e).abs() / e;
            assert!(rel < 1e-9, "{n}x{m} accurate σ{i}: {} vs {e}", acc.s()[i]);
        }
        let rnd = fit(&a, SvdParams::new(k).n_iter(Some(30)));
        for (i, &e) in exact.iter().enumerate().take(k) {
            let rel = (rnd.s()[i] - e).abs() / e;
            assert!(rel < 1e-6, "{n}x{m} randomized σ{i}: {} vs {e}", rnd.s()[i]);
        }
        // Default ('auto') iterations: error within 1% of the optimal rank-k error.
        let def = fit(&a, SvdParams::new(k));
        let total: f64 = exact.iter().map(|s| s * s).sum();
        let optimal = (exact[k..].iter().map(|s| s * s).sum::<f64>() / total).sqrt();
        assert!(def.reconstruction_error() <= optimal * 1.01, "{} vs {optimal}", def.reconstruction_error());
        assert!((acc.reconstruction_error() - optimal).abs() < 1e-7 * optimal.max(1e-3));
    }
}

#[test]
fn factors_are_orthonormal_and_consistent() {
    let a = random_sparse(70, 40, 0.4, 2);
    let d = dense(&a);
    for algo in [SvdAlgorithm::Randomized, SvdAlgorithm::Accurate] {
        let f = fit(&a, SvdParams::new(5).algorithm(algo).n_iter(Some(20)));
        let u = DMatrix::from_fn(70, 5, |i, j| f.u()[[i, j]]);
        let vt = DMatrix::from_fn(5, 40, |i, j| f.vt()[[i, j]]);
        let utu = u.transpose() * &u;
        let vvt = &vt * vt.transpose();
        assert!((utu - DMatrix::identity(5, 5)).abs().max() < 1e-8, "{algo:?} U not orthonormal");
        assert!((vvt - DMatrix::identity(5, 5)).abs().max() < 1e-8, "{algo:?} V not orthonormal");
        // A v_i ≈ σ_i u_i.
        let av = &d * vt.transpose();
        for c in 0..5 {
            let diff = (av.column(c) - u.column(c) * f.s()[c]).norm();
            assert!(diff < 1e-3 * f.s()[0], "{algo:?} component {c}: residual {diff}");
        }
        // Reconstruction error equals the explicit dense computation.
        let s = DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(5, f.s().iter().copied()));
        let explicit = (&d - &u * s * &vt).norm() / d.norm();
        assert!((explicit - f.reconstruction_error()).abs() < 1e-9, "{explicit} vs {}", f.reconstruction_error());
    }
}

#[test]
fn centred_error_is_explicit_error() {
    let a = random_sparse(50, 30, 0.3, 3);
    let a = CsMat::new(a.shape(), a.indptr().to_owned().into_raw_storage(), a.indices().to_vec(), {
        a.data().iter().map(|v| v + 3.0).collect::<Vec<f32>>()
    });
    for center in [Centering::Global, Centering::User] {
        let f = fit(&a, SvdParams::new(4).algorithm(SvdAlgorithm::Accurate).center(center));
        let data = Interactions::from_csr(a.clone()).unwrap();
        // Centred matrix, densely: stored entries minus the mean, absent entries zero.
        let mut c = DMatrix::<f64>::zeros(50, 30);
        for (u, i, v) in data.iter() {
            let mean = match center {
                Centering::Global => f.global_mean(),
                _ => f.user_means[u],
            };
            c[(u, i)] = f64::from(v) - mean;
        }
        let u = DMatrix::from_fn(50, 4, |i, j| f.u()[[i, j]]);
        let vt = DMatrix::from_fn(4, 30, |i, j| f.vt()[[i, j]]);
        let s = DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(4, f.s().iter().copied()));
        let explicit = (&c - &u * s * &vt).norm() / c.norm();
        assert!(
            (explicit - f.reconstruction_error()).abs() < 1e-9,
            "{center:?}: {explicit} vs {}",
            f.reconstruction_error()
        );
        // And the model predicts mean + low-rank term, clipped.
        let (lo, hi) = f.rating_range();
        let raw = (&u * DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(4, f.s().iter().copied())) * &vt)
            [(3, 7)]
            + match center {
                Centering::Global => f.global_mean(),
                _ => f.user_means[3],
            };
        let p = f.predict_index(Some(3), Some(7));
        assert_eq!(p.status, PredictionStatus::Model);
        assert!((f64::from(p.value) - raw.clamp(lo, hi)).abs() < 1e-5, "{} vs {raw}", p.value);
    }
}

#[test]
fn identical_for_any_thread_count() {
    let a = random_sparse(5000, 300, 0.02, 4);
    for algo in [SvdAlgorithm::Randomized, SvdAlgorithm::Accurate] {
        let p = SvdParams::new(8).algorithm(algo).seed(11);
        let one = fit(&a, p.clone().num_threads(Some(1)));
        let two = fit(&a, p.clone().num_threads(Some(2)));
        let three = fit(&a, p.num_threads(Some(3)));
        assert_eq!(one.u(), two.u(), "{algo:?}");
        assert_eq!(one.s(), two.s(), "{algo:?}");
        assert_eq!(one.vt(), two.vt(), "{algo:?}");
        assert_eq!(one.u(), three.u(), "{algo:?}");
        assert_eq!(one.reconstruction_error(), three.reconstruction_error());
    }
    let other_seed = fit(&a, SvdParams::new(8).seed(12));
    assert_ne!(other_seed.u(), fit(&a, SvdParams::new(8).seed(11)).u());
}

#[test]
fn rank_deficient_and_full_k() {
    // Rank 2 matrix, 6 × 4, asked for k = 4 = min(n, m).
    let mut tri = sprs::TriMat::new((6, 4));
    for i in 0..6 {
        for j in 0..4 {
            let v = (i + 1) as f32 * (j + 1) as f32 + if (i + j) % 2 == 0 { (j as f32) * 0.5 } else { 0.0 };
            tri.add_triplet(i, j, v);
        }
    }
    let a: CsMat<f32> = tri.to_csr();
    let exact = dense_singular_values(&a);
    for algo in [SvdAlgorithm::Randomized, SvdAlgorithm::Accurate] {
        let f = fit(&a, SvdParams::new(4).algorithm(algo));
        for i in 0..4 {
            assert!((f.s()[i] - exact[i]).abs() < 1e-6 * exact[0], "{algo:?} σ{i} {} vs {}", f.s()[i], exact[i]);
        }
        assert!(f.reconstruction_error() < 1e-6, "{algo:?}: {}", f.reconstruction_error());
        assert!(f.u().iter().chain(f.vt().iter()).all(|v| v.is_finite()));
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let a = random_sparse(20, 10, 0.5, 5);
    let invalid = |r: Result<TruncatedSvd>| matches!(r, Err(Error::InvalidInput(_)));
    let param =
        |r: Result<TruncatedSvd>, name: &str| matches!(r, Err(Error::InvalidParameter { name: n, .. }) if n == name);
    assert!(param(SvdParams::new(0).fit_csr(&a), "k"));
    let err = SvdParams::new(11).fit_csr(&a).unwrap_err();
    assert!(err.to_string().contains("exceeds min(n_users, n_items)"), "{err}");
    assert!(invalid(SvdParams::new(1).fit_csr(&CsMat::zero((5, 5)))));
    assert!(invalid(SvdParams::new(1).fit_csr(&CsMat::zero((0, 0)))));
    let nan = CsMat::new((2, 2), vec![0, 1, 2], vec![0, 1], vec![1.0f32, f32::NAN]);
    assert!(invalid(SvdParams::new(1).fit_csr(&nan)));
    assert!(param(SvdParams::new(2).tol(f64::NAN).fit_csr(&a), "tol"));
    assert!(param(SvdParams::new(2).num_threads(Some(0)).fit_csr(&a), "num_threads"));
    // One rating per user, user-centred: the centred matrix is zero.
    let single = Interactions::from_triples([(1, 1, 4.0f32), (2, 2, 5.0)], DuplicatePolicy::Error).unwrap();
    let err = SvdParams::new(1).center(Centering::User).fit(&single).unwrap_err();
    assert!(err.to_string().contains("all zeros"), "{err}");
}

fn ratings() -> Interactions {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let mut triples = Vec::new();
    for u in 0..60 {
        for i in 0..40 {
            if rng.random::<f64>() < 0.3 {
                let r = 1.0 + ((u % 5) + (i % 3)) as f32 * 0.6 + rng.random::<f32>();
                triples.push((format!("u{u}"), i as i64 * 10, r.min(5.0)));
            }
        }
    }
    Interactions::from_triples(triples, DuplicatePolicy::Error).unwrap()
}

#[test]
fn predict_and_recommend() {
    let data = ratings();
    let f = SvdParams::new(5).center(Centering::User).fit(&data).unwrap();
    let (lo, hi) = f.scale();
    let user = ExternalId::from("u3");
    let p = f.predict(&user, &ExternalId::Int(70));
    assert!(!p.is_fallback() && p.value >= lo && p.value <= hi);
    let unknown_item = f.predict(&user, &ExternalId::Int(7));
    let u3 = f.users().index(&user).unwrap();
    assert_eq!(unknown_item.status, PredictionStatus::UnknownItem);
    assert!((f64::from(unknown_item.value) - f.user_means[u3]).abs() < 1e-6);
    let unknown_user = f.predict(&"nobody".into(), &ExternalId::Int(70));
    let i70 = f.items().index(&ExternalId::Int(70)).unwrap();
    assert_eq!(unknown_user.status, PredictionStatus::UnknownUser);
    assert!((f64::from(unknown_user.value) - f.item_means[i70]).abs() < 1e-6);
    let neither = f.predict(&"x".into(), &"y".into());
    assert_eq!(neither.status, PredictionStatus::UnknownUserAndItem);
    assert_eq!(neither.value, f.global_mean().clamp(f64::from(lo), f64::from(hi)) as f32);
    assert_eq!(f.predict_batch(std::slice::from_ref(&user), &[ExternalId::Int(70)]).unwrap()[0], p);
    // an index past the id map is an unknown id, not a panic
    assert_eq!(f.predict_index(Some(60), Some(0)).status, PredictionStatus::UnknownUser);

    let all = f.recommend(&user, 40, &Filter::new()).unwrap();
    assert!(!all.fallback);
    let all = all.items;
    assert_eq!(all.len(), 40);
    assert!(all.windows(2).all(|w| w[0].1 >= w[1].1));
    // issue 14: recommend reports predict's (clipped) value for every item it returns
    for (id, s) in &all {
        assert_eq!(*s, f.predict(&user, id).value, "item {id}");
    }
    let fresh = f.recommend(&user, 40, &Filter::new().exclude_seen(true)).unwrap().items;
    let seen = data.row(u3).0.len();
    assert_eq!(fresh.len(), 40 - seen);
    for (id, _) in &fresh {
        let i = data.items().index(id).unwrap();
        assert!(data.value(u3, i).is_none(), "rated item {id} recommended");
    }
    // an unknown user gets the items by mean rating, flagged; by id it is an error
    let cold = f.recommend(&"nobody".into(), 5, &Filter::new()).unwrap();
    assert!(cold.fallback);
    let best_mean = (0..40).max_by(|&a, &b| f.item_means[a].total_cmp(&f.item_means[b])).unwrap();
    assert_eq!(&cold.items[0].0, f.items().id(best_mean));
    assert!(matches!(f.recommend_ids(&"nobody".into(), 5, &Filter::new()), Err(Error::UnknownId { .. })));
    assert_eq!(f.recommend_ids(&user, 5, &Filter::new()).unwrap().items, all[..5]);
    assert!(f.recommend(&user, 0, &Filter::new()).is_err());
    assert!(f.recommend(&user, 3, &Filter::new().deny([999])).is_err());
}

#[test]
fn persists_round_trip() {
    let data = ratings();
    let f = SvdParams::new(4).center(Centering::Global).algorithm(SvdAlgorithm::Accurate).fit(&data).unwrap();
    let bytes = f.to_bytes().unwrap();
    let g = TruncatedSvd::from_bytes(bytes.clone()).unwrap();
    assert_eq!(g.u(), f.u());
    assert_eq!(g.s(), f.s());
    assert_eq!(g.vt(), f.vt());
    assert_eq!(g.info(), f.info());
    assert_eq!(g.params(), f.params());
    let u = ExternalId::from("u1");
    assert_eq!(g.predict(&u, &ExternalId::Int(0)), f.predict(&u, &ExternalId::Int(0)));
    assert_eq!(
        g.recommend(&u, 5, &Filter::new().exclude_seen(true)).unwrap(),
        f.recommend(&u, 5, &Filter::new().exclude_seen(true)).unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svd.mercato");
    f.save(&path).unwrap();
    assert_eq!(TruncatedSvd::load(&path).unwrap().s(), f.s());
    // A file whose arrays disagree with its meta is rejected, not trusted.
    let bad = ModelWriter::new(TruncatedSvd::KIND, &serde_json::json!({}))
        .unwrap()
        .f64("s", &[1], &[1.0])
        .to_bytes()
        .unwrap();
    assert!(matches!(TruncatedSvd::from_bytes(bad), Err(Error::ModelFormat(_))));
    let mut w = f.write().unwrap();
    w = w.u64("extra", &[1], &[0]);
    assert!(TruncatedSvd::from_bytes(w.to_bytes().unwrap()).is_ok());
    let short = {
        let mut b = bytes;
        b.truncate(b.len() - 3);
        b
    };
    assert!(matches!(TruncatedSvd::from_bytes(short), Err(Error::ModelFormat(_))));
}

/// ML-100k `u.data`, uncentred, k = 50: the relative error that ARPACK reaches
/// (`scipy.sparse.linalg.svds(A, k=50)` on the 943 × 1682 float32 matrix), recorded with
/// scipy 1.17.1 / ARPACK in float64 (float32 input gives 0.6235075 as well).
const ARPACK_ML100K_K50: f64 = 0.623_507_504_159;

#[test]
fn movielens_error_matches_arpack() {
    let Some(path) = crate::testdata::dataset("movielens-100k/u.data", "movielens_error_matches_arpack") else {
        return;
    };
    let data = crate::data::load_movielens(&path).unwrap();
    let acc = SvdParams::new(50).algorithm(SvdAlgorithm::Accurate).fit(&data).unwrap();
    assert!(acc.info().converged);
    let rel = (acc.reconstruction_error() - ARPACK_ML100K_K50).abs() / ARPACK_ML100K_K50;
    assert!(rel < 1e-3, "accurate error {} vs ARPACK {ARPACK_ML100K_K50}", acc.reconstruction_error());
    let rnd = SvdParams::new(50).fit(&data).unwrap();
    assert!(
        rnd.reconstruction_error() < ARPACK_ML100K_K50 * 1.01,
        "randomized error {} vs ARPACK {ARPACK_ML100K_K50}",
        rnd.reconstruction_error()
    );
}
