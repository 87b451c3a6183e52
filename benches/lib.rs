//! Shared helpers for mercato's criterion benchmarks: seeded synthetic data generators.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A seeded RNG for benchmark data.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// `n` scores with 0/1 labels where positives score higher on average.
pub fn scored_labels(n: usize, seed: u64) -> (Vec<f64>, Vec<u8>) {
    let mut r = rng(seed);
    (0..n)
        .map(|_| {
            let label = u8::from(r.random::<f64>() < 0.1);
            (r.random::<f64>() + f64::from(label) * 0.5, label)
        })
        .unzip()
}
