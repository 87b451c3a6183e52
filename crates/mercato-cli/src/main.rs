//! `mercato`: the command line for demos, training, evaluation and scoring.
//!
//! Exit codes (see [`exit`]): 0 success, 1 runtime or model error, 2 usage error, 3 input
//! data error, 4 feature not built. Errors go to stderr as `error: ...`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod demo;
mod exit;
mod models;
mod output;
mod report;
mod table;

#[derive(Parser)]
#[command(
    name = "mercato",
    version,
    about = "Recommenders, fraud scoring and product-image classification",
    after_help = exit::EXIT_CODES_HELP
)]
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
    /// Train a model from plain files and save it.
    #[command(subcommand, after_help = exit::EXIT_CODES_HELP)]
    Train(cmd::train::TrainCommand),
    /// Top-N items for a user from a saved recommender.
    #[command(after_help = exit::EXIT_CODES_HELP)]
    Recommend(cmd::recommend::RecommendArgs),
    /// Items most similar to an item (implicit recommenders).
    #[command(after_help = exit::EXIT_CODES_HELP)]
    Similar(cmd::recommend::SimilarArgs),
    /// Score a CSV of transactions with a saved detector, streaming row by row.
    #[command(after_help = exit::EXIT_CODES_HELP)]
    Score(cmd::score::ScoreArgs),
    /// Classify image files with a saved CNN.
    #[command(after_help = exit::EXIT_CODES_HELP)]
    Classify(cmd::classify::ClassifyArgs),
    /// Serve the models of a folder over HTTP (scoring, recommendations, auth, metrics, reload).
    #[command(after_help = exit::EXIT_CODES_HELP)]
    Serve(cmd::serve::ServeArgs),
    /// Evaluate a saved model on held-out data.
    #[command(subcommand, after_help = exit::EXIT_CODES_HELP)]
    Eval(cmd::eval::EvalCommand),
    /// Profit-maximising price from a price elasticity and a unit cost.
    #[command(after_help = exit::EXIT_CODES_HELP)]
    Price(cmd::price::PriceArgs),
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

fn run(cli: Cli) -> exit::CliResult<()> {
    match cli.command {
        Command::Demo { marketplace, data, report } => Ok(match data {
            Some(data) => demo::run_real(data, report),
            None => demo::run(marketplace.unwrap_or_else(demo::bundled_marketplace), report),
        }?),
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
        Command::Train(c) => cmd::train::run(c),
        Command::Recommend(a) => cmd::recommend::run(a),
        Command::Similar(a) => cmd::recommend::similar(a),
        Command::Score(a) => cmd::score::run(a),
        Command::Classify(a) => cmd::classify::run(a),
        Command::Eval(c) => cmd::eval::run(c),
        Command::Price(a) => cmd::price::run(a),
        Command::Serve(a) => cmd::serve::run(a),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) if e.code == exit::OK => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code)
        }
    }
}
