//! Truncated SVD (k = 50): randomized and accurate modes on a generated sparse matrix and on
//! MovieLens-100k when `../shared/datasets` (or `$MERCATO_DATA`) is present. Throughput is in
//! stored values (ratings) per second of a full fit.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mercato::data::{DuplicatePolicy, IdMap, Interactions};
use mercato::recommend::{SvdAlgorithm, SvdParams};
use mercato_benches::rng;
use rand::Rng;
use std::hint::black_box;

/// `n × m` with about `nnz` uniform 1..5 values at random positions.
fn random_matrix(n: usize, m: usize, nnz: usize, seed: u64) -> Interactions {
    let mut r = rng(seed);
    let entries = (0..nnz)
        .map(|_| (r.random_range(0..n as u32), r.random_range(0..m as u32), r.random_range(1.0f32..5.0)))
        .collect();
    Interactions::from_indexed(IdMap::identity(n), IdMap::identity(m), entries, DuplicatePolicy::Last)
        .expect("generated matrix is valid")
}

fn movielens() -> Option<Interactions> {
    let root = std::env::var("MERCATO_DATA")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/datasets").to_string());
    let path = std::path::Path::new(&root).join("movielens-100k/u.data");
    if !path.exists() {
        eprintln!("svd bench: {} not found, MovieLens-100k skipped", path.display());
        return None;
    }
    mercato::data::load_movielens(&path).ok()
}

fn truncated_svd(c: &mut Criterion) {
    let mut group = c.benchmark_group("truncated_svd_k50");
    group.sample_size(10);
    let mut sets = vec![("random_20k_x_5k_500k".to_string(), random_matrix(20_000, 5_000, 500_000, 1))];
    if let Some(ml) = movielens() {
        sets.push(("ml100k".to_string(), ml));
    }
    for (name, data) in &sets {
        group.throughput(Throughput::Elements(data.nnz() as u64));
        for (label, algo) in [("randomized", SvdAlgorithm::Randomized), ("accurate", SvdAlgorithm::Accurate)] {
            let params = SvdParams::new(50).algorithm(algo).num_threads(Some(2));
            group.bench_with_input(BenchmarkId::new(label, name), data, |b, d| {
                b.iter(|| params.fit(black_box(d)).expect("fit"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, truncated_svd);
criterion_main!(benches);
