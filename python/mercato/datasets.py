"""Loaders for the file formats mercato reads. Triples come back as pandas DataFrames
(columns ``user``, ``item``, ``rating``/``weight``) when pandas is installed, else as a dict
of numpy arrays; anomaly tables as ``(X, y, feature_names)``."""

from __future__ import annotations

import os
from typing import Any

from mercato._mercato import datasets as _native

__all__ = ["load_anomaly_csv", "load_lastfm", "load_movielens", "load_triples"]


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


def load_anomaly_csv(path: str | os.PathLike):
    """An anomaly CSV (``f0..fN,label``): returns ``(X, y, feature_names)``; ``y`` is None without a label."""
    return _native.load_anomaly_csv(os.fspath(path))
