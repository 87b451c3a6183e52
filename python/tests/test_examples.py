"""Runs every example at small size, so none rots.

Python scripts in ``examples/`` run with ``MERCATO_EXAMPLE_SMALL=1`` in a subprocess; Rust
examples in ``crates/mercato/examples`` are built once with the ``test`` profile (what
``cargo test`` already builds, so ``make test`` finds them compiled) and run with small
arguments. Each entry names what it needs (real data, the vision extension, libtorch) and is
skipped with a message when that is missing. A new example without an entry here fails
``test_every_example_is_listed``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, shared_datasets

DATA = shared_datasets()
FASHION = Path(os.environ.get("MERCATO_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
ENV = {**os.environ, "MERCATO_EXAMPLE_SMALL": "1", "MERCATO_DATA": str(DATA)}


def _has_vision() -> bool:
    return importlib.util.find_spec("_mercato_vision") is not None


def _has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


# name -> (arguments, list of (condition, reason to skip))
PYTHON = {
    "recommend_pandas.py": ([], []),
    "train_cnn_folder.py": ([], [(_has_vision, "the vision extension is not installed")]),
    "fraud_explain.py": (
        [],
        [(lambda: (DATA / "anomaly" / "creditcard_fraud_subset.csv").is_file(), f"no fraud CSV under {DATA}")],
    ),
}

_ml = (lambda: (DATA / "movielens-100k" / "u1.base").is_file(), f"MovieLens-100k not found under {DATA}")
_lastfm = (lambda: (DATA / "lastfm-2k" / "user_artists.dat").is_file(), f"Last.fm-2k not found under {DATA}")
_fraud = (lambda: (DATA / "anomaly" / "creditcard_fraud_subset.csv").is_file(), f"no fraud CSV under {DATA}")
_torch = (_has_torch, "torch (libtorch) is not installed in this Python")
_fashion = (lambda: FASHION.is_dir(), f"Fashion-MNIST not found at {FASHION}")
RUST = {
    "fraud_service": (["--small"], []),
    "fraud_explain": ([], [_fraud]),
    "recommend_explicit": ([], [_ml]),
    "recommend_explicit_eval": (["baseline", "inner"], [_ml]),
    "recommend_explicit_scale": (["2000", "500", "10", "8", "2", "1"], []),
    "recommend_implicit": ([], [_lastfm]),
    "recommend_implicit_scale": (["2000", "500", "20000", "2"], []),
    "classify_images": (["--small"], [_torch]),
    "vision_train_fashion": (["--small", "--threads", "2"], [_torch, _fashion]),
}
TORCH_EXAMPLES = {"classify_images", "vision_train_fashion"}


def test_every_example_is_listed():
    py = {p.name for p in (REPO / "examples").glob("*.py")}
    rs = {p.stem for p in (REPO / "crates" / "mercato" / "examples").glob("*.rs")}
    assert py == set(PYTHON), f"examples/ and this test disagree: {sorted(py ^ set(PYTHON))}"
    assert rs == set(RUST), f"crates/mercato/examples and this test disagree: {sorted(rs ^ set(RUST))}"


def _skip_unless(needs):
    for ok, reason in needs:
        if not ok():
            pytest.skip(reason)


@pytest.mark.parametrize("name", sorted(PYTHON))
def test_python_example(name):
    args, needs = PYTHON[name]
    _skip_unless(needs)
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / name), *args],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, f"{name} failed:\n{out.stdout}\n{out.stderr}"
    assert out.stdout.strip(), f"{name} printed nothing"
    assert "skipped" not in out.stdout.splitlines()[0], out.stdout


@pytest.fixture(scope="session")
def rust_examples() -> Path:
    """Builds the Rust examples once (test profile, the torch feature when libtorch is here).

    Under ``make test`` (``MERCATO_CARGO_FEATURES`` set) the build selects the workspace and
    features ``cargo test --workspace`` used: the same feature resolution, so the examples
    it built are found fresh; ``-p mercato`` alone would resolve the core's features anew and
    compile it again (90 s on 2 cores)."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo not found; Rust examples not run")
    cmd = [cargo, "build", "--profile", "test", "--examples"]
    env = dict(os.environ)
    workspace_features = os.environ.get("MERCATO_CARGO_FEATURES")
    if workspace_features:
        cmd += ["--workspace", "--features", workspace_features]
    elif _has_torch():
        cmd += ["-p", "mercato", "--features", "torch"]
    else:
        cmd += ["-p", "mercato"]
    if _has_torch():
        # torch-sys finds libtorch in this interpreter's torch wheel.
        env.update(LIBTORCH_USE_PYTORCH="1", VIRTUAL_ENV=sys.prefix)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, f"building the examples failed:\n{out.stderr[-4000:]}"
    return REPO / "target" / "debug" / "examples"


@pytest.mark.parametrize("name", sorted(RUST))
def test_rust_example(name, rust_examples):
    args, needs = RUST[name]
    _skip_unless(needs)
    binary = rust_examples / name
    if name in TORCH_EXAMPLES and not binary.exists():
        pytest.skip(f"{name} needs the torch feature")
    out = subprocess.run([str(binary), *args], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{name} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    assert out.stdout.strip(), f"{name} printed nothing"
