//! Train/test splitters. All are deterministic for a given seed, and train and test share
//! the source's id maps (so indices mean the same thing in both).

use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::loaders::{movielens_format, read_triples};
use super::{DuplicatePolicy, IdMap, Interactions};
use crate::{ensure, Result};

/// A (train, test) pair over one id space.
pub type TrainTest = (Interactions, Interactions);

/// Shuffles all entries with `seed` and cuts them into `k` folds of near-equal size;
/// fold `f` is the test set of the `f`-th pair (Surprise's `KFold`).
pub fn k_fold(data: &Interactions, k: usize, seed: u64) -> Result<Vec<TrainTest>> {
    ensure!(k >= 2, "k-fold needs k >= 2, got {k}");
    ensure!(data.nnz() >= k, "k-fold with k = {k} needs at least {k} entries, got {}", data.nnz());
    let mut entries = data.to_indexed();
    entries.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
    let n = entries.len();
    (0..k)
        .map(|f| {
            let (start, end) = (f * n / k, (f + 1) * n / k);
            let test = entries[start..end].to_vec();
            let train = entries[..start].iter().chain(&entries[end..]).copied().collect();
            Ok((data.with_entries(train)?, data.with_entries(test)?))
        })
        .collect()
}

/// Holds out `fraction` of each user's entries (rounded, at least one entry stays in train;
/// a user with a single entry keeps it in train). Each user's shuffle uses its own stream
/// derived from `seed`, so the split does not depend on user order or thread count.
pub fn holdout_per_user(data: &Interactions, fraction: f64, seed: u64) -> Result<TrainTest> {
    ensure!(fraction > 0.0 && fraction < 1.0, "holdout fraction must be in (0, 1), got {fraction}");
    let (mut train, mut test) = (Vec::with_capacity(data.nnz()), Vec::new());
    for u in 0..data.n_users() {
        let (idx, vals) = data.row(u);
        let mut order: Vec<usize> = (0..idx.len()).collect();
        let mut rng = crate::rng::stream(seed, u as u64, 0);
        order.shuffle(&mut rng);
        let n_test = ((idx.len() as f64 * fraction).round() as usize).min(idx.len().saturating_sub(1));
        for (rank, &k) in order.iter().enumerate() {
            let e = (u as u32, idx[k] as u32, vals[k]);
            if rank < n_test {
                test.push(e);
            } else {
                train.push(e);
            }
        }
    }
    Ok((data.with_entries(train)?, data.with_entries(test)?))
}

/// Loads the official MovieLens-100k fold `k` (1..=5, or `"a"`/`"b"` via
/// [`movielens_base_test`]) from `dir`: `u{k}.base` is train, `u{k}.test` test.
pub fn ml100k_fold(dir: impl AsRef<Path>, k: usize) -> Result<TrainTest> {
    ensure!((1..=5).contains(&k), "MovieLens-100k folds are 1..=5, got {k}");
    let dir = dir.as_ref();
    movielens_base_test(&dir.join(format!("u{k}.base")), &dir.join(format!("u{k}.test")))
}

/// Loads a MovieLens base/test file pair into one id space.
pub fn movielens_base_test(base: &Path, test: &Path) -> Result<TrainTest> {
    let (mut users, mut items) = (IdMap::new(), IdMap::new());
    let train = read_triples(base, &movielens_format(base)?, &mut users, &mut items)?;
    let held = read_triples(test, &movielens_format(test)?, &mut users, &mut items)?;
    Ok((
        Interactions::from_indexed(users.clone(), items.clone(), train, DuplicatePolicy::Error)?,
        Interactions::from_indexed(users, items, held, DuplicatePolicy::Error)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Interactions {
        let triples = (0..20).flat_map(|u| (0..(u % 7 + 1)).map(move |i| (u, i * 3 + u % 2, 1.0 + (i % 5) as f32)));
        Interactions::from_triples(triples, DuplicatePolicy::Error).unwrap()
    }

    #[test]
    fn k_fold_partitions_entries() {
        let x = toy();
        let folds = k_fold(&x, 5, 7).unwrap();
        let total: usize = folds.iter().map(|(_, t)| t.nnz()).sum();
        assert_eq!(total, x.nnz());
        for (train, test) in &folds {
            assert_eq!(train.nnz() + test.nnz(), x.nnz());
            assert!(test.iter().all(|(u, i, _)| train.value(u, i).is_none()));
        }
        assert_eq!(k_fold(&x, 5, 7).unwrap()[0].1, folds[0].1, "same seed, same split");
        assert!(k_fold(&x, 1, 7).is_err());
    }

    #[test]
    fn holdout_keeps_one_in_train() {
        let x = toy();
        let (train, test) = holdout_per_user(&x, 0.5, 3).unwrap();
        assert_eq!(train.nnz() + test.nnz(), x.nnz());
        let counts = train.user_counts();
        assert!(counts.iter().all(|&c| c >= 1));
        assert!(test.nnz() > 0);
        assert!(holdout_per_user(&x, 1.0, 3).is_err());
    }
}
