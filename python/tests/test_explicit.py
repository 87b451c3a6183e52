"""mercato.recommend explicit-rating models: API, bad input, persistence, real-data bounds."""

import pickle

import numpy as np
import pytest
from mercato import ModelFormatError
from mercato.recommend import KNN, Baseline, FunkSVD, SVDpp

SMALL = {
    Baseline: {},
    FunkSVD: {"factors": 8, "epochs": 20},
    SVDpp: {"factors": 8, "epochs": 40, "lr": 0.02},
    KNN: {"k": 10},
}


def toy(str_ids=False):
    rng = np.random.default_rng(0)
    users, items, ratings = [], [], []
    for u in range(50):
        for i in range(25):
            if rng.random() < 0.3:
                continue
            like = (u % 2 == 0) == (i < 12)
            users.append(f"u{u}" if str_ids else u)
            items.append(f"i{i}" if str_ids else i)
            ratings.append(float(rng.integers(4, 6) if like else rng.integers(1, 3)))
    return np.array(users), np.array(items), np.array(ratings)


@pytest.mark.parametrize("cls", list(SMALL))
@pytest.mark.parametrize("str_ids", [False, True])
def test_fit_predict_recommend(cls, str_ids):
    users, items, ratings = toy(str_ids)
    model = cls(**SMALL[cls])
    assert model.fit(users, items, ratings) is model
    pred = model.predict(users, items)
    assert pred.dtype == np.float64 and pred.shape == ratings.shape
    assert np.all((pred >= 1) & (pred <= 5))
    if cls is not Baseline:
        assert np.sqrt(np.mean((pred - ratings) ** 2)) < 1.0
    ids, scores = model.recommend(users[0], N=5)
    assert len(ids) == 5 and len(scores) == 5 and np.all(np.diff(scores) <= 0)
    rated = set(items[users == users[0]].tolist())
    assert not rated & set(list(ids))
    ids_all, _ = model.recommend(users[0], N=100, exclude_rated=False)
    assert len(ids_all) == 25
    # unknown ids fall back, flagged
    vals, status = model.predict([users[0], "nobody"], [items[0], items[0]], return_status=True)
    assert status[0] == 0 and status[1] == 1 and 1 <= vals[1] <= 5


def test_dataframe_fit_and_columns():
    pd = pytest.importorskip("pandas")
    users, items, ratings = toy()
    df = pd.DataFrame({"uid": users, "iid": items, "stars": ratings})
    a = FunkSVD(factors=4, epochs=5).fit(df, user_col="uid", item_col="iid", rating_col="stars")
    b = FunkSVD(factors=4, epochs=5).fit(users, items, ratings)
    np.testing.assert_array_equal(a.predict(users, items), b.predict(users, items))
    with pytest.raises(ValueError, match="lacks column"):
        FunkSVD().fit(df)


@pytest.mark.parametrize("cls", list(SMALL))
def test_bad_input_raises_value_error(cls):
    users, items, ratings = toy()
    with pytest.raises(ValueError, match="not fitted"):
        cls().predict(users, items)
    with pytest.raises(ValueError, match="not fitted"):
        cls().recommend(1)
    bad = ratings.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        cls(**SMALL[cls]).fit(users, items, bad)
    bad[3] = np.inf
    with pytest.raises(ValueError, match="finite"):
        cls(**SMALL[cls]).fit(users, items, bad)
    with pytest.raises(ValueError, match="declared scale"):
        cls(**SMALL[cls], rating_scale=(1, 4)).fit(users, items, ratings)
    with pytest.raises(ValueError, match="empty"):
        cls().fit(np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([]))
    dup_u, dup_i, dup_r = np.append(users, users[0]), np.append(items, items[0]), np.append(ratings, 3.0)
    with pytest.raises(ValueError, match="duplicate"):
        cls(**SMALL[cls]).fit(dup_u, dup_i, dup_r)
    with pytest.raises(ValueError, match="same length"):
        cls().fit(users, items[:-1], ratings)


def test_bad_hyper_parameters():
    users, items, ratings = toy()
    with pytest.raises(ValueError, match="factors"):
        FunkSVD(factors=0).fit(users, items, ratings)
    with pytest.raises(ValueError, match="min_k"):
        KNN(k=5, min_k=10).fit(users, items, ratings)
    with pytest.raises(ValueError, match="similarity"):
        KNN(similarity="jaccard").fit(users, items, ratings)
    with pytest.raises(ValueError):
        FunkSVD(seed=-1).fit(users, items, ratings)
    with pytest.raises(ValueError, match="has no parameter"):
        FunkSVD().set_params(nope=1)


@pytest.mark.parametrize("cls", list(SMALL))
def test_save_load_and_pickle(cls, tmp_path):
    users, items, ratings = toy()
    model = cls(**SMALL[cls]).fit(users, items, ratings)
    expected = model.predict(users, items)
    path = tmp_path / "m.mercato"
    model.save(path)
    np.testing.assert_array_equal(cls.load(path).predict(users, items), expected)
    back = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(back.predict(users, items), expected)
    assert back.get_params() == model.get_params()
    fn, (klass, params, blob) = model.__reduce__()
    with pytest.raises(ModelFormatError):
        fn(klass, params, blob[:-7])
    raw = pickle.loads(pickle.dumps(model._model))  # the Rust class pickles on its own too
    np.testing.assert_array_equal(raw.predict(users, items)[0], expected)
    other = FunkSVD if cls is not FunkSVD else Baseline
    with pytest.raises(ValueError, match=f"not a {other.__name__}"):
        other.load(path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError):
        cls.load(path)
    unfitted = pickle.loads(pickle.dumps(cls()))
    with pytest.raises(ValueError, match="not fitted"):
        unfitted.predict([1], [1])


CUSTOM = {
    Baseline: {"method": "sgd", "epochs": 7, "lr": 0.01, "reg": 0.05, "rating_scale": (1.0, 5.0)},
    FunkSVD: {"factors": 6, "epochs": 4, "lr": 0.07, "reg": 0.2, "blocks": 2, "seed": 5},
    SVDpp: {"factors": 5, "epochs": 3, "reg_implicit": 0.3, "rating_scale": (0.5, 5.5)},
    KNN: {"k": 7, "similarity": "msd", "variant": "means", "user_based": True, "baseline_reg_user": 4.0},
}


@pytest.mark.parametrize("cls", list(CUSTOM))
def test_load_and_unpickle_restore_hyper_parameters(cls, tmp_path):
    users, items, ratings = toy()
    model = cls(**CUSTOM[cls]).fit(users, items, ratings)
    expected = {**cls().get_params(), **CUSTOM[cls]}
    assert model.get_params() == expected
    model.save(tmp_path / "m.mercato")
    loaded = cls.load(tmp_path / "m.mercato")
    assert loaded.get_params() == expected
    assert repr(loaded) == repr(model)
    # The model bytes alone carry them (the pickle also passes the dict, for unfitted models).
    assert cls.from_bytes(model.to_bytes()).get_params() == expected
    assert pickle.loads(pickle.dumps(model)).get_params() == expected


def test_rank_above_min_users_items_is_rejected():
    users, items, ratings = toy()  # 50 users x 25 items
    for cls in (FunkSVD, SVDpp):
        with pytest.raises(ValueError, match=r"min\(n_users, n_items\)"):
            cls(factors=26, epochs=1).fit(users, items, ratings)
        assert cls(factors=25, epochs=1).fit(users, items, ratings).user_factors_.shape == (50, 25)


def test_thread_count_does_not_change_funk_svd():
    users, items, ratings = toy()
    a = FunkSVD(factors=8, epochs=5, blocks=4, num_threads=1).fit(users, items, ratings)
    b = FunkSVD(factors=8, epochs=5, blocks=4, num_threads=2).fit(users, items, ratings)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    assert a.user_factors_.shape == (50, 8)
    assert len(a.history_["train_rmse"]) == 5


def _fold(data, k):
    def read(name):
        a = np.loadtxt(data / name, dtype=np.int64)
        return a[:, 0], a[:, 1], a[:, 2].astype(np.float64)

    return read(f"u{k}.base"), read(f"u{k}.test")


@pytest.mark.parametrize(
    "cls,bound",
    [(Baseline, 0.945), (FunkSVD, 0.912), (SVDpp, 0.910), (KNN, 0.916)],
)
def test_movielens_100k_rmse_bound(cls, bound, datasets_dir):
    """Mean RMSE over the five official folds with the default hyper-parameters."""
    data = datasets_dir / "movielens-100k"
    errors = []
    for k in range(1, 6):
        (u, i, r), (tu, ti, tr) = _fold(data, k)
        pred = cls().fit(u, i, r).predict(tu, ti)
        errors.append(np.sqrt(np.mean((pred - tr) ** 2)))
    assert np.mean(errors) <= bound, errors
