//! Ranking one training column: its sorted values and, for every row, how many training
//! values lie strictly below its value and how many are `<=` it (ties compare with `==`,
//! as numpy's, so `-0.0` ties with `0.0`).
//!
//! Two ways, chosen per column:
//!
//! * **Few distinct values** (at most a quarter of the rows, and at most
//!   [`MAX_DISTINCT`]): codes, counts, integer-valued readings, rounded amounts — most columns
//!   of transaction and sensor data. One pass through a small open-addressing hash table counts
//!   each distinct value and keeps every row's slot; only the distinct values are sorted; the
//!   sorted column is written run by run and each row's result read back by slot.
//!   `O(n + m log m)` for `m` distinct values, and no row ids are moved.
//! * **Otherwise** a least-significant-digit radix sort of the row ids by value. Each entry packs
//!   the high 32 bits of the value's order key (sign, exponent, 20 mantissa bits), minus the
//!   column's smallest, with its row into one `u64`; only as many digits as that range needs are
//!   sorted (up to 11 bits each, fewer for short columns, so the counters fit the cache). The
//!   rare neighbours equal on those bits but out of order (relative differences below about
//!   1e-6) are put in place by insertion while the sorted column is written (should a column
//!   have many, its runs are sorted on the full key instead); the ranks then come from two
//!   branch-free passes over the sorted column.
//!
//! Both give bit-identical results (tested against each other and against a comparison sort).

use crate::fraud::reduce::{order_key, pairwise_sum};

/// Largest number of distinct values the hash-table path takes (its slots are `u16`).
pub(super) const MAX_DISTINCT: usize = 8192;

/// Low 32 bits of a packed sort entry: the row.
pub(super) const ROW_MASK: u64 = 0xffff_ffff;

/// Rows hashed before giving up on a column that is nearly all distinct values.
const PROBE_ROWS: usize = 256;

/// An empty hash-table slot: a NaN bit pattern, never a key (input is checked finite).
const EMPTY: u64 = u64::MAX;

/// Reusable scratch for ranking the columns one thread handles.
#[derive(Default)]
pub(super) struct Ranker {
    // Radix path.
    order: Vec<u64>,
    tmp: Vec<u64>,
    // Hash-table path: slot keys (value bits) and counts, each row's slot, the occupied slots,
    // and each slot's result.
    keys: Vec<u64>,
    counts: Vec<u32>,
    slot_of_row: Vec<u16>,
    occupied: Vec<u16>,
    slot_result: Vec<f64>,
}

impl Ranker {
    /// Scratch bytes per row (the radix entries and their copy, the slots, and the caller's
    /// copy of a non-contiguous column).
    pub(super) const BYTES_PER_ROW: usize = 8 + 8 + 2 + 8;

    /// Hash-table slots for up to `max_distinct` values: load factor at most 1/2, so probes
    /// rarely go past the first slot.
    fn capacity(max_distinct: usize) -> usize {
        (2 * max_distinct).next_power_of_two()
    }

    /// Bytes of the hash table for `n` rows (keys, counts, results).
    pub(super) fn table_bytes(n: usize) -> usize {
        Self::capacity((n / 4).min(MAX_DISTINCT)) * (8 + 4 + 8)
    }

    /// Ranks `values`: writes them in ascending (`total_cmp`) order to `sorted`, and
    /// `out[i] = result(below, at_most)` where `below` counts the values `< values[i]` and
    /// `at_most` those `<= values[i]` (`result` may be called more than once per value).
    /// `values` must be finite.
    pub(super) fn rank(
        &mut self,
        values: &[f64],
        sorted: &mut [f64],
        out: &mut [f64],
        result: impl FnMut(usize, usize) -> f64,
    ) {
        debug_assert!(values.len() == sorted.len() && values.len() == out.len());
        debug_assert!(values.len() <= ROW_MASK as usize);
        let max_distinct = (values.len() / 4).min(MAX_DISTINCT);
        debug_assert!(Self::capacity(max_distinct) * 20 <= Self::table_bytes(values.len()));
        if max_distinct >= 16 && self.count_distinct(values, max_distinct) {
            self.rank_distinct(sorted, out, result);
        } else {
            self.radix_sort(values);
            self.rank_sorted(values, sorted, out, result);
        }
    }

    /// Hashes every value into the table; false (and the table left to be reset) as soon as
    /// more than `max_distinct` distinct values turn up.
    fn count_distinct(&mut self, values: &[f64], max_distinct: usize) -> bool {
        let capacity = Self::capacity(max_distinct);
        for s in self.occupied.drain(..) {
            self.keys[usize::from(s)] = EMPTY;
            self.counts[usize::from(s)] = 0;
        }
        if self.keys.len() != capacity {
            self.keys = vec![EMPTY; capacity];
            self.counts = vec![0; capacity];
            self.slot_result = vec![0.0; capacity];
        }
        self.slot_of_row.resize(values.len(), 0);
        let (mask, shift) = (capacity - 1, 64 - capacity.trailing_zeros());
        let (keys, counts, occupied) = (&mut self.keys[..], &mut self.counts[..], &mut self.occupied);
        for (i, (&v, slot_of_row)) in values.iter().zip(self.slot_of_row.iter_mut()).enumerate() {
            // A column whose first rows are nearly all distinct is not worth hashing further.
            if i == PROBE_ROWS && occupied.len() > PROBE_ROWS * 3 / 5 {
                return false;
            }
            let bits = v.to_bits();
            // Fibonacci hashing: the top bits of the product depend on every bit of the value
            // (integer-valued floats differ only in their high bits).
            let mut s = (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize;
            loop {
                let k = keys[s];
                if k == bits {
                    break;
                }
                if k == EMPTY {
                    if occupied.len() == max_distinct {
                        return false;
                    }
                    keys[s] = bits;
                    occupied.push(s as u16);
                    break;
                }
                s = (s + 1) & mask;
            }
            *slot_of_row = s as u16;
            counts[s] += 1;
        }
        true
    }

    /// The hash-table path after [`Ranker::count_distinct`] succeeded.
    fn rank_distinct(&mut self, sorted: &mut [f64], out: &mut [f64], mut result: impl FnMut(usize, usize) -> f64) {
        let keys = &self.keys;
        let value = |s: u16| f64::from_bits(keys[usize::from(s)]);
        self.occupied.sort_unstable_by_key(|&s| order_key(value(s)));
        let occupied = &self.occupied;
        let (mut below, mut pos, mut i) = (0, 0, 0);
        while i < occupied.len() {
            // A group of slots holding equal values (only -0.0 and 0.0 differ in bits).
            let v = value(occupied[i]);
            let mut j = i + 1;
            while j < occupied.len() && value(occupied[j]) == v {
                j += 1;
            }
            let group = &occupied[i..j];
            let count: usize = group.iter().map(|&s| self.counts[usize::from(s)] as usize).sum();
            let r = result(below, below + count);
            for &s in group {
                let c = self.counts[usize::from(s)] as usize;
                sorted[pos..pos + c].fill(value(s));
                pos += c;
                self.slot_result[usize::from(s)] = r;
            }
            below += count;
            i = j;
        }
        for (o, &s) in out.iter_mut().zip(&self.slot_of_row) {
            *o = self.slot_result[usize::from(s)];
        }
    }

    /// Sorts the row ids of `values` by the high 32 bits of their order keys into `self.order`
    /// (entries `(high key bits << 32) | row`); [`Ranker::forward_pass`] finishes the order
    /// among values equal on those bits.
    fn radix_sort(&mut self, values: &[f64]) {
        let n = values.len();
        self.order.clear();
        self.order.extend(values.iter().enumerate().map(|(i, &v)| (order_key(v) & !ROW_MASK) | i as u64));
        let (lo, hi) = self.order.iter().fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)));
        let range = (hi >> 32).saturating_sub(lo >> 32);
        let bits = u64::BITS - range.leading_zeros();
        if bits > 0 {
            // Digits of up to 11 bits, at most about n / 2 counters each (short columns would
            // spend more time on the counters than on the rows).
            let max_width = (usize::BITS - n.leading_zeros()).saturating_sub(2).clamp(8, 11);
            let passes = bits.div_ceil(max_width);
            let width = bits.div_ceil(passes);
            self.radix_passes(lo >> 32, passes as usize, width);
        }
    }

    /// LSD radix passes over `order` on `(high half - base)`, `passes` digits of `width` bits.
    fn radix_passes(&mut self, base: u64, passes: usize, width: u32) {
        let n = self.order.len();
        let buckets = 1usize << width;
        let digit_mask = (buckets - 1) as u64;
        let digit = |k: u64, p: usize| ((((k >> 32) - base) >> (width as usize * p)) & digit_mask) as usize;
        let mut hist = vec![0u32; passes * buckets];
        for &k in &self.order {
            for p in 0..passes {
                hist[p * buckets + digit(k, p)] += 1;
            }
        }
        self.tmp.clear();
        self.tmp.resize(n, 0);
        for (p, h) in hist.chunks_exact_mut(buckets).enumerate() {
            if h.iter().any(|&c| c as usize == n) {
                continue; // every key has the same digit here
            }
            // Counts to starting offsets, in place.
            let mut sum = 0;
            for c in h.iter_mut() {
                let next = sum + *c;
                *c = sum;
                sum = next;
            }
            let (order, tmp) = (&self.order[..], &mut self.tmp[..]);
            for &k in order {
                let d = digit(k, p);
                tmp[h[d] as usize] = k;
                h[d] += 1;
            }
            std::mem::swap(&mut self.order, &mut self.tmp);
        }
    }

    /// Sorts the runs of `order` that are equal on the high half by the full key.
    fn fix_up_runs(&mut self, values: &[f64]) {
        let n = self.order.len();
        let full = |p: u64| order_key(values[(p & ROW_MASK) as usize]);
        let mut a = 0;
        while a < n {
            let high = self.order[a] >> 32;
            let mut b = a + 1;
            while b < n && self.order[b] >> 32 == high {
                b += 1;
            }
            if b - a > 1 {
                self.order[a..b].sort_unstable_by_key(|&p| full(p));
            }
            a = b;
        }
    }

    /// The radix path after [`Ranker::radix_sort`]. Two passes, branch-free but for rare
    /// events (ties are data dependent: branching on them would mispredict): forward, the
    /// sorted values and where each one's group of equal values starts; backward, where it
    /// ends, and the result.
    fn rank_sorted(
        &mut self,
        values: &[f64],
        sorted: &mut [f64],
        out: &mut [f64],
        mut result: impl FnMut(usize, usize) -> f64,
    ) {
        let n = values.len();
        self.forward_pass(values, sorted);
        let (order, starts) = (&self.order, &self.tmp);
        let mut end = n;
        for i in (0..n).rev() {
            if i + 1 < n {
                end = if sorted[i] == sorted[i + 1] { end } else { i + 1 };
            }
            out[(order[i] & ROW_MASK) as usize] = result(starts[i] as usize, end);
        }
    }

    /// Writes the values in `order` to `sorted` and each position's group start to `tmp`,
    /// finishing the sort on the way: neighbours equal on the high key bits but out of order
    /// (values within about 1e-6 of each other) are put in place by insertion. Should a
    /// column need many such moves, its runs are sorted instead and the pass starts over.
    fn forward_pass(&mut self, values: &[f64], sorted: &mut [f64]) {
        let n = values.len();
        self.tmp.resize(n, 0);
        let row = |p: u64| (p & ROW_MASK) as usize;
        let (order, starts) = (&mut self.order, &mut self.tmp);
        let (mut i, mut start, mut prev, mut prev_high) = (0, 0u64, f64::NAN, u64::MAX);
        let mut moves = 0;
        while i < n {
            let p = order[i];
            let (v, high) = (values[row(p)], p >> 32);
            if (high == prev_high) & (order_key(v) < order_key(prev)) {
                let mut k = i;
                while k > 0 && order[k - 1] >> 32 == high && order_key(values[row(order[k - 1])]) > order_key(v) {
                    order[k] = order[k - 1];
                    k -= 1;
                }
                order[k] = p;
                moves += i - k;
                if moves > n {
                    self.fix_up_runs(values);
                    return self.forward_pass(values, sorted);
                }
                // Resume at k with the state after position k - 1.
                i = k;
                (start, prev, prev_high) =
                    if k == 0 { (0, f64::NAN, u64::MAX) } else { (starts[k - 1], sorted[k - 1], order[k - 1] >> 32) };
                continue;
            }
            start = if v == prev { start } else { i as u64 };
            sorted[i] = v;
            starts[i] = start;
            (prev, prev_high) = (v, high);
            i += 1;
        }
    }

    /// The row order the radix path found (for tests).
    #[cfg(test)]
    fn sorted_rows(&mut self, values: &[f64]) -> Vec<usize> {
        self.radix_sort(values);
        self.forward_pass(values, &mut vec![0.0; values.len()]);
        self.order.iter().map(|&p| (p & ROW_MASK) as usize).collect()
    }
}

/// Sign of the (biased, as `scipy.stats.skew`) sample skewness: -1, 0 (constant column or
/// zero third moment) or 1. Moments summed as numpy does (see [`pairwise_sum`]).
pub(super) fn skew_sign(col: &[f64]) -> i8 {
    let n = col.len().max(1) as f64;
    let mean = pairwise_sum(col, |v| v) / n;
    let m2 = pairwise_sum(col, |v| (v - mean) * (v - mean));
    let m3 = pairwise_sum(col, |v| {
        let dv = v - mean;
        dv * dv * dv
    });
    if m2 <= 0.0 || m3 == 0.0 {
        0
    } else if m3 > 0.0 {
        1
    } else {
        -1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(below, at_most)` of every value and the sorted column, by brute force.
    fn reference(values: &[f64]) -> (Vec<(usize, usize)>, Vec<f64>) {
        let ranks = values
            .iter()
            .map(|&v| (values.iter().filter(|&&w| w < v).count(), values.iter().filter(|&&w| w <= v).count()))
            .collect();
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        (ranks, sorted)
    }

    /// Ranks with the ranker and checks against the reference; results encode `(below, at_most)`.
    fn check(ranker: &mut Ranker, values: &[f64]) {
        let n = values.len();
        let (mut sorted, mut out) = (vec![0.0; n], vec![0.0; n]);
        ranker.rank(values, &mut sorted, &mut out, |a, b| (a * (n + 1) + b) as f64);
        let (want, want_sorted) = reference(values);
        let got: Vec<(usize, usize)> = out.iter().map(|&r| (r as usize / (n + 1), r as usize % (n + 1))).collect();
        assert_eq!(got, want);
        let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&sorted), bits(&want_sorted));
    }

    fn awkward_values() -> Vec<f64> {
        let mut values = vec![3.5, -0.0, 0.0, -1e300, f64::MIN_POSITIVE, 2.0, -2.0, 3.5, 1e-300, -7.25, 0.0, 1e300];
        // Values equal on the high 32 bits of their key, in reverse order: the fix-up pass.
        values.extend((0..40).map(|i| 1.0 + (40 - i) as f64 * 1e-12));
        values
    }

    #[test]
    fn radix_path_orders_like_total_cmp() {
        let mut values = awkward_values();
        values.extend((0..300).map(|i| ((i * 7919) % 301) as f64 / 7.0 - 20.0));
        let mut ranker = Ranker::default();
        let rows = ranker.sorted_rows(&values);
        let got: Vec<u64> = rows.iter().map(|&r| values[r].to_bits()).collect();
        let mut want = values.clone();
        want.sort_by(f64::total_cmp);
        assert_eq!(got, want.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        let mut sorted_rows = rows.clone();
        sorted_rows.sort_unstable();
        assert_eq!(sorted_rows, (0..values.len()).collect::<Vec<_>>(), "a permutation of the rows");
        check(&mut ranker, &values);
    }

    #[test]
    fn both_paths_agree_with_brute_force() {
        let mut ranker = Ranker::default();
        // Few distinct values (hash path), with -0.0 and 0.0 tying and extreme magnitudes.
        let few: Vec<f64> = (0..2000).map(|i| [0.0, -0.0, 1.0, 3.5, -1e300, 1e-300, 7.0][(i * 31) % 7]).collect();
        check(&mut ranker, &few);
        // Many distinct values (radix path), then few again: the table is reset between uses.
        let mut many = awkward_values();
        many.extend((0..3000).map(|i| ((i * 7919) % 2999) as f64 * 0.37 - 300.0));
        check(&mut ranker, &many);
        check(&mut ranker, &few[..500]);
        // A few values equal on the radix bits but out of order (the insertion fix-up), and a
        // long such run (the fall-back that sorts runs).
        let mut close = many.clone();
        close.extend([1.0 + 3e-12, 1.0 + 2e-12, 1.0 + 1e-12, 5.0 - 1e-13, 5.0 - 2e-13]);
        check(&mut ranker, &close);
        close.extend((0..2000).map(|i| 9.0 + (2000 - i) as f64 * 1e-13));
        check(&mut ranker, &close);
        // Exactly at the distinct limit (a quarter of the rows), and one over it.
        let at_limit: Vec<f64> = (0..400).map(|i| (i % 100) as f64).collect();
        check(&mut ranker, &at_limit);
        let over: Vec<f64> = (0..400).map(|i| (i % 101) as f64).collect();
        check(&mut ranker, &over);
        // Short columns take the radix path only.
        check(&mut ranker, &[2.0, 1.0, 2.0]);
        check(&mut ranker, &[5.0]);
        // A constant column and a two-valued one.
        check(&mut ranker, &vec![4.25; 1000]);
        check(&mut ranker, &(0..1000).map(|i| (i % 2) as f64).collect::<Vec<_>>());
    }

    #[test]
    fn skew_sign_is_scipys() {
        assert_eq!(skew_sign(&[1.0, 2.0, 3.0, 10.0]), 1);
        assert_eq!(skew_sign(&[1.0, 8.0, 9.0, 10.0]), -1);
        assert_eq!(skew_sign(&[1.0, 2.0, 3.0]), 0);
        assert_eq!(skew_sign(&[2.0; 5]), 0);
    }
}
