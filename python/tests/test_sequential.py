"""mercato.recommend.SASRec / GRU4Rec: sequential next-item models (libtorch extension)."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone

pytest.importorskip("_mercato_vision", reason="mercato[vision] not installed (make develop builds it)")

import mercato  # noqa: E402
from mercato.datasets import marketplace_sessions  # noqa: E402
from mercato.recommend import GRU4Rec, SASRec  # noqa: E402


def cycle_log(users=30, length=12):
    """Each user walks the cycle 100 -> 101 -> ... -> 105 -> 100 from their own start."""
    u, i, t = [], [], []
    for user in range(users):
        for step in range(length):
            u.append(f"u{user}")
            i.append(100 + (user * 7 + step) % 6)
            t.append(step * 60)
    return np.array(u, dtype=object), np.array(i), np.array(t)


def small(cls, **kw):
    args = dict(
        factors=16,
        layers=1,
        max_len=8,
        epochs=30,
        batch_size=16,
        learning_rate=5e-3,
        patience=None,
        device="cpu",
        num_threads=1,
    )
    args.update(kw)
    return cls(**args)


@pytest.mark.parametrize("cls", [SASRec, GRU4Rec])
def test_learns_the_order_and_serves_users_and_live_sessions(cls):
    u, i, t = cycle_log()
    # Shuffle the rows: the order must come from the timestamps.
    perm = np.random.default_rng(0).permutation(len(u))
    model = small(cls).fit(u[perm], i[perm], t[perm])
    ids, scores = model.recommend_sequence([103, 104], N=1)
    assert ids.tolist() == [105]
    ids, scores = model.recommend(["u0", "u1"], N=3)
    assert ids.shape == (2, 3) and scores.shape == (2, 3)
    # Users' histories cover the whole cycle, so with exclude_seen nothing is left.
    ids, scores = model.recommend("u0", N=3)
    assert len(ids) == 0
    ids, scores = model.recommend("u0", N=3, exclude_seen=False)
    assert len(ids) == 3
    with pytest.raises(mercato.UnknownIdError):
        model.recommend(["nobody"], N=3)
    h = model.history_
    assert h["epochs"][-1]["loss"] < h["epochs"][0]["loss"] / 2


@pytest.mark.parametrize(
    "cls, batching, refused",
    [(GRU4Rec, "session_parallel", "lanes"), (SASRec, "prefixes", "session_parallel")],
)
def test_other_batchings_learn_are_kept_and_refuse_a_stride(cls, batching, refused):
    u, i, t = cycle_log()
    model = small(cls, batching=batching, batch_size=8).fit(u, i, t)
    assert model.recommend_sequence([103, 104], N=1)[0].tolist() == [105]
    h = model.history_
    assert h["epochs"][-1]["loss"] < h["epochs"][0]["loss"] / 2
    # Kept through the model file and clone; a batching the network cannot use is refused by
    # name (SASRec has no recurrent state for session-parallel lanes).
    back = mercato.load(model.to_bytes())
    assert isinstance(back, cls) and back.batching == batching
    assert clone(model).get_params()["batching"] == batching
    with pytest.raises(ValueError, match="batching"):
        small(cls, batching=refused, epochs=1).fit(u, i, t)
    # Lanes read whole histories and prefixes end at each target: a stride (where windows
    # start) would be ignored, so it is refused.
    with pytest.raises(ValueError, match="stride"):
        small(cls, batching=batching, stride=5, epochs=1).fit(u, i, t)


def test_dataframe_context_and_marketplace_sessions():
    df = marketplace_sessions(n_users=150)
    assert list(df.columns) == ["user", "item", "category", "event", "time"]
    assert df.equals(marketplace_sessions(n_users=150))
    model = small(SASRec, epochs=3).fit(df[["user", "item", "time", "event"]], context=["event"])
    assert model.context_names_ == ["event"]
    ids, _ = model.recommend_sequence(["c0-m00", "c0-m01"], N=5, context={"event": ["view", "view"]})
    assert len(ids) == 5 and "c0-m00" not in ids.tolist()
    with pytest.raises(ValueError, match="context"):
        model.recommend_sequence(["c0-m00"], N=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids, _ = model.recommend_sequence(["brand-new"], N=2, context={"event": ["view"]})
    assert len(ids) == 2 and any("popularity" in str(w.message) for w in caught)


def test_same_seed_same_model_pickle_save_load_and_clone(tmp_path):
    u, i, t = cycle_log(12, 10)
    a = small(SASRec, epochs=3).fit(u, i, t)
    b = small(SASRec, epochs=3).fit(u, i, t)
    np.testing.assert_array_equal(a.score_users(range(12)), b.score_users(range(12)))
    c = small(SASRec, epochs=3, seed=1).fit(u, i, t)
    assert not np.array_equal(a.score_users(range(12)), c.score_users(range(12)))
    p = pickle.loads(pickle.dumps(a))
    assert isinstance(p, SASRec) and p.max_len == 8
    np.testing.assert_allclose(p.score_users(range(12)), a.score_users(range(12)), rtol=1e-5)
    a.save(tmp_path / "m.mercato")
    loaded = mercato.load(tmp_path / "m.mercato")
    assert isinstance(loaded, SASRec) and loaded.factors == 16
    g = small(GRU4Rec, epochs=1).fit(u, i, t)
    assert isinstance(mercato.load(g.to_bytes()), GRU4Rec)
    with pytest.raises(ValueError):
        SASRec.from_bytes(g.to_bytes())
    assert clone(a).get_params() == a.get_params()


def test_bad_input_is_a_clear_error():
    u, i, t = cycle_log(4, 4)
    with pytest.raises(ValueError, match="heads"):
        SASRec(factors=10, heads=3).fit(u, i, t)
    with pytest.raises(ValueError, match="dropout"):
        SASRec(dropout=1.5).fit(u, i, t)
    with pytest.raises(ValueError):
        SASRec().fit(u, i[:-1], t)
    with pytest.raises(ValueError, match="timestamps"):
        SASRec().fit(u, i, t[:-1])
    with pytest.raises(TypeError):
        SASRec().fit(u, i.astype(float), t)
    with pytest.raises(ValueError, match="finite"):
        SASRec().fit(u, i, np.full(len(u), np.nan))
    with pytest.raises(ValueError):
        SASRec(patience=None).fit(["a", "b"], [1, 2], [0, 0])  # nobody has two events
    with pytest.raises(ValueError, match="device"):
        SASRec(device="tpu").fit(u, i, t)
    if not mercato.vision.cuda_is_available():  # a GPU asked for by name is never a silent CPU run
        with pytest.raises(ValueError, match="CUDA device 0"):
            GRU4Rec(device="cuda").fit(u, i, t)
    with pytest.raises(mercato.NotFittedError):
        SASRec().recommend("u0")
    with pytest.raises(mercato.ModelFormatError):
        SASRec.from_bytes(b"MERCATO" + b"\0" * 40)


def test_import_stays_torch_free():
    code = "import sys, mercato.recommend; assert 'torch' not in sys.modules and '_mercato_vision' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_list_lengths_and_empty_input_are_checked_not_trusted():
    u, i, t = cycle_log(4, 6)
    model = small(SASRec, epochs=1).fit(u, i, t)
    # A huge N costs no more than the catalogue (it used to abort on the allocation).
    ids, scores = model.recommend(["u0", "u1"], N=10**12, exclude_seen=False)
    assert ids.shape == (2, 6) and scores.shape == (2, 6)
    assert len(model.recommend_sequence([100], N=2**40)[0]) == 5
    with pytest.raises(ValueError, match="N must be >= 0"):
        model.recommend("u0", N=-1)
    with pytest.raises(ValueError, match="N"):
        model.recommend_sequence([100], N=2**70)
    with pytest.raises(ValueError, match="no events"):
        SASRec().fit([], [], [])
    with pytest.raises(TypeError, match="integers or strings"):
        model.recommend(1.5)
    with pytest.raises(mercato.UnknownIdError):
        model.similar_items(999)
    with pytest.raises(mercato.UnknownIdError):
        model.score_users([10**9])
