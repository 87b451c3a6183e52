"""Runs a peer's test files with pytest in a folder next to a shim package and prints
passed/run per module: the shared half of run_implicit.py and run_pyod.py."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def run(folder: str, modules: list[str], verbose: bool) -> None:
    """pytest on ``modules`` (file names inside ``folder``), then the per-module table."""
    report = str(Path(folder) / "report.xml")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *modules]
    subprocess.run(cmd, cwd=folder, stdout=None if verbose else subprocess.DEVNULL)
    per_module: dict[str, list[int]] = {}
    failures = []
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")[0] + ".py"
        counts = per_module.setdefault(module, [0, 0])
        counts[1] += 1
        bad = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        if bad or skipped:
            failures.append(f"{case.get('classname')}::{case.get('name')}" + (" (skipped)" if skipped else ""))
        else:
            counts[0] += 1
    print(f"{'module':<22}{'passed':>8}{'run':>6}")
    total = [0, 0]
    for module, (ok, n) in sorted(per_module.items()):
        print(f"{module:<22}{ok:>8}{n:>6}")
        total[0] += ok
        total[1] += n
    print(f"{'total':<22}{total[0]:>8}{total[1]:>6}")
    if verbose:
        print("\nnot passed:\n  " + "\n  ".join(failures))
