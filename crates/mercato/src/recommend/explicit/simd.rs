//! Eight-lane f32 arithmetic for the SGD kernels, written once and compiled twice: a
//! portable build on `[f32; 8]` and an AVX2 + FMA build on `__m256`.
//!
//! Both builds run the same IEEE operations in the same order lane by lane (fused
//! multiply-adds in both: `f32::mul_add` is correctly rounded everywhere, in hardware or in
//! libm; and one fixed reduction tree), so a model trained on a CPU with AVX2 and FMA is
//! bit-identical to one trained without, only slower there. The compiler did not vectorise
//! the factor update on its own (it ran it one lane at a time), hence the explicit lanes.

/// Lanes per vector; factor rows are padded to a multiple of this.
pub(crate) const LANES: usize = 8;

/// Row stride (padded width) for `k` factors.
pub(crate) fn stride_for(k: usize) -> usize {
    k.div_ceil(LANES).max(1) * LANES
}

/// One implementation of eight-lane arithmetic. Every method must be `#[inline(always)]` so
/// that, inlined into a `#[target_feature]` function, the intrinsics compile to single
/// instructions.
pub(crate) trait Simd: Copy {
    /// Eight lanes.
    type V: Copy;
    fn load(self, a: &[f32; LANES]) -> Self::V;
    fn store(self, v: Self::V, a: &mut [f32; LANES]);
    fn splat(self, x: f32) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c` with one rounding.
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7))`, the same tree in every build.
    fn hsum(self, v: Self::V) -> f32;
}

/// The portable build.
#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Simd for Portable {
    type V = [f32; LANES];
    #[inline(always)]
    fn load(self, a: &[f32; LANES]) -> Self::V {
        *a
    }
    #[inline(always)]
    fn store(self, v: Self::V, a: &mut [f32; LANES]) {
        *a = v;
    }
    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        [x; LANES]
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l] + b[l])
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l] * b[l])
    }
    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::array::from_fn(|l| a[l].mul_add(b[l], c[l]))
    }
    #[inline(always)]
    fn hsum(self, v: Self::V) -> f32 {
        let h: [f32; 4] = std::array::from_fn(|l| v[l] + v[l + 4]);
        (h[0] + h[2]) + (h[1] + h[3])
    }
}

/// The AVX2 + FMA build; a value exists only on a CPU that has both.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// `Some` when the running CPU supports AVX2 and FMA (the tests' way in; the kernels
    /// are `multiversion` clones, see [`Avx2::assume_detected`]).
    #[cfg(test)]
    pub(crate) fn detect() -> Option<Self> {
        (std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")).then_some(Avx2(()))
    }

    /// The AVX2 build without asking the CPU again, for the `multiversion` clones compiled
    /// for AVX2 + FMA (their dispatcher already checked the CPU before entering them).
    ///
    /// # Safety
    /// Only where the running CPU is known to support AVX2 and FMA.
    #[inline(always)]
    pub(crate) unsafe fn assume_detected() -> Self {
        Avx2(())
    }
}

// SAFETY (every block below): an `Avx2` value is only made by `Avx2::detect` after the CPU
// reported AVX2 and FMA, or by `Avx2::assume_detected` in code only run after that check;
// loads and stores go through references to exactly eight f32.
#[cfg(target_arch = "x86_64")]
impl Simd for Avx2 {
    type V = std::arch::x86_64::__m256;
    #[inline(always)]
    fn load(self, a: &[f32; LANES]) -> Self::V {
        unsafe { std::arch::x86_64::_mm256_loadu_ps(a.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: Self::V, a: &mut [f32; LANES]) {
        unsafe { std::arch::x86_64::_mm256_storeu_ps(a.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> Self::V {
        unsafe { std::arch::x86_64::_mm256_set1_ps(x) }
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { std::arch::x86_64::_mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        unsafe { std::arch::x86_64::_mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        unsafe { std::arch::x86_64::_mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn hsum(self, v: Self::V) -> f32 {
        use std::arch::x86_64::*;
        unsafe {
            // (l0+l4, l1+l5, l2+l6, l3+l7), then (h0+h2, h1+h3), then their sum.
            let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)))
        }
    }
}

/// A `chunks_exact(LANES)` chunk as an array (the length check folds away).
#[inline(always)]
fn lanes(c: &[f32]) -> &[f32; LANES] {
    c.try_into().expect("chunks_exact yields LANES values")
}

/// Mutable [`lanes`].
#[inline(always)]
fn lanes_mut(c: &mut [f32]) -> &mut [f32; LANES] {
    c.try_into().expect("chunks_exact yields LANES values")
}

/// Dot product of two equally long, `LANES`-padded rows: two accumulators (even and odd
/// chunks) so consecutive multiply-adds do not wait on each other, then the fixed tree.
#[inline(always)]
pub(crate) fn dot_with<S: Simd>(s: S, a: &[f32], b: &[f32]) -> f32 {
    let (mut even, mut odd) = (s.splat(0.0), s.splat(0.0));
    let mut pairs = a.chunks_exact(LANES).zip(b.chunks_exact(LANES));
    while let Some((x, y)) = pairs.next() {
        even = s.fma(s.load(lanes(x)), s.load(lanes(y)), even);
        if let Some((x, y)) = pairs.next() {
            odd = s.fma(s.load(lanes(x)), s.load(lanes(y)), odd);
        }
    }
    s.hsum(s.add(even, odd))
}

/// [`dot_with`] on the fastest build the CPU has, for predictions (bit-identical either way).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if multiversion::target::target_cfg_f!(all(target_feature = "avx2", target_feature = "fma")) {
        // SAFETY: this is the AVX2 + FMA clone, entered only on a CPU that has both.
        return dot_with(unsafe { Avx2::assume_detected() }, a, b);
    }
    dot_with(Portable, a, b)
}

/// One SGD step on a factor pair, every lane: `p += lr (err q - reg p)` and
/// `q += lr (err p - reg q)`, both from the old values (Funk's update), computed as
/// `p * keep + step * q` with `keep = 1 - lr reg` and `step = lr err`: one multiply and one
/// fused multiply-add per vector.
#[inline(always)]
pub(crate) fn sgd_pair<S: Simd>(s: S, p: &mut [f32], q: &mut [f32], step: f32, keep: f32) {
    let (e, k) = (s.splat(step), s.splat(keep));
    for (pc, qc) in p.chunks_exact_mut(LANES).zip(q.chunks_exact_mut(LANES)) {
        let (pc, qc) = (lanes_mut(pc), lanes_mut(qc));
        let (a, b) = (s.load(pc), s.load(qc));
        s.store(s.fma(e, b, s.mul(a, k)), pc);
        s.store(s.fma(e, a, s.mul(b, k)), qc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 997.0 - 0.5).collect()
    }

    #[test]
    fn portable_matches_plain_arithmetic() {
        let (a, b) = (rows(32, 1), rows(32, 2));
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64) * (*y as f64)).sum();
        assert!((dot_with(Portable, &a, &b) as f64 - plain).abs() < 1e-5);
        let (mut p, mut q) = (a.clone(), b.clone());
        sgd_pair(Portable, &mut p, &mut q, 0.05, 0.98);
        for l in 0..32 {
            assert!((p[l] - (a[l] + 0.1 * (0.5 * b[l] - 0.2 * a[l]))).abs() < 1e-6);
            assert!((q[l] - (b[l] + 0.1 * (0.5 * a[l] - 0.2 * b[l]))).abs() < 1e-6);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_is_bit_identical_to_portable() {
        let Some(avx) = Avx2::detect() else {
            eprintln!("skipped: no AVX2 on this CPU");
            return;
        };
        // Through a `target_feature` function, as the trainer calls them.
        #[target_feature(enable = "avx2,fma")]
        fn avx_dot_step(avx: Avx2, a: &[f32], p: &mut [f32], q: &mut [f32]) -> f32 {
            sgd_pair(avx, p, q, -0.021, 0.997);
            dot_with(avx, a, q)
        }
        for n in [8, 16, 24, 56] {
            let (a, b) = (rows(n, 3), rows(n, 4));
            let (mut p1, mut q1, mut p2, mut q2) = (a.clone(), b.clone(), a.clone(), b.clone());
            // SAFETY: `avx` proves the CPU has AVX2 and FMA.
            let d1 = unsafe { avx_dot_step(avx, &a, &mut p1, &mut q1) };
            sgd_pair(Portable, &mut p2, &mut q2, -0.021, 0.997);
            assert_eq!(d1.to_bits(), dot_with(Portable, &a, &q2).to_bits());
            assert_eq!(dot(&a, &b).to_bits(), dot_with(Portable, &a, &b).to_bits());
            assert_eq!(p1, p2);
            assert_eq!(q1, q2);
        }
    }
}
