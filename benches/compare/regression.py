#!/usr/bin/env python3
"""Side-by-side: mercato.regression vs statsmodels OLS/WLS and scikit-learn LinearRegression.

Run from the repository root with a Python that has mercato (``maturin develop --release``),
statsmodels, scikit-learn and threadpoolctl, e.g. ``.venv/bin/python benches/compare/regression.py``
(options: ``--quick`` uses 200k x 30 and 2M x 10; ``--big-rows N`` sets the rows of the
p = 10 problem).

1. Agreement: Carseats (ISLR's ``Sales ~ . + Income:Advertising + Price:Age``, from
   ``$MERCATO_DATA`` or ``../shared/datasets/pricing``) and generated heteroscedastic data
   (OLS and WLS): the largest relative difference from statsmodels over params, bse, t, p,
   conf_int, R², adj. R², F (+ p), log-likelihood, AIC and BIC, per covariance type.
2. Speed: fit time on generated data, 1M x 30 with HC3 standard errors and 10M x 10
   (nonrobust). Everything runs on 2 threads: mercato ``num_threads=2``; numpy/scipy BLAS
   limited to 2 through threadpoolctl. statsmodels computes its pinv-based fit plus the
   requested covariance (the attribute reads are timed); scikit-learn computes coefficients
   only (no standard errors at all). Best of ``--repeat`` runs (default 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
THREADS = 2


def carseats():
    base = Path(os.environ.get("MERCATO_DATA", REPO.parent / "shared" / "datasets"))
    path = base / "pricing" / "Carseats.csv"
    if not path.exists():
        print(f"(Carseats not found at {path}; skipped)")
        return None
    from mercato.regression import Design

    df = pd.read_csv(path)
    terms = [
        "CompPrice",
        "Income",
        "Advertising",
        "Population",
        "Price",
        "C(ShelveLoc)",
        "Age",
        "Education",
        "C(Urban)",
        "C(US)",
        "Income:Advertising",
        "Price:Age",
    ]
    return Design(terms).fit_transform(df), df["Sales"].to_numpy(), df["Age"].to_numpy()


def generated(n, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k)) * np.linspace(1, 3, k) + 2.0
    y = 1.0 + X @ np.linspace(-1, 1, k) + rng.normal(size=n) * (0.5 + np.abs(X[:, 0] - 2))
    return X, y


def max_rel(a, b):
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    # scipy flushes p-values below ~1e-308 to 0: those compare in absolute terms.
    keep = np.abs(b) > 1e-300
    if not keep.all():
        assert np.all(np.abs(a[~keep]) < 1e-300)
    return float(np.max(np.abs(a[keep] - b[keep]) / np.abs(b[keep]), initial=0.0))


def agreement():
    import statsmodels.api as sm
    from mercato.regression import LinearRegression

    cases = []
    cs = carseats()
    if cs is not None:
        cases.append(("Carseats OLS", cs[0], cs[1], None, cs[2]))
    Xg, yg = generated(5000, 8, seed=1)
    rng = np.random.default_rng(2)
    cases.append(("generated OLS 5000x8", Xg, yg, None, rng.integers(0, 50, 5000)))
    cases.append(("generated WLS 5000x8", Xg, yg, rng.uniform(0.5, 2, 5000), rng.integers(0, 50, 5000)))
    print("\n## Agreement with statsmodels (largest relative difference)\n")
    cols = ["params", "bse", "t", "p", "conf_int", "R2", "adjR2", "F", "F p", "llf", "AIC", "BIC"]
    print(f"| {'data':<22} | {'cov_type':<9} | " + " | ".join(f"{c:>8}" for c in cols) + " |")
    print("|" + "---|" * (len(cols) + 2))
    worst = 0.0
    for name, X, y, w, groups in cases:
        for cov in ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"]:
            g = groups if cov == "cluster" else None
            ours = LinearRegression(cov_type=cov).fit(X, y, sample_weight=w, groups=g)
            exog = sm.add_constant(np.asarray(X, dtype=float), has_constant="add")
            model = sm.OLS(y, exog) if w is None else sm.WLS(y, exog, weights=w)
            ref = model.fit(cov_type=cov, **({"cov_kwds": {"groups": g}} if g is not None else {}))
            ref_f = ref.fvalue
            diffs = [
                max_rel(ours.params_, ref.params),
                max_rel(ours.bse_, ref.bse),
                max_rel(ours.tvalues_, ref.tvalues),
                max_rel(ours.pvalues_, ref.pvalues),
                max_rel(ours.conf_int(0.05), ref.conf_int(0.05)),
                max_rel(ours.rsquared_, ref.rsquared),
                max_rel(ours.rsquared_adj_, ref.rsquared_adj),
                max_rel(ours.fvalue_, ref_f),
                max_rel(ours.f_pvalue_, ref.f_pvalue),
                max_rel(ours.llf_, ref.llf),
                max_rel(ours.aic_, ref.aic),
                max_rel(ours.bic_, ref.bic),
            ]
            worst = max(worst, *diffs)
            print(f"| {name:<22} | {cov:<9} | " + " | ".join(f"{d:8.1e}" for d in diffs) + " |")
    print(f"\nlargest relative difference overall: {worst:.2e} (target 1e-9)")


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(n, k, cov, repeat, peer_repeat):
    import statsmodels.api as sm
    from mercato.regression import LinearRegression
    from sklearn.linear_model import LinearRegression as SkLR

    X, y = generated(n, k, seed=3)
    t_m = best_of(lambda: LinearRegression(cov_type=cov, num_threads=THREADS).fit(X, y), repeat)

    def statsmodels_fit():
        exog = sm.add_constant(X, has_constant="add")
        r = sm.OLS(y, exog).fit(cov_type=cov)
        _ = (r.bse, r.pvalues, r.rsquared, r.fvalue)

    t_s = best_of(statsmodels_fit, peer_repeat)
    t_k = best_of(lambda: SkLR().fit(X, y), peer_repeat)
    return t_m, t_s, t_k


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--big-rows", type=int, default=None)
    args = ap.parse_args()
    try:
        import mercato.regression  # noqa: F401
        import sklearn  # noqa: F401
        import statsmodels  # noqa: F401
        from threadpoolctl import threadpool_limits
    except ImportError as e:
        sys.exit(f"needs mercato, statsmodels, scikit-learn and threadpoolctl in this Python: {e}")
    import sklearn
    import statsmodels

    print(
        f"numpy {np.__version__}, statsmodels {statsmodels.__version__}, scikit-learn {sklearn.__version__}, "
        f"{THREADS} threads, {os.cpu_count()} cores"
    )
    with threadpool_limits(limits=THREADS):
        agreement()
        print("\n## Fit time, seconds (best of runs), 2 threads\n")
        print("| problem | mercato | statsmodels | scikit-learn | statsmodels / mercato | scikit-learn / mercato |")
        print("|---|---|---|---|---|---|")
        big = args.big_rows or (2_000_000 if args.quick else 10_000_000)
        problems = [(200_000 if args.quick else 1_000_000, 30, "HC3"), (big, 10, "nonrobust")]
        for n, k, cov in problems:
            t_m, t_s, t_k = speed(n, k, cov, args.repeat, 1)
            print(
                f"| {n:,} x {k} {cov} | {t_m:.3f} | {t_s:.3f} | {t_k:.3f} | {t_s / t_m:.1f}x | {t_k / t_m:.1f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
