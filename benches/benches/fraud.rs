//! Fraud detectors: fit+score and batch scoring throughput (rows/s) on generated data, and
//! single-row `score_one` latency with percentiles on the real cardio set when present
//! (`$MERCATO_DATA` or `../shared/datasets`), else on generated data of the same shape.
//!
//! `cargo bench -p mercato-benches --bench fraud` (add `-- score_one` for the latency part).

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mercato::fraud::{
    AnyDetectorParams, CopodParams, Detector, EcodParams, HbosParams, IsolationForestParams, KnnParams, LofParams,
    MahalanobisParams, PcaParams,
};
use mercato_benches::rng;
use ndarray::Array2;
use rand::Rng;

fn synthetic(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut r = rng(seed);
    Array2::from_shape_fn((n, d), |_| r.random::<f64>() * 2.0 - 1.0)
}

fn detectors() -> Vec<(&'static str, AnyDetectorParams)> {
    vec![
        ("iforest", IsolationForestParams::default().seed(0).into()),
        ("ecod", EcodParams::default().into()),
        ("copod", CopodParams::default().into()),
        ("hbos", HbosParams::default().into()),
        ("knn", KnnParams::default().into()),
        ("lof", LofParams::default().into()),
        ("mahalanobis", MahalanobisParams::default().into()),
        ("pca", PcaParams::default().into()),
    ]
}

fn cardio() -> (Array2<f64>, &'static str) {
    let base = std::env::var("MERCATO_DATA")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/datasets").to_string());
    match mercato::data::load_anomaly_csv(format!("{base}/anomaly/cardio.csv")) {
        Ok(t) => (t.x, "cardio"),
        Err(_) => (synthetic(1831, 21, 3), "synthetic-1831x21"),
    }
}

fn fit_and_score(c: &mut Criterion) {
    let mut group = c.benchmark_group("fraud_fit");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    let x = synthetic(10_000, 16, 1);
    group.throughput(Throughput::Elements(10_000));
    for (name, params) in detectors() {
        group.bench_with_input(BenchmarkId::new(name, "10000x16"), &x, |b, x| {
            b.iter(|| {
                let d = params.fit(&x.view()).expect("fit");
                black_box(d.decision_scores().expect("scores").len())
            })
        });
    }
    // The empirical-distribution detectors on the two other common shapes of input: a
    // column-major matrix (pandas' `to_numpy`, read in place) and few distinct values per
    // column (codes, counts, rounded amounts: the hash-table path of ECOD/COPOD).
    let column_major = x.t().as_standard_layout().into_owned().reversed_axes();
    let rounded = x.mapv(|v| (v * 50.0).round());
    for (name, params) in detectors().into_iter().filter(|(n, _)| matches!(*n, "ecod" | "copod" | "hbos")) {
        for (label, input) in [("10000x16-column-major", &column_major), ("10000x16-101-values", &rounded)] {
            group.bench_with_input(BenchmarkId::new(name, label), input, |b, x| {
                b.iter(|| {
                    let d = params.fit(&x.view()).expect("fit");
                    black_box(d.decision_scores().expect("scores").len())
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("fraud_score");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    let train = synthetic(10_000, 16, 2);
    let batch = synthetic(100_000, 16, 3);
    group.throughput(Throughput::Elements(100_000));
    for (name, params) in detectors() {
        let det = params.fit(&train.view()).expect("fit");
        group.bench_with_input(BenchmarkId::new(name, "100000x16"), &batch, |b, x| {
            b.iter(|| black_box(det.score(&x.view()).expect("score")))
        });
    }
    group.finish();
}

/// Times every call separately so the percentiles (not just the mean) can be reported.
fn score_one(c: &mut Criterion) {
    let (x, label) = cardio();
    let mut group = c.benchmark_group("fraud_score_one");
    group.throughput(Throughput::Elements(1));
    let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
    for (name, params) in detectors() {
        // KNN/LOF included: their score_one no longer allocates, but it is a search over the
        // training rows (kd-tree in low dimension, brute force above 16 features).
        let det = params.fit(&x.view()).expect("fit");
        let samples = RefCell::new(Vec::<u64>::new());
        group.bench_function(BenchmarkId::new(name, label), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut s = samples.borrow_mut();
                for i in 0..iters {
                    let row = &rows[i as usize % rows.len()];
                    let t = Instant::now();
                    black_box(det.score_one(black_box(row)).expect("score"));
                    let e = t.elapsed();
                    total += e;
                    s.push(e.as_nanos() as u64);
                }
                total
            })
        });
        let mut s = samples.into_inner();
        s.sort_unstable();
        let q = |p: f64| s[((s.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
        println!(
            "fraud_score_one/{name}/{label}: {} calls, p50 {:.2} µs, p90 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs",
            s.len(),
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999)
        );
    }
    group.finish();
}

criterion_group!(benches, fit_and_score, score_one);
criterion_main!(benches);
