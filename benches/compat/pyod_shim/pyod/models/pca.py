from mercato.fraud import PCA as _PCA


def PCA(
    n_components=None,
    n_selected_components=None,
    contamination=0.1,
    copy=True,
    whiten=False,
    svd_solver="auto",
    tol=0.0,
    iterated_power="auto",
    random_state=None,
    weighted=True,
    standardization=True,
):
    return _PCA(
        n_components=n_components,
        score="weighted" if weighted else "reconstruction",
        standardize=standardization,
        contamination=contamination,
    )
