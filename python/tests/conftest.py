import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_datasets() -> Path:
    """Real evaluation data: $MERCATO_DATA or ../shared/datasets beside the repo."""
    return Path(os.environ.get("MERCATO_DATA", REPO.parent / "shared" / "datasets"))


@pytest.fixture
def datasets_dir() -> Path:
    path = shared_datasets()
    if not path.is_dir():
        pytest.skip(f"real datasets not found at {path} (set MERCATO_DATA); skipping real-data test")
    return path
