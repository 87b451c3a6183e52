from mercato.recommend import ALS


def AlternatingLeastSquares(
    factors=100,
    regularization=0.01,
    alpha=1.0,
    dtype=None,
    use_native=True,
    use_cg=True,
    use_gpu=False,
    iterations=15,
    calculate_training_loss=False,
    num_threads=0,
    random_state=None,
):
    # dtype/use_native/use_gpu select implicit's kernels; mercato has one (float32, native).
    return ALS(
        factors=factors,
        regularization=regularization,
        alpha=alpha,
        confidence="implicit",
        use_cg=use_cg,
        iterations=iterations,
        calculate_training_loss=calculate_training_loss,
        num_threads=num_threads,
        seed=0 if random_state is None else random_state,
    )
