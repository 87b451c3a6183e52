//! `mercato demo`: the main job on the bundled marketplace.

use std::path::PathBuf;
use std::time::Instant;

use mercato::data::synth::Marketplace;
use mercato::data::{holdout_per_user, Interactions};
use mercato::metrics;
use mercato::Result;

use crate::report::{self, Report};

/// `datasets/marketplace` in the source tree (the CLI is run from the repo by `make demo`).
pub fn bundled_marketplace() -> PathBuf {
    let from_cwd = PathBuf::from("datasets/marketplace");
    if from_cwd.is_dir() {
        return from_cwd;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/marketplace"))
}

/// Prints a step header and returns its start time.
fn step(title: &str) -> Instant {
    println!("\n== {title}");
    Instant::now()
}

fn done(start: Instant) {
    println!("   ({:.2} s)", start.elapsed().as_secs_f64());
}

pub fn run(dir: PathBuf, report_dir: PathBuf) -> Result<()> {
    let started = Instant::now();
    let mut report = Report::default();
    let t = step(&format!("Loading the marketplace from {}", dir.display()));
    let market = Marketplace::read(&dir)?;
    println!(
        "   {} products, {} ratings, {} view/purchase events, {} card transactions",
        market.products.len(),
        market.ratings.len(),
        market.events.len(),
        market.transactions.len()
    );
    done(t);

    let t = step("Recommenders: explicit ratings (20% of each user's ratings held out)");
    let ratings = market.rating_interactions()?;
    let (train, test) = holdout_per_user(&ratings, 0.2, 42)?;
    explicit_baselines(&train, &test, &mut report)?;
    done(t);

    let t = step("Recommenders: implicit events (20% held out), top-10 ranking");
    let events = market.event_interactions()?;
    let (train, test) = holdout_per_user(&events, 0.2, 42)?;
    popularity_ranking(&train, &test, &mut report)?;
    done(t);

    let t = step("Fraud: single-feature scores on the card transactions");
    fraud_baselines(&market, &mut report)?;
    done(t);

    let path = report.write(&report_dir, "mercato demo report")?;
    println!("\nReport: {}", path.display());
    println!("Demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Global mean and per-item mean predictors: the floor every model must beat.
fn explicit_baselines(train: &Interactions, test: &Interactions, report: &mut Report) -> Result<()> {
    let values: Vec<f64> = train.iter().map(|(_, _, v)| v as f64).collect();
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    let (mut sums, counts) = (vec![0.0f64; train.n_items()], train.item_counts());
    for (_, i, v) in train.iter() {
        sums[i] += v as f64;
    }
    // Shrunk item means (10 pseudo-ratings at the global mean).
    let item_mean: Vec<f64> = sums.iter().zip(&counts).map(|(s, &c)| (s + 10.0 * mean) / (c as f64 + 10.0)).collect();
    let truth: Vec<f64> = test.iter().map(|(_, _, v)| v as f64).collect();
    let global: Vec<f64> = vec![mean; truth.len()];
    let per_item: Vec<f64> = test.iter().map(|(_, i, _)| item_mean[i]).collect();
    println!("   {:<24} {:>8} {:>8}", "model", "RMSE", "MAE");
    let mut rows = Vec::new();
    let mut rmse_bars = Vec::new();
    for (name, pred) in [("global mean", &global), ("item mean (shrunk)", &per_item)] {
        let (rmse, mae) = (metrics::rmse(&truth, pred)?, metrics::mae(&truth, pred)?);
        println!("   {:<24} {:>8.4} {:>8.4}", name, rmse, mae);
        rows.push(vec![name.to_string(), format!("{rmse:.4}"), format!("{mae:.4}")]);
        rmse_bars.push((name.to_string(), rmse));
    }
    report.section("Explicit ratings", "20% of each user's ratings held out; lower is better.");
    report.table(&["model", "RMSE", "MAE"], &rows);
    report.charts(&[report::bars("RMSE on held-out ratings", "RMSE", &rmse_bars)]);
    Ok(())
}

/// Most-popular ranking with already-seen items filtered.
fn popularity_ranking(train: &Interactions, test: &Interactions, report: &mut Report) -> Result<()> {
    let popularity: Vec<f32> = train.item_counts().iter().map(|&c| c as f32).collect();
    let (mut precision, mut ndcg, mut users) = (0.0, 0.0, 0usize);
    for u in 0..train.n_users() {
        let relevant = test.row(u).0;
        if relevant.is_empty() {
            continue;
        }
        let seen = train.row(u).0;
        let top: Vec<usize> = mercato::recommend::top_n(&popularity, 10, |i| seen.binary_search(&i).is_err())
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        precision += metrics::precision_at_k(&top, relevant, 10)?;
        ndcg += metrics::ndcg_at_k(&top, relevant, 10)?;
        users += 1;
    }
    println!("   {:<24} {:>8} {:>8}", "model", "P@10", "NDCG@10");
    let (precision, ndcg) = (precision / users as f64, ndcg / users as f64);
    println!("   {:<24} {:>8.4} {:>8.4}", "most popular", precision, ndcg);
    report.section("Implicit feedback", "Top-10 lists against 20% held-out events per user, seen items filtered.");
    report.table(
        &["model", "P@10", "NDCG@10"],
        &[vec!["most popular".into(), format!("{precision:.4}"), format!("{ndcg:.4}")]],
    );
    report.charts(&[
        report::bars("precision@10", "P@10", &[("most popular".into(), precision)]),
        report::bars("NDCG@10", "NDCG@10", &[("most popular".into(), ndcg)]),
    ]);
    Ok(())
}

/// How far single raw features go at ranking fraud.
fn fraud_baselines(market: &Marketplace, report: &mut Report) -> Result<()> {
    let (x, y, names) = market.transaction_features();
    println!("   {:<24} {:>8} {:>8}", "score", "ROC-AUC", "AP");
    let (mut rows, mut roc, mut pr) = (Vec::new(), Vec::new(), Vec::new());
    for name in ["velocity_1h", "distance_km", "amount_ratio"] {
        let Some(col) = names.iter().position(|n| n == name) else { continue };
        let scores: Vec<f64> = x.column(col).to_vec();
        let (auc, ap) = (metrics::roc_auc(&scores, &y)?, metrics::average_precision(&scores, &y)?);
        println!("   {:<24} {:>8.4} {:>8.4}", name, auc, ap);
        rows.push(vec![name.to_string(), format!("{auc:.4}"), format!("{ap:.4}")]);
        roc.push((name, metrics::roc_curve(&scores, &y)?.into_iter().map(|(f, t, _)| (f, t)).collect()));
        pr.push((name, metrics::pr_curve(&scores, &y)?.into_iter().map(|(r, p, _)| (r, p)).collect()));
    }
    let velocity = x.column(names.iter().position(|n| n == "velocity_1h").unwrap_or(0)).to_vec();
    let split =
        |label: u8| -> Vec<f64> { velocity.iter().zip(&y).filter(|(_, &l)| l == label).map(|(v, _)| *v).collect() };
    let (normal, fraud) = (split(0), split(1));
    report.section(
        "Fraud scoring",
        "Card transactions of the bundled marketplace, scored against the ground-truth labels.",
    );
    report.table(&["score", "ROC-AUC", "AP"], &rows);
    report.charts(&[
        report::lines("ROC curves", "false positive rate", "true positive rate", &roc, true),
        report::lines("Precision-recall curves", "recall", "precision", &pr, true),
        report::histogram(
            "velocity_1h by label",
            "transactions in the past hour",
            &[("normal", &normal), ("fraud", &fraud)],
            15,
        ),
    ]);
    Ok(())
}
