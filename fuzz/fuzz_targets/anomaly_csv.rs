//! Anomaly CSVs (header, numeric features, optional 0/1 `label` column).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = mercato_fuzz::scratch_file("anomaly_csv", "table.csv", data);
    if let Ok(t) = mercato::data::load_anomaly_csv(&path) {
        assert_eq!(t.x.ncols(), t.feature_names.len());
        assert!(t.y.as_ref().is_none_or(|y| y.len() == t.x.nrows()));
        assert!(t.x.iter().all(|v| v.is_finite()));
    }
});
