"""Saving to and loading from a path or an open binary file, shared by every model class."""

from __future__ import annotations

import os


def save_model(target, to_bytes, save_path) -> None:
    """Writes a model to ``target``: a path (``str`` / ``os.PathLike``) through
    ``save_path(str)``, or a binary file object (anything with ``write``, e.g. ``io.BytesIO``)
    through ``to_bytes()``. Anything else is a ``TypeError`` (never ``str(target)`` as a file
    name, which would write a file named after the object's repr)."""
    if hasattr(target, "write"):
        target.write(bytes(to_bytes()))
        return
    save_path(_path(target))


def load_model(source, from_bytes, load_path):
    """Reads a model from a path through ``load_path(str)`` or from a binary file object
    (anything with ``read``) through ``from_bytes(bytes)``."""
    if hasattr(source, "read"):
        return from_bytes(bytes(source.read()))
    return load_path(_path(source))


def _path(p) -> str:
    try:
        return os.fspath(p)
    except TypeError:
        raise TypeError(
            f"expected a path (str or os.PathLike) or a binary file object, got {type(p).__name__}"
        ) from None
