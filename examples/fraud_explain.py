"""Score the credit-card fraud subset and explain one fraud row.

python examples/fraud_explain.py [path/to/creditcard_fraud_subset.csv]
"""

import os
import sys
from pathlib import Path

import pandas as pd
from mercato import fraud
from mercato.metrics import average_precision, roc_auc

default = Path(os.environ.get("MERCATO_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "datasets"))
path = Path(sys.argv[1]) if len(sys.argv) > 1 else default / "anomaly" / "creditcard_fraud_subset.csv"
df = pd.read_csv(path)
y = df.pop("label").to_numpy()

detectors = {
    "IsolationForest": fraud.IsolationForest(seed=0, contamination=0.01),
    "ECOD": fraud.ECOD(contamination=0.01),
    "Ensemble": fraud.Ensemble([fraud.IsolationForest(seed=0), fraud.ECOD()], contamination=0.01),
}
for name, det in detectors.items():
    det.fit(df)
    s = det.decision_scores_
    print(f"{name:<16} ROC-AUC {roc_auc(y, s):.4f}  AP {average_precision(y, s):.4f}")

# The first real fraud that the forest flags at 1% contamination.
forest, ecod = detectors["IsolationForest"], detectors["ECOD"]
caught = (y == 1) & (forest.labels_ == 1)
print(f"\nfrauds flagged at 1% contamination: {caught.sum()} of {(y == 1).sum()}")
row = df[caught].iloc[0]
for name, det, what in (("IsolationForest", forest, "isolation share"), ("ECOD", ecod, "-ln tail prob")):
    names, contrib = det.explain(row, top=5)
    score = det.score_one(row.to_numpy())
    print(f"\n{name}: fraud row {row.name} scores {score:.4f} (threshold {det.threshold_:.4f})")
    for n, c in zip(names, contrib):
        print(f"  {n:<6} value {row[n]:>10.4f}  {what} {c:.4f}")
    print("  risk (unify):", det.predict_proba(row.to_frame().T, method="unify")[0, 1].round(3))
