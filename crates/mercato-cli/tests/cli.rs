//! End-to-end tests of the `mercato` binary: train → recommend/score/classify → eval on the
//! bundled marketplace, JSON output, and the documented exit codes of the error cases.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn mercato() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mercato"))
}

fn marketplace(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/marketplace").join(file)
}

/// Runs a command that must succeed with `--json` and parses its stdout as one JSON object.
fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.arg("--json").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).expect("utf-8 stdout");
    assert_eq!(text.trim().lines().count(), 1, "one JSON line expected, got {text:?}");
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Splits a CSV (header kept in both) into train/test: every 5th data line goes to test.
fn split(src: &Path, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(src).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (mut train, mut test) = (vec![header], vec![header]);
    for (i, l) in lines.enumerate() {
        if i % 5 == 4 {
            test.push(l)
        } else {
            train.push(l)
        }
    }
    let (a, b) = (dir.join(format!("{name}_train.csv")), dir.join(format!("{name}_test.csv")));
    std::fs::write(&a, train.join("\n") + "\n").unwrap();
    std::fs::write(&b, test.join("\n") + "\n").unwrap();
    (a, b)
}

#[test]
fn explicit_recommender_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = split(&marketplace("ratings.csv"), dir.path(), "ratings");
    let model = dir.path().join("funk.mercato");
    let summary = json_of(
        mercato()
            .args(["train", "recommender", "--algo", "funksvd", "--item-col", "product"])
            .args(["--factors", "8", "--epochs", "10", "--seed", "3", "--threads", "1", "--input"])
            .arg(&train)
            .arg("--out")
            .arg(&model),
    );
    assert_eq!(summary["kind"], "recommend.funk_svd");
    assert_eq!(summary["params"]["factors"], 8);
    assert!(summary["interactions"].as_u64().unwrap() > 20_000);
    assert!(model.is_file());

    // human output: ten ranked lines for user 0
    mercato()
        .args(["recommend", "--user", "0", "-n", "10", "--model"])
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("top 10 for user 0").and(predicate::str::contains("p0")));
    let recs = json_of(mercato().args(["recommend", "--user", "0", "-n", "5", "--model"]).arg(&model));
    let items = recs["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let scores: Vec<f64> = items.iter().map(|i| i["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "sorted best first: {scores:?}");
    assert!(scores.iter().all(|s| (1.0..=5.0).contains(s)), "ratings on the 1-5 scale: {scores:?}");
    // seen items are excluded by default and come back with --include-seen
    let rated: Vec<String> = std::fs::read_to_string(&train)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("0,"))
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    assert!(items.iter().all(|i| !rated.contains(&i["item"].as_str().unwrap().to_string())));
    let all =
        json_of(mercato().args(["recommend", "--user", "0", "-n", "400", "--include-seen", "--model"]).arg(&model));
    assert!(all["items"].as_array().unwrap().iter().any(|i| rated.contains(&i["item"].as_str().unwrap().to_string())));

    let eval = json_of(
        mercato()
            .args(["eval", "recommender", "--item-col", "product", "--model"])
            .arg(&model)
            .arg("--test")
            .arg(&test),
    );
    let (rmse, mae) = (eval["rmse"].as_f64().unwrap(), eval["mae"].as_f64().unwrap());
    assert!(rmse > 0.0 && rmse < 1.3, "RMSE {rmse}");
    assert!(mae > 0.0 && mae <= rmse, "MAE {mae} RMSE {rmse}");
    assert!(eval["ratings"].as_u64().unwrap() > 5_000);
}

#[test]
fn implicit_recommender_round_trip_with_similar_items() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = split(&marketplace("events.csv"), dir.path(), "events");
    let model = dir.path().join("als.mercato");
    let summary = json_of(
        mercato()
            .args(["train", "recommender", "--algo", "als", "--item-col", "product", "--rating-col", "views"])
            .args(["--factors", "16", "--iterations", "5", "--reg", "10", "--alpha", "2", "--input"])
            .arg(&train)
            .arg("--out")
            .arg(&model),
    );
    assert_eq!(summary["kind"], "recommend.als");
    assert_eq!(summary["params"]["iterations"], 5);

    let recs = json_of(mercato().args(["recommend", "--user", "7", "-n", "10", "--model"]).arg(&model));
    let items = recs["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert!(items.iter().all(|i| i["item"].as_str().unwrap().starts_with('p')), "external item ids: {items:?}");
    assert_eq!(recs["popularity_fallback"], false);

    let first = items[0]["item"].as_str().unwrap().to_string();
    let sim = json_of(mercato().args(["similar", "-n", "5", "--item", &first, "--model"]).arg(&model));
    let sim = sim["items"].as_array().unwrap();
    assert_eq!(sim.len(), 5);
    assert!(sim.iter().all(|i| i["item"] != first.as_str()), "the item itself is left out");

    let eval = json_of(
        mercato()
            .args(["eval", "recommender", "--item-col", "product", "--model"])
            .arg(&model)
            .arg("--test")
            .arg(&test),
    );
    let (p, ndcg) = (eval["precision"].as_f64().unwrap(), eval["ndcg"].as_f64().unwrap());
    // popularity alone gets a few percent here; a trained ALS clearly more
    assert!(p > 0.03 && p <= 1.0, "P@10 {p}");
    assert!(ndcg > 0.03 && ndcg <= 1.0, "NDCG@10 {ndcg}");
    assert!(eval["users"].as_u64().unwrap() > 100);
}

fn count_lines(p: &Path) -> usize {
    std::fs::read_to_string(p).unwrap().lines().count()
}

#[test]
fn detector_train_score_eval_streams_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let tx = marketplace("transactions.csv");
    let n_rows = count_lines(&tx) - 1;
    assert!(n_rows >= 20_000);
    let model = dir.path().join("det.mercato");
    let summary = json_of(
        mercato()
            .args(["train", "detector", "--algo", "iforest", "--exclude-cols", "tx_id,user,pattern,label"])
            .args(["--contamination", "0.04", "--seed", "1", "--input"])
            .arg(&tx)
            .arg("--out")
            .arg(&model),
    );
    assert_eq!(summary["kind"], "fraud.iforest");
    let features: Vec<&str> = summary["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(features.contains(&"amount") && !features.contains(&"label") && !features.contains(&"tx_id"));

    let scores = dir.path().join("scores.csv");
    let s = json_of(
        mercato()
            .args(["score", "--id-col", "tx_id", "--explain", "2", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&tx)
            .arg("--output")
            .arg(&scores),
    );
    assert_eq!(s["rows"].as_u64().unwrap() as usize, n_rows);
    let text = std::fs::read_to_string(&scores).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "tx_id,score,label,risk,feature_1,contribution_1,feature_2,contribution_2");
    let mut flagged = 0;
    let mut count = 0;
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 8, "{line}");
        assert_eq!(f[0], (i + 1).to_string(), "ids in input order");
        let score: f64 = f[1].parse().unwrap();
        assert!(score.is_finite());
        let risk: f64 = f[3].parse().unwrap();
        assert!((0.0..=1.0).contains(&risk));
        flagged += usize::from(f[2] == "1");
        assert!(features.contains(&f[4]), "explanation names a feature: {line}");
        count += 1;
    }
    assert_eq!(count, n_rows);
    assert_eq!(flagged as u64, s["flagged"].as_u64().unwrap());
    // contamination 4% of the training rows, scored on the same rows
    assert!((flagged as f64 / n_rows as f64 - 0.04).abs() < 0.01, "{flagged} flagged");

    // stdin → stdout with tiny batches gives the same scores as big batches
    let piped = mercato()
        .args(["score", "--input", "-", "--batch-size", "7", "--id-col", "tx_id", "--explain", "2", "--model"])
        .arg(&model)
        .write_stdin(std::fs::read(&tx).unwrap())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8(piped).unwrap(), text);

    let eval = json_of(mercato().args(["eval", "detector", "--model"]).arg(&model).arg("--input").arg(&tx));
    let auc = eval["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.75 && auc <= 1.0, "ROC-AUC {auc}");
    assert!(eval["average_precision"].as_f64().unwrap() > 0.1);
    assert_eq!(eval["rows"].as_u64().unwrap() as usize, n_rows);
    let precision = eval["precision_at_threshold"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&precision));
}

#[test]
fn every_detector_algorithm_trains_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    // 300 rows of two features with three planted outliers
    let mut csv = String::from("id,a,b,label\n");
    for i in 0..300 {
        let (a, b, l) = if i % 100 == 50 { (40.0, -30.0, 1) } else { ((i % 17) as f64, ((i * 7) % 13) as f64, 0) };
        csv.push_str(&format!("{i},{a},{b},{l}\n"));
    }
    let data = dir.path().join("small.csv");
    std::fs::write(&data, csv).unwrap();
    for algo in ["iforest", "ecod", "copod", "hbos", "knn", "lof", "mahalanobis", "pca", "ensemble"] {
        let model = dir.path().join(format!("{algo}.mercato"));
        mercato()
            .args(["train", "detector", "--algo", algo, "--exclude-cols", "id,label", "--contamination", "0.01"])
            .arg("--input")
            .arg(&data)
            .arg("--out")
            .arg(&model)
            .assert()
            .success();
        let eval = json_of(mercato().args(["eval", "detector", "--model"]).arg(&model).arg("--input").arg(&data));
        assert!(eval["roc_auc"].as_f64().unwrap() > 0.9, "{algo}: {eval}");
    }
}

#[test]
fn data_errors_exit_3_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.mercato");
    // missing input file
    mercato()
        .args(["train", "recommender", "--algo", "baseline", "--input", "/no/such/ratings.csv", "--out"])
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("error: ").and(predicate::str::contains("/no/such/ratings.csv")));
    // a column that is not in the header
    mercato()
        .args(["train", "recommender", "--algo", "baseline", "--item-col", "sku", "--input"])
        .arg(marketplace("ratings.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no column \"sku\"").and(predicate::str::contains("user, product, rating")));
    // a text column that is not excluded: file and line in the message
    mercato()
        .args(["train", "detector", "--algo", "hbos", "--exclude-cols", "tx_id,label", "--input"])
        .arg(marketplace("transactions.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("transactions.csv:2:").and(predicate::str::contains("\"pattern\"")));
    // a malformed rating
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "user,item,rating\n1,a,4\n2,b,five\n").unwrap();
    mercato()
        .args(["train", "recommender", "--algo", "baseline", "--input"])
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("bad.csv:3:"));
    assert!(!out.exists(), "no model written after an error");
}

#[test]
fn unknown_ids_tampered_and_wrong_models() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("r.csv");
    std::fs::write(&ratings, "user,item,rating\nann,x,5\nann,y,3\nbob,x,4\nbob,z,2\ncid,y,1\ncid,z,5\n").unwrap();
    let model = dir.path().join("b.mercato");
    mercato()
        .args(["train", "recommender", "--algo", "baseline", "--input"])
        .arg(&ratings)
        .arg("--out")
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("trained baseline on 6 interactions (3 users x 3 items)"));
    let recs = json_of(mercato().args(["recommend", "--user", "ann", "--model"]).arg(&model));
    assert_eq!(recs["items"][0]["item"], "z", "ann has rated x and y");
    // unknown user
    mercato()
        .args(["recommend", "--user", "zoe", "--model"])
        .arg(&model)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("unknown user id: \"zoe\""));
    // a hyper-parameter the algorithm does not have
    mercato()
        .args(["train", "recommender", "--algo", "baseline", "--factors", "8", "--input"])
        .arg(&ratings)
        .arg("--out")
        .arg(dir.path().join("x.mercato"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--factors does not apply to --algo baseline"));
    mercato()
        .args(["train", "recommender", "--algo", "knn", "--params", r#"{"nope": 1}"#, "--input"])
        .arg(&ratings)
        .arg("--out")
        .arg(dir.path().join("x.mercato"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no hyper-parameter \"nope\""));
    // clap usage error
    mercato().args(["recommend", "--model"]).arg(&model).assert().code(2);
    // tampered file: one flipped byte fails the checksum
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    let tampered = dir.path().join("tampered.mercato");
    std::fs::write(&tampered, bytes).unwrap();
    mercato()
        .args(["recommend", "--user", "ann", "--model"])
        .arg(&tampered)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("checksum"));
    // not a model at all, and a model of the wrong kind
    mercato()
        .args(["recommend", "--user", "ann", "--model"])
        .arg(&ratings)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a mercato model file"));
    mercato()
        .args(["score", "--input", "-", "--model"])
        .arg(&model)
        .write_stdin("a,b\n1,2\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a fraud detector"));
    mercato()
        .args(["similar", "--item", "x", "--model"])
        .arg(&model)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("needs an implicit one"));
    // missing model file
    mercato().args(["recommend", "--user", "ann", "--model", "/no/such.mercato"]).assert().code(3);
}

#[test]
fn score_rejects_inputs_without_the_model_features() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "a,b\n1,2\n2,3\n3,1\n2,2\n1,1\n3,3\n2,1\n1,3\n").unwrap();
    let model = dir.path().join("d.mercato");
    mercato()
        .args(["train", "detector", "--algo", "ecod", "--contamination", "0.1", "--input"])
        .arg(&data)
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    mercato()
        .args(["score", "--input", "-", "--model"])
        .arg(&model)
        .write_stdin("a,c\n1,2\n")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no column \"b\""));
    mercato()
        .args(["score", "--input", "-", "--model"])
        .arg(&model)
        .write_stdin("a,b\n1,2\n1,x\n")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("<stdin>:3:"));
    // feature order comes from the model, not the file's column order
    let out = mercato()
        .args(["score", "--input", "-", "--model"])
        .arg(&model)
        .write_stdin("b,extra,a\n2,zz,1\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let direct = mercato()
        .args(["score", "--input", "-", "--model"])
        .arg(&model)
        .write_stdin("a,b\n1,2\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(out, direct);
}

#[test]
fn help_documents_exit_codes() {
    mercato()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:").and(predicate::str::contains("4  feature not built")));
}

#[cfg(not(feature = "torch"))]
#[test]
fn image_commands_without_torch_exit_4() {
    mercato()
        .args(["classify", "--model", "m.mercato", "a.png"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("--features torch"));
    mercato().args(["train", "classifier", "--images", ".", "--out", "m.mercato"]).assert().code(4);
    mercato().args(["eval", "classifier", "--images", ".", "--model", "m.mercato"]).assert().code(4);
}

#[cfg(feature = "torch")]
#[test]
fn classifier_train_classify_eval() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("images");
    // two classes told apart by brightness, 10 noisy 16x16 images each
    for (class, base) in [("dark", 40u8), ("light", 210u8)] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for k in 0..10u32 {
            let img = image::GrayImage::from_fn(16, 16, |x, y| {
                image::Luma([base.wrapping_add(((x * 7 + y * 13 + k * 31) % 23) as u8)])
            });
            img.save(root.join(class).join(format!("{k}.png"))).unwrap();
        }
    }
    let model = dir.path().join("cnn.mercato");
    let summary = json_of(
        mercato()
            .args(["train", "classifier", "--size", "16", "--epochs", "1", "--batch-size", "8", "--validation", "0"])
            .args(["--device", "cpu", "--threads", "1", "--images"])
            .arg(&root)
            .arg("--out")
            .arg(&model),
    );
    assert_eq!(summary["classes"], serde_json::json!(["dark", "light"]));
    assert_eq!(summary["images"], 20);
    let pred = json_of(
        mercato()
            .args(["classify", "--top", "2", "--device", "cpu", "--model"])
            .arg(&model)
            .arg(root.join("dark/0.png"))
            .arg(root.join("light/3.png")),
    );
    let preds = pred["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 2);
    for p in preds {
        let top = p["top"].as_array().unwrap();
        assert_eq!(top.len(), 2);
        let total: f64 = top.iter().map(|t| t["probability"].as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-4, "two classes: probabilities sum to 1");
    }
    let eval = json_of(
        mercato().args(["eval", "classifier", "--device", "cpu", "--model"]).arg(&model).arg("--images").arg(&root),
    );
    let confusion: u64 = eval["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(confusion, 20);
    assert!((0.0..=1.0).contains(&eval["accuracy"].as_f64().unwrap()));
    // an image that does not decode is a data error naming it
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"not a png").unwrap();
    mercato()
        .args(["classify", "--device", "cpu", "--model"])
        .arg(&model)
        .arg(&broken)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("broken.png"));
}

#[test]
fn score_stops_quietly_when_the_reader_closes_the_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("h.mercato");
    let tx = marketplace("transactions.csv");
    mercato()
        .args(["train", "detector", "--algo", "hbos", "--exclude-cols", "tx_id,user,pattern,label", "--input"])
        .arg(&tx)
        .arg("--out")
        .arg(&model)
        .assert()
        .success();
    // 20k scored rows are far more than a pipe buffer: `head` closes the pipe mid-stream
    let script = format!(
        "set -o pipefail; '{}' score --model '{}' --input '{}' | head -n 3",
        env!("CARGO_BIN_EXE_mercato"),
        model.display(),
        tx.display()
    );
    Command::new("bash")
        .args(["-c", &script])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("row,score,label,risk\n1,"))
        .stderr(predicate::str::contains("error").not());
}

#[test]
fn price_command_gives_the_constant_elasticity_optimum() {
    let v = json_of(mercato().args(["price", "--elasticity", "-3", "--unit-cost", "10"]));
    assert!((v["price"].as_f64().unwrap() - 15.0).abs() < 1e-12, "{v}");
    let v = json_of(mercato().args(["price", "--elasticity", "-3", "--unit-cost", "10", "--max-price", "12"]));
    assert_eq!(v["price"].as_f64().unwrap(), 12.0);
    mercato()
        .args(["price", "--elasticity", "-0.5", "--unit-cost", "10"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("max_price"));
}

#[test]
fn regression_recovers_a_log_log_elasticity_and_reports_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("demand.csv");
    let mut text = String::from("price,brand,promo,sales,store\n");
    for i in 0..300 {
        let price = 2.0 + (i % 17) as f64 * 0.5;
        let brand = ["a", "b", "c"][i % 3];
        let promo = (i % 5 == 0) as u8;
        let lift = match brand {
            "a" => 0.0,
            "b" => 0.4,
            _ => -0.3,
        };
        // deterministic "noise" so the fit is not exact
        let log_sales = 5.0 - 2.0 * f64::ln(price) + lift + 0.3 * promo as f64 + 0.05 * (i as f64 * 1.7).sin();
        text.push_str(&format!("{price},{brand},{promo},{},s{}\n", log_sales.exp(), i % 7));
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("demand.mercato");
    let base = ["train", "regression", "--input", csv.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let v = json_of(mercato().args(base).args([
        "--target",
        "sales",
        "--features",
        "price,brand,promo",
        "--log",
        "sales,price",
        "--categorical",
        "brand",
        "--cov-type",
        "HC3",
    ]));
    let params = &v["params"];
    assert!((params["log(price)"].as_f64().unwrap() + 2.0).abs() < 0.02, "{v}");
    assert!((params["C(brand)[T.b]"].as_f64().unwrap() - 0.4).abs() < 0.02, "{v}");
    assert!((params["C(brand)[T.c]"].as_f64().unwrap() + 0.3).abs() < 0.02, "{v}");
    assert!(v["bse"]["log(price)"].as_f64().unwrap() > 0.0 && v["rsquared"].as_f64().unwrap() > 0.99);
    assert_eq!(v["target"], "log(sales)");
    assert!(out.exists());
    // the human output is statsmodels' summary
    mercato()
        .args(base)
        .args(["--target", "sales", "--features", "price,promo", "--log", "sales,price", "--cov-type", "HC1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("OLS Regression Results").and(predicate::str::contains("log(price)")));
    // clustered by store, and ridge (no inference)
    let v = json_of(mercato().args(base).args([
        "--target",
        "sales",
        "--features",
        "price",
        "--cov-type",
        "cluster",
        "--groups",
        "store",
    ]));
    assert_eq!(v["cov_type"], "cluster");
    let v = json_of(mercato().args(base).args(["--target", "sales", "--features", "price,promo", "--ridge", "1.0"]));
    assert!(v.get("bse").is_none(), "{v}");
    // errors: a log of a non-positive value (data, 3), flags that do not fit together (usage, 2)
    mercato()
        .args(base)
        .args(["--target", "promo", "--features", "price", "--log", "promo"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("log"));
    mercato().args(base).args(["--target", "sales", "--features", "price", "--cov-type", "cluster"]).assert().code(2);
    mercato().args(base).args(["--target", "nope"]).assert().code(3).stderr(predicate::str::contains("nope"));
    mercato()
        .args(base)
        .args(["--target", "sales", "--features", "brand"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--categorical"));
}

#[test]
fn hybrid_recommender_reads_item_features_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("hybrid.mercato");
    let train = |extra: &[&str], features: &Path| {
        let mut c = mercato();
        c.args(["train", "recommender", "--algo", "hybrid", "--item-col", "product", "--rating-col", "views"])
            .args(["--epochs", "5", "--factors", "8", "--input"])
            .arg(marketplace("events.csv"))
            .arg("--item-features")
            .arg(features)
            .args(extra)
            .arg("--out")
            .arg(&model);
        c
    };
    let summary = json_of(&mut train(&["--item-feature-cols", "category"], &marketplace("products.csv")));
    assert_eq!(summary["kind"], "recommend.hybrid_mf");
    assert_eq!(summary["params"]["epochs"], 5);
    let m = <mercato::recommend::hybrid::HybridMF as mercato::persist::Persist>::load(&model).unwrap();
    assert_eq!(m.item_space().n_features, 8, "one feature per category: {:?}", m.item_space().names);
    assert!(m.item_space().names.iter().any(|n| n == "category=Grocery"));
    let recs = json_of(mercato().args(["recommend", "--user", "7", "-n", "5", "--model"]).arg(&model));
    assert_eq!(recs["items"].as_array().unwrap().len(), 5);

    // a feature column that is not in the header, a second row for one product, features
    // without --algo hybrid: errors, and no model written
    std::fs::remove_file(&model).unwrap();
    train(&["--item-feature-cols", "colour"], &marketplace("products.csv"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no column \"colour\""));
    let twice = dir.path().join("twice.csv");
    std::fs::write(&twice, "product,category\np00007,Books\np00007,Toys\n").unwrap();
    train(&["--item-feature-cols", "category"], &twice)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("twice.csv:3:").and(predicate::str::contains("second row")));
    mercato()
        .args(["train", "recommender", "--algo", "als", "--item-col", "product", "--input"])
        .arg(marketplace("events.csv"))
        .arg("--item-features")
        .arg(marketplace("products.csv"))
        .args(["--item-feature-cols", "category", "--out"])
        .arg(&model)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--algo hybrid"));
    assert!(!model.exists());
}

#[test]
fn content_recommender_trains_on_the_catalogue_alone() {
    use mercato::data::ExternalId;
    use mercato::persist::Persist;
    use mercato::recommend::hybrid::ItemContent;

    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("content.mercato");
    let train = |extra: &[&str]| {
        let mut c = mercato();
        c.args(["train", "recommender", "--algo", "content", "--item-col", "product", "--item-features"])
            .arg(marketplace("products.csv"))
            .args(["--item-feature-cols", "category"])
            .args(extra)
            .arg("--out")
            .arg(&model);
        c
    };
    let summary = json_of(&mut train(&[]));
    assert_eq!(summary["kind"], "recommend.item_content");
    assert_eq!((summary["items"].as_u64(), summary["features"].as_u64()), (Some(400), Some(8)));
    let m = ItemContent::load(&model).unwrap();
    assert_eq!(m.item_ids().id(0), &ExternalId::from("p00000"), "catalogue ids in file order");
    assert!(m.feature_names().iter().any(|n| n == "category=Grocery"));
    // `mercato similar` answers from it: the other products of p00000's category
    let products = std::fs::read_to_string(marketplace("products.csv")).unwrap();
    let category =
        |id: &str| products.lines().find(|l| l.starts_with(id)).unwrap().split(',').nth(2).unwrap().to_string();
    let similar = json_of(mercato().args(["similar", "--item", "p00000", "-n", "5", "--model"]).arg(&model));
    assert_eq!(similar["kind"], "recommend.item_content");
    let items = similar["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for it in items {
        let id = it["item"].as_str().unwrap();
        assert!(id != "p00000" && category(id) == category("p00000"), "{similar}");
        assert!((it["similarity"].as_f64().unwrap() - 1.0).abs() < 1e-6);
    }
    let weighting = json_of(&mut train(&["--params", r#"{"weighting": {"Bm25": {"k1": 1.2, "b": 0.75}}}"#]));
    assert_eq!(weighting["params"]["weighting"]["Bm25"]["k1"], 1.2);

    // an unknown item, tuning flags it has no use for, interactions it does not read
    mercato().args(["similar", "--item", "p99999", "--model"]).arg(&model).assert().code(3);
    std::fs::remove_file(&model).unwrap();
    train(&["--factors", "8"]).assert().code(2).stderr(predicate::str::contains("--factors does not apply"));
    let events = marketplace("events.csv");
    train(&["--input", events.to_str().unwrap()]).assert().code(2).stderr(predicate::str::contains("drop --input"));
    mercato()
        .args(["train", "recommender", "--algo", "content", "--out"])
        .arg(&model)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs --item-features"));
    mercato()
        .args(["train", "recommender", "--algo", "als", "--out"])
        .arg(&model)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs --input"));
    assert!(!model.exists());
}
