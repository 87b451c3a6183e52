#!/usr/bin/env python3
"""mercato's explicit-rating models side by side with Surprise (and LIBMF) on MovieLens-100k.

    python3 benches/compare/explicit.py [--folds 5]

Runs the official u1..u5 base/test folds (from ``$MERCATO_DATA/movielens-100k``, default
``../shared/datasets`` beside the repository) and prints ONE table: mean RMSE and MAE over
the folds, mean fit and test seconds per fold, and the fit-time ratio mercato / peer
measured in this run. On first use it creates ``.bench-venv/`` in the repository root,
installs scikit-surprise, libmf (pip's build: plain C++, no SSE/AVX, OpenMP threads) and
maturin there, builds mercato into it (``maturin develop --release``) and re-runs itself
with that interpreter.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".bench-venv"
PY = VENV / "bin" / "python"


def ensure_venv() -> None:
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not PY.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    # The venv is shared with the other comparison scripts: install what this one needs
    # whoever created it.
    if not (VENV / "bin" / "maturin").exists() or subprocess.call([str(PY), "-c", "import surprise"]) != 0:
        print(f"installing scikit-surprise, libmf, maturin into {VENV} ...", flush=True)
        subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "numpy", "pandas", "scikit-surprise", "maturin"])
        if subprocess.call([str(PY), "-m", "pip", "install", "-q", "libmf"]) != 0:
            print("libmf did not build; its row is skipped", flush=True)
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{VENV / 'bin'}:{os.environ['PATH']}")
    print("building mercato into the bench venv (maturin develop --release) ...", flush=True)
    subprocess.check_call([str(VENV / "bin" / "maturin"), "develop", "--release", "-q"], cwd=ROOT, env=env)
    os.execv(str(PY), [str(PY), __file__, *sys.argv[1:]])


def data_dir() -> Path:
    root = os.environ.get("MERCATO_DATA", str(ROOT / ".." / "shared" / "datasets"))
    return Path(root) / "movielens-100k"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5, help="how many of u1..u5 to run")
    ap.add_argument("--threads", type=int, default=2, help="threads for the parallel models")
    args = ap.parse_args()
    ensure_venv()

    import mercato
    import numpy as np
    from mercato.recommend import KNN, Baseline, FunkSVD, SVDpp

    try:
        import surprise
        from surprise import SVD, BaselineOnly, Dataset, KNNBaseline, Reader
        from surprise import SVDpp as SSVDpp
    except ImportError as e:  # pragma: no cover
        sys.exit(f"scikit-surprise is required: {e}")
    try:
        from libmf import mf as libmf
    except ImportError:
        libmf = None

    ddir = data_dir()
    if not (ddir / "u1.base").exists():
        sys.exit(f"MovieLens-100k not found in {ddir} (set MERCATO_DATA)")
    folds = list(range(1, args.folds + 1))
    t = args.threads

    def load(name):
        a = np.loadtxt(ddir / name, dtype=np.int64)
        return a[:, 0], a[:, 1], a[:, 2].astype(np.float64)

    results: dict[str, list[tuple[float, float, float, float]]] = {}

    def record(name, y, p, fit_s, test_s):
        p = np.clip(p, 1.0, 5.0)
        rmse = float(np.sqrt(np.mean((y - p) ** 2)))
        mae = float(np.mean(np.abs(y - p)))
        results.setdefault(name, []).append((rmse, mae, fit_s, test_s))

    ours = [
        ("mercato Baseline", lambda: Baseline()),
        ("mercato FunkSVD (defaults)", lambda: FunkSVD(num_threads=t)),
        ("mercato FunkSVD k=100 20ep", lambda: FunkSVD(factors=100, epochs=20, num_threads=t)),
        ("mercato SVDpp", lambda: SVDpp()),
        ("mercato KNN item", lambda: KNN(num_threads=t)),
    ]
    reader = Reader("ml-100k")
    peers = [
        ("Surprise BaselineOnly", lambda: BaselineOnly(verbose=False)),
        ("Surprise SVD", lambda: SVD(random_state=0)),
        ("Surprise SVDpp", lambda: SSVDpp(random_state=0)),
        (
            "Surprise KNNBaseline item",
            lambda: KNNBaseline(k=40, sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False),
        ),
    ]
    for k in folds:
        print(f"fold u{k} ...", flush=True)
        (u, i, r), (tu, ti, tr) = load(f"u{k}.base"), load(f"u{k}.test")
        for name, make in ours:
            m = make()
            t0 = time.perf_counter()
            m.fit(u, i, r)
            t1 = time.perf_counter()
            p = m.predict(tu, ti)
            record(name, tr, p, t1 - t0, time.perf_counter() - t1)
        train = Dataset.load_from_file(str(ddir / f"u{k}.base"), reader).build_full_trainset()
        testset = [(str(a), str(b), float(c)) for a, b, c in zip(tu, ti, tr)]
        for name, make in peers:
            algo = make()
            t0 = time.perf_counter()
            algo.fit(train)
            t1 = time.perf_counter()
            preds = algo.test(testset)
            t2 = time.perf_counter()
            record(name, tr, np.array([p.est for p in preds]), t1 - t0, t2 - t1)
        if libmf is not None:
            # LIBMF wants 0-based dense indices; ids unseen in training get their own index
            # (their factors stay at the initialisation, as in LIBMF's own CLI).
            uids = {v: n for n, v in enumerate(np.unique(np.concatenate([u, tu])))}
            iids = {v: n for n, v in enumerate(np.unique(np.concatenate([i, ti])))}
            X = np.array([[uids[a], iids[b], c] for a, b, c in zip(u, i, r)], dtype=np.float64)
            Xt = np.array([[uids[a], iids[b]] for a, b in zip(tu, ti)], dtype=np.float64)
            # LIBMF's command-line defaults (L2 0.1, no L1, eta 0.1); the pip binding's own
            # defaults put 0.04 on L1 and nothing on L2.
            engine = libmf.MF(
                k=100, nr_iters=20, nr_threads=t, lambda_p1=0.0, lambda_q1=0.0, lambda_p2=0.1, lambda_q2=0.1, quiet=True
            )
            t0 = time.perf_counter()
            engine.fit(X)
            t1 = time.perf_counter()
            # The pip binding's predict() misreads its input (RMSE ~1.4), so predict from the
            # factors: p_u . q_i, LIBMF's global mean for rows it never trained (NaN factors).
            P, Q = engine.p_factors(), engine.q_factors()
            iu, ii = Xt[:, 0].astype(np.int64), Xt[:, 1].astype(np.int64)
            ok = (iu < P.shape[0]) & (ii < Q.shape[0])
            p = np.full(len(Xt), np.nan)
            p[ok] = np.einsum("nk,nk->n", P[iu[ok]], Q[ii[ok]])
            p[np.isnan(p)] = engine.model.b
            record("LIBMF k=100 20it (pip)", tr, p, t1 - t0, time.perf_counter() - t1)

    pair = {
        "mercato Baseline": "Surprise BaselineOnly",
        "mercato FunkSVD (defaults)": "Surprise SVD",
        "mercato FunkSVD k=100 20ep": "LIBMF k=100 20it (pip)",
        "mercato SVDpp": "Surprise SVDpp",
        "mercato KNN item": "Surprise KNNBaseline item",
    }
    print()
    print(
        f"MovieLens-100k, mean of folds u1..u{folds[-1]}; {t} threads for parallel models; "
        f"mercato {mercato.__version__}, scikit-surprise {surprise.__version__}; clipped predictions"
    )
    head = (
        f"{'algorithm':28} {'RMSE':>7} {'MAE':>7} {'fit s':>8} {'test s':>8}  "
        f"{'peer':26} {'fit ÷ peer':>10} {'speed-up':>9}"
    )
    print(head)
    print("-" * len(head))
    order = [n for n, _ in ours] + [n for n, _ in peers] + ["LIBMF k=100 20it (pip)"]
    mean = {n: np.mean(np.array(v), axis=0) for n, v in results.items()}
    for name in order:
        if name not in mean:
            continue
        rmse, mae, fit_s, test_s = mean[name]
        peer = pair.get(name)
        if peer in mean:
            ratio = fit_s / mean[peer][2]
            extra = f"{peer:26} {ratio:10.4f} {1 / ratio:8.1f}x"
        else:
            extra = ""
        print(f"{name:28} {rmse:7.4f} {mae:7.4f} {fit_s:8.3f} {test_s:8.3f}  {extra}")


if __name__ == "__main__":
    main()
