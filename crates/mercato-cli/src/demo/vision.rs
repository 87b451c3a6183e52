//! Demo step 3: classify Fashion-MNIST test images with the shipped pretrained CNN.

use mercato::data::idx::{default_fashion_mnist_dir, load_fashion_mnist};
use mercato::vision::ImageClassifier;
use mercato::Result;

use super::{timed, Step};
use crate::report::{self, Report};

pub fn run(report: &mut Report) -> Result<()> {
    let _s = Step::start("Product images: the pretrained Fashion-MNIST CNN on the official 10k test images");
    let dir = default_fashion_mnist_dir();
    if !dir.is_dir() {
        println!("   Fashion-MNIST is not installed at {}.", dir.display());
        println!("   Get it with `sudo apt-get install -y dataset-fashion-mnist` (make demo does this where it can).");
        return Ok(());
    }
    let model = match ImageClassifier::pretrained("fashion_mnist") {
        Ok(m) => m,
        Err(e) => {
            println!("   the pretrained model could not be loaded ({e}); see models/fashion_cnn.md");
            return Ok(());
        }
    };
    let data = load_fashion_mnist(Some(&dir))?;
    let labels: Vec<usize> = data.test_labels.iter().map(|&l| l as usize).collect();
    let (eval, secs) = timed(|| model.evaluate(&data.test_images, &labels))?;
    println!(
        "   {} images in {secs:.2} s ({:.0} images/s) on {:?}",
        labels.len(),
        labels.len() as f64 / secs,
        model.device()
    );
    for line in eval.to_string().lines() {
        println!("   {line}");
    }
    let names = eval.class_names.clone();
    let rows: Vec<Vec<String>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| vec![n.clone(), format!("{:.4}", eval.precision[i]), format!("{:.4}", eval.recall[i])])
        .collect();
    let counts: Vec<Vec<u64>> = eval.confusion.rows().into_iter().map(|r| r.to_vec()).collect();
    let history = model.history();
    report.section(
        "Product images",
        &format!(
            "The shipped models/fashion_cnn.mercato on the 10,000 Fashion-MNIST test images: accuracy {:.4}.",
            eval.accuracy
        ),
    );
    report.table(&["class", "precision", "recall"], &rows);
    let mut charts = vec![report::heatmap("Confusion matrix (rows: true class)", &names, &counts)];
    let train: Vec<(f64, f64)> = history.epochs.iter().map(|e| (e.epoch as f64, e.train_loss)).collect();
    let val: Vec<(f64, f64)> = history.epochs.iter().filter_map(|e| Some((e.epoch as f64, e.val_loss?))).collect();
    if !train.is_empty() {
        charts.push(report::lines(
            "CNN training loss",
            "epoch",
            "cross-entropy",
            &[("train", train), ("validation", val)],
            false,
        ));
    }
    report.charts(&charts);
    Ok(())
}
