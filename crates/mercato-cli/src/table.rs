//! Streaming CSV tables with a header (`-` = stdin), read one record at a time so that
//! scoring a file of any size runs in constant memory. Every malformed record is an
//! `Error::Parse` naming the file and the 1-based line (exit code 3).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use csv::StringRecord;
use mercato::Error;

use crate::exit::{CliError, CliResult};

/// A CSV file (or stdin) being read record by record.
pub struct Table {
    reader: csv::Reader<Box<dyn Read>>,
    name: String,
    headers: Vec<String>,
}

/// The single-byte delimiter given on the command line (`,`, `;`, `\t` or `tab`).
pub fn delimiter_byte(d: &str) -> CliResult<u8> {
    match d {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        d if d.len() == 1 => Ok(d.as_bytes()[0]),
        other => Err(CliError::usage(format!("--delimiter must be one character (or `tab`), got {other:?}"))),
    }
}

fn parse_error(name: &str, line: u64, message: impl Into<String>) -> CliError {
    Error::Parse { path: name.to_string(), line, message: message.into() }.into()
}

impl Table {
    /// Opens `path` (`-` for stdin) and reads its header line.
    pub fn open(path: &Path, delimiter: u8) -> CliResult<Table> {
        let (input, name): (Box<dyn Read>, String) = if path.as_os_str() == "-" {
            (Box::new(std::io::stdin().lock()), "<stdin>".into())
        } else {
            let f = File::open(path).map_err(|e| CliError::from(Error::io(path, e)))?;
            (Box::new(BufReader::with_capacity(1 << 16, f)), path.display().to_string())
        };
        let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).from_reader(input);
        let headers = match reader.headers() {
            Ok(h) => h.iter().map(|s| s.trim().to_string()).collect::<Vec<_>>(),
            Err(e) => return Err(csv_error(&name, e)),
        };
        if headers.is_empty() || headers.iter().all(String::is_empty) {
            return Err(parse_error(&name, 1, "empty file: expected a header line"));
        }
        Ok(Table { reader, name, headers })
    }

    /// The file name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Column names from the header.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The index of column `name`; a data error listing the header when it is missing.
    pub fn column(&self, name: &str) -> CliResult<usize> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            CliError::data(format!("{}: no column {name:?}; the header has: {}", self.name, self.headers.join(", ")))
        })
    }

    /// Reads the next record into `rec`; `false` at the end of the file.
    pub fn next_record(&mut self, rec: &mut StringRecord) -> CliResult<bool> {
        self.reader.read_record(rec).map_err(|e| csv_error(&self.name, e))
    }

    /// The 1-based line a record started on.
    pub fn line(rec: &StringRecord) -> u64 {
        rec.position().map_or(0, |p| p.line())
    }

    /// Field `col` of `rec` as a finite number.
    pub fn number(&self, rec: &StringRecord, col: usize) -> CliResult<f64> {
        let field = rec.get(col).unwrap_or("").trim();
        match field.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(parse_error(
                &self.name,
                Self::line(rec),
                format!("column {:?}: {field:?} is not finite", self.headers[col]),
            )),
            Err(_) => Err(parse_error(
                &self.name,
                Self::line(rec),
                format!("column {:?}: {field:?} is not a number", self.headers[col]),
            )),
        }
    }

    /// Field `col` of `rec` as a 0/1 label.
    pub fn label(&self, rec: &StringRecord, col: usize) -> CliResult<u8> {
        match rec.get(col).unwrap_or("").trim() {
            "0" | "0.0" | "false" | "False" => Ok(0),
            "1" | "1.0" | "true" | "True" => Ok(1),
            other => Err(parse_error(
                &self.name,
                Self::line(rec),
                format!("column {:?}: label must be 0 or 1, found {other:?}", self.headers[col]),
            )),
        }
    }
}

fn csv_error(name: &str, e: csv::Error) -> CliError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => CliError::data(format!("cannot read {name}: {io}")),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            parse_error(name, line, format!("expected {expected_len} fields as in the header, found {len}"))
        }
        csv::ErrorKind::Utf8 { .. } => parse_error(name, line, "not valid UTF-8"),
        other => parse_error(name, line, format!("{other:?}")),
    }
}
