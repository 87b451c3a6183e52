from mercato.metrics import ranking_metrics_at_k


def precision_at_k(model, train_user_items, test_user_items, K=10, show_progress=True, num_threads=0):
    return ranking_metrics_at_k(model, train_user_items, test_user_items, K=K)["precision"]
