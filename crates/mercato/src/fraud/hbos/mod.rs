//! Histogram-based outlier score (Goldstein & Dengel, 2012), with PyOD's definition.
//!
//! Per feature, a histogram of the training column: **static** bins (`n_bins` equal-width
//! bins over [min, max], exactly `numpy.histogram(density=True)`, as PyOD) or **dynamic** bins
//! (equal-frequency: each bin holds about `n / n_bins` rows, the paper's variant for long-tailed
//! features). A value's per-feature score is `-log2(density + alpha)` of its bin; the row's
//! score is the sum over features. As PyOD, values are binned with `numpy.digitize(right=True)`
//! semantics; values outside the training range within `tol` bin widths take the edge bin.
//! Values further out score as an empty bin, `-log2(alpha)` (PyOD gives them the least dense
//! bin's score, which under-rates never-seen values when every bin is populated, e.g. for a
//! constant training column); training scores are unaffected, as training values are in range.
//!
//! Fit `O(n d)` (static) or `O(n d log n)` (dynamic); one row `O(d log n_bins)`, no allocation.

mod bins;

pub use bins::auto_bin_count;
use bins::Hist;

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::detector::{
    check_contamination, check_fit_input, check_row, check_score_input, fit_state_accessors, score_rows_parallel,
    Detector, Explanation, FitState,
};
use super::reduce;
use crate::parallel::run_tasks;
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

/// How bin edges are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BinMode {
    /// Equal-width bins between the column's min and max (PyOD's HBOS).
    #[default]
    Static,
    /// Equal-frequency bins (quantile edges; duplicate edges merged).
    Dynamic,
    /// Equal-width bins, their number chosen per feature by the Birgé–Rozenholc criterion,
    /// as PyOD's `n_bins="auto"` (`n_bins` is then ignored); see [`auto_bin_count`].
    Auto,
}

/// Hyper-parameters of [`Hbos`] (names as PyOD's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HbosParams {
    /// Bins per feature (default 10; at most [`MAX_BINS`]).
    pub n_bins: usize,
    /// Regulariser added to densities before the log (default 0.1).
    pub alpha: f64,
    /// How far outside the training range (in bin widths) a value still takes the edge bin (default 0.5).
    pub tol: f64,
    /// Static (equal-width) or dynamic (equal-frequency) bins.
    pub bins: BinMode,
    /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
    pub contamination: f64,
    /// Threads for batch scoring (`None` = all cores).
    pub num_threads: Option<usize>,
}

impl Default for HbosParams {
    fn default() -> Self {
        HbosParams { n_bins: 10, alpha: 0.1, tol: 0.5, bins: BinMode::Static, contamination: 0.1, num_threads: None }
    }
}

impl HbosParams {
    crate::params::setters! {
        /// Sets the number of bins.
        n_bins: usize,
        /// Sets the density regulariser.
        alpha: f64,
        /// Sets the tolerance outside the training range (in bin widths).
        tol: f64,
        /// Sets the binning mode.
        bins: BinMode,
        /// Sets the contamination.
        contamination: f64,
        /// Sets the thread count.
        num_threads: Option<usize>,
    }

    /// Checks the parameters and fits [`Hbos`] on `x` (rows = transactions, columns =
    /// features; finite, non-empty).
    pub fn fit(&self, x: &ArrayView2<f64>) -> Result<Hbos> {
        let p = self;
        p.check()?;
        let (n, d) = check_fit_input(x, 1, "Hbos")?;
        crate::ensure!(n <= u32::MAX as usize, "Hbos: at most {} rows, got {n}", u32::MAX);
        let (hists, scores) = match (p.bins, column_slices(x)) {
            (BinMode::Static, Some(columns)) => fit_static_columns(&columns, p)?,
            (BinMode::Static, None) => fit_static(x, p)?,
            (BinMode::Dynamic | BinMode::Auto, _) => fit_by_column(x, p)?,
        };
        let state = FitState::new(d, scores, p.contamination)?;
        Ok(Hbos { params: self.clone(), hists, state })
    }
}

impl crate::params::Params for HbosParams {
    fn check(&self) -> Result<()> {
        crate::ensure!((1..=MAX_BINS).contains(&self.n_bins), param "n_bins", "must be between 1 and {MAX_BINS}, got {}", self.n_bins);
        crate::ensure!(self.alpha > 0.0 && self.alpha.is_finite(), param "alpha", "must be positive, got {}", self.alpha);
        crate::ensure!(self.tol >= 0.0 && self.tol.is_finite(), param "tol", "must be non-negative, got {}", self.tol);
        check_contamination(self.contamination)?;
        crate::params::check_threads(self.num_threads)
    }
}

/// A fitted histogram-based outlier score detector (see the [module docs](self)), made by
/// [`HbosParams::fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct Hbos {
    pub(crate) params: HbosParams,
    hists: Vec<Hist>,
    state: FitState,
}

impl Hbos {
    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> &HbosParams {
        &self.params
    }

    #[inline]
    fn row_score(hists: &[Hist], x: &[f64], tol: f64) -> f64 {
        hists.iter().zip(x).map(|(h, &v)| h.score(v, tol)).sum()
    }
}

/// Most bins per feature: fitting keeps each training value's bin code (twice its bin index,
/// plus one when it lies on an edge) as a `u16`.
pub const MAX_BINS: usize = (u16::MAX as usize - 3) / 2;

/// Rows per block of the row-major passes of [`fit_static`] (blocks are the unit of
/// parallel work; their boundaries do not depend on the thread count).
const BLOCK_ROWS: usize = 2048;

/// Cells above which fitting runs on the thread pool (binning costs a few nanoseconds a
/// cell: below, waking a second thread costs more than it saves).
const PARALLEL_CELLS: usize = 1 << 16;

/// Runs `f(first row, rows, out)` on each block of `BLOCK_ROWS` rows (row-major `data`, `d`
/// columns) with the matching block of `out` (`per_row` values per row), on `parallel` when
/// given; results in block order.
fn for_blocks<T: Send, O: Send>(
    data: &[f64],
    d: usize,
    out: &mut [O],
    per_row: usize,
    parallel: Option<&rayon::ThreadPool>,
    f: impl Fn(usize, &[f64], &mut [O]) -> T + Sync,
) -> Vec<T> {
    let (a, b) = (BLOCK_ROWS * d, BLOCK_ROWS * per_row);
    let f = |(i, (x, o)): (usize, (&[f64], &mut [O]))| f(i * BLOCK_ROWS, x, o);
    let blocks = data.chunks(a).zip(out.chunks_mut(b)).enumerate();
    match parallel {
        Some(pool) => {
            let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(data.len().div_ceil(a)).collect();
            run_tasks(pool, blocks.zip(results.iter_mut()).collect(), |(block, r)| *r = Some(f(block)));
            results.into_iter().flatten().collect()
        }
        None => blocks.map(f).collect(),
    }
}

/// Static bins from row-major passes over `x` (range, binning and counting, scores), so a
/// C-ordered matrix is read in memory order: reading it column by column would pull every
/// cache line once per feature.
fn fit_static(x: &ArrayView2<f64>, p: &HbosParams) -> Result<(Vec<Hist>, Vec<f64>)> {
    let (n, d) = x.dim();
    let data = super::detector::row_major(x);
    let pool = if n * d >= PARALLEL_CELLS && n > BLOCK_ROWS && p.num_threads != Some(1) {
        Some(super::detector::pool(p.num_threads)?)
    } else {
        None
    };
    let pool = pool.as_deref();
    // 1. Column ranges (min/max are exact in any order).
    // No output per row: a slice of `()` (zero-sized, no allocation) keeps the blocks aligned.
    let ranges = for_blocks(&data, d, &mut vec![(); n], 1, pool, |_, rows, _| {
        let mut lo = vec![f64::INFINITY; d];
        let mut hi = vec![f64::NEG_INFINITY; d];
        for row in rows.chunks_exact(d) {
            for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                *l = l.min(v);
                *h = h.max(v);
            }
        }
        (lo, hi)
    });
    let mut hists: Vec<Hist> = (0..d)
        .map(|j| {
            let lo = ranges.iter().map(|r| r.0[j]).fold(f64::INFINITY, f64::min);
            let hi = ranges.iter().map(|r| r.1[j]).fold(f64::NEG_INFINITY, f64::max);
            Hist::with_edges(Hist::static_edges(lo, hi, p.n_bins), p)
        })
        .collect();
    // 2. Bin every value and count (integer sums: exact in any order). Each block's columns
    // are gathered into a small buffer and binned as in the column-major path; the block's
    // codes are stored column by column: column j of the block starting at row r, of `len`
    // rows, is codes[r * d + j * len..][..len].
    let nb = p.n_bins;
    let mut codes = vec![0u16; n * d];
    let counts = for_blocks(&data, d, &mut codes, d, pool, |_, rows, out| {
        let len = rows.len() / d;
        let mut column = vec![0.0; len];
        let mut counts = vec![0u32; d * nb];
        for (j, (h, out)) in hists.iter().zip(out.chunks_exact_mut(len)).enumerate() {
            for (c, row) in column.iter_mut().zip(rows.chunks_exact(d)) {
                *c = row[j];
            }
            for (total, c) in counts[j * nb..(j + 1) * nb].iter_mut().zip(h.bin_training_column(&column, out)) {
                *total += c;
            }
        }
        counts
    });
    for (j, h) in hists.iter_mut().enumerate() {
        let total: Vec<u32> = (0..nb).map(|b| counts.iter().map(|c| c[j * nb + b]).sum()).collect();
        h.set_counts(&total, n, p.alpha);
    }
    // 3. Scores, summed per row in feature order (as `row_score`).
    let width = 2 * (nb + 1);
    let table: Vec<f64> = hists.iter().flat_map(Hist::training_score_table).collect();
    let mut scores = vec![0.0; n];
    let (codes, table) = (&codes, &table);
    for_blocks(&data, d, &mut scores, 1, pool, |first_row, rows, out| {
        let len = rows.len() / d;
        let block = &codes[first_row * d..first_row * d + len * d];
        for (t, column) in table.chunks_exact(width).zip(block.chunks_exact(len)) {
            for (s, &code) in out.iter_mut().zip(column) {
                *s += t[usize::from(code)];
            }
        }
    });
    Ok((hists, scores))
}

/// Static bins straight from column-major input (what pandas' `to_numpy` gives), so the matrix
/// is never copied or transposed: each column (in parallel above [`PARALLEL_CELLS`])
/// gets its range, edges, bin indices (kept as `u16`) and counts; then each row's score is
/// summed over its features in feature order (in parallel by blocks of rows). Histograms and
/// scores equal [`fit_static`]'s for any thread count.
fn fit_static_columns(columns: &[&[f64]], p: &HbosParams) -> Result<(Vec<Hist>, Vec<f64>)> {
    let (n, d, nb) = (columns.first().map_or(0, |c| c.len()), columns.len(), p.n_bins);
    let pool = if n * d >= PARALLEL_CELLS && p.num_threads != Some(1) {
        Some(super::detector::pool(p.num_threads)?)
    } else {
        None
    };
    // Column j's bin codes are bins[j * n..(j + 1) * n].
    let mut bins = vec![0u16; n * d];
    let fit_column = |(col, bins): (&&[f64], &mut [u16])| {
        let (lo, hi) = reduce::min_max(col);
        let mut h = Hist::with_edges(Hist::static_edges(lo, hi, nb), p);
        let counts = h.bin_training_column(col, bins);
        h.set_counts(&counts, n, p.alpha);
        let table = h.training_score_table();
        (h, table)
    };
    let mut fitted: Vec<Option<(Hist, Vec<f64>)>> = vec![None; d];
    let jobs = columns.iter().zip(bins.chunks_mut(n.max(1))).zip(fitted.iter_mut());
    match &pool {
        Some(pool) => run_tasks(pool, jobs.collect(), |(job, out)| *out = Some(fit_column(job))),
        None => jobs.for_each(|(job, out)| *out = Some(fit_column(job))),
    }
    let fitted: Vec<(Hist, Vec<f64>)> = fitted.into_iter().flatten().collect();
    let mut scores = vec![0.0; n];
    let sum_block = |(b, out): (usize, &mut [f64])| {
        let first = b * BLOCK_ROWS;
        for (j, (_, table)) in fitted.iter().enumerate() {
            for (s, &k) in out.iter_mut().zip(&bins[j * n + first..]) {
                *s += table[usize::from(k)];
            }
        }
    };
    match &pool {
        Some(pool) => run_tasks(pool, scores.chunks_mut(BLOCK_ROWS).enumerate().collect(), sum_block),
        None => scores.chunks_mut(BLOCK_ROWS).enumerate().for_each(sum_block),
    }
    let hists = fitted.into_iter().map(|(h, _)| h).collect();
    Ok((hists, scores))
}

/// The columns of a column-major (Fortran-order) matrix as slices; `None` for any other
/// layout (row-major included).
fn column_slices<'a>(x: &'a ArrayView2<'_, f64>) -> Option<Vec<&'a [f64]>> {
    if x.is_standard_layout() {
        return None;
    }
    x.columns().into_iter().map(|c| c.to_slice()).collect()
}

/// Fits column by column (dynamic bins need each column sorted, automatic bin counts differ
/// by column).
fn fit_by_column(x: &ArrayView2<f64>, p: &HbosParams) -> Result<(Vec<Hist>, Vec<f64>)> {
    let d = x.ncols();
    let tol = p.tol;
    let fit_column = |j: usize| {
        let col = x.column(j).to_vec();
        let (h, digitized) = Hist::fit(&col, p);
        let contrib: Vec<f64> =
            col.iter().zip(&digitized).map(|(&v, &k)| h.score_digitized(k as usize, v, tol)).collect();
        (h, contrib)
    };
    let columns: Vec<(Hist, Vec<f64>)> = if x.nrows() * d >= PARALLEL_CELLS && d > 1 && p.num_threads != Some(1) {
        use rayon::prelude::*;
        super::detector::pool(p.num_threads)?.install(|| (0..d).into_par_iter().map(fit_column).collect())
    } else {
        (0..d).map(fit_column).collect()
    };
    // Feature-major accumulation in feature order: the same sum as `row_score`.
    let mut scores = vec![0.0; x.nrows()];
    let mut hists = Vec::with_capacity(d);
    for (h, contrib) in columns {
        for (s, c) in scores.iter_mut().zip(&contrib) {
            *s += c;
        }
        hists.push(h);
    }
    Ok((hists, scores))
}

impl Detector for Hbos {
    fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
        let h = &self.hists;
        check_score_input(x, self.state.n_features)?;
        let tol = self.params.tol;
        score_rows_parallel(x, self.params.num_threads, |row| Self::row_score(h, row, tol))
    }

    fn score_one(&self, x: &[f64]) -> Result<f64> {
        let h = &self.hists;
        check_row(x, self.state.n_features)?;
        Ok(Self::row_score(h, x, self.params.tol))
    }

    fit_state_accessors!();
    /// Each feature's `-log2(density + alpha)` as a share of the score (the terms sum to the
    /// score, so the shares sum to 1): rare bins contribute most.
    fn explain(&self, x: &[f64]) -> Result<Explanation> {
        let h = &self.hists;
        check_row(x, self.state.n_features)?;
        let tol = self.params.tol;
        let values = h.iter().zip(x).map(|(h, &v)| h.score(v, tol));
        Ok(Explanation::from_values(Self::row_score(h, x, tol), values))
    }

    fn name(&self) -> &'static str {
        "hbos"
    }
}

impl Persist for Hbos {
    const KIND: &'static str = "fraud.hbos";

    fn write(&self) -> Result<ModelWriter> {
        ModelWriter::new(Self::KIND, &(self.params.clone(), self.state.clone(), self.hists.clone()))
    }

    fn read(r: &ModelReader) -> Result<Self> {
        let (params, state, mut hists): (HbosParams, FitState, Vec<Hist>) = r.meta()?;
        let valid = |h: &Hist| {
            h.edges.len() >= 2
                && h.edges.len() == h.log_density.len() + 1
                && h.edges.windows(2).all(|w| w[0] < w[1])
                && h.log_density.iter().all(|v| v.is_finite())
                && h.outside.is_finite()
        };
        if hists.len() != state.n_features || !hists.iter().all(valid) {
            return Err(Error::format("fraud.hbos: histograms do not match the features or are malformed"));
        }
        if params.bins != BinMode::Dynamic {
            hists.iter_mut().for_each(Hist::set_uniform);
        }
        Ok(Hbos { params, hists, state })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matches_numpy_histogram_semantics() {
        // Column 0..9 plus an outlier at 100: np.histogram(bins=10) puts 10 values in bin 0.
        let col: Vec<f64> = (0..10).map(f64::from).chain([100.0]).collect();
        let x = ndarray::Array2::from_shape_vec((11, 1), col).unwrap();
        let h = HbosParams::default().fit(&x.view()).unwrap();
        let s = h.decision_scores().unwrap();
        // Bin width 10; bin 0 density 10/(11*10); rows 1..=9 are in (0, 10] -> bin 0.
        let dense = -(10.0 / 110.0 + 0.1f64).log2();
        assert!((s[5] - dense).abs() < 1e-12);
        // Row 0 equals the first edge: digitize gives 0, distance 0 <= tol -> bin 0 too.
        assert!((s[0] - dense).abs() < 1e-12);
        // The outlier sits in the last bin (1 value).
        assert!((s[10] - -(1.0 / 110.0 + 0.1f64).log2()).abs() < 1e-12);
        // Far outside the range: an empty bin's score, -log2(alpha).
        assert!((h.score_one(&[-1000.0]).unwrap() - -(0.1f64).log2()).abs() < 1e-12);
    }

    #[test]
    fn arithmetic_binning_equals_binary_search() {
        let col: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1013) as f64 * 0.37 - 50.0).collect();
        let (h, digitized) = Hist::fit(&col, &HbosParams { n_bins: 7, ..HbosParams::default() });
        for (v, k) in col.iter().zip(&digitized) {
            assert_eq!(*k as usize, h.edges.partition_point(|&e| e < *v));
        }
        assert!(h.uniform.is_some());
        let next = |e: f64, up: bool| if up { e.next_up() } else { e.next_down() };
        let near_edges = h.edges.iter().flat_map(|&e| [next(e, true), next(e, false)]);
        let probes =
            col.iter().copied().chain(h.edges.iter().copied()).chain(near_edges).chain([-1e9, 1e9, -50.0, 1e-300]);
        for v in probes {
            assert_eq!(h.digitize(v), h.edges.partition_point(|&e| e < v), "{v}");
        }
        // The column binning (arithmetic for equal widths) against searches, on values at,
        // just beside and between the edges, for several scales and bin counts.
        for (offset, scale, n_bins) in
            [(0.0, 1.0, 10), (-50.0, 0.37, 7), (1e9, 1e-3, 13), (0.0, 1e300, 10), (3.0, 0.0, 10)]
        {
            let base: Vec<f64> = (0..=1000).map(|i| offset + scale * f64::from(i)).collect();
            let (h, _) = Hist::fit(&base, &HbosParams { n_bins, ..HbosParams::default() });
            let (lo, hi) = (h.edges[0].max(base[0]), h.edges[n_bins].min(base[1000]));
            let near = h.edges.iter().flat_map(|&e| [e, e.next_up(), e.next_down()]);
            let col: Vec<f64> = base.iter().copied().chain(near).filter(|v| (lo..=hi).contains(v)).collect();
            let mut codes = vec![0u16; col.len()];
            let counts = h.bin_training_column(&col, &mut codes);
            assert!(h.equal_width().is_some(), "the arithmetic path is taken for {:?}", h.edges);
            for (&v, &code) in col.iter().zip(&codes) {
                let k = h.edges.partition_point(|&e| e < v);
                let on_edge = k <= n_bins && h.edges[k] == v;
                assert_eq!(code, (2 * k + usize::from(on_edge)) as u16, "{v} in {:?}", h.edges);
            }
            let mut want = vec![0u32; n_bins];
            col.iter().for_each(|&v| want[h.count_bin(h.digitize(v), v)] += 1);
            assert_eq!(counts, want);
        }
    }

    #[test]
    fn auto_bin_counts_are_pyods() {
        // pyod.utils.utility.get_optimal_n_bins (PyOD 3.6.7) on the same columns.
        let lin: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1013) as f64 * 0.37 - 50.0).collect();
        let squares: Vec<f64> = (0..500).map(|i| ((i % 11) * (i % 11)) as f64 * 1.5).chain([300.0, 310.0]).collect();
        let exp: Vec<f64> = (0..2000).map(|i| (((i * 31) % 97) as f64 / 20.0).exp()).collect();
        assert_eq!(auto_bin_count(&lin), 1);
        assert_eq!(auto_bin_count(&squares), 4);
        assert_eq!(auto_bin_count(&exp), 9);
        assert_eq!(auto_bin_count(&[3.0; 50]), 3);
        assert_eq!(auto_bin_count(&[1.0]), 1);
        // Each feature gets its own count; scoring uses that feature's histogram.
        let x = ndarray::Array2::from_shape_fn((2000, 2), |(i, j)| if j == 0 { exp[i] } else { lin[i % 1000] });
        let h = HbosParams::default().bins(BinMode::Auto).fit(&x.view()).unwrap();
        let bins: Vec<usize> = h.hists.iter().map(|h| h.log_density.len()).collect();
        assert_eq!(bins, [9, 1]);
        let direct = h.score(&x.view()).unwrap();
        let train = h.decision_scores().unwrap();
        assert!(direct.iter().zip(train).all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn row_major_static_pass_equals_per_column_fit() {
        // Integer-valued columns (many values on edges), a constant column and a wide one.
        // 20003 x 4 cells: the parallel column path too, with a ragged last block of rows.
        let x = ndarray::Array2::from_shape_fn((20_003, 4), |(i, j)| match j {
            0 => (i % 11) as f64,
            1 => 3.0,
            2 => ((i * 7919) % 1013) as f64 * 1e6,
            _ => -(((i * 31) % 97) as f64) / 3.0,
        });
        let p = HbosParams::default();
        let (row_major, row_major_scores) = fit_static(&x.view(), &p).unwrap();
        let (by_column, column_scores) = fit_by_column(&x.view(), &p).unwrap();
        assert_eq!(row_major, by_column);
        assert_eq!(row_major_scores, column_scores);
        let f_order = x.t().as_standard_layout().into_owned().reversed_axes();
        let f_view = f_order.view();
        let columns = column_slices(&f_view).unwrap();
        assert!(column_slices(&x.view()).is_none());
        for threads in [1, 2] {
            let p = HbosParams { num_threads: Some(threads), ..p.clone() };
            let (from_columns, from_columns_scores) = fit_static_columns(&columns, &p).unwrap();
            assert_eq!(from_columns, row_major);
            assert_eq!(from_columns_scores, row_major_scores);
        }
    }

    #[test]
    fn row_major_fit_is_thread_independent_and_matches_scoring() {
        // 30000 x 9 cells: the parallel, blocked path (with a ragged last block).
        let x = ndarray::Array2::from_shape_fn((30_001, 9), |(i, j)| ((i * 7919 + j * 104_729) % 997) as f64 / 7.0);
        let one = HbosParams::default().num_threads(Some(1)).fit(&x.view()).unwrap();
        let two = HbosParams::default().num_threads(Some(2)).fit(&x.view()).unwrap();
        assert_eq!(one.decision_scores().unwrap(), two.decision_scores().unwrap());
        assert_eq!(one.hists, two.hists);
        assert_eq!(one.score(&x.view()).unwrap().to_vec(), one.decision_scores().unwrap());
    }

    #[test]
    fn dynamic_bins_constant_columns_and_errors() {
        let x = array![[1.0, 3.0], [2.0, 3.0], [3.0, 3.0], [4.0, 3.0], [50.0, 3.0]];
        for mode in [BinMode::Static, BinMode::Dynamic, BinMode::Auto] {
            let h = HbosParams::default().n_bins(2).bins(mode).fit(&x.view()).unwrap();
            assert!(h.decision_scores().unwrap().iter().all(|v| v.is_finite()), "{mode:?}");
            // The fit's lookup-table scores are exactly what scoring the training rows gives.
            assert_eq!(h.score(&x.view()).unwrap().to_vec(), h.decision_scores().unwrap(), "{mode:?}");
            let e = h.explain(&[2.0, 40.0]).unwrap();
            assert_eq!(e.contributions[0].0, 1, "{mode:?}: unseen value of the constant column");
            let back = Hbos::from_bytes(h.to_bytes().unwrap()).unwrap();
            assert_eq!(back, h);
        }
        assert!(HbosParams::default().n_bins(0).fit(&x.view()).is_err());
        assert!(HbosParams::default().n_bins(MAX_BINS + 1).fit(&x.view()).unwrap_err().to_string().contains("n_bins"));
        assert!(HbosParams::default().n_bins(MAX_BINS).fit(&x.view()).is_ok());
        let h = HbosParams::default().fit(&x.view()).unwrap();
        assert!(h.score_one(&[1.0]).is_err());
        assert!(h.score(&array![[1.0, f64::NAN]].view()).is_err());
    }
}
