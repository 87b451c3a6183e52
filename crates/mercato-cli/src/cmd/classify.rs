//! `mercato classify`: label image files with a saved CNN (needs the `torch` feature).

use std::path::PathBuf;

use clap::Args;

#[cfg(not(feature = "torch"))]
use crate::exit::CliError;
use crate::exit::CliResult;

/// `mercato classify`.
#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct ClassifyArgs {
    /// A model from `mercato train classifier` (or models/fashion_cnn.mercato).
    #[arg(long)]
    pub model: PathBuf,
    /// Image files (.png, .jpg).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Number of most probable classes shown per image.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Print the predictions as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Classifies every image; a file that cannot be decoded is a data error naming it.
#[cfg(feature = "torch")]
pub fn run(a: ClassifyArgs) -> CliResult<()> {
    use mercato::vision::{load_image_files, DeviceChoice, ImageClassifier};
    use serde_json::{json, Value};

    use crate::exit::CliError;
    use crate::output::{emit, num32};

    if a.top == 0 {
        return Err(CliError::usage("--top must be at least 1"));
    }
    let device: DeviceChoice = a.device.parse().map_err(|e: mercato::Error| CliError::usage(e.to_string()))?;
    let model = ImageClassifier::load_on(&a.model, None, device).map_err(|e| crate::models::in_file(&a.model, e))?;
    for p in &a.images {
        if !p.is_file() {
            return Err(mercato::Error::io(p, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")).into());
        }
    }
    let pixels = load_image_files(&a.images, model.input_size(), model.channels()).map_err(|e| match e {
        mercato::Error::InvalidInput(m) => CliError::data(m),
        other => other.into(),
    })?;
    let proba = model.predict_proba(&pixels)?;
    let names = model.class_names();
    let mut predictions = Vec::with_capacity(a.images.len());
    for (path, row) in a.images.iter().zip(proba.rows()) {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&i, &j| row[j].total_cmp(&row[i]).then(i.cmp(&j)));
        let top: Vec<(String, f32)> = order.iter().take(a.top).map(|&c| (names[c].clone(), row[c])).collect();
        predictions.push((path.display().to_string(), top));
    }
    let list: Vec<Value> = predictions
        .iter()
        .map(|(path, top)| {
            json!({
                "path": path,
                "class": top[0].0,
                "probability": num32(top[0].1),
                "top": top.iter().map(|(c, p)| json!({"class": c, "probability": num32(*p)})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let out = json!({"model": a.model.display().to_string(), "predictions": list});
    emit(a.json, &out, || {
        for (path, top) in &predictions {
            let rest: Vec<String> = top.iter().map(|(c, p)| format!("{c} {p:.3}")).collect();
            println!("{path}: {}", rest.join(", "));
        }
    });
    Ok(())
}

/// Without libtorch there is nothing to classify with.
#[cfg(not(feature = "torch"))]
pub fn run(_: ClassifyArgs) -> CliResult<()> {
    Err(CliError::no_torch("mercato classify"))
}
