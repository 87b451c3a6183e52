//! Readers for the file formats mercato meets in practice. Every malformed line is an
//! [`Error::Parse`] carrying the file and the 1-based line number.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use ndarray::Array2;

use super::{DuplicatePolicy, ExternalId, IdMap, Interactions};
use crate::{Error, Result};

fn open(path: &Path) -> Result<BufReader<File>> {
    File::open(path).map(BufReader::new).map_err(|e| Error::io(path, e))
}

fn parse_err(path: &Path, line: u64, message: impl Into<String>) -> Error {
    Error::Parse { path: path.display().to_string(), line, message: message.into() }
}

/// Calls `f(line_number, fields)` for every non-empty line, split on `delim`
/// (a multi-character delimiter such as MovieLens-1M's `::` is allowed).
fn for_each_record(
    path: &Path,
    delim: &str,
    skip_header: bool,
    mut f: impl FnMut(u64, &[&str]) -> std::result::Result<(), String>,
) -> Result<()> {
    for (n, line) in open(path)?.lines().enumerate() {
        let line_no = n as u64 + 1;
        let line = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => parse_err(path, line_no, "not valid UTF-8"),
            _ => Error::io(path, e),
        })?;
        let line = line.trim_end_matches('\r');
        if (skip_header && line_no == 1) || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(delim).collect();
        f(line_no, &fields).map_err(|m| parse_err(path, line_no, m))?;
    }
    Ok(())
}

fn parse_value(field: &str, what: &str) -> std::result::Result<f32, String> {
    let v: f32 = field.trim().parse().map_err(|_| format!("{what} {field:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{what} {field:?} is not finite"));
    }
    Ok(v)
}

/// Layout of a delimited (user, item, value) file.
#[derive(Clone, Debug)]
pub struct TripleFormat {
    /// Field separator: `","`, `"\t"`, `"::"`...
    pub delimiter: String,
    /// Skip the first line.
    pub header: bool,
    /// Zero-based columns of user, item and value; `None` for value means every entry is 1.
    pub columns: (usize, usize, Option<usize>),
    /// How repeated (user, item) pairs merge.
    pub duplicates: DuplicatePolicy,
}

impl Default for TripleFormat {
    fn default() -> Self {
        TripleFormat {
            delimiter: ",".into(),
            header: true,
            columns: (0, 1, Some(2)),
            duplicates: DuplicatePolicy::Error,
        }
    }
}

/// Reads (user, item, value) triples from `path` into `users`/`items` (extending them),
/// returning indexed entries: several files can share one id space.
pub fn read_triples(
    path: &Path,
    format: &TripleFormat,
    users: &mut IdMap,
    items: &mut IdMap,
) -> Result<Vec<(u32, u32, f32)>> {
    let (cu, ci, cv) = format.columns;
    let needed = cu.max(ci).max(cv.unwrap_or(0)) + 1;
    let mut entries = Vec::new();
    for_each_record(path, &format.delimiter, format.header, |_, fields| {
        if fields.len() < needed {
            return Err(format!(
                "expected at least {needed} fields separated by {:?}, found {}",
                format.delimiter,
                fields.len()
            ));
        }
        let value = match cv {
            Some(c) => parse_value(fields[c], "value")?,
            None => 1.0,
        };
        let u = users.insert(ExternalId::parse(fields[cu]));
        let i = items.insert(ExternalId::parse(fields[ci]));
        entries.push((u as u32, i as u32, value));
        Ok(())
    })?;
    Ok(entries)
}

/// Loads a generic delimited triples file.
pub fn load_triples(path: impl AsRef<Path>, format: &TripleFormat) -> Result<Interactions> {
    let (mut users, mut items) = (IdMap::new(), IdMap::new());
    let entries = read_triples(path.as_ref(), format, &mut users, &mut items)?;
    Interactions::from_indexed(users, items, entries, format.duplicates)
}

/// The format of a MovieLens ratings file, told from its name and first line:
/// `u.data`/`uN.base` (tab, no header), `ratings.dat` (`::`), `ratings.csv` (comma, header).
pub fn movielens_format(path: &Path) -> Result<TripleFormat> {
    let mut first = String::new();
    open(path)?.read_line(&mut first).map_err(|e| Error::io(path, e))?;
    let (delimiter, header) = if first.contains('\t') {
        ("\t", false)
    } else if first.contains("::") {
        ("::", false)
    } else if first.contains(',') {
        (",", first.to_ascii_lowercase().starts_with("userid"))
    } else {
        return Err(parse_err(path, 1, "not a MovieLens ratings line (expected tab, '::' or comma separated fields)"));
    };
    Ok(TripleFormat {
        delimiter: delimiter.into(),
        header,
        columns: (0, 1, Some(2)),
        duplicates: DuplicatePolicy::Error,
    })
}

/// Loads MovieLens ratings (`u.data`, `ratings.dat` or `ratings.csv`); duplicates are an error.
pub fn load_movielens(path: impl AsRef<Path>) -> Result<Interactions> {
    let path = path.as_ref();
    load_triples(path, &movielens_format(path)?)
}

/// Loads Last.fm-2k `user_artists.dat` (`userID\tartistID\tweight`, header first): play counts.
pub fn load_lastfm(path: impl AsRef<Path>) -> Result<Interactions> {
    let format = TripleFormat {
        delimiter: "\t".into(),
        header: true,
        columns: (0, 1, Some(2)),
        duplicates: DuplicatePolicy::Sum,
    };
    let x = load_triples(path.as_ref(), &format)?;
    if let Some((lo, _)) = x.value_range() {
        crate::ensure!(lo >= 0.0, "play counts must be non-negative, found {lo}");
    }
    Ok(x)
}

/// A table of numeric features with an optional 0/1 label column.
#[derive(Clone, Debug)]
pub struct LabelledTable {
    /// Rows × features.
    pub x: Array2<f64>,
    /// The `label` column (1 = anomaly), when present.
    pub y: Option<Vec<u8>>,
    /// Feature column names from the header.
    pub feature_names: Vec<String>,
}

/// Loads an anomaly CSV: a header, numeric feature columns, and an optional `label` column
/// (0/1, any position). Empty fields are rejected; use the fraud preprocessing to impute.
pub fn load_anomaly_csv(path: impl AsRef<Path>) -> Result<LabelledTable> {
    let path = path.as_ref();
    let mut header: Option<(Vec<String>, Option<usize>)> = None;
    let mut values: Vec<f64> = Vec::new();
    let mut labels: Vec<u8> = Vec::new();
    for_each_record(path, ",", false, |line, fields| {
        let Some((names, label_col)) = &header else {
            let names: Vec<String> = fields.iter().map(|f| f.trim().trim_matches('"').to_string()).collect();
            let label_col = names.iter().position(|n| n.eq_ignore_ascii_case("label"));
            header = Some((names, label_col));
            return Ok(());
        };
        if fields.len() != names.len() {
            return Err(format!("expected {} fields as in the header, found {}", names.len(), fields.len()));
        }
        for (c, field) in fields.iter().enumerate() {
            if Some(c) == *label_col {
                labels.push(match field.trim().trim_matches('"') {
                    "0" | "0.0" => 0,
                    "1" | "1.0" => 1,
                    other => return Err(format!("label must be 0 or 1, found {other:?}")),
                });
            } else {
                let v: f64 =
                    field.trim().parse().map_err(|_| format!("column {:?}: {field:?} is not a number", names[c]))?;
                if !v.is_finite() {
                    return Err(format!("column {:?}: {field:?} is not finite (line {line})", names[c]));
                }
                values.push(v);
            }
        }
        Ok(())
    })?;
    let Some((names, label_col)) = header else {
        return Err(parse_err(path, 1, "empty file: expected a header line"));
    };
    let feature_names: Vec<String> =
        names.into_iter().enumerate().filter(|(c, _)| Some(*c) != label_col).map(|(_, n)| n).collect();
    let n_rows = if feature_names.is_empty() { labels.len() } else { values.len() / feature_names.len() };
    let x = Array2::from_shape_vec((n_rows, feature_names.len()), values).map_err(|e| Error::invalid(e.to_string()))?;
    Ok(LabelledTable { x, y: label_col.map(|_| labels), feature_names })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn movielens_flavours() {
        let tab = file("196\t242\t3\t881250949\n186\t302\t3\t891717742\n");
        let x = load_movielens(tab.path()).unwrap();
        assert_eq!((x.n_users(), x.n_items(), x.nnz()), (2, 2, 2));
        let csv = file("userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n");
        let x = load_movielens(csv.path()).unwrap();
        assert_eq!((x.n_users(), x.nnz()), (1, 2));
        let dat = file("1::1193::5::978300760\n");
        assert_eq!(load_movielens(dat.path()).unwrap().nnz(), 1);
    }

    #[test]
    fn malformed_line_names_its_number() {
        let f = file("1\t2\t3\t0\n1\t3\tfive\t0\n");
        let err = load_movielens(f.path()).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
        assert!(err.to_string().contains("\"five\" is not a number"), "{err}");
        let f = file("1\t2\n");
        assert!(matches!(load_movielens(f.path()).unwrap_err(), Error::Parse { line: 1, .. }));
        assert!(matches!(load_movielens("/nonexistent/u.data").unwrap_err(), Error::Io { .. }));
    }

    #[test]
    fn lastfm_sums_and_rejects_negative() {
        let f = file("userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n");
        let x = load_lastfm(f.path()).unwrap();
        assert_eq!(x.value(0, 1), Some(11690.0));
        let f = file("userID\tartistID\tweight\n2\t51\t-3\n");
        assert!(load_lastfm(f.path()).is_err());
    }

    #[test]
    fn anomaly_csv() {
        let f = file("f0,f1,label\n0.5,1,0\n2,3.5,1\n");
        let t = load_anomaly_csv(f.path()).unwrap();
        assert_eq!(t.x.shape(), &[2, 2]);
        assert_eq!(t.y, Some(vec![0, 1]));
        assert_eq!(t.feature_names, vec!["f0", "f1"]);
        let f = file("f0,f1,label\n0.5,1,0\n2,,1\n");
        let err = load_anomaly_csv(f.path()).unwrap_err();
        assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
        let f = file("f0,label\n0.5,2\n");
        assert!(load_anomaly_csv(f.path()).is_err());
    }
}
