//! `mercato score`: score a CSV of transactions with a saved detector, streaming.
//!
//! Records are read one at a time and scored in batches of `--batch-size` rows (batch scoring
//! uses the detector's threads), and each batch is written before the next is read: memory
//! stays constant whatever the size of the input, and `-` pipes stdin to stdout.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use mercato::fraud::{Detector, ProbaMethod};
use ndarray::ArrayView2;
use serde_json::json;

use super::{check_out_dir, path_str, secs};
use crate::exit::{CliError, CliResult};
use crate::models::LoadedDetector;
use crate::output::{emit, num};
use crate::table::{delimiter_byte, Table};

/// How a score becomes a 0-1 risk.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Risk {
    /// Min-max over the training scores.
    Linear,
    /// Gaussian scaling of the training scores (Kriegel et al. 2011).
    Unify,
}

/// `mercato score`.
#[derive(Args)]
pub struct ScoreArgs {
    /// A detector from `mercato train detector`.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV with a header holding the model's feature columns (others are ignored); `-` = stdin.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the scores CSV; `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: PathBuf,
    /// Column copied to the output to identify rows (default: the 1-based row number).
    #[arg(long)]
    pub id_col: Option<String>,
    /// Add the top K features behind each score (name and contribution).
    #[arg(long, default_value_t = 0)]
    pub explain: usize,
    /// Flag rows above this score instead of the model's threshold.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// How the risk column is computed.
    #[arg(long, value_enum, default_value = "linear")]
    pub risk: Risk,
    /// Rows scored together (memory is proportional to it).
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// Field separator of the input: one character, or `tab`.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// Print the summary as JSON on stdout (needs --output to be a file).
    #[arg(long)]
    pub json: bool,
}

fn write_err(e: impl std::fmt::Display) -> CliError {
    CliError::runtime(format!("cannot write the scores: {e}"))
}

/// A write error on the scores. A closed pipe (`mercato score ... | head`) is the reader
/// saying it has enough: stop quietly with success, as Unix tools do.
fn csv_write_err(e: csv::Error) -> CliError {
    match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => CliError::stop(),
        _ => write_err(e),
    }
}

/// Scores the input and writes `id,score,label,risk[,feature_1,contribution_1,...]`.
pub fn run(a: ScoreArgs) -> CliResult<()> {
    let to_stdout = a.output.as_os_str() == "-";
    if a.json && to_stdout {
        return Err(CliError::usage("--json prints a summary on stdout: give --output a file"));
    }
    if a.batch_size == 0 {
        return Err(CliError::usage("--batch-size must be at least 1"));
    }
    if let Some(t) = a.threshold {
        if !t.is_finite() {
            return Err(CliError::usage(format!("--threshold must be finite, got {t}")));
        }
    }
    if !to_stdout {
        check_out_dir(&a.output)?;
    }
    let model = LoadedDetector::load(&a.model)?;
    let det = &model.detector;
    let mut table = Table::open(&a.input, delimiter_byte(&a.delimiter)?)?;
    let cols = model.feature_names.iter().map(|n| table.column(n)).collect::<CliResult<Vec<usize>>>()?;
    let id_col = a.id_col.as_deref().map(|c| table.column(c)).transpose()?;
    let threshold = match a.threshold {
        Some(t) => t,
        None => det.threshold()?,
    };
    let calibration = det.calibration()?.clone();
    let method = match a.risk {
        Risk::Linear => ProbaMethod::Linear,
        Risk::Unify => ProbaMethod::Unify,
    };

    let sink: Box<dyn Write> = if to_stdout {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        let f = File::create(&a.output).map_err(|e| write_err(format!("{}: {e}", a.output.display())))?;
        Box::new(BufWriter::with_capacity(1 << 16, f))
    };
    let mut out = csv::Writer::from_writer(sink);
    let mut header =
        vec![a.id_col.clone().unwrap_or_else(|| "row".into()), "score".into(), "label".into(), "risk".into()];
    for k in 1..=a.explain {
        header.push(format!("feature_{k}"));
        header.push(format!("contribution_{k}"));
    }
    out.write_record(&header).map_err(csv_write_err)?;

    let d = cols.len();
    let t = Instant::now();
    let (mut rows, mut flagged) = (0usize, 0usize);
    let mut values: Vec<f64> = Vec::with_capacity(a.batch_size * d);
    let mut ids: Vec<String> = Vec::with_capacity(a.batch_size);
    let mut rec = csv::StringRecord::new();
    let mut line = Vec::<String>::with_capacity(header.len());
    let mut flush = |values: &mut Vec<f64>, ids: &mut Vec<String>| -> CliResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let x =
            ArrayView2::from_shape((ids.len(), d), values.as_slice()).map_err(|e| CliError::runtime(e.to_string()))?;
        let scores = det.score(&x)?;
        for (r, id) in ids.iter().enumerate() {
            let s = scores[r];
            let label = u8::from(s > threshold);
            flagged += usize::from(label);
            line.clear();
            line.extend([id.clone(), s.to_string(), label.to_string(), format!("{:.6}", calibration.proba(s, method))]);
            if a.explain > 0 {
                let why = det.explain(&values[r * d..(r + 1) * d])?;
                for &(j, c) in why.top(a.explain) {
                    line.push(model.feature_names[j].clone());
                    line.push(format!("{c:.6}"));
                }
                for _ in why.top(a.explain).len()..a.explain {
                    line.extend([String::new(), String::new()]);
                }
            }
            out.write_record(&line).map_err(csv_write_err)?;
        }
        rows += ids.len();
        values.clear();
        ids.clear();
        Ok(())
    };
    let mut row_number = 0u64;
    while table.next_record(&mut rec)? {
        row_number += 1;
        for &j in &cols {
            values.push(table.number(&rec, j)?);
        }
        ids.push(match id_col {
            Some(c) => rec.get(c).unwrap_or("").to_string(),
            None => row_number.to_string(),
        });
        if ids.len() == a.batch_size {
            flush(&mut values, &mut ids)?;
        }
    }
    flush(&mut values, &mut ids)?;
    out.flush().map_err(|e| match e.kind() {
        std::io::ErrorKind::BrokenPipe => CliError::stop(),
        _ => write_err(e),
    })?;
    drop(out);

    let seconds = secs(t);
    let summary = json!({
        "command": "score",
        "model": path_str(&a.model),
        "kind": model.kind,
        "input": path_str(&a.input),
        "output": path_str(&a.output),
        "rows": rows,
        "flagged": flagged,
        "threshold": num(threshold),
        "seconds": num(seconds),
        "rows_per_second": num(rows as f64 / seconds.max(1e-9)),
    });
    emit(a.json, &summary, || {
        eprintln!(
            "scored {rows} rows in {seconds:.2} s ({:.0} rows/s); {flagged} flagged above {threshold:.4}{}",
            rows as f64 / seconds.max(1e-9),
            if to_stdout { String::new() } else { format!("; wrote {}", a.output.display()) }
        )
    });
    Ok(())
}
