//! Fitting: validation, the three passes, the solve and every statistic.

use crate::params::Params;
use std::collections::HashMap;

use ndarray::{Array1, Array2, ArrayView2};

use super::dist;
use super::model::{LinearRegression, Meta};
use super::params::{CovType, LinearRegressionParams};
use super::passes::{self, Data, Fit, Hc};
use super::solve::{self, Dependent};
use crate::{bail, Error, Result};

/// Rows used to estimate the shift that keeps the Gram sums free of cancellation.
const SHIFT_ROWS: usize = 1024;

fn collinear_error(deps: &[Dependent], names: &[String], intercept: bool) -> Error {
    let parts: Vec<String> = deps
        .iter()
        .map(|d| {
            let name = &names[d.column];
            if d.partners.is_empty() {
                if intercept {
                    format!("`{name}` is constant (collinear with the intercept)")
                } else {
                    format!("`{name}` is all zeros")
                }
            } else {
                let terms: Vec<String> = d.partners.iter().map(|(i, c)| format!("{c:.6}·`{}`", names[*i])).collect();
                let tail = if intercept { " + const" } else { "" };
                format!("`{name}` ≈ {}{tail}", terms.join(" + "))
            }
        })
        .collect();
    let cols: Vec<&str> = deps.iter().map(|d| names[d.column].as_str()).collect();
    Error::invalid(format!(
        "rank-deficient design: column(s) {} depend on the others ({}); drop them or use ridge (alpha > 0)",
        cols.join(", "),
        parts.join("; ")
    ))
}

fn validate(
    params: &LinearRegressionParams,
    x: &ArrayView2<'_, f64>,
    y: &[f64],
    w: Option<&[f64]>,
    groups: Option<&[i64]>,
    names: Option<&[String]>,
) -> Result<f64> {
    params.check()?;
    let (n, k) = x.dim();
    if y.len() != n {
        return Err(Error::shape(format!("y of length {n} (one per row of X)"), format!("length {}", y.len())));
    }
    if let Some(w) = w {
        if w.len() != n {
            return Err(Error::shape(format!("sample_weight of length {n}"), format!("length {}", w.len())));
        }
    }
    if let Some(g) = groups {
        if g.len() != n {
            return Err(Error::shape(format!("groups of length {n}"), format!("length {}", g.len())));
        }
    }
    match (params.cov_type, groups) {
        (CovType::Cluster, None) => bail!("cov_type=cluster needs groups (one cluster label per row)"),
        (CovType::Cluster, Some(_)) => {}
        (other, Some(_)) => bail!("groups are only used with cov_type=cluster, got cov_type={other}"),
        _ => {}
    }
    if let Some(names) = names {
        if names.len() != k {
            return Err(Error::shape(format!("{k} feature names"), format!("{}", names.len())));
        }
    }
    let p = k + params.fit_intercept as usize;
    if p == 0 {
        bail!("X has no columns and fit_intercept is false: nothing to fit");
    }
    if n == 0 {
        bail!("X has no rows");
    }
    if params.alpha == 0.0 && n <= p {
        bail!("least squares needs more rows than parameters: {n} rows for {p} parameters (use ridge, alpha > 0)");
    }
    for (i, row) in x.rows().into_iter().enumerate() {
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            bail!("X must be finite, found {} at row {i}, column {j}", row[j]);
        }
    }
    crate::error::ensure_finite("y", y)?;
    let mut sum_log_w = 0.0;
    if let Some(w) = w {
        for (i, &v) in w.iter().enumerate() {
            if !(v.is_finite() && v > 0.0) {
                bail!("sample_weight must be finite and positive, found {v} at row {i} (drop zero-weight rows)");
            }
            sum_log_w += v.ln();
        }
    }
    Ok(sum_log_w)
}

/// Dense group ids in sorted order of the labels (as numpy's `unique(return_inverse=True)`).
fn dense_groups(groups: &[i64]) -> (Vec<usize>, usize) {
    let mut labels: Vec<i64> = groups.to_vec();
    labels.sort_unstable();
    labels.dedup();
    let index: HashMap<i64, usize> = labels.iter().enumerate().map(|(i, &g)| (g, i)).collect();
    (groups.iter().map(|g| index[g]).collect(), labels.len())
}

/// Ratio of the largest to the smallest singular value of `R` (upper triangular, p × p).
fn condition_number(r: &Array2<f64>) -> f64 {
    let p = r.nrows();
    let m = nalgebra::DMatrix::from_fn(p, p, |i, j| r[[i, j]]);
    let sv = m.singular_values();
    let (mut hi, mut lo) = (0.0f64, f64::INFINITY);
    for &s in sv.iter() {
        hi = hi.max(s);
        lo = lo.min(s);
    }
    if lo > 0.0 {
        hi / lo
    } else {
        f64::INFINITY
    }
}

impl LinearRegressionParams {
    /// Fits on `x` (n × k, any memory layout), `y`, optional positive `weights` (weighted
    /// least squares, as statsmodels' `WLS`) and, for `cov_type = Cluster`, one cluster
    /// label per row. Columns are named `x1..xk` in messages; see [`Self::fit_named`].
    pub fn fit(
        &self,
        x: &ArrayView2<'_, f64>,
        y: &[f64],
        weights: Option<&[f64]>,
        groups: Option<&[i64]>,
    ) -> Result<LinearRegression> {
        self.fit_named(x, y, weights, groups, None)
    }

    /// [`Self::fit`] with column names, kept in the model and used in error messages.
    pub fn fit_named(
        &self,
        x: &ArrayView2<'_, f64>,
        y: &[f64],
        weights: Option<&[f64]>,
        groups: Option<&[i64]>,
        names: Option<&[String]>,
    ) -> Result<LinearRegression> {
        let sum_log_w = validate(self, x, y, weights, groups, names)?;
        let (n, k) = x.dim();
        let names: Vec<String> = match names {
            Some(v) => v.to_vec(),
            None => (1..=k).map(|i| format!("x{i}")).collect(),
        };
        let icpt = self.fit_intercept;
        let p = k + icpt as usize;
        let pool = crate::parallel::pool(self.num_threads)?;
        let data = Data { x: x.view(), y, w: weights };

        // Pass 1 on data shifted by a rough mean: the sums then hold deviations, not levels.
        let mut shift = vec![0.0; k + 1];
        if icpt {
            let m = n.min(SHIFT_ROWS);
            let mut sw = 0.0;
            for i in 0..m {
                let wi = weights.map_or(1.0, |w| w[i]);
                sw += wi;
                for j in 0..k {
                    shift[j] += wi * x[[i, j]];
                }
                shift[k] += wi * y[i];
            }
            shift.iter_mut().for_each(|v| *v /= sw);
        }
        let s = passes::gram(&data, &pool, &shift);
        let wsum = s[[0, 0]];
        let u: Vec<f64> = (0..=k).map(|j| if icpt { s[[0, j + 1]] } else { 0.0 }).collect();
        let mean: Vec<f64> = (0..=k).map(|j| if icpt { shift[j] + u[j] / wsum } else { 0.0 }).collect();
        let g = Array2::from_shape_fn((k, k), |(i, j)| s[[i + 1, j + 1]] - u[i] * u[j] / wsum);
        let xy = Array1::from_shape_fn(k, |i| s[[i + 1, k + 1]] - u[i] * u[k] / wsum);
        let tss = s[[k + 1, k + 1]] - u[k] * u[k] / wsum;

        // Scale columns to unit raw norm: the pivots are then 1 − R² of each column on the
        // intercept and the earlier columns.
        let scale: Vec<f64> = (0..k)
            .map(|j| {
                let raw = g[[j, j]] + if icpt { wsum * mean[j] * mean[j] } else { 0.0 };
                if raw > 0.0 {
                    raw.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let cs = Array2::from_shape_fn((k, k), |(i, j)| {
            g[[i, j]] / (scale[i] * scale[j]) + if i == j { self.alpha / (scale[i] * scale[i]) } else { 0.0 }
        });
        let tol = if self.alpha > 0.0 { 0.0 } else { self.rank_tol };
        let ch = solve::factor(&cs, tol, &scale).map_err(|d| collinear_error(&d, &names, icpt))?;
        let scaled_solve = |b: &Array1<f64>| -> Array1<f64> {
            let bs = Array1::from_shape_fn(k, |j| b[j] / scale[j]);
            let z = ch.solve(&bs);
            Array1::from_shape_fn(k, |j| z[j] / scale[j])
        };
        let mut beta = scaled_solve(&xy);
        let mut a = if icpt { mean[k] } else { 0.0 };

        // Pass 2: exact residuals, one step of iterative refinement, the SSR.
        let rs = passes::residual_sums(&data, &pool, &Fit { center: &mean, a, beta: beta.as_slice().unwrap() });
        let grad = &rs.gx - &(&beta * self.alpha);
        let dbeta = scaled_solve(&grad);
        let da = if icpt { rs.g0 / wsum } else { 0.0 };
        let ssr = (rs.ssr - da * rs.g0 - dbeta.dot(&rs.gx) - self.alpha * dbeta.dot(&(&beta + &dbeta))).max(0.0);
        beta += &dbeta;
        a += da;
        let intercept = if icpt { a - (0..k).map(|j| mean[j] * beta[j]).sum::<f64>() } else { 0.0 };

        let df_resid = n as f64 - p as f64;
        let df_model = k as f64;
        let use_t = self.use_t.unwrap_or(self.cov_type == CovType::NonRobust);
        let nf = n as f64;

        // Cholesky factor of G (without the ridge term) in original units: R = (D Ls)'.
        let plain = if self.alpha > 0.0 {
            let c0 = Array2::from_shape_fn((k, k), |(i, j)| g[[i, j]] / (scale[i] * scale[j]));
            solve::factor(&c0, 0.0, &scale).ok()
        } else {
            None
        };
        let lfac = plain.as_ref().unwrap_or(&ch);
        let r_work = {
            let mut r = Array2::<f64>::zeros((p, p));
            let o = icpt as usize;
            if icpt {
                r[[0, 0]] = wsum.sqrt();
            }
            for i in 0..k {
                for j in 0..=i {
                    // R[j][i] = (D L)[i][j]
                    r[[o + j, o + i]] = scale[i] * lfac.l[[i, j]];
                }
            }
            r
        };
        let condition_number = if self.alpha > 0.0 && plain.is_none() {
            f64::INFINITY
        } else {
            // X_raw = X_work T with T = [[1, m'], [0, I]].
            let mut t = Array2::<f64>::eye(p);
            if icpt {
                for j in 0..k {
                    t[[0, j + 1]] = mean[j];
                }
            }
            condition_number(&r_work.dot(&t))
        };

        let mut meta = Meta {
            params: self.clone(),
            names,
            nobs: n,
            df_model,
            df_resid,
            df_inference: df_resid,
            n_groups: None,
            use_t,
            intercept,
            ssr,
            tss,
            sum_log_w,
            condition_number,
            fvalue: None,
            f_pvalue: None,
        };
        if self.alpha > 0.0 {
            return Ok(LinearRegression::new(meta, beta.to_vec(), None));
        }

        // Covariance in the working basis [√w, √w(x − m)], then mapped to (b0, β).
        let scale_sq = ssr / df_resid;
        let li = ch.l_inv();
        let o = icpt as usize;
        let mut k_half = Array2::<f64>::zeros((p, p));
        if icpt {
            k_half[[0, 0]] = 1.0 / wsum.sqrt();
        }
        for i in 0..k {
            for j in 0..k {
                // (D⁻¹ L⁻ᵀ)[i][j] = L⁻¹[j][i] / D_i
                k_half[[o + i, o + j]] = li[[j, i]] / scale[i];
            }
        }
        let bread = k_half.dot(&k_half.t());
        let fit = Fit { center: &mean, a, beta: beta.as_slice().unwrap() };
        let cols = (1 - o)..(k + 1);
        let sandwich = |meat: &Array2<f64>| bread.dot(meat).dot(&bread);
        let v_work = match self.cov_type {
            CovType::NonRobust => &bread * scale_sq,
            CovType::HC0 | CovType::HC1 | CovType::HC2 | CovType::HC3 => {
                let kind = match self.cov_type {
                    CovType::HC2 => Hc::Hc2,
                    CovType::HC3 => Hc::Hc3,
                    _ => Hc::Plain,
                };
                let (meat, h_max) = passes::hc_meat(&data, &pool, &fit, cols.clone(), &k_half, kind);
                if !matches!(kind, Hc::Plain) && h_max >= 1.0 - 1e-10 {
                    bail!(
                        "a row has leverage 1 (it alone determines a coefficient): {} is undefined; use HC0/HC1",
                        self.cov_type
                    );
                }
                let v = sandwich(&meat);
                if self.cov_type == CovType::HC1 {
                    v * (nf / df_resid)
                } else {
                    v
                }
            }
            CovType::Cluster => {
                let (group_of, n_groups) = dense_groups(groups.expect("validated"));
                if n_groups < 2 {
                    bail!("cluster-robust covariance needs at least 2 clusters, got {n_groups}");
                }
                let meat = passes::cluster_meat(&data, &fit, cols.clone(), &group_of, n_groups);
                let gf = n_groups as f64;
                meta.n_groups = Some(n_groups);
                meta.df_inference = gf - 1.0;
                sandwich(&meat) * (gf / (gf - 1.0) * (nf - 1.0) / df_resid)
            }
        };
        let cov = if icpt {
            let mut j = Array2::<f64>::eye(p);
            for c in 0..k {
                j[[0, c + 1]] = -mean[c];
            }
            j.dot(&v_work).dot(&j.t())
        } else {
            v_work
        };

        // F test of all slopes.
        if k > 0 {
            let (f, df_den) = if self.cov_type == CovType::NonRobust {
                (((tss - ssr) / df_model) / scale_sq, df_resid)
            } else {
                let vs = cov.slice(ndarray::s![o.., o..]).to_owned();
                let f = match solve::spd_inverse(&vs) {
                    Some(inv) => beta.dot(&inv.dot(&beta)) / df_model,
                    None => f64::NAN,
                };
                (f, meta.df_inference)
            };
            meta.fvalue = Some(f);
            meta.f_pvalue = Some(dist::f_sf(f, df_model, df_den));
        }
        Ok(LinearRegression::new(meta, beta.to_vec(), Some(cov)))
    }
}
