"""The README's Python examples run as written."""

import importlib.util
import re
from pathlib import Path

import pytest
from conftest import REPO

FASHION = Path("/usr/share/datasets/fashion-mnist")


def _blocks():
    text = (REPO / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_python_examples():
    assert len(_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    block = _blocks()[index]
    if "mercato.vision" in block:
        if importlib.util.find_spec("_mercato_vision") is None:
            pytest.skip("the vision extension (mercato[vision]) is not installed")
        if not FASHION.is_dir():
            pytest.skip(f"Fashion-MNIST not installed at {FASHION} (apt-get install dataset-fashion-mnist)")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
