import pickle

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

from mercato import ModelFormatError  # noqa: E402
from mercato.recommend import TruncatedSVD  # noqa: E402

# scipy.sparse.linalg.svds(A, k=50) (ARPACK, float64) on ML-100k u.data as a 943 × 1682 matrix,
# recorded with scipy 1.17.1: ‖A − U S Vt‖_F / ‖A‖_F.
ARPACK_ML100K_K50 = 0.623507504159


def random_sparse(n=60, m=40, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    low_rank = rng.standard_normal((n, 6)) @ (rng.standard_normal((6, m)) * (10.0 / np.arange(1, 7))[:, None])
    mask = rng.random((n, m)) < density
    return sp.csr_matrix(np.where(mask, low_rank, 0.0).astype(np.float32))


@pytest.mark.parametrize("algorithm", ["randomized", "accurate"])
@pytest.mark.parametrize("shape", [(60, 40), (35, 70)])
def test_singular_values_match_numpy(algorithm, shape):
    A = random_sparse(*shape)
    exact = np.linalg.svd(A.toarray().astype(np.float64), compute_uv=False)
    k = 5
    model = TruncatedSVD(k, algorithm=algorithm, n_iter=30).fit(A)
    assert model.U_.shape == (shape[0], k) and model.Vt_.shape == (k, shape[1])
    assert model.U_.dtype == np.float64 and model.s_.dtype == np.float64
    np.testing.assert_allclose(model.s_, exact[:k], rtol=1e-6)
    np.testing.assert_allclose(model.U_.T @ model.U_, np.eye(k), atol=1e-8)
    np.testing.assert_allclose(model.Vt_ @ model.Vt_.T, np.eye(k), atol=1e-8)
    dense = A.toarray().astype(np.float64)
    explicit = np.linalg.norm(dense - (model.U_ * model.s_) @ model.Vt_) / np.linalg.norm(dense)
    assert model.reconstruction_error_ == pytest.approx(explicit, abs=1e-9)
    optimal = np.sqrt(np.sum(exact[k:] ** 2) / np.sum(exact**2))
    assert model.reconstruction_error_ == pytest.approx(optimal, rel=1e-5)


def test_default_randomized_error_near_optimal():
    A = random_sparse(200, 120, 0.2, seed=3)
    exact = np.linalg.svd(A.toarray().astype(np.float64), compute_uv=False)
    optimal = np.sqrt(np.sum(exact[8:] ** 2) / np.sum(exact**2))
    model = TruncatedSVD(8).fit(A)
    assert optimal <= model.reconstruction_error_ <= optimal * 1.01


@pytest.mark.parametrize("algorithm", ["randomized", "accurate"])
def test_identical_for_any_thread_count(algorithm):
    A = random_sparse(3000, 200, 0.03, seed=1)
    one = TruncatedSVD(6, algorithm=algorithm, seed=5, num_threads=1).fit(A)
    two = TruncatedSVD(6, algorithm=algorithm, seed=5, num_threads=2).fit(A)
    assert np.array_equal(one.U_, two.U_)
    assert np.array_equal(one.s_, two.s_)
    assert np.array_equal(one.Vt_, two.Vt_)


def test_bad_input_raises_value_error():
    A = random_sparse()
    with pytest.raises(ValueError, match="parameter `k`: must be positive"):
        TruncatedSVD(0).fit(A)
    with pytest.raises(ValueError, match="exceeds min"):
        TruncatedSVD(41).fit(A)
    with pytest.raises(ValueError, match="empty"):
        TruncatedSVD(1).fit(sp.csr_matrix((5, 5), dtype=np.float32))
    bad = A.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        TruncatedSVD(2).fit(bad)
    with pytest.raises(ValueError, match="algorithm"):
        TruncatedSVD(2, algorithm="lanczos").fit(A)
    with pytest.raises(ValueError, match="center"):
        TruncatedSVD(2, center="item").fit(A)
    with pytest.raises(ValueError, match="duplicate"):
        TruncatedSVD(1).fit([1, 1, 2], ["a", "a", "b"], [4.0, 5.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        TruncatedSVD(1).fit([1, 2], ["a", "b"], [4.0, np.inf])
    with pytest.raises(ValueError, match="not fitted"):
        TruncatedSVD(2).predict([0], [0])
    with pytest.raises(ValueError, match="not fitted"):
        _ = TruncatedSVD(2).U_


def ratings_frame():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(7)
    rows = [
        (f"u{u}", int(i), float(min(5, 1 + (u % 5) * 0.7 + (i % 3) * 0.5 + rng.random())))
        for u in range(40)
        for i in range(30)
        if rng.random() < 0.35
    ]
    return pd.DataFrame(rows, columns=["user", "item", "rating"])


def test_fit_dataframe_predict_and_recommend():
    df = ratings_frame()
    model = TruncatedSVD(4, center="user", algorithm="accurate").fit(df)
    lo, hi = df.rating.min(), df.rating.max()
    pred, fallback = model.predict(df.user[:20], df.item[:20].to_numpy(), return_fallback=True)
    assert pred.dtype == np.float64 and not fallback.any()
    assert np.all((pred >= lo) & (pred <= hi))
    pred, fallback = model.predict(["nobody", "u1"], [0, 999], return_fallback=True)
    assert fallback.all()
    ids, scores = model.recommend("u1", N=50)
    rated = set(df.item[df.user == "u1"])
    assert len(ids) == 30 - len(rated) and not rated & set(ids.tolist())
    assert np.all(np.diff(scores) <= 0)
    ids_all, _ = model.recommend("u1", N=5, filter_already_liked_items=False)
    assert len(ids_all) == 5
    only, _ = model.recommend("u1", N=5, filter_already_liked_items=False, items=[3, 4])
    assert set(only.tolist()) == {3, 4}
    with pytest.raises(KeyError):
        model.recommend("nobody")
    # Same fit from arrays and from the frame.
    again = TruncatedSVD(4, center="user", algorithm="accurate").fit(
        df.user.to_numpy(), df.item.to_numpy(), df.rating.to_numpy()
    )
    assert np.array_equal(again.s_, model.s_)


def test_uncentred_rating_predictions_warn_once():
    import warnings

    import mercato

    df = ratings_frame()
    model = TruncatedSVD(4, algorithm="accurate").fit(df)
    with pytest.warns(mercato.ParameterWarning, match="center='user'"):
        model.predict(df.user[:5], df.item[:5].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(df.user[:5], df.item[:5].to_numpy())  # once per model
        TruncatedSVD(4, center="user", algorithm="accurate").fit(df).predict(df.user[:5], df.item[:5].to_numpy())
        ones = df.assign(rating=1.0)  # implicit 0/1 data: an absent 0 is what it means
        TruncatedSVD(4, algorithm="accurate").fit(ones).predict(ones.user[:5], ones.item[:5].to_numpy())


def test_pickle_save_load_round_trip(tmp_path):
    A = random_sparse()
    model = TruncatedSVD(3, center="global", seed=2).fit(A)
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone.U_, model.U_) and np.array_equal(clone.Vt_, model.Vt_)
    assert clone.get_params() == model.get_params()
    np.testing.assert_array_equal(clone.predict([0, 1], [2, 3]), model.predict([0, 1], [2, 3]))
    unfitted = pickle.loads(pickle.dumps(TruncatedSVD(7, algorithm="accurate")))
    assert unfitted.k == 7 and unfitted.algorithm == "accurate"
    path = tmp_path / "svd.mercato"
    model.save(path)
    loaded = TruncatedSVD.load(path)
    assert np.array_equal(loaded.s_, model.s_) and loaded.center == "global"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ModelFormatError):
        TruncatedSVD.load(path)


def test_movielens_error_matches_arpack(datasets_dir):
    path = datasets_dir / "movielens-100k" / "u.data"
    if not path.exists():
        pytest.skip(f"{path} not found")
    d = np.loadtxt(path, dtype=np.int64)
    _, ui = np.unique(d[:, 0], return_inverse=True)
    _, ii = np.unique(d[:, 1], return_inverse=True)
    A = sp.csr_matrix((d[:, 2].astype(np.float32), (ui, ii)))
    accurate = TruncatedSVD(50, algorithm="accurate").fit(A)
    assert accurate.converged_
    assert abs(accurate.reconstruction_error_ - ARPACK_ML100K_K50) / ARPACK_ML100K_K50 < 1e-3
    randomized = TruncatedSVD(50).fit(A)
    assert randomized.reconstruction_error_ < ARPACK_ML100K_K50 * 1.01
