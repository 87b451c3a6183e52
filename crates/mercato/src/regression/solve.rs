//! Cholesky factorisation of the column-scaled Gram matrix with detection of dependent
//! columns, and the small dense helpers built on it.

use ndarray::{Array1, Array2};

/// A column found to depend on earlier ones (and the intercept).
#[derive(Debug)]
pub(crate) struct Dependent {
    /// The column.
    pub column: usize,
    /// Earlier columns and their coefficients in `column ≈ Σ c·x + const` (original units).
    pub partners: Vec<(usize, f64)>,
}

/// Lower-triangular `L` with `C = L L'`.
pub(crate) struct Cholesky {
    pub l: Array2<f64>,
}

/// Factorises the scaled Gram `c` (unit-norm columns, so each diagonal is the share of the
/// column's norm not explained by the intercept). A column whose pivot — the share left after
/// the earlier columns too, i.e. 1 − R² — is at most `tol` is dependent; it is skipped so that
/// every dependent column is reported at once. `scale[j]` is column j's norm (for coefficients
/// in original units).
pub(crate) fn factor(c: &Array2<f64>, tol: f64, scale: &[f64]) -> Result<Cholesky, Vec<Dependent>> {
    let k = c.nrows();
    let mut l = Array2::<f64>::zeros((k, k));
    let mut indep: Vec<usize> = Vec::with_capacity(k);
    let mut deps = Vec::new();
    for j in 0..k {
        // Row j of L against the independent columns so far: forward substitution.
        let mut row = vec![0.0; indep.len()];
        for (a, &ia) in indep.iter().enumerate() {
            let mut v = c[[ia, j]];
            for (b, &ib) in indep[..a].iter().enumerate() {
                v -= l[[ia, ib]] * row[b];
            }
            row[a] = v / l[[ia, ia]];
        }
        let pivot = c[[j, j]] - row.iter().map(|v| v * v).sum::<f64>();
        if pivot <= tol || !pivot.is_finite() {
            // Back-substitute for the combination: L' coef = row.
            let mut coef = vec![0.0; indep.len()];
            for a in (0..indep.len()).rev() {
                let mut v = row[a];
                for b in a + 1..indep.len() {
                    v -= l[[indep[b], indep[a]]] * coef[b];
                }
                coef[a] = v / l[[indep[a], indep[a]]];
            }
            let partners = indep
                .iter()
                .zip(&coef)
                .filter(|(_, c)| c.abs() > 1e-6)
                .map(|(&i, &c)| (i, c * scale[j] / scale[i]))
                .collect();
            deps.push(Dependent { column: j, partners });
            continue;
        }
        for (a, &ia) in indep.iter().enumerate() {
            l[[j, ia]] = row[a];
        }
        l[[j, j]] = pivot.sqrt();
        indep.push(j);
    }
    if deps.is_empty() {
        Ok(Cholesky { l })
    } else {
        Err(deps)
    }
}

impl Cholesky {
    /// Solves `L L' x = b`.
    pub fn solve(&self, b: &Array1<f64>) -> Array1<f64> {
        let k = b.len();
        let l = &self.l;
        let mut y = b.clone();
        for i in 0..k {
            for j in 0..i {
                y[i] -= l[[i, j]] * y[j];
            }
            y[i] /= l[[i, i]];
        }
        for i in (0..k).rev() {
            for j in i + 1..k {
                y[i] -= l[[j, i]] * y[j];
            }
            y[i] /= l[[i, i]];
        }
        y
    }

    /// `L⁻¹` (lower triangular).
    pub fn l_inv(&self) -> Array2<f64> {
        let k = self.l.nrows();
        let l = &self.l;
        let mut inv = Array2::<f64>::zeros((k, k));
        for col in 0..k {
            inv[[col, col]] = 1.0 / l[[col, col]];
            for i in col + 1..k {
                let mut v = 0.0;
                for j in col..i {
                    v -= l[[i, j]] * inv[[j, col]];
                }
                inv[[i, col]] = v / l[[i, i]];
            }
        }
        inv
    }
}

/// Inverse of a symmetric positive definite matrix, `None` when it is not.
pub(crate) fn spd_inverse(m: &Array2<f64>) -> Option<Array2<f64>> {
    let k = m.nrows();
    let d: Vec<f64> = (0..k).map(|i| m[[i, i]].sqrt()).collect();
    if d.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return None;
    }
    let scaled = Array2::from_shape_fn((k, k), |(i, j)| m[[i, j]] / (d[i] * d[j]));
    let ch = factor(&scaled, 1e-300, &d).ok()?;
    let li = ch.l_inv();
    let inv = li.t().dot(&li);
    Some(Array2::from_shape_fn((k, k), |(i, j)| inv[[i, j]] / (d[i] * d[j])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_solves_and_detects() {
        let c = ndarray::array![[4.0, 2.0, 0.4], [2.0, 3.0, 0.5], [0.4, 0.5, 2.0]];
        let ch = factor(&c, 1e-12, &[1.0; 3]).unwrap();
        let b = ndarray::array![1.0, 2.0, 3.0];
        let x = ch.solve(&b);
        let back = c.dot(&x);
        assert!((back - &b).iter().all(|v| v.abs() < 1e-12));
        let inv = spd_inverse(&c).unwrap();
        let eye = c.dot(&inv);
        for i in 0..3 {
            for j in 0..3 {
                assert!((eye[[i, j]] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        // Column 2 = column 0 + column 1.
        let s = ndarray::array![[1.0, 0.5, 1.5], [0.5, 1.0, 1.5], [1.5, 1.5, 3.0]];
        let deps = factor(&s, 1e-10, &[1.0; 3]).err().unwrap();
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0].column, 2);
        let coefs: Vec<f64> = deps[0].partners.iter().map(|p| p.1).collect();
        assert!((coefs[0] - 1.0).abs() < 1e-9 && (coefs[1] - 1.0).abs() < 1e-9, "{coefs:?}");
    }
}
