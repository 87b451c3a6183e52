"""mercato.vision: the CNN image classifier (needs the `_mercato_vision` extension and torch)."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("_mercato_vision", reason="mercato[vision] not installed (make develop builds it)")

import mercato  # noqa: E402
from conftest import png_bytes  # noqa: E402
from mercato.vision import ImageClassifier, load_image_files, load_image_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FASHION = Path(os.environ.get("MERCATO_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))


def shapes(n, seed):
    """Three classes of 16x16 grey images: horizontal bar, vertical bar, centred square."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, size=(n, 16, 16)).astype(np.uint8)
    y = np.arange(n) % 3
    for i in range(n):
        o = rng.integers(3, 12)
        if y[i] == 0:
            x[i, o : o + 2, :] = 210
        elif y[i] == 1:
            x[i, :, o : o + 2] = 210
        else:
            x[i, 5:11, 5:11] = 210
    return x, y


def small(**kw):
    params = dict(num_classes=3, input_size=16, hidden=32, learning_rate=3e-3, seed=7, device="cpu")
    params.update(kw)
    return ImageClassifier("small_cnn", show_progress=False, **params)


@pytest.fixture(scope="module")
def fitted():
    x, y = shapes(240, 1)
    return small(class_names=["hbar", "vbar", "square"], epochs=4, batch_size=32, validation_fraction=0.2).fit(x, y)


def write_png(path, pixels):
    Path(path).write_bytes(png_bytes(pixels))


@pytest.mark.parametrize("torch_first", [True, False])
def test_import_with_and_without_torch_first(torch_first):
    pytest.importorskip("torch")
    code = (
        ("import torch\n" if torch_first else "")
        + "import numpy as np\nfrom mercato.vision import ImageClassifier\n"
        + "import torch\nx = torch.zeros(2)\n"
        + "print(ImageClassifier.__name__, x.sum().item())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ImageClassifier 0.0" in out.stdout


def test_fit_predict_evaluate(fitted):
    xt, yt = shapes(90, 2)
    ev = fitted.evaluate(xt, yt)
    assert ev["accuracy"] > 0.9, ev["report"]
    assert ev["confusion_matrix"].shape == (3, 3) and ev["confusion_matrix"].sum() == 90
    assert list(ev["support"]) == [30, 30, 30]
    proba = fitted.predict_proba(xt)
    assert proba.shape == (90, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    pred = fitted.predict(xt)
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(pred, proba.argmax(axis=1))
    # float64 0..1, [N,1,H,W] and int64 0..255 inputs give the same answers.
    np.testing.assert_allclose(fitted.predict_proba(xt / 255.0), proba, atol=1e-5)
    np.testing.assert_array_equal(fitted.predict(xt[:, None]), pred)
    np.testing.assert_array_equal(fitted.predict(xt.astype(np.int64)), pred)
    assert fitted.class_names_ == ["hbar", "vbar", "square"]
    assert fitted.predict_names(xt[2:3]) == ["square"]
    hist = fitted.history_
    assert len(hist["epochs"]) == 4 and hist["epochs"][-1]["train_loss"] < hist["epochs"][0]["train_loss"]
    assert fitted.input_shape_ == (1, 16, 16)
    assert fitted.score(xt, yt) == ev["accuracy"]


def test_string_labels():
    x, y = shapes(120, 3)
    names = np.array(["hbar", "vbar", "square"])[y]
    clf = small(epochs=3, batch_size=32, validation_fraction=0.0).fit(x, names)
    assert clf.num_classes == 3 and sorted(clf.class_names_) == ["hbar", "square", "vbar"]
    pred = clf.predict(x)
    assert set(pred.tolist()) <= {"hbar", "vbar", "square"}
    assert (pred == names).mean() > 0.8
    assert clf.evaluate(x, names)["accuracy"] > 0.8


def test_save_load_pickle(fitted, tmp_path):
    xt, _ = shapes(30, 4)
    path = tmp_path / "m.mercato"
    fitted.save(path)
    again = ImageClassifier.load(path)
    np.testing.assert_array_equal(again.predict_proba(xt), fitted.predict_proba(xt))
    assert again.class_names_ == fitted.class_names_
    clone = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(clone.predict_proba(xt), fitted.predict_proba(xt))
    unfitted = pickle.loads(pickle.dumps(small()))
    with pytest.raises(ValueError, match="not fitted"):
        unfitted.predict(xt)
    np.testing.assert_array_equal(
        ImageClassifier.from_bytes(fitted.to_bytes()).predict(xt), fitted.predict(xt)
    )
    # Another kind of model file, or junk, is a ModelFormatError.
    bad = tmp_path / "bad.mercato"
    bad.write_bytes(b"MERCATO\x1a garbage")
    with pytest.raises(mercato.ModelFormatError):
        ImageClassifier.load(bad)
    with pytest.raises(mercato.ModelFormatError):
        ImageClassifier.from_bytes(fitted.to_bytes()[:-10])
    with pytest.raises(FileNotFoundError):
        ImageClassifier.load(tmp_path / "absent.mercato")


def test_bad_input(fitted):
    x, y = shapes(30, 5)
    with pytest.raises(ValueError, match="shape"):
        fitted.predict(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="channels"):
        fitted.predict(np.zeros((2, 3, 16, 16), np.float32))
    nan = x / 255.0
    nan[3, 2, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fitted.predict(nan)
    with pytest.raises(ValueError, match="0..255"):
        fitted.predict(np.full((1, 16, 16), 300))
    with pytest.raises(ValueError, match="outside"):
        small(epochs=1).fit(x, np.full(30, 5))
    with pytest.raises(ValueError, match="negative"):
        small(epochs=1).fit(x, -np.ones(30, np.int64))
    with pytest.raises(ValueError, match="empty"):
        small(epochs=1).fit(np.zeros((0, 16, 16), np.uint8), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="labels"):
        small(epochs=1).fit(x, y[:5])
    with pytest.raises(ValueError, match="architecture"):
        ImageClassifier("vgg", show_progress=False, epochs=1).fit(x, y)
    with pytest.raises(ValueError, match="device"):
        small(device="tpu", epochs=1).fit(x, y)
    with pytest.raises(KeyError):
        ImageClassifier.pretrained("imagenet")
    with pytest.raises(ValueError, match="not fitted"):
        small().predict_proba(x)
    with pytest.raises(TypeError):
        fitted.predict(np.array(["a", "b"]))


def test_image_files_and_folders(fitted, tmp_path):
    x, y = shapes(12, 6)
    for i in range(12):
        d = tmp_path / ["hbar", "vbar", "square"][y[i]]
        d.mkdir(exist_ok=True)
        write_png(d / f"{i}.png", x[i])
    (tmp_path / "square" / "broken.png").write_bytes(b"\x89PNG broken")
    images, labels, names, paths, skipped = load_image_folder(tmp_path, size=16)
    assert names == ["hbar", "square", "vbar"]
    assert images.shape == (12, 1, 16, 16) and len(labels) == 12 and len(paths) == 12
    assert len(skipped) == 1 and str(skipped[0][0]).endswith("broken.png")
    with pytest.raises(ValueError, match="broken.png"):
        load_image_folder(tmp_path, size=16, skip_corrupt=False)
    files = [tmp_path / "square" / "2.png", str(tmp_path / "hbar" / "0.png")]
    np.testing.assert_array_equal(load_image_files(files, size=16)[:, 0], x[[2, 0]])
    assert fitted.predict_names(files) == ["square", "hbar"]
    with pytest.raises(ValueError, match="broken.png"):
        fitted.predict([tmp_path / "square" / "broken.png"])
    # a missing file is FileNotFoundError naming it (not "cannot decode"), for every entry point
    missing = tmp_path / "nope.png"
    for call in (fitted.predict, fitted.predict_proba, fitted.predict_names, load_image_files):
        with pytest.raises(FileNotFoundError, match="nope.png") as err:
            call([files[0], missing])
        assert err.value.filename == str(missing)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        fitted.predict(str(missing))


def test_encoded_files_in_memory_decode_as_files_do(fitted, tmp_path):
    from mercato.vision import decode_images

    x, _ = shapes(6, 8)
    blobs = [png_bytes(x[i]) for i in range(6)]
    paths = []
    for i, b in enumerate(blobs):
        (tmp_path / f"{i}.png").write_bytes(b)
        paths.append(tmp_path / f"{i}.png")
    np.testing.assert_array_equal(decode_images(blobs, size=16), load_image_files(paths, size=16))
    np.testing.assert_array_equal(fitted.predict_proba(blobs), fitted.predict_proba(paths))
    assert decode_images(blobs[0], size=16).shape == (1, 1, 16, 16)
    with pytest.raises(ValueError, match="image 1 of 2"):
        decode_images([blobs[0], b"\x89PNG broken"], size=16)
    with pytest.raises(ValueError):
        decode_images(blobs, size=16, channels=2)
    with pytest.raises(ValueError, match="size must be >= 0"):
        decode_images(blobs, size=-1)
    with pytest.raises(ValueError, match="channels"):
        load_image_files(paths, size=16, channels=-3)


def test_resnet_trains():
    x, y = shapes(120, 7)
    clf = ImageClassifier(
        "resnet",
        num_classes=3,
        input_size=16,
        widths=[8, 16],
        optimizer="adamw",
        learning_rate=3e-3,
        weight_decay=1e-4,
        device="cpu",
        show_progress=False,
        epochs=8,
        batch_size=16,
        validation_fraction=0.0,
    ).fit(x, y)
    assert clf.arch == "resnet" and clf.evaluate(x, y)["accuracy"] > 0.8
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(x), clf.predict_proba(x))


def test_pretrained_fashion_mnist():
    model = REPO / "models" / "fashion_cnn.mercato"
    if not model.exists() or not FASHION.is_dir():
        pytest.skip(f"needs {model} and Fashion-MNIST in {FASHION}")
    from mercato.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist

    clf = ImageClassifier.pretrained("fashion_mnist")
    assert clf.class_names_ == FASHION_MNIST_CLASSES
    _, (x_test, y_test) = load_fashion_mnist()
    ev = clf.evaluate(x_test, y_test)
    # Issue target 0.92; the shipped model reaches 0.9274 (models/fashion_cnn.md).
    assert ev["accuracy"] >= 0.92, ev["report"]


def test_embed_is_the_penultimate_layer(fitted):
    x, y = shapes(60, 9)
    emb = fitted.embed(x)
    assert emb.shape == (60, fitted.embedding_dim_) and emb.dtype == np.float32
    assert (emb >= 0).all()  # after the ReLU
    np.testing.assert_allclose(emb, fitted.embed(x.astype(np.float32) / 255.0), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).embed(x), emb)
    # the classes separate in embedding space: nearest class mean recovers most labels
    means = np.stack([emb[y == c].mean(axis=0) for c in range(3)])
    nearest = ((emb[:, None, :] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (nearest == y).mean() > 0.9
    assert fitted.embed(x[:0]).shape == (0, fitted.embedding_dim_)
    with pytest.raises(ValueError):
        fitted.embed(np.zeros((2, 20, 20), np.uint8))


def test_new_products_known_only_by_a_photo_are_recommended():
    """The cold-start path end to end: marketplace photos -> shipped CNN -> ImageFeatures ->
    HybridMF, scored on products none of whose events were trained on."""
    if not (REPO / "models" / "fashion_cnn.mercato").exists():
        pytest.skip("needs models/fashion_cnn.mercato")
    import scipy.sparse as sp
    from mercato.datasets import marketplace
    from mercato.recommend import HybridMF, ImageFeatures

    m = marketplace("small", seed=11, pictures=True)
    n = len(m["products"])
    new = np.arange(n) % 5 == 2
    position = {p: k for k, p in enumerate(m["products"]["product"])}
    product = m["events"]["product"].map(position).to_numpy()
    user = m["events"]["user"].to_numpy()
    column = np.full(n, -1)
    column[~new], column[new] = np.arange((~new).sum()), np.arange(new.sum())
    trained = ~new[product]
    train = sp.csr_matrix((np.ones(trained.sum(), np.float32), (user[trained], column[product[trained]])))
    train.data[:] = 1
    emb = ImageClassifier.pretrained("fashion_mnist").embed(m["pictures"])
    img = ImageFeatures(n_components=16).fit(emb[~new])
    model = HybridMF(factors=32, epochs=30, item_identity=False, seed=0)
    model.fit(train, item_features=img.transform(emb[~new]))
    ub, ue = model.get_user_representations()
    ib, ie = model.get_item_representations(img.transform(emb[new]))
    scores = ue @ ie.T + ub[:, None] + ib[None, :]
    # P@10 over the new products for users with an event on one, against random ranking
    hits, base = [], []
    for u in np.unique(user[~trained]):
        if u >= scores.shape[0]:
            continue
        chosen = np.zeros(new.sum(), bool)
        chosen[column[product[~trained & (user == u)]]] = True
        hits.append(chosen[np.argsort(-scores[u], kind="stable")[:10]].mean())
        base.append(chosen.mean())
    assert np.mean(hits) > 1.5 * np.mean(base), (np.mean(hits), np.mean(base))
