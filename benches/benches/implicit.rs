//! Implicit-feedback recommenders: ALS iteration (CG and Cholesky), BPR epoch, item kNN
//! fit, and batch top-10 for all users, on generated data (5,000 users × 20,000 items,
//! ~250k interactions with Zipf-like item popularity) and on Last.fm-2k when present
//! (`$MERCATO_DATA` or `../shared/datasets`); and the one-request calls behind `mercato serve`'s
//! routes (`-- implicit_one_request`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mercato::recommend::{Als, AlsSolver, Bpr, Filter, ItemKnn, Recommender, Rows};
use mercato_benches::rng;
use rand::Rng;

fn generated(n_users: usize, n_items: usize, per_user: usize, seed: u64) -> Rows {
    let mut r = rng(seed);
    let mut t = Vec::with_capacity(n_users * per_user);
    for u in 0..n_users {
        for _ in 0..per_user {
            // item index ~ n_items^U: a heavy head of popular items, a long tail
            let i = ((n_items as f64).powf(r.random::<f64>()) as usize).min(n_items) - 1;
            t.push((u, i, r.random_range(1..50) as f32));
        }
    }
    Rows::from_triplets(n_users, n_items, &t).expect("valid generated data")
}

fn datasets() -> Vec<(String, Rows)> {
    let mut out = vec![("gen5k".to_string(), generated(5_000, 20_000, 50, 1))];
    let root = std::env::var("MERCATO_DATA")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/datasets").to_string());
    let path = std::path::Path::new(&root).join("lastfm-2k/user_artists.dat");
    if let Ok(x) = mercato::data::load_lastfm(&path) {
        if let Ok(rows) = Rows::from_csmat(x.matrix()) {
            out.push(("lastfm".to_string(), rows));
        }
    }
    out
}

fn fit(c: &mut Criterion) {
    let mut g = c.benchmark_group("implicit_fit");
    g.sample_size(10);
    for (name, rows) in datasets() {
        g.throughput(Throughput::Elements(rows.nnz() as u64));
        g.bench_with_input(BenchmarkId::new("als_cg_1iter_64f", &name), &rows, |b, rows| {
            b.iter(|| Als::params().factors(64).iterations(1).fit_rows(black_box(rows)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("als_cholesky_1iter_64f", &name), &rows, |b, rows| {
            b.iter(|| Als::params().factors(64).iterations(1).solver(AlsSolver::Cholesky).fit_rows(rows).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("bpr_1epoch_64f", &name), &rows, |b, rows| {
            b.iter(|| Bpr::params().factors(64).iterations(1).fit_rows(black_box(rows)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("item_knn_k100", &name), &rows, |b, rows| {
            b.iter(|| ItemKnn::params().k(100).fit_rows(black_box(rows)).unwrap())
        });
    }
    g.finish();
}

fn serve(c: &mut Criterion) {
    let mut g = c.benchmark_group("implicit_top10_all_users");
    g.sample_size(10);
    for (name, rows) in datasets() {
        let users: Vec<usize> = (0..rows.n_rows()).collect();
        g.throughput(Throughput::Elements(users.len() as u64));
        let als = Als::params().factors(64).iterations(2).fit_rows(&rows).unwrap();
        let knn = ItemKnn::params().k(100).fit_rows(&rows).unwrap();
        let filter = Filter::new().exclude_seen(true);
        for chunk in [64usize, 256, 1024] {
            g.bench_with_input(BenchmarkId::new(format!("als_chunk{chunk}"), &name), &users, |b, users| {
                b.iter(|| als.recommend_batch_chunked(black_box(users), None, 10, &filter, chunk).unwrap())
            });
        }
        g.bench_with_input(BenchmarkId::new("item_knn", &name), &users, |b, users| {
            b.iter(|| knn.recommend_batch(black_box(users), 10, &filter).unwrap())
        });
    }
    g.finish();
}

/// The core call behind each recommender route of `mercato serve`, one request at a time, on
/// the setting: 20,000 users × 5,000 items, 64 factors. `als_recommend_2users_gemm`
/// is the batch path (one GEMM for two users; per user, half its time) for comparison with
/// the one-user path, which gives the same scores bit for bit.
fn one_request(c: &mut Criterion) {
    let rows = generated(20_000, 5_000, 40, 2);
    let als = Als::params().factors(64).iterations(1).fit_rows(&rows).unwrap();
    let bpr = Bpr::params().factors(64).iterations(1).fit_rows(&rows).unwrap();
    let filter = Filter::new().exclude_seen(true);
    let (items, values) = rows.row(17);
    let fold_items: Vec<usize> = items.iter().map(|&i| i as usize).collect();
    let fold_values = values.to_vec();
    let mut g = c.benchmark_group("implicit_one_request");
    g.bench_function("als_recommend_1user", |b| b.iter(|| als.recommend(black_box(17), 10, &filter).unwrap()));
    g.bench_function("als_recommend_2users_gemm", |b| {
        b.iter(|| als.recommend_batch(black_box(&[17, 18]), 10, &filter).unwrap())
    });
    g.bench_function("als_recommend_row_foldin", |b| {
        b.iter(|| als.recommend_row(black_box(&fold_items), &fold_values, 10, &filter).unwrap())
    });
    g.bench_function("als_similar_items", |b| b.iter(|| als.similar_items(black_box(17), 11).unwrap()));
    g.bench_function("bpr_recommend_1user", |b| b.iter(|| bpr.recommend(black_box(17), 10, &filter).unwrap()));
    g.finish();
}

criterion_group!(benches, fit, serve, one_request);
criterion_main!(benches);
