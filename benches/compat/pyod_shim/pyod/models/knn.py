from mercato.fraud import KNN as _KNN

from ._threads import num_threads


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
    return _KNN(
        contamination=contamination,
        n_neighbors=n_neighbors,
        method=method,
        num_threads=num_threads(n_jobs),
    )
