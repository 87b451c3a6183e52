//! `mercato`: the command line for demos, training, evaluation and scoring.
//!
//! Exit codes: 0 success, 1 runtime error (bad data, unknown id, bad model file), 2 usage
//! error (clap). Errors go to stderr as `error: ...`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod report;

#[derive(Parser)]
#[command(name = "mercato", version, about = "Recommenders, fraud scoring and product-image classification")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the end-to-end demo on the bundled marketplace (or on real data with --data).
    Demo {
        /// Folder with the marketplace CSVs (default: the bundled datasets/marketplace).
        #[arg(long)]
        marketplace: Option<PathBuf>,
        /// Run on real data laid out like ../shared/datasets (movielens-100k, lastfm-2k,
        /// anomaly/creditcard_fraud_subset.csv, optionally fashion-mnist); missing parts are skipped.
        #[arg(long, conflicts_with = "marketplace")]
        data: Option<PathBuf>,
        /// Where to write the HTML report.
        #[arg(long, default_value = "report")]
        report: PathBuf,
    },
    /// Generate or inspect datasets.
    Datasets {
        #[command(subcommand)]
        command: DatasetsCommand,
    },
}

#[derive(Subcommand)]
enum DatasetsCommand {
    /// Generate the synthetic marketplace (products, ratings, events, transactions).
    Generate {
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// small | medium | large.
        #[arg(long, default_value = "small")]
        scale: String,
        /// Output folder.
        #[arg(long, default_value = "datasets/marketplace")]
        out: PathBuf,
        /// Also draw the 28x28 sample product images (2 per class) into this folder.
        #[arg(long)]
        images: Option<PathBuf>,
    },
}

fn run(cli: Cli) -> mercato::Result<()> {
    match cli.command {
        Command::Demo { marketplace, data, report } => match data {
            Some(data) => demo::run_real(data, report),
            None => demo::run(marketplace.unwrap_or_else(demo::bundled_marketplace), report),
        },
        Command::Datasets { command: DatasetsCommand::Generate { seed, scale, out, images } } => {
            if let Some(dir) = images {
                let n = mercato::data::synth_images::write_sample_images(&dir, seed, 2)?.len();
                println!("wrote {n} sample images to {}", dir.display());
            }
            let config = mercato::data::synth::Scale::parse(&scale)?.config(seed);
            let m = mercato::data::synth::Marketplace::generate(config);
            m.write(&out)?;
            println!(
                "wrote {} products, {} ratings, {} events, {} transactions to {}",
                m.products.len(),
                m.ratings.len(),
                m.events.len(),
                m.transactions.len(),
                out.display()
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
