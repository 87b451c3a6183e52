"""mercato.datasets.load_fashion_mnist: IDX files, no torch needed."""

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from mercato.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist

FASHION = Path(os.environ.get("MERCATO_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))


def idx(dims, data: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def test_small_files_raw_and_gzip(tmp_path):
    imgs = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for prefix in ["train", "t10k"]:
        (tmp_path / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(idx([2, 3, 4], imgs.tobytes()))
        )
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(idx([2], bytes([3, 9])))
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(x_train, imgs)
    assert x_test.dtype == np.uint8 and list(y_train) == [3, 9] and list(y_test) == [3, 9]


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_fashion_mnist(tmp_path)
    for prefix in ["train", "t10k"]:
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(idx([2, 3, 4], b"\x00" * 5))
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(idx([2], bytes([0, 1])))
    with pytest.raises(ValueError, match="need 24 data bytes"):
        load_fashion_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x08\x03")
    with pytest.raises(ValueError, match="magic"):
        load_fashion_mnist(tmp_path)


def test_real_fashion_mnist():
    if not FASHION.is_dir():
        pytest.skip(f"Fashion-MNIST not found in {FASHION} (apt-get install dataset-fashion-mnist)")
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert abs(x_train.mean() / 255 - 0.2860) < 1e-3
    assert len(FASHION_MNIST_CLASSES) == 10
