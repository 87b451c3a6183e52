//! The rayon pools mercato's algorithms run on (the global pool's configuration is never
//! touched).

use std::sync::{Arc, Mutex};

use crate::{bail, Error, Result};

/// A rayon pool with `n` threads (all cores when `None`), local to mercato.
///
/// Pools are cached and reused: building one spawns its threads, which costs more than a
/// whole ECOD fit on a few thousand rows, and tearing it down after every fit would do it
/// again. The all-cores pool is shared by the whole process (more would oversubscribe the
/// cores). A pool of an explicit size is a budget per caller, so it is cached per calling
/// thread: tasks that each ask for one thread (a Dask worker's task threads, a service's
/// request threads) then run side by side instead of queueing on one shared single-thread
/// pool. At most `MAX_POOLS` sizes are kept per cache (least recently created dropped
/// first); idle pool threads sleep, and a thread's pools end with it.
pub(crate) fn pool(num_threads: Option<usize>) -> Result<Arc<rayon::ThreadPool>> {
    static SHARED: Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());
    thread_local! {
        static PER_CALLER: std::cell::RefCell<Vec<(usize, Arc<rayon::ThreadPool>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    match num_threads {
        Some(0) => bail!("num_threads must be positive when given, got 0"),
        Some(n) => PER_CALLER.with(|pools| cached(&mut pools.borrow_mut(), n)),
        // 0 = rayon's default (RAYON_NUM_THREADS or all cores). A panic elsewhere while
        // holding the lock leaves the list itself valid.
        None => cached(&mut SHARED.lock().unwrap_or_else(|e| e.into_inner()), 0),
    }
}

fn cached(pools: &mut Vec<(usize, Arc<rayon::ThreadPool>)>, key: usize) -> Result<Arc<rayon::ThreadPool>> {
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

/// Runs `work` on every task, on the calling thread and up to `pool.current_num_threads() - 1`
/// of the pool's workers, tasks handed out one at a time in order.
///
/// For short parallel sections (a fit of a millisecond or less). `pool.install` with a
/// parallel iterator hands the whole section to a sleeping worker, which must then wake a
/// second one: two wake-ups in a row (tens of microseconds each on a virtual machine) before
/// the second core does anything, while the calling thread waits idle. Here the caller starts
/// on the first task at once and only the helpers are woken. Which thread runs a task never
/// changes what the task computes, so results stay independent of the thread count.
pub(crate) fn run_tasks<T: Send>(pool: &rayon::ThreadPool, tasks: Vec<T>, work: impl Fn(T) + Sync) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let helpers = pool.current_num_threads().min(tasks.len()).saturating_sub(1);
    let slots: Vec<Mutex<Option<T>>> = tasks.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let next = AtomicUsize::new(0);
    let run = || {
        while let Some(slot) = slots.get(next.fetch_add(1, Ordering::Relaxed)) {
            // Each slot is taken once; a poisoned lock (a panicking task) still holds its value.
            if let Some(task) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                work(task);
            }
        }
    };
    pool.in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| run());
        }
        run();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_sizes_are_per_caller_and_all_cores_is_shared() {
        let mine = pool(Some(1)).unwrap();
        assert!(Arc::ptr_eq(&mine, &pool(Some(1)).unwrap()), "reused by the same caller");
        let theirs = std::thread::spawn(|| pool(Some(1)).unwrap()).join().unwrap();
        assert!(!Arc::ptr_eq(&mine, &theirs), "another caller thread has its own");
        let shared = std::thread::spawn(|| pool(None).unwrap()).join().unwrap();
        assert!(Arc::ptr_eq(&shared, &pool(None).unwrap()));
        assert!(pool(Some(0)).is_err());
    }

    #[test]
    fn run_tasks_runs_each_task_once() {
        let p = pool(Some(2)).unwrap();
        let mut out = vec![0usize; 100];
        let tasks: Vec<(usize, &mut usize)> = out.iter_mut().enumerate().collect();
        run_tasks(&p, tasks, |(i, o)| *o += i * i);
        assert!(out.iter().enumerate().all(|(i, &o)| o == i * i));
        run_tasks(&p, Vec::<usize>::new(), |_| unreachable!());
    }
}
