//! ALS at scale on generated data: seconds per iteration and peak memory.
//!
//! `cargo run --release -p mercato --example recommend_implicit_scale -- [users] [items] [nnz] [iterations]`
//! (defaults 2,000,000 × 200,000 with 50,000,000 interactions, 3 iterations). Item
//! popularity is Zipf-like (index ~ items^U); every user gets nnz/users distinct items.

use std::time::Instant;

use mercato::recommend::{Als, Rows};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU seconds used by this process so far (user + system, all threads): on a shared
/// machine the wall clock also counts time spent waiting for a core.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the parenthesised command name; utime and stime are the 12th and 13th
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (tick(11) + tick(12)) / 100.0
}

fn main() -> mercato::Result<()> {
    let arg = |i: usize, d: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (n_users, n_items, nnz, iterations) = (arg(1, 2_000_000), arg(2, 200_000), arg(3, 50_000_000), arg(4, 3));
    let per_user = (nnz / n_users.max(1)).clamp(1, n_items.max(1));
    let t = Instant::now();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut indptr = Vec::with_capacity(n_users + 1);
    let mut indices: Vec<u32> = Vec::with_capacity(n_users * per_user);
    let mut data: Vec<f32> = Vec::with_capacity(n_users * per_user);
    indptr.push(0usize);
    let mut row: Vec<u32> = Vec::with_capacity(per_user * 2);
    for _ in 0..n_users {
        row.clear();
        while row.len() < per_user {
            row.push(((n_items as f64).powf(rng.random::<f64>()) as usize).clamp(1, n_items) as u32 - 1);
            if row.len() == per_user {
                row.sort_unstable();
                row.dedup();
            }
        }
        for &i in &row {
            indices.push(i);
            data.push(rng.random_range(1..100) as f32);
        }
        indptr.push(indices.len());
    }
    let rows = Rows::from_sorted_parts(n_items, indptr, indices, data)?;
    println!(
        "generated {} users x {} items, {} interactions in {:.1}s (peak RSS {:.0} MB)",
        n_users,
        n_items,
        rows.nnz(),
        t.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // one-off costs (factor init, the item-major copy, the model's copy of the rows) plus one
    // iteration, measured by a one-iteration fit; the per-iteration figure is the rest over
    // the remaining iterations (a fit needs at least one iteration)
    let (t, c) = (Instant::now(), cpu_seconds());
    std::hint::black_box(Als::params().factors(64).iterations(1).fit_rows(&rows)?);
    let (setup, setup_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    let (t, c) = (Instant::now(), cpu_seconds());
    let model = Als::params().factors(64).iterations(iterations).fit_rows(&rows)?;
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    let per = |total: f64, first: f64| {
        if iterations > 1 {
            (total - first).max(0.0) / (iterations - 1) as f64
        } else {
            total
        }
    };
    println!(
        "ALS 64 factors, CG 3 steps, {threads} threads: {iterations} iterations in {secs:.1}s; setup + first iteration {setup:.1}s; \
         {:.2} s/iteration ({:.2} CPU-s/iteration); peak RSS {:.0} MB",
        per(secs, setup),
        per(cpu, setup_cpu),
        peak_rss_mb()
    );
    std::hint::black_box(model);
    Ok(())
}
