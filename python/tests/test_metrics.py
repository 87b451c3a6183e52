"""mercato.metrics against scikit-learn on random data, and hand-computed cases."""

import numpy as np
import pytest
from mercato import metrics
from sklearn import metrics as skm


@pytest.mark.parametrize("seed", range(5))
def test_score_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = 500
    y = (rng.random(n) < 0.2).astype(np.int64)
    # Rounded scores create many ties, the case where definitions differ.
    s = np.round(rng.random(n) + 0.4 * y, 1)
    assert metrics.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert metrics.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_regression_and_class_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    t, p = rng.random(200) * 4 + 1, rng.random(200) * 4 + 1
    assert metrics.rmse(t, p) == pytest.approx(np.sqrt(skm.mean_squared_error(t, p)), rel=1e-12)
    assert metrics.mae(t, p) == pytest.approx(skm.mean_absolute_error(t, p), rel=1e-12)
    ct, cp = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    assert metrics.accuracy(ct, cp) == pytest.approx(skm.accuracy_score(ct, cp))
    np.testing.assert_array_equal(metrics.confusion_matrix(ct, cp, 4), skm.confusion_matrix(ct, cp, labels=range(4)))


def test_ranking_metrics_hand_computed():
    rec = np.array([5, 1, 9, 2, 7])
    rel = [1, 2, 3]
    assert metrics.precision_at_k(rec, rel, 5) == pytest.approx(0.4)
    assert metrics.recall_at_k(rec, rel, 5) == pytest.approx(2 / 3)
    assert metrics.average_precision_at_k(rec, rel, 5) == pytest.approx((1 / 2 + 2 / 4) / 3)
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    idcg = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert metrics.ndcg_at_k(rec, rel, 5) == pytest.approx(dcg / idcg)


def test_ndcg_matches_sklearn_binary():
    rng = np.random.default_rng(3)
    n_items = 50
    for _ in range(10):
        relevant = sorted(rng.choice(n_items, 6, replace=False).tolist())
        scores = rng.random(n_items)
        ranking = np.argsort(-scores)
        truth = np.isin(np.arange(n_items), relevant).astype(float)
        expected = skm.ndcg_score(truth[None, :], scores[None, :], k=10)
        assert metrics.ndcg_at_k(ranking, relevant, 10) == pytest.approx(expected, abs=1e-12)


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="both classes"):
        metrics.roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="finite"):
        metrics.roc_auc([0, 1], [0.2, float("nan")])
    with pytest.raises(ValueError, match="shape mismatch"):
        metrics.rmse([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="0 or 1"):
        metrics.average_precision([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError):
        metrics.precision_at_k(np.array([1, 2]), [1], 0)
