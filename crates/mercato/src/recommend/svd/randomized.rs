//! Randomized truncated SVD (Halko, Martinsson & Tropp 2011, algorithm 4.4 with the
//! normalised power iterations of scikit-learn's `randomized_svd`).

use nalgebra::DMatrix;
use ndarray::Array2;

use super::linalg::{
    cholesky_qr_factor, gaussian, gram_f32, mul_small, mul_small_f32, orthonormalize, upper_inverse, zeroed,
    AlignedF32, LANES,
};
use super::Factors;
use crate::data::Rows;

/// Top-`k` singular triplets of `a` from a sketch of `k + oversamples` columns refined by
/// `n_iter` power iterations.
pub(crate) fn randomized(a: &Rows, k: usize, oversamples: usize, n_iter: usize, seed: u64) -> Factors {
    if a.n_rows() < a.n_cols() {
        // Sketch the smaller side (as scikit-learn's transpose='auto'): the subspace that is
        // iterated and re-normalised is then the short one.
        let f = randomized(&a.transpose(), k, oversamples, n_iter, seed);
        return Factors { u: f.v, v: f.u, ..f };
    }
    // Here a is n × m with m ≤ n.
    let (n, m) = (a.n_rows(), a.n_cols());
    let l = (k + oversamples).min(m);
    let mut z = gaussian(m, l, seed, 0);
    // f32 sketches padded to `ld` columns (zeros beyond l) in cache-line-aligned buffers,
    // allocated once and reused by every product; `work` holds the partials of Aᵀ·y.
    let ld = l.next_multiple_of(LANES);
    let mut zf = AlignedF32::zeros(m * ld);
    let mut y = AlignedF32::zeros(n * ld);
    let mut work = a.scatter_work::<f32>(ld, 2);
    for _ in 0..n_iter {
        // One step of (AᵀA) z. Only the short side is re-normalised (Cholesky QR): in f64 the
        // block's condition number grows at most by (σ₁/σ_l)² per step, which the shifted
        // Cholesky QR (or its Householder fallback) absorbs, and it keeps the n × l side free
        // of dense work until the end.
        // Products in f32 (as scikit-learn's float32 path): the sketch only has to span
        // nearly the right subspace; everything that fixes the final factors is f64.
        pad_f32(&z, ld, zf.as_mut_slice());
        a.gather_into(zf.as_slice(), ld, y.as_mut_slice());
        a.scatter_t_into(y.as_slice(), ld, zf.as_mut_slice(), &mut work);
        let zs = zf.as_slice();
        z = Array2::from_shape_fn((m, l), |(i, j)| f64::from(zs[i * ld + j]));
        orthonormalize(&mut z, 1);
    }
    drop(work);
    // Y = A z spans the range sketch; Q = orth(Y), B = Qᵀ A, formed as Bᵀ = Aᵀ Q.
    pad_f32(&z, ld, zf.as_mut_slice());
    a.gather_into(zf.as_slice(), ld, y.as_mut_slice());
    drop(zf);
    let y = y.as_slice();
    // Q may be any orthonormal basis near range(Y): U S Vᵀ = Q Qᵀ A holds for whichever Q, so
    // Y can stay f32. With z orthonormal, Y's condition number is that of A on the sketched
    // subspace (about σ₁/σ_l), so one Cholesky QR step, Q = Y R⁻¹ with R from the f64 Gram
    // matrix, is orthonormal to f64 rounding; Q is never formed: Bᵀ = (Aᵀ Y) R⁻¹ and
    // U = Y (R⁻¹ Vr). Ill-conditioned sketches (rank-deficient A) take the explicit path.
    let (q_map, bt) = match cholesky_qr_factor(&gram_f32(y, n, ld, l)) {
        Some(r) => {
            let rinv = upper_inverse(&r);
            let mut aty = zeroed::<f64>(m * ld);
            // f64 partials are twice the size: two parts keep them in cache.
            let mut work = a.scatter_work::<f64>(ld, 2);
            a.scatter_t_into(y, ld, &mut aty, &mut work);
            drop(work);
            let aty = Array2::from_shape_fn((m, l), |(i, j)| aty[i * ld + j]);
            (QMap::Implicit(rinv.clone()), mul_small(aty.view(), &rinv))
        }
        None => {
            let mut q = Array2::from_shape_fn((n, l), |(i, j)| f64::from(y[i * ld + j]));
            orthonormalize(&mut q, 2);
            let mut bt = vec![0f64; m * l];
            let mut work = a.scatter_work::<f64>(l, 2);
            a.scatter_t_into(q.as_slice().expect("row-major"), l, &mut bt, &mut work);
            let bt = Array2::from_shape_vec((m, l), bt).expect("m × l");
            (QMap::Explicit(q), bt)
        }
    };
    let b_transposed = bt.clone();
    let mut bt = bt;
    // Bᵀ = Qb R and R = Ur Σ Vrᵀ, so A ≈ Q B = (Q Vr) Σ (Qb Ur)ᵀ.
    let r = orthonormalize(&mut bt, 2);
    let (sigma, ur, vr) = small_svd(r);
    let k = k.min(sigma.len());
    let vr_k = vr.columns(0, k).into_owned();
    let u = match q_map {
        QMap::Implicit(rinv) => mul_small_f32(y, n, ld, l, &(rinv * &vr_k)),
        QMap::Explicit(q) => mul_small(q.view(), &vr_k),
    };
    let v = mul_small(bt.view(), &ur.columns(0, k).into_owned());
    // u_cᵀ A v_c = (Vr e_c)ᵀ B v_c, with B v = (Bᵀ)ᵀ v: a small dense product.
    let bv = b_transposed.t().dot(&v);
    let cross = (0..k).map(|c| sigma[c] * (0..l).map(|i| vr[(i, c)] * bv[[i, c]]).sum::<f64>()).sum();
    Factors { cross, u, s: sigma[..k].to_vec(), v, iterations: n_iter, products: 2 * n_iter + 2, converged: true }
}

/// How the orthonormal range basis `Q` is held: implicitly as `Y R⁻¹` (the f32 sketch `Y`
/// and the inverse Cholesky factor), or explicitly.
enum QMap {
    Implicit(DMatrix<f64>),
    Explicit(Array2<f64>),
}

/// Copies a row-major f64 block (rows × l) into an f32 buffer of rows × `ld` (ld ≥ l), whose
/// padding columns stay zero.
fn pad_f32(z: &Array2<f64>, ld: usize, out: &mut [f32]) {
    let l = z.ncols();
    for (orow, zrow) in out.chunks_exact_mut(ld).zip(z.rows()) {
        for (o, &v) in orow[..l].iter_mut().zip(zrow) {
            *o = v as f32;
        }
    }
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
    // One pass over u's rows in memory order (a column at a time would stride through all of u).
    let k = u.ncols();
    let mut pivot = vec![0.0f64; k];
    for row in u.rows() {
        for (p, &x) in pivot.iter_mut().zip(row) {
            if x.abs() > p.abs() {
                *p = x;
            }
        }
    }
    let sign: Vec<f64> = pivot.iter().map(|&p| if p < 0.0 { -1.0 } else { 1.0 }).collect();
    if sign.iter().all(|&s| s > 0.0) {
        return;
    }
    for m in [u, v] {
        for mut row in m.rows_mut() {
            for (x, &s) in row.iter_mut().zip(&sign) {
                *x *= s;
            }
        }
    }
}
