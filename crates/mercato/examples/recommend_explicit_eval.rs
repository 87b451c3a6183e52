//! Evaluates the explicit-rating models on MovieLens-100k and is the tool the defaults were
//! tuned with.
//!
//! ```text
//! cargo run --release -p mercato --example recommend_explicit_eval -- <model> <split> [key=value ...]
//!   model: baseline | funk | svdpp | knn
//!   split: inner  — an 80/20 split of u1.base (seed 42): what the defaults were tuned on
//!          folds  — the official u1..u5 base/test folds (mean RMSE / MAE)
//!   keys:  funk/svdpp: factors epochs lr lr_decay reg reg_bias reg_implicit init_std seed threads blocks
//!          knn: user_based sim(cosine|pearson|pearson_baseline|msd) variant(basic|means|zscore|baseline)
//!               k min_k shrinkage max_neighbours;  baseline/knn: reg_item reg_user bepochs
//! ```
//! Data from `$MERCATO_DATA/movielens-100k` (default `../shared/datasets` from the repo root).

use std::path::PathBuf;
use std::time::Instant;

use mercato::data::{k_fold, ml100k_fold, Interactions, TrainTest};
use mercato::metrics::{mae, rmse};
use mercato::recommend::*;

fn data_dir() -> PathBuf {
    let root = std::env::var("MERCATO_DATA")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets").to_string());
    PathBuf::from(root).join("movielens-100k")
}

fn evaluate(model: &dyn RatingPredictor, test: &Interactions) -> (f64, f64) {
    let (mut y, mut p) = (Vec::new(), Vec::new());
    for (u, i, r) in test.iter() {
        y.push(r as f64);
        p.push(model.predict_index(Some(u), Some(i)).value as f64);
    }
    (rmse(&y, &p).unwrap(), mae(&y, &p).unwrap())
}

fn main() -> mercato::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (model, split) =
        (args.get(1).map(String::as_str).unwrap_or("funk"), args.get(2).map(String::as_str).unwrap_or("inner"));
    let kv: std::collections::HashMap<String, String> =
        args[3.min(args.len())..].iter().filter_map(|a| a.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect();
    let f = |k: &str, d: f32| kv.get(k).map(|v| v.parse().unwrap()).unwrap_or(d);
    let n = |k: &str, d: usize| kv.get(k).map(|v| v.parse().unwrap()).unwrap_or(d);
    let threads = kv.get("threads").map(|v| v.parse().unwrap());

    let dir = data_dir();
    let splits: Vec<TrainTest> = if split == "inner" {
        let (base, _) = ml100k_fold(&dir, 1)?;
        vec![k_fold(&base, 5, 42)?.swap_remove(0)]
    } else {
        (1..=5).map(|k| ml100k_fold(&dir, k)).collect::<mercato::Result<_>>()?
    };
    let fd = FunkSVDParams::default();
    let sd = SVDppParams::default();
    let kd = KNNParams::default();
    let bd = BaselineParams::default();
    let bparams =
        bd.clone().reg(f("reg_item", bd.reg_item), f("reg_user", bd.reg_user)).epochs(n("bepochs", bd.epochs));
    let (mut tr, mut ta, mut tf) = (0.0, 0.0, 0.0);
    for (train, test) in &splits {
        let t0 = Instant::now();
        let m: Box<dyn RatingPredictor> = match model {
            "baseline" => Box::new(bparams.fit(train)?),
            "funk" => Box::new(
                (fd.clone()
                    .factors(n("factors", fd.factors))
                    .epochs(n("epochs", fd.epochs))
                    .lr(f("lr", fd.lr))
                    .lr_decay(f("lr_decay", fd.lr_decay))
                    .reg(f("reg", fd.reg))
                    .reg_bias(f("reg_bias", fd.reg_bias))
                    .init_std(f("init_std", fd.init_std))
                    .blocks(kv.get("blocks").map(|v| v.parse().unwrap()))
                    .seed(n("seed", 0) as u64)
                    .num_threads(threads))
                .fit(train)?,
            ),
            "svdpp" => Box::new(
                (sd.clone()
                    .factors(n("factors", sd.factors))
                    .epochs(n("epochs", sd.epochs))
                    .lr(f("lr", sd.lr))
                    .lr_decay(f("lr_decay", sd.lr_decay))
                    .reg(f("reg", sd.reg))
                    .reg_bias(f("reg_bias", sd.reg_bias))
                    .reg_implicit(f("reg_implicit", sd.reg_implicit))
                    .init_std(f("init_std", sd.init_std))
                    .seed(n("seed", 0) as u64)
                    .num_threads(threads))
                .fit(train)?,
            ),
            "knn" => {
                let sim = match kv.get("sim").map(String::as_str).unwrap_or("pearson_baseline") {
                    "cosine" => Similarity::Cosine,
                    "pearson" => Similarity::Pearson,
                    "msd" => Similarity::Msd,
                    _ => Similarity::PearsonBaseline,
                };
                let variant = match kv.get("variant").map(String::as_str).unwrap_or("baseline") {
                    "basic" => KnnVariant::Basic,
                    "means" => KnnVariant::WithMeans,
                    "zscore" => KnnVariant::WithZScore,
                    _ => KnnVariant::WithBaseline,
                };
                Box::new(
                    (kd.clone()
                        .user_based(n("user_based", 0) == 1)
                        .similarity(sim)
                        .variant(variant)
                        .k(n("k", kd.k))
                        .min_k(n("min_k", kd.min_k))
                        .shrinkage(f("shrinkage", kd.shrinkage))
                        .amplify(f("amplify", kd.amplify))
                        .damping(f("damping", kd.damping))
                        .max_neighbours(kv.get("max_neighbours").map(|v| v.parse().unwrap()))
                        .baseline(bparams.clone())
                        .num_threads(threads))
                    .fit(train)?,
                )
            }
            other => panic!("unknown model {other}"),
        };
        tf += t0.elapsed().as_secs_f64();
        let (r, a) = evaluate(m.as_ref(), test);
        tr += r;
        ta += a;
    }
    let k = splits.len() as f64;
    println!(
        "{model} {split} rmse={:.4} mae={:.4} fit_s={:.3} {:?}",
        tr / k,
        ta / k,
        tf / k,
        &args[3.min(args.len())..]
    );
    Ok(())
}
