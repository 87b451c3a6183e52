//! The commands for services and ops: train, recommend, similar, score, classify, eval, price, serve.
//! Each module holds its clap arguments and a `run` that returns a [`crate::exit::CliResult`].

pub mod classify;
pub mod eval;
pub mod price;
pub mod recommend;
pub mod regression;
pub mod score;
pub mod serve;
pub mod train;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use mercato::data::{load_triples, DuplicatePolicy, Interactions, TripleFormat};

use crate::exit::{CliError, CliResult};

/// How repeated (user, item) pairs in a triples file merge.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Duplicates {
    /// Reject the file, naming the pair.
    Error,
    /// Keep the last value (revised ratings).
    Last,
    /// Add the values (counts, clicks).
    Sum,
}

/// Where the (user, item, value) columns of a CSV are, shared by `train recommender` and
/// `eval recommender`.
#[derive(Args, Clone, Debug)]
pub struct TripleArgs {
    /// Column holding user ids (a header name; a 0-based index with --no-header).
    #[arg(long, default_value = "user")]
    pub user_col: String,
    /// Column holding item ids.
    #[arg(long, default_value = "item")]
    pub item_col: String,
    /// Column holding ratings (explicit algorithms; default `rating`) or weights such as
    /// play counts (implicit algorithms; default: every row counts 1).
    #[arg(long)]
    pub rating_col: Option<String>,
    /// Field separator, e.g. `,`, `;`, `tab` or `::`.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// The file has no header line; columns are then 0-based indices.
    #[arg(long)]
    pub no_header: bool,
    /// Repeated (user, item) pairs [default: error for ratings, sum for implicit data].
    #[arg(long, value_enum)]
    pub duplicates: Option<Duplicates>,
}

impl TripleArgs {
    /// Loads the file as interactions; `explicit` decides the default value column and
    /// duplicate policy. Every problem with the file is a data error (exit 3).
    pub fn load(&self, path: &Path, explicit: bool) -> CliResult<Interactions> {
        let delimiter = match self.delimiter.as_str() {
            "tab" | "\\t" => "\t".to_string(),
            d if !d.is_empty() => d.to_string(),
            _ => return Err(CliError::usage("--delimiter must not be empty")),
        };
        let value_col = match (&self.rating_col, explicit) {
            (Some(c), _) => Some(c.clone()),
            (None, true) => Some(if self.no_header { "2".to_string() } else { "rating".to_string() }),
            (None, false) => None,
        };
        let columns = if self.no_header {
            let index = |c: &str| {
                c.parse::<usize>()
                    .map_err(|_| CliError::usage(format!("with --no-header columns are 0-based indices, got {c:?}")))
            };
            (index(&self.user_col)?, index(&self.item_col)?, value_col.as_deref().map(index).transpose()?)
        } else {
            let header = first_line(path)?;
            let names: Vec<String> =
                header.split(delimiter.as_str()).map(|f| f.trim().trim_matches('"').to_string()).collect();
            let find = |c: &str| {
                names.iter().position(|n| n == c).ok_or_else(|| {
                    CliError::data(format!("{}: no column {c:?}; the header has: {}", path.display(), names.join(", ")))
                })
            };
            (find(&self.user_col)?, find(&self.item_col)?, value_col.as_deref().map(find).transpose()?)
        };
        let duplicates = match self.duplicates.unwrap_or(if explicit { Duplicates::Error } else { Duplicates::Sum }) {
            Duplicates::Error => DuplicatePolicy::Error,
            Duplicates::Last => DuplicatePolicy::Last,
            Duplicates::Sum => DuplicatePolicy::Sum,
        };
        let format = TripleFormat { delimiter, header: !self.no_header, columns, duplicates };
        // Duplicates and empty files surface as InvalidInput from the loader: still the data's fault.
        load_triples(path, &format).map_err(|e| match e {
            mercato::Error::InvalidInput(m) => CliError::data(format!("{}: {m}", path.display())),
            other => other.into(),
        })
    }
}

fn first_line(path: &Path) -> CliResult<String> {
    use std::io::BufRead;
    let f = std::fs::File::open(path).map_err(|e| CliError::from(mercato::Error::io(path, e)))?;
    let mut line = String::new();
    std::io::BufReader::new(f).read_line(&mut line).map_err(|e| CliError::from(mercato::Error::io(path, e)))?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.trim().is_empty() {
        return Err(CliError::data(format!("{}: empty file, expected a header line", path.display())));
    }
    Ok(line)
}

/// Seconds since `t`.
pub fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// A path for JSON output.
pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Checks that an output path's folder exists before a long computation starts.
pub fn check_out_dir(out: &Path) -> CliResult<()> {
    let parent =
        out.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if !parent.is_dir() {
        return Err(CliError::runtime(format!(
            "cannot write {}: folder {} does not exist",
            out.display(),
            parent.display()
        )));
    }
    Ok(())
}
