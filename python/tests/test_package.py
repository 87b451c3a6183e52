"""The package itself: version, error mapping, loaders, pickling of every exported class."""

import pickle
import subprocess
import sys

import mercato
import numpy as np
import pytest
from mercato import datasets


def test_version_matches_crate():
    assert mercato.__version__ == "0.1.0"
    assert issubclass(mercato.ModelFormatError, ValueError)


def test_import_works_without_torch():
    code = "import sys, mercato; assert 'torch' not in sys.modules, 'mercato imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loaders_report_line_numbers(tmp_path):
    bad = tmp_path / "u.data"
    bad.write_text("1\t2\t3\t0\n1\t3\tfive\t0\n")
    with pytest.raises(ValueError, match=r"u.data:2: .*five"):
        datasets.load_movielens(bad)
    with pytest.raises(FileNotFoundError):
        datasets.load_movielens(tmp_path / "absent.data")


def test_triples_with_string_ids(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("user,item,value\nann,tea,1\nbob,tea,2\nann,tea,3\n")
    df = datasets.load_triples(f)
    assert sorted(zip(df["user"], df["item"], df["value"])) == [("ann", "tea", 4.0), ("bob", "tea", 2.0)]


def test_anomaly_csv(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("f0,f1,label\n0.5,1,0\n2,3.5,1\n")
    x, y, names = datasets.load_anomaly_csv(f)
    np.testing.assert_array_equal(x, [[0.5, 1.0], [2.0, 3.5]])
    np.testing.assert_array_equal(y, [0, 1])
    assert names == ["f0", "f1"]


def test_real_movielens(datasets_dir):
    df = datasets.load_movielens(datasets_dir / "movielens-100k" / "u.data")
    assert len(df) == 100_000
    assert df["user"].nunique() == 943 and df["item"].nunique() == 1682
    assert df["rating"].between(1, 5).all()


def test_real_lastfm_and_anomaly(datasets_dir):
    df = datasets.load_lastfm(datasets_dir / "lastfm-2k" / "user_artists.dat")
    assert len(df) == 92_834
    x, y, _ = datasets.load_anomaly_csv(datasets_dir / "anomaly" / "cardio.csv")
    assert x.shape == (1831, 21) and y.sum() == 176


def _exported_classes():
    modules = [mercato.recommend, mercato.fraud]
    return [
        (m.__name__, name, getattr(m, name))
        for m in modules
        for name in getattr(m, "__all__", [])
        if isinstance(getattr(m, name), type)
    ]


def _fitted(module, cls):
    """A small fitted instance, by the module's fit protocol."""
    rng = np.random.default_rng(0)
    if module == "mercato.fraud":
        x = rng.normal(size=(64, 3))
        if cls.__name__ == "Ensemble":
            return cls([mercato.fraud.IsolationForest(seed=0), mercato.fraud.ECOD()]).fit(x)
        return cls().fit(x)
    users = np.repeat(np.arange(12), 6)
    items = (users * 7 + np.tile(np.arange(6), 12)) % 15
    ratings = rng.integers(1, 6, users.size).astype(np.float64)
    if cls.__name__ in {"ALS", "BPR", "ItemKNN"}:
        import scipy.sparse as sp

        return cls().fit(sp.csr_matrix((ratings, (users, items)), shape=(12, 15)))
    if cls.__name__ == "HybridMF":
        import scipy.sparse as sp

        return cls(factors=4, epochs=2).fit(sp.csr_matrix((ratings, (users, items)), shape=(12, 15)))
    if cls.__name__ == "ItemContent":  # items x features
        import scipy.sparse as sp

        return cls().fit(sp.csr_matrix((ratings, (items, users)), shape=(15, 12)))
    if cls.__name__ == "ImageFeatures":  # images x embedding dimensions
        return cls(n_components=2).fit(rng.normal(size=(20, 6)).astype(np.float32))
    if cls.__name__ == "HybridDataset":
        return cls().fit(users=range(12), items=range(15), item_features=["a", "b"])
    if cls.__name__ == "TruncatedSVD":
        return cls(k=2).fit(users, items, ratings)
    if cls.__name__ in {"FunkSVD", "SVDpp"}:  # a rank above min(12 users, 15 items) is rejected
        return cls(factors=4).fit(users, items, ratings)
    return cls().fit(users, items, ratings)


def test_every_exported_class_pickles():
    classes = _exported_classes()
    for module, name, cls in classes:
        model = _fitted(module, cls)
        blob = pickle.dumps(model)
        again = pickle.loads(blob)
        assert type(again) is cls, name
        assert pickle.dumps(again) == blob, f"{name} does not round-trip to identical bytes"


def test_tampered_pickle_is_model_format_error():
    classes = _exported_classes()
    if not classes:
        pytest.skip("no model classes exported yet")
    module, name, cls = classes[0]
    fn, (klass, params, blob) = _fitted(module, cls).__reduce__()
    data = bytearray(blob)
    data[-1] ^= 0xFF
    with pytest.raises(mercato.ModelFormatError):
        fn(klass, params, bytes(data))
    with pytest.raises(mercato.ModelFormatError):
        fn(klass, params, bytes(data[: len(data) // 2]))


def _shared_pairs(seed: bytes) -> list[bytes]:
    """Each two consecutive lines of a seed file, as they would appear in a data file."""
    lines = [line for line in seed.split(b"\n") if len(line) >= 6]
    return [a + b"\n" + b for a, b in zip(lines, lines[1:])]


def test_committed_fuzz_seeds_hold_no_third_party_data(datasets_dir):
    """No committed seed repeats two consecutive lines of a real dataset (their heads go to
    the uncommitted fuzz/corpus): third-party data never enters the repository."""
    from conftest import REPO

    heads = {}
    for path in sorted(datasets_dir.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                heads[path] = f.read(1 << 16)
    assert heads, "no dataset files to compare with"
    seeds = sorted(p for p in (REPO / "fuzz" / "seeds").rglob("*") if p.is_file())
    assert len(seeds) > 50
    for seed in seeds:
        for pair in _shared_pairs(seed.read_bytes()):
            found = [str(path) for path, head in heads.items() if pair in head]
            assert not found, f"{seed} repeats lines of {found}: {pair[:60]!r}"
