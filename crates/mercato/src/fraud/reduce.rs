//! Reductions over score and feature columns that give numpy's results bit for bit where
//! PyOD's definitions depend on them, and run at memory speed.

/// Maps an `f64` to a `u64` whose unsigned order is `f64::total_cmp`'s order.
#[inline]
pub(crate) fn order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// The inverse of [`order_key`].
#[inline]
fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// `Σ f(a_i)` summed as numpy's pairwise summation (`np.add.reduce` over a contiguous axis:
/// blocks of at most 128 with 8 accumulators, halves above). A column of a column-major array
/// (what pandas gives) or a 1-d array sums here exactly as in numpy, and the 8 independent
/// accumulators let consecutive additions overlap instead of each waiting for the last.
pub(crate) fn pairwise_sum(a: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, &v| s + f(v))
    } else if n <= 128 {
        let mut r: [f64; 8] = std::array::from_fn(|j| f(a[j]));
        let blocks = n - n % 8;
        for chunk in a[8..blocks].chunks_exact(8) {
            for (r, &v) in r.iter_mut().zip(chunk) {
                *r += f(v);
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[blocks..] {
            res += f(v);
        }
        res
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum(&a[..half], f) + pairwise_sum(&a[half..], f)
    }
}

/// `(min, max)` of finite values, in eight lanes (exact in any order).
pub(crate) fn min_max(a: &[f64]) -> (f64, f64) {
    let (mut lo, mut hi) = ([f64::INFINITY; 8], [f64::NEG_INFINITY; 8]);
    let mut chunks = a.chunks_exact(8);
    for chunk in &mut chunks {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(chunk) {
            *l = if v < *l { v } else { *l };
            *h = if v > *h { v } else { *h };
        }
    }
    let lo = chunks.remainder().iter().chain(&lo).fold(f64::INFINITY, |m, &v| m.min(v));
    let hi = chunks.remainder().iter().chain(&hi).fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    (lo, hi)
}

/// Where `numpy.percentile(.., 100 q)` falls among `n` sorted values: the index below and the
/// interpolation fraction towards the next one.
fn percentile_position(n: usize, q: f64) -> (usize, f64) {
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    (lo, pos - lo as f64)
}

/// `numpy.percentile(.., 100 q)` (linear interpolation) of non-empty sorted data.
pub(crate) fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let (lo, frac) = percentile_position(sorted.len(), q);
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// `numpy.percentile(a, 100 q)` (linear interpolation) of non-empty, NaN-free `a` in `O(n)`:
/// a selection of the two order statistics on integer keys (the order of
/// `f64::total_cmp`), no sort.
pub(crate) fn percentile(a: &[f64], q: f64) -> f64 {
    let (lo, frac) = percentile_position(a.len(), q);
    let mut keys: Vec<u64> = a.iter().map(|&v| order_key(v)).collect();
    let (_, &mut lo_key, right) = keys.select_nth_unstable(lo);
    let lo_v = from_order_key(lo_key);
    let hi_v = if frac > 0.0 { right.iter().copied().min().map_or(lo_v, from_order_key) } else { lo_v };
    lo_v + (hi_v - lo_v) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_is_numpys() {
        // numpy: np.add.reduce(a) == 33333483183.333332 (pairwise); a left-to-right sum gives
        // 33333483183.33343.
        let a: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1000) as f64 * 0.1 * 3.0 + 1e8 / 3.0).collect();
        assert_eq!(pairwise_sum(&a, |v| v), 33333483183.333332);
        assert_ne!(a.iter().sum::<f64>(), 33333483183.333332);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0], |v| v * v), 14.0);
        assert_eq!(pairwise_sum(&[], |v| v), 0.0);
    }

    #[test]
    fn order_keys_round_trip_and_sort_like_total_cmp() {
        let mut v = [3.5, -0.0, 0.0, -1e300, f64::MIN_POSITIVE, -2.0, 1e-300, f64::INFINITY, f64::NEG_INFINITY];
        for &x in &v {
            assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
        }
        let mut by_key = v;
        by_key.sort_by_key(|&x| order_key(x));
        v.sort_by(f64::total_cmp);
        assert_eq!(by_key.map(f64::to_bits), v.map(f64::to_bits));
    }

    #[test]
    fn percentile_and_min_max_match_numpy() {
        // np.percentile([1, 2, 3, 4, 10], 90) == 7.6; np.percentile(a, 50) of ties.
        assert!((percentile(&[3.0, 1.0, 10.0, 2.0, 4.0], 0.9) - 7.6).abs() < 1e-12);
        assert_eq!(percentile(&[2.0, 2.0, 2.0, 5.0], 0.5), 2.0);
        assert_eq!(percentile(&[-1.0], 0.9), -1.0);
        assert_eq!(percentile(&[-3.0, -1.0, -2.0], 1.0), -1.0);
        let a: Vec<f64> = (0..1001).map(|i| ((i * 7919) % 1001) as f64 - 300.0).collect();
        assert_eq!(percentile(&a, 0.9), 600.0);
        assert_eq!(min_max(&a), (-300.0, 700.0));
        assert_eq!(min_max(&[4.0, -1.0, 3.0]), (-1.0, 4.0));
        let mut sorted = a.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.1, 0.5, 0.9, 0.95, 1.0] {
            assert_eq!(percentile_sorted(&sorted, q), percentile(&a, q), "{q}");
        }
    }
}
