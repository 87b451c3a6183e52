//! `mercato train {recommender|detector|classifier|regression}`: fit a model from plain files and save it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use mercato::data::{ExternalId, IdMap};
use mercato::fraud::{AnyDetectorParams, Detector, EnsembleParams};
use mercato::persist::Persist;
use mercato::recommend::hybrid::{Features, HybridMF, HybridMFParams, ItemContent, ItemContentParams};
use mercato::recommend::{
    Als, AlsParams, Baseline, BaselineParams, Bpr, BprParams, FunkSVD, FunkSVDParams, ItemKnn, ItemKnnParams,
    KNNParams, SVDpp, SVDppParams, KNN,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{check_out_dir, path_str, secs, TripleArgs};
use crate::exit::{write_failure, CliError, CliResult};
use crate::models::save_detector;
use crate::output::{emit, num};
use crate::table::{delimiter_byte, Table};

/// What to train.
#[derive(Subcommand)]
pub enum TrainCommand {
    /// A recommender from a (user, item[, rating]) CSV.
    Recommender(Box<RecommenderArgs>),
    /// A fraud/anomaly detector from the numeric columns of a CSV with a header.
    Detector(DetectorArgs),
    /// A product-image CNN from a folder `root/<class>/*.png|jpg` (needs the `torch` feature).
    Classifier(ClassifierArgs),
    /// A demand or sales regression (OLS, WLS, ridge) with statsmodels' summary.
    Regression(super::regression::RegressionArgs),
}

/// Recommender algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RecAlgo {
    /// Explicit: user and item biases (ALS or SGD).
    Baseline,
    /// Explicit: biased matrix factorisation by SGD.
    Funksvd,
    /// Explicit: SVD++ (factors plus implicit feedback of what was rated).
    Svdpp,
    /// Explicit: neighbourhood model (item-based, Pearson-baseline by default).
    Knn,
    /// Implicit: alternating least squares.
    Als,
    /// Implicit: Bayesian personalised ranking.
    Bpr,
    /// Implicit: item-item cosine neighbours.
    Itemknn,
    /// Implicit, with user/item features: LightFM's hybrid factorisation (WARP by default);
    /// new users and items are then served from their features alone.
    Hybrid,
    /// Content-based: items compared by their features alone (TF-IDF cosine). Reads only
    /// --item-features (every row a catalogue item, no --input); served by item (`similar`)
    /// and from the items a visitor viewed (`recommend_sequence`).
    Content,
}

impl RecAlgo {
    /// Trained on ratings (true) or on implicit feedback.
    pub fn explicit(self) -> bool {
        matches!(self, RecAlgo::Baseline | RecAlgo::Funksvd | RecAlgo::Svdpp | RecAlgo::Knn)
    }

    fn name(self) -> &'static str {
        match self {
            RecAlgo::Baseline => "baseline",
            RecAlgo::Funksvd => "funksvd",
            RecAlgo::Svdpp => "svdpp",
            RecAlgo::Knn => "knn",
            RecAlgo::Als => "als",
            RecAlgo::Bpr => "bpr",
            RecAlgo::Itemknn => "itemknn",
            RecAlgo::Hybrid => "hybrid",
            RecAlgo::Content => "content",
        }
    }
}

/// `mercato train recommender`.
#[derive(Args)]
pub struct RecommenderArgs {
    /// The algorithm.
    #[arg(long, value_enum)]
    pub algo: RecAlgo,
    /// Training data: a delimited file of (user, item[, value]) rows (every algorithm but
    /// content, which reads only --item-features).
    #[arg(long)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub columns: TripleArgs,
    /// Latent factors (funksvd, svdpp, als, bpr).
    #[arg(long)]
    pub factors: Option<usize>,
    /// Epochs / iterations / sweeps (baseline, funksvd, svdpp, als, bpr).
    #[arg(long, visible_alias = "iterations")]
    pub epochs: Option<usize>,
    /// L2 regularisation (baseline: both bias penalties; funksvd, svdpp, als, bpr).
    #[arg(long)]
    pub reg: Option<f32>,
    /// Learning rate (funksvd, svdpp, bpr).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Confidence scale (als).
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Neighbours (knn, itemknn).
    #[arg(long)]
    pub k: Option<usize>,
    /// Random seed (ignored by deterministic algorithms).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default all cores; results do not depend on it).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Any other hyper-parameter as a JSON object with the library's field names,
    /// e.g. '{"user_based": true}' for knn.
    #[arg(long)]
    pub params: Option<String>,
    /// Item features (hybrid, content): a delimited file with a header, one row per item, the item id
    /// in the --item-col column; each of --item-feature-cols becomes named features
    /// `column=value` (e.g. `category=Grocery`).
    #[arg(long, requires = "item_feature_cols")]
    pub item_features: Option<PathBuf>,
    /// Categorical columns of --item-features, comma-separated.
    #[arg(long, value_delimiter = ',', requires = "item_features")]
    pub item_feature_cols: Vec<String>,
    /// User features (hybrid), as --item-features with the id in the --user-col column.
    #[arg(long, requires = "user_feature_cols")]
    pub user_features: Option<PathBuf>,
    /// Categorical columns of --user-features, comma-separated.
    #[arg(long, value_delimiter = ',', requires = "user_features")]
    pub user_feature_cols: Vec<String>,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Applies command-line hyper-parameters to `defaults` through their serde form. `flags`
/// lists (flag, value, fields it sets); a flag given for an algorithm without such a field
/// is a usage error, as is an unknown key in `--params`.
fn configure<P: Serialize + DeserializeOwned>(
    algo: &str,
    defaults: P,
    flags: &[(&str, Option<Value>, &[&str])],
    extra: Option<&str>,
) -> CliResult<P> {
    let mut obj = match serde_json::to_value(&defaults) {
        Ok(Value::Object(m)) => m,
        _ => return Err(CliError::runtime(format!("cannot read the {algo} defaults"))),
    };
    let known = |obj: &Map<String, Value>| obj.keys().cloned().collect::<Vec<_>>().join(", ");
    for (flag, value, fields) in flags {
        let Some(value) = value else { continue };
        if fields.is_empty() {
            return Err(CliError::usage(format!(
                "--{flag} does not apply to --algo {algo} (its hyper-parameters: {}; other flags: --seed, --threads)",
                known(&obj)
            )));
        }
        for f in *fields {
            obj.insert((*f).to_string(), value.clone());
        }
    }
    if let Some(extra) = extra {
        let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(extra) else {
            return Err(CliError::usage(format!("--params must be a JSON object, got {extra:?}")));
        };
        for (k, v) in extra {
            if !obj.contains_key(&k) {
                return Err(CliError::usage(format!(
                    "--params: {algo} has no hyper-parameter {k:?} (it has: {})",
                    known(&obj)
                )));
            }
            obj.insert(k, v);
        }
    }
    serde_json::from_value(Value::Object(obj)).map_err(|e| CliError::usage(format!("bad {algo} hyper-parameters: {e}")))
}

fn val<T: Serialize>(v: Option<T>) -> Option<Value> {
    v.map(|v| json!(v))
}

/// Fits, saves, and reports.
pub fn recommender(a: RecommenderArgs) -> CliResult<()> {
    check_out_dir(&a.out)?;
    if a.threads == Some(0) {
        return Err(CliError::usage("--threads must be at least 1"));
    }
    let algo = a.algo.name();
    if a.algo == RecAlgo::Content {
        return content(&a);
    }
    let Some(input) = &a.input else {
        return Err(CliError::usage(format!("--algo {algo} needs --input (the training interactions)")));
    };
    let (factors, epochs, reg, lr, alpha, k, seed) =
        (val(a.factors), val(a.epochs), val(a.reg), val(a.lr), val(a.alpha), val(a.k), val(a.seed));
    let extra = a.params.as_deref();
    // (flag, value, the fields of this algorithm's *Params it sets)
    type Flags<'a> = Vec<(&'a str, Option<Value>, &'a [&'a str])>;
    let flags = |map: [&'static [&'static str]; 7]| -> Flags<'static> {
        vec![
            ("factors", factors.clone(), map[0]),
            ("epochs", epochs.clone(), map[1]),
            ("reg", reg.clone(), map[2]),
            ("lr", lr.clone(), map[3]),
            ("alpha", alpha.clone(), map[4]),
            ("k", k.clone(), map[5]),
            // the seed is ignored where there is nothing random
            ("seed", if map[6].is_empty() { None } else { seed.clone() }, map[6]),
        ]
    };
    if a.algo != RecAlgo::Hybrid && (a.item_features.is_some() || a.user_features.is_some()) {
        return Err(CliError::usage("--item-features and --user-features need --algo hybrid or content"));
    }
    let none: &[&str] = &[];
    let x = a.columns.load(input, a.algo.explicit())?;
    let (n_users, n_items, nnz) = (x.n_users(), x.n_items(), x.nnz());
    let t = Instant::now();
    let (kind, params): (&str, Value) = match a.algo {
        RecAlgo::Baseline => {
            let p: BaselineParams = configure(
                algo,
                BaselineParams::default(),
                &flags([none, &["epochs"], &["reg_item", "reg_user"], none, none, none, none]),
                extra,
            )?;
            p.fit(&x)?.save(&a.out).map_err(write_failure)?;
            (Baseline::KIND, json!(p))
        }
        RecAlgo::Funksvd => {
            let mut p: FunkSVDParams = configure(
                algo,
                FunkSVDParams::default(),
                &flags([&["factors"], &["epochs"], &["reg"], &["lr"], none, none, &["seed"]]),
                extra,
            )?;
            p.num_threads = a.threads;
            p.fit(&x)?.save(&a.out).map_err(write_failure)?;
            (FunkSVD::KIND, json!(p))
        }
        RecAlgo::Svdpp => {
            let mut p: SVDppParams = configure(
                algo,
                SVDppParams::default(),
                &flags([&["factors"], &["epochs"], &["reg"], &["lr"], none, none, &["seed"]]),
                extra,
            )?;
            p.num_threads = a.threads;
            p.fit(&x)?.save(&a.out).map_err(write_failure)?;
            (SVDpp::KIND, json!(p))
        }
        RecAlgo::Knn => {
            let mut p: KNNParams =
                configure(algo, KNNParams::default(), &flags([none, none, none, none, none, &["k"], none]), extra)?;
            p.num_threads = a.threads;
            p.fit(&x)?.save(&a.out).map_err(write_failure)?;
            (KNN::KIND, json!(p))
        }
        RecAlgo::Als => {
            let mut p: AlsParams = configure(
                algo,
                AlsParams::default(),
                &flags([&["factors"], &["iterations"], &["regularization"], none, &["alpha"], none, &["seed"]]),
                extra,
            )?;
            p.num_threads = a.threads;
            p.show_progress = true;
            p.fit(&x)?.save(&a.out).map_err(write_failure)?;
            (Als::KIND, json!(p))
        }
        RecAlgo::Bpr => {
            let mut p: BprParams = configure(
                algo,
                BprParams::default(),
                &flags([&["factors"], &["iterations"], &["regularization"], &["learning_rate"], none, none, &["seed"]]),
                extra,
            )?;
            p.num_threads = a.threads;
            p.show_progress = true;
            p.fit(&x)?.save(&a.out).map_err(write_failure)?;
            (Bpr::KIND, json!(p))
        }
        RecAlgo::Itemknn => {
            let mut p: ItemKnnParams =
                configure(algo, ItemKnnParams::default(), &flags([none, none, none, none, none, &["k"], none]), extra)?;
            p.num_threads = a.threads;
            p.fit(&x)?.save(&a.out).map_err(write_failure)?;
            (ItemKnn::KIND, json!(p))
        }
        RecAlgo::Hybrid => {
            let mut p: HybridMFParams = configure(
                algo,
                HybridMFParams::default(),
                &flags([
                    &["factors"],
                    &["epochs"],
                    &["item_alpha", "user_alpha"],
                    &["learning_rate"],
                    none,
                    none,
                    &["seed"],
                ]),
                extra,
            )?;
            p.num_threads = a.threads;
            let delimiter = delimiter_byte(&a.columns.delimiter)?;
            let side = |path: &Option<PathBuf>, id_col: &str, cols: &[String], ids: &IdMap| {
                path.as_ref()
                    .map(|path| categorical_features(path, delimiter, id_col, cols, Some(ids)).map(|f| (f.0, f.1)))
                    .transpose()
            };
            let users = side(&a.user_features, &a.columns.user_col, &a.user_feature_cols, x.users())?;
            let items = side(&a.item_features, &a.columns.item_col, &a.item_feature_cols, x.items())?;
            let mut m = p.fit(&x, users.as_ref().map(|f| &f.0), items.as_ref().map(|f| &f.0))?;
            let names = |f: Option<(Features, Vec<String>)>| f.map(|f| f.1).unwrap_or_default();
            m.set_feature_names(names(users), names(items))?;
            m.save(&a.out).map_err(write_failure)?;
            (HybridMF::KIND, json!(p))
        }
        RecAlgo::Content => unreachable!("--algo content returned above: it has no interactions"),
    };
    let seconds = secs(t);
    let summary = json!({
        "command": "train recommender",
        "algo": algo,
        "kind": kind,
        "input": path_str(input),
        "users": n_users,
        "items": n_items,
        "interactions": nnz,
        "fit_seconds": num(seconds),
        "params": params,
        "model": path_str(&a.out),
    });
    emit(a.json, &summary, || {
        println!(
            "trained {algo} on {nnz} interactions ({n_users} users x {n_items} items) in {seconds:.2} s; saved {}",
            a.out.display()
        )
    });
    Ok(())
}

/// `--algo content`: the catalogue's items by their categorical features, saved with their ids
/// and feature names.
fn content(a: &RecommenderArgs) -> CliResult<()> {
    let algo = a.algo.name();
    if a.input.is_some() || a.user_features.is_some() {
        return Err(CliError::usage(
            "--algo content reads only --item-features (the catalogue): drop --input and --user-features",
        ));
    }
    let Some(path) = &a.item_features else {
        return Err(CliError::usage("--algo content needs --item-features and --item-feature-cols"));
    };
    let none: &[&str] = &[];
    // the seed is ignored (nothing is random); every other tuning flag is refused
    let flags = [
        ("factors", val(a.factors), none),
        ("epochs", val(a.epochs), none),
        ("reg", val(a.reg), none),
        ("lr", val(a.lr), none),
        ("alpha", val(a.alpha), none),
        ("k", val(a.k), none),
    ];
    let mut p: ItemContentParams = configure(algo, ItemContentParams::default(), &flags, a.params.as_deref())?;
    p.num_threads = a.threads;
    let delimiter = delimiter_byte(&a.columns.delimiter)?;
    let t = Instant::now();
    let (features, names, ids) =
        categorical_features(path, delimiter, &a.columns.item_col, &a.item_feature_cols, None)?;
    let mut model = p.fit(&features)?;
    model.set_item_ids(ids)?;
    model.set_feature_names(names)?;
    model.save(&a.out).map_err(write_failure)?;
    let seconds = secs(t);
    let (n_items, n_features) = (model.n_items(), model.n_features());
    let summary = json!({
        "command": "train recommender",
        "algo": algo,
        "kind": ItemContent::KIND,
        "item_features": path_str(path),
        "items": n_items,
        "features": n_features,
        "fit_seconds": num(seconds),
        "params": json!(p),
        "model": path_str(&a.out),
    });
    emit(a.json, &summary, || {
        println!(
            "trained content on {n_items} items x {n_features} features in {seconds:.2} s; saved {}",
            a.out.display()
        )
    });
    Ok(())
}

/// Named categorical features (`column=value`, weight 1), read from a delimited file with a
/// header, one row per id (in `id_col`). With `ids` (the training users or items), ids the
/// training data does not have are skipped (they are new: serve them by their features) and
/// ids without a row get no features (their identity only); without, every row is an item of
/// the catalogue, in file order. Returns the rows, the feature names and the ids of the rows.
fn categorical_features(
    path: &Path,
    delimiter: u8,
    id_col: &str,
    cols: &[String],
    ids: Option<&IdMap>,
) -> CliResult<(Features, Vec<String>, IdMap)> {
    let mut table = Table::open(path, delimiter)?;
    let id = table.column(id_col)?;
    let cols: Vec<(usize, &String)> = cols.iter().map(|c| Ok((table.column(c)?, c))).collect::<CliResult<_>>()?;
    let mut names: Vec<String> = Vec::new();
    let mut column_of: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut rows: Vec<Option<Vec<(usize, f32)>>> = vec![None; ids.map_or(0, IdMap::len)];
    let mut catalogue = IdMap::new();
    let mut rec = csv::StringRecord::new();
    while table.next_record(&mut rec)? {
        let key = ExternalId::parse(rec.get(id).unwrap_or(""));
        let r = match ids {
            Some(ids) => match ids.index(&key) {
                Some(r) => r,
                None => continue,
            },
            None => {
                let r = catalogue.insert(key.clone());
                if r == rows.len() {
                    rows.push(None);
                }
                r
            }
        };
        if rows[r].is_some() {
            return Err(CliError::data(format!("{}:{}: id {key} has a second row", table.name(), Table::line(&rec))));
        }
        let mut row = Vec::with_capacity(cols.len());
        for &(j, c) in &cols {
            let value = rec.get(j).unwrap_or("").trim();
            if value.is_empty() {
                continue;
            }
            let name = format!("{c}={value}");
            let next = names.len();
            let col = *column_of.entry(name.clone()).or_insert(next);
            if col == next {
                names.push(name);
            }
            row.push((col, 1.0));
        }
        rows[r] = Some(row);
    }
    if names.is_empty() {
        let whose = if ids.is_some() { "the training ids" } else { "any item" };
        return Err(CliError::data(format!("{}: no feature values for {whose}", table.name())));
    }
    let features = Features::from_rows(names.len(), rows.into_iter().map(Option::unwrap_or_default))?;
    Ok((features, names, ids.cloned().unwrap_or(catalogue)))
}

/// Detector algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DetAlgo {
    /// Isolation forest.
    Iforest,
    /// Empirical-CDF outlier detection.
    Ecod,
    /// Copula-based outlier detection.
    Copod,
    /// Histogram-based outlier score.
    Hbos,
    /// Distance to the k-th nearest neighbour.
    Knn,
    /// Local outlier factor.
    Lof,
    /// Robust Mahalanobis distance.
    Mahalanobis,
    /// Principal-component distance.
    Pca,
    /// Rank-averaged isolation forest + ECOD + HBOS.
    Ensemble,
}

/// `mercato train detector`.
#[derive(Args)]
pub struct DetectorArgs {
    /// The algorithm.
    #[arg(long, value_enum)]
    pub algo: DetAlgo,
    /// A CSV with a header; every column not excluded must be numeric.
    #[arg(long)]
    pub input: PathBuf,
    /// Columns to leave out (ids, labels, text), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub exclude_cols: Vec<String>,
    /// Expected fraction of anomalies, in (0, 0.5]: sets the decision threshold.
    #[arg(long, default_value_t = 0.01)]
    pub contamination: f64,
    /// Random seed (isolation forest; ignored by deterministic detectors).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Worker threads (default all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Any other hyper-parameter as a JSON object, e.g. '{"n_estimators": 200}' (not for ensemble).
    #[arg(long)]
    pub params: Option<String>,
    /// Field separator: one character, or `tab`.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The detector's parameters from the command line (checked before any data is read).
fn detector_params(a: &DetectorArgs) -> CliResult<AnyDetectorParams> {
    mercato::fraud::check_contamination(a.contamination).map_err(|e| CliError::usage(e.to_string()))?;
    if a.threads == Some(0) {
        return Err(CliError::usage("--threads must be at least 1"));
    }
    let member = |kind: &str, extra: Option<&str>| -> CliResult<AnyDetectorParams> {
        let mut p = Map::new();
        p.insert("contamination".into(), num(a.contamination));
        p.insert("num_threads".into(), json!(a.threads));
        if kind == "iforest" {
            p.insert("seed".into(), json!(a.seed));
        }
        if let Some(extra) = extra {
            let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(extra) else {
                return Err(CliError::usage(format!("--params must be a JSON object, got {extra:?}")));
            };
            p.extend(extra);
        }
        AnyDetectorParams::from_json(kind, &Value::Object(p).to_string()).map_err(|e| CliError::usage(e.to_string()))
    };
    let kind = match a.algo {
        DetAlgo::Iforest => "iforest",
        DetAlgo::Ecod => "ecod",
        DetAlgo::Copod => "copod",
        DetAlgo::Hbos => "hbos",
        DetAlgo::Knn => "knn",
        DetAlgo::Lof => "lof",
        DetAlgo::Mahalanobis => "mahalanobis",
        DetAlgo::Pca => "pca",
        DetAlgo::Ensemble => {
            if a.params.is_some() {
                return Err(CliError::usage("--params is not supported with --algo ensemble"));
            }
            let members = vec![member("iforest", None)?, member("ecod", None)?, member("hbos", None)?];
            return Ok(EnsembleParams::default().members(members).contamination(a.contamination).into());
        }
    };
    member(kind, a.params.as_deref())
}

/// Reads the numeric columns of a CSV (all but `exclude`) into a matrix.
pub fn read_features(path: &Path, delimiter: u8, exclude: &[String]) -> CliResult<(ndarray::Array2<f64>, Vec<String>)> {
    let mut table = Table::open(path, delimiter)?;
    for c in exclude {
        table.column(c)?;
    }
    let cols: Vec<usize> = (0..table.headers().len()).filter(|&j| !exclude.contains(&table.headers()[j])).collect();
    if cols.is_empty() {
        return Err(CliError::data(format!("{}: no feature column left after --exclude-cols", table.name())));
    }
    let names: Vec<String> = cols.iter().map(|&j| table.headers()[j].clone()).collect();
    let mut values = Vec::new();
    let mut rec = csv::StringRecord::new();
    while table.next_record(&mut rec)? {
        for &j in &cols {
            let v = table.number(&rec, j).map_err(|mut e| {
                e.message.push_str(" (leave non-numeric columns out with --exclude-cols)");
                e
            })?;
            values.push(v);
        }
    }
    let n = values.len() / cols.len();
    if n == 0 {
        return Err(CliError::data(format!("{}: no data rows after the header", table.name())));
    }
    let x = ndarray::Array2::from_shape_vec((n, cols.len()), values).map_err(|e| CliError::runtime(e.to_string()))?;
    Ok((x, names))
}

/// Fits, saves, and reports.
pub fn detector(a: DetectorArgs) -> CliResult<()> {
    check_out_dir(&a.out)?;
    let params = detector_params(&a)?;
    let (x, names) = read_features(&a.input, delimiter_byte(&a.delimiter)?, &a.exclude_cols)?;
    let t = Instant::now();
    let mut det = params.fit(&x.view())?;
    let seconds = secs(t);
    save_detector(&mut det, &names, &a.out)?;
    let threshold = det.threshold()?;
    let flagged = det.decision_scores()?.iter().filter(|&&s| s > threshold).count();
    let summary = json!({
        "command": "train detector",
        "algo": det.name(),
        "kind": format!("fraud.{}", det.name()),
        "input": path_str(&a.input),
        "rows": x.nrows(),
        "features": names,
        "contamination": num(a.contamination),
        "threshold": num(threshold),
        "flagged_in_training": flagged,
        "fit_seconds": num(seconds),
        "model": path_str(&a.out),
    });
    emit(a.json, &summary, || {
        println!(
            "trained {} on {} rows x {} features ({}) in {seconds:.2} s; threshold {threshold:.4} flags {flagged} training rows; saved {}",
            det.name(),
            x.nrows(),
            names.len(),
            names.join(", "),
            a.out.display()
        )
    });
    Ok(())
}

/// `mercato train classifier`.
#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct ClassifierArgs {
    /// Image folder laid out as root/<class_name>/*.png|jpg.
    #[arg(long)]
    pub images: PathBuf,
    /// Network: small_cnn or resnet.
    #[arg(long, default_value = "small_cnn")]
    pub arch: String,
    /// Images are resized (shorter side) and centre-cropped to size x size pixels.
    #[arg(long, default_value_t = 28)]
    pub size: usize,
    /// 1 (grey) or 3 (RGB).
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Passes over the images.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Images per mini-batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Learning rate (Adam).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Fraction held out for validation and early stopping (0 = none, train all epochs).
    #[arg(long, default_value_t = 0.1)]
    pub validation: f64,
    /// Random seed (initialisation, shuffling, split, augmentation).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// libtorch threads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Trains on an image folder (progress bar on stderr when it is a terminal).
#[cfg(feature = "torch")]
pub fn classifier(a: ClassifierArgs) -> CliResult<()> {
    use mercato::vision::{
        load_image_folder, Arch, DeviceChoice, ImageClassifierParams, ImageFolderOptions, TrainConfig,
    };
    check_out_dir(&a.out)?;
    let device: DeviceChoice = a.device.parse().map_err(|e: mercato::Error| CliError::usage(e.to_string()))?;
    let config = TrainConfig::default()
        .epochs(a.epochs)
        .batch_size(a.batch_size)
        .learning_rate(a.lr)
        .validation_fraction(a.validation)
        .patience(if a.validation > 0.0 { Some(3) } else { None })
        .seed(a.seed)
        .num_threads(a.threads)
        .device(device)
        .show_progress(true);
    mercato::params::Params::check(&config).map_err(|e| CliError::usage(e.to_string()))?;
    let options =
        ImageFolderOptions { size: a.size, channels: a.channels, num_threads: a.threads, ..Default::default() };
    let folder = load_image_folder(&a.images, &options).map_err(|e| match e {
        mercato::Error::InvalidInput(m) => CliError::data(m),
        other => other.into(),
    })?;
    for (path, why) in &folder.skipped {
        eprintln!("warning: skipped {}: {why}", path.display());
    }
    let arch = Arch::from_name(&a.arch, folder.class_names.len(), a.channels, a.size)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let t = Instant::now();
    let model = ImageClassifierParams::new(arch.clone(), config.clone())
        .fit(&folder.images, &folder.labels)?
        .with_class_names(folder.class_names.clone())?;
    let seconds = secs(t);
    model.save(&a.out).map_err(write_failure)?;
    let history: Vec<Value> = model
        .history()
        .epochs
        .iter()
        .map(|e| json!({"epoch": e.epoch, "train_loss": num(e.train_loss), "val_loss": e.val_loss.map(num)}))
        .collect();
    let summary = json!({
        "command": "train classifier",
        "arch": arch.name(),
        "kind": arch.kind(),
        "images": folder.labels.len(),
        "skipped": folder.skipped.len(),
        "classes": folder.class_names,
        "fit_seconds": num(seconds),
        "history": history,
        "model": path_str(&a.out),
    });
    emit(a.json, &summary, || {
        println!(
            "trained {} on {} images of {} classes in {seconds:.1} s; saved {}",
            arch.name(),
            folder.labels.len(),
            folder.class_names.len(),
            a.out.display()
        )
    });
    Ok(())
}

/// Without libtorch there is no classifier to train.
#[cfg(not(feature = "torch"))]
pub fn classifier(_: ClassifierArgs) -> CliResult<()> {
    Err(CliError::no_torch("mercato train classifier"))
}

/// Dispatches `mercato train ...`.
pub fn run(command: TrainCommand) -> CliResult<()> {
    match command {
        TrainCommand::Recommender(a) => recommender(*a),
        TrainCommand::Detector(a) => detector(a),
        TrainCommand::Classifier(a) => classifier(a),
        TrainCommand::Regression(a) => super::regression::run(a),
    }
}
