//! Classify image files with the shipped Fashion-MNIST model.
//!
//! ```text
//! cargo run --release -p mercato --features torch --example classify_images [-- image.png ...] [--small]
//! ```
//!
//! Without paths it classifies the bundled drawings in `datasets/sample_images/<class>/*.png`
//! and says how many match the class folder they are in. Any PNG/JPEG works: it is resized
//! (shorter side to 28, centre crop) and turned grey; the model expects a light product on a
//! black background, as Fashion-MNIST. `--small` is accepted (the run is already small).

use std::path::PathBuf;

use mercato::data::synth_images::label_of_folder;
use mercato::vision::{load_image_files, ImageClassifier};

fn main() -> mercato::Result<()> {
    let mut paths: Vec<PathBuf> =
        std::env::args().skip(1).filter(|a| !a.starts_with("--")).map(PathBuf::from).collect();
    if paths.is_empty() {
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/sample_images"));
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .map_err(|e| mercato::Error::io(&root, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| mercato::Error::io(&dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "png"))
                .collect();
            files.sort();
            paths.extend(files);
        }
    }
    let model = match ImageClassifier::pretrained("fashion_mnist") {
        Ok(m) => m,
        Err(e) => {
            println!("skipped: the pretrained model could not be loaded ({e}); see models/fashion_cnn.md");
            return Ok(());
        }
    };
    let images = load_image_files(&paths, model.input_size(), model.channels())?;
    let proba = model.predict_proba(&images)?;
    let names = model.class_names();
    let mut known = (0, 0);
    for (path, p) in paths.iter().zip(proba.rows()) {
        let (best, conf) = p.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        // For the bundled drawings the folder name is the class they were drawn as.
        let folder = path.parent().and_then(|d| d.file_name()).and_then(|f| f.to_str()).and_then(label_of_folder);
        let mark = match folder {
            Some(l) => {
                known.1 += 1;
                known.0 += usize::from(l == best);
                if l == best {
                    " ✓"
                } else {
                    " ✗"
                }
            }
            None => "",
        };
        println!("{:<40} {:<12} {:.2}{mark}", path.display(), names[best], conf);
    }
    if known.1 > 0 {
        println!("\n{} of {} drawings classified as the class they were drawn as", known.0, known.1);
    }
    Ok(())
}
