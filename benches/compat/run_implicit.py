"""Runs implicit's own recommender tests against mercato and prints passed/run per module.

    python benches/compat/run_implicit.py /path/to/implicit-source-tree

The source tree is implicit's (e.g. v0.7.3, brought in with ``fetch`` into a temporary
folder: it is never copied into this repository). The test files are copied unchanged into
a temporary folder next to ``implicit_shim/implicit``, a stand-in package that maps
implicit's class names and constructor arguments onto mercato, so their
``import implicit...`` lines load mercato models. Nothing else is patched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _suite  # noqa: E402

MODULES = ["recommender_base_test.py", "als_test.py", "bpr_test.py", "knn_test.py"]
SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "implicit_shim", "implicit")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", help="implicit's source tree (the folder holding tests/)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every failing test")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mercato-compat-implicit-") as tmp:
        for m in MODULES:
            shutil.copy(os.path.join(args.source, "tests", m), tmp)
        shutil.copytree(SHIM, os.path.join(tmp, "implicit"))
        # recommender_base_test.py holds only the mixin: its tests run inside the other modules.
        _suite.run(tmp, [m for m in MODULES if m != "recommender_base_test.py"], args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
