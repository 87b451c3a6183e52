//! Fit detectors on the credit-card fraud subset, report ROC-AUC, and explain a real fraud row.
//!
//! `cargo run --release -p mercato --example fraud_explain [path/to/creditcard_fraud_subset.csv]`

use mercato::data::load_anomaly_csv;
use mercato::fraud::{Detector, EcodParams, EnsembleParams, IsolationForestParams, ProbaMethod};
use mercato::metrics::{average_precision, roc_auc};

fn main() -> mercato::Result<()> {
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets/anomaly/creditcard_fraud_subset.csv");
    let path = std::env::args().nth(1).unwrap_or_else(|| default.to_string());
    let table = load_anomaly_csv(&path)?;
    let y = table.y.clone().ok_or_else(|| mercato::Error::invalid("the file has no label column"))?;
    let x = table.x.view();
    println!("{path}: {} rows x {} features, {} frauds", x.nrows(), x.ncols(), y.iter().filter(|&&l| l == 1).count());

    let forest = IsolationForestParams::default().seed(0).contamination(0.01).fit(&x)?;
    let ecod = EcodParams::default().contamination(0.01).fit(&x)?;
    let members = vec![IsolationForestParams::default().seed(0).into(), EcodParams::default().into()];
    let both = EnsembleParams::default().members(members).contamination(0.01).fit(&x)?;
    for (name, det) in [("IsolationForest", &forest as &dyn Detector), ("ECOD", &ecod), ("Ensemble", &both)] {
        let s = det.decision_scores()?;
        println!("{name:<16} ROC-AUC {:.4}  AP {:.4}", roc_auc(s, &y)?, average_precision(s, &y)?);
    }

    let Some(fraud_row) = y.iter().position(|&l| l == 1) else {
        return Ok(());
    };
    let row = x.row(fraud_row).to_vec();
    let risk = forest.predict_proba(&x.slice(ndarray::s![fraud_row..fraud_row + 1, ..]), ProbaMethod::Unify)?[0];
    for (name, det) in [("IsolationForest", &forest as &dyn Detector), ("ECOD", &ecod)] {
        let e = det.explain(&row)?;
        println!(
            "\n{name}: fraud row {fraud_row} scores {:.4} (threshold {:.4}; flagged: {})",
            e.score,
            det.threshold()?,
            e.score > det.threshold()?
        );
        for (j, c) in e.top(5) {
            println!("  {:<8} value {:>10.4}  contribution {:.4}", table.feature_names[*j], row[*j], c);
        }
    }
    println!("\nunify risk of that row (IsolationForest): {risk:.3}");
    Ok(())
}
