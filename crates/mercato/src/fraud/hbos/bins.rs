//! The per-feature histograms of [`super::Hbos`]: equal-width (static, automatic) and
//! equal-frequency (dynamic) edges, PyOD's `n_bins="auto"` count, and binning a value with
//! `numpy.digitize(right=True)` semantics (arithmetic for equal-width edges, binary search
//! otherwise).

use serde::{Deserialize, Serialize};

use super::{BinMode, HbosParams};
use crate::fraud::reduce;

/// One feature's histogram: `edges.len() == scores.len() + 1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Hist {
    pub(super) edges: Vec<f64>,
    /// `log2(density + alpha)` per bin (PyOD's `out_score_i`; the score is minus this).
    pub(super) log_density: Vec<f64>,
    /// `log2(alpha)`: the score of a value far outside the training range.
    pub(super) outside: f64,
    /// The edges as arithmetic when they are equal width (static and automatic bins):
    /// binning is then arithmetic plus a rounding fix-up instead of a binary search.
    #[serde(skip)]
    pub(super) uniform: Option<EqualWidth>,
}

impl Hist {
    /// `n_bins` equal-width edges over [lo, hi], as `numpy.histogram` (a constant column gets
    /// the range [v - 0.5, v + 0.5]).
    pub(super) fn static_edges(lo: f64, hi: f64, n_bins: usize) -> Vec<f64> {
        let (lo, hi) = if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
        let step = (hi - lo) / n_bins as f64;
        let mut e: Vec<f64> = (0..=n_bins).map(|i| i as f64 * step + lo).collect();
        e[n_bins] = hi;
        e
    }

    /// Equal-frequency edges of `col` (duplicate edges merged).
    pub(super) fn dynamic_edges(col: &[f64], lo: f64, hi: f64, n_bins: usize) -> Vec<f64> {
        let mut col = col.to_vec();
        col.sort_unstable_by(f64::total_cmp);
        let mut e = vec![lo];
        for b in 1..n_bins {
            let q = col[(b * col.len()) / n_bins];
            if q > *e.last().unwrap_or(&lo) && q < hi {
                e.push(q);
            }
        }
        if hi > lo {
            e.push(hi);
            e
        } else {
            vec![lo - 0.5, hi + 0.5]
        }
    }

    /// A histogram with these edges and no counts yet.
    pub(super) fn with_edges(edges: Vec<f64>, p: &HbosParams) -> Hist {
        let mut hist = Hist { edges, log_density: Vec::new(), outside: p.alpha.log2(), uniform: None };
        if p.bins != BinMode::Dynamic {
            hist.set_uniform();
        }
        hist
    }

    /// The `numpy.histogram` bin counting `v`, given `k = digitize(v)`: bins are
    /// [e_i, e_{i+1}), the last one closed (a value on an inner edge is counted to the right
    /// of it, though `digitize(right=True)` scores it with the bin to the left, as PyOD).
    #[inline]
    pub(super) fn count_bin(&self, k: usize, v: f64) -> usize {
        let nb = self.edges.len() - 1;
        let le = if k <= nb && self.edges[k] == v { k + 1 } else { k };
        le.saturating_sub(1).min(nb - 1)
    }

    /// Sets the densities from the bin counts of `n` training values.
    pub(super) fn set_counts(&mut self, counts: &[u32], n: usize, alpha: f64) {
        let edges = &self.edges;
        self.log_density = counts
            .iter()
            .enumerate()
            .map(|(b, &c)| (f64::from(c) / (n as f64 * (edges[b + 1] - edges[b])) + alpha).log2())
            .collect();
    }

    /// Fits the histogram of `col`; also returns each value's `digitize` index, so the
    /// training scores need no second binning pass.
    pub(super) fn fit(col: &[f64], p: &HbosParams) -> (Hist, Vec<u32>) {
        let (lo, hi) = reduce::min_max(col);
        let edges = match p.bins {
            BinMode::Static => Self::static_edges(lo, hi, p.n_bins),
            BinMode::Dynamic => Self::dynamic_edges(col, lo, hi, p.n_bins),
            BinMode::Auto => Self::static_edges(lo, hi, auto_bin_count(col)),
        };
        let mut hist = Self::with_edges(edges, p);
        let mut counts = vec![0u32; hist.edges.len() - 1];
        let digitized: Vec<u32> = col
            .iter()
            .map(|&v| {
                let k = hist.digitize(v);
                counts[hist.count_bin(k, v)] += 1;
                k as u32
            })
            .collect();
        hist.set_counts(&counts, col.len(), p.alpha);
        (hist, digitized)
    }

    pub(super) fn set_uniform(&mut self) {
        let nb = self.edges.len() - 1;
        let range = self.edges[nb] - self.edges[0];
        self.uniform = (range > 0.0 && range.is_finite()).then(|| EqualWidth {
            first: self.edges[0],
            step: range / nb as f64, // as `static_edges`
            last: self.edges[nb],
            bins_per_unit: nb as f64 / range,
            nb: nb as f64,
        });
    }

    /// Bins a training column (values within `[edges[0], edges[nb]]`): writes each value's
    /// code `2 k + e` (`k` its `digitize` index, `e` 1 when it lies on edge `k`) to `codes`
    /// and returns the bin counts. Equal-width bins take [`bin_equal_width`]; counting is a
    /// second pass with four sets of counters used in turn (runs of equal values would
    /// otherwise make each increment wait for the previous one).
    pub(super) fn bin_training_column(&self, col: &[f64], codes: &mut [u16]) -> Vec<u32> {
        let nb = self.edges.len() - 1;
        let arithmetic = self.equal_width();
        if let Some(u) = arithmetic {
            bin_equal_width(&u, col, codes);
        } else {
            for (&v, code) in col.iter().zip(codes.iter_mut()) {
                let k = self.digitize(v);
                *code = (2 * k + usize::from(k <= nb && self.edges[k] == v)) as u16;
            }
        }
        // As `count_bin`: a value on an inner edge is counted to its right.
        let bin_of_code: Vec<u16> =
            (0..2 * (nb + 2)).map(|code| (code / 2 + code % 2).saturating_sub(1).min(nb - 1) as u16).collect();
        let mut partial = vec![[0u32; 4]; nb];
        let mut chunks = codes.chunks_exact(4);
        for chunk in &mut chunks {
            for (q, &code) in chunk.iter().enumerate() {
                partial[usize::from(bin_of_code[usize::from(code)])][q] += 1;
            }
        }
        for &code in chunks.remainder() {
            partial[usize::from(bin_of_code[usize::from(code)])][0] += 1;
        }
        partial.iter().map(|p| p.iter().sum()).collect()
    }

    /// Each training-value code's score (see [`Hist::bin_training_column`]). Training values
    /// are in range: digitize index k = 0 (the minimum) takes bin 0, k in 1..=nb bin k - 1.
    pub(super) fn training_score_table(&self) -> Vec<f64> {
        let nb = self.log_density.len();
        (0..2 * (nb + 1)).map(|code| -self.log_density[(code / 2).saturating_sub(1)]).collect()
    }

    /// The edges as [`EqualWidth`] when they are exactly `first + i * step` (as
    /// `static_edges` makes them) and well conditioned: the arithmetic binning path.
    pub(super) fn equal_width(&self) -> Option<EqualWidth> {
        let nb = self.edges.len() - 1;
        self.uniform.filter(|u| u.well_conditioned() && (0..=nb).all(|i| u.edge(i as f64) == self.edges[i]))
    }

    /// `numpy.digitize(v, edges, right=True)`: the number of edges strictly below `v`.
    #[inline]
    pub(super) fn digitize(&self, v: f64) -> usize {
        let nb = self.edges.len() - 1;
        match self.uniform {
            Some(EqualWidth { first, bins_per_unit, nb: nb_f, .. }) => {
                let g = (v - first) * bins_per_unit;
                // `as i64` truncates in one instruction (g is in [0, nb) on this branch).
                let mut k = if g < 0.0 {
                    0
                } else if g < nb_f {
                    g as i64 as usize + 1
                } else {
                    nb + 1
                };
                // Rounding can put v one bin off at an edge: fix it against the real edges.
                while k > 0 && self.edges[k - 1] >= v {
                    k -= 1;
                }
                while k <= nb && self.edges[k] < v {
                    k += 1;
                }
                k
            }
            None => self.edges.partition_point(|&e| e < v),
        }
    }

    /// `-log2(density + alpha)` of `v`'s bin (PyOD's `_calculate_outlier_scores`).
    #[inline]
    pub(super) fn score(&self, v: f64, tol: f64) -> f64 {
        self.score_digitized(self.digitize(v), v, tol)
    }

    /// As [`Hist::score`] with `i = digitize(v)` already known.
    #[inline]
    pub(super) fn score_digitized(&self, i: usize, v: f64, tol: f64) -> f64 {
        let nb = self.log_density.len();
        let ld = if i == 0 {
            let width = self.edges[1] - self.edges[0];
            if self.edges[0] - v <= width * tol {
                self.log_density[0]
            } else {
                self.outside
            }
        } else if i == nb + 1 {
            let width = self.edges[nb] - self.edges[nb - 1];
            if v - self.edges[nb] <= width * tol {
                self.log_density[nb - 1]
            } else {
                self.outside
            }
        } else {
            self.log_density[i - 1]
        };
        -ld
    }
}

/// The bin count PyOD's `n_bins="auto"` chooses for a column (`get_optimal_n_bins`, after
/// Birgé & Rozenholc 2006): the `b` in `1..max(2, ⌊√n⌋)` maximising
/// `Σ_bins [h ln(b h / n + 1) - (b - 1 + ln(b)^2.5)]` over the equal-width histogram `h` of
/// `b` bins (the penalty inside the sum, as PyOD has it), the first on ties. The column is
/// sorted once; each candidate's counts are then differences of binary searches for its
/// edges, `O(n log n)` in all instead of a histogram pass per candidate.
pub fn auto_bin_count(col: &[f64]) -> usize {
    let n = col.len();
    let mut sorted = col.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let (lo, hi) = match (sorted.first(), sorted.last()) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => return 1,
    };
    let upper = ((n as f64).sqrt() as usize).max(2);
    let below = |e: f64| sorted.partition_point(|&v| v < e);
    let mut best = (f64::NEG_INFINITY, 1);
    let mut terms = Vec::with_capacity(upper);
    for b in 1..upper {
        let edges = Hist::static_edges(lo, hi, b);
        let penalty = (b - 1) as f64 + (b as f64).ln().powf(2.5);
        // As `numpy.histogram`: bins [e_i, e_i+1), the last one closed.
        terms.clear();
        terms.extend((0..b).map(|i| {
            let end = if i + 1 == b { n } else { below(edges[i + 1]) };
            let h = (end - below(edges[i])) as f64;
            h * ((b as f64 * h) / n as f64 + 1.0).ln() - penalty
        }));
        let likelihood = reduce::pairwise_sum(&terms, |t| t);
        if likelihood > best.0 {
            best = (likelihood, b);
        }
    }
    best.1
}

/// Equal-width edges `first + i * step` (`i < nb`) and `last`, as [`Hist::static_edges`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct EqualWidth {
    pub(super) first: f64,
    pub(super) step: f64,
    pub(super) last: f64,
    pub(super) bins_per_unit: f64,
    pub(super) nb: f64,
}

impl EqualWidth {
    /// Edge `i` (`0..=nb`), bit-identical to the stored edge (the same operations).
    pub(super) fn edge(&self, i: f64) -> f64 {
        if i >= self.nb {
            self.last
        } else {
            i * self.step + self.first
        }
    }

    /// Whether rounding in `(v - first) / width` and in the edges stays far below a bin (a
    /// width at least 2^-40 of the magnitudes involved; rounding is 2^-52 of them), so
    /// [`bin_equal_width`] is exact.
    pub(super) fn well_conditioned(&self) -> bool {
        self.step > (self.first.abs() + self.last.abs()) * 2f64.powi(-40) && self.nb < 1e6
    }
}

/// [`Hist::bin_training_column`]'s codes of every training value (within `[first, last]`),
/// as straight-line floating-point code the compiler vectorizes: no branches on the data
/// (integer-valued columns put many values on edges, where a branch per fix-up would
/// mispredict) and no table lookups (edges are recomputed with the operations that made
/// them, so bit-identical).
///
/// `k0 = floor((v - first) / width)` is within a small fraction of a bin of the truth when
/// [`EqualWidth::well_conditioned`] holds, so the `digitize` index is `k0` plus the number of
/// edges `k0` and `k0 + 1` below `v`.
#[multiversion::multiversion(targets("x86_64+avx2"))]
pub(super) fn bin_equal_width(u: &EqualWidth, col: &[f64], codes: &mut [u16]) {
    // Adding 2^52 puts a small non-negative integer in the low mantissa bits: an exact
    // conversion the compiler vectorizes (`as` would saturate lane by lane).
    const TO_INT: f64 = 4_503_599_627_370_496.0;
    let last_bin = u.nb - 1.0;
    for (&v, code) in col.iter().zip(codes.iter_mut()) {
        let k0 = ((v - u.first) * u.bins_per_unit).trunc().min(last_bin);
        let lower = k0 * u.step + u.first;
        let k1 = k0 + 1.0;
        let upper = if k1 >= u.nb { u.last } else { k1 * u.step + u.first };
        let k = k0 + f64::from(u8::from(lower < v)) + f64::from(u8::from(upper < v));
        let on_edge = f64::from(u8::from(v == lower) | u8::from(v == upper));
        *code = (2.0 * k + on_edge + TO_INT).to_bits() as u16;
    }
}
