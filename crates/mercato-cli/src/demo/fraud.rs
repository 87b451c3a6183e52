//! Demo step 2: an anomaly-detector ensemble on card transactions, with explanations.

use mercato::data::synth::{Marketplace, MERCHANT_CATEGORIES};
use mercato::fraud::{AnyDetectorParams, Detector, EcodParams, EnsembleParams, HbosParams, IsolationForestParams};
use mercato::metrics;
use mercato::Result;
use ndarray::Array2;

use super::{progress, timed, Step};
use crate::report::{self, Report};

/// A labelled transaction table for the fraud step.
pub struct FraudData<'a> {
    /// What the rows are (printed in the step header).
    pub title: String,
    /// Features, one row per transaction.
    pub x: Array2<f64>,
    /// Hidden labels (1 = fraud), used only for evaluation.
    pub y: Vec<u8>,
    /// Feature names.
    pub names: Vec<String>,
    /// One line describing row `i` (amount, merchant, ground truth).
    pub describe: Box<dyn Fn(usize) -> String + 'a>,
    /// Expected fraud share, the detectors' contamination.
    pub contamination: f64,
}

/// The bundled marketplace's card transactions.
pub fn marketplace(market: &Marketplace) -> FraudData<'_> {
    let (x, y, names) = market.transaction_features();
    FraudData {
        title: format!("{} card transactions of the marketplace", x.nrows()),
        x,
        y,
        names,
        describe: Box::new(move |i| {
            let t = &market.transactions[i];
            format!(
                "tx {} amount {:.2} at {} ({})",
                t.tx_id,
                t.amount,
                MERCHANT_CATEGORIES.get(t.merchant_category as usize).unwrap_or(&"?"),
                if t.label == 1 { t.pattern.as_str() } else { "legitimate" },
            )
        }),
        contamination: 0.04,
    }
}

/// A feature value as people write it: integers plain, others with at most 3 significant decimals.
fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    }
}

/// Fit on every transaction (unlabelled), score, compare with the hidden labels.
pub fn run(data: &FraudData, report: &mut Report) -> Result<()> {
    let _s = Step::start(&format!("Fraud: unsupervised detectors on {}", data.title));
    let (x, y, names) = (&data.x, &data.y, &data.names);
    let contamination = data.contamination;
    println!(
        "   {} rows x {} features, {} labelled fraud; contamination {contamination}",
        x.nrows(),
        x.ncols(),
        y.iter().filter(|&&l| l == 1).count()
    );
    let members: Vec<AnyDetectorParams> = vec![
        IsolationForestParams::default().seed(7).into(),
        EcodParams::default().into(),
        HbosParams::default().into(),
    ];
    let detectors: [(&str, AnyDetectorParams); 4] = [
        ("IsolationForest", IsolationForestParams::default().seed(7).contamination(contamination).into()),
        ("ECOD", EcodParams::default().contamination(contamination).into()),
        ("HBOS", HbosParams::default().contamination(contamination).into()),
        ("Ensemble", EnsembleParams::default().members(members).contamination(contamination).into()),
    ];
    let bar = progress(4, "fitting detectors");
    let mut lines = Vec::new();
    let (mut rows, mut roc, mut pr) = (Vec::new(), Vec::new(), Vec::new());
    let mut ensemble = None;
    for (name, params) in detectors {
        bar.set_message(name);
        let (det, fit_s) = timed(|| params.fit(&x.view()))?;
        bar.inc(1);
        let scores = det.decision_scores()?;
        let (auc, ap) = (metrics::roc_auc(scores, y)?, metrics::average_precision(scores, y)?);
        let threshold = det.threshold()?;
        let flagged: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] > threshold).collect();
        let hits = flagged.iter().filter(|&&i| y[i] == 1).count();
        let precision = hits as f64 / flagged.len().max(1) as f64;
        let recall = hits as f64 / y.iter().filter(|&&l| l == 1).count().max(1) as f64;
        lines.push(format!("   {name:<16} {auc:>8.4} {ap:>8.4} {precision:>10.4} {recall:>8.4} {fit_s:>8.3}"));
        rows.push(vec![
            name.into(),
            format!("{auc:.4}"),
            format!("{ap:.4}"),
            format!("{precision:.4}"),
            format!("{recall:.4}"),
            format!("{fit_s:.3}"),
        ]);
        roc.push((name, metrics::roc_curve(scores, y)?.into_iter().map(|(f, t, _)| (f, t)).collect()));
        pr.push((name, metrics::pr_curve(scores, y)?.into_iter().map(|(r, p, _)| (r, p)).collect()));
        ensemble = Some(det); // the ensemble comes last
    }
    bar.finish_and_clear();
    let ensemble = ensemble.expect("four detectors were fitted");
    println!("   {:<16} {:>8} {:>8} {:>10} {:>8} {:>8}", "detector", "ROC-AUC", "AP", "precision", "recall", "fit s");
    for line in lines {
        println!("{line}");
    }

    let scores = ensemble.decision_scores()?.to_vec();
    let split =
        |label: u8| -> Vec<f64> { scores.iter().zip(y).filter(|(_, &l)| l == label).map(|(s, _)| *s).collect() };
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    println!("\n   The ten riskiest transactions (ensemble), with the features that drove the score:");
    let mut risky = Vec::new();
    for &i in order.iter().take(10) {
        let e = ensemble.explain(&x.row(i).to_vec())?;
        let reasons: Vec<String> =
            e.top(3).iter().map(|&(j, c)| format!("{}={} ({c:.2})", names[j], short(x[[i, j]]))).collect();
        let line = format!("{} — {}", (data.describe)(i), reasons.join(", "));
        println!("   {line}");
        risky.push(vec![format!("{:.3}", scores[i]), line]);
    }
    report.section(
        "Fraud scoring",
        &format!(
            "{}: detectors fitted on all rows without labels (contamination {:.1}%); ROC-AUC, average precision, and the precision and recall of the flagged set against the hidden labels.",
            data.title,
            100.0 * contamination
        ),
    );
    report.table(&["detector", "ROC-AUC", "AP", "precision at threshold", "recall at threshold", "fit s"], &rows);
    report.charts(&[
        report::lines("ROC curves", "false positive rate", "true positive rate", &roc, true),
        report::lines("Precision-recall curves", "recall", "precision", &pr, true),
        report::histogram(
            "Ensemble score by label",
            "ensemble score",
            &[("legitimate", &split(0)), ("fraud", &split(1))],
            30,
        ),
    ]);
    report.table(&["score", "riskiest transactions and why"], &risky);
    Ok(())
}
