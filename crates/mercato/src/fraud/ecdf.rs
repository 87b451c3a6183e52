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
#[derive(Clone, Debug, PartialEq)]
struct Ecdf {
    n: usize,
    /// Column-major: column j is `sorted[j*n..(j+1)*n]`, ascending.
    sorted: Vec<f64>,
    /// Sign of each column's skewness: -1, 0 or 1.
    skew: Vec<i8>,
}

impl Ecdf {
    /// Fits the sorted columns and returns the exact training scores, computed from the
    /// ranks found while sorting (one pass per column after the sort, no binary searches).
    fn fit(x: &ArrayView2<f64>, rule: Rule, num_threads: Option<usize>) -> Result<(Ecdf, Vec<f64>)> {
        let (n, d) = x.dim();
        let mut sorted = vec![0.0; n * d];
        let mut skew = vec![0i8; d];
        // Per-feature O_j of every training row, column-major.
        let mut per_feature = vec![0.0; n * d];
        let fit_column = |j: usize, col: &mut [f64], sk: &mut i8, out: &mut [f64]| {
            let values: Vec<f64> = x.column(j).to_vec();
            *sk = skew_sign(values.iter().copied());
            // Sort rows by value with an LSD radix sort on the value's bits mapped to an
            // unsigned total order (as f64::total_cmp): O(n) per column, and byte positions
            // shared by every value (exponent bytes, mostly) are skipped.
            let mut keys: Vec<u64> = values
                .iter()
                .map(|&v| {
                    let b = v.to_bits();
                    if b >> 63 == 1 {
                        !b
                    } else {
                        b | (1 << 63)
                    }
                })
                .collect();
            let mut rows: Vec<u32> = (0..n as u32).collect();
            radix_sort(&mut keys, &mut rows);
            let pairs: Vec<(f64, u32)> = rows.iter().map(|&r| (values[r as usize], r)).collect();
            let ln_n = (n as f64).ln();
            let mut a = 0;
            while a < n {
                let mut b = a + 1;
                while b < n && pairs[b].0 == pairs[a].0 {
                    b += 1;
                }
                // Ties share the largest rank (PyOD's ecdf_terminate_equals_inplace).
                let u_l = ln_n - (b as f64).ln();
                let u_r = ln_n - ((n - a) as f64).ln();
                let o = combine(rule, *sk, u_l, u_r);
                for p in &pairs[a..b] {
                    out[p.1 as usize] = o;
                }
                a = b;
            }
            for (c, p) in col.iter_mut().zip(&pairs) {
                *c = p.0;
            }
        };
        let parallel = n * d >= PARALLEL_CELLS && d > 1;
        if parallel {
            pool(num_threads)?.install(|| {
                sorted
                    .par_chunks_mut(n)
                    .zip(skew.par_iter_mut())
                    .zip(per_feature.par_chunks_mut(n))
                    .enumerate()
                    .for_each(|(j, ((col, sk), out))| fit_column(j, col, sk, out))
            });
        } else {
            for (j, ((col, sk), out)) in
                sorted.chunks_mut(n).zip(skew.iter_mut()).zip(per_feature.chunks_mut(n)).enumerate()
            {
                fit_column(j, col, sk, out);
            }
        }
        let mut scores = vec![0.0; n];
        for col in per_feature.chunks_exact(n) {
            for (s, o) in scores.iter_mut().zip(col) {
                *s += o;
            }
        }
        Ok((Ecdf { n, sorted, skew }, scores))
    }

    /// Per-feature outlying score `O_j` of value `v` in column `j`, with `extra` added to the
    /// counts and the total (0 for training rows, 1 for new rows).
    #[inline]
    fn feature_score(&self, rule: Rule, j: usize, v: f64, extra: usize) -> f64 {
        let col = &self.sorted[j * self.n..(j + 1) * self.n];
        let le = col.partition_point(|&c| c <= v) + extra;
        let ge = self.n - col.partition_point(|&c| c < v) + extra;
        let total = (self.n + extra) as f64;
        // le, ge >= 1 for training rows (the row itself) and new rows (extra = 1).
        let u_l = -(le as f64 / total).ln();
        let u_r = -(ge as f64 / total).ln();
        combine(rule, self.skew[j], u_l, u_r)
    }

    #[inline]
    fn row_score(&self, rule: Rule, x: &[f64], extra: usize) -> f64 {
        x.iter().enumerate().map(|(j, &v)| self.feature_score(rule, j, v, extra)).sum()
    }
}

/// Cells above which fit and scoring run on the thread pool (below, spawning threads costs
/// more than it saves).
const PARALLEL_CELLS: usize = 1 << 18;

/// Stable LSD radix sort of `keys` (8-bit digits), permuting `rows` alongside.
fn radix_sort(keys: &mut Vec<u64>, rows: &mut Vec<u32>) {
    let n = keys.len();
    let mut hist = [[0usize; 256]; 8];
    for &k in keys.iter() {
        for (b, h) in hist.iter_mut().enumerate() {
            h[((k >> (8 * b)) & 0xff) as usize] += 1;
        }
    }
    let mut k2 = vec![0u64; n];
    let mut r2 = vec![0u32; n];
    for (b, h) in hist.iter().enumerate() {
        if h.contains(&n) {
            continue; // every key has the same digit here
        }
        let mut off = [0usize; 256];
        let mut sum = 0;
        for (o, &c) in off.iter_mut().zip(h) {
            *o = sum;
            sum += c;
        }
        for (&k, &r) in keys.iter().zip(rows.iter()) {
            let dgt = ((k >> (8 * b)) & 0xff) as usize;
            k2[off[dgt]] = k;
            r2[off[dgt]] = r;
            off[dgt] += 1;
        }
        std::mem::swap(keys, &mut k2);
        std::mem::swap(rows, &mut r2);
    }
}

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
                Ok($ty { params, model: Some(Ecdf { n, sorted, skew }), state: Some(state) })
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
    fn radix_sort_orders_like_total_cmp() {
        let values = [3.5, -0.0, 0.0, -1e300, f64::MIN_POSITIVE, 2.0, -2.0, 3.5, 1e-300, -7.25, 0.0, 1e300];
        let to_key = |v: f64| {
            let b = v.to_bits();
            if b >> 63 == 1 {
                !b
            } else {
                b | (1 << 63)
            }
        };
        let mut keys: Vec<u64> = values.iter().map(|&v| to_key(v)).collect();
        let mut rows: Vec<u32> = (0..values.len() as u32).collect();
        radix_sort(&mut keys, &mut rows);
        let mut want: Vec<u32> = (0..values.len() as u32).collect();
        want.sort_by(|&a, &b| values[a as usize].total_cmp(&values[b as usize]).then(a.cmp(&b)));
        assert_eq!(rows, want);
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
        let back = Copod::from_bytes(a.to_bytes().unwrap()).unwrap();
        assert_eq!(back.score(&x.view()).unwrap(), a.score(&x.view()).unwrap());
        assert!(Ecod::from_bytes(a.to_bytes().unwrap()).is_err(), "kind is checked");
    }
}
