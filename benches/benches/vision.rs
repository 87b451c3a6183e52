//! Inference speed of the image classifier (cargo feature `torch`):
//! batch-1 latency and batch-256 throughput of the small CNN on 28×28 grey images.
//!
//! `cargo bench -p mercato-benches --features torch --bench vision`
//!
//! Uses the shipped Fashion-MNIST model and its test images when present (models/ and
//! /usr/share/datasets/fashion-mnist), else a small CNN fitted for one epoch on random
//! images (speed does not depend on the weights). libtorch threads: `MERCATO_BENCH_THREADS`
//! (default 2, the project's reference machine).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mercato::data::idx::{default_fashion_mnist_dir, load_fashion_mnist};
use mercato::vision::{Arch, Augment, DeviceChoice, ImageClassifier, ImageClassifierParams, TrainConfig};
use ndarray::{s, Array3};
use rand::Rng;
use std::hint::black_box;

fn model_and_images() -> (ImageClassifier, Array3<u8>, &'static str) {
    let data = default_fashion_mnist_dir();
    if let (Ok(clf), Ok(fm)) = (ImageClassifier::pretrained("fashion_mnist"), load_fashion_mnist(Some(&data))) {
        let clf = clf.to_device(DeviceChoice::Cpu).expect("cpu");
        return (clf, fm.test_images, "fashion_cnn");
    }
    let mut r = mercato_benches::rng(3);
    let x = Array3::from_shape_fn((512, 28, 28), |_| r.random::<u8>());
    let y: Vec<usize> = (0..512).map(|i| i % 10).collect();
    let cfg = TrainConfig::default()
        .epochs(1)
        .validation_fraction(0.0)
        .patience(None)
        .augment(Augment::NONE)
        .device(DeviceChoice::Cpu)
        .show_progress(false);
    let clf = ImageClassifierParams::new(Arch::default(), cfg.clone()).fit(&x, &y).expect("fit");
    (clf, x, "small_cnn_random")
}

fn inference(c: &mut Criterion) {
    let threads = std::env::var("MERCATO_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    tch::set_num_threads(threads);
    let (clf, images, name) = model_and_images();
    let mut group = c.benchmark_group(format!("vision/{name}/{threads}threads"));
    for batch in [1usize, 256] {
        let x = images.slice(s![..batch, .., ..]).to_owned();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("predict_proba", batch), &batch, |b, _| {
            b.iter(|| clf.predict_proba(black_box(&x)).expect("predict"))
        });
    }
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
