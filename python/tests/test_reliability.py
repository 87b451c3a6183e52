"""Issue 14's battery: bad inputs against every family must give a typed Python exception,
never a panic, an abort, an unbounded allocation or a silently useless model.

Every case runs in its own interpreter under an address-space cap (``RLIMIT_AS``), so a
crash, an abort or an 8 GB allocation fails that one test instead of killing the run.
A case is a snippet; it passes when the subprocess exits 0 (its own asserts hold).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

MEMORY_CAP = 3 << 30  # bytes of address space per case: far below any runaway allocation
TIMEOUT = 120

PRELUDE = """
import io, os, re, threading, warnings
import numpy as np
import scipy.sparse as sp
import mercato

def expect(exc, fn, *args, match=None, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        if match is not None:
            assert re.search(match, str(e)), f"{type(e).__name__}: {e!s} does not match {match!r}"
        return e
    except BaseException as e:  # noqa: BLE001 - a wrong type (e.g. PanicException) fails
        raise AssertionError(f"expected {exc.__name__}, got {type(e).__name__}: {e}") from e
    raise AssertionError(f"expected {exc.__name__}, nothing raised")

def planted(n_users=30, n_items=12, seed=0):
    rng = np.random.default_rng(seed)
    r, c, v = [], [], []
    for u in range(n_users):
        for i in range(u % 3, n_items, 3):
            if rng.random() < 0.7:
                r.append(u); c.append(i); v.append(float(rng.integers(1, 9)))
    return sp.csr_matrix((v, (r, c)), shape=(n_users, n_items), dtype=np.float32)

from mercato.recommend import ALS, BPR, ItemKNN
FAMILIES = {
    "ALS": lambda: ALS(factors=4, iterations=3),
    "BPR": lambda: BPR(factors=4, iterations=3),
    "ItemKNN": lambda: ItemKNN(K=5),
}
"""


def run_case(body: str) -> None:
    code = PRELUDE + textwrap.dedent(body)
    cap = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n"
    env = dict(os.environ, MALLOC_ARENA_MAX="2", OPENBLAS_NUM_THREADS="1", RAYON_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, "-c", cap + code], capture_output=True, text=True, timeout=TIMEOUT, env=env)
    if proc.returncode != 0:
        how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        pytest.fail(f"case {how}\n--- stderr ---\n{proc.stderr[-4000:]}\n--- stdout ---\n{proc.stdout[-2000:]}")


CASES = {
    # -- degenerate training data: typed error, consistently with rating and fraud models
    "implicit_empty_matrices_rejected": """
        for name, make in FAMILIES.items():
            for shape in [(5, 0), (0, 0), (0, 5)]:
                expect(ValueError, make().fit, sp.csr_matrix(shape, dtype=np.float32), match="cannot fit")
            zeros = sp.csr_matrix(([0.0, 0.0], ([0, 2], [1, 3])), shape=(3, 4), dtype=np.float32)
            expect(ValueError, make().fit, zeros, match="cannot fit")
    """,
    "zero_iterations_rejected": """
        for make in (lambda: ALS(iterations=0), lambda: BPR(iterations=0)):
            expect(ValueError, lambda: make().fit(planted()), match="iterations")
    """,
    "als_similar_items_needs_users": """
        expect(ValueError, ALS(factors=4, iterations=2).fit, sp.csr_matrix((0, 6), dtype=np.float32))
    """,
    "user_items_with_too_few_columns": """
        x = planted()
        for name, make in FAMILIES.items():
            m = make().fit(x)
            narrow = sp.csr_matrix(([1.0], ([0], [1])), shape=(1, x.shape[1] - 2), dtype=np.float32)
            expect(ValueError, m.recommend, 0, narrow, N=3, match="columns")
        als = ALS(factors=4, iterations=2).fit(x)
        expect(ValueError, als.partial_fit_users, [0], sp.csr_matrix((1, 3), dtype=np.float32))
    """,
    # -- bounded, explicit growth of partial fits
    "partial_fit_users_never_allocates_to_a_typed_index": """
        x = planted()
        als = ALS(factors=4, iterations=2).fit(x)
        row = sp.csr_matrix(([1.0], ([0], [2])), shape=(1, x.shape[1]), dtype=np.float32)
        for far in (10**9, 10**6, x.shape[0] + 1):
            expect(ValueError, als.partial_fit_users, [far], row, match="past the end")
        assert als.user_factors_.shape[0] == x.shape[0], "a rejected call changes nothing"
        als.partial_fit_users([x.shape[0]], row)  # the next free index appends one user
        assert als.user_factors_.shape[0] == x.shape[0] + 1
        col = sp.csr_matrix(([1.0], ([0], [2])), shape=(1, x.shape[0] + 1), dtype=np.float32)
        expect(ValueError, als.partial_fit_items, [10**9], col, match="past the end")
    """,
    # -- diverging training raises instead of serving NaN factors
    "bpr_divergence_raises": """
        x = planted(60, 12)
        e = expect(ValueError, BPR(factors=8, iterations=5, learning_rate=1e30).fit, x)
        assert "diverged" in str(e) and "learning_rate" in str(e), e
        # the issue's learning_rate=10: a typed error, or finite factors that rank items
        try:
            m = BPR(learning_rate=10).fit(x)
        except ValueError as e:
            assert "diverged" in str(e), e
        else:
            assert np.isfinite(m.item_factors_).all() and np.isfinite(m.user_factors_).all()
            assert len(m.recommend(0, N=3)[0]) == 3
        ok = BPR(factors=8, iterations=20, learning_rate=0.05).fit(x)
        assert np.isfinite(ok.item_factors_).all()
        ids, _ = ok.recommend(0, N=3)
        assert len(ids) == 3
    """,
    # -- batch shape and items=[] are documented and stable
    "batch_recommend_width_is_min_N_candidates": """
        x = planted()
        for name, make in FAMILIES.items():
            m = make().fit(x)
            ids, scores = m.recommend(np.arange(3), N=1000)
            assert ids.shape == scores.shape == (3, x.shape[1]), (name, ids.shape)
            # seen items filtered: rows are padded with -1 / -inf, never cut to the data
            assert (ids == -1).any() and np.isneginf(scores[ids == -1]).all()
            ids, _ = m.recommend(np.arange(3), N=2)
            assert ids.shape == (3, 2)
            ids, scores = m.recommend(np.arange(3), N=5, items=[])
            assert ids.shape == (3, 0), (name, ids.shape)
            ids, scores = m.recommend(0, N=5, items=[])
            assert ids.shape == (0,) and scores.shape == (0,)
            ids, _ = m.recommend(np.arange(3), N=5, items=[1, 4, 4])
            assert ids.shape == (3, 2), "distinct allowed ids bound the width"
    """,
    # -- unsigned parameters and ids: ValueError naming the parameter, never OverflowError
    "negative_unsigned_params_are_value_errors": """
        for kw, name in [({"factors": -1}, "factors"), ({"iterations": -2}, "iterations"),
                         ({"num_threads": -1}, "num_threads"), ({"seed": -1}, "seed")]:
            try:
                ALS(**kw)
            except TypeError:
                continue  # a constructor without this keyword
            except ValueError as e:
                assert name in str(e), e
                continue
            except OverflowError as e:
                raise AssertionError(f"OverflowError for {kw}: {e}")
            # accepted lazily: fit must name it
            expect(ValueError, ALS(**kw).fit, planted(), match=name)
        expect(ValueError, BPR(blocks=-1).fit, planted(), match="blocks")
        expect(ValueError, ItemKNN(K=-3).fit, planted(), match="`k`")  # K is the Rust field k
        m = ALS(factors=4, iterations=2).fit(planted())
        expect(ValueError, m.recommend, 0, N=-1, match="N")
        expect(ValueError, m.recommend, np.arange(2), N=0, match="N")
        expect(ValueError, m.similar_items, 0, N=-1, match="N")
        for big in (2**63, 2**64, 2**80, -1):
            expect(KeyError, m.similar_items, big)
            expect(KeyError, m.similar_users, big)
    """,
    "uint64_ids_keep_their_value": """
        import pandas as pd
        big = np.array([2**63, 2**64 - 1, 5, 2**63 + 7], dtype=np.uint64)
        df = pd.DataFrame({"user": big, "item": np.array(["a", "b", "a", "c"]), "v": [1.0, 2.0, 3.0, 1.0]})
        m = ALS(factors=4, iterations=2).fit(df)
        users = [int(u) for u in m.user_ids]
        assert users == [2**63, 2**64 - 1, 5, 2**63 + 7], users
        ids, _ = m.recommend(2**64 - 1, N=2)
        assert len(ids) == 2
        e = expect((KeyError, ValueError), m.recommend, 2**64, N=2)
        assert "ids must be int or str, got int" not in str(e), e
        expect(ValueError, m.recommend, 2**64, N=2, match="out of range")
    """,
    "explicit_empty_frame_is_empty_input": """
        import pandas as pd
        from mercato.recommend import KNN, Baseline, FunkSVD, SVDpp
        # an empty DataFrame's columns are float64: the same answer as empty lists, not a dtype error
        empty = pd.DataFrame({"user": np.array([], float), "item": np.array([], float), "rating": np.array([], float)})
        for cls in (Baseline, FunkSVD, SVDpp, KNN):
            expect(ValueError, cls().fit, [], [], [], match="empty input")
            expect(ValueError, cls().fit, empty, match="empty input")
        m = Baseline().fit([1, 2, 3], [1, 2, 1], [1.0, 2.0, 3.0])
        values, status = m.predict(empty, return_status=True)
        assert values.shape == (0,) and status.shape == (0,), (values, status)
        assert m.predict([], []).shape == (0,)
    """,
    "explicit_uint64_ids_keep_their_value": """
        import pandas as pd
        from mercato.recommend import Baseline, FunkSVD
        big = np.array([2**63, 2**64 - 1, 5, 2**63 + 7], dtype=np.uint64)
        df = pd.DataFrame({"user": big, "item": big[::-1].copy(), "rating": [1.0, 2.0, 3.0, 4.0]})
        for m in (Baseline().fit(df), FunkSVD(factors=2, epochs=3).fit(df)):
            assert [int(u) for u in m.user_ids_] == [2**63, 2**64 - 1, 5, 2**63 + 7], m.user_ids_
            assert sorted(int(i) for i in m.item_ids_) == sorted(int(u) for u in big), m.item_ids_
            # known as uint64 arrays, as Python ints and as numpy scalars; -1 (what 2**64 - 1
            # used to wrap to) is an unknown user
            _, status = m.predict(big, big[::-1].copy(), return_status=True)
            assert (status == 0).all(), status
            _, status = m.predict([2**64 - 1, -1], [2**63 + 7, 2**63 + 7], return_status=True)
            assert list(status) == [0, 1], status
            ids, _ = m.recommend(np.uint64(2**64 - 1), N=4, exclude_rated=False)
            assert sorted(int(i) for i in ids) == sorted(int(u) for u in big), ids
            expect(ValueError, m.predict, [2**64], [5], match="out of range")
    """,
    # -- TruncatedSVD: dense input as svds takes it; recommend and predict agree
    "truncated_svd_dense_input_and_agreement": """
        from mercato.recommend import TruncatedSVD
        dense = np.array([[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5], [0, 0, 5, 4]], dtype=float)
        a = TruncatedSVD(k=2, algorithm="accurate").fit(dense)
        b = TruncatedSVD(k=2, algorithm="accurate").fit(sp.csr_matrix(dense))
        np.testing.assert_allclose(a.s_, b.s_)
        for user in range(4):
            ids, scores = a.recommend(user, N=4, filter_already_liked_items=False)
            np.testing.assert_allclose(scores, a.predict([user] * len(ids), list(ids)), rtol=1e-6)
    """,
    # -- fraud: column-major input is valid input
    "scaler_transform_accepts_column_major": """
        import pandas as pd
        from mercato import fraud
        rng = np.random.default_rng(0)
        df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50) * 3, "c": rng.normal(size=50)})
        for cls in (fraud.StandardScaler, fraud.RobustScaler):
            s = cls().fit(df)
            out = s.transform(df)
            ref = s.transform(np.ascontiguousarray(df.to_numpy()))
            np.testing.assert_allclose(out, ref)
            np.testing.assert_allclose(s.transform(np.asfortranarray(df.to_numpy())), ref)
    """,
    # -- thread safety: recommend while another thread refits the same object
    "recommend_during_fit_has_no_borrow_error": """
        # big enough that a fit releases the GIL for a while (the old bindings held a
        # mutable borrow across it: "Already mutably borrowed" in the serving thread)
        x = sp.random(3000, 400, density=0.05, format="csr", random_state=0, dtype=np.float32)
        for name, make in FAMILIES.items():
            m = make().fit(x)
            errors, stop = [], threading.Event()
            def serve():
                try:
                    while not stop.is_set():
                        m.recommend(np.arange(50), N=5)
                        m.similar_items(0, N=3)
                except Exception as e:  # noqa: BLE001
                    errors.append(e)
            t = threading.Thread(target=serve)
            t.start()
            try:
                for _ in range(3):
                    m.fit(x)
            finally:
                stop.set()
                t.join()
            assert not errors, (name, errors[:1])
    """,
    # -- save to a file object never writes a file named after the object's repr
    "save_to_bytesio_round_trips": """
        import tempfile
        from mercato import fraud
        from mercato.recommend import FunkSVD, TruncatedSVD
        import pandas as pd
        os.chdir(tempfile.mkdtemp())
        x = planted()
        ratings = pd.DataFrame({"user": [0, 0, 1, 1, 2, 2], "item": [0, 1, 1, 2, 0, 2], "rating": [4.0, 3, 5, 2, 1, 4]})
        X = np.random.default_rng(0).normal(size=(40, 3))
        models = [
            (ALS(factors=4, iterations=2).fit(x), ALS),
            (BPR(factors=4, iterations=2).fit(x), BPR),
            (ItemKNN(K=4).fit(x), ItemKNN),
            (FunkSVD(factors=2, epochs=3).fit(ratings), FunkSVD),
            (TruncatedSVD(k=1).fit(sp.csr_matrix(np.array([[5, 3, 0], [4, 0, 1], [1, 1, 5]], float))), TruncatedSVD),
            (fraud.IsolationForest(seed=0).fit(X), fraud.IsolationForest),
            (fraud.StandardScaler().fit(X), fraud.StandardScaler),
        ]
        for model, cls in models:
            buf = io.BytesIO()
            model.save(buf)
            assert buf.getvalue()[:7] == b"MERCATO", cls
            back = cls.load(io.BytesIO(buf.getvalue()))
            assert type(back) is type(model)
            expect(TypeError, model.save, object())
        assert os.listdir(".") == [], os.listdir(".")
    """,
    # -- damaged model files: ModelFormatError, never a crash
    "damaged_model_files_raise_model_format_error": """
        m = ALS(factors=4, iterations=2).fit(planted())
        blob = bytearray(m.to_bytes() if hasattr(m, "to_bytes") else m._model.to_bytes())
        rng = np.random.default_rng(1)
        for trial in range(200):
            b = bytearray(blob)
            for _ in range(1 + trial % 4):
                b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
            if trial % 7 == 0:
                b = b[: rng.integers(len(b))]
            try:
                ALS.load(io.BytesIO(bytes(b)))
            except mercato.ModelFormatError:
                pass
            except ValueError:
                pass
    """,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name):
    run_case(CASES[name])


def test_a_crash_is_a_failure_not_a_dead_run():
    """The harness itself: an abort in the child is reported as a failed case."""
    with pytest.raises(pytest.fail.Exception, match="signal"):
        run_case("import os; os.abort()")
    with pytest.raises(pytest.fail.Exception):
        run_case("x = bytearray(8 << 30)")  # over the cap: MemoryError, exit 1


def test_ids_of_the_other_type_than_the_fit_warn():
    import warnings

    import numpy as np
    from mercato.recommend import FunkSVD

    users, items = np.array(["a", "b", "c", "a", "b"]), np.array(["x", "y", "x", "z", "z"])
    m = FunkSVD(seed=0, epochs=5, factors=2).fit(users, items, np.array([5, 3, 4, 2, 1.0]))
    with pytest.warns(UserWarning, match="fitted on str user ids"):
        m.predict([1, 2], ["x", "y"])
    with pytest.warns(UserWarning, match="fitted on str item ids"), pytest.raises(KeyError):
        m.recommend("a", items=[1, 2])  # (and unknown items in an allow-list are an error)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.predict(["a", "zz"], ["x", "y"])  # unknown ids of the right type: the normal fallback
    ints = FunkSVD(seed=0, epochs=5, factors=2).fit(np.array([1, 2, 3, 1]), np.array([7, 8, 7, 9]), np.ones(4))
    with pytest.warns(UserWarning, match="fitted on int user ids and these are strs"):
        ints.predict(["1"], [7])


def test_image_pixels_out_of_range_warn_and_complex_is_refused():
    import warnings

    import numpy as np
    from mercato import vision  # the pixel checks need no libtorch

    with pytest.warns(UserWarning, match="0..1"):
        vision._pixels(np.full((1, 4, 4), 200.0), 4, 1)  # 0..255 values in a float array
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vision._pixels(np.full((1, 4, 4), 0.5), 4, 1)
    with pytest.raises(TypeError, match="complex"):
        vision._pixels(np.ones((1, 4, 4), complex), 4, 1)
    with pytest.raises(ValueError, match="0..255"):
        vision._pixels(np.full((1, 4, 4), -3), 4, 1)


def test_missing_image_file_is_file_not_found_without_libtorch(tmp_path):
    import errno

    from mercato import vision  # the path check runs before the native extension is imported

    missing = tmp_path / "nope.png"
    for paths in (missing, str(missing), [str(missing)]):
        with pytest.raises(FileNotFoundError, match="nope.png") as err:
            vision.load_image_files(paths)
        assert err.value.errno == errno.ENOENT and err.value.filename == str(missing)
