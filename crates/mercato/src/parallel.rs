//! The rayon pools mercato's algorithms run on (the global pool's configuration is never
//! touched).

use std::sync::{Arc, Mutex};

use crate::{bail, Error, Result};

/// A rayon pool with `n` threads (all cores when `None`), local to mercato.
///
/// Pools are cached per thread count and reused: building one spawns its threads, which costs
/// more than a whole ECOD fit on a few thousand rows, and tearing it down after every fit
/// would do it again. At most `MAX_POOLS` distinct counts are kept (least recently created
/// dropped first); idle pool threads sleep.
pub(crate) fn pool(num_threads: Option<usize>) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());
    if let Some(0) = num_threads {
        bail!("num_threads must be positive when given, got 0");
    }
    // 0 = rayon's default (RAYON_NUM_THREADS or all cores).
    let key = num_threads.unwrap_or(0);
    // A panic elsewhere while holding the lock leaves the list itself valid.
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = pools.iter().find(|(k, _)| *k == key) {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(key)
            .thread_name(|i| format!("mercato-{i}"))
            .build()
            .map_err(|e| Error::invalid(format!("cannot start a thread pool: {e}")))?,
    );
    if pools.len() >= MAX_POOLS {
        pools.remove(0);
    }
    pools.push((key, Arc::clone(&p)));
    Ok(p)
}

/// Distinct thread counts whose pools [`pool`] keeps.
const MAX_POOLS: usize = 4;
