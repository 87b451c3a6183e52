"""Evaluation metrics computed in Rust: ratings, rankings, scores and classes.

Score metrics match scikit-learn's ``roc_auc_score`` and ``average_precision_score``.
"""

from mercato._mercato.metrics import (
    accuracy,
    average_precision,
    average_precision_at_k,
    confusion_matrix,
    mae,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
    roc_auc,
)

__all__ = [
    "accuracy",
    "average_precision",
    "average_precision_at_k",
    "confusion_matrix",
    "mae",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "rmse",
    "roc_auc",
]
