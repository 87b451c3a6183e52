//! A fraud-scoring service loop: fit a detector ensemble on a window of past transactions,
//! save it as a service would ship it, reload it, then score incoming transactions one at a
//! time (`score_one`), raise an alert above the threshold and explain each alert.
//!
//! ```text
//! cargo run --release -p mercato --example fraud_service [-- path/to/transactions.csv] [--small]
//! ```
//!
//! The CSV has the columns of the bundled `datasets/marketplace/transactions.csv` (the default).
//! `--small` (or MERCATO_EXAMPLE_SMALL=1) trains on 3,000 rows and streams 2,000.

use std::time::Instant;

use mercato::data::synth::{Marketplace, Transaction};
use mercato::fraud::{Detector, EcodParams, Ensemble, EnsembleParams, HbosParams, IsolationForestParams};
use mercato::persist::Persist;

fn main() -> mercato::Result<()> {
    let small =
        std::env::args().any(|a| a == "--small") || std::env::var("MERCATO_EXAMPLE_SMALL").is_ok_and(|v| v == "1");
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/marketplace/transactions.csv");
    let path = std::env::args().skip(1).find(|a| !a.starts_with("--")).unwrap_or_else(|| default.to_string());

    // Read the rows (a service would receive them from a queue; the CSV stands in for it).
    let mut reader = csv::Reader::from_path(&path).map_err(|e| mercato::Error::invalid(format!("{path}: {e}")))?;
    let transactions: Vec<Transaction> =
        reader.deserialize().collect::<Result<_, _>>().map_err(|e| mercato::Error::invalid(format!("{path}: {e}")))?;
    let (x, y, names) = Marketplace { transactions, ..Default::default() }.transaction_features();
    let n_history = if small { 3_000 } else { x.nrows() * 7 / 10 }.min(x.nrows());
    let n_stream = if small { 2_000 } else { x.nrows() - n_history }.min(x.nrows() - n_history);
    println!("{path}: {} rows; fitting on the first {n_history}, then streaming {n_stream}", x.nrows());

    // Offline: fit on history (no labels needed) and ship the model as bytes.
    let members = vec![
        IsolationForestParams::default().seed(7).into(),
        EcodParams::default().into(),
        HbosParams::default().into(),
    ];
    let model =
        EnsembleParams::default().members(members).contamination(0.03).fit(&x.slice(ndarray::s![..n_history, ..]))?;
    let shipped = model.to_bytes()?;
    let size = shipped.len();
    let service = Ensemble::from_bytes(shipped)?;
    println!("model: {size} bytes, threshold {:.4}", service.threshold()?);

    // Online: one transaction at a time.
    let threshold = service.threshold()?;
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let mut latencies = Vec::with_capacity(n_stream);
    let mut shown = 0;
    for (i, &label) in y.iter().enumerate().skip(n_history).take(n_stream) {
        let row = x.row(i).to_vec();
        let t = Instant::now();
        let score = service.score_one(&row)?;
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
        let alert = score > threshold;
        match (alert, label == 1) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
        if alert && shown < 5 {
            shown += 1;
            let why = service.explain(&row)?;
            let reasons: Vec<String> =
                why.top(3).iter().map(|&(j, c)| format!("{}={} ({c:.2})", names[j], row[j])).collect();
            let truth = if label == 1 { "fraud" } else { "legitimate" };
            println!("ALERT row {i} score {score:.3} [{truth}]: {}", reasons.join(", "));
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(f64::NAN);
    println!(
        "\n{} alerts: precision {:.3}, recall {:.3} ({tp} frauds caught, {fp} false alarms, {fn_} missed)",
        tp + fp,
        tp as f64 / (tp + fp).max(1) as f64,
        tp as f64 / (tp + fn_).max(1) as f64
    );
    println!("score_one latency: p50 {:.1} µs, p99 {:.1} µs", pct(0.5), pct(0.99));
    Ok(())
}
