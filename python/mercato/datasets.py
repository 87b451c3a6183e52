"""Loaders for the file formats mercato reads. Triples come back as pandas DataFrames
(columns ``user``, ``item``, ``rating``/``weight``) when pandas is installed, else as a dict
of numpy arrays; anomaly tables as ``(X, y, feature_names)``."""

from __future__ import annotations

import os
from typing import Any

from mercato._mercato import datasets as _native

__all__ = [
    "FASHION_MNIST_CLASSES",
    "load_anomaly_csv",
    "load_fashion_mnist",
    "load_lastfm",
    "load_movielens",
    "load_triples",
    "marketplace",
    "marketplace_sessions",
]


def _frame(columns: dict[str, Any], value_name: str):
    columns = dict(columns)
    columns[value_name] = columns.pop("value")
    try:
        import pandas as pd
    except ImportError:
        return columns
    return pd.DataFrame(columns)


def load_movielens(path: str | os.PathLike):
    """MovieLens ratings (``u.data``, ``ratings.dat`` or ``ratings.csv``): user, item, rating."""
    return _frame(_native.load_movielens(os.fspath(path)), "rating")


def load_lastfm(path: str | os.PathLike):
    """Last.fm-2k ``user_artists.dat``: user, item, weight (play counts)."""
    return _frame(_native.load_lastfm(os.fspath(path)), "weight")


def load_triples(path: str | os.PathLike, delimiter: str = ",", header: bool = True, columns=(0, 1, 2)):
    """A delimited (user, item, value) file; repeated pairs are summed."""
    return _frame(_native.load_triples(os.fspath(path), delimiter, header, tuple(columns)), "value")


def marketplace(scale: str = "small", seed: int = 42, pictures: bool = False) -> dict:
    """The synthetic marketplace (the generator behind ``datasets/marketplace``; seed 42 and
    ``scale="small"`` give the bundled files' products, ratings and events): a dict of
    DataFrames ``products`` (product, name, category, price), ``ratings`` (user, product,
    rating) and ``events`` (user, product, views, purchases); with ``pictures=True`` also
    ``pictures``, one 28x28 uint8 photo per product in ``products`` order: the category's
    Fashion-MNIST silhouette, its brightness, stripes and size following the product's
    hidden taste traits (what the cold-start demo recommends new products from).
    ``scale`` is ``"small"`` (600 users, 400 products), ``"medium"`` or ``"large"``."""
    if not isinstance(scale, str):
        raise TypeError(f"scale must be 'small', 'medium' or 'large', got {scale!r}")
    raw = _native.marketplace(scale, seed, bool(pictures))  # a negative or huge seed: ValueError
    try:
        import pandas as pd
    except ImportError:
        return raw
    out = {k: pd.DataFrame(raw[k]) for k in ("products", "ratings", "events")}
    if "pictures" in raw:
        out["pictures"] = raw["pictures"]
    return out


def marketplace_sessions(n_users: int = 2000, seed: int = 7):
    """Synthetic shopping sessions with sequential structure (browse -> compare -> buy, then
    the bought product's accessories in order): columns ``user``, ``item``, ``category``,
    ``event`` (view/cart/purchase) and ``time`` (seconds), ordered by user and time. The
    same arguments always give the same log. For next-item models (``SASRec``,
    ``GRU4Rec``); see ``mercato::data::synth_sessions`` for the generator."""
    cols = _native.marketplace_sessions(n_users, seed)  # negative or huge values: ValueError
    try:
        import pandas as pd
    except ImportError:
        return cols
    return pd.DataFrame(cols)


def load_anomaly_csv(path: str | os.PathLike):
    """An anomaly CSV (``f0..fN,label``): returns ``(X, y, feature_names)``; ``y`` is None without a label."""
    return _native.load_anomaly_csv(os.fspath(path))


FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def load_fashion_mnist(path: str | os.PathLike | None = None):
    """Fashion-MNIST (or MNIST) from the four IDX files, gzip-compressed or raw.

    ``path`` is the folder holding ``train-images-idx3-ubyte[.gz]`` etc.; by default
    ``$MERCATO_FASHION_MNIST`` or ``/usr/share/datasets/fashion-mnist``
    (``apt-get install dataset-fashion-mnist``). Returns
    ``((x_train, y_train), (x_test, y_test))``: uint8 images ``[N, 28, 28]`` and uint8 labels
    (class names in ``FASHION_MNIST_CLASSES``), as ``keras.datasets.fashion_mnist.load_data``.
    Needs no torch.
    """
    return _native.load_fashion_mnist(None if path is None else os.fspath(path))
