"""Writes the fuzz seed corpora (fuzz/seeds/<target>/) from the project's own files: the
bundled marketplace CSVs, heads of the real datasets when ../shared/datasets is present, a
few hand-made edge cases, and (with the `mercato` Python package installed) one model file
of every kind. Seeds are kept small (a few KiB) so libFuzzer mutates them quickly.

    python fuzz/make_seeds.py          # from the repository root
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "fuzz" / "seeds"
DATA = Path(os.environ.get("MERCATO_DATA", REPO.parent / "shared" / "datasets"))


def head(path: Path, lines: int) -> bytes:
    with open(path, "rb") as f:
        return b"".join(f.readline() for _ in range(lines))


def put(target: str, name: str, data: bytes) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def text_seeds() -> None:
    market = REPO / "datasets" / "marketplace"
    ratings = head(market / "ratings.csv", 25)
    events = head(market / "events.csv", 25)
    # triples: first byte = format control (bits: delimiter 0-1, header 2, no value column 3)
    put("triples", "ratings_csv", b"\x04" + ratings)
    put("triples", "events_csv", b"\x04" + events)
    put("triples", "tab_noheader", b"\x01" + b"1\t10\t3.5\n2\t10\t4\n1\t11\t1e0\n")
    put("triples", "colons_sum", b"\x12" + b"1::2::5\n1::2::1\n3::4::2\n")
    put("triples", "no_value", b"\x0c" + b"user,item\nann,tea\nbob,mug\n")
    ml = DATA / "movielens-100k" / "u.data"
    if ml.exists():
        put("movielens", "u_data", head(ml, 40))
    put("movielens", "ratings_dat", b"1::1193::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n")
    put("movielens", "ratings_csv", b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n")
    lastfm = DATA / "lastfm-2k" / "user_artists.dat"
    if lastfm.exists():
        put("lastfm", "user_artists", head(lastfm, 40))
    put("lastfm", "tiny", b"userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n3\t51\t1\n")
    for name in ("cardio", "thyroid", "creditcard_fraud_subset"):
        p = DATA / "anomaly" / f"{name}.csv"
        if p.exists():
            put("anomaly_csv", name, head(p, 12))
    put("anomaly_csv", "transactions", head(market / "transactions.csv", 12))
    put("anomaly_csv", "quoted", b'"a","b","label"\n1.5,-2,0\n3,4e2,1\n')
    # IDX: 2 images of 3x3 u8, labels, gzip, and a header claiming 2^40 elements
    images = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", 2, 3, 3) + bytes(range(18))
    labels = struct.pack(">BBBB", 0, 0, 8, 1) + struct.pack(">I", 2) + b"\x03\x07"
    put("idx", "images", images)
    put("idx", "labels", labels)
    put("idx", "images_gz", gzip.compress(images, mtime=0))
    put("idx", "huge_header", struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", 1 << 20, 1 << 10, 1 << 10))
    image_seeds()


def _png(width: int, height: int, colour_type: int, bit_depth: int, raw: bytes) -> bytes:
    """A PNG file from its scanlines (`raw`, each row led by its filter byte)."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def image_seeds() -> None:
    # first byte: output options (bit 0: channels 1 or 3, bits 1-5: side 1..32); then the file
    rgb = b"".join(b"\x00" + bytes(v for x in range(6) for v in (x * 40, y * 50, 90)) for y in range(4))
    grey = b"".join(b"\x01" + bytes((x * 30 + y) % 256 for x in range(5)) for y in range(5))
    put("image_decode", "png_rgb", b"\x09" + _png(6, 4, 2, 8, rgb))
    put("image_decode", "png_grey", b"\x04" + _png(5, 5, 0, 8, grey))
    # a header claiming 100000 x 100000 pixels over a 5 x 5 picture's data
    put("image_decode", "png_huge_header", b"\x05" + _png(100_000, 100_000, 0, 8, grey))
    # a real picture of the bundled samples (28 x 28 grey PNG)
    sample = REPO / "datasets" / "sample_images" / "bag" / "bag_0.png"
    if sample.exists():
        put("image_decode", "sample_bag", b"\x38" + sample.read_bytes())
    jpeg = _small_jpeg()
    if jpeg:
        put("image_decode", "jpeg_rgb", b"\x0b" + jpeg)


def _small_jpeg() -> bytes | None:
    """A small baseline JPEG: Pillow's when installed, else CPython's own test picture."""
    try:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.frombytes("RGB", (8, 8), bytes((i * 7) % 256 for i in range(8 * 8 * 3))).save(buf, "JPEG", quality=50)
        return buf.getvalue()
    except ImportError:
        import sysconfig

        test = Path(sysconfig.get_paths()["stdlib"]) / "test"
        for p in (test / "test_email" / "data" / "python.jpg", test / "imghdrdata" / "python.jpg"):
            if p.exists():
                return p.read_bytes()
    return None


def model_seeds() -> None:
    try:
        import numpy as np
        import pandas as pd
        import scipy.sparse as sp
        from mercato import fraud, regression
        from mercato.recommend import (
            ALS,
            BPR,
            KNN,
            Baseline,
            FunkSVD,
            HybridMF,
            ImageFeatures,
            ItemContent,
            ItemKNN,
            SVDpp,
            TruncatedSVD,
        )
    except ImportError as e:  # the text seeds are still written
        print(f"note: no model seeds ({e}); build the package with `make develop` first", file=sys.stderr)
        return
    rng = np.random.default_rng(0)
    x = sp.random(8, 6, density=0.5, format="csr", random_state=1, dtype=np.float32)
    x.data[:] = rng.integers(1, 5, size=x.nnz)
    ratings = pd.DataFrame(
        {"user": rng.integers(0, 6, 30), "item": rng.integers(0, 5, 30), "rating": rng.integers(1, 6, 30).astype(float)}
    ).drop_duplicates(["user", "item"])
    recommenders = {
        "als": ALS(factors=2, iterations=2).fit(x),
        "bpr": BPR(factors=2, iterations=2).fit(x),
        "item_knn": ItemKNN(K=3).fit(x),
        "baseline": Baseline().fit(ratings),
        "knn": KNN(k=3).fit(ratings),
        "funk_svd": FunkSVD(factors=2, epochs=2).fit(ratings),
        "svdpp": SVDpp(factors=2, epochs=2).fit(ratings),
        "truncated_svd": TruncatedSVD(k=2).fit(x),
    }
    for name, m in recommenders.items():
        put("model_recommend", name, _bytes(m))
        put("persist", name, _bytes(m))
    X = rng.normal(size=(24, 3))
    detectors = {
        "iforest": fraud.IsolationForest(n_estimators=3, seed=0),
        "ecod": fraud.ECOD(),
        "copod": fraud.COPOD(),
        "hbos": fraud.HBOS(),
        "knn": fraud.KNN(n_neighbors=3),
        "lof": fraud.LOF(n_neighbors=3),
        "mahalanobis": fraud.Mahalanobis(),
        "pca": fraud.PCA(),
    }
    for name, d in detectors.items():
        put("model_fraud", name, _bytes(d.fit(X)))
    put("model_fraud", "scaler", _bytes(fraud.StandardScaler().fit(X)))
    # hybrid and content models: 8 users x 6 items, items with 3 category features + 1 shared
    item_features = sp.csr_matrix(
        np.array([[1.0 if j == i % 3 else 0.0 for j in range(3)] + [0.5] for i in range(6)], dtype=np.float32)
    )
    hybrid = {
        "hybrid_mf": HybridMF(factors=2, epochs=2).fit(x),
        "hybrid_mf_features": HybridMF(factors=2, epochs=2, loss="bpr").fit(x, item_features=item_features),
        "item_content": ItemContent().fit(item_features),
        "image_features": ImageFeatures(n_components=2).fit(np.random.default_rng(1).normal(size=(10, 5)).astype(np.float32)),
    }
    for name, m in hybrid.items():
        put("model_hybrid", name, _bytes(m))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=len(X))
    groups = np.arange(len(X)) % 4
    regressions = {
        "ols": regression.LinearRegression().fit(X, y),
        "wls_hc3": regression.LinearRegression(cov_type="HC3").fit(X, y, sample_weight=np.linspace(0.5, 2.0, len(X))),
        "cluster": regression.LinearRegression(cov_type="cluster").fit(X, y, groups=groups),
        "ridge": regression.Ridge(alpha=0.5).fit(X, y),
    }
    for name, m in regressions.items():
        put("model_regression", name, _bytes(m))
    # AnyModel::from_bytes dispatches on the kind: one file of every kind
    for target in ("model_recommend", "model_fraud", "model_hybrid", "model_regression"):
        for f in sorted((SEEDS / target).iterdir()):
            put("model_any", f"{target}_{f.name}", f.read_bytes())


def _bytes(model) -> bytes:
    import io

    buf = io.BytesIO()
    model.save(buf)
    return buf.getvalue()


if __name__ == "__main__":
    text_seeds()
    model_seeds()
    for d in sorted(SEEDS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
