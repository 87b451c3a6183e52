#!/usr/bin/env python3
"""Side-by-side: mercato TruncatedSVD vs scikit-learn ``randomized_svd`` and scipy ``svds`` (ARPACK).

Run from the repository root:  ``python3 benches/compare/svd.py``  (options: ``--quick`` skips the
5M-nonzero matrix, ``--repeat N`` best-of-N timings).

The script creates a throwaway ``.bench-venv`` (numpy, scipy, scikit-learn, threadpoolctl,
maturin), builds mercato into it when it is missing, and re-runs itself there. Data: a generated
100,000 × 20,000 random sparse matrix with 5M stored values (uniform 1..5, float32), and
MovieLens-100k ``u.data`` from ``$MERCATO_DATA`` or ``../shared/datasets``.

Fairness: both sides use 2 threads (mercato ``num_threads=2``; BLAS via threadpoolctl and
``OPENBLAS_NUM_THREADS=2`` — scipy's sparse products are single-threaded whatever is set). The
machine-wide ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` are removed from this process only so
numpy's OpenBLAS picks its own kernel; the kernel it runs is printed. scikit-learn gets the same
``n_oversamples=10`` and ``n_iter`` as mercato (its 'auto' rule, resolved and printed), on
float32 input (its fastest path) and float64. ARPACK (``svds``) gets float64 with its defaults
(tol=0, ncv=2k+1). Every method's error ``‖A − U S Vt‖_F / ‖A‖_F`` is evaluated by this script
the same way, in float64, without densifying.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".bench-venv"
PEERS = ["numpy", "scipy", "scikit-learn", "threadpoolctl", "maturin"]
THREADS = 2


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _ensure_venv() -> None:
    """Creates .bench-venv with the peers and mercato, then re-executes inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve() and os.environ.get("MERCATO_SVD_BENCH_CHILD"):
        return
    py = _venv_python()
    if not py.exists():
        print(f"creating {VENV} with {', '.join(PEERS)} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PEERS], check=True)
    probe = subprocess.run([str(py), "-c", "import mercato.recommend as r; r.TruncatedSVD"], capture_output=True)
    if probe.returncode != 0:
        print("building mercato into .bench-venv (maturin develop --release) ...", flush=True)
        env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{VENV / 'bin'}:{os.environ.get('PATH', '')}")
        subprocess.run([str(VENV / "bin" / "maturin"), "develop", "--release"], cwd=REPO, env=env, check=True)
    env = dict(os.environ)
    # numpy's OpenBLAS should choose its own kernel here (the machine pins one globally).
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(THREADS)
    env["MERCATO_SVD_BENCH_CHILD"] = "1"
    os.execve(str(py), [str(py), str(Path(__file__).resolve()), *sys.argv[1:]], env)


def rel_error(A, U, s, Vt) -> float:
    """‖A − U S Vt‖_F / ‖A‖_F = sqrt(‖A‖² − 2 tr(S Uᵀ A V) + tr(S UᵀU S VᵀV)) / ‖A‖, in float64."""
    import numpy as np

    A = A.astype(np.float64)
    U, s, V = U.astype(np.float64), s.astype(np.float64), Vt.T.astype(np.float64)
    norm_sq = float(np.dot(A.data, A.data))
    cross = float(np.sum(s * np.einsum("ij,ij->j", U, A @ V)))
    fit = float(np.sum((s[:, None] * (U.T @ U)) * (s[None, :] * (V.T @ V)).T))
    return float(np.sqrt(max(norm_sq - 2 * cross + fit, 0.0) / norm_sq))


def best_of(repeat: int, fn):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def datasets(quick: bool):
    import numpy as np
    import scipy.sparse as sp

    data_root = Path(os.environ.get("MERCATO_DATA", REPO.parent / "shared" / "datasets"))
    ml = data_root / "movielens-100k" / "u.data"
    if ml.exists():
        d = np.loadtxt(ml, dtype=np.int64)
        _, ui = np.unique(d[:, 0], return_inverse=True)
        _, ii = np.unique(d[:, 1], return_inverse=True)
        A = sp.csr_matrix((d[:, 2].astype(np.float32), (ui, ii)))
        yield "ML-100k", A
    else:
        print(f"(MovieLens-100k not found at {ml}: skipped)")
    if not quick:
        rng = np.random.default_rng(0)
        n, m, nnz = 100_000, 20_000, 5_000_000
        A = sp.csr_matrix(
            (rng.uniform(1, 5, nnz).astype(np.float32), (rng.integers(0, n, nnz), rng.integers(0, m, nnz))),
            shape=(n, m),
        )
        A.sum_duplicates()
        yield "random 100k×20k", A


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 5M-nonzero matrix")
    parser.add_argument("--repeat", type=int, default=3, help="best-of-N timings (default 3)")
    parser.add_argument("--k", type=int, default=50)
    args = parser.parse_args()
    _ensure_venv()

    import mercato
    import numpy as np
    import scipy
    import sklearn
    from mercato.recommend import TruncatedSVD
    from scipy.sparse.linalg import svds
    from sklearn.utils.extmath import randomized_svd
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(THREADS)
    blas = [
        f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} threads={i.get('num_threads')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    print(
        f"mercato {mercato.__version__} | numpy {np.__version__} | scipy {scipy.__version__} | "
        f"scikit-learn {sklearn.__version__} | {THREADS} threads each"
    )
    print(f"numpy BLAS: {'; '.join(blas) or 'unknown'}")
    print(f"OPENBLAS_CORETYPE in this process: {os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")

    k, rows = args.k, []
    for name, A in datasets(args.quick):
        n_iter = 7 if k < 0.1 * min(A.shape) else 4  # scikit-learn's 'auto'
        repeat = args.repeat if A.nnz < 1_000_000 else max(1, args.repeat - 1)
        print(f"\n{name}: {A.shape[0]}×{A.shape[1]}, {A.nnz} stored values, k={k}, n_iter={n_iter}, n_oversamples=10")
        A64 = A.astype(np.float64)

        def merc(algorithm, A=A, n_iter=n_iter):
            def run():
                m = TruncatedSVD(k, algorithm=algorithm, n_iter=n_iter, n_oversamples=10, seed=0, num_threads=THREADS)
                return m.fit(A)

            return run

        t_mr, mr = best_of(repeat, merc("randomized"))
        e_mr = rel_error(A, mr.U_, mr.s_, mr.Vt_)
        for label, X in (("float32", A), ("float64", A64)):
            t_sk, (U, s, Vt) = best_of(
                repeat,
                lambda X=X, q=n_iter: randomized_svd(X, k, n_oversamples=10, n_iter=q, random_state=0),
            )
            e_sk = rel_error(A, U, s, Vt)
            rows.append((name, "randomized", f"sklearn randomized_svd ({label})", t_mr, t_sk, e_mr, e_sk))
        t_ma, ma = best_of(repeat, merc("accurate"))
        e_ma = rel_error(A, ma.U_, ma.s_, ma.Vt_)
        t_ar, (U, s, Vt) = best_of(1 if A.nnz > 1_000_000 else repeat, lambda X=A64: svds(X, k=k, random_state=0))
        e_ar = rel_error(A, U, s, Vt)
        rows.append((name, "accurate", "scipy svds (ARPACK, float64)", t_ma, t_ar, e_ma, e_ar))
        print(f"  mercato accurate: {ma.n_iter_} Lanczos restarts, converged={ma.converged_}")

    header = (
        f"{'data':<17} {'mercato mode':<12} {'peer':<34} {'mercato s':>10} {'peer s':>9} "
        f"{'time ratio':>10} {'mercato err':>12} {'peer err':>10} {'err ratio':>10}"
    )
    print("\n" + header)
    print("-" * len(header))
    for name, mode, peer, tm, tp, em, ep in rows:
        print(
            f"{name:<17} {mode:<12} {peer:<34} {tm:>10.3f} {tp:>9.3f} {tm / tp:>10.3f} "
            f"{em:>12.7f} {ep:>10.7f} {em / ep:>10.6f}"
        )
    print("time ratio = mercato s ÷ peer s (lower is faster); err ratio = mercato err ÷ peer err")


if __name__ == "__main__":
    main()
