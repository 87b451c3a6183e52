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
    "ranking_metrics_at_k",
    "rmse",
    "roc_auc",
]


def ranking_metrics_at_k(model, train_user_items, test_user_items, K=10, show_progress=False, num_threads=0):
    """Precision, MAP, NDCG and AUC at ``K`` of a mercato ``ALS``/``BPR``/``ItemKNN`` over
    every user with test items, defined exactly as implicit's
    ``implicit.evaluation.ranking_metrics_at_k`` (precision divides hits by
    ``sum(min(K, |test_u|))``; AUC treats items outside the list as ranked below it).
    ``train_user_items`` (users x items) is filtered out of each list. Runs in Rust.
    """
    from mercato.recommend._implicit import _csr

    model._check()
    return dict(model._model.ranking_metrics(_csr(train_user_items), _csr(test_user_items), int(K)))
