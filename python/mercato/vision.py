"""CNN product-image classification on libtorch (Rust core, the ``mercato[vision]`` extra).

The native part lives in a separate extension, ``_mercato_vision``, that links the libtorch
of the ``torch==2.13.0`` wheel, so ``import mercato`` never needs torch. Install it with
``pip install mercato[vision]`` (or ``make develop`` in a source checkout). ``import torch``
before or after ``import mercato.vision`` is fine: both use the same libtorch.

>>> from mercato.vision import ImageClassifier
>>> from mercato.datasets import load_fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
>>> clf = ImageClassifier("small_cnn", num_classes=10, epochs=5).fit(x_train, y_train)  # doctest: +SKIP
>>> clf.evaluate(x_test, y_test)["accuracy"]  # doctest: +SKIP
>>> ImageClassifier.pretrained("fashion_mnist").predict(x_test[:3])  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from mercato._base import Estimator, _read

__all__ = ["ImageClassifier", "cuda_is_available", "decode_images", "load_image_folder", "load_image_files", "native"]

_INSTALL_HINT = (
    "mercato.vision needs the optional native extension `_mercato_vision` (CNN on libtorch, with "
    "torch==2.13.0). Install it with `pip install mercato[vision]`, or from a source checkout run "
    "`make develop` (which runs `maturin develop --release -m crates/mercato-vision-py/Cargo.toml`)."
)


def native():
    """The ``_mercato_vision`` extension module, imported on first use.

    Raises ImportError with installation instructions when it is not installed.
    """
    try:
        import _mercato_vision
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError(f"{_INSTALL_HINT} ({e})") from e
    return _mercato_vision


def cuda_is_available() -> bool:
    """Whether libtorch sees a CUDA GPU."""
    return bool(native().cuda_is_available())


def _is_list_of(images: Any, kinds: tuple) -> bool:
    """A non-empty sequence (not a string, bytes or an array) whose every entry is a ``kinds``."""
    return (
        isinstance(images, Sequence)
        and not isinstance(images, (str, bytes, np.ndarray))
        and len(images) > 0
        and all(isinstance(x, kinds) for x in images)
    )


def _is_path_list(images: Any) -> bool:
    return isinstance(images, (str, os.PathLike)) or _is_list_of(images, (str, os.PathLike))


def load_image_files(paths, size: int = 28, channels: int = 1) -> np.ndarray:
    """Decodes image files (png/jpeg) to uint8 ``[N, channels, size, size]``.

    Each image is resized so its shorter side is ``size`` and centre-cropped. A file that
    cannot be read raises ValueError (FileNotFoundError when missing) naming it.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    for p in paths:
        # Checked before any decoding: the native reader reports every unreadable file as
        # ValueError, and a missing file must be told apart (FileNotFoundError, as callers
        # expect of a path); this also needs no libtorch. A stat is small next to a decode.
        try:
            os.stat(p)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "image file not found", p) from None
    return native().load_image_files(paths, size, channels)


def decode_images(blobs, size: int = 28, channels: int = 1) -> np.ndarray:
    """Decodes PNG/JPEG files held in memory (a list of ``bytes``: upload bodies, the
    ``content`` column of Spark's ``binaryFile`` source) to uint8 ``[N, channels, size, size]``,
    exactly as :func:`load_image_files` decodes files. An undecodable one raises ValueError
    naming its position; pictures over 8192 pixels a side are refused before decoding."""
    if isinstance(blobs, (bytes, bytearray, memoryview)):
        blobs = [blobs]
    blobs = [bytes(b) for b in blobs]
    return native().decode_images(blobs, size, channels)


def load_image_folder(root, size: int = 28, channels: int = 1, skip_corrupt: bool = True, num_threads=None):
    """Reads ``root/<class_name>/*.png|jpg``.

    Returns ``(images, labels, class_names, paths, skipped)``: uint8 ``[N, C, size, size]``,
    int64 labels indexing the sorted class folder names, the file of each image, and
    ``(path, reason)`` for files that could not be decoded. Corrupt files are skipped (and
    listed) by default; ``skip_corrupt=False`` raises ValueError on the first one.
    """
    return native().load_image_folder(
        os.fspath(root), size, channels, bool(skip_corrupt), num_threads
    )


def _pixels(images, size: int, channels: int) -> np.ndarray:
    """uint8 or float32 numpy array from an array-like, a list of image paths or a list of
    encoded image files (``bytes``)."""
    if _is_path_list(images):
        return load_image_files(images, size, channels)
    if isinstance(images, (bytes, bytearray)) or _is_list_of(images, (bytes, bytearray, memoryview)):
        return decode_images(images, size, channels)
    try:  # torch tensors and other array-likes
        if hasattr(images, "detach") and hasattr(images, "cpu"):
            images = images.detach().cpu().numpy()
    except Exception:  # pragma: no cover - defensive
        pass
    a = np.asarray(images)
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f":
        if a.size and np.nanmax(a) > 1.0 + 1e-6 and np.nanmax(a) <= 255.0:
            # 0..255 values in a float array would be scaled as 0..1 pixels: 255x too bright
            warnings.warn(
                "float images should hold pixels in 0..1; these reach "
                f"{float(np.nanmax(a)):g}: divide by 255, or pass uint8 for 0..255",
                UserWarning,
                stacklevel=3,
            )
        return a.astype(np.float32, copy=False)
    if a.dtype.kind == "c":
        raise TypeError("images must be real-valued: complex arrays are not pixels")
    if a.dtype.kind in "iu":
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ValueError("integer images must hold pixels in 0..255 (use float32 in 0..1 otherwise)")
        return a.astype(np.uint8)
    if a.dtype == bool:
        return a.astype(np.float32)
    raise TypeError(f"images must be a numeric array or a list of image paths, got dtype {a.dtype}")


class ImageClassifier(Estimator):
    """A CNN image classifier trained and run by mercato's Rust core on libtorch.

    Parameters
    ----------
    arch : "small_cnn" (two 5x5 convolutions, fast) or "resnet" (small ResNet with batch norm).
    num_classes : number of classes (inferred from string labels when those are given).
    channels, input_size : input images are ``channels`` x ``input_size`` x ``input_size``;
        numpy input may be ``[N, H, W]`` (one channel) or ``[N, C, H, W]``, uint8 (0..255)
        or float (0..1). Normalisation is computed from the training images and stored.
    class_names : names of the classes in label order (default: "0", "1", ...).
    hidden, dropout : small_cnn hidden layer width (1024) and dropout (0.5).
    widths, blocks_per_stage : resnet stage widths ([16, 32, 64]) and blocks per stage (1).
    optimizer : "adam", "adamw", "sgd" or "nesterov"; ``momentum`` for the SGD ones.
    learning_rate, weight_decay, lr_schedule : "cosine" (default), "step" (``step_every``
        epochs, times ``step_gamma``) or "constant".
    patience : early stopping on the validation loss (None = train all epochs); the best
        epoch's weights are kept.
    crop_padding, horizontal_flip : training augmentation (random crop after padding, flips).
    epochs, batch_size : training length and mini-batch size.
    validation_fraction : share of the training images held out (at random, by ``seed``) for
        validation and early stopping; 0 trains on all and disables early stopping.
    seed, num_threads : reproducibility and libtorch threads during fit (None = default).
    device : "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    show_progress : progress bar while training (drawn only on a terminal).

    Attributes after fit: ``classes_``, ``class_names_``, ``history_`` (loss/accuracy per
    epoch), ``n_features_in_``-like ``input_shape_``, ``device_``.
    """

    def __init__(
        self,
        arch: str = "small_cnn",
        num_classes: int = 10,
        *,
        channels: int = 1,
        input_size: int = 28,
        class_names=None,
        hidden: int | None = None,
        dropout: float | None = None,
        widths=None,
        blocks_per_stage: int | None = None,
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        lr_schedule: str = "cosine",
        step_every: int = 10,
        step_gamma: float = 0.1,
        epochs: int = 10,
        batch_size: int = 128,
        validation_fraction: float = 0.1,
        patience: int | None = 3,
        crop_padding: int = 2,
        horizontal_flip: bool = True,
        normalization=None,
        seed: int = 0,
        num_threads: int | None = None,
        device: str = "auto",
        show_progress: bool = True,
    ):
        self.arch = arch
        self.num_classes = num_classes
        self.channels = channels
        self.input_size = input_size
        self.class_names = class_names
        self.hidden = hidden
        self.dropout = dropout
        self.widths = widths
        self.blocks_per_stage = blocks_per_stage
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.step_every = step_every
        self.step_gamma = step_gamma
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.crop_padding = crop_padding
        self.horizontal_flip = horizontal_flip
        self.normalization = normalization
        self.seed = seed
        self.num_threads = num_threads
        self.device = device
        self.show_progress = show_progress

    _kinds = ("vision.small_cnn", "vision.resnet")
    _label_values = None  # original label values when they were not 0..k-1 ints

    # ---- training -------------------------------------------------------------------

    def _encode_labels(self, labels):
        """(encoded labels, original label values or None, number of classes, class names);
        the constructor's arguments are left as they are."""
        y = np.asarray(labels)
        if y.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {y.shape}")
        if y.dtype.kind in "iu" or (y.dtype.kind == "f" and y.size and np.all(np.mod(y, 1) == 0)):
            return y.astype(np.int64), None, self.num_classes, self.class_names
        # String (or other) labels: classes are the sorted distinct values, or class_names' order.
        values = list(self.class_names) if self.class_names is not None else sorted(set(y.tolist()))
        index = {v: i for i, v in enumerate(values)}
        try:
            encoded = np.fromiter((index[v] for v in y.tolist()), dtype=np.int64, count=len(y))
        except KeyError as e:
            raise ValueError(f"label {e.args[0]!r} is not one of the class names {values}") from None
        names = self.class_names if self.class_names is not None else [str(v) for v in values]
        return encoded, np.asarray(values, dtype=object), len(values), names

    def fit(self, images, labels):
        """Trains on ``images`` (numpy array or list of image paths) with ``labels``.

        Labels are ints in ``0..num_classes`` or any hashable values (then the classes are
        their sorted distinct values, or ``class_names``' order). Training options
        (``epochs``, ``batch_size``, ``validation_fraction``, ...) are the constructor's;
        ``fit`` never changes them. Releases the GIL while training. Returns self.
        """
        x = _pixels(images, self.input_size, self.channels)
        y, label_values, num_classes, class_names = self._encode_labels(labels)
        validation_fraction = float(self.validation_fraction)
        patience = self.patience if validation_fraction > 0 else None
        model = native().NativeClassifier.fit(
            x,
            y,
            arch=self.arch,
            num_classes=int(num_classes),
            channels=int(self.channels),
            size=int(self.input_size),
            hidden=self.hidden,
            widths=None if self.widths is None else [int(w) for w in self.widths],
            blocks_per_stage=self.blocks_per_stage,
            dropout=self.dropout,
            class_names=None if class_names is None else [str(c) for c in class_names],
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            optimizer=self.optimizer,
            learning_rate=float(self.learning_rate),
            momentum=float(self.momentum),
            weight_decay=float(self.weight_decay),
            lr_schedule=self.lr_schedule,
            step_every=int(self.step_every),
            step_gamma=float(self.step_gamma),
            validation_fraction=validation_fraction,
            patience=patience,
            crop_padding=int(self.crop_padding),
            horizontal_flip=bool(self.horizontal_flip),
            normalization=self.normalization,
            seed=int(self.seed),
            num_threads=self.num_threads,
            device=self.device,
            show_progress=bool(self.show_progress),
        )
        self._adopt(model)
        self._label_values = label_values
        return self

    # ---- inference ------------------------------------------------------------------

    def _adopt(self, native_model) -> None:
        self._model = native_model
        self._label_values = None

    def _input(self, images) -> np.ndarray:
        m = self._fitted()
        return _pixels(images, m.input_size, m.channels)

    def predict(self, images) -> np.ndarray:
        """Predicted class per image (int64 indices, or the original label values)."""
        pred = self._fitted().predict(self._input(images))
        return pred if self._label_values is None else self._label_values[pred]

    def predict_names(self, images) -> list[str]:
        """Predicted class name per image."""
        names = self.class_names_
        return [names[i] for i in self._fitted().predict(self._input(images))]

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities ``[N, num_classes]`` (float32, columns in class order)."""
        return self._fitted().predict_proba(self._input(images))

    def embed(self, images) -> np.ndarray:
        """Penultimate-layer activations ``[N, embedding_dim_]`` (float32): what the network
        sees in each picture before the class layer. For similarity between pictures and as
        item features for cold start (``mercato.recommend.ImageFeatures``)."""
        return self._fitted().embed(self._input(images))

    def evaluate(self, images, labels) -> dict:
        """Accuracy, per-class precision/recall/support and confusion matrix.

        Returns a dict: ``accuracy``, ``class_names``, ``precision``, ``recall``, ``support``,
        ``confusion_matrix`` (rows = true class, columns = predicted), ``report`` (text).
        """
        x = self._input(images)
        y = np.asarray(labels)
        if self._label_values is not None:
            index = {v: i for i, v in enumerate(self._label_values.tolist())}
            try:
                y = np.fromiter((index[v] for v in y.tolist()), dtype=np.int64, count=len(y))
            except KeyError as e:
                raise ValueError(f"label {e.args[0]!r} is not a known class") from None
        elif y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and y.size and np.all(np.mod(y, 1) == 0):
                y = y.astype(np.int64)
            else:
                raise ValueError("labels must be integer class indices")
        return self._fitted().evaluate(x, y.astype(np.int64))

    def score(self, images, labels) -> float:
        """Accuracy (scikit-learn protocol)."""
        return float(self.evaluate(images, labels)["accuracy"])

    # ---- fitted attributes ----------------------------------------------------------

    @property
    def class_names_(self) -> list[str]:
        """Class names in label order."""
        return list(self._fitted().class_names)

    @property
    def classes_(self) -> np.ndarray:
        """Label values in column order of ``predict_proba``."""
        if self._label_values is not None:
            return self._label_values
        return np.arange(self._fitted().num_classes)

    @property
    def history_(self) -> dict:
        """Training history: ``epochs`` (per-epoch loss/accuracy dicts), ``best_epoch``, ..."""
        return self._fitted().history

    @property
    def input_shape_(self) -> tuple[int, int, int]:
        """``(channels, size, size)`` the model expects."""
        m = self._fitted()
        return (m.channels, m.input_size, m.input_size)

    @property
    def normalization_(self) -> tuple[list[float], list[float]]:
        """Per-channel (mean, std) on the 0..1 scale."""
        return self._fitted().normalization

    @property
    def embedding_dim_(self) -> int:
        """Length of the vectors ``embed`` returns."""
        return self._fitted().embedding_dim

    @property
    def device_(self) -> str:
        """Device holding the weights."""
        return self._fitted().device

    # ---- persistence ----------------------------------------------------------------

    @classmethod
    def _native_from_bytes(cls, data: bytes):
        return native().NativeClassifier.from_bytes(bytes(data), "auto")

    @classmethod
    def _params_from_native(cls, model) -> dict:
        return dict(
            arch=model.arch,
            num_classes=model.num_classes,
            channels=model.channels,
            input_size=model.input_size,
            class_names=list(model.class_names),
        )

    @classmethod
    def load(cls, path_or_file, device: str = "auto") -> ImageClassifier:
        """Loads a model file of any architecture (a path or a binary file object) onto
        ``device``; a non-vision file raises ModelFormatError."""
        return cls.from_bytes(_read(path_or_file), device)

    @classmethod
    def from_bytes(cls, data: bytes, device: str = "auto") -> ImageClassifier:
        """Reads a model from :meth:`to_bytes` output onto ``device``."""
        model = native().NativeClassifier.from_bytes(bytes(data), device)
        obj = cls(**cls._params_from_native(model), device=device)
        obj._adopt(model)
        return obj

    @classmethod
    def pretrained(cls, name: str = "fashion_mnist", device: str = "auto") -> ImageClassifier:
        """A shipped model: ``"fashion_mnist"`` (small CNN, models/fashion_cnn.md).

        Looked up in ``$MERCATO_MODELS``, then the ``models/`` folder of the source checkout
        the extension was built from.
        """
        return cls.load(native().pretrained_path(name), device)

    def __reduce__(self):
        data = None if self._model is None else self.to_bytes()
        labels = None if self._label_values is None else self._label_values.tolist()
        return (_restore, (self.get_params(deep=False), data, labels))


def _restore(params: dict, data, label_values) -> ImageClassifier:
    if data is None:
        return ImageClassifier(**params)
    obj = ImageClassifier.from_bytes(data, params.get("device", "auto"))
    obj.set_params(**params)
    obj._label_values = None if label_values is None else np.asarray(label_values, dtype=object)
    return obj
