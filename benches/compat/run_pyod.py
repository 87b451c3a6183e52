"""Runs PyOD's own detector tests against mercato and prints passed/run per module.

    python benches/compat/run_pyod.py /path/to/pyod-source-tree

The source tree is PyOD's (e.g. v3.6.5, brought in with ``fetch`` into a temporary folder:
it is never copied into this repository). The test files are copied unchanged into a
temporary folder next to ``pyod_shim/pyod``, a stand-in package that maps PyOD's class
names and constructor arguments onto ``mercato.fraud``, so their ``from pyod.models...``
lines load mercato detectors. ``pyod.utils.data.generate_data`` (the tests' data) comes
from the real PyOD installed from PyPI. Nothing else is patched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _suite  # noqa: E402

MODULES = [f"test_{m}.py" for m in ("iforest", "ecod", "copod", "hbos", "lof", "knn", "mcd", "pca")]
SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pyod_shim", "pyod")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="PyOD's source tree (the folder holding pyod/test/)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every failing test")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mercato-compat-pyod-") as tmp:
        for m in MODULES:
            shutil.copy(os.path.join(args.source, "pyod", "test", m), tmp)
        shutil.copytree(SHIM, os.path.join(tmp, "pyod"))
        # The tests append their parent folder to sys.path; from the temporary folder that is
        # harmless, and the shim (next to them) is found first.
        _suite.run(tmp, MODULES, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
