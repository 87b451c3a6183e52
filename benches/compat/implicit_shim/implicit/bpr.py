from mercato.recommend import BPR


def BayesianPersonalizedRanking(
    factors=100,
    learning_rate=0.01,
    regularization=0.01,
    dtype=None,
    iterations=100,
    verify_negative_samples=True,
    random_state=None,
    use_gpu=False,
    num_threads=0,
):
    return BPR(
        factors=factors,
        learning_rate=learning_rate,
        regularization=regularization,
        iterations=iterations,
        verify_negative_samples=verify_negative_samples,
        num_threads=num_threads,
        seed=0 if random_state is None else random_state,
    )
