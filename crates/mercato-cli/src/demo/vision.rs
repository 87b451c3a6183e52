//! Demo step 3: classify Fashion-MNIST test images with the shipped pretrained CNN, and the
//! bundled procedurally drawn sample images (the only images a machine without
//! Fashion-MNIST has).

use std::path::{Path, PathBuf};

use mercato::data::idx::{default_fashion_mnist_dir, load_fashion_mnist};
use mercato::data::synth_images::label_of_folder;
use mercato::vision::{load_image_folder, ImageClassifier, ImageFolderOptions};
use mercato::Result;

use super::{timed, Step};
use crate::report::{self, Report};

/// `datasets/sample_images` in the source tree.
pub fn bundled_sample_images() -> PathBuf {
    let from_cwd = PathBuf::from("datasets/sample_images");
    if from_cwd.is_dir() {
        return from_cwd;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/sample_images"))
}

/// `fashion_dir`: where the Fashion-MNIST IDX files are (None = the Debian location).
pub fn run(fashion_dir: Option<&Path>, report: &mut Report) -> Result<()> {
    let _s = Step::start("Product images: the pretrained Fashion-MNIST CNN");
    let model = match ImageClassifier::pretrained("fashion_mnist") {
        Ok(m) => m,
        Err(e) => {
            println!("   the pretrained model could not be loaded ({e}); see models/fashion_cnn.md");
            return Ok(());
        }
    };
    let dir = fashion_dir.map(Path::to_path_buf).unwrap_or_else(default_fashion_mnist_dir);
    if dir.join("t10k-images-idx3-ubyte.gz").is_file() || dir.join("t10k-images-idx3-ubyte").is_file() {
        fashion_mnist(&model, &dir, report)?;
    } else {
        println!("   Fashion-MNIST is not installed at {}.", dir.display());
        println!("   Get it with `sudo apt-get install -y dataset-fashion-mnist` (make demo does this where it can).");
    }
    sample_images(&model, &bundled_sample_images(), report)
}

fn fashion_mnist(model: &ImageClassifier, dir: &Path, report: &mut Report) -> Result<()> {
    let data = load_fashion_mnist(Some(dir))?;
    let labels: Vec<usize> = data.test_labels.iter().map(|&l| l as usize).collect();
    let (eval, secs) = timed(|| model.evaluate(&data.test_images, &labels))?;
    println!(
        "   {} Fashion-MNIST test images in {secs:.2} s ({:.0} images/s) on {:?}",
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

/// Classifies `datasets/sample_images/<class>/*.png`: drawings made by mercato's own generator
/// (`mercato::data::synth_images`), never seen in training; an honest out-of-distribution check.
fn sample_images(model: &ImageClassifier, dir: &Path, report: &mut Report) -> Result<()> {
    if !dir.is_dir() {
        println!("   no bundled sample images at {}", dir.display());
        return Ok(());
    }
    let folder = load_image_folder(dir, &ImageFolderOptions::default())?;
    let predicted = model.predict(&folder.images)?;
    let class_names = model.class_names();
    let mut rows = Vec::new();
    let mut right = 0;
    for ((path, &label), &p) in folder.paths.iter().zip(&folder.labels).zip(&predicted) {
        let truth = label_of_folder(&folder.class_names[label]);
        let ok = truth == Some(p);
        right += usize::from(ok);
        let truth_name = truth.and_then(|t| class_names.get(t)).map_or(folder.class_names[label].as_str(), |s| s);
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        rows.push(vec![
            file,
            truth_name.to_string(),
            class_names.get(p).cloned().unwrap_or_default(),
            if ok { "yes".into() } else { "no".into() },
        ]);
    }
    println!(
        "   Bundled sample drawings ({}): {right} of {} classified as the class they were drawn as",
        dir.display(),
        rows.len()
    );
    let wrong: Vec<String> = rows.iter().filter(|r| r[3] == "no").map(|r| format!("{} → {}", r[0], r[2])).collect();
    if !wrong.is_empty() {
        println!("   missed: {}", wrong.join(", "));
    }
    report.section(
        "Bundled sample images",
        &format!(
            "{} procedurally drawn 28×28 product silhouettes (datasets/sample_images, made by mercato::data::synth_images; no third-party data): {right} classified as the class they were drawn as.",
            rows.len()
        ),
    );
    let thumbs: Vec<(String, Vec<u8>)> = folder
        .paths
        .iter()
        .zip(&rows)
        .filter_map(|(path, r)| Some((format!("{} → {}", r[1], r[2]), std::fs::read(path).ok()?)))
        .collect();
    report.images(&thumbs);
    report.table(&["file", "drawn as", "predicted", "right"], &rows);
    Ok(())
}
