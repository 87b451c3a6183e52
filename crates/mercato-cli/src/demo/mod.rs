//! `mercato demo`: the main job on the bundled marketplace — recommenders, fraud scoring and
//! (with the `torch` feature) product-image classification — ending in an HTML report.

use std::path::PathBuf;
use std::time::Instant;

use mercato::data::synth::Marketplace;
use mercato::Result;

use crate::report::Report;

mod fraud;
mod recommend;
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

/// Runs every step; `report_dir` receives `index.html`.
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
    recommend::explicit(&market, &mut report)?;
    recommend::implicit(&market, &mut report)?;
    fraud::run(&market, &mut report)?;
    #[cfg(feature = "torch")]
    vision::run(&mut report)?;
    #[cfg(not(feature = "torch"))]
    println!("\n== Product images: built without the `torch` feature (make demo enables it); skipped");

    let path = report.write(&report_dir, "mercato demo report")?;
    println!("\nReport: {}", std::fs::canonicalize(&path).unwrap_or(path).display());
    println!("Demo finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
