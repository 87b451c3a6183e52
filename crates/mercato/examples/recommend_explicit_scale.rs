//! FunkSVD at scale: fits on a generated rating set of `users × items` with `per_user`
//! ratings each (default 1M users × 100k items × 10 = 10M ratings) and prints the time per
//! stage. Run under `/usr/bin/time -v` for the peak memory:
//!
//! ```text
//! cargo build --release -p mercato --example recommend_explicit_scale
//! /usr/bin/time -v target/release/examples/recommend_explicit_scale [users] [items] [per_user] [factors] [epochs] [threads]
//! ```

use std::time::Instant;

use mercato::data::{DuplicatePolicy, IdMap, Interactions};
use mercato::recommend::{Filter, FunkSVDParams, RatingPredictor};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn main() -> mercato::Result<()> {
    let arg = |k: usize, d: usize| std::env::args().nth(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (users, items, per_user) = (arg(1, 1_000_000), arg(2, 100_000), arg(3, 10));
    let (factors, epochs, threads) = (arg(4, 50), arg(5, 20), arg(6, 2));

    let t0 = Instant::now();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let k = 8;
    let itf: Vec<f32> = (0..items * k).map(|_| rng.random::<f32>() - 0.5).collect();
    let mut entries = Vec::with_capacity(users * per_user);
    let mut uf = [0f32; 8];
    for u in 0..users {
        uf.iter_mut().for_each(|v| *v = rng.random::<f32>() - 0.5);
        for _ in 0..per_user {
            // Skewed popularity: a few items get most ratings, as in real catalogues.
            let i = (rng.random::<f32>().powi(2) * items as f32) as usize % items;
            let dot: f32 = (0..k).map(|f| uf[f] * itf[i * k + f]).sum();
            let v = (3.3 + 6.0 * dot + rng.random::<f32>() - 0.5).round().clamp(1.0, 5.0);
            entries.push((u as u32, i as u32, v));
        }
    }
    let data =
        Interactions::from_indexed(IdMap::identity(users), IdMap::identity(items), entries, DuplicatePolicy::Last)?;
    let t_gen = t0.elapsed().as_secs_f64();
    println!("generated {} ratings ({users} users x {items} items) in {t_gen:.1} s", data.nnz());

    let params = FunkSVDParams::default().factors(factors).epochs(epochs).num_threads(Some(threads));
    let t1 = Instant::now();
    let model = params.fit(&data)?;
    let fit_s = t1.elapsed().as_secs_f64();
    let h = model.history();
    println!(
        "FunkSVD k={factors} epochs={epochs} threads={threads}: fit {fit_s:.1} s = {:.0} ns per rating-epoch; \
         train RMSE {:.4} -> {:.4}",
        fit_s * 1e9 / (data.nnz() * epochs) as f64,
        h.train_rmse.first().copied().unwrap_or(f32::NAN),
        h.train_rmse.last().copied().unwrap_or(f32::NAN)
    );
    let t2 = Instant::now();
    let top = model.recommend(&0.into(), 10, &Filter::new().exclude_seen(true))?.items;
    println!("top-10 for one user over {items} items in {:.2} ms: {:?}", t2.elapsed().as_secs_f64() * 1e3, &top[..3]);
    Ok(())
}
