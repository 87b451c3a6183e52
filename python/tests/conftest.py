import os
import struct
import zlib
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


def png_bytes(pixels) -> bytes:
    """A greyscale PNG file of a 2-D uint8 array (a minimal writer: no Pillow needed)."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    return png + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def product_photo_files(folder: Path, n: int) -> list[str]:
    """The first ``n`` marketplace product photos (28x28 grey) written as PNG files."""
    from mercato.datasets import marketplace

    pictures = marketplace("small", seed=11, pictures=True)["pictures"][:n]
    paths = []
    for k, picture in enumerate(pictures):
        path = folder / f"photo-{k:03d}.png"
        path.write_bytes(png_bytes(picture))
        paths.append(str(path))
    return paths


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
