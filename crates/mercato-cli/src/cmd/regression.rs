//! `mercato train regression`: a demand or sales model from a CSV, printed as statsmodels'
//! summary and saved. The design is given by flags instead of a formula: `--log` columns
//! enter as `log(col)`, `--categorical` columns as drop-first dummies `C(col)[T.level]`
//! (levels sorted, as patsy names them), so `log(sales) ~ log(price) + C(brand) + promo` is
//! `--target sales --log sales,price --categorical brand --features price,brand,promo`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use mercato::persist::Persist;
use mercato::regression::{CovType, LinearRegressionParams};
use serde_json::{json, Map, Value};

use super::{check_out_dir, path_str, secs};
use crate::exit::{CliError, CliResult};
use crate::output::{emit, num};
use crate::table::{delimiter_byte, Table};

/// `mercato train regression`.
#[derive(Args)]
pub struct RegressionArgs {
    /// Training data: a delimited file with a header.
    #[arg(long)]
    pub input: PathBuf,
    /// The column to explain (e.g. units sold).
    #[arg(long)]
    pub target: String,
    /// Explanatory columns, comma-separated (default: every column but the target, weights
    /// and groups).
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Columns (features or the target) that enter as their natural log; values must be > 0.
    #[arg(long, value_delimiter = ',')]
    pub log: Vec<String>,
    /// Feature columns holding categories: drop-first dummies, the first level (sorted) is
    /// the baseline.
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Covariance of the estimates: nonrobust, HC0, HC1, HC2, HC3 or cluster (with --groups).
    #[arg(long, default_value = "nonrobust")]
    pub cov_type: String,
    /// Cluster labels for --cov-type cluster (any text; one cluster per distinct value).
    #[arg(long)]
    pub groups: Option<String>,
    /// Positive row weights: weighted least squares (statsmodels' WLS).
    #[arg(long)]
    pub weights: Option<String>,
    /// Ridge penalty on the slopes (0 = least squares; ridge reports no inference).
    #[arg(long, default_value_t = 0.0)]
    pub ridge: f64,
    /// Fit without an intercept.
    #[arg(long)]
    pub no_intercept: bool,
    /// Significance level of the intervals in the summary.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Field separator, e.g. `,`, `;` or `tab`.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// Where to save the model (mercato's checked format; `mercato.load` reads it).
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// One design column source: a numeric column (maybe logged) or a categorical one.
enum Source {
    Number { log: bool },
    Category { levels: Vec<String> },
}

/// Reads the design, fits, saves and prints the summary.
pub fn run(a: RegressionArgs) -> CliResult<()> {
    check_out_dir(&a.out)?;
    let cov_type: CovType = a.cov_type.parse().map_err(|e: mercato::Error| CliError::usage(e.to_string()))?;
    if (cov_type == CovType::Cluster) != a.groups.is_some() {
        return Err(CliError::usage("--cov-type cluster and --groups go together"));
    }
    let params =
        LinearRegressionParams { fit_intercept: !a.no_intercept, alpha: a.ridge, cov_type, ..Default::default() };
    mercato::params::Params::check(&params).map_err(|e| CliError::usage(e.to_string()))?;

    let delimiter = delimiter_byte(&a.delimiter)?;
    let mut table = Table::open(&a.input, delimiter)?;
    let target = table.column(&a.target)?;
    let weights = a.weights.as_deref().map(|c| table.column(c)).transpose()?;
    let groups = a.groups.as_deref().map(|c| table.column(c)).transpose()?;
    for c in a.log.iter().chain(&a.categorical) {
        table.column(c)?;
    }
    let features: Vec<String> = if a.features.is_empty() {
        let skip = [Some(target), weights, groups];
        (0..table.headers().len()).filter(|j| !skip.contains(&Some(*j))).map(|j| table.headers()[j].clone()).collect()
    } else {
        a.features.clone()
    };
    if features.is_empty() {
        return Err(CliError::usage("no feature columns: name them with --features"));
    }
    for c in &a.categorical {
        if !features.contains(c) {
            return Err(CliError::usage(format!("--categorical {c:?} is not among the features")));
        }
        if a.log.contains(c) {
            return Err(CliError::usage(format!("{c:?} cannot be both --log and --categorical")));
        }
    }
    for c in &a.log {
        if !features.contains(c) && *c != a.target {
            return Err(CliError::usage(format!("--log {c:?} is neither the target nor a feature")));
        }
    }

    // One pass keeps the raw fields: categorical levels are known only at the end.
    let feature_cols: Vec<usize> = features.iter().map(|c| table.column(c)).collect::<CliResult<_>>()?;
    let mut y = Vec::new();
    let mut w = Vec::new();
    let mut g_labels: Vec<String> = Vec::new();
    let mut raw: Vec<Vec<String>> = vec![Vec::new(); features.len()];
    let log_target = a.log.contains(&a.target);
    let mut rec = csv::StringRecord::new();
    while table.next_record(&mut rec)? {
        y.push(logged(&table, &rec, target, log_target)?);
        if let Some(c) = weights {
            w.push(table.number(&rec, c)?);
        }
        if let Some(c) = groups {
            g_labels.push(rec.get(c).unwrap_or("").trim().to_string());
        }
        for (k, &c) in feature_cols.iter().enumerate() {
            let field = rec.get(c).unwrap_or("").trim();
            if !a.categorical.contains(&features[k]) {
                // checked now, so the error names the line
                logged(&table, &rec, c, a.log.contains(&features[k])).map_err(|mut e| {
                    e.message.push_str(" (name text columns with --categorical)");
                    e
                })?;
            }
            raw[k].push(field.to_string());
        }
    }
    let n = y.len();
    if n == 0 {
        return Err(CliError::data(format!("{}: no data rows after the header", table.name())));
    }

    let sources: Vec<Source> = features
        .iter()
        .zip(&raw)
        .map(|(name, values)| {
            if a.categorical.contains(name) {
                let levels: BTreeSet<&String> = values.iter().collect();
                Source::Category { levels: levels.into_iter().cloned().collect() }
            } else {
                Source::Number { log: a.log.contains(name) }
            }
        })
        .collect();
    let mut names = Vec::new();
    for (name, s) in features.iter().zip(&sources) {
        match s {
            Source::Number { log: true, .. } => names.push(format!("log({name})")),
            Source::Number { .. } => names.push(name.clone()),
            Source::Category { levels, .. } => names.extend(levels.iter().skip(1).map(|l| format!("C({name})[T.{l}]"))),
        }
    }
    if names.is_empty() {
        return Err(CliError::data("every categorical feature has one level: nothing to fit"));
    }
    let mut x = ndarray::Array2::<f64>::zeros((n, names.len()));
    let mut j = 0;
    for (k, s) in sources.iter().enumerate() {
        match s {
            Source::Number { log, .. } => {
                for i in 0..n {
                    // validated while reading; parse again instead of storing every number twice
                    let v: f64 = raw[k][i].parse().unwrap_or(f64::NAN);
                    x[[i, j]] = if *log { v.ln() } else { v };
                }
                j += 1;
            }
            Source::Category { levels } => {
                for i in 0..n {
                    if let Some(pos) = levels.iter().position(|l| *l == raw[k][i]).filter(|&p| p > 0) {
                        x[[i, j + pos - 1]] = 1.0;
                    }
                }
                j += levels.len() - 1;
            }
        }
    }
    let group_ids: Option<Vec<i64>> = groups.map(|_| {
        let seen: Vec<&String> = g_labels.iter().collect::<BTreeSet<_>>().into_iter().collect();
        g_labels.iter().map(|l| seen.binary_search(&l).map_or(-1, |p| p as i64)).collect()
    });

    let t = Instant::now();
    let fit =
        params.fit_named(&x.view(), &y, weights.map(|_| w.as_slice()), group_ids.as_deref(), Some(names.as_slice()))?;
    let seconds = secs(t);
    fit.save(&a.out)?;
    let yname = if log_target { format!("log({})", a.target) } else { a.target.clone() };
    let summary = fit.summary(&yname, a.alpha).map_err(|e| CliError::usage(e.to_string()))?;
    let per_param = |v: Vec<f64>| -> Value {
        Value::Object(fit.param_names().into_iter().zip(v).map(|(k, v)| (k, num(v))).collect::<Map<_, _>>())
    };
    let mut out = json!({
        "command": "train regression",
        "kind": "regression.linear",
        "input": path_str(&a.input),
        "rows": n,
        "target": yname,
        "cov_type": cov_type.as_str(),
        "params": per_param(fit.params()),
        "rsquared": num(fit.rsquared()),
        "rsquared_adj": num(fit.rsquared_adj()),
        "aic": num(fit.aic()),
        "bic": num(fit.bic()),
        "condition_number": num(fit.condition_number()),
        "fit_seconds": num(seconds),
        "model": path_str(&a.out),
    });
    if let (Ok(bse), Ok(p)) = (fit.bse(), fit.pvalues()) {
        out["bse"] = per_param(bse);
        out["pvalues"] = per_param(p);
    }
    emit(a.json, &out, || {
        println!("{summary}");
        println!("saved {} ({n} rows, {seconds:.3} s)", a.out.display());
    });
    Ok(())
}

/// Field `col` as a number, or its log when `log` (a data error naming the line for ≤ 0).
fn logged(table: &Table, rec: &csv::StringRecord, col: usize, log: bool) -> CliResult<f64> {
    let v = table.number(rec, col)?;
    if log && v <= 0.0 {
        return Err(CliError::data(format!(
            "{} line {}: column {:?} is {v}, its log is undefined (--log needs values > 0)",
            table.name(),
            Table::line(rec),
            table.headers()[col]
        )));
    }
    Ok(if log { v.ln() } else { v })
}
