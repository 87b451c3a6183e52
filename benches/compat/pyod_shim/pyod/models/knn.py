from mercato.fraud import KNN as _KNN

from ._threads import dropped, num_threads


def KNN(
    contamination=0.1,
    n_neighbors=5,
    method="largest",
    radius=1.0,
    algorithm="auto",
    leaf_size=30,
    metric="minkowski",
    p=2,
    metric_params=None,
    n_jobs=1,
):
    # algorithm/leaf_size pick scikit-learn's search structure (mercato picks its own; the
    # neighbours are the same); radius is unused by PyOD's KNN scores.
    dropped("KNN", dict(radius=radius, leaf_size=leaf_size), dict(radius=1.0, leaf_size=30))
    if metric == "minkowski" and p != 2:
        metric = f"minkowski(p={p})"  # mercato refuses it with a ValueError naming the metric
    return _KNN(
        contamination=contamination,
        n_neighbors=n_neighbors,
        method=method,
        metric=metric,
        metric_params=metric_params,
        num_threads=num_threads(n_jobs),
    )
