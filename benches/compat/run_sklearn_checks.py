"""Runs scikit-learn's ``check_estimator`` on every ``mercato.fraud`` detector and scaler and
prints passed/run per estimator.

    python benches/compat/run_sklearn_checks.py          # -v lists each failing check

Checks that mercato deliberately does not follow are passed to ``check_estimator`` as
``expected_failed_checks`` (with the reason; see ``DETECTOR_SKIPS`` and ``SKIPPED``),
reported as "skipped" and counted in ``run``, not in ``passed``.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from mercato.fraud import (
    COPOD,
    ECOD,
    HBOS,
    KNN,
    LOF,
    PCA,
    Ensemble,
    IsolationForest,
    Mahalanobis,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.estimator_checks import check_estimator

# check name -> why mercato does not follow it, for every detector.
DETECTOR_SKIPS = {
    "check_outliers_train": "PyOD's conventions: predict gives 1 = anomaly / 0 = normal (scikit-learn: -1 / 1) "
    "and decision_function is higher = more anomalous (scikit-learn: higher = more normal, 0 at the threshold)",
    "check_outliers_fit_predict": "PyOD's 0/1 labels (scikit-learn expects -1/1)",
}
# estimator class name -> {check name: why}, on top of DETECTOR_SKIPS for detectors.
SKIPPED: dict[str, dict[str, str]] = {
    "PCA": {
        "check_n_features_in_after_fitting": "mercato's PCA has a hyper-parameter named `score` ('weighted' or "
        "'reconstruction'), which the check takes for scikit-learn's score(X, y) method",
        "check_fit_score_takes_y": "as check_n_features_in_after_fitting (the `score` hyper-parameter)",
        "check_pipeline_consistency": "as check_n_features_in_after_fitting (the `score` hyper-parameter)",
    },
    "StandardScaler": {
        "check_estimator_sparse_array": "the check sets scikit-learn's StandardScaler parameter with_mean=False on "
        "any estimator of that name; mercato's has no such parameter (it takes dense input)",
        "check_estimator_sparse_matrix": "as check_estimator_sparse_array",
    },
}


def skips(est) -> dict[str, str]:
    out = {} if type(est).__name__.endswith("Scaler") else dict(DETECTOR_SKIPS)
    out.update(SKIPPED.get(type(est).__name__, {}))
    return out


def estimators():
    return [
        IsolationForest(n_estimators=20, seed=0),
        ECOD(),
        COPOD(),
        HBOS(),
        KNN(),
        LOF(),
        Mahalanobis(),
        PCA(),
        Ensemble([ECOD(), HBOS()]),
        StandardScaler(),
        RobustScaler(),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="list every failing check")
    args = ap.parse_args()
    print(f"{'estimator':<38}{'passed':>8}{'run':>6}{'skipped':>9}")
    total = [0, 0]
    failures = []
    for est in estimators():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                results = check_estimator(est, expected_failed_checks=skips(est), on_fail=None, on_skip=None)
            except Exception as e:  # e.g. no __sklearn_tags__: the checks cannot even be listed
                print(f"{est!r:<38}  does not start: {type(e).__name__}: {str(e)[:80]}")
                continue
        ok = sum(r["status"] == "passed" for r in results)
        skipped = sum(r["status"] in ("skipped", "xfail") for r in results)
        for r in results:
            if args.verbose and r["status"] == "skipped":
                failures.append(f"{est!r} {r['check_name']}: skipped by scikit-learn: {r['exception']}"[:300])
            if r["status"] == "failed":
                failures.append(f"{est!r} {r['check_name']}: {type(r['exception']).__name__}: {r['exception']}"[:300])
        print(f"{est!r:<38}{ok:>8}{len(results):>6}{skipped:>9}")
        total[0] += ok
        total[1] += len(results)
    print(f"{'total':<38}{total[0]:>8}{total[1]:>6}")
    if args.verbose:
        print("\nnot passed:\n  " + "\n  ".join(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
