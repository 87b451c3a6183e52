from mercato.fraud import PCA as _PCA

from ._threads import dropped


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
    # copy/svd_solver/tol/iterated_power/random_state steer scikit-learn's SVD (mercato uses
    # an exact eigendecomposition); n_selected_components and whiten change the model: warned.
    dropped(
        "PCA",
        dict(n_selected_components=n_selected_components, whiten=whiten),
        dict(n_selected_components=None, whiten=False),
    )
    return _PCA(
        n_components=n_components,
        score="weighted" if weighted else "reconstruction",
        standardize=standardization,
        contamination=contamination,
    )
