"""mercato.recommend.ItemContent (content-based similarity) and blend."""

import pickle

import mercato
import numpy as np
import pytest
import scipy.sparse as sp
from mercato.recommend import ALS, ItemContent, blend


def tags(n_items=60, n_tags=25, seed=0):
    """Items in three groups, each drawing tags mostly from its own third of the vocabulary."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_items):
        own = np.arange(i % 3, n_tags, 3)
        picked = rng.choice(own, 3, replace=False).tolist() + rng.choice(n_tags, 1).tolist()
        rows.append(np.bincount(picked, minlength=n_tags))
    return sp.csr_matrix(np.asarray(rows, np.float32))


def test_tfidf_cosine_equals_scikit_learns():
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.metrics.pairwise import cosine_similarity

    X = tags()
    sims = cosine_similarity(TfidfTransformer().fit_transform(X))
    m = ItemContent().fit(X)
    ids, scores = m.similar_items(7, N=10)
    order = np.argsort(-sims[7], kind="stable")[:10]
    np.testing.assert_allclose(scores, sims[7][ids], rtol=1e-5)
    np.testing.assert_allclose(np.sort(scores)[::-1], sims[7][order], rtol=1e-5)
    assert ids[0] == 7
    batch, _ = m.similar_items(np.arange(5), N=4)
    assert batch.shape == (5, 4) and (batch[:, 0] == np.arange(5)).all()


def test_new_items_by_features_and_user_recommendations():
    X = tags()
    m = ItemContent(weighting="bm25").fit(X)
    new = X[[3, 4]]  # two "new" products described like items 3 and 4
    ids, scores = m.similar_items(item_features=new, N=5)
    assert ids.shape == (2, 5) and ids[0, 0] == 3 and ids[1, 0] == 4
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    # users who touched group-0 items get group-0 recommendations, seen ones filtered
    user_items = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [0, 3, 1])), shape=(2, 60))
    ids, _ = m.recommend(np.arange(2), user_items, N=5)
    assert ids.shape == (2, 5)
    assert (ids[0] % 3 == 0).mean() >= 0.8 and not {0, 3} & set(ids[0])
    one, _ = m.recommend(1, user_items[1], N=5, items=np.arange(30), filter_items=[4])
    assert len(one) and (one < 30).all() and 4 not in one


def test_bad_input_persistence_and_clone(tmp_path):
    from sklearn.base import clone

    X = tags()
    with pytest.raises(ValueError):
        ItemContent().fit(sp.csr_matrix(np.array([[np.nan, 1.0]])))
    with pytest.raises(ValueError, match="weighting"):
        ItemContent(weighting="bm42").fit(X)
    with pytest.raises(mercato.NotFittedError):
        ItemContent().similar_items(0)
    m = ItemContent(weighting="bm25", K1=2.0, B=0.5).fit(X)
    with pytest.raises(KeyError):
        m.similar_items(60)
    with pytest.raises(ValueError):
        m.similar_items(0, N=0)
    with pytest.raises(ValueError):
        m.similar_items(item_features=sp.csr_matrix((1, 3)))
    back = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(back.similar_items(5)[0], m.similar_items(5)[0])
    m.save(tmp_path / "c.mercato")
    loaded = mercato.load(tmp_path / "c.mercato")
    assert isinstance(loaded, ItemContent) and loaded.get_params() == m.get_params()
    assert clone(m).get_params() == m.get_params()


def test_item_ids_and_feature_names_travel_with_the_model(tmp_path):
    X = tags(n_items=12, n_tags=9)
    skus = [f"sku-{i}" for i in range(12)]
    names = [f"tag{j}" for j in range(9)]
    m = ItemContent().fit(X, item_ids=skus, feature_names=names)
    assert m.item_ids == skus and m.feature_names == names
    plain = ItemContent().fit(X)
    assert list(plain.item_ids) == list(range(12)) and plain.feature_names == []
    # in Python items stay row indices: the same answers with or without ids
    np.testing.assert_array_equal(m.similar_items(3)[0], plain.similar_items(3)[0])
    m.save(tmp_path / "c.mercato")
    back = mercato.load(tmp_path / "c.mercato")
    assert back.item_ids == skus and back.feature_names == names
    assert pickle.loads(pickle.dumps(m)).item_ids == skus
    with pytest.raises(ValueError, match="12 item ids"):
        ItemContent().fit(X, item_ids=skus[:5])
    with pytest.raises(ValueError, match="appears twice"):
        ItemContent().fit(X, item_ids=["a"] * 12)
    with pytest.raises(ValueError, match="9 feature names"):
        ItemContent().fit(X, feature_names=names[:2])
    with pytest.raises(ValueError, match="distinct"):
        ItemContent().fit(X, feature_names=["t"] * 9)


def test_blend_mixes_a_content_and_a_collaborative_model():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 8)), 100 * rng.normal(size=(3, 8))
    mixed = blend(a, b, weight=0.0)
    np.testing.assert_array_equal(np.argsort(mixed, axis=1), np.argsort(a, axis=1))
    z = blend(a, b, weight=0.5, method="zscore")
    assert z.shape == (3, 8) and np.isfinite(z).all()
    a[0, 2] = -np.inf
    assert blend(a, b)[0, 2] == -np.inf
    with pytest.raises(ValueError):
        blend(a, b[:, :3])
    # in practice: content scores for every item next to ALS's
    X = tags()
    interactions = sp.random(40, 60, density=0.1, format="csr", random_state=0, dtype=np.float32)
    interactions.data[:] = 1
    als = ALS(factors=4, iterations=3, confidence="binary").fit(interactions)
    content = ItemContent().fit(X)
    ids, cf = als.recommend(0, interactions[0], N=60, filter_already_liked_items=False)
    cf_full = np.empty(60)
    cf_full[ids] = cf
    ids, cs = content.recommend(0, interactions[0], N=60, filter_already_liked_items=False)
    content_full = np.zeros(60)  # items sharing no feature with the profile score 0
    content_full[ids] = cs
    both = blend(cf_full, content_full, weight=0.3)
    assert both.shape == (60,) and np.isfinite(both).all()
    top = int(np.argmax(both))
    assert cf_full[top] >= np.median(cf_full) or content_full[top] >= np.median(content_full)
    only_content = blend(cf_full, content_full, 1.0)
    np.testing.assert_array_equal(np.argsort(only_content, kind="stable"), np.argsort(content_full, kind="stable"))


# ---- ImageFeatures (image embeddings -> item features) and the marketplace pictures ----


def embeddings(n=40, d=12, seed=3, traits=False):
    """Rows varying mostly along two directions of a d-wide, non-negative embedding (and the
    two hidden traits behind them)."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, 2))
    basis = np.abs(rng.normal(size=(2, d)))
    emb = np.maximum(t @ basis + 0.05 * rng.normal(size=(n, d)) + 3.0, 0).astype(np.float32)
    return (emb, t) if traits else emb


def test_image_features_are_sparse_non_negative_and_deterministic():
    from mercato.recommend import ImageFeatures

    emb, traits = embeddings(traits=True)
    img = ImageFeatures(n_components=4).fit(emb)
    f = img.transform(emb)
    assert sp.issparse(f) and f.shape == (40, 2 * img.n_components_) and f.dtype == np.float32
    assert img.n_components_ == 4 and img.n_features_in_ == 12 and img.n_features_out_ == 8
    assert (f.data > 0).all()
    # each direction lands in exactly one of its two columns per row
    dense = f.toarray()
    assert ((dense[:, 0::2] > 0) & (dense[:, 1::2] > 0)).sum() == 0
    assert list(img.get_feature_names_out()[:2]) == ["img0+", "img0-"]
    np.testing.assert_array_equal(ImageFeatures(n_components=4).fit_transform(emb).toarray(), dense)
    # the first two components (+ minus - column) recover the two hidden traits linearly
    signed = dense[:, 0::2] - dense[:, 1::2]
    design = np.c_[signed[:, :2], np.ones(len(emb))]
    residual = traits - design @ np.linalg.lstsq(design, traits, rcond=None)[0]
    assert (residual**2).sum() / ((traits - traits.mean(axis=0)) ** 2).sum() < 0.01


def test_image_features_persist_clone_and_refuse_bad_input(tmp_path):
    from mercato.recommend import ImageFeatures
    from sklearn.base import clone

    emb = embeddings()
    img = ImageFeatures(n_components=3).fit(emb)
    back = pickle.loads(pickle.dumps(img))
    np.testing.assert_array_equal(back.transform(emb).toarray(), img.transform(emb).toarray())
    img.save(tmp_path / "img.mercato")
    loaded = mercato.load(tmp_path / "img.mercato")
    assert isinstance(loaded, ImageFeatures) and loaded.n_components == 3
    assert repr(clone(img)) == "ImageFeatures(n_components=3)"
    with pytest.raises(ValueError, match="n_components"):
        ImageFeatures(n_components=0).fit(emb)
    with pytest.raises(ValueError, match="2-D"):
        ImageFeatures().fit(emb[0])
    bad = emb.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        ImageFeatures().fit(bad)
    with pytest.raises(ValueError, match="length 12"):
        img.transform(emb[:, :5])
    with pytest.raises(mercato.NotFittedError):
        ImageFeatures().transform(emb)


def test_marketplace_pictures_follow_the_catalogue():
    from mercato.datasets import marketplace

    plain = marketplace("small", seed=5)
    m = marketplace("small", seed=5, pictures=True)
    assert list(m["products"].columns) == ["product", "name", "category", "price"]
    assert len(m["products"]) == 400 and set(m["events"]["product"]) <= set(m["products"]["product"])
    assert m["pictures"].shape == (400, 28, 28) and m["pictures"].dtype == np.uint8
    assert "pictures" not in plain and plain["events"].equals(m["events"])  # same data either way
    # pictures of one category share a silhouette: closer to each other than across categories
    cat = m["products"]["category"].to_numpy()
    mask = m["pictures"].reshape(400, -1) > 0
    a, b = sorted(set(cat))[:2]
    same = (mask[cat == a][:10, None] == mask[cat == a][None, :10]).mean()
    across = (mask[cat == a][:10, None] == mask[cat == b][None, :10]).mean()
    assert same > across
    with pytest.raises(ValueError, match="scale"):
        marketplace("huge")
    for seed in (-1, 2**70):
        with pytest.raises(ValueError, match="seed"):
            marketplace(seed=seed)
    with pytest.raises(TypeError, match="seed"):
        marketplace(seed=1.5)
