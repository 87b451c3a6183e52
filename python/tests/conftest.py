import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_datasets() -> Path:
    """Real evaluation data: $MERCATO_DATA or ../shared/datasets beside the repo."""
    return Path(os.environ.get("MERCATO_DATA", REPO.parent / "shared" / "datasets"))


def in_ci() -> bool:
    """True under CI (``CI`` set to true/1/yes): real-data tests then fail instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_data(path, what: str = "real datasets") -> Path:
    """``path`` when it exists; otherwise skip the test, or fail it when ``CI=true`` so that a
    real-data check can never silently disappear from a green CI run."""
    path = Path(path)
    if not path.exists():
        msg = f"{what} not found at {path} (set MERCATO_DATA)"
        if in_ci():
            pytest.fail(f"{msg}; CI=true, so a real-data test fails instead of skipping", pytrace=False)
        pytest.skip(msg)
    return path


@pytest.fixture
def datasets_dir() -> Path:
    return require_data(shared_datasets())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI, any skip whose reason points into the shared datasets (a test that checks the
    path itself instead of calling ``require_data``) becomes a failure."""
    outcome = yield
    report = outcome.get_result()
    if not (in_ci() and report.skipped and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2])
    if str(shared_datasets()) in reason or "shared/datasets" in reason:
        report.outcome = "failed"
        report.longrepr = f"{reason}\nCI=true: a test that needs the shared datasets must not skip"
