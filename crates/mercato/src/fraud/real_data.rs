//! Accuracy on the real anomaly sets against recorded peer values (skips without the data).
//!
//! Peer ROC-AUCs recorded 2026-11-25 on the project's 2-core Debian build machine, ADBench
//! protocol (fit on all rows, score all rows), with scikit-learn 1.9.1 (IsolationForest,
//! 100 trees, mean over random_state 0..4), PyOD 3.6.7 (ECOD, COPOD, HBOS, LOF, KNN with
//! default parameters), numpy 2.4.6, scipy 1.17.1; produced by `benches/compare/fraud.py`.

use super::{AnyDetectorParams, Detector, IsolationForestParams};
use crate::data::load_anomaly_csv;
use crate::metrics::roc_auc;

const SETS: [&str; 8] =
    ["cardio", "thyroid", "annthyroid", "satellite", "shuttle", "mammography", "pendigits", "creditcard_fraud_subset"];

/// Peer ROC-AUC per set (order of `SETS`): iforest, ecod, copod, hbos, lof, knn.
const PEER: [[f64; 6]; 8] = [
    [0.9318, 0.9350, 0.9219, 0.8377, 0.5471, 0.7127],
    [0.9777, 0.9771, 0.9393, 0.9582, 0.8075, 0.9508],
    [0.8274, 0.7887, 0.7760, 0.6241, 0.7373, 0.7511],
    [0.6962, 0.5830, 0.6335, 0.7659, 0.5428, 0.6775],
    [0.9971, 0.9929, 0.9945, 0.9793, 0.5601, 0.7195],
    [0.8588, 0.9062, 0.9053, 0.8299, 0.7204, 0.8387],
    [0.9404, 0.9274, 0.9048, 0.9283, 0.4821, 0.7127],
    [0.9118, 0.8733, 0.9089, 0.9323, 0.4877, 0.4691],
];

const KINDS: [&str; 6] = ["iforest", "ecod", "copod", "hbos", "lof", "knn"];

#[test]
fn auc_within_bound_of_peers() {
    let Some(cardio) = crate::testdata::dataset("anomaly/cardio.csv", "auc_within_bound_of_peers") else { return };
    let dir = cardio.parent().expect("a file has a folder").to_path_buf();
    let mut delta = [[0.0f64; 6]; 8];
    for (s, set) in SETS.iter().enumerate() {
        let t = load_anomaly_csv(dir.join(format!("{set}.csv"))).unwrap();
        let y = t.y.unwrap();
        for (k, kind) in KINDS.iter().enumerate() {
            let auc = if *kind == "iforest" {
                (0..5)
                    .map(|seed| {
                        let f = IsolationForestParams::default().seed(seed).fit(&t.x.view()).unwrap();
                        roc_auc(f.decision_scores().unwrap(), &y).unwrap()
                    })
                    .sum::<f64>()
                    / 5.0
            } else {
                let d = AnyDetectorParams::from_json(kind, "{}").unwrap().fit(&t.x.view()).unwrap();
                roc_auc(d.decision_scores().unwrap(), &y).unwrap()
            };
            delta[s][k] = auc - PEER[s][k];
            eprintln!("{set:<24} {kind:<8} mercato {auc:.4}  peer {:.4}  Δ {:+.4}", PEER[s][k], delta[s][k]);
        }
    }
    for (k, kind) in KINDS.iter().enumerate() {
        let mean = delta.iter().map(|d| d[k]).sum::<f64>() / SETS.len() as f64;
        assert!(mean.abs() <= 0.01, "{kind}: mean ΔAUC {mean:+.4} over the 8 sets exceeds ±0.01");
        // Deterministic detectors implement the peers' exact definitions: per set, too.
        let per_set = if *kind == "iforest" { 0.03 } else { 0.01 };
        for (s, d) in delta.iter().enumerate() {
            assert!(d[k].abs() <= per_set, "{kind} on {}: ΔAUC {:+.4}", SETS[s], d[k]);
        }
    }
}
