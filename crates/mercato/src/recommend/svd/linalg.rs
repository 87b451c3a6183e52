//! Kernels behind the truncated SVD: parallel sparse × dense products over CSR rows, tall
//! dense blocks (Gram matrices, products with small matrices, orthonormalisation) and seeded
//! Gaussian blocks.
//!
//! Every parallel kernel splits its output into pieces that one thread computes in a fixed
//! order, and every reduction adds fixed-size partials in block order, so results are
//! bit-identical for any number of threads.

use multiversion::multiversion;
use nalgebra::DMatrix;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Axis};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::data::Rows;

/// Columns of a sketch handled together in registers by [`Rows::gather_into`]; sketches are
/// padded to a multiple of it (16 `f32` = one 64-byte cache line).
pub(crate) const LANES: usize = 32;

/// Rows per block in reductions and dense products; fixed so reductions do not depend on the
/// thread count.
pub(crate) const BLOCK: usize = 2048;

/// The sparse products of the solvers, over the matrix being factorised: a [`Rows`] whose
/// values may be negative (centred ratings, see [`Rows::from_signed_parts`]).
impl Rows {
    /// Sum of squared values, in f64.
    pub(crate) fn frobenius_sq(&self) -> f64 {
        self.data.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
    }

    /// `self · x` for a row-major `x` of shape cols × l; returns rows × l.
    pub(crate) fn mul_dense(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        debug_assert_eq!(x.nrows(), self.n_cols);
        let l = x.ncols();
        let xs = x.as_standard_layout();
        let y = self.gather(xs.as_slice().expect("standard layout"), l);
        Array2::from_shape_vec((self.n_rows(), l), y).expect("rows × l")
    }

    /// `self · x` over row-major slices (x: cols × l), accumulating in `T`: each output row is
    /// gathered by one thread from the `x` rows its non-zeros name.
    pub(crate) fn gather<X: Copy + Sync, T: Scalar + From<X>>(&self, xs: &[X], l: usize) -> Vec<T> {
        let mut y = vec![T::default(); self.n_rows() * l];
        self.gather_into(xs, l, &mut y);
        y
    }

    /// As [`Rows::gather`], into a caller's buffer of rows × l (overwritten), so iterative
    /// solvers reuse one allocation instead of faulting in fresh pages every product.
    ///
    /// When `l` is a multiple of [`LANES`] (the padded sketches), each output row is built
    /// [`LANES`] columns at a time in registers: per stored value one load of that slice of
    /// the `x` row (one cache line when `x` is 64-byte aligned) and `LANES` multiply-adds,
    /// instead of a load and store of the whole output row.
    pub(crate) fn gather_into<X: Copy + Sync, T: Scalar + From<X>>(&self, xs: &[X], l: usize, out: &mut [T]) {
        debug_assert_eq!(xs.len(), self.n_cols * l);
        debug_assert_eq!(out.len(), self.n_rows() * l);
        if l == 0 {
            return;
        }
        out.par_chunks_mut(l).enumerate().with_min_len(64).for_each(|(r, yrow)| {
            let (start, end) = (self.indptr[r], self.indptr[r + 1]);
            gather_row(&self.indices[start..end], &self.data[start..end], xs, l, yrow);
        });
    }

    /// `selfᵀ · y` for a row-major `y` (rows × l) into `out` (cols × l, overwritten),
    /// accumulating in `T`.
    ///
    /// Scatters each row of `self` into a partial result, so `y` is read once in order and
    /// the writes land in a cols × l block that stays in cache (a gather over the transpose
    /// would hop across all of `y`). The rows are cut into `work.len()` parts (chosen from
    /// the matrix, not the thread count: see [`Rows::scatter_work`]) whose partials are
    /// summed in part order: the same result for any number of threads. `work` holds the
    /// partials (cols × l each, see [`Rows::scatter_work`]) between calls.
    pub(crate) fn scatter_t_into<X: Copy + Sync, T: Scalar + From<X>>(
        &self,
        ys: &[X],
        l: usize,
        out: &mut [T],
        work: &mut [Vec<T>],
    ) {
        debug_assert!(ys.len() == self.n_rows() * l && out.len() == self.n_cols * l);
        let parts = work.len().max(1);
        let nnz = self.data.len();
        let bounds: Vec<usize> = (0..=parts)
            .map(|p| {
                if p == parts {
                    self.n_rows()
                } else {
                    self.indptr.partition_point(|&x| x < nnz * p / parts).min(self.n_rows())
                }
            })
            .collect();
        work.par_iter_mut().enumerate().for_each(|(p, z)| {
            z.fill(T::default());
            let rows = bounds[p]..bounds[p + 1].max(bounds[p]);
            let (start, end) = (self.indptr[rows.start], self.indptr[rows.end]);
            let row_ys = &ys[rows.start * l..rows.end * l];
            scatter_rows(
                &self.indptr[rows.start..=rows.end],
                &self.indices[start..end],
                &self.data[start..end],
                row_ys,
                l,
                z,
            );
        });
        let work = &*work;
        out.par_chunks_mut(4096).enumerate().for_each(|(c, chunk)| {
            let (lo, len) = (c * 4096, chunk.len());
            chunk.copy_from_slice(&work[0][lo..lo + len]);
            for part in &work[1..] {
                for (o, &v) in chunk.iter_mut().zip(&part[lo..lo + len]) {
                    *o += v;
                }
            }
        });
    }

    /// The partials of [`Rows::scatter_t_into`] for `l` columns: one part per 1.25M stored
    /// values, at most `max_parts`, each a cols × l block.
    pub(crate) fn scatter_work<T: Zeroed>(&self, l: usize, max_parts: usize) -> Vec<Vec<T>> {
        let parts = (self.data.len() / 1_250_000).clamp(1, max_parts.max(1));
        (0..parts).map(|_| zeroed(self.n_cols * l)).collect()
    }

    /// `self · x` for a vector.
    pub(crate) fn mul_vec(&self, x: &[f64]) -> Vec<f64> {
        debug_assert_eq!(x.len(), self.n_cols);
        let mut y = vec![0.0; self.n_rows()];
        y.par_iter_mut().enumerate().with_min_len(512).for_each(|(r, yv)| {
            let (start, end) = (self.indptr[r], self.indptr[r + 1]);
            let mut acc = 0.0;
            for (&j, &a) in self.indices[start..end].iter().zip(&self.data[start..end]) {
                acc += f64::from(a) * x[j as usize];
            }
            *yv = acc;
        });
        y
    }
}

/// One output row of [`Rows::gather_into`]: `yrow = Σ_k val[k] · x[idx[k]]` (x row-major,
/// `l` columns).
///
/// Also compiled for AVX2 and picked at run time: the same additions in the same order per
/// element, only wider, so the same bits on any x86-64 machine.
#[multiversion(targets("x86_64+avx2"))]
fn gather_row<X: Copy, T: Scalar + From<X>>(idx: &[u32], val: &[f32], xs: &[X], l: usize, yrow: &mut [T]) {
    if l.is_multiple_of(LANES) {
        for (c, ychunk) in yrow.chunks_exact_mut(LANES).enumerate() {
            let mut acc = [T::default(); LANES];
            for (&j, &a) in idx.iter().zip(val) {
                let a = T::from(a);
                let at = j as usize * l + c * LANES;
                for (s, &x) in acc.iter_mut().zip(&xs[at..at + LANES]) {
                    *s += a * T::from(x);
                }
            }
            ychunk.copy_from_slice(&acc);
        }
    } else {
        yrow.fill(T::default());
        for (&j, &a) in idx.iter().zip(val) {
            let a = T::from(a);
            let j = j as usize;
            for (yv, &xv) in yrow.iter_mut().zip(&xs[j * l..j * l + l]) {
                *yv += a * T::from(xv);
            }
        }
    }
}

/// The scatter of a run of CSR rows into one partial of [`Rows::scatter_t_into`]:
/// `z[j] += a_rj · y_r` for every stored `a_rj` (`indptr` the run's row starts, absolute into
/// the full arrays, `indices`/`values` the run's entries, `ys` its `y` rows). Runtime-dispatched
/// as [`gather_row`].
#[multiversion(targets("x86_64+avx2"))]
fn scatter_rows<X: Copy, T: Scalar + From<X>>(
    indptr: &[usize],
    indices: &[u32],
    values: &[f32],
    ys: &[X],
    l: usize,
    z: &mut [T],
) {
    let base = indptr.first().copied().unwrap_or(0);
    for (r, w) in indptr.windows(2).enumerate() {
        let yrow = &ys[r * l..r * l + l];
        for (&j, &a) in indices[w[0] - base..w[1] - base].iter().zip(&values[w[0] - base..w[1] - base]) {
            let a = T::from(a);
            for (zv, &yv) in z[j as usize * l..j as usize * l + l].iter_mut().zip(yrow) {
                *zv += a * T::from(yv);
            }
        }
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

/// A rows × cols matrix of standard normal draws; one RNG stream per block of rows, so the
/// result is the same for any thread count.
pub(crate) fn gaussian(rows: usize, cols: usize, seed: u64, stream: u64) -> Array2<f64> {
    let mut out = Array2::<f64>::zeros((rows, cols));
    if cols == 0 {
        return out;
    }
    let data = out.as_slice_mut().expect("contiguous");
    data.par_chunks_mut(BLOCK * cols).enumerate().for_each(|(b, chunk)| {
        let mut rng = crate::rng::stream(seed, stream, b as u64);
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
    gram_by_blocks(n, l, |lo, hi| {
        let xb = x.slice(s![lo..hi, ..]);
        xb.t().dot(&xb)
    })
}

/// The sum of the l × l products `block(lo, hi)` over the fixed row blocks of `n` rows,
/// computed in parallel and added in block order (the same bits for any thread count), made
/// exactly symmetric (the blocks are symmetric up to rounding order).
fn gram_by_blocks(n: usize, l: usize, block: impl Fn(usize, usize) -> Array2<f64> + Sync) -> DMatrix<f64> {
    let blocks: Vec<Array2<f64>> =
        (0..n.div_ceil(BLOCK)).into_par_iter().map(|b| block(b * BLOCK, ((b + 1) * BLOCK).min(n))).collect();
    let mut g = DMatrix::<f64>::zeros(l, l);
    for p in blocks {
        for i in 0..l {
            for j in 0..l {
                g[(i, j)] += p[[i, j]];
            }
        }
    }
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

/// A zero-filled `Vec` for the large scratch blocks of the solvers. On Linux, blocks of 4 MiB
/// and more are advised to use transparent huge pages (as numpy does for its arrays): the
/// first touch of such a block then takes one page fault per 2 MiB instead of one per 4 KiB,
/// which on virtual machines costs more than the arithmetic of a sparse product.
pub(crate) fn zeroed<T: Zeroed>(len: usize) -> Vec<T> {
    let v = T::zeroed_vec(len);
    advise_huge_pages(&v);
    v
}

/// Element types [`zeroed`] allocates as untouched zero pages (`vec![0.0; n]` is a calloc).
pub(crate) trait Zeroed: Sized {
    fn zeroed_vec(len: usize) -> Vec<Self>;
}

impl Zeroed for f32 {
    fn zeroed_vec(len: usize) -> Vec<f32> {
        vec![0.0; len]
    }
}

impl Zeroed for f64 {
    fn zeroed_vec(len: usize) -> Vec<f64> {
        vec![0.0; len]
    }
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(v: &[T]) {
    const PAGE: usize = 4096;
    let bytes = std::mem::size_of_val(v);
    if bytes < 4 << 20 {
        return;
    }
    let start = (v.as_ptr() as usize).next_multiple_of(PAGE);
    let end = (v.as_ptr() as usize + bytes) / PAGE * PAGE;
    if end > start {
        // SAFETY: madvise only advises the kernel about pages inside this allocation (the range
        // is rounded inwards to whole pages); MADV_HUGEPAGE never changes their contents, and a
        // failure (THP disabled) is harmless, so its result is ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<T>(_: &[T]) {}

/// An `f32` buffer whose first element is 64-byte aligned, so the rows of a sketch padded to
/// [`LANES`] columns start on cache lines.
pub(crate) struct AlignedF32 {
    buf: Vec<f32>,
    offset: usize,
    len: usize,
}

impl AlignedF32 {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let buf = zeroed::<f32>(len + LANES);
        let offset = buf.as_ptr().align_offset(64).min(LANES);
        AlignedF32 { buf, offset, len }
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.buf[self.offset..self.offset + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.buf[self.offset..self.offset + self.len]
    }
}

/// `yᵀ y` in f64 for the first `l` columns of a tall row-major f32 block `y` (n rows of
/// stride `ld`): fixed row blocks converted to f64 and multiplied, summed in block order.
pub(crate) fn gram_f32(y: &[f32], n: usize, ld: usize, l: usize) -> DMatrix<f64> {
    debug_assert_eq!(y.len(), n * ld);
    gram_by_blocks(n, l, |lo, hi| {
        let xb = Array2::from_shape_fn((hi - lo, l), |(i, j)| f64::from(y[(lo + i) * ld + j]));
        xb.t().dot(&xb)
    })
}

/// `y · m` for the first `l` columns of a tall row-major f32 block `y` (n rows of stride
/// `ld`) and a small f64 `m` (l × c), in f64.
pub(crate) fn mul_small_f32(y: &[f32], n: usize, ld: usize, l: usize, m: &DMatrix<f64>) -> Array2<f64> {
    debug_assert_eq!(y.len(), n * ld);
    let c = m.ncols();
    let m = Array2::from_shape_fn((l, c), |(i, j)| m[(i, j)]);
    let mut out = Array2::from_shape_vec((n, c), zeroed::<f64>(n * c)).expect("n × c");
    out.axis_chunks_iter_mut(Axis(0), BLOCK).into_par_iter().enumerate().for_each(|(b, mut ob)| {
        let rows = ob.nrows();
        let yb = &y[b * BLOCK * ld..(b * BLOCK + rows) * ld];
        let xb = Array2::from_shape_fn((rows, l), |(i, j)| f64::from(yb[i * ld + j]));
        general_mat_mul(1.0, &xb, &m, 0.0, &mut ob);
    });
    out
}

/// The upper Cholesky factor `R` of a Gram matrix `g = Yᵀ Y` when one Cholesky QR step
/// (`Q = Y R⁻¹`) is orthonormal to working precision: its loss of orthogonality is about
/// `ε κ(Y)²`, so `R` is returned only when `‖R‖_F ‖R⁻¹‖_F ≤ 10⁴` (≥ κ(Y)), else `None`.
pub(crate) fn cholesky_qr_factor(g: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let r = cholesky_upper(g)?;
    let kappa = r.norm() * upper_inverse(&r).norm();
    (kappa.is_finite() && kappa <= 1e4).then_some(r)
}

/// Inverse of an upper-triangular matrix by back substitution.
pub(crate) fn upper_inverse(r: &DMatrix<f64>) -> DMatrix<f64> {
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

    fn small_csr() -> Rows {
        // [[1, 0, 2], [0, 3, 0]]
        Rows::from_signed_parts(3, vec![0, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0])
    }

    #[test]
    fn products_and_transpose() {
        let a = small_csr();
        let t = a.transpose();
        assert_eq!((t.n_rows(), t.n_cols()), (3, 2));
        assert_eq!(t.indptr, vec![0, 1, 2, 3]);
        assert_eq!(t.indices, vec![0, 1, 0]);
        assert_eq!(t.data, vec![1.0, 3.0, 2.0]);
        let x = Array2::from_shape_vec((3, 2), vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let y = a.mul_dense(x.view());
        assert_eq!(y, Array2::from_shape_vec((2, 2), vec![3.0, 2.0, 0.0, 3.0]).unwrap());
        assert_eq!(a.mul_vec(&[1.0, 1.0, 1.0]), vec![3.0, 3.0]);
        assert_eq!(a.frobenius_sq(), 14.0);
    }

    /// A seeded random sparse matrix (about `density` of the cells stored).
    fn random_csr(rows: usize, cols: usize, density: f64, seed: u64) -> Rows {
        use rand::Rng;
        let mut rng = crate::rng::stream(seed, 0, 0);
        let (mut indptr, mut indices, mut values) = (vec![0], Vec::new(), Vec::new());
        for _ in 0..rows {
            for j in 0..cols {
                if rng.random::<f64>() < density {
                    indices.push(j as u32);
                    values.push(rng.random::<f32>() * 4.0 - 2.0);
                }
            }
            indptr.push(indices.len());
        }
        Rows::from_signed_parts(cols, indptr, indices, values)
    }

    fn dense(a: &Rows) -> Array2<f64> {
        let mut d = Array2::<f64>::zeros((a.n_rows(), a.n_cols()));
        for r in 0..a.n_rows() {
            for k in a.indptr[r]..a.indptr[r + 1] {
                d[[r, a.indices[k] as usize]] = f64::from(a.data[k]);
            }
        }
        d
    }

    #[test]
    fn parallel_transpose_is_the_transpose() {
        // Over 65,536 stored values: the transpose is cut into several row ranges.
        let a = random_csr(700, 500, 0.4, 5);
        assert!(a.data.len() > 2 * 65_536);
        let t = a.transpose();
        assert_eq!(dense(&t), dense(&a).t());
        assert!((0..t.n_rows()).all(|r| t.indices[t.indptr[r]..t.indptr[r + 1]].windows(2).all(|w| w[0] < w[1])));
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let t1 = one.install(|| a.transpose());
        assert_eq!((t1.indptr, t1.indices, t1.data), (t.indptr, t.indices, t.data));
    }

    #[test]
    fn sketch_products_match_dense_for_any_parts_and_threads() {
        let a = random_csr(300, 120, 0.05, 9);
        let d = dense(&a);
        for l in [LANES * 2, 7] {
            let x = gaussian(a.n_cols(), l, 1, 0);
            let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let want = d.dot(&x.mapv(|v| f64::from(v as f32)));
            let mut y = vec![0f32; a.n_rows() * l];
            a.gather_into(&xf, l, &mut y);
            let err = want.iter().zip(&y).fold(0.0f64, |m, (w, &g)| m.max((w - f64::from(g)).abs()));
            assert!(err < 1e-4, "gather l={l}: {err}");
            // Aᵀ y with 1 and 3 parts, on 1 and 2 threads: f32 partials agree with the dense
            // product, and a given part count gives the same bits on any pool.
            let want_t = d.t().dot(&Array2::from_shape_fn((a.n_rows(), l), |(i, j)| f64::from(y[i * l + j])));
            let mut results = Vec::new();
            for parts in [1, 3] {
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let mut work: Vec<Vec<f32>> = (0..parts).map(|_| vec![0f32; a.n_cols() * l]).collect();
                    let mut out = vec![0f32; a.n_cols() * l];
                    pool.install(|| a.scatter_t_into(&y, l, &mut out, &mut work));
                    let err = want_t.iter().zip(&out).fold(0.0f64, |m, (w, &g)| m.max((w - f64::from(g)).abs()));
                    assert!(err < 1e-3, "scatter l={l} parts={parts}: {err}");
                    results.push((parts, out));
                }
            }
            assert_eq!(results[0], results[1]);
            assert_eq!(results[2], results[3]);
        }
    }

    #[test]
    fn aligned_buffer_and_cholesky_qr_factor() {
        let mut b = AlignedF32::zeros(1000);
        assert_eq!(b.as_slice().as_ptr() as usize % 64, 0);
        b.as_mut_slice()[999] = 1.0;
        assert_eq!(b.as_slice().len(), 1000);
        let big: Vec<f64> = zeroed(1 << 20);
        assert!(big.iter().all(|&v| v == 0.0));
        // Well-conditioned: accepted; nearly dependent columns: refused (explicit path).
        let x = gaussian(400, 6, 2, 0);
        assert!(cholesky_qr_factor(&gram(x.view())).is_some());
        let mut y = x.clone();
        for i in 0..400 {
            y[[i, 5]] = y[[i, 0]] + 1e-7 * y[[i, 1]];
        }
        assert!(cholesky_qr_factor(&gram(y.view())).is_none());
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
