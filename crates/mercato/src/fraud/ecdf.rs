//! Empirical-CDF detectors: ECOD (Li et al., TKDE 2022) and COPOD (Li et al., ICDM 2020),
//! both parameter free, with PyOD's exact definitions.
//!
//! For feature `j` of a row, with `F_j` the empirical CDF of the training column,
//! `U_l = -ln F_j(x_j)` (left tail), `U_r = -ln(1 - F_j(x_j^-))` (right tail, the fraction of
//! training values `>= x_j`), and `U_skew = U_l` when the column's skewness is negative,
//! `U_r` when positive (`U_l + U_r` when zero, as PyOD's sign arithmetic gives). Then
//!
//! * ECOD: `O_j = max(U_l, U_r, U_skew)`;
//! * COPOD: `O_j = max(U_skew, (U_l + U_r) / 2)`;
//!
//! and the score is `Σ_j O_j`. The per-feature `O_j` are the explanation.
//!
//! Training scores (`decision_scores`) use counts over the `n` training rows exactly as PyOD
//! (ties share the largest rank). A row scored later is treated as if appended to the training
//! data, as PyOD does in `decision_function`: `F = (count + 1) / (n + 1)`, so an unseen extreme
//! value gets a large but finite score. Scoring one row costs `O(d log n)` (binary searches in
//! the stored sorted columns), no allocation; fit costs `O(d n log n)`; memory `n d` floats.

use ndarray::{Array1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::detector::{
    check_contamination, check_fit_input, check_row, check_score_input, fit_state_accessors, pool, score_rows_parallel,
    Detector, Explanation, FitState,
};
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

/// Hyper-parameters of [`Ecod`] and [`Copod`] (there are none besides the decision layer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EcdfParams {
    /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
    pub contamination: f64,
    /// Threads for fit and batch scoring (`None` = all cores).
    pub num_threads: Option<usize>,
}

impl Default for EcdfParams {
    fn default() -> Self {
        EcdfParams { contamination: 0.1, num_threads: None }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    Ecod,
    Copod,
}

/// The fitted part shared by ECOD and COPOD.
#[derive(Clone, Debug)]
struct Ecdf {
    n: usize,
    /// Column-major: column j is `sorted[j*n..(j+1)*n]`, ascending.
    sorted: Vec<f64>,
    /// Sign of each column's skewness: -1, 0 or 1.
    skew: Vec<i8>,
    /// `ln(i)` for `i` in `0..=n + 1` (`ln 0` is never read): scoring reads tail
    /// probabilities as differences of two table entries instead of calling `ln` twice per
    /// feature. Derived from `n`, so not stored in model files.
    ln: Vec<f64>,
}

impl PartialEq for Ecdf {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.sorted == other.sorted && self.skew == other.skew
    }
}

/// `ln(i)` for `i` in `0..=m`.
fn ln_table(m: usize) -> Vec<f64> {
    (0..=m).map(|i| (i as f64).ln()).collect()
}

/// Maps an `f64` to a `u64` whose unsigned order is `f64::total_cmp`'s order.
#[inline]
fn order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Low 32 bits of a packed sort entry: the row.
const ROW_MASK: u64 = 0xffff_ffff;

/// Scratch for sorting one column (reused across the columns a thread handles).
struct SortBuffers {
    /// The column's values.
    values: Vec<f64>,
    /// After [`SortBuffers::sort`]: `(high half of the order key << 32) | row`, in ascending
    /// order of the values.
    order: Vec<u64>,
    tmp: Vec<u64>,
}

impl SortBuffers {
    fn with_capacity(n: usize) -> Self {
        SortBuffers { values: Vec::with_capacity(n), order: Vec::with_capacity(n), tmp: Vec::with_capacity(n) }
    }

    /// Sorts the row ids of `values` by value (`f64::total_cmp` order).
    ///
    /// Each entry packs the high 32 bits of the value's order key (sign, exponent and 20
    /// mantissa bits) with its row into one `u64`; an LSD radix sort on those 32 bits (8-bit
    /// digits, digits shared by every key skipped) orders them in `O(n)` moving 8-byte words,
    /// and the rare runs that agree on the high bits but hold different values (relative
    /// differences below about 1e-6) are then sorted on the full key. Distinct real-valued
    /// columns sort 2-3x faster than with a comparison sort of (key, row) pairs; columns with
    /// few distinct values are about as fast.
    fn sort(&mut self) {
        let n = self.values.len();
        debug_assert!(n <= ROW_MASK as usize);
        self.order.clear();
        self.order.extend(self.values.iter().enumerate().map(|(i, &v)| (order_key(v) & !ROW_MASK) | i as u64));
        let mut hist = [[0u32; 256]; 4];
        for &k in &self.order {
            for (b, h) in hist.iter_mut().enumerate() {
                h[((k >> (32 + 8 * b)) & 0xff) as usize] += 1;
            }
        }
        // Columns of few distinct values (counts, codes, rounded amounts) leave the low digit
        // of the high half nearly constant. LSD radix passes are slow on them (every entry
        // bumps the same few counters, a serial dependency), while a comparison sort on the
        // high half alone sees long runs of equal keys and partitions them away in linear time.
        if n >= 1024 && hist[0].iter().filter(|&&c| c > 0).count() < 64 {
            self.order.sort_unstable_by_key(|&p| p >> 32);
        } else {
            self.radix_high_half(&hist);
        }
        self.fix_up_runs();
    }

    /// LSD radix sort of `order` on bits 32..64, given the four 8-bit digit histograms.
    fn radix_high_half(&mut self, hist: &[[u32; 256]; 4]) {
        let n = self.order.len();
        self.tmp.clear();
        self.tmp.resize(n, 0);
        for (b, h) in hist.iter().enumerate() {
            if h.iter().any(|&c| c as usize == n) {
                continue; // every key has the same digit here
            }
            let mut offset = [0u32; 256];
            let mut sum = 0;
            for (o, &c) in offset.iter_mut().zip(h) {
                *o = sum;
                sum += c;
            }
            for &k in &self.order {
                let digit = ((k >> (32 + 8 * b)) & 0xff) as usize;
                self.tmp[offset[digit] as usize] = k;
                offset[digit] += 1;
            }
            std::mem::swap(&mut self.order, &mut self.tmp);
        }
    }

    /// Sorts the runs of `order` that are equal on the high half by the full key.
    fn fix_up_runs(&mut self) {
        let n = self.order.len();
        // Runs equal on the high half: usually repeated values (nothing to do), else sort them
        // on the full key.
        let values = &self.values;
        let full = |p: u64| order_key(values[(p & ROW_MASK) as usize]);
        let mut a = 0;
        while a < n {
            let high = self.order[a] >> 32;
            let mut b = a + 1;
            while b < n && self.order[b] >> 32 == high {
                b += 1;
            }
            if b - a > 1 {
                let run = &mut self.order[a..b];
                let first = full(run[0]);
                if run[1..].iter().any(|&p| full(p) != first) {
                    run.sort_unstable_by_key(|&p| full(p));
                }
            }
            a = b;
        }
    }
}

impl Ecdf {
    fn new(n: usize, sorted: Vec<f64>, skew: Vec<i8>) -> Ecdf {
        Ecdf { n, sorted, skew, ln: ln_table(n + 1) }
    }

    /// Fits the sorted columns and returns the exact training scores, computed from the
    /// ranks found while sorting (one pass per column after the sort, no binary searches).
    ///
    /// Per column: one gather of the values, a radix sort of the row ids by value (see
    /// [`SortBuffers::sort`]), one pass over the runs of equal values reading the tail
    /// probabilities from a table of logarithms. Columns run in parallel above
    /// [`PARALLEL_CELLS`]; each column is computed the same way on any thread, and the
    /// per-row sums are taken in feature order afterwards, so the result does not depend on
    /// the thread count.
    fn fit(x: &ArrayView2<f64>, rule: Rule, num_threads: Option<usize>) -> Result<(Ecdf, Vec<f64>)> {
        let (n, d) = x.dim();
        crate::ensure!(n <= ROW_MASK as usize, "ECOD/COPOD: at most {ROW_MASK} rows, got {n}");
        let mut sorted = vec![0.0; n * d];
        let mut skew = vec![0i8; d];
        let ln = ln_table(n + 1);
        let ln_n = ln[n];
        let fit_column = |buf: &mut SortBuffers, j: usize, col: &mut [f64], sk: &mut i8, out: &mut [f64]| {
            buf.values.clear();
            buf.values.extend(x.column(j).iter().copied());
            *sk = skew_sign(buf.values.iter().copied());
            buf.sort();
            let (values, order) = (&buf.values, &buf.order);
            let mut a = 0;
            while a < n {
                let v = values[(order[a] & ROW_MASK) as usize];
                let mut b = a + 1;
                // f64 equality, as PyOD's ties (-0.0 == 0.0, which total order puts side by side).
                while b < n && values[(order[b] & ROW_MASK) as usize] == v {
                    b += 1;
                }
                // Ties share the largest rank (PyOD's ecdf_terminate_equals_inplace):
                // F(x) = b / n, and n - a training values are >= x.
                let o = combine(rule, *sk, ln_n - ln[b], ln_n - ln[n - a]);
                for (&p, c) in order[a..b].iter().zip(&mut col[a..b]) {
                    let row = (p & ROW_MASK) as usize;
                    out[row] = o;
                    *c = values[row];
                }
                a = b;
            }
        };
        // Row scores are summed in feature order in both branches: the same floating-point
        // result for any thread count.
        let mut scores = vec![0.0; n];
        if n * d >= PARALLEL_CELLS && d > 1 && num_threads != Some(1) {
            // Per-feature O_j of every training row, column-major.
            let mut per_feature = vec![0.0; n * d];
            let columns: Vec<_> =
                sorted.chunks_mut(n).zip(skew.iter_mut()).zip(per_feature.chunks_mut(n)).enumerate().collect();
            pool(num_threads)?.install(|| {
                columns.into_par_iter().for_each_init(
                    || SortBuffers::with_capacity(n),
                    |buf, (j, ((col, sk), out))| fit_column(buf, j, col, sk, out),
                )
            });
            for col in per_feature.chunks_exact(n) {
                for (s, o) in scores.iter_mut().zip(col) {
                    *s += o;
                }
            }
        } else {
            let mut buf = SortBuffers::with_capacity(n);
            let mut out = vec![0.0; n];
            for (j, (col, sk)) in sorted.chunks_mut(n).zip(skew.iter_mut()).enumerate() {
                fit_column(&mut buf, j, col, sk, &mut out);
                for (s, o) in scores.iter_mut().zip(&out) {
                    *s += o;
                }
            }
        }
        Ok((Ecdf { n, sorted, skew, ln }, scores))
    }

    /// Per-feature outlying score `O_j` of value `v` in column `j`, with `extra` added to the
    /// counts and the total (0 for training rows, 1 for new rows).
    #[inline]
    fn feature_score(&self, rule: Rule, j: usize, v: f64, extra: usize) -> f64 {
        let col = &self.sorted[j * self.n..(j + 1) * self.n];
        let le = col.partition_point(|&c| c <= v) + extra;
        let ge = self.n - col.partition_point(|&c| c < v) + extra;
        // le, ge >= 1 for training rows (the row itself) and new rows (extra = 1), and
        // at most n + 1: both index the table.
        let ln_total = self.ln[self.n + extra];
        combine(rule, self.skew[j], ln_total - self.ln[le], ln_total - self.ln[ge])
    }

    #[inline]
    fn row_score(&self, rule: Rule, x: &[f64], extra: usize) -> f64 {
        x.iter().enumerate().map(|(j, &v)| self.feature_score(rule, j, v, extra)).sum()
    }
}

/// Cells above which fit and scoring run on the thread pool. The pool is cached (see
/// [`pool`]), so handing columns over costs tens of microseconds (waking a sleeping worker on
/// a virtual machine): from about 32k cells (a third of a millisecond of work) two threads
/// win; below, one thread is as fast and its timing steadier.
const PARALLEL_CELLS: usize = 1 << 15;

/// `O_j` from the two tail scores and the column's skewness sign.
#[inline]
fn combine(rule: Rule, skew: i8, u_l: f64, u_r: f64) -> f64 {
    let u_skew = match skew {
        s if s < 0 => u_l,
        0 => u_l + u_r,
        _ => u_r,
    };
    match rule {
        Rule::Ecod => u_l.max(u_r).max(u_skew),
        Rule::Copod => u_skew.max((u_l + u_r) / 2.0),
    }
}

/// Sign of the (biased, as scipy.stats.skew) sample skewness; 0 for a constant column.
fn skew_sign(col: impl Iterator<Item = f64> + Clone) -> i8 {
    let (count, sum) = col.clone().fold((0usize, 0.0), |(c, s), v| (c + 1, s + v));
    let mean = sum / count.max(1) as f64;
    let (mut m2, mut m3) = (0.0, 0.0);
    for v in col {
        let dv = v - mean;
        m2 += dv * dv;
        m3 += dv * dv * dv;
    }
    if m2 <= 0.0 || m3 == 0.0 {
        0
    } else if m3 > 0.0 {
        1
    } else {
        -1
    }
}

macro_rules! ecdf_detector {
    ($ty:ident, $rule:expr, $name:literal, $kind:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Default)]
        pub struct $ty {
            /// Hyper-parameters (validated in `fit`).
            pub params: EcdfParams,
            model: Option<Ecdf>,
            state: Option<FitState>,
        }

        impl $ty {
            /// A detector with default parameters.
            pub fn new() -> Self {
                Self::default()
            }

            /// From explicit parameters.
            pub fn with_params(params: EcdfParams) -> Self {
                $ty { params, model: None, state: None }
            }

            /// Sets the contamination.
            pub fn contamination(mut self, c: f64) -> Self {
                self.params.contamination = c;
                self
            }

            /// Sets the thread count.
            pub fn num_threads(mut self, n: Option<usize>) -> Self {
                self.params.num_threads = n;
                self
            }

            fn model(&self) -> Result<&Ecdf> {
                self.model.as_ref().ok_or(Error::NotFitted(concat!("using ", stringify!($ty))))
            }
        }

        impl Detector for $ty {
            fn fit(&mut self, x: &ArrayView2<f64>) -> Result<()> {
                let (_, d) = check_fit_input(x, 1, stringify!($ty))?;
                check_contamination(self.params.contamination)?;
                let (model, scores) = Ecdf::fit(x, $rule, self.params.num_threads)?;
                self.state = Some(FitState::new(d, scores, self.params.contamination)?);
                self.model = Some(model);
                Ok(())
            }

            fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
                let m = self.model()?;
                check_score_input(x, self.n_features().unwrap_or(0))?;
                score_rows_parallel(x, self.params.num_threads, |row| m.row_score($rule, row, 1))
            }

            fn score_one(&self, x: &[f64]) -> Result<f64> {
                let m = self.model()?;
                check_row(x, self.n_features().unwrap_or(0))?;
                Ok(m.row_score($rule, x, 1))
            }

            fit_state_accessors!(concat!("using ", stringify!($ty)));

            /// The per-feature outlying scores `O_j` (tail probabilities as `-ln p`); they sum
            /// to the row's score, so each is that feature's exact share.
            fn explain(&self, x: &[f64]) -> Result<Explanation> {
                let m = self.model()?;
                check_row(x, self.n_features().unwrap_or(0))?;
                let values = x.iter().enumerate().map(|(j, &v)| m.feature_score($rule, j, v, 1));
                Ok(Explanation::from_values(m.row_score($rule, x, 1), values))
            }

            fn name(&self) -> &'static str {
                $name
            }
        }

        impl Persist for $ty {
            const KIND: &'static str = $kind;

            fn write(&self) -> Result<ModelWriter> {
                let (Some(m), Some(state)) = (&self.model, &self.state) else {
                    return Err(Error::NotFitted(concat!("saving ", stringify!($ty))));
                };
                let skew: Vec<i64> = m.skew.iter().map(|&s| i64::from(s)).collect();
                Ok(ModelWriter::new(Self::KIND, &(self.params.clone(), state.clone()))?
                    .f64("sorted", &[state.n_features, m.n], &m.sorted)
                    .i64("skew", &[state.n_features], &skew))
            }

            fn read(r: &ModelReader) -> Result<Self> {
                let (params, state): (EcdfParams, FitState) = r.meta()?;
                let (shape, sorted) = r.f64("sorted")?;
                let (_, skew) = r.i64("skew")?;
                let d = state.n_features;
                if shape.len() != 2 || shape[0] != d || shape[1] == 0 || skew.len() != d {
                    return Err(Error::format(format!("{}: arrays do not match {d} features", $kind)));
                }
                let n = shape[1];
                let ok_col = |c: &[f64]| c.iter().all(|v| !v.is_nan()) && c.windows(2).all(|w| w[0] <= w[1]);
                if !sorted.chunks_exact(n).all(ok_col) || skew.iter().any(|s| !(-1..=1).contains(s)) {
                    return Err(Error::format(format!("{}: columns are not sorted or skew signs invalid", $kind)));
                }
                let skew = skew.into_iter().map(|s| s as i8).collect();
                Ok($ty { params, model: Some(Ecdf::new(n, sorted, skew)), state: Some(state) })
            }
        }
    };
}

ecdf_detector!(
    Ecod,
    Rule::Ecod,
    "ecod",
    "fraud.ecod",
    "ECOD: empirical-cumulative-distribution outlier detection (see the [module docs](self))."
);
ecdf_detector!(
    Copod,
    Rule::Copod,
    "copod",
    "fraud.copod",
    "COPOD: copula-based outlier detection (see the [module docs](self)).\n\n```\nuse mercato::fraud::{Copod, Detector};\nlet x = ndarray::array![[1.0, 2.0], [1.1, 2.1], [0.9, 1.9], [1.0, 2.0], [9.0, 2.0]];\nlet mut det = Copod::new();\ndet.fit(&x.view())?;\nlet e = det.explain(&[9.0, 2.0])?;\nassert_eq!(e.contributions[0].0, 0); // feature 0 makes the row unusual\n# Ok::<(), mercato::Error>(())\n```"
);

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matches_pyod_on_a_small_case() {
        // pyod 2.x ECOD().fit(X).decision_scores_ and COPOD for this X.
        let x = array![[1.0, 5.0], [2.0, 3.0], [2.0, 4.0], [3.0, 100.0], [10.0, 4.0]];
        let mut e = Ecod::new();
        e.fit(&x.view()).unwrap();
        let mut c = Copod::new();
        c.fit(&x.view()).unwrap();
        // Column 0: skew > 0 -> U_skew = U_r. Row 4 (x=10): F_l = 1, F_r = 1/5.
        // Column 1: skew > 0. Row 4 (4.0): le = 3 -> U_l = ln(5/3); ge = 4 -> U_r = ln(5/4).
        let u = |p: f64| -p.ln();
        let want_e4 = u(0.2).max(0.0) + u(0.6).max(u(0.8));
        assert!((e.decision_scores().unwrap()[4] - want_e4).abs() < 1e-12);
        let want_c4 = u(0.2).max(u(0.2) / 2.0) + u(0.8).max((u(0.6) + u(0.8)) / 2.0);
        assert!((c.decision_scores().unwrap()[4] - want_c4).abs() < 1e-12);
        // The rank pass in fit agrees with binary searches in the sorted columns.
        for (i, row) in x.rows().into_iter().enumerate() {
            let m = e.model.as_ref().unwrap();
            let direct = m.row_score(Rule::Ecod, row.as_slice().unwrap(), 0);
            assert!((direct - e.decision_scores().unwrap()[i]).abs() < 1e-12);
        }
        // New rows use (count + 1) / (n + 1): finite for unseen extremes.
        let far = e.score_one(&[-1e9, 1e9]).unwrap();
        assert!(far.is_finite() && far > e.decision_scores().unwrap().iter().cloned().fold(0.0, f64::max));
    }

    #[test]
    fn column_sort_orders_like_total_cmp() {
        let mut values = vec![3.5, -0.0, 0.0, -1e300, f64::MIN_POSITIVE, 2.0, -2.0, 3.5, 1e-300, -7.25, 0.0, 1e300];
        // Values equal on the high 32 bits of their key, in reverse order: the fix-up pass.
        values.extend((0..40).map(|i| 1.0 + (40 - i) as f64 * 1e-12));
        values.extend((0..300).map(|i| ((i * 7919) % 301) as f64 / 7.0 - 20.0));
        let mut buf = SortBuffers::with_capacity(values.len());
        buf.values.extend(&values);
        buf.sort();
        let got: Vec<f64> = buf.order.iter().map(|&p| values[(p & ROW_MASK) as usize]).collect();
        let mut want = values.clone();
        want.sort_by(f64::total_cmp);
        assert_eq!(
            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let mut rows: Vec<u64> = buf.order.iter().map(|&p| p & ROW_MASK).collect();
        rows.sort_unstable();
        assert_eq!(rows, (0..values.len() as u64).collect::<Vec<_>>(), "a permutation of the rows");
    }

    #[test]
    fn constant_columns_and_bad_input() {
        let x = array![[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [4.0, 7.0]];
        let mut e = Ecod::new();
        e.fit(&x.view()).unwrap();
        assert!(e.decision_scores().unwrap().iter().all(|s| s.is_finite()));
        let ex = e.explain(&[2.0, 7.0]).unwrap();
        assert!(ex.contributions.iter().any(|&(j, v)| j == 1 && v.abs() < 0.3), "{ex:?}");
        assert!(e.explain(&[2.0, 8.0]).unwrap().contributions[0].0 == 1, "unseen value in a constant column");
        assert!(matches!(e.score(&array![[1.0]].view()), Err(Error::ShapeMismatch { .. })));
        assert!(e.score_one(&[f64::NAN, 1.0]).is_err());
        assert!(Ecod::new().contamination(0.7).fit(&x.view()).is_err());
        assert!(Copod::new().score_one(&[1.0, 2.0]).is_err());
        assert!(Ecod::new().fit(&ndarray::Array2::<f64>::zeros((0, 2)).view()).is_err());
    }

    #[test]
    fn thread_count_does_not_matter_and_persists() {
        let x = ndarray::Array2::from_shape_fn((5000, 3), |(i, j)| ((i * 7919 + j * 104729) % 1000) as f64);
        let mut a = Copod::new().num_threads(Some(1));
        let mut b = Copod::new().num_threads(Some(2));
        a.fit(&x.view()).unwrap();
        b.fit(&x.view()).unwrap();
        assert_eq!(a.model, b.model);
        assert_eq!(a.decision_scores().unwrap(), b.decision_scores().unwrap());
        assert!(a.set_feature_names(Some(vec!["a".into(), "b".into()])).is_err(), "2 names for 3 features");
        a.set_feature_names(Some(vec!["amount".into(), "hour".into(), "country".into()])).unwrap();
        let back = Copod::from_bytes(a.to_bytes().unwrap()).unwrap();
        assert_eq!(back.score(&x.view()).unwrap(), a.score(&x.view()).unwrap());
        assert_eq!(back.feature_names().unwrap()[2], "country", "names survive save/load");
        assert_eq!(b.feature_names(), None);
        assert!(Ecod::from_bytes(a.to_bytes().unwrap()).is_err(), "kind is checked");
    }
}
