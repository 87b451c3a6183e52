//! Randomized truncated SVD (Halko, Martinsson & Tropp 2011, algorithm 4.4 with the
//! normalised power iterations of scikit-learn's `randomized_svd`).

use nalgebra::DMatrix;
use ndarray::Array2;

use super::linalg::{gaussian, mul_small, orthonormalize, Csr};
use super::Factors;

/// Top-`k` singular triplets of `a` from a sketch of `k + oversamples` columns refined by
/// `n_iter` power iterations.
pub(crate) fn randomized(a: &Csr, k: usize, oversamples: usize, n_iter: usize, seed: u64) -> Factors {
    if a.rows < a.cols {
        // Sketch the smaller side (as scikit-learn's transpose='auto'): the subspace that is
        // iterated and re-normalised is then the short one.
        let f = randomized(&a.transpose(), k, oversamples, n_iter, seed);
        return Factors { u: f.v, v: f.u, ..f };
    }
    // Here a is n × m with m ≤ n.
    let m = a.cols;
    let l = (k + oversamples).min(m);
    let to_f32 = |z: &Array2<f64>| -> Vec<f32> { z.iter().map(|&v| v as f32).collect() };
    let mut z = gaussian(m, l, seed, 0);
    for _ in 0..n_iter {
        // One step of (AᵀA) z. Only the short side is re-normalised (Cholesky QR): in f64 the
        // block's condition number grows at most by (σ₁/σ_l)² per step, which the shifted
        // Cholesky QR (or its Householder fallback) absorbs, and it keeps the n × l side free
        // of dense work until the end.
        // Products in f32 (as scikit-learn's float32 path): the sketch only has to span
        // nearly the right subspace; everything that fixes the final factors is f64.
        let y = a.gather(&to_f32(&z), l);
        z = a.scatter_t(&y, l);
        orthonormalize(&mut z, 1);
    }
    // Q = orth(A z): the range sketch; B = Qᵀ A, formed as Bᵀ = Aᵀ Q.
    // Q may be any orthonormal basis near range(A z): U S Vᵀ = Q Qᵀ A holds for whichever Q,
    // so the product can stay f32; B = Qᵀ A below is f64.
    let y = a.gather(&to_f32(&z), l);
    let mut q = Array2::from_shape_fn((a.rows, l), |(i, j)| f64::from(y[i * l + j]));
    orthonormalize(&mut q, 2);
    let mut bt = a.scatter_t(q.as_slice().expect("contiguous"), l);
    let b_transposed = bt.clone();
    // Bᵀ = Qb R and R = Ur Σ Vrᵀ, so A ≈ Q B = (Q Vr) Σ (Qb Ur)ᵀ.
    let r = orthonormalize(&mut bt, 2);
    let (sigma, ur, vr) = small_svd(r);
    let k = k.min(sigma.len());
    let u = mul_small(q.view(), &vr.columns(0, k).into_owned());
    let v = mul_small(bt.view(), &ur.columns(0, k).into_owned());
    // u_cᵀ A v_c = (Vr e_c)ᵀ B v_c, with B v = (Bᵀ)ᵀ v: a small dense product.
    let bv = b_transposed.t().dot(&v);
    let cross = (0..k).map(|c| sigma[c] * (0..l).map(|i| vr[(i, c)] * bv[[i, c]]).sum::<f64>()).sum();
    Factors { cross, u, s: sigma[..k].to_vec(), v, iterations: n_iter, products: 2 * n_iter + 2, converged: true }
}

/// SVD of a small square matrix, singular values in decreasing order: (σ, U, V).
pub(crate) fn small_svd(r: DMatrix<f64>) -> (Vec<f64>, DMatrix<f64>, DMatrix<f64>) {
    let l = r.nrows();
    let svd = r.svd(true, true);
    let u = svd.u.expect("requested U");
    let vt = svd.v_t.expect("requested Vᵀ");
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&i, &j| svd.singular_values[j].total_cmp(&svd.singular_values[i]).then(i.cmp(&j)));
    let sigma = order.iter().map(|&i| svd.singular_values[i]).collect();
    let us = DMatrix::from_fn(l, order.len(), |row, c| u[(row, order[c])]);
    let vs = DMatrix::from_fn(vt.ncols(), order.len(), |row, c| vt[(order[c], row)]);
    (sigma, us, vs)
}

/// Makes each component's largest-magnitude entry of `u` positive (flipping `v` with it), as
/// scikit-learn's `svd_flip`, so results do not depend on arbitrary eigenvector signs.
pub(crate) fn flip_signs(u: &mut Array2<f64>, v: &mut Array2<f64>) {
    for c in 0..u.ncols() {
        let col = u.column(c);
        let pivot = col.iter().fold(0.0f64, |best, &x| if x.abs() > best.abs() { x } else { best });
        if pivot < 0.0 {
            u.column_mut(c).mapv_inplace(|x| -x);
            v.column_mut(c).mapv_inplace(|x| -x);
        }
    }
}
