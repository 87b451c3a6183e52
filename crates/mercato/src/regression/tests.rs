use crate::params::Params;
use ndarray::{Array2, ShapeBuilder};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;
use crate::persist::Persist;
use crate::Error;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// n × k design with mixed scales and y = 3 + Σ β_j x_j + noise.
fn data(n: usize, k: usize, noise: f64, seed: u64) -> (Array2<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let nd = Normal::new(0.0, 1.0).unwrap();
    let x = Array2::from_shape_fn((n, k), |(_, j)| 10.0 * j as f64 + (1.0 + j as f64) * nd.sample(&mut rng));
    let beta: Vec<f64> = (0..k).map(|j| (j as f64 - 1.5) * 0.7).collect();
    let y = x
        .rows()
        .into_iter()
        .map(|r| 3.0 + r.dot(&ndarray::ArrayView1::from(&beta)) + noise * nd.sample(&mut rng))
        .collect();
    (x, y, beta)
}

#[test]
fn recovers_known_coefficients() {
    let (x, y, beta) = data(5000, 6, 0.01, 1);
    let fit = LinearRegressionParams::default().fit(&x.view(), &y, None, None).unwrap();
    for (b, t) in fit.coef().iter().zip(&beta) {
        assert!((b - t).abs() < 1e-3, "{b} vs {t}");
    }
    assert!((fit.intercept() - 3.0).abs() < 0.01);
    // Noise-free: exact to rounding.
    let (x, y, beta) = data(300, 4, 0.0, 2);
    let fit = LinearRegressionParams::default().fit(&x.view(), &y, None, None).unwrap();
    for (b, t) in fit.coef().iter().zip(&beta) {
        assert!((b - t).abs() < 1e-11, "{b} vs {t}");
    }
    // The 95% intervals cover the truth for most coefficients with noise.
    let (x, y, beta) = data(400, 5, 1.0, 3);
    let fit = LinearRegressionParams::default().fit(&x.view(), &y, None, None).unwrap();
    let ci = fit.conf_int(0.05).unwrap();
    let covered = ci[1..].iter().zip(&beta).filter(|((lo, hi), b)| lo <= b && *b <= hi).count();
    assert!(covered >= 4, "{covered}");
}

#[test]
fn orthogonal_design_gives_per_column_regressions() {
    // Centered ±1 Hadamard-like columns: each coefficient is x_j'y / x_j'x_j.
    let n = 64;
    let x = Array2::from_shape_fn((n, 3), |(i, j)| if (i >> j) & 1 == 1 { 1.0 } else { -1.0 });
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    let y: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
    let fit = LinearRegressionParams::default().fit(&x.view(), &y, None, None).unwrap();
    let cov = fit.cov_params().unwrap();
    for j in 0..3 {
        let xy: f64 = (0..n).map(|i| x[[i, j]] * y[i]).sum();
        assert!(rel(fit.coef()[j], xy / n as f64) < 1e-12);
        for l in 0..4 {
            if l != j + 1 {
                assert!(cov[[j + 1, l]].abs() < 1e-14, "orthogonal columns: zero covariance");
            }
        }
    }
}

#[test]
fn invariant_to_column_scaling() {
    let (x, y, _) = data(500, 4, 1.0, 5);
    let factors = [1e-3, 7.0, 1e4, 0.5];
    let mut xs = x.clone();
    for (j, f) in factors.iter().enumerate() {
        xs.column_mut(j).mapv_inplace(|v| v * f);
    }
    for cov in [CovType::NonRobust, CovType::HC3] {
        let p = LinearRegressionParams::default().cov_type(cov);
        let a = p.fit(&x.view(), &y, None, None).unwrap();
        let b = p.fit(&xs.view(), &y, None, None).unwrap();
        for (j, f) in factors.iter().enumerate() {
            assert!(rel(b.coef()[j] * f, a.coef()[j]) < 1e-10);
            assert!(rel(b.bse().unwrap()[j + 1] * f, a.bse().unwrap()[j + 1]) < 1e-10);
            assert!(rel(b.tvalues().unwrap()[j + 1], a.tvalues().unwrap()[j + 1]) < 1e-9);
        }
        assert!(rel(a.rsquared(), b.rsquared()) < 1e-12);
        assert!(rel(a.fvalue().unwrap(), b.fvalue().unwrap()) < 1e-9);
    }
}

#[test]
fn same_result_for_any_layout_and_thread_count() {
    let (x, y, _) = data(20_000, 5, 1.0, 6);
    let mut xf = Array2::zeros((20_000, 5).f());
    xf.assign(&x);
    let base = LinearRegressionParams::default().cov_type(CovType::HC2);
    let a = base.clone().num_threads(Some(1)).fit(&x.view(), &y, None, None).unwrap();
    let b = base.clone().num_threads(Some(3)).fit(&x.view(), &y, None, None).unwrap();
    let c = base.num_threads(Some(2)).fit(&xf.view(), &y, None, None).unwrap();
    assert_eq!(a.params(), b.params(), "thread count changes nothing");
    assert_eq!(a.bse().unwrap(), b.bse().unwrap());
    for (u, v) in a.params().iter().zip(c.params()) {
        assert!(rel(v, *u) < 1e-12);
    }
}

#[test]
fn integer_weights_equal_repeated_rows() {
    let (x, y, _) = data(200, 3, 1.0, 7);
    let w: Vec<f64> = (0..200).map(|i| (i % 3 + 1) as f64).collect();
    let rows: Vec<usize> = (0..200).flat_map(|i| std::iter::repeat_n(i, i % 3 + 1)).collect();
    let xr = x.select(ndarray::Axis(0), &rows);
    let yr: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
    let a = LinearRegressionParams::default().fit(&x.view(), &y, Some(&w), None).unwrap();
    let b = LinearRegressionParams::default().fit(&xr.view(), &yr, None, None).unwrap();
    for (u, v) in a.params().iter().zip(b.params()) {
        assert!(rel(*u, v) < 1e-10);
    }
    assert!(rel(a.ssr(), b.ssr()) < 1e-10);
}

#[test]
fn ridge_matches_closed_form() {
    let (x, y, _) = data(300, 3, 1.0, 8);
    let alpha = 50.0;
    let fit = LinearRegressionParams::default().alpha(alpha).fit(&x.view(), &y, None, None).unwrap();
    // (Xc'Xc + αI) β = Xc'yc
    let n = 300.0;
    let xm = x.mean_axis(ndarray::Axis(0)).unwrap();
    let ym = y.iter().sum::<f64>() / n;
    let xc = &x - &xm;
    let yc: ndarray::Array1<f64> = y.iter().map(|v| v - ym).collect();
    let mut g = xc.t().dot(&xc);
    for j in 0..3 {
        g[[j, j]] += alpha;
    }
    let residual = g.dot(&ndarray::Array1::from(fit.coef().to_vec())) - xc.t().dot(&yc);
    assert!(residual.iter().all(|v| v.abs() < 1e-8), "{residual}");
    assert!(fit.bse().is_err(), "ridge has no standard errors");
    let r = LinearRegression::from_bytes(fit.to_bytes().unwrap()).unwrap();
    assert_eq!(r.coef(), fit.coef());
}

#[test]
fn intervals_and_persistence() {
    let (x, y, _) = data(100, 2, 1.0, 9);
    let fit = LinearRegressionParams::default().fit(&x.view(), &y, None, None).unwrap();
    let conf = fit.predict_interval(&x.view(), IntervalKind::Confidence, 0.05).unwrap();
    let pred = fit.predict_interval(&x.view(), IntervalKind::Prediction, 0.05).unwrap();
    for i in 0..100 {
        assert!(pred.lower[i] < conf.lower[i] && conf.lower[i] < conf.mean[i] && conf.upper[i] < pred.upper[i]);
    }
    let inside = (0..100).filter(|&i| pred.lower[i] <= y[i] && y[i] <= pred.upper[i]).count();
    assert!(inside >= 88, "{inside}");
    let back = LinearRegression::from_bytes(fit.to_bytes().unwrap()).unwrap();
    assert_eq!(back.params(), fit.params());
    assert_eq!(back.bse().unwrap(), fit.bse().unwrap());
    assert_eq!(back.aic(), fit.aic());
    let mut bytes = fit.to_bytes().unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 1;
    assert!(matches!(LinearRegression::from_bytes(bytes), Err(Error::ModelFormat(_))));
}

#[test]
fn cluster_and_hc_are_consistent() {
    let (x, y, _) = data(300, 2, 1.0, 10);
    // One cluster per row: the cluster meat equals HC0's, up to the correction factors.
    let groups: Vec<i64> = (0..300).collect();
    let c =
        LinearRegressionParams::default().cov_type(CovType::Cluster).fit(&x.view(), &y, None, Some(&groups)).unwrap();
    let h = LinearRegressionParams::default().cov_type(CovType::HC0).fit(&x.view(), &y, None, None).unwrap();
    let factor = (300.0 / 299.0) * (299.0 / 297.0);
    for (a, b) in c.bse().unwrap().iter().zip(h.bse().unwrap()) {
        assert!(rel(a * a, b * b * factor) < 1e-10);
    }
    assert_eq!(c.df_inference(), 299.0);
}

#[test]
fn bad_input_is_a_typed_error() {
    let (x, y, _) = data(50, 3, 1.0, 11);
    let p = LinearRegressionParams::default();
    let mut xn = x.clone();
    xn[[7, 1]] = f64::NAN;
    assert!(matches!(p.fit(&xn.view(), &y, None, None), Err(Error::InvalidInput(m)) if m.contains("row 7")));
    let mut yi = y.clone();
    yi[3] = f64::INFINITY;
    assert!(p.fit(&x.view(), &yi, None, None).is_err());
    assert!(matches!(p.fit(&x.view(), &y[..40], None, None), Err(Error::ShapeMismatch { .. })));
    let few = x.slice(ndarray::s![..4, ..]);
    assert!(p.fit(&few, &y[..4], None, None).unwrap_err().to_string().contains("more rows than parameters"));
    let w = vec![1.0; 49];
    assert!(matches!(p.fit(&x.view(), &y, Some(&w), None), Err(Error::ShapeMismatch { .. })));
    let mut wz = vec![1.0; 50];
    wz[0] = 0.0;
    assert!(p.fit(&x.view(), &y, Some(&wz), None).is_err());
    // A constant column and an exact combination, both named.
    let mut xc = x.clone();
    xc.column_mut(1).fill(4.2);
    let e = p.fit(&xc.view(), &y, None, None).unwrap_err().to_string();
    assert!(e.contains("`x2` is constant"), "{e}");
    let mut xl = Array2::zeros((50, 4));
    xl.slice_mut(ndarray::s![.., ..3]).assign(&x);
    let comb = &x.column(0) * 2.0 - x.column(2);
    xl.column_mut(3).assign(&comb);
    let e = p.fit(&xl.view(), &y, None, None).unwrap_err().to_string();
    assert!(e.contains("x4") && e.contains("x1") && e.contains("x3") && !e.contains("·`x2`"), "{e}");
    assert!(p.clone().cov_type(CovType::Cluster).fit(&x.view(), &y, None, None).is_err());
    assert!(LinearRegressionParams::from_json(r#"{"alpha": -1}"#).unwrap_err().to_string().contains("alpha"));
    assert!(LinearRegressionParams::from_json(r#"{"alpah": 1}"#).is_err());
    let fit = p.fit(&x.view(), &y, None, None).unwrap();
    assert!(matches!(fit.predict(&x.slice(ndarray::s![.., ..2])), Err(Error::ShapeMismatch { .. })));
    assert!(fit.conf_int(1.5).is_err());
}
