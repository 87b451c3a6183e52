"""PyOD's data generator, taken from the real PyOD installed from PyPI (the peer the suite
compares against): it makes the tests' data, and mercato has no equivalent to test."""

import importlib
import importlib.metadata
import sys
import types


def _peer_utils():
    # This package shadows `pyod`, so the real one is loaded by path under another name,
    # without running its package __init__ (which would import all of PyOD).
    name = "_peer_pyod_utils"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(importlib.metadata.distribution("pyod").locate_file("pyod/utils"))]
        sys.modules[name] = pkg
    return importlib.import_module(name + ".data")


generate_data = _peer_utils().generate_data
