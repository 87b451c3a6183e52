//! Trains the shipped Fashion-MNIST classifier (models/fashion_cnn.mercato) and reports
//! test accuracy and the confusion matrix on the official 10k test set.
//!
//! ```text
//! cargo run --release -p mercato --features torch --example vision_train_fashion -- \
//!     --arch small_cnn --hidden 512 --epochs 15 --threads 2 --out models/fashion_cnn.mercato
//! ```
//!
//! Options (defaults in brackets): --arch small_cnn|resnet [small_cnn], --epochs [15],
//! --batch-size [128], --lr [0.001], --weight-decay [0.0001], --hidden [512] (small_cnn),
//! --patience [4], --validation [0.1], --no-augment, --seed [42], --threads [libtorch default],
//! --device auto|cpu|cuda|cuda:N [auto], --data DIR [$MERCATO_FASHION_MNIST or
//! /usr/share/datasets/fashion-mnist], --out FILE [none], --init FILE (fine-tune a saved
//! model instead of starting from random weights), --small (2,000 training and 1,000 test
//! images, 1 epoch, hidden 64: the test suite's smoke run; also MERCATO_EXAMPLE_SMALL=1).

use std::time::Instant;

use mercato::data::idx::load_fashion_mnist;
use mercato::vision::{Arch, Augment, ImageClassifier, ImageClassifierParams, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut arch_name, mut hidden, mut out, mut data, mut init) = ("small_cnn".to_string(), 512i64, None, None, None);
    let mut cfg = TrainConfig::default().epochs(15).seed(42).weight_decay(1e-4).patience(Some(4));
    let mut small = std::env::var("MERCATO_EXAMPLE_SMALL").is_ok_and(|v| v == "1");
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--arch" => arch_name = val()?,
            "--epochs" => cfg.epochs = val()?.parse()?,
            "--batch-size" => cfg.batch_size = val()?.parse()?,
            "--lr" => cfg.learning_rate = val()?.parse()?,
            "--weight-decay" => cfg.weight_decay = val()?.parse()?,
            "--hidden" => hidden = val()?.parse()?,
            "--patience" => cfg.patience = Some(val()?.parse()?),
            "--validation" => cfg.validation_fraction = val()?.parse()?,
            "--no-augment" => cfg.augment = Augment::NONE,
            "--seed" => cfg.seed = val()?.parse()?,
            "--threads" => cfg.num_threads = Some(val()?.parse()?),
            "--device" => cfg.device = val()?.parse()?,
            "--data" => data = Some(val()?),
            "--out" => out = Some(val()?),
            "--init" => init = Some(val()?),
            "--small" => small = true,
            "-h" | "--help" => {
                println!("see the header of crates/mercato/examples/vision_train_fashion.rs");
                return Ok(());
            }
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if small {
        cfg.epochs = 1;
        hidden = 64;
    }
    if cfg.validation_fraction == 0.0 {
        cfg.patience = None;
    }
    let mut fm = load_fashion_mnist(data.as_deref())?;
    if small {
        use ndarray::s;
        fm.train_images = fm.train_images.slice(s![..2000, .., ..]).to_owned();
        fm.train_labels = fm.train_labels.slice(s![..2000]).to_owned();
        fm.test_images = fm.test_images.slice(s![..1000, .., ..]).to_owned();
        fm.test_labels = fm.test_labels.slice(s![..1000]).to_owned();
    }
    let mut arch = Arch::from_name(&arch_name, 10, 1, 28)?;
    if let Arch::SmallCnn(c) = &mut arch {
        c.hidden = hidden;
    }
    println!("arch {arch:?}\ntraining {cfg:?}");
    let labels: Vec<usize> = fm.train_labels.iter().map(|&l| l as usize).collect();
    let started = Instant::now();
    let clf = match &init {
        // Fine-tune a saved model (its architecture wins over --arch/--hidden).
        Some(path) => ImageClassifier::load(path)?.fine_tune(&cfg, &fm.train_images, &labels)?,
        None => ImageClassifierParams::new(arch.clone(), cfg.clone()).fit(&fm.train_images, &labels)?,
    }
    .with_class_names(fm.class_names.clone())?;
    let secs = started.elapsed().as_secs_f64();
    let h = clf.history();
    println!(
        "trained {} epochs in {secs:.0} s ({:.1} s/epoch, {:.0} images/s on {}), best epoch {:?}, stopped early: {}",
        h.epochs.len(),
        h.epochs.iter().map(|e| e.seconds).sum::<f64>() / h.epochs.len().max(1) as f64,
        h.images_per_second,
        h.device,
        h.best_epoch,
        h.stopped_early
    );
    let test_labels: Vec<usize> = fm.test_labels.iter().map(|&l| l as usize).collect();
    let started = Instant::now();
    let report = clf.evaluate(&fm.test_images, &test_labels)?;
    println!(
        "test set ({:.0} images/s inference):\n{report}",
        test_labels.len() as f64 / started.elapsed().as_secs_f64()
    );
    println!("weights: {}", clf.num_weights());
    if let Some(path) = out {
        clf.save(&path)?;
        println!("saved {path} ({} bytes)", std::fs::metadata(&path)?.len());
    }
    Ok(())
}
