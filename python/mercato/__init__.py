"""mercato: machine learning for commerce and payment platforms, with a Rust core.

Submodules:

- ``mercato.recommend``: explicit-rating and implicit-feedback recommenders;
- ``mercato.fraud``: unsupervised anomaly detectors for transaction scoring;
- ``mercato.regression``: demand/sales regression with statsmodels' inference;
- ``mercato.pricing``: optimal prices from fitted demand models;
- ``mercato.vision``: CNN product-image classifier (needs ``pip install mercato[vision]``);
- ``mercato.metrics`` and ``mercato.datasets``: evaluation and loaders;
- ``mercato.load(path_or_bytes)``: any model file as an estimator of the right class.

Every estimator derives from ``mercato.Estimator`` (scikit-learn's contract: ``get_params``,
``set_params``, ``clone``; ``save``/``load``/pickle through the checked model format).
"""

from mercato import datasets, fraud, metrics, pricing, recommend, regression
from mercato._base import Estimator, NotFittedError, ParameterWarning, UnknownIdError, load
from mercato._mercato import ModelFormatError, __version__

__all__ = [
    "Estimator",
    "ModelFormatError",
    "NotFittedError",
    "ParameterWarning",
    "UnknownIdError",
    "__version__",
    "datasets",
    "fraud",
    "load",
    "metrics",
    "pricing",
    "recommend",
    "regression",
]


def __getattr__(name: str):
    # mercato.vision pulls in libtorch; import it only when asked for.
    if name == "vision":
        import importlib

        return importlib.import_module("mercato.vision")
    raise AttributeError(f"module 'mercato' has no attribute {name!r}")
