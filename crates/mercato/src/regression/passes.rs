//! The passes over the rows: each reads X in blocks of [`BLOCK`] rows into a small scratch
//! matrix `[√w, √w(x − c), √w(y − c_y)]` and reduces it with matrix products (matrixmultiply
//! through ndarray). Rows are split into chunks fixed by `n` alone and the chunk results are
//! summed in order, so the result does not depend on the thread count. Memory: the scratch
//! per chunk (O(BLOCK·p)) and O(p²) per chunk, never a copy of X.

use std::ops::Range;

use ndarray::linalg::{general_mat_mul, general_mat_vec_mul};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ShapeBuilder, Zip};
use rayon::prelude::*;

/// Rows per block: the scratch (BLOCK × (k + 2) doubles) stays in L2 for k up to ~100.
pub(crate) const BLOCK: usize = 512;
/// Chunks per pass, fixed so the summation order never depends on the thread count.
const MAX_CHUNKS: usize = 64;

/// The training data as the passes see it.
pub(crate) struct Data<'a> {
    pub x: ArrayView2<'a, f64>,
    pub y: &'a [f64],
    pub w: Option<&'a [f64]>,
}

impl Data<'_> {
    fn n(&self) -> usize {
        self.x.nrows()
    }
    fn k(&self) -> usize {
        self.x.ncols()
    }

    /// A scratch block laid out like X (so filling it reads X in memory order).
    fn scratch(&self, cols: usize) -> Array2<f64> {
        if self.x.is_standard_layout() {
            Array2::zeros((BLOCK, cols))
        } else {
            Array2::zeros((BLOCK, cols).f())
        }
    }

    /// Fills the first `rows.len()` rows of `a` with `[√w, √w(x − c), √w(y − c_y)]`
    /// (`center` holds c then c_y) and returns that view.
    fn fill<'s>(&self, a: &'s mut Array2<f64>, rows: Range<usize>, center: &[f64]) -> ndarray::ArrayViewMut2<'s, f64> {
        let k = self.k();
        let len = rows.len();
        let mut av = a.slice_mut(s![..len, ..]);
        let sw: Array1<f64> = match self.w {
            Some(w) => w[rows.clone()].iter().map(|v| v.sqrt()).collect(),
            None => Array1::ones(len),
        };
        av.column_mut(0).assign(&sw);
        av.slice_mut(s![.., 1..=k]).assign(&self.x.slice(s![rows.clone(), ..]));
        av.column_mut(k + 1).assign(&ArrayView1::from(&self.y[rows]));
        let c = ArrayView1::from(center);
        Zip::from(av.slice_mut(s![.., 1..]))
            .and_broadcast(c.insert_axis(ndarray::Axis(0)))
            .and_broadcast(sw.view().insert_axis(ndarray::Axis(1)))
            .for_each(|v, &c, &s| *v = (*v - c) * s);
        av
    }

    /// Runs `f(chunk rows)` over fixed chunks on `pool`, results in chunk order.
    fn chunks<T: Send>(&self, pool: &rayon::ThreadPool, f: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
        let n = self.n();
        let per = n.div_ceil(MAX_CHUNKS).div_ceil(BLOCK).max(1) * BLOCK;
        let starts: Vec<usize> = (0..n).step_by(per).collect();
        pool.install(|| starts.par_iter().map(|&s| f(s..(s + per).min(n))).collect())
    }
}

fn blocks(r: Range<usize>) -> impl Iterator<Item = Range<usize>> {
    let end = r.end;
    (r.start..end).step_by(BLOCK).map(move |s| s..(s + BLOCK).min(end))
}

/// Pass 1: `S = A'A` for `A = [√w, √w(x − shift), √w(y − shift_y)]`, (k + 2)².
pub(crate) fn gram(d: &Data<'_>, pool: &rayon::ThreadPool, shift: &[f64]) -> Array2<f64> {
    let cols = d.k() + 2;
    let parts = d.chunks(pool, |r| {
        let mut a = d.scratch(cols);
        let mut g = Array2::<f64>::zeros((cols, cols));
        for b in blocks(r) {
            let av = d.fill(&mut a, b, shift);
            general_mat_mul(1.0, &av.t(), &av, 1.0, &mut g);
        }
        g
    });
    parts.into_iter().fold(Array2::zeros((cols, cols)), |acc, g| acc + g)
}

/// The current fit in centered form: `y ≈ a + (x − center)·β`.
pub(crate) struct Fit<'a> {
    pub center: &'a [f64],
    pub a: f64,
    pub beta: &'a [f64],
}

/// Weighted residuals `√w·(y − a − (x − c)β)` of the block held in `av`.
fn residuals(av: &ndarray::ArrayViewMut2<'_, f64>, k: usize, fit: &Fit<'_>) -> Array1<f64> {
    let cy = fit.center[k];
    // y column is √w(y − c_y); the intercept offset a − c_y enters through √w.
    let mut r = av.column(k + 1).to_owned();
    r.scaled_add(-(fit.a - cy), &av.column(0));
    general_mat_vec_mul(-1.0, &av.slice(s![.., 1..=k]), &ArrayView1::from(fit.beta), 1.0, &mut r);
    r
}

/// Pass 2 result: `Σ √w r`, `Σ √w(x − c) r` and `Σ w r²`.
pub(crate) struct ResidualSums {
    pub g0: f64,
    pub gx: Array1<f64>,
    pub ssr: f64,
}

/// Pass 2: residual sums for one step of iterative refinement and the exact SSR.
pub(crate) fn residual_sums(d: &Data<'_>, pool: &rayon::ThreadPool, fit: &Fit<'_>) -> ResidualSums {
    let k = d.k();
    let parts = d.chunks(pool, |r| {
        let mut a = d.scratch(k + 2);
        let mut out = ResidualSums { g0: 0.0, gx: Array1::zeros(k), ssr: 0.0 };
        for b in blocks(r) {
            let av = d.fill(&mut a, b, fit.center);
            let res = residuals(&av, k, fit);
            out.g0 += av.column(0).dot(&res);
            general_mat_vec_mul(1.0, &av.slice(s![.., 1..=k]).t(), &res, 1.0, &mut out.gx);
            out.ssr += res.dot(&res);
        }
        out
    });
    parts.into_iter().fold(ResidualSums { g0: 0.0, gx: Array1::zeros(k), ssr: 0.0 }, |mut acc, p| {
        acc.g0 += p.g0;
        acc.gx += &p.gx;
        acc.ssr += p.ssr;
        acc
    })
}

/// Which heteroscedasticity weights the meat uses.
#[derive(Clone, Copy)]
pub(crate) enum Hc {
    /// r² (HC0, and HC1 before its scalar factor).
    Plain,
    /// r² / (1 − h).
    Hc2,
    /// r² / (1 − h)².
    Hc3,
}

/// Pass 3: the sandwich's meat `Σ ω_i a_i a_i'` in the working basis (columns `cols` of the
/// scratch: the √w column when there is an intercept, then the centered x). `k_half` is
/// `K` with `K K' = (A'A)⁻¹` in that basis, for the leverages. Returns the meat and the
/// largest leverage seen.
pub(crate) fn hc_meat(
    d: &Data<'_>,
    pool: &rayon::ThreadPool,
    fit: &Fit<'_>,
    cols: Range<usize>,
    k_half: &Array2<f64>,
    kind: Hc,
) -> (Array2<f64>, f64) {
    let k = d.k();
    let p = cols.len();
    let parts = d.chunks(pool, |r| {
        let mut a = d.scratch(k + 2);
        let mut z = Array2::<f64>::zeros((BLOCK, p));
        let mut scaled = Array2::<f64>::zeros((BLOCK, p));
        let mut meat = Array2::<f64>::zeros((p, p));
        let mut h_max = 0.0f64;
        for b in blocks(r) {
            let len = b.len();
            let av = d.fill(&mut a, b, fit.center);
            let res = residuals(&av, k, fit);
            let aw = av.slice(s![.., cols.clone()]);
            let mut omega = res.mapv(|v| v * v);
            if !matches!(kind, Hc::Plain) {
                let mut zv = z.slice_mut(s![..len, ..]);
                general_mat_mul(1.0, &aw, k_half, 0.0, &mut zv);
                for (i, o) in omega.iter_mut().enumerate() {
                    let h: f64 = zv.row(i).iter().map(|v| v * v).sum();
                    h_max = h_max.max(h);
                    *o = match kind {
                        Hc::Hc2 => *o / (1.0 - h),
                        _ => *o / ((1.0 - h) * (1.0 - h)),
                    };
                }
            }
            let mut sv = scaled.slice_mut(s![..len, ..]);
            Zip::from(&mut sv)
                .and(&aw)
                .and_broadcast(omega.view().insert_axis(ndarray::Axis(1)))
                .for_each(|s, &a, &o| *s = a * o);
            general_mat_mul(1.0, &aw.t(), &sv, 1.0, &mut meat);
        }
        (meat, h_max)
    });
    parts.into_iter().fold((Array2::zeros((p, p)), 0.0), |(acc, hm), (m, h)| (acc + m, f64::max(hm, h)))
}

/// Cluster meat `Σ_g s_g s_g'`, `s_g = Σ_{i∈g} r_i a_i` (dense group ids in `group_of`).
/// Sequential: the per-group sums would otherwise be held once per chunk.
pub(crate) fn cluster_meat(
    d: &Data<'_>,
    fit: &Fit<'_>,
    cols: Range<usize>,
    group_of: &[usize],
    n_groups: usize,
) -> Array2<f64> {
    let k = d.k();
    let p = cols.len();
    let mut a = d.scratch(k + 2);
    let mut sums = Array2::<f64>::zeros((n_groups, p));
    for b in blocks(0..d.n()) {
        let start = b.start;
        let av = d.fill(&mut a, b, fit.center);
        let res = residuals(&av, k, fit);
        let aw = av.slice(s![.., cols.clone()]);
        for (i, row) in aw.rows().into_iter().enumerate() {
            let mut target = sums.row_mut(group_of[start + i]);
            target.scaled_add(res[i], &row);
        }
    }
    sums.t().dot(&sums)
}
