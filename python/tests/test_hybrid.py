"""HybridMF and HybridDataset: fitting, cold start, determinism, persistence, bad input."""

import io
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from mercato.recommend import HybridDataset, HybridMF


def toy(n_users=90, n_items=60, seed=0):
    """Three taste groups; item feature = group, user feature = group."""
    rng = np.random.default_rng(seed)
    ug, ig = np.arange(n_users) % 3, np.arange(n_items) % 3
    like = (ug[:, None] == ig[None, :]) & (rng.random((n_users, n_items)) < 0.6)
    ui = sp.csr_matrix(like.astype(np.float32))
    itf = sp.csr_matrix(np.eye(3, dtype=np.float32)[ig])
    uf = sp.csr_matrix(np.eye(3, dtype=np.float32)[ug])
    return ui, uf, itf, ug, ig


def test_learns_and_recommends():
    ui, uf, itf, ug, ig = toy()
    m = HybridMF(factors=8, epochs=10, seed=1).fit(ui, uf, itf)
    ids, scores = m.recommend(np.arange(ui.shape[0]), ui, N=5)
    assert ids.shape == (ui.shape[0], 5)
    assert (ig[ids] == ug[:, None]).mean() > 0.9
    liked = ui.toarray() > 0
    assert not liked[np.arange(ui.shape[0])[:, None], ids].any(), "already liked items are filtered"
    one_ids, one_scores = m.recommend(0, ui[0], N=3)
    assert one_ids.shape == (3,) and np.all(np.diff(one_scores) <= 0)
    p = m.predict(0, np.arange(ui.shape[1]))
    assert p.shape == (ui.shape[1],)
    assert m.item_embeddings().shape == (ui.shape[1], 8)
    sim, _ = m.similar_items(0, N=5)
    assert 0 not in sim and (ig[sim] == ig[0]).all()


def test_cold_items_and_users_by_features():
    ui, uf, itf, ug, ig = toy()
    m = HybridMF(factors=8, epochs=10, seed=1).fit(ui, uf, itf)
    new_items = sp.csr_matrix(np.eye(3, dtype=np.float32))  # one new item per group
    ids, _ = m.recommend(np.arange(9), N=1, item_features=new_items)
    assert (ids[:, 0] == ug[:9]).all()
    new_user = sp.csr_matrix(np.array([[0, 0, 1]], np.float32))
    ids, _ = m.recommend(0, N=10, user_features=new_user)
    assert (ig[ids] == 2).all()
    b, e = m.get_item_representations(new_items)
    assert e.shape == (3, 8) and b.shape == (3,)


def test_same_model_for_any_thread_count_and_partial_fit():
    ui, uf, itf, *_ = toy()
    fits = [HybridMF(factors=8, epochs=4, num_threads=t, blocks=3).fit(ui, uf, itf) for t in (1, 2, 3)]
    for f in fits[1:]:
        np.testing.assert_array_equal(f.item_embeddings(), fits[0].item_embeddings())
        np.testing.assert_array_equal(f.user_embeddings(), fits[0].user_embeddings())
    part = HybridMF(factors=8, epochs=2, blocks=3).fit(ui, uf, itf).partial_fit(ui, epochs=2)
    np.testing.assert_array_equal(part.item_embeddings(), fits[0].item_embeddings())


@pytest.mark.parametrize("loss", ["warp", "bpr", "logistic", "warp-kos"])
def test_every_loss_trains(loss):
    ui, uf, itf, ug, ig = toy()
    m = HybridMF(factors=8, epochs=15, loss=loss, seed=2).fit(ui, uf, itf)
    ids, _ = m.recommend(np.arange(30), ui[:30], N=3)
    assert ids.shape == (30, 3)
    if loss != "logistic":  # logistic on positives only learns popularity
        assert (ig[ids] == ug[:30, None]).mean() > 0.6


def test_adadelta_schedule_learns_persists_and_warns_about_unused_arguments():
    import warnings

    import mercato

    ui, uf, itf, ug, ig = toy()
    m = HybridMF(factors=8, epochs=15, learning_schedule="adadelta", seed=2, blocks=3).fit(ui, uf, itf)
    ids, _ = m.recommend(np.arange(30), ui[:30], N=3)
    assert (ig[ids] == ug[:30, None]).mean() > 0.9
    again = HybridMF(factors=8, epochs=15, learning_schedule="adadelta", seed=2, blocks=3, num_threads=1)
    np.testing.assert_array_equal(again.fit(ui, uf, itf).item_embeddings(), m.item_embeddings())
    back = mercato.load(m.to_bytes())
    assert back.get_params()["learning_schedule"] == "adadelta" and back.rho == 0.95
    np.testing.assert_array_equal(back.item_embeddings(), m.item_embeddings())
    with pytest.warns(mercato.ParameterWarning, match="learning_rate=0.5 is ignored"):
        HybridMF(factors=4, epochs=1, learning_schedule="adadelta", learning_rate=0.5).fit(ui)
    with pytest.warns(mercato.ParameterWarning, match="rho=0.9 is ignored"):
        HybridMF(factors=4, epochs=1, rho=0.9).fit(ui)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HybridMF(factors=4, epochs=1, learning_schedule="adadelta", rho=0.9).fit(ui)
    with pytest.raises(ValueError, match="learning_schedule"):
        HybridMF(learning_schedule="adam").fit(ui)
    with pytest.raises(ValueError, match="rho"):
        HybridMF(learning_schedule="adadelta", rho=1.5).fit(ui)


def test_sklearn_contract_and_persistence(tmp_path):
    from sklearn.base import clone

    m = HybridMF(factors=4, epochs=3, loss="bpr")
    assert clone(m).get_params() == m.get_params()
    assert "loss='bpr'" in repr(m)
    ui, uf, itf, *_ = toy()
    m.fit(ui, uf, itf)
    back = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(back.predict(1, np.arange(5)), m.predict(1, np.arange(5)))
    m.save(tmp_path / "m.mercato")
    assert HybridMF.load(tmp_path / "m.mercato").get_params() == m.get_params()
    buf = io.BytesIO(m.to_bytes()[:-5])
    with pytest.raises(ValueError):
        HybridMF.load(buf)


def test_bad_input_is_an_exception_not_a_crash():
    ui, uf, itf, *_ = toy()
    with pytest.raises(ValueError, match="rows"):
        HybridMF(epochs=1).fit(ui, uf, itf[:5])
    bad = itf.copy().astype(np.float32)
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        HybridMF(epochs=1).fit(ui, uf, bad)
    with pytest.raises(ValueError, match="loss"):
        HybridMF(loss="hinge").fit(ui)
    with pytest.raises(ValueError, match="factors"):
        HybridMF(factors=0).fit(ui)
    with pytest.raises(ValueError, match="not fitted"):
        HybridMF().recommend(0)
    m = HybridMF(factors=4, epochs=2).fit(ui, uf, itf)
    with pytest.raises(ValueError):
        m.recommend(10_000)
    with pytest.raises(ValueError):
        m.predict(0, 0, item_features=sp.csr_matrix(np.ones((1, 7), np.float32)))  # wrong columns
    with pytest.raises(ValueError):
        HybridMF(epochs=1).fit(sp.csr_matrix((3, 3), dtype=np.float32))  # no positives


def test_dataset_maps_ids_and_feature_names():
    import pandas as pd

    ds = HybridDataset().fit(
        users=["ann", "bob", "cy"], items=["tea", "mug", "pot", "cup"], item_features=["drink", "kitchen"]
    )
    events = pd.DataFrame({"user": ["ann", "bob", "cy", "ann"], "item": ["tea", "mug", "pot", "cup"]})
    ui = ds.build_interactions(events)
    assert ui.shape == (3, 4) and ui.nnz == 4
    itf = ds.build_item_features([("tea", ["drink"]), ("mug", {"kitchen": 2.0, "drink": 2.0}), ("pot", ["kitchen"])])
    assert itf.shape == (4, 2)
    np.testing.assert_allclose(itf.toarray()[1], [0.5, 0.5])
    assert itf[3].nnz == 0, "an item without features keeps an empty row"
    m = HybridMF(factors=4, epochs=3).fit(ui, item_features=itf, dataset=ds)
    assert list(m.item_ids) == ["tea", "mug", "pot", "cup"]
    new_ids, new = ds.new_item_features([("kettle", ["kitchen", "drink"]), ("mate", ["drink"])])
    assert new_ids == ["kettle", "mate"] and new.shape == (2, 2)
    ids, _ = m.recommend(ds.user_index("ann"), N=2, item_features=new)
    assert sorted(new_ids[i] for i in ids) == ["kettle", "mate"]
    with pytest.raises(KeyError):
        ds.new_item_features([("x", ["colour"])])
    with pytest.raises(KeyError):
        ds.build_interactions([("zed", "tea")])
    with pytest.raises(ValueError):
        ds.build_item_features([("tea", {"drink": float("nan")})])
