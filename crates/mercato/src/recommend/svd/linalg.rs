//! Kernels behind the truncated SVD: parallel sparse × dense products over CSR rows, tall
//! dense blocks (Gram matrices, products with small matrices, orthonormalisation) and seeded
//! Gaussian blocks.
//!
//! Every parallel kernel splits its output into pieces that one thread computes in a fixed
//! order, and every reduction adds fixed-size partials in block order, so results are
//! bit-identical for any number of threads.

use nalgebra::DMatrix;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// Rows per block in reductions and dense products; fixed so reductions do not depend on the
/// thread count.
pub(crate) const BLOCK: usize = 2048;

/// A compact CSR matrix (`u32` column indices, `f32` values) used by the kernels.
#[derive(Clone, Debug)]
pub(crate) struct Csr {
    pub rows: usize,
    pub cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    /// The transpose (cols × rows), rows sorted (counting sort, O(nnz)).
    pub fn transpose(&self) -> Csr {
        let nnz = self.values.len();
        let mut indptr = vec![0usize; self.cols + 1];
        for &j in &self.indices {
            indptr[j as usize + 1] += 1;
        }
        for j in 0..self.cols {
            indptr[j + 1] += indptr[j];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; nnz];
        let mut values = vec![0f32; nnz];
        for r in 0..self.rows {
            for k in self.indptr[r]..self.indptr[r + 1] {
                let j = self.indices[k] as usize;
                let p = next[j];
                indices[p] = r as u32;
                values[p] = self.values[k];
                next[j] += 1;
            }
        }
        Csr { rows: self.cols, cols: self.rows, indptr, indices, values }
    }

    /// Sum of squared values, in f64.
    pub fn frobenius_sq(&self) -> f64 {
        self.values.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
    }

    /// `self · x` for a row-major `x` of shape cols × l; returns rows × l.
    pub fn mul_dense(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        debug_assert_eq!(x.nrows(), self.cols);
        let l = x.ncols();
        let xs = x.as_standard_layout();
        let y = self.gather(xs.as_slice().expect("standard layout"), l);
        Array2::from_shape_vec((self.rows, l), y).expect("rows × l")
    }

    /// `self · x` over row-major slices (x: cols × l), accumulating in `T`: each output row is
    /// gathered by one thread from the `x` rows its non-zeros name.
    pub fn gather<T: Scalar>(&self, xs: &[T], l: usize) -> Vec<T> {
        let mut y = vec![T::default(); self.rows * l];
        if l == 0 {
            return y;
        }
        y.par_chunks_mut(l).enumerate().with_min_len(64).for_each(|(r, yrow)| {
            let (start, end) = (self.indptr[r], self.indptr[r + 1]);
            for (&j, &a) in self.indices[start..end].iter().zip(&self.values[start..end]) {
                let a = T::from(a);
                let j = j as usize;
                for (yv, &xv) in yrow.iter_mut().zip(&xs[j * l..j * l + l]) {
                    *yv += a * xv;
                }
            }
        });
        y
    }

    /// `selfᵀ · y` for a row-major `y` (rows × l), returned as cols × l in `f64`.
    ///
    /// Scatters each row of `self` into a partial result accumulated in `T`, so `y` is read
    /// once in order and the writes land in a cols × l block that stays in cache (a gather
    /// over the transpose would hop across all of `y`). The rows are cut into a number of
    /// parts that depends only on the matrix (not on the thread count), and partials are
    /// summed in part order: the result is the same for any number of threads.
    pub fn scatter_t<T: Scalar>(&self, ys: &[T], l: usize) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((self.cols, l));
        if l == 0 || self.cols == 0 {
            return out;
        }
        let nnz = self.values.len();
        let part_bytes = self.cols * l * std::mem::size_of::<T>();
        let max_by_memory = ((256usize << 20) / part_bytes.max(1)).max(1);
        let parts = (nnz / 400_000).clamp(1, 8).min(max_by_memory);
        // Row boundaries that split the non-zeros evenly.
        let mut bounds = vec![0usize; parts + 1];
        for (p, b) in bounds.iter_mut().enumerate().skip(1) {
            let target = nnz * p / parts;
            *b = self.indptr.partition_point(|&x| x < target).min(self.rows);
        }
        bounds[parts] = self.rows;
        let partials: Vec<Vec<T>> = (0..parts)
            .into_par_iter()
            .map(|p| {
                let mut z = vec![T::default(); self.cols * l];
                for r in bounds[p]..bounds[p + 1].max(bounds[p]) {
                    let yrow = &ys[r * l..r * l + l];
                    let (start, end) = (self.indptr[r], self.indptr[r + 1]);
                    for (&j, &a) in self.indices[start..end].iter().zip(&self.values[start..end]) {
                        let a = T::from(a);
                        let j = j as usize;
                        for (zv, &yv) in z[j * l..j * l + l].iter_mut().zip(yrow) {
                            *zv += a * yv;
                        }
                    }
                }
                z
            })
            .collect();
        let os = out.as_slice_mut().expect("contiguous");
        os.par_chunks_mut(4096).enumerate().for_each(|(c, chunk)| {
            let (lo, len) = (c * 4096, chunk.len());
            for part in &partials {
                for (o, &v) in chunk.iter_mut().zip(&part[lo..lo + len]) {
                    *o += v.into();
                }
            }
        });
        out
    }

    /// `self · x` for a vector.
    pub fn mul_vec(&self, x: &[f64]) -> Vec<f64> {
        debug_assert_eq!(x.len(), self.cols);
        let mut y = vec![0.0; self.rows];
        y.par_iter_mut().enumerate().with_min_len(512).for_each(|(r, yv)| {
            let (start, end) = (self.indptr[r], self.indptr[r + 1]);
            let mut acc = 0.0;
            for (&j, &a) in self.indices[start..end].iter().zip(&self.values[start..end]) {
                acc += f64::from(a) * x[j as usize];
            }
            *yv = acc;
        });
        y
    }
}

/// Element type of the dense operands in the sparse products: `f32` for the power
/// iterations (half the memory traffic, as scikit-learn's float32 path), `f64` elsewhere.
pub(crate) trait Scalar:
    Copy + Default + Send + Sync + From<f32> + Into<f64> + std::ops::AddAssign + std::ops::Mul<Output = Self>
{
}

impl Scalar for f32 {}

impl Scalar for f64 {}

/// splitmix64: decorrelates (seed, stream, block) into one RNG seed.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A rows × cols matrix of standard normal draws; one RNG stream per block of rows, so the
/// result is the same for any thread count.
pub(crate) fn gaussian(rows: usize, cols: usize, seed: u64, stream: u64) -> Array2<f64> {
    let mut out = Array2::<f64>::zeros((rows, cols));
    if cols == 0 {
        return out;
    }
    let data = out.as_slice_mut().expect("contiguous");
    data.par_chunks_mut(BLOCK * cols).enumerate().for_each(|(b, chunk)| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed ^ mix(stream ^ mix(b as u64))));
        for v in chunk.iter_mut() {
            *v = StandardNormal.sample(&mut rng);
        }
    });
    out
}

/// `xᵀ x` for a tall row-major `x` (n × l): partial products over fixed row blocks, summed in
/// block order.
pub(crate) fn gram(x: ArrayView2<'_, f64>) -> DMatrix<f64> {
    let (n, l) = x.dim();
    let blocks: Vec<Array2<f64>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let xb = x.slice(s![b * BLOCK..((b + 1) * BLOCK).min(n), ..]);
            xb.t().dot(&xb)
        })
        .collect();
    let mut g = DMatrix::<f64>::zeros(l, l);
    for p in blocks {
        for i in 0..l {
            for j in 0..l {
                g[(i, j)] += p[[i, j]];
            }
        }
    }
    // Exact symmetry (the blocks are symmetric up to rounding order).
    for i in 0..l {
        for j in 0..i {
            let v = 0.5 * (g[(i, j)] + g[(j, i)]);
            g[(i, j)] = v;
            g[(j, i)] = v;
        }
    }
    g
}

/// `x · m` for a tall row-major `x` (n × l) and a small `m` (l × c), in parallel row blocks.
pub(crate) fn mul_small(x: ArrayView2<'_, f64>, m: &DMatrix<f64>) -> Array2<f64> {
    let (n, l) = x.dim();
    debug_assert_eq!(l, m.nrows());
    let c = m.ncols();
    let m = Array2::from_shape_fn((l, c), |(i, j)| m[(i, j)]);
    let mut out = Array2::<f64>::zeros((n, c));
    out.axis_chunks_iter_mut(Axis(0), BLOCK).into_par_iter().enumerate().for_each(|(b, mut ob)| {
        let rows = ob.nrows();
        let xb = x.slice(s![b * BLOCK..b * BLOCK + rows, ..]);
        general_mat_mul(1.0, &xb, &m, 0.0, &mut ob);
    });
    out
}

/// Inverse of an upper-triangular matrix by back substitution.
fn upper_inverse(r: &DMatrix<f64>) -> DMatrix<f64> {
    let l = r.nrows();
    let mut inv = DMatrix::<f64>::zeros(l, l);
    for j in 0..l {
        inv[(j, j)] = 1.0 / r[(j, j)];
        for i in (0..j).rev() {
            let mut acc = 0.0;
            for t in i + 1..=j {
                acc += r[(i, t)] * inv[(t, j)];
            }
            inv[(i, j)] = -acc / r[(i, i)];
        }
    }
    inv
}

/// Upper Cholesky factor `R` (`g = Rᵀ R`), or `None` when `g` is not numerically positive definite.
fn cholesky_upper(g: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let chol = nalgebra::Cholesky::new(g.clone())?;
    let r = chol.l().transpose();
    let ok = (0..r.nrows()).all(|i| r[(i, i)].is_finite() && r[(i, i)] > 0.0);
    ok.then_some(r)
}

/// Householder QR of a tall row-major block: the robust fallback when Cholesky QR breaks
/// down (rank-deficient or extremely ill-conditioned blocks). Returns (Q, R).
fn householder(x: ArrayView2<'_, f64>) -> (Array2<f64>, DMatrix<f64>) {
    let (n, l) = x.dim();
    let m = DMatrix::from_fn(n, l, |i, j| x[[i, j]]);
    let qr = m.qr();
    let q = qr.q();
    let r = qr.r();
    (Array2::from_shape_fn((n, l), |(i, j)| q[(i, j)]), r)
}

/// Orthonormalises the columns of a tall block in place and returns `R` with `x_in = Q R`.
///
/// Cholesky QR (Gram matrix, Cholesky, `x R⁻¹`: all level-3 work, parallel and deterministic)
/// repeated `passes` times (2 = CholeskyQR2, orthogonal to machine precision when the block's
/// condition number is below ~1e7). A shift restores positive definiteness when the Gram
/// matrix is numerically singular (shifted CholeskyQR3, Fukaya et al. 2020); Householder QR
/// takes over when even that fails or orthogonality is not reached.
pub(crate) fn orthonormalize(x: &mut Array2<f64>, passes: usize) -> DMatrix<f64> {
    let (n, l) = x.dim();
    let mut r_total = DMatrix::<f64>::identity(l, l);
    if l == 0 {
        return r_total;
    }
    let fallback = |x: &mut Array2<f64>, r_total: DMatrix<f64>| {
        let (q, r) = householder(x.view());
        *x = q;
        r * r_total
    };
    debug_assert!(n >= l, "orthonormalize needs a tall block, got {n} x {l}");
    let mut needed = passes.max(1);
    let mut pass = 0;
    while pass < needed {
        if pass >= 6 {
            return fallback(x, r_total);
        }
        let g = gram(x.view());
        if pass >= 1 && pass + 1 == needed {
            // The last pass only polishes: the block must already be close to orthonormal,
            // else one more pass is due.
            let mut dev = 0.0f64;
            for i in 0..l {
                for j in 0..l {
                    let target = if i == j { 1.0 } else { 0.0 };
                    dev = dev.max((g[(i, j)] - target).abs());
                }
            }
            if dev > 0.5 {
                needed += 1;
            }
        }
        let r = match cholesky_upper(&g) {
            Some(r) => r,
            None => {
                let trace: f64 = (0..l).map(|i| g[(i, i)]).sum();
                let shift = 11.0 * ((n * l + l * (l + 1)) as f64) * f64::EPSILON * trace.max(f64::MIN_POSITIVE);
                let shifted = &g + DMatrix::<f64>::identity(l, l) * shift;
                match cholesky_upper(&shifted) {
                    Some(r) => {
                        // A shifted pass only improves conditioning: two plain passes follow.
                        needed = needed.max(pass + 3);
                        r
                    }
                    None => return fallback(x, r_total),
                }
            }
        };
        let rinv = upper_inverse(&r);
        *x = mul_small(x.view(), &rinv);
        r_total = r * r_total;
        pass += 1;
    }
    r_total
}

/// `basisᵀ · coeffs` where `basis` holds one vector per row (j × len) and `coeffs` is j × c:
/// returns c vectors (c × len), computed in parallel over column blocks.
pub(crate) fn rotate(basis: ArrayView2<'_, f64>, coeffs: &DMatrix<f64>) -> Array2<f64> {
    let (j, len) = basis.dim();
    let c = coeffs.ncols();
    debug_assert_eq!(coeffs.nrows(), j);
    let ct = Array2::from_shape_fn((c, j), |(a, b)| coeffs[(b, a)]);
    let mut out = Array2::<f64>::zeros((c, len));
    let col_block = 1024;
    let pieces: Vec<(usize, Array2<f64>)> = (0..len.div_ceil(col_block))
        .into_par_iter()
        .map(|b| {
            let lo = b * col_block;
            let hi = (lo + col_block).min(len);
            (lo, ct.dot(&basis.slice(s![.., lo..hi])))
        })
        .collect();
    for (lo, p) in pieces {
        let w = p.ncols();
        out.slice_mut(s![.., lo..lo + w]).assign(&p);
    }
    out
}

/// Dot product with a fixed summation order.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four accumulators: faster, and still a fixed order.
    let mut acc = [0.0f64; 4];
    let (ca, ra) = a.split_at(a.len() / 4 * 4);
    let (cb, rb) = b.split_at(ca.len());
    for (x, y) in ca.chunks_exact(4).zip(cb.chunks_exact(4)) {
        for t in 0..4 {
            acc[t] += x[t] * y[t];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Euclidean norm.
pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Classical Gram–Schmidt, twice ("twice is enough"), of `v` against the first `j` rows of
/// `basis` (orthonormal vectors, one per row). Returns the summed coefficients.
pub(crate) fn cgs2(basis: ArrayView2<'_, f64>, j: usize, v: &mut [f64]) -> Vec<f64> {
    let mut total = vec![0.0; j];
    if j == 0 {
        return total;
    }
    for _ in 0..2 {
        let h: Vec<f64> =
            (0..j).into_par_iter().map(|i| dot(basis.row(i).as_slice().expect("row-major basis"), v)).collect();
        let chunk = 4096;
        v.par_chunks_mut(chunk).enumerate().for_each(|(c, vc)| {
            let lo = c * chunk;
            for (i, &hi) in h.iter().enumerate() {
                let row = basis.row(i);
                let br = &row.as_slice().expect("row-major basis")[lo..lo + vc.len()];
                for (x, &b) in vc.iter_mut().zip(br) {
                    *x -= hi * b;
                }
            }
        });
        for (t, hi) in total.iter_mut().zip(h) {
            *t += hi;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_csr() -> Csr {
        // [[1, 0, 2], [0, 3, 0]]
        Csr { rows: 2, cols: 3, indptr: vec![0, 2, 3], indices: vec![0, 2, 1], values: vec![1.0, 2.0, 3.0] }
    }

    #[test]
    fn products_and_transpose() {
        let a = small_csr();
        let t = a.transpose();
        assert_eq!((t.rows, t.cols), (3, 2));
        assert_eq!(t.indptr, vec![0, 1, 2, 3]);
        assert_eq!(t.indices, vec![0, 1, 0]);
        assert_eq!(t.values, vec![1.0, 3.0, 2.0]);
        let x = Array2::from_shape_vec((3, 2), vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let y = a.mul_dense(x.view());
        assert_eq!(y, Array2::from_shape_vec((2, 2), vec![3.0, 2.0, 0.0, 3.0]).unwrap());
        assert_eq!(a.mul_vec(&[1.0, 1.0, 1.0]), vec![3.0, 3.0]);
        assert_eq!(a.frobenius_sq(), 14.0);
    }

    #[test]
    fn orthonormalize_reconstructs() {
        for (n, l) in [(5000, 12), (7, 7)] {
            let x0 = gaussian(n, l, 3, 1);
            let mut x = x0.clone();
            let r = orthonormalize(&mut x, 2);
            let g = gram(x.view());
            let cols = l;
            for i in 0..cols {
                for j in 0..cols {
                    let t = if i == j { 1.0 } else { 0.0 };
                    assert!((g[(i, j)] - t).abs() < 1e-10, "{n}x{l} gram {i},{j} = {}", g[(i, j)]);
                }
            }
            let back = mul_small(x.view(), &r);
            let err = (&back - &x0).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(err < 1e-9, "{n}x{l}: reconstruction error {err}");
        }
    }

    #[test]
    fn orthonormalize_rank_deficient() {
        let mut x = gaussian(300, 6, 1, 2);
        for i in 0..300 {
            x[[i, 5]] = x[[i, 0]] + x[[i, 1]];
            x[[i, 4]] = 0.0;
        }
        let x0 = x.clone();
        let r = orthonormalize(&mut x, 2);
        let g = gram(x.view());
        for i in 0..6 {
            assert!((g[(i, i)] - 1.0).abs() < 1e-8, "column {i} norm² {}", g[(i, i)]);
        }
        let back = mul_small(x.view(), &r);
        assert!((&back - &x0).iter().all(|v| v.abs() < 1e-8));
    }

    #[test]
    fn gaussian_is_seeded() {
        assert_eq!(gaussian(5000, 3, 7, 0), gaussian(5000, 3, 7, 0));
        assert_ne!(gaussian(10, 3, 7, 0), gaussian(10, 3, 8, 0));
    }

    #[test]
    fn cgs2_orthogonalises() {
        let mut b = gaussian(3, 50, 1, 0);
        let _ = orthonormalize(&mut b.view_mut().reversed_axes().to_owned(), 2);
        let mut basis = b.t().to_owned();
        let _ = orthonormalize(&mut basis, 2);
        let basis = basis.t().as_standard_layout().to_owned();
        let mut v: Vec<f64> = gaussian(1, 50, 2, 0).into_raw_vec_and_offset().0;
        cgs2(basis.view(), 3, &mut v);
        for i in 0..3 {
            assert!(dot(basis.row(i).as_slice().unwrap(), &v).abs() < 1e-12);
        }
    }
}
