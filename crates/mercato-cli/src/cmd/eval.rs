//! `mercato eval {recommender|detector|classifier}`: measure a saved model on held-out data.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use mercato::fraud::Detector;
use mercato::metrics;
use mercato::recommend::{ranking_metrics_at_k, Rows};
use ndarray::ArrayView2;
use serde_json::json;

use super::{path_str, TripleArgs};
use crate::exit::{CliError, CliResult};
use crate::models::{LoadedDetector, LoadedRecommender};
use crate::output::{emit, num};
use crate::table::{delimiter_byte, Table};

/// What to evaluate.
#[derive(Subcommand)]
pub enum EvalCommand {
    /// RMSE/MAE (rating predictors) or precision/NDCG/MAP/AUC at K (implicit models) on a test file.
    Recommender(EvalRecommenderArgs),
    /// ROC-AUC, average precision, precision/recall at the threshold on a labelled CSV.
    Detector(EvalDetectorArgs),
    /// Accuracy, per-class precision/recall and the confusion matrix on an image folder.
    Classifier(EvalClassifierArgs),
}

/// `mercato eval recommender`.
#[derive(Args)]
pub struct EvalRecommenderArgs {
    /// A model from `mercato train recommender`.
    #[arg(long)]
    pub model: PathBuf,
    /// Held-out (user, item[, rating]) rows, same layout flags as training.
    #[arg(long)]
    pub test: PathBuf,
    #[command(flatten)]
    pub columns: TripleArgs,
    /// Cut-off of the ranking metrics (implicit models).
    #[arg(short = 'k', long = "k", default_value_t = 10)]
    pub k: usize,
    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
}

fn recommender(a: EvalRecommenderArgs) -> CliResult<()> {
    if a.k == 0 {
        return Err(CliError::usage("-k must be at least 1"));
    }
    let loaded = LoadedRecommender::load(&a.model)?;
    let test = a.columns.load(&a.test, loaded.is_explicit())?;
    let base = json!({"model": path_str(&a.model), "kind": loaded.kind, "test": path_str(&a.test)});
    if let Some(m) = loaded.model.as_rating_predictor() {
        let (mut truth, mut pred, mut fallbacks) = (Vec::new(), Vec::new(), 0usize);
        for (u, i, v) in test.iter() {
            let p = m.predict(test.users().id(u), test.items().id(i));
            fallbacks += usize::from(p.is_fallback());
            truth.push(f64::from(v));
            pred.push(f64::from(p.value));
        }
        let (rmse, mae) = (metrics::rmse(&truth, &pred)?, metrics::mae(&truth, &pred)?);
        let mut out = base;
        out["ratings"] = json!(truth.len());
        out["rmse"] = num(rmse);
        out["mae"] = num(mae);
        out["fallback_predictions"] = json!(fallbacks);
        emit(a.json, &out, || {
            println!("{} on {} test ratings: RMSE {rmse:.4}  MAE {mae:.4}", loaded.kind, truth.len());
            if fallbacks > 0 {
                println!("({fallbacks} predictions fell back to biases: user or item unseen in training)");
            }
        });
    } else if let Some((model, users, items)) = loaded.model.as_implicit() {
        // Test entries are mapped into the model's index space; users and items the
        // model never saw cannot be ranked and are counted, not scored.
        let mut triplets = Vec::with_capacity(test.nnz());
        let mut skipped = 0usize;
        for (u, i, v) in test.iter() {
            match (users.index(test.users().id(u)), items.index(test.items().id(i))) {
                (Some(mu), Some(mi)) => triplets.push((mu, mi, v)),
                _ => skipped += 1,
            }
        }
        if triplets.is_empty() {
            return Err(CliError::data(format!(
                "{}: none of the {} test entries has a user and item known to the model",
                a.test.display(),
                test.nnz()
            )));
        }
        let test_rows = Rows::from_triplets(model.n_users(), model.n_items(), &triplets)?;
        let m = ranking_metrics_at_k(model, model.rows(), &test_rows, a.k)?;
        let mut out = base;
        out["k"] = json!(a.k);
        out["users"] = json!(m.users);
        out["test_entries"] = json!(triplets.len());
        out["skipped_unknown"] = json!(skipped);
        out["precision"] = num(m.precision);
        out["ndcg"] = num(m.ndcg);
        out["map"] = num(m.map);
        out["auc"] = num(m.auc);
        emit(a.json, &out, || {
            let k = a.k;
            println!(
                "{} on {} users ({} test entries): P@{k} {:.4}  NDCG@{k} {:.4}  MAP@{k} {:.4}  AUC {:.4}",
                loaded.kind,
                m.users,
                triplets.len(),
                m.precision,
                m.ndcg,
                m.map,
                m.auc
            );
            if skipped > 0 {
                println!("({skipped} test entries skipped: user or item unknown to the model)");
            }
        });
    } else {
        return Err(CliError::runtime(format!(
            "{}: `eval recommender` measures rating predictors and implicit models, not {}",
            a.model.display(),
            loaded.kind
        )));
    }
    Ok(())
}

/// `mercato eval detector`.
#[derive(Args)]
pub struct EvalDetectorArgs {
    /// A detector from `mercato train detector`.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV with a header holding the model's feature columns and a 0/1 label column.
    #[arg(long)]
    pub input: PathBuf,
    /// The label column (1 = fraud/anomaly).
    #[arg(long, default_value = "label")]
    pub label_col: String,
    /// Rows scored together.
    #[arg(long, default_value_t = 4096)]
    pub batch_size: usize,
    /// Field separator: one character, or `tab`.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
}

fn detector(a: EvalDetectorArgs) -> CliResult<()> {
    if a.batch_size == 0 {
        return Err(CliError::usage("--batch-size must be at least 1"));
    }
    let model = LoadedDetector::load(&a.model)?;
    let det = &model.detector;
    let mut table = Table::open(&a.input, delimiter_byte(&a.delimiter)?)?;
    let cols = model.feature_names.iter().map(|n| table.column(n)).collect::<CliResult<Vec<usize>>>()?;
    let label_col = table.column(&a.label_col)?;
    let d = cols.len();
    // Only the scores and labels are kept (16 bytes a row), the features stream through.
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    let mut values = Vec::with_capacity(a.batch_size * d);
    let mut rec = csv::StringRecord::new();
    loop {
        let more = table.next_record(&mut rec)?;
        if more {
            for &j in &cols {
                values.push(table.number(&rec, j)?);
            }
            labels.push(table.label(&rec, label_col)?);
        }
        let n = values.len() / d.max(1);
        if n > 0 && (n == a.batch_size || !more) {
            let x = ArrayView2::from_shape((n, d), values.as_slice()).map_err(|e| CliError::runtime(e.to_string()))?;
            scores.extend(det.score(&x)?.iter().copied());
            values.clear();
        }
        if !more {
            break;
        }
    }
    if scores.is_empty() {
        return Err(CliError::data(format!("{}: no data rows after the header", table.name())));
    }
    let positives = labels.iter().filter(|&&l| l == 1).count();
    if positives == 0 || positives == labels.len() {
        return Err(CliError::data(format!(
            "{}: column {:?} must hold both 0 and 1 to measure a detector ({positives} of {} rows are 1)",
            table.name(),
            a.label_col,
            labels.len()
        )));
    }
    let (auc, ap) = (metrics::roc_auc(&scores, &labels)?, metrics::average_precision(&scores, &labels)?);
    let threshold = det.threshold()?;
    let flagged = scores.iter().filter(|&&s| s > threshold).count();
    let hits = scores.iter().zip(&labels).filter(|&(&s, &l)| s > threshold && l == 1).count();
    let precision = if flagged > 0 { hits as f64 / flagged as f64 } else { 0.0 };
    let recall = hits as f64 / positives as f64;
    let out = json!({
        "model": path_str(&a.model),
        "kind": model.kind,
        "input": path_str(&a.input),
        "rows": scores.len(),
        "positives": positives,
        "roc_auc": num(auc),
        "average_precision": num(ap),
        "threshold": num(threshold),
        "flagged": flagged,
        "precision_at_threshold": num(precision),
        "recall_at_threshold": num(recall),
    });
    emit(a.json, &out, || {
        println!("{} on {} rows ({positives} positive):", model.kind, scores.len());
        println!("  ROC-AUC {auc:.4}  average precision {ap:.4}");
        println!(
            "  at threshold {threshold:.4}: {flagged} flagged, precision {precision:.4}, recall {recall:.4} ({hits} of {positives} caught)"
        );
    });
    Ok(())
}

/// `mercato eval classifier`.
#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct EvalClassifierArgs {
    /// A model from `mercato train classifier`.
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled images laid out as root/<class_name>/*.png|jpg (class names as in training).
    #[arg(long)]
    pub images: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "torch")]
fn classifier(a: EvalClassifierArgs) -> CliResult<()> {
    use mercato::vision::{load_image_folder, DeviceChoice, ImageClassifier, ImageFolderOptions};
    let device: DeviceChoice = a.device.parse().map_err(|e: mercato::Error| CliError::usage(e.to_string()))?;
    let model = ImageClassifier::load_on(&a.model, None, device).map_err(|e| crate::models::in_file(&a.model, e))?;
    let options = ImageFolderOptions { size: model.input_size(), channels: model.channels(), ..Default::default() };
    let folder = load_image_folder(&a.images, &options).map_err(|e| match e {
        mercato::Error::InvalidInput(m) => CliError::data(m),
        other => other.into(),
    })?;
    for (path, why) in &folder.skipped {
        eprintln!("warning: skipped {}: {why}", path.display());
    }
    // Folder classes are matched to the model's by name: a folder may hold a subset.
    let to_model = folder
        .class_names
        .iter()
        .map(|c| {
            model.class_names().iter().position(|m| m == c).ok_or_else(|| {
                CliError::data(format!(
                    "{}: class folder {c:?} is not one of the model's classes ({})",
                    a.images.display(),
                    model.class_names().join(", ")
                ))
            })
        })
        .collect::<CliResult<Vec<usize>>>()?;
    let labels: Vec<usize> = folder.labels.iter().map(|&l| to_model[l]).collect();
    let e = model.evaluate(&folder.images, &labels)?;
    let confusion: Vec<Vec<u64>> = e.confusion.rows().into_iter().map(|r| r.to_vec()).collect();
    let out = json!({
        "model": path_str(&a.model),
        "images": labels.len(),
        "skipped": folder.skipped.len(),
        "accuracy": num(e.accuracy),
        "classes": e.class_names,
        "precision": e.precision.iter().map(|&v| num(v)).collect::<Vec<_>>(),
        "recall": e.recall.iter().map(|&v| num(v)).collect::<Vec<_>>(),
        "support": e.support,
        "confusion": confusion,
    });
    emit(a.json, &out, || print!("{e}"));
    Ok(())
}

#[cfg(not(feature = "torch"))]
fn classifier(_: EvalClassifierArgs) -> CliResult<()> {
    Err(CliError::no_torch("mercato eval classifier"))
}

/// Dispatches `mercato eval ...`.
pub fn run(command: EvalCommand) -> CliResult<()> {
    match command {
        EvalCommand::Recommender(a) => recommender(a),
        EvalCommand::Detector(a) => detector(a),
        EvalCommand::Classifier(a) => classifier(a),
    }
}
