//! Model files of every fraud kind through `AnyDetector::from_bytes` (isolation forest,
//! ECOD, COPOD, HBOS, kNN, LOF, Mahalanobis, PCA, ensembles) and the scaler: loading
//! validates everything, and a detector that loads scores a row without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mercato::fraud::preprocess::Scaler;
use mercato::fraud::{AnyDetector, Detector};
use mercato::persist::Persist;

fuzz_target!(|data: &[u8]| {
    for bytes in mercato_fuzz::variants(data) {
        if let Ok(d) = AnyDetector::from_bytes(bytes.clone()) {
            // the width is bounded by the file (every detector stores per-feature state)
            if let Some(n) = d.n_features().filter(|&n| n <= 1 << 16) {
                let row = vec![0.5; n];
                let _ = d.score_one(&row);
                let x = ndarray::Array2::from_elem((2, n), 1.0);
                let _ = d.score(&x.view());
            }
            let _ = d.score_one(&[]);
        }
        if let Ok(s) = Scaler::from_bytes(bytes) {
            if s.n_features() <= 1 << 16 {
                let mut row = vec![1.0; s.n_features()];
                let _ = s.transform_row(&mut row);
            }
        }
    }
});
