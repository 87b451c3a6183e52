//! Explicit-rating models: fit throughput (ratings/s) on generated low-rank ratings and, when
//! present, on MovieLens-100k `u1.base`; prediction throughput for FunkSVD.
//!
//! `cargo bench -p mercato-benches --bench explicit`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mercato::data::{ml100k_fold, DuplicatePolicy, ExternalId, Interactions};
use mercato::recommend::{BaselineParams, FunkSVDParams, KNNParams, RatingPredictor, SVDppParams};
use mercato_benches::rng;
use rand::Rng;

/// `per_user` ratings for each of `users` users over `items` items: a rank-8 taste model
/// plus noise, rounded to 1..=5, with a skewed item popularity.
fn generated(users: usize, items: usize, per_user: usize, seed: u64) -> Interactions {
    let mut r = rng(seed);
    let k = 8;
    let uf: Vec<f32> = (0..users * k).map(|_| r.random::<f32>() - 0.5).collect();
    let itf: Vec<f32> = (0..items * k).map(|_| r.random::<f32>() - 0.5).collect();
    let mut t = Vec::with_capacity(users * per_user);
    for u in 0..users {
        for _ in 0..per_user {
            let i = ((r.random::<f32>().powi(2)) * items as f32) as usize % items;
            let dot: f32 = (0..k).map(|f| uf[u * k + f] * itf[i * k + f]).sum();
            let v = (3.3 + 6.0 * dot + r.random::<f32>() - 0.5).round().clamp(1.0, 5.0);
            t.push((u as u32, i as u32, v));
        }
    }
    Interactions::from_triples(t, DuplicatePolicy::Last).expect("generated ratings are valid")
}

fn ml100k() -> Option<Interactions> {
    let root = std::env::var("MERCATO_DATA")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/datasets").to_string());
    let dir = PathBuf::from(root).join("movielens-100k");
    ml100k_fold(&dir, 1).ok().map(|(train, _)| train)
}

fn fit(c: &mut Criterion) {
    let mut sets = vec![("generated-20kx5k-400k", generated(20_000, 5_000, 20, 1))];
    if let Some(d) = ml100k() {
        sets.push(("ml100k-u1", d));
    } else {
        eprintln!("MovieLens-100k not found: benchmarking generated data only");
    }
    let mut g = c.benchmark_group("explicit_fit");
    g.sample_size(10);
    for (name, data) in &sets {
        g.throughput(Throughput::Elements(data.nnz() as u64));
        g.bench_with_input(BenchmarkId::new("baseline_als", name), data, |b, d| {
            b.iter(|| BaselineParams::default().fit(black_box(d)).unwrap())
        });
        let funk = FunkSVDParams::default().factors(100).epochs(20).num_threads(Some(2));
        g.bench_with_input(BenchmarkId::new("funk_svd_k100_20ep_2t", name), data, |b, d| {
            b.iter(|| funk.fit(black_box(d)).unwrap())
        });
        let svdpp = SVDppParams::default().epochs(20);
        g.bench_with_input(BenchmarkId::new("svdpp_k50_20ep", name), data, |b, d| {
            b.iter(|| svdpp.fit(black_box(d)).unwrap())
        });
        let knn = KNNParams::default().num_threads(Some(2));
        g.bench_with_input(BenchmarkId::new("knn_item_2t", name), data, |b, d| {
            b.iter(|| knn.fit(black_box(d)).unwrap())
        });
    }
    g.finish();
}

fn predict(c: &mut Criterion) {
    let data = generated(20_000, 5_000, 20, 2);
    let model = FunkSVDParams::default().epochs(2).fit(&data).unwrap();
    let users: Vec<ExternalId> = (0..100_000u32).map(|k| ExternalId::from(k % 20_000)).collect();
    let items: Vec<ExternalId> = (0..100_000u32).map(|k| ExternalId::from((k * 7) % 5_000)).collect();
    let mut g = c.benchmark_group("explicit_predict");
    g.sample_size(10);
    g.throughput(Throughput::Elements(users.len() as u64));
    g.bench_function("funk_svd_k100_batch", |b| b.iter(|| model.predict_batch(black_box(&users), &items).unwrap()));
    g.finish();
}

criterion_group!(benches, fit, predict);
criterion_main!(benches);
