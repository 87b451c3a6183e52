//! Accurate truncated SVD: Golub–Kahan–Lanczos bidiagonalisation with thick restarts
//! (the augmented restart of Baglama & Reichel's IRLBA, 2005) and one-sided full
//! reorthogonalisation (Simon & Zha, 2000) of the vectors on the short side.
//!
//! After `mb` steps, `A P = Q B` and `Aᵀ Q = P Bᵀ + r e_mbᵀ`; the SVD `B = U_B Σ V_Bᵀ` gives
//! Ritz triplets whose residual is exactly `‖r‖ |U_B[mb, i]|`. A restart keeps the best
//! `kk ≥ k` Ritz vectors (`P V_B`, `Q U_B`) plus `r / ‖r‖`, so `B` becomes diagonal with one
//! extra "arrow" column, and the recurrence goes on from there.

use nalgebra::DMatrix;
use ndarray::{s, Array2};

use super::linalg::{cgs2, gaussian, norm, rotate};
use super::randomized::small_svd;
use super::Factors;
use crate::data::Rows;

/// Top-`k` singular triplets of `a` (`at` its transpose) to residual `tol · σ₁`.
pub(crate) fn lanczos(a: &Rows, at: &Rows, k: usize, ncv: usize, tol: f64, max_restarts: usize, seed: u64) -> Factors {
    if a.n_rows() < a.n_cols() {
        let f = lanczos(at, a, k, ncv, tol, max_restarts, seed);
        return Factors { u: f.v, v: f.u, ..f };
    }
    let (n, m) = (a.n_rows(), a.n_cols());
    let mb = ncv.max(k + 1).min(m).max(k);
    let anorm = a.frobenius_sq().sqrt();
    let tiny = 64.0 * f64::EPSILON * anorm.max(f64::MIN_POSITIVE);
    let mut p = Array2::<f64>::zeros((mb + 1, m));
    let mut q = Array2::<f64>::zeros((mb, n));
    let mut b = DMatrix::<f64>::zeros(mb, mb);
    let mut stream = 1u64;
    let mut fresh = |len: usize| {
        stream += 1;
        gaussian(1, len, seed, stream).into_raw_vec_and_offset().0
    };
    let mut start = fresh(m);
    let nrm = norm(&start);
    start.iter_mut().for_each(|v| *v /= nrm);
    p.row_mut(0).assign(&ndarray::ArrayView1::from(&start));
    let mut kk = 0usize;
    let mut products = 0usize;
    let mut restarts = 0usize;
    loop {
        let mut beta_last = 0.0;
        for j in kk..mb {
            let mut qj = a.mul_vec(p.row(j).as_slice().expect("row-major"));
            products += 1;
            if j == kk && kk > 0 {
                // First step after a restart: A p = Σ ρ_i q_i + α q; the ρ_i come out of an
                // explicit orthogonalisation against the kept left vectors.
                let h = cgs2(q.view(), kk, &mut qj);
                for (i, hi) in h.into_iter().enumerate() {
                    b[(i, kk)] = hi;
                }
            } else if j > 0 {
                let beta = b[(j - 1, j)];
                let prev = q.row(j - 1);
                for (x, &y) in qj.iter_mut().zip(prev.iter()) {
                    *x -= beta * y;
                }
            }
            let mut alpha = norm(&qj);
            if alpha <= tiny {
                // A p_j lies in the span already built: continue with any unit vector
                // orthogonal to it (B gets a zero, the factorisation stays exact).
                qj = fresh(n);
                cgs2(q.view(), j, &mut qj);
                let nq = norm(&qj);
                qj.iter_mut().for_each(|v| *v /= nq);
                alpha = 0.0;
            } else {
                qj.iter_mut().for_each(|v| *v /= alpha);
            }
            b[(j, j)] = alpha;
            q.row_mut(j).assign(&ndarray::ArrayView1::from(&qj));

            let mut r = at.mul_vec(&qj);
            products += 1;
            let pj = p.row(j);
            for (x, &y) in r.iter_mut().zip(pj.iter()) {
                *x -= alpha * y;
            }
            cgs2(p.view(), j + 1, &mut r);
            let mut beta = norm(&r);
            if beta <= tiny && j + 1 >= m {
                // The basis spans the whole space: the factorisation is exact.
                r.iter_mut().for_each(|v| *v = 0.0);
                beta = 0.0;
            } else if beta <= tiny {
                // Invariant subspace: restart the recurrence with a fresh orthogonal vector.
                r = fresh(m);
                cgs2(p.view(), j + 1, &mut r);
                let nr = norm(&r);
                r.iter_mut().for_each(|v| *v /= nr);
                beta = 0.0;
            } else {
                r.iter_mut().for_each(|v| *v /= beta);
            }
            if j + 1 < mb {
                b[(j, j + 1)] = beta;
            }
            beta_last = beta;
            p.row_mut(j + 1).assign(&ndarray::ArrayView1::from(&r));
        }

        let (sigma, ub, vb) = small_svd(b.clone());
        let scale = sigma.first().copied().unwrap_or(0.0);
        let residual = |i: usize| beta_last * ub[(mb - 1, i)].abs();
        let nconv = (0..k).filter(|&i| residual(i) <= tol * scale).count();
        if nconv == k || restarts >= max_restarts {
            let v = rotate(p.slice(s![..mb, ..]), &vb.columns(0, k).into_owned()).reversed_axes();
            let v = v.as_standard_layout().into_owned();
            // Left vectors from A v / σ (as ARPACK-based svds does): exact given v, and
            // independent of how orthogonal the unreorthogonalised long side has stayed.
            let mut u = a.mul_dense(v.view());
            products += k;
            let u_ritz = rotate(q.view(), &ub.columns(0, k).into_owned());
            let mut cross = 0.0;
            for (c, &sc) in sigma.iter().enumerate().take(k) {
                // cross accumulates s_c · u_cᵀ (A v_c) for the error, with A v_c = the column
                // before it is turned into u_c.
                if sc > 1e-10 * scale {
                    let av = u.column(c);
                    cross += av.dot(&av);
                    u.column_mut(c).mapv_inplace(|x| x / sc);
                } else {
                    cross += sc * u_ritz.row(c).dot(&u.column(c));
                    u.column_mut(c).assign(&u_ritz.row(c));
                }
            }
            return Factors {
                cross,
                u,
                s: sigma[..k].to_vec(),
                v,
                iterations: restarts,
                products,
                converged: nconv == k,
            };
        }
        restarts += 1;
        // Keep the wanted triplets plus up to half the spare room for those already
        // converged (ARPACK's adjustment of nev), so convergence accelerates.
        kk = (k + nconv.min((mb - k) / 2)).min(mb - 1);
        let new_p = rotate(p.slice(s![..mb, ..]), &vb.columns(0, kk).into_owned());
        let new_q = rotate(q.view(), &ub.columns(0, kk).into_owned());
        let residual_vec = p.row(mb).to_owned();
        p.slice_mut(s![..kk, ..]).assign(&new_p);
        p.row_mut(kk).assign(&residual_vec);
        q.slice_mut(s![..kk, ..]).assign(&new_q);
        b.fill(0.0);
        for (i, &sv) in sigma.iter().enumerate().take(kk) {
            b[(i, i)] = sv;
        }
        // Keep later rows clean (not needed for correctness; avoids stale data in views).
        p.slice_mut(s![kk + 1.., ..]).fill(0.0);
        q.slice_mut(s![kk.., ..]).fill(0.0);
    }
}
