"""Writes the fuzz seed corpora (fuzz/seeds/<target>/, committed) from the project's own
files: the bundled marketplace CSVs, hand-made files in each real dataset's format, a few
edge cases, and (with the `mercato` Python package installed) one model file of every kind.
Seeds are kept small (a few KiB) so libFuzzer mutates them quickly.

Heads of the real datasets (MovieLens, Last.fm, ODDS) are third-party data: when
../shared/datasets is present they go to fuzz/corpus/<target>/ (ignored by git; `make fuzz`
reads it beside the seeds), never to the committed seeds.

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


def put(target: str, name: str, data: bytes, folder: Path = SEEDS) -> None:
    d = folder / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


CORPUS = REPO / "fuzz" / "corpus"  # not committed: real-data heads go here


def put_real_head(target: str, name: str, path: Path, lines: int) -> None:
    """The first lines of a real dataset, into the uncommitted corpus (when present)."""
    if path.exists():
        put(target, name, head(path, lines), folder=CORPUS)


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
    put_real_head("movielens", "u_data", DATA / "movielens-100k" / "u.data", 40)
    put("movielens", "u_data_format", b"7\t31\t4\t880000001\n7\t12\t2\t880000050\n9\t31\t5\t881000000\n")
    put("movielens", "ratings_dat", b"3::200::4::970000000\n3::17::1::970000321\n5::200::5::970100000\n")
    put("movielens", "ratings_csv", b"userId,movieId,rating,timestamp\n4,8,3.5,960000000\n4,9,5.0,960000100\n")
    put_real_head("lastfm", "user_artists", DATA / "lastfm-2k" / "user_artists.dat", 40)
    put("lastfm", "tiny", b"userID\tartistID\tweight\n4\t70\t1200\n4\t71\t35\n6\t70\t1\n")
    for name in ("cardio", "thyroid", "creditcard_fraud_subset"):
        put_real_head("anomaly_csv", name, DATA / "anomaly" / f"{name}.csv", 12)
    # the ODDS sets' format: numeric feature columns f0..fN, then a 0/1 label
    rows = (f"{i * 0.25 - 1:.3f},{(i * 7) % 5 / 3:.6f},{-i}e-2,{int(i % 6 == 0)}\n" for i in range(10))
    odds = "f0,f1,f2,label\n" + "".join(rows)
    put("anomaly_csv", "odds_format", odds.encode())
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
    put("image_decode", "jpeg_grey", b"\x0b" + _small_jpeg())


def _small_jpeg() -> bytes:
    """A baseline JPEG of one 8x8 grey block (value 144), written here: quantisation all 1s,
    one-symbol Huffman tables (DC category 8, AC end-of-block), so the scan is the DC
    difference 8 * (144 - 128) = 128 and an end of block."""

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    dqt = bytes([0]) + bytes([1] * 64)
    sof = struct.pack(">BHHB", 8, 8, 8, 1) + bytes([1, 0x11, 0])
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    dht = bytes([0x00]) + one_code + bytes([8]) + bytes([0x10]) + one_code + bytes([0x00])
    sos = bytes([1, 1, 0x00, 0, 63, 0])
    # DC: code "0", then the 8 bits of 128; AC: end of block "0"; padded with 1s
    bits = "0" + format(128, "08b") + "0"
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)).replace(b"\xff", b"\xff\x00")
    return (
        b"\xff\xd8"
        + segment(0xDB, dqt)
        + segment(0xC0, sof)
        + segment(0xC4, dht)
        + segment(0xDA, sos)
        + scan
        + b"\xff\xd9"
    )


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
        "image_features": ImageFeatures(n_components=2).fit(
            np.random.default_rng(1).normal(size=(10, 5)).astype(np.float32)
        ),
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
