//! Where tests find the real evaluation data, and what they do when it is absent.
//!
//! Real data lives in `$MERCATO_DATA` or `../shared/datasets` beside the repository. A test
//! that needs it skips with a message on a developer machine, but in CI (`CI=true`) a
//! missing file is a failure: a real-data check must never vanish silently from a green run.

use std::path::PathBuf;

/// The root of the real datasets.
pub(crate) fn root() -> PathBuf {
    match std::env::var_os("MERCATO_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/datasets")),
    }
}

/// True when running in CI (`CI` set to `true`/`1`/`yes`, any case).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// `root()/relative` when it exists; otherwise prints why `test` is skipped and returns
/// `None`, or panics in CI.
pub(crate) fn dataset(relative: &str, test: &str) -> Option<PathBuf> {
    let path = root().join(relative);
    if path.exists() {
        return Some(path);
    }
    let msg = format!("{test}: real data not found at {} (set MERCATO_DATA)", path.display());
    assert!(!in_ci(), "{msg}; CI=true, so a real-data test fails instead of skipping");
    eprintln!("SKIPPED {msg}");
    None
}
