//! The loaded models, swapped atomically: readers take a snapshot (`Arc`) without locking,
//! so a request that started on one version finishes on it while a reload installs the next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::metrics::Metrics;
use crate::model::Model;

/// One loaded model file.
pub struct Loaded {
    /// The file stem.
    pub name: String,
    /// The kind in the file header, e.g. `fraud.iforest`.
    pub kind: String,
    /// Hex SHA-256 of the file.
    pub checksum: String,
    /// When it was loaded (RFC 3339, UTC).
    pub loaded_at: String,
    /// 1 for the first load, +1 per reload.
    pub version: u64,
    /// The model.
    pub model: Model,
}

/// Why a model could not be (re)loaded.
#[derive(Debug)]
pub enum LoadError {
    /// No such file (or the name is not a valid model name).
    NotFound(String),
    /// The file exists but is not a loadable model.
    Invalid(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::NotFound(m) | LoadError::Invalid(m) => f.write_str(m),
        }
    }
}

type Map = HashMap<String, Arc<Loaded>>;

/// The models of one folder.
pub struct Registry {
    dir: PathBuf,
    models: ArcSwap<Map>,
    /// Serialises reloads (readers never take it).
    reloading: Mutex<()>,
}

/// A model name is a file stem of letters, digits, `_`, `-` and `.`, not starting with `.`:
/// names come from URLs, and must never escape the folder.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Registry {
    /// Loads every `*.mercato` file of `dir`; any file that fails to load is an error.
    pub fn open(dir: &Path, metrics: &Metrics) -> Result<Registry, String> {
        let r =
            Registry { dir: dir.to_path_buf(), models: ArcSwap::from_pointee(Map::new()), reloading: Mutex::new(()) };
        r.reload_all(metrics)?;
        Ok(r)
    }

    /// The folder the models come from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current version of a model.
    pub fn get(&self, name: &str) -> Option<Arc<Loaded>> {
        self.models.load().get(name).cloned()
    }

    /// True when a model of that name is loaded (a cheap check for metric labels).
    pub fn contains(&self, name: &str) -> bool {
        self.models.load().contains_key(name)
    }

    /// All loaded models, sorted by name.
    pub fn all(&self) -> Vec<Arc<Loaded>> {
        let mut v: Vec<Arc<Loaded>> = self.models.load().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn next_version(&self, name: &str) -> u64 {
        self.models.load().get(name).map_or(1, |m| m.version + 1)
    }

    fn load_file(&self, name: &str, path: &Path, metrics: &Metrics) -> Result<Loaded, LoadError> {
        let t = Instant::now();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LoadError::NotFound(format!("no model file {}", path.display())))
            }
            Err(e) => return Err(LoadError::Invalid(format!("{}: {e}", path.display()))),
        };
        let checksum = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        let (model, kind) =
            Model::from_bytes(bytes).map_err(|e| LoadError::Invalid(format!("{}: {e}", path.display())))?;
        let version = self.next_version(name);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        metrics.load_seconds.with_label_values(&[name]).set(t.elapsed().as_secs_f64());
        metrics.version.with_label_values(&[name]).set(version as i64);
        metrics.loaded_at.with_label_values(&[name]).set(now.as_secs_f64());
        Ok(Loaded { name: name.to_string(), kind, checksum, loaded_at: rfc3339(now.as_secs()), version, model })
    }

    /// Re-reads the whole folder: new files are added, removed ones dropped, every other
    /// model replaced. All or nothing: if any file fails, the served set is unchanged.
    /// Returns the names now served.
    pub fn reload_all(&self, metrics: &Metrics) -> Result<Vec<String>, String> {
        let _guard = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let entries = std::fs::read_dir(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let mut next = Map::new();
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", self.dir.display()))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("mercato") || !path.is_file() {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).filter(|n| valid_name(n)) else {
                eprintln!("mercato serve: skipping {} (model names are letters, digits, _ - .)", path.display());
                continue;
            };
            let loaded = self.load_file(name, &path, metrics).map_err(|e| e.to_string())?;
            next.insert(name.to_string(), Arc::new(loaded));
        }
        for gone in self.models.load().keys().filter(|k| !next.contains_key(*k)) {
            metrics.forget_model(gone);
        }
        let mut names: Vec<String> = next.keys().cloned().collect();
        names.sort();
        self.models.store(Arc::new(next));
        Ok(names)
    }

    /// Re-reads one model's file (or loads a new one); the old version keeps serving if
    /// the file cannot be loaded.
    pub fn reload_one(&self, name: &str, metrics: &Metrics) -> Result<Arc<Loaded>, LoadError> {
        if !valid_name(name) {
            return Err(LoadError::NotFound(format!("no model named {name:?}")));
        }
        let _guard = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let loaded = Arc::new(self.load_file(name, &self.dir.join(format!("{name}.mercato")), metrics)?);
        let mut next = Map::clone(&self.models.load());
        next.insert(name.to_string(), loaded.clone());
        self.models.store(Arc::new(next));
        Ok(loaded)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (Howard Hinnant's civil-from-days).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_names() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
        assert_eq!(rfc3339(1_796_428_800), "2026-12-05T00:00:00Z");
        assert!(valid_name("fraud-v2.1"));
        for bad in ["", "../etc", ".hidden", "a/b", "a b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
