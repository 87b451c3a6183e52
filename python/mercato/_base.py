"""The one base class of every mercato estimator.

It follows scikit-learn's estimator contract, so ``sklearn.base.clone``, ``Pipeline`` and
``GridSearchCV`` work on every model:

- ``__init__`` only stores its arguments, under their own names; ``get_params``,
  ``set_params`` and ``repr`` are derived from its signature;
- a fitted model lives in ``self._model`` (a native object); ``_fitted()`` is the one check;
- ``to_bytes`` / ``from_bytes``, ``save`` / ``load`` (paths or binary file objects) and
  pickling all go through mercato's checked model format: loading validates every byte and
  never executes code;
- hyper-parameters cross into Rust one way: ``_rust_params()`` returns a dict, sent as JSON
  and deserialised by serde into the Rust ``...Params`` struct, which validates it
  (an ``InvalidParameter`` error there becomes a ``ValueError`` naming the parameter).

``mercato.load(path_or_bytes)`` returns an estimator of the right class for any model file.
"""

from __future__ import annotations

import inspect
import io
import json
import math
import numbers
import os
import tempfile
from typing import Any, ClassVar

from mercato._mercato import peek_kind as _peek_kind
from mercato._mercato import unfitted_from_bytes as _unfitted_from_bytes_native
from mercato._mercato import unfitted_to_bytes as _unfitted_to_bytes

__all__ = ["Estimator", "NotFittedError", "ParameterWarning", "UnknownIdError", "load"]


def params_json(params: dict[str, Any]) -> str:
    """Hyper-parameters as the JSON object the Rust ``...Params`` structs read: numpy scalars
    become Python numbers; NaN/inf is refused here, naming the parameter (JSON cannot carry
    it, so serde would only report a position)."""

    def plain(name: str, v: Any) -> Any:
        if hasattr(v, "item") and not isinstance(v, (str, bytes)) and getattr(v, "ndim", 1) == 0:
            v = v.item()  # numpy scalar
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"invalid parameter `{name}`: must be a finite number, got {v}")
        if isinstance(v, dict):
            return {k: plain(name, x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(name, x) for x in v]
        return v

    return json.dumps({k: plain(k, v) for k, v in params.items()}, allow_nan=False)


def as_matrix(X: Any, what: str = "X", hint: str = "", dtype: Any = None) -> tuple[Any, list[str] | None]:
    """A 2-D numpy array (float64 unless ``dtype`` says otherwise) from an array-like or a
    DataFrame (its column names returned beside), ``ValueError`` naming ``what`` otherwise.
    C- and Fortran-ordered arrays (``DataFrame.to_numpy`` gives the latter) pass uncopied: the
    core reads either in memory order, and a transposing copy would cost more than a
    column-wise fit."""
    import numpy as np

    dtype = np.float64 if dtype is None else dtype
    names = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # pandas DataFrame
        names = [str(c) for c in X.columns]
        try:
            X = X.to_numpy(dtype=dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{what} must hold numeric columns{hint}: {e}") from None
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be numeric: {e}") from None
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (rows x features), got {arr.ndim}-D")
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr = np.ascontiguousarray(arr)
    return arr, names


def choice(name: str, value: Any, options: dict[str, Any]) -> Any:
    """The Rust spelling of a string option, or a ``ValueError`` naming the parameter."""
    if isinstance(value, str) and value in options:
        return options[value]
    raise ValueError(f"invalid parameter `{name}`: must be one of {sorted(options)}, got {value!r}")


def threads(value: Any) -> int | None:
    """``num_threads``: ``None`` or 0 = all cores (implicit's convention), else a positive int."""
    if value is None or (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value == 0):
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"invalid parameter `num_threads`: must be None or a non-negative integer, got {value!r}")
    return int(value)


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit`` (also a ``ValueError``
    and an ``AttributeError``, like scikit-learn's ``NotFittedError``)."""


class UnknownIdError(KeyError, IndexError):
    """An id the model does not have: a ``KeyError`` (mercato's convention for ids) and an
    ``IndexError`` (implicit's, for item lists)."""


class ParameterWarning(UserWarning):
    """An argument was converted, or a value will not be used as a peer library would use it
    (implicit's ``implicit.utils.ParameterWarning``)."""


# model-file kind -> estimator class, filled by Estimator.__init_subclass__
_REGISTRY: dict[str, type[Estimator]] = {}


class Estimator:
    """Base class of every mercato estimator (see the module docstring)."""

    #: Model-file kinds this class loads (``"recommend.als"``, ``"fraud.ecod"``, ...).
    _kinds: ClassVar[tuple[str, ...]] = ()
    _model: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for kind in cls.__dict__.get("_kinds", ()):
            _REGISTRY[kind] = cls

    # --- parameters (scikit-learn's contract) -------------------------------------------
    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        sig = inspect.signature(init)
        names = []
        for p in sig.parameters.values():
            if p.name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            names.append(p.name)
        return sorted(names)

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        sig = inspect.signature(cls.__init__)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.name != "self" and p.default is not inspect.Parameter.empty
        }

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments by name (with ``deep``, nested estimators' too, as
        ``name__param``)."""
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Estimator:
        """Sets constructor arguments (``name__param`` reaches into a nested estimator); they
        take effect at the next ``fit``. Returns self."""
        valid = set(self._get_param_names())
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {name!r}; its parameters are {sorted(valid)}"
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        # Only the arguments that differ from their defaults, as scikit-learn prints them.
        defaults = self._defaults()
        shown = []
        for name in self._get_param_names():
            value = getattr(self, name, None)
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = default is not inspect.Parameter.empty and bool(value == default)
            except (TypeError, ValueError):  # arrays and the like compare elementwise
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # --- the fitted model ---------------------------------------------------------------
    def _fitted(self) -> Any:
        """The native model; ``NotFittedError`` before ``fit``."""
        if self._model is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")
        return self._model

    def __sklearn_is_fitted__(self) -> bool:
        return self._model is not None

    def _adopt(self, native: Any) -> None:
        """Takes a fitted native model (from ``fit`` or a model file) and sets the fitted
        attributes derived from it. Subclasses extend it."""
        self._model = native

    # --- the checked model format: the one way out and back in ------------------------
    @classmethod
    def _native_from_bytes(cls, data: bytes) -> Any:
        """The native model from model-file bytes (validated by the Rust reader)."""
        raise NotImplementedError

    @classmethod
    def _class_for_native(cls, native: Any) -> type[Estimator]:
        """The class for a loaded model, when one file kind serves several classes."""
        return cls

    @classmethod
    def _params_from_native(cls, native: Any) -> dict[str, Any]:
        """Constructor arguments recovered from a loaded model (defaults where the file does
        not record them)."""
        return {}

    def to_bytes(self) -> bytes:
        """The model in mercato's checked format (what ``save`` writes). Before ``fit`` it
        holds the constructor arguments only, and loads back as the same unfitted estimator
        (as implicit saves unfitted models); arguments that are not plain data (numbers,
        strings, lists; e.g. the detectors of an unfitted ``Ensemble``) raise
        ``NotFittedError``: fit first."""
        if self._model is not None:
            return bytes(self._model.to_bytes())
        if not self._kinds:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")
        params = self.get_params(deep=False)
        try:
            payload = json.dumps({"class": type(self).__name__, "params": params}, allow_nan=False)
        except (TypeError, ValueError):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted and its arguments are not plain data: fit it before saving"
            ) from None
        return bytes(_unfitted_to_bytes(self._kinds[0], payload))

    @classmethod
    def from_bytes(cls, data: bytes) -> Estimator:
        """An estimator from ``to_bytes`` output. On a subclass, a file of another kind is a
        ``ValueError``; ``Estimator.from_bytes`` (and ``mercato.load``) picks the class."""
        data = bytes(data)
        kind = _peek_kind(data)
        if kind == "unfitted":
            return cls._unfitted_from_bytes(data)
        base = _class_for(kind)

        def check(target: type[Estimator]) -> None:
            if cls is not Estimator and not (issubclass(target, cls) or issubclass(cls, target)):
                raise ValueError(f"the model file holds a {kind!r} model, not a {cls.__name__}")

        check(base)
        native = base._native_from_bytes(data)
        target = base._class_for_native(native)
        if cls is not Estimator and not issubclass(target, cls):
            raise ValueError(f"the model file holds a {target.__name__} ({kind!r}), not a {cls.__name__}")
        obj = target(**target._params_from_native(native))
        obj._adopt(native)
        return obj

    @classmethod
    def _unfitted_from_bytes(cls, data: bytes) -> Estimator:
        kind, payload = _unfitted_from_bytes_native(data)
        record = json.loads(payload)
        base = _class_for(kind)
        # one kind may serve several classes (ECOD/COPOD): the file names the class
        family = [c for c in _subclasses(base) if c.__name__ == record.get("class")] or [base]
        target = family[0]
        if cls is not Estimator and not issubclass(target, cls):
            raise ValueError(f"the model file holds an unfitted {target.__name__}, not a {cls.__name__}")
        return target(**record.get("params", {}))

    def save(self, path_or_file: Any) -> None:
        """Writes the fitted model to a path (atomically: a temporary file, then a rename) or
        to a binary file object (``io.BytesIO``, an open file)."""
        data = self.to_bytes()
        if hasattr(path_or_file, "write"):
            if isinstance(path_or_file, io.TextIOBase):
                raise TypeError("save needs a binary file object (open the file with 'wb')")
            path_or_file.write(data)
            return
        if not isinstance(path_or_file, (str, os.PathLike)):
            raise TypeError(f"save takes a path or a binary file object, got {type(path_or_file).__name__}")
        path = os.fspath(path_or_file)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".mercato-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path_or_file: Any) -> Estimator:
        """Reads a model written by ``save`` (a path or a binary file object)."""
        return cls.from_bytes(_read(path_or_file))

    def __reduce__(self):
        blob = None if self._model is None else self.to_bytes()
        return (_restore, (type(self), self.get_params(deep=False), blob))


def _read(path_or_file: Any) -> bytes:
    if hasattr(path_or_file, "read"):
        data = path_or_file.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("load needs a binary file object (open the file with 'rb')")
        return bytes(data)
    if isinstance(path_or_file, (bytes, bytearray, memoryview)):
        return bytes(path_or_file)
    if not isinstance(path_or_file, (str, os.PathLike)):
        raise TypeError(f"load takes a path, bytes or a binary file object, got {type(path_or_file).__name__}")
    with open(path_or_file, "rb") as f:
        return f.read()


def _subclasses(cls: type[Estimator]) -> list[type[Estimator]]:
    """``cls`` and every class derived from it."""
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_subclasses(sub))
    return out


def _class_for(kind: str) -> type[Estimator]:
    if kind not in _REGISTRY and kind.startswith("vision."):
        import mercato.vision  # noqa: F401  (registers the image classifier; needs torch)
    try:
        return _REGISTRY[kind]
    except KeyError:
        from mercato import ModelFormatError

        raise ModelFormatError(f"no mercato estimator reads {kind!r} models") from None


def _restore(cls: type[Estimator], params: dict[str, Any], blob: bytes | None) -> Estimator:
    if blob is None:
        return cls(**params)
    obj = cls.from_bytes(blob)
    # The pickled constructor arguments win over what the file records (e.g. num_threads).
    obj.set_params(**{k: v for k, v in params.items() if k in obj._get_param_names()})
    return obj


def load(path_or_bytes: Any) -> Estimator:
    """Loads any mercato model (a path, bytes or a binary file object) as an estimator of
    the right class: ``mercato.load("model.mercato").recommend(...)``."""
    return Estimator.from_bytes(_read(path_or_bytes))
