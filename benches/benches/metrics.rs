use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mercato_benches::scored_labels;
use std::hint::black_box;

fn score_metrics(c: &mut Criterion) {
    let mut group = c.benchmark_group("metrics");
    for n in [10_000usize, 1_000_000] {
        let (scores, labels) = scored_labels(n, 7);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("roc_auc", n), &n, |b, _| {
            b.iter(|| mercato::metrics::roc_auc(black_box(&scores), black_box(&labels)))
        });
        group.bench_with_input(BenchmarkId::new("average_precision", n), &n, |b, _| {
            b.iter(|| mercato::metrics::average_precision(black_box(&scores), black_box(&labels)))
        });
    }
    group.finish();
}

criterion_group!(benches, score_metrics);
criterion_main!(benches);
