//! Checks that `score_one` does not allocate: a counting wrapper around the system allocator
//! for the crate's unit-test binary (counts are per thread, so tests running in parallel do
//! not disturb each other).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::{
    AnyDetectorParams, CopodParams, Detector, EcodParams, HbosParams, IsolationForestParams, KnnParams, LofParams,
    MahalanobisParams, PcaParams,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// The largest single request on this thread (see [`largest_allocation`]).
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    let _ = LARGEST.try_with(|c| c.set(c.get().max(size)));
}

/// Runs `f` and returns its result with the largest single allocation it made on this
/// thread: tests of hostile inputs check that a size claimed by a header is refused
/// *before* anything of that size is allocated.
pub(crate) fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|c| c.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

// SAFETY: every call is forwarded unchanged to `System`; the counter is a const-initialised
// thread-local `Cell` (no allocation, no destructor), accessed with `try_with`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn score_one_does_not_allocate() {
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 3]));
    assert!(allocations() > before, "the counter sees allocations");
    // 20 features: KNN/LOF use brute force; 5 features below: the kd-tree.
    for d in [20, 5] {
        let x = ndarray::Array2::from_shape_fn((1500, d), |(i, j)| ((i * 7919 + j * 104729) % 1009) as f64 / 1009.0);
        let detectors: Vec<AnyDetectorParams> = vec![
            IsolationForestParams::default().seed(1).into(),
            EcodParams::default().into(),
            CopodParams::default().into(),
            HbosParams::default().into(),
            KnnParams::default().into(),
            LofParams::default().into(),
            MahalanobisParams::default().into(),
            PcaParams::default().into(),
        ];
        let rows: Vec<Vec<f64>> = x.rows().into_iter().take(50).map(|r| r.to_vec()).collect();
        for params in detectors {
            let det = params.fit(&x.view()).unwrap();
            let mut sum = det.score_one(&rows[0]).unwrap(); // warm-up (lazy statics, if any)
            let before = allocations();
            for r in &rows {
                sum += det.score_one(r).unwrap();
            }
            let after = allocations();
            assert!(sum.is_finite());
            assert_eq!(after - before, 0, "{} (d = {d}) allocated in score_one", det.name());
        }
    }
}
