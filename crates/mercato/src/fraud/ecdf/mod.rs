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
//! the stored sorted columns), no allocation; fit costs `O(d n)` (each column ranked through a
//! hash table of its distinct values when it has few, else a radix sort); memory `n d` floats.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::detector::{
    check_contamination, check_fit_input, check_row, check_score_input, fit_state_accessors, pool, score_rows_parallel,
    Detector, Explanation, FitState,
};
use crate::parallel::run_tasks;
use crate::params::Params;
use crate::persist::{ModelReader, ModelWriter, Persist};
use crate::{Error, Result};

mod column;

use column::{skew_sign, Ranker, ROW_MASK};

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
    /// `ln(i)` for `i` in `0..=n + 1` at least (`ln 0` is never read): scoring reads tail
    /// probabilities as differences of two table entries instead of calling `ln` twice per
    /// feature. Shared (see [`ln_table`]), not stored in model files.
    ln: Arc<[f64]>,
}

impl PartialEq for Ecdf {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.sorted == other.sorted && self.skew == other.skew
    }
}

/// Largest table [`ln_table`] keeps for later fits (32 MiB, 4M rows).
const SHARED_LN_MAX: usize = 1 << 22;

/// `ln(i)` for `i` in `0..=m` at least. Tables up to [`SHARED_LN_MAX`] entries are kept and
/// shared by every model (computing `ln` of every row count is a tenth of a small fit).
fn ln_table(m: usize) -> Arc<[f64]> {
    static SHARED: Mutex<Option<Arc<[f64]>>> = Mutex::new(None);
    let compute = |len: usize| -> Arc<[f64]> { (0..=len).map(|i| (i as f64).ln()).collect() };
    if m > SHARED_LN_MAX {
        return compute(m);
    }
    let mut shared = SHARED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*shared {
        Some(table) if table.len() > m => table.clone(),
        old => {
            // Grow geometrically, so a run of slightly larger fits recomputes it rarely.
            let len = old.as_ref().map_or(m, |t| m.max(2 * t.len())).min(SHARED_LN_MAX);
            let table = compute(len);
            *shared = Some(table.clone());
            table
        }
    }
}

/// Scratch a thread keeps between fits, up to this size: repeated fits (a rolling window, a
/// service refitting every few minutes) reuse warm memory instead of faulting fresh pages in
/// (about a microsecond per 4 KiB page here). Larger scratch is freed after each fit.
const KEPT_SCRATCH_BYTES: usize = 4 << 20;

/// Per-thread scratch for fitting columns (reused across the columns a thread handles).
#[derive(Default)]
struct ColumnScratch {
    /// A copy of the column when the input is not column-major.
    values: Vec<f64>,
    ranker: Ranker,
    /// Per-feature scores of every training row, column-major (parallel fits only; kept by
    /// the calling thread).
    per_feature: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<ColumnScratch> = RefCell::new(ColumnScratch::default());
}

/// Runs `f` with this thread's kept scratch when `bytes` of it are small enough to keep,
/// else with fresh scratch.
fn with_scratch<R>(bytes: usize, f: impl FnOnce(&mut ColumnScratch) -> R) -> R {
    if bytes > KEPT_SCRATCH_BYTES {
        return f(&mut ColumnScratch::default());
    }
    SCRATCH.with(|kept| match kept.try_borrow_mut() {
        Ok(mut kept) => f(&mut kept),
        Err(_) => f(&mut ColumnScratch::default()),
    })
}

impl Ecdf {
    fn new(n: usize, sorted: Vec<f64>, skew: Vec<i8>) -> Ecdf {
        Ecdf { n, sorted, skew, ln: ln_table(n + 1) }
    }

    /// Fits the sorted columns and returns the exact training scores, computed from the
    /// ranks found while sorting (one pass per column after the sort, no binary searches).
    ///
    /// Per column (read in place when the input is column-major): the skewness sign, then the
    /// ranks and the sorted column from [`Ranker::rank`] (a hash table of the distinct values
    /// when there are few, else a radix sort), with the tail probabilities read from a table
    /// of logarithms. Columns run in parallel above [`PARALLEL_CELLS`]; each column is computed
    /// the same way on any thread, and the per-row sums are taken in feature order afterwards,
    /// so the result does not depend on the thread count.
    fn fit(x: &ArrayView2<f64>, rule: Rule, num_threads: Option<usize>) -> Result<(Ecdf, Vec<f64>)> {
        let (n, d) = x.dim();
        crate::ensure!(n <= ROW_MASK as usize, "ECOD/COPOD: at most {ROW_MASK} rows, got {n}");
        let mut sorted = vec![0.0; n * d];
        let mut skew = vec![0i8; d];
        let ln = ln_table(n + 1);
        let ln_n = ln[n];
        let fit_column = |scratch: &mut ColumnScratch, j: usize, col: &mut [f64], sk: &mut i8, out: &mut [f64]| {
            // Column-major input (pandas' `to_numpy`) is read in place; other layouts are copied.
            let column = x.column(j);
            let values = match column.as_slice() {
                Some(values) => values,
                None => {
                    scratch.values.clear();
                    scratch.values.extend(column.iter().copied());
                    &scratch.values
                }
            };
            *sk = skew_sign(values);
            let sk = *sk;
            // Ties share the largest rank (PyOD's ecdf_terminate_equals_inplace): F(x) = at_most / n,
            // and n - below training values are >= x.
            scratch
                .ranker
                .rank(values, col, out, |below, at_most| combine(rule, sk, ln_n - ln[at_most], ln_n - ln[n - below]));
        };
        // Row scores are summed in feature order in both branches: the same floating-point
        // result for any thread count.
        let mut scores = vec![0.0; n];
        let column_bytes = n * Ranker::BYTES_PER_ROW + Ranker::table_bytes(n);
        if n * d >= PARALLEL_CELLS && d > 1 && num_threads != Some(1) {
            let columns: Vec<_> = sorted.chunks_mut(n).zip(skew.iter_mut()).enumerate().collect();
            with_scratch(n * d * 8, |caller| -> Result<()> {
                // Per-feature O_j of every training row, column-major.
                let per_feature = &mut caller.per_feature;
                per_feature.clear();
                per_feature.resize(n * d, 0.0);
                let jobs: Vec<_> = columns.into_iter().zip(per_feature.chunks_mut(n)).collect();
                run_tasks(&*pool(num_threads)?, jobs, |((j, (col, sk)), out)| {
                    with_scratch(column_bytes, |scratch| fit_column(scratch, j, col, sk, out))
                });
                for col in per_feature.chunks_exact(n) {
                    for (s, o) in scores.iter_mut().zip(col) {
                        *s += o;
                    }
                }
                Ok(())
            })?;
        } else {
            with_scratch(column_bytes + n * 8, |scratch| {
                let mut out = std::mem::take(&mut scratch.per_feature);
                out.resize(n, 0.0);
                for (j, (col, sk)) in sorted.chunks_mut(n).zip(skew.iter_mut()).enumerate() {
                    fit_column(scratch, j, col, sk, &mut out);
                    for (s, o) in scores.iter_mut().zip(&out) {
                        *s += o;
                    }
                }
                scratch.per_feature = out;
            });
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

macro_rules! ecdf_detector {
    ($ty:ident, $params:ident, $rule:expr, $name:literal, $kind:literal, $doc:literal) => {
        #[doc = concat!("Hyper-parameters of [`", stringify!($ty), "`] (there are none besides the decision layer).")]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $params {
            /// Expected fraction of anomalies, in (0, 0.5] (default 0.1).
            pub contamination: f64,
            /// Threads for fit and batch scoring (`None` = all cores).
            pub num_threads: Option<usize>,
        }

        impl Default for $params {
            fn default() -> Self {
                $params { contamination: 0.1, num_threads: None }
            }
        }

        impl crate::params::Params for $params {
            fn check(&self) -> Result<()> {
                check_contamination(self.contamination)?;
                crate::params::check_threads(self.num_threads)
            }
        }

        impl $params {
            crate::params::setters! {
                /// Sets the contamination.
                contamination: f64,
                /// Sets the thread count.
                num_threads: Option<usize>,
            }

            #[doc = concat!("Checks the parameters and fits [`", stringify!($ty), "`] on `x` (rows = transactions, columns = features; finite, non-empty).")]
            pub fn fit(&self, x: &ArrayView2<f64>) -> Result<$ty> {
                let (_, d) = check_fit_input(x, 1, stringify!($ty))?;
                self.check()?;
                let (model, scores) = Ecdf::fit(x, $rule, self.num_threads)?;
                let state = FitState::new(d, scores, self.contamination)?;
                Ok($ty { params: self.clone(), model, state })
            }
        }

        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq)]
        pub struct $ty {
            pub(crate) params: $params,
            model: Ecdf,
            state: FitState,
        }

        impl $ty {
            /// The hyper-parameters it was fitted with.
            pub fn params(&self) -> &$params {
                &self.params
            }
        }

        impl Detector for $ty {
            fn score(&self, x: &ArrayView2<f64>) -> Result<Array1<f64>> {
                let m = &self.model;
                check_score_input(x, self.state.n_features)?;
                score_rows_parallel(x, self.params.num_threads, |row| m.row_score($rule, row, 1))
            }

            fn score_one(&self, x: &[f64]) -> Result<f64> {
                let m = &self.model;
                check_row(x, self.state.n_features)?;
                Ok(m.row_score($rule, x, 1))
            }

            fit_state_accessors!();
            /// The per-feature outlying scores `O_j` (tail probabilities as `-ln p`); they sum
            /// to the row's score, so each is that feature's exact share.
            fn explain(&self, x: &[f64]) -> Result<Explanation> {
                let m = &self.model;
                check_row(x, self.state.n_features)?;
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
                let (m, state) = (&self.model, &self.state);
                let skew: Vec<i64> = m.skew.iter().map(|&s| i64::from(s)).collect();
                Ok(ModelWriter::new(Self::KIND, &(self.params.clone(), state.clone()))?
                    .f64("sorted", &[state.n_features, m.n], &m.sorted)
                    .i64("skew", &[state.n_features], &skew))
            }

            fn read(r: &ModelReader) -> Result<Self> {
                let (params, state): ($params, FitState) = r.meta()?;
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
                Ok($ty { params, model: Ecdf::new(n, sorted, skew), state })
            }
        }
    };
}

ecdf_detector!(
    Ecod,
    EcodParams,
    Rule::Ecod,
    "ecod",
    "fraud.ecod",
    "A fitted ECOD (empirical-cumulative-distribution outlier detection, see the [module docs](self)), made by [`EcodParams::fit`]."
);
ecdf_detector!(
    Copod,
    CopodParams,
    Rule::Copod,
    "copod",
    "fraud.copod",
    "A fitted COPOD (copula-based outlier detection, see the [module docs](self)), made by [`CopodParams::fit`].\n\n```\nuse mercato::fraud::{CopodParams, Detector};\nlet x = ndarray::array![[1.0, 2.0], [1.1, 2.1], [0.9, 1.9], [1.0, 2.0], [9.0, 2.0]];\nlet det = CopodParams::default().fit(&x.view())?;\nlet e = det.explain(&[9.0, 2.0])?;\nassert_eq!(e.contributions[0].0, 0); // feature 0 makes the row unusual\n# Ok::<(), mercato::Error>(())\n```"
);

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matches_pyod_on_a_small_case() {
        // pyod 2.x ECOD().fit(X).decision_scores_ and COPOD for this X.
        let x = array![[1.0, 5.0], [2.0, 3.0], [2.0, 4.0], [3.0, 100.0], [10.0, 4.0]];
        let e = EcodParams::default().fit(&x.view()).unwrap();
        let c = CopodParams::default().fit(&x.view()).unwrap();
        // Column 0: skew > 0 -> U_skew = U_r. Row 4 (x=10): F_l = 1, F_r = 1/5.
        // Column 1: skew > 0. Row 4 (4.0): le = 3 -> U_l = ln(5/3); ge = 4 -> U_r = ln(5/4).
        let u = |p: f64| -p.ln();
        let want_e4 = u(0.2).max(0.0) + u(0.6).max(u(0.8));
        assert!((e.decision_scores().unwrap()[4] - want_e4).abs() < 1e-12);
        let want_c4 = u(0.2).max(u(0.2) / 2.0) + u(0.8).max((u(0.6) + u(0.8)) / 2.0);
        assert!((c.decision_scores().unwrap()[4] - want_c4).abs() < 1e-12);
        // The rank pass in fit agrees with binary searches in the sorted columns.
        for (i, row) in x.rows().into_iter().enumerate() {
            let m = &e.model;
            let direct = m.row_score(Rule::Ecod, row.as_slice().unwrap(), 0);
            assert!((direct - e.decision_scores().unwrap()[i]).abs() < 1e-12);
        }
        // New rows use (count + 1) / (n + 1): finite for unseen extremes.
        let far = e.score_one(&[-1e9, 1e9]).unwrap();
        assert!(far.is_finite() && far > e.decision_scores().unwrap().iter().cloned().fold(0.0, f64::max));
    }

    #[test]
    fn large_and_small_columns_agree_with_binary_searches() {
        // 180k rows: scratch above the kept size (fresh per fit); a few-valued column (hash
        // table), a continuous one (radix sort) and a column-major copy; 1 and 2 threads.
        let n = 180_000;
        let x = ndarray::Array2::from_shape_fn((n, 3), |(i, j)| match j {
            0 => ((i * 7919) % 37) as f64 - 18.0,
            1 => ((i * 104_729) % 99_991) as f64 * 1e-3 - 20.0,
            _ => (((i * 31) % 1000) as f64 * 0.37).sin(),
        });
        assert!(n * Ranker::BYTES_PER_ROW > KEPT_SCRATCH_BYTES);
        let f_order = x.t().as_standard_layout().into_owned().reversed_axes();
        let mut fits = Vec::new();
        for (input, threads) in [(x.view(), 1), (x.view(), 2), (f_order.view(), 2)] {
            let e = EcodParams::default().num_threads(Some(threads)).fit(&input).unwrap();
            fits.push(e);
        }
        assert_eq!(fits[0].decision_scores().unwrap(), fits[1].decision_scores().unwrap());
        assert_eq!(fits[0].decision_scores().unwrap(), fits[2].decision_scores().unwrap());
        let m = &fits[0].model;
        for i in (0..n).step_by(997) {
            let row = x.row(i).to_vec();
            let direct = m.row_score(Rule::Ecod, &row, 0);
            assert!((direct - fits[0].decision_scores().unwrap()[i]).abs() < 1e-9, "row {i}");
        }
    }

    #[test]
    fn constant_columns_and_bad_input() {
        let x = array![[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [4.0, 7.0]];
        let e = EcodParams::default().fit(&x.view()).unwrap();
        assert!(e.decision_scores().unwrap().iter().all(|s| s.is_finite()));
        let ex = e.explain(&[2.0, 7.0]).unwrap();
        assert!(ex.contributions.iter().any(|&(j, v)| j == 1 && v.abs() < 0.3), "{ex:?}");
        assert!(e.explain(&[2.0, 8.0]).unwrap().contributions[0].0 == 1, "unseen value in a constant column");
        assert!(matches!(e.score(&array![[1.0]].view()), Err(Error::ShapeMismatch { .. })));
        assert!(e.score_one(&[f64::NAN, 1.0]).is_err());
        assert!(EcodParams::default().contamination(0.7).fit(&x.view()).is_err());
        assert!(EcodParams::default().fit(&ndarray::Array2::<f64>::zeros((0, 2)).view()).is_err());
    }

    #[test]
    fn thread_count_does_not_matter_and_persists() {
        let x = ndarray::Array2::from_shape_fn((5000, 3), |(i, j)| ((i * 7919 + j * 104729) % 1000) as f64);
        let mut a = CopodParams::default().num_threads(Some(1)).fit(&x.view()).unwrap();
        let b = CopodParams::default().num_threads(Some(2)).fit(&x.view()).unwrap();
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
