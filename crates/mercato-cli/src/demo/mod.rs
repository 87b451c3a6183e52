//! `mercato demo`: the main job on the bundled marketplace — recommenders, fraud scoring,
//! pricing and (with the `torch` feature) sequential next-item recommendation and product-image
//! classification — ending in an HTML report.
//! `mercato demo --data DIR` runs the same steps on real data laid out like `../shared/datasets`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mercato::data::synth::Marketplace;
use mercato::data::{holdout_per_user, load_anomaly_csv, load_lastfm, ml100k_fold, ExternalId};
use mercato::recommend::{Als, Bpr, NegativeSampling};
use mercato::Result;

use crate::report::Report;

#[cfg(feature = "torch")]
mod cold_start;
mod fraud;
mod pricing;
mod recommend;
#[cfg(feature = "torch")]
mod sequential;
#[cfg(feature = "torch")]
mod vision;

/// `datasets/marketplace` in the source tree (the CLI is run from the repo by `make demo`).
pub fn bundled_marketplace() -> PathBuf {
    let from_cwd = PathBuf::from("datasets/marketplace");
    if from_cwd.is_dir() {
        return from_cwd;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/marketplace"))
}

/// Prints a step header; the returned guard prints the step's time when dropped.
pub(crate) struct Step(Instant);

impl Step {
    pub(crate) fn start(title: &str) -> Step {
        println!("\n== {title}");
        Step(Instant::now())
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        println!("   ({:.2} s)", self.0.elapsed().as_secs_f64());
    }
}

/// Seconds taken by `f`, with its result.
pub(crate) fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let t = Instant::now();
    let out = f()?;
    Ok((out, t.elapsed().as_secs_f64()))
}

/// A progress bar over `len` units of a step, on stderr; hidden when stderr is not a terminal
/// (logs and pipes get only the step's printed summary).
pub(crate) fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("   {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_string());
    bar
}

fn finish(report: Report, report_dir: &Path, title: &str, started: Instant) -> Result<()> {
    let path = report.write(report_dir, title)?;
    println!("\nReport: {}", std::fs::canonicalize(&path).unwrap_or(path).display());
    println!("Demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs every step on the marketplace in `dir`; `report_dir` receives `index.html`.
pub fn run(dir: PathBuf, report_dir: PathBuf) -> Result<()> {
    let started = Instant::now();
    let mut report = Report::default();
    let market = {
        let _s = Step::start(&format!("Loading the marketplace from {}", dir.display()));
        let market = Marketplace::read(&dir)?;
        println!(
            "   {} products, {} ratings, {} view/purchase events, {} card transactions",
            market.products.len(),
            market.ratings.len(),
            market.events.len(),
            market.transactions.len()
        );
        market
    };
    recommend::explicit(&recommend::marketplace(&market, false)?, &mut report)?;
    recommend::implicit(&recommend::marketplace(&market, true)?, &mut report)?;
    fraud::run(&fraud::marketplace(&market), &mut report)?;
    pricing::run(&market, &mut report)?;
    #[cfg(feature = "torch")]
    sequential::run(&mut report)?;
    #[cfg(feature = "torch")]
    vision::run(None, &mut report)?;
    #[cfg(feature = "torch")]
    cold_start::run(&mut report)?;
    #[cfg(not(feature = "torch"))]
    println!("\n== Sequential recommendation and product images: built without the `torch` feature (make demo enables it); skipped");
    finish(report, &report_dir, "mercato demo report", started)
}

/// Reads `path` as Latin-1 (MovieLens' `u.item`) or UTF-8 text: `id<sep>name...` lines into a map.
fn names_file(path: &Path, sep: char) -> HashMap<i64, String> {
    let Ok(bytes) = std::fs::read(path) else { return HashMap::new() };
    let text = String::from_utf8(bytes.clone()).unwrap_or_else(|_| bytes.iter().map(|&b| b as char).collect());
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(sep);
            Some((fields.next()?.trim().parse().ok()?, fields.next()?.to_string()))
        })
        .collect()
}

fn named(names: HashMap<i64, String>) -> Box<dyn Fn(&ExternalId) -> String> {
    Box::new(move |id| match id {
        ExternalId::Int(i) => names.get(i).cloned().unwrap_or_else(|| id.to_string()),
        ExternalId::UInt(_) | ExternalId::Str(_) => id.to_string(),
    })
}

fn skipped(what: &str, missing: &Path) {
    println!("\n== {what}: skipped ({} not found)", missing.display());
}

/// Runs the same steps on real data under `dir` (laid out like `../shared/datasets`), with
/// settings cheap enough for two cores; missing parts are skipped with a message.
pub fn run_real(dir: PathBuf, report_dir: PathBuf) -> Result<()> {
    let started = Instant::now();
    mercato::ensure!(
        dir.is_dir(),
        "--data {} is not a folder (expected a layout like ../shared/datasets)",
        dir.display()
    );
    let mut report = Report::default();
    println!("Real data under {}", dir.display());

    let ml = dir.join("movielens-100k");
    if ml.join("u1.base").is_file() {
        let (train, test) = ml100k_fold(&ml, 1)?;
        let data = recommend::RecData {
            title: "MovieLens-100k ratings (official fold u1: u1.base / u1.test)".into(),
            shown_users: train.users().ids().iter().take(3).cloned().collect(),
            train,
            test,
            name: named(names_file(&ml.join("u.item"), '|')),
            svdpp: true,
            als: Als::params(),
            bpr: Bpr::params(),
            knn_k: 20,
            bm25: false,
        };
        recommend::explicit(&data, &mut report)?;
    } else {
        skipped("Recommenders: explicit (MovieLens-100k)", &ml.join("u1.base"));
    }

    let lastfm = dir.join("lastfm-2k");
    if lastfm.join("user_artists.dat").is_file() {
        let plays = load_lastfm(lastfm.join("user_artists.dat"))?;
        let (train, test) = holdout_per_user(&plays, 0.2, 42)?;
        let data = recommend::RecData {
            title: "Last.fm-2k listening counts (per-user 80/20 split, seed 42)".into(),
            shown_users: train.users().ids().iter().take(3).cloned().collect(),
            train,
            test,
            name: named(names_file(&lastfm.join("artists.dat"), '\t')),
            svdpp: false,
            // The library's ALS defaults were tuned on Last.fm-2k's training split (raw counts);
            // BPR and item kNN as in examples/recommend_implicit.rs (popularity-weighted negatives:
            // P@10 0.133 there, against 0.065 with uniform ones on these long-tailed counts).
            als: Als::params(),
            bpr: Bpr::params().factors(64).iterations(100).negative_sampling(NegativeSampling::Popularity),
            knn_k: 100,
            bm25: false,
        };
        recommend::implicit(&data, &mut report)?;
    } else {
        skipped("Recommenders: implicit (Last.fm-2k)", &lastfm.join("user_artists.dat"));
    }

    let anomaly = dir.join("anomaly");
    // The credit-card subset, else any other labelled CSV with "fraud" in its name.
    let fraud_csv = Some(anomaly.join("creditcard_fraud_subset.csv"))
        .filter(|p| p.is_file())
        .or_else(|| {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&anomaly)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.contains("fraud") && name.ends_with(".csv")
                })
                .collect();
            found.sort();
            found.into_iter().next()
        })
        .unwrap_or_else(|| anomaly.join("creditcard_fraud_subset.csv"));
    if fraud_csv.is_file() {
        let table = load_anomaly_csv(&fraud_csv)?;
        let y = table.y.clone().ok_or_else(|| mercato::Error::invalid("the fraud CSV has no label column"))?;
        let share = y.iter().filter(|&&l| l == 1).count() as f64 / y.len().max(1) as f64;
        let amount = table.feature_names.iter().position(|n| n.eq_ignore_ascii_case("amount"));
        let x = table.x;
        let x_ref = x.clone();
        let labels = y.clone();
        let data = fraud::FraudData {
            title: format!(
                "{} real card transactions ({})",
                x.nrows(),
                fraud_csv.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            ),
            names: table.feature_names,
            describe: Box::new(move |i| {
                let truth = if labels[i] == 1 { "fraud" } else { "legitimate" };
                match amount {
                    Some(j) => format!("row {i} amount {:.2} ({truth})", x_ref[[i, j]]),
                    None => format!("row {i} ({truth})"),
                }
            }),
            x,
            y,
            // The subset keeps every fraud of the full set, so its fraud share is far above a
            // real stream's; the detectors are told that share (capped at 0.5).
            contamination: (share.clamp(0.001, 0.5) * 1000.0).round() / 1000.0,
        };
        fraud::run(&data, &mut report)?;
    } else {
        skipped("Fraud (credit-card transactions)", &fraud_csv);
    }

    #[cfg(feature = "torch")]
    {
        let fashion = dir.join("fashion-mnist");
        vision::run(fashion.is_dir().then_some(fashion.as_path()), &mut report)?;
    }
    #[cfg(not(feature = "torch"))]
    println!("\n== Product images: built without the `torch` feature (make demo enables it); skipped");
    finish(report, &report_dir, &format!("mercato demo report: real data under {}", dir.display()), started)
}
