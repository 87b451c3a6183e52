//! Demo step 2: an anomaly-detector ensemble on the card transactions, with explanations.

use mercato::data::synth::{Marketplace, MERCHANT_CATEGORIES};
use mercato::fraud::{Detector, Ecod, Ensemble, Hbos, IsolationForest};
use mercato::metrics;
use mercato::Result;

use super::{timed, Step};
use crate::report::{self, Report};

/// Fit on every transaction (unlabelled), score, compare with the hidden labels.
pub fn run(market: &Marketplace, report: &mut Report) -> Result<()> {
    let _s = Step::start("Fraud: unsupervised detectors on the card transactions");
    let (x, y, names) = market.transaction_features();
    let contamination = 0.04;
    let mut forest = IsolationForest::new().seed(7).contamination(contamination);
    let mut ecod = Ecod::new().contamination(contamination);
    let mut hbos = Hbos::new().contamination(contamination);
    let mut ensemble =
        Ensemble::new(vec![IsolationForest::new().seed(7).into(), Ecod::new().into(), Hbos::new().into()])
            .contamination(contamination);
    println!("   {:<16} {:>8} {:>8} {:>10} {:>8}", "detector", "ROC-AUC", "AP", "precision", "fit s");
    let (mut rows, mut roc, mut pr) = (Vec::new(), Vec::new(), Vec::new());
    for (name, det) in [
        ("IsolationForest", &mut forest as &mut dyn Detector),
        ("ECOD", &mut ecod),
        ("HBOS", &mut hbos),
        ("Ensemble", &mut ensemble),
    ] {
        let ((), fit_s) = timed(|| det.fit(&x.view()))?;
        let scores = det.decision_scores()?;
        let (auc, ap) = (metrics::roc_auc(scores, &y)?, metrics::average_precision(scores, &y)?);
        let threshold = det.threshold()?;
        let flagged: Vec<usize> = (0..scores.len()).filter(|&i| scores[i] > threshold).collect();
        let precision = flagged.iter().filter(|&&i| y[i] == 1).count() as f64 / flagged.len().max(1) as f64;
        println!("   {name:<16} {auc:>8.4} {ap:>8.4} {precision:>10.4} {fit_s:>8.3}");
        rows.push(vec![
            name.into(),
            format!("{auc:.4}"),
            format!("{ap:.4}"),
            format!("{precision:.4}"),
            format!("{fit_s:.3}"),
        ]);
        roc.push((name, metrics::roc_curve(scores, &y)?.into_iter().map(|(f, t, _)| (f, t)).collect()));
        pr.push((name, metrics::pr_curve(scores, &y)?.into_iter().map(|(r, p, _)| (r, p)).collect()));
    }

    let scores = ensemble.decision_scores()?.to_vec();
    let split =
        |label: u8| -> Vec<f64> { scores.iter().zip(&y).filter(|(_, &l)| l == label).map(|(s, _)| *s).collect() };
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    println!("\n   The ten riskiest transactions (ensemble), with the features that drove the score:");
    let mut risky = Vec::new();
    for &i in order.iter().take(10) {
        let t = &market.transactions[i];
        let e = ensemble.explain(&x.row(i).to_vec())?;
        let reasons: Vec<String> =
            e.top(3).iter().map(|&(j, c)| format!("{}={} ({c:.2})", names[j], x[[i, j]])).collect();
        let line = format!(
            "tx {} amount {:.2} at {} ({}) — {}",
            t.tx_id,
            t.amount,
            MERCHANT_CATEGORIES.get(t.merchant_category as usize).unwrap_or(&"?"),
            if t.label == 1 { &t.pattern } else { "legitimate" },
            reasons.join(", ")
        );
        println!("   {line}");
        risky.push(vec![format!("{:.3}", scores[i]), line]);
    }
    report.section(
        "Fraud scoring",
        "Detectors fitted on all transactions without labels (contamination 4%); ROC-AUC, average precision and the precision of the flagged set against the hidden labels.",
    );
    report.table(&["detector", "ROC-AUC", "AP", "precision at threshold", "fit s"], &rows);
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
