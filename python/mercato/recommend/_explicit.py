"""Explicit-rating recommenders: ``Baseline``, ``FunkSVD``, ``SVDpp`` and ``KNN``.

All four share one interface (Surprise's models, scikit-learn's conventions)::

    model = FunkSVD(factors=100).fit(users, items, ratings)   # or .fit(df)
    model.predict(users, items)           # float64 ratings, clipped to the rating scale
    model.recommend(user, N=10)           # (item ids, predicted ratings), best first
    model.save("m.mercato"); FunkSVD.load("m.mercato"); pickle.dumps(model)

Ids may be integers or strings; requests whose ids are all of the other type than the fit's
(ints for a model fitted on strings, or the reverse) can never match and warn. Users or
items unseen in training get the baseline fallback (``mu + b_i``, ``mu + b_u`` or ``mu``);
``predict(..., return_status=True)`` also returns a status per pair (see ``STATUS``). Bad
input (NaN/inf ratings, ratings outside a declared ``rating_scale``, empty input, duplicated
(user, item) pairs, unknown hyper-parameter values, use before ``fit``) raises
``ValueError``.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from mercato._base import Estimator, params_json
from mercato._mercato import recommend as _rs

__all__ = ["STATUS", "Baseline", "FunkSVD", "KNN", "SVDpp"]

#: Meaning of the status codes returned by ``predict(..., return_status=True)``.
STATUS = {
    0: "model",
    1: "unknown_user",
    2: "unknown_item",
    3: "unknown_user_and_item",
    4: "too_few_neighbours",
}


def _id_kind(ids: Any) -> str:
    """'int', 'str', 'mixed' or 'empty' for ids as ``_ids`` returns them (or one id)."""
    if isinstance(ids, np.ndarray):
        return "int" if ids.size else "empty"
    if isinstance(ids, (str, int, np.integer)):
        ids = [ids]
    kinds = {"str" if isinstance(v, str) else "int" for v in ids}
    return kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "empty")


def _warn_on_id_kind(model: Any, users: Any, items: Any) -> None:
    """Warns when request ids are all of the type the model was *not* fitted on: none can
    match, so every answer would silently be a fallback."""
    fitted = model.id_kinds()
    for ids, kind, what in ((users, fitted[0], "user"), (items, fitted[1], "item")):
        got = None if ids is None else _id_kind(ids)
        if kind in ("int", "str") and got in ("int", "str") and got != kind:
            warnings.warn(
                f"the model was fitted on {kind} {what} ids and these are {got}s: none can match, so every "
                f"answer is the unknown-{what} fallback (convert the ids, e.g. with .astype({kind}))",
                UserWarning,
                stacklevel=3,
            )


def _ids(values: Any) -> Any:
    """Ids as an int64 array when integral (uint64 when values pass int64's maximum), else
    a list of Python ints/strs; ``[]`` when empty."""
    if isinstance(values, (list, tuple)):
        # Keep mixed lists as they are: numpy would turn [1, "a"] into ["1", "a"].
        return [v.item() if isinstance(v, np.generic) else v for v in values]
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        # An empty column has no ids whatever its dtype (an empty DataFrame's columns are
        # often float64): treat it as the empty list, so fit says "empty input" and
        # predict returns an empty array, not a misleading dtype error.
        return []
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and arr.max() > np.iinfo(np.int64).max:
        # astype(int64) would wrap ids from 2**63 to negative numbers; the bindings read a
        # uint64 array as such and keep every value (as the implicit models do).
        return arr
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "b" or arr.dtype.kind == "f":
        raise ValueError(f"ids must be integers or strings, got dtype {arr.dtype}")
    return arr.tolist()


def _scale(rating_scale: Any) -> Any:
    if rating_scale is None:
        return "Auto"
    lo, hi = rating_scale
    return {"Fixed": [float(lo), float(hi)]}


def _fitted_attr(name: str, doc: str = "") -> property:
    """A read-only property for the fitted attribute ``name`` (ValueError before fit)."""
    return property(lambda self: self._attr(name), doc=doc or f"Fitted {name.replace('_', ' ')}.")


def _unscale(scale: Any) -> Any:
    """Inverse of ``_scale``: the Rust rating scale as the ``rating_scale`` argument."""
    return None if scale == "Auto" else tuple(scale["Fixed"])


class _ExplicitModel(Estimator):
    _kind = ""

    def _rust_params(self) -> dict:
        """Hyper-parameters as the Rust side names them; models whose names differ override this."""
        p = self.get_params(deep=False)
        p["scale"] = _scale(p.pop("rating_scale"))
        return p

    @classmethod
    def _params_from_rust(cls, rust: dict) -> dict:
        """Inverse of ``_rust_params``: constructor arguments from a fitted model's parameters."""
        p = dict(rust)
        p["rating_scale"] = _unscale(p.pop("scale"))
        return p

    # -- fit / predict ----------------------------------------------------------------
    def fit(
        self,
        users: Any,
        items: Any = None,
        ratings: Any = None,
        *,
        user_col: str = "user",
        item_col: str = "item",
        rating_col: str = "rating",
    ):
        """Fits on ``(users, items, ratings)`` arrays, or on a pandas DataFrame passed as
        ``users`` with columns ``user_col``, ``item_col``, ``rating_col``. Returns self."""
        if items is None and ratings is None and hasattr(users, "columns"):
            df = users
            missing = [c for c in (user_col, item_col, rating_col) if c not in df.columns]
            if missing:
                raise ValueError(f"DataFrame lacks column(s) {missing}; has {list(df.columns)}")
            users, items, ratings = df[user_col].to_numpy(), df[item_col].to_numpy(), df[rating_col].to_numpy()
        if items is None or ratings is None:
            raise ValueError("fit needs users, items and ratings (or a DataFrame)")
        try:
            r = np.asarray(ratings, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"ratings must be numbers: {e}") from None
        if r.ndim != 1:
            raise ValueError(f"ratings must be one-dimensional, got shape {r.shape}")
        params = params_json(self._rust_params())
        self._adopt(_rs._fit_explicit(self._kind, _ids(users), _ids(items), r, params))
        return self

    def _adopt(self, native) -> None:
        self._model = native
        self._attrs = None

    def predict(self, users: Any, items: Any = None, *, return_status: bool = False, user_col="user", item_col="item"):
        """Predicted ratings (float64) for paired ``users`` and ``items`` (or a DataFrame).
        With ``return_status`` also a uint8 array of ``STATUS`` codes."""
        model = self._fitted()
        if items is None and hasattr(users, "columns"):
            users, items = users[user_col].to_numpy(), users[item_col].to_numpy()
        if items is None:
            raise ValueError("predict needs users and items")
        users, items = _ids(users), _ids(items)
        _warn_on_id_kind(model, users, items)
        values, status = model.predict(users, items)
        return (values, status) if return_status else values

    def recommend(self, user: Any, N: int = 10, *, exclude_rated: bool = True, items: Any = None, deny: Any = None):
        """The ``N`` items with the highest predicted rating for ``user``: (item ids, ratings).
        ``items`` restricts the candidates, ``deny`` removes some; rated items are left out
        unless ``exclude_rated=False``. Unknown users get the baseline ranking."""
        model = self._fitted()
        if isinstance(user, np.generic):
            user = user.item()
        allow = None if items is None else _ids(items)
        denied = None if deny is None else _ids(deny)
        _warn_on_id_kind(model, user, allow)
        return model.recommend(user, int(N), exclude_rated, allow, denied)

    # -- fitted attributes --------------------------------------------------------------
    def _attr(self, name: str):
        if getattr(self, "_attrs", None) is None:
            self._attrs = self._fitted().attributes()
        if name not in self._attrs:
            raise AttributeError(f"{type(self).__name__} has no fitted attribute {name!r}")
        return self._attrs[name]

    user_ids_ = _fitted_attr("user_ids", "Training user ids, in index order.")
    item_ids_ = _fitted_attr("item_ids", "Training item ids, in index order.")
    rating_scale_ = _fitted_attr("rating_scale", "(low, high) the predictions are clipped to.")

    # -- persistence (the checked model format, see mercato._base) -------------------------
    @classmethod
    def _native_from_bytes(cls, data: bytes):
        return _rs._ExplicitModel._from_bytes(data)

    @classmethod
    def _params_from_native(cls, native) -> dict:
        """The hyper-parameters the model was fitted with (``get_params`` and ``repr`` show them)."""
        restored = cls._params_from_rust(json.loads(native.params_json()))
        names = set(cls._get_param_names())
        return {k: v for k, v in restored.items() if k in names}


class Baseline(_ExplicitModel):
    """Koren's baseline ``mu + b_u + b_i`` (Surprise's ``BaselineOnly``), fitted by ALS
    (``reg_item``, ``reg_user``) or SGD (``lr``, ``reg``). Defaults tuned on an inner split
    of MovieLens-100k ``u1.base``."""

    _kind = "baseline"
    _kinds = ("recommend.baseline",)

    def __init__(
        self,
        method: str = "als",
        epochs: int = 20,
        reg_item: float = 3.0,
        reg_user: float = 5.0,
        lr: float = 0.005,
        reg: float = 0.02,
        rating_scale: tuple[float, float] | None = None,
    ) -> None:
        self.method = method
        self.epochs = epochs
        self.reg_item = reg_item
        self.reg_user = reg_user
        self.lr = lr
        self.reg = reg
        self.rating_scale = rating_scale

    def _rust_params(self) -> dict:
        p = self.get_params(deep=False)
        if p["method"] == "als":
            method: Any = "Als"
        elif p["method"] == "sgd":
            method = {"Sgd": {"lr": float(p["lr"]), "reg": float(p["reg"])}}
        else:
            raise ValueError(f"method must be 'als' or 'sgd', got {p['method']!r}")
        return {
            "method": method,
            "epochs": int(p["epochs"]),
            "reg_item": float(p["reg_item"]),
            "reg_user": float(p["reg_user"]),
            "scale": _scale(p["rating_scale"]),
        }

    @classmethod
    def _params_from_rust(cls, rust: dict) -> dict:
        p = {k: rust[k] for k in ("epochs", "reg_item", "reg_user")}
        p["rating_scale"] = _unscale(rust["scale"])
        if rust["method"] == "Als":
            p["method"] = "als"
        else:
            p.update(method="sgd", **rust["method"]["Sgd"])
        return p

    global_mean_ = _fitted_attr("global_mean", "Global mean rating.")
    user_bias_ = _fitted_attr("user_bias", "User biases, in ``user_ids_`` order.")
    item_bias_ = _fitted_attr("item_bias", "Item biases, in ``item_ids_`` order.")


class FunkSVD(_ExplicitModel):
    """Biased matrix factorisation trained by SGD (Surprise's ``SVD``):
    ``mu + b_u + b_i + p_u . q_i``.

    Parallel and deterministic: the ratings are cut into ``blocks x blocks`` user x item
    blocks and each epoch runs ``blocks`` strata of mutually independent blocks in
    parallel, so the result depends on ``seed`` (and ``blocks``) only, never on
    ``num_threads``. ``blocks=None`` picks the grid from the data size alone (4 for
    MovieLens-100k, up to 16 from a million ratings). ``factors`` may not exceed
    ``min(n_users, n_items)``. ``validation_fraction > 0`` holds ratings out for early
    stopping (``patience``). Defaults were tuned on an inner split of MovieLens-100k
    ``u1.base`` (see the Rust docs of ``FunkSVDParams``).
    """

    _kind = "funk_svd"
    _kinds = ("recommend.funk_svd",)

    def __init__(
        self,
        factors: int = 32,
        epochs: int = 15,
        lr: float = 0.07,
        lr_decay: float = 0.88,
        reg: float = 0.1,
        reg_bias: float = 0.02,
        init_std: float = 0.05,
        biased: bool = True,
        blocks: int | None = None,
        validation_fraction: float = 0.0,
        patience: int = 3,
        rating_scale: tuple[float, float] | None = None,
        seed: int = 0,
        num_threads: int | None = None,
    ) -> None:
        self.factors = factors
        self.epochs = epochs
        self.lr = lr
        self.lr_decay = lr_decay
        self.reg = reg
        self.reg_bias = reg_bias
        self.init_std = init_std
        self.biased = biased
        self.blocks = blocks
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.rating_scale = rating_scale
        self.seed = seed
        self.num_threads = num_threads

    global_mean_ = _fitted_attr("global_mean", "Global mean rating.")
    user_bias_ = _fitted_attr("user_bias", "User biases, in ``user_ids_`` order.")
    item_bias_ = _fitted_attr("item_bias", "Item biases, in ``item_ids_`` order.")

    user_factors_ = _fitted_attr("user_factors", "User factors, n_users x factors (float32).")
    item_factors_ = _fitted_attr("item_factors", "Item factors, n_items x factors (float32).")

    @property
    def history_(self) -> dict:
        """Training RMSE per epoch, validation RMSE per epoch and the kept epoch."""
        return {k: self._attr(k) for k in ("train_rmse", "validation_rmse", "best_epoch")}


class SVDpp(_ExplicitModel):
    """SVD++ (Koren 2008): biased MF plus the implicit feedback of which items each user
    rated. Trained by per-user SGD on one thread (exactly reproducible from ``seed``)."""

    _kind = "svdpp"
    _kinds = ("recommend.svdpp",)

    def __init__(
        self,
        factors: int = 50,
        epochs: int = 30,
        lr: float = 0.007,
        lr_decay: float = 0.95,
        reg: float = 0.08,
        reg_bias: float = 0.02,
        reg_implicit: float = 0.1,
        init_std: float = 0.05,
        rating_scale: tuple[float, float] | None = None,
        seed: int = 0,
        num_threads: int | None = None,
    ) -> None:
        self.factors = factors
        self.epochs = epochs
        self.lr = lr
        self.lr_decay = lr_decay
        self.reg = reg
        self.reg_bias = reg_bias
        self.reg_implicit = reg_implicit
        self.init_std = init_std
        self.rating_scale = rating_scale
        self.seed = seed
        self.num_threads = num_threads

    user_factors_ = _fitted_attr("user_factors", "User factors, n_users x factors (float32).")
    item_factors_ = _fitted_attr("item_factors", "Item factors, n_items x factors (float32).")

    implicit_factors_ = _fitted_attr("implicit_factors", "Implicit-feedback factors y_j, n_items x factors.")


_SIMILARITIES = {"cosine": "Cosine", "pearson": "Pearson", "pearson_baseline": "PearsonBaseline", "msd": "Msd"}
_VARIANTS = {"basic": "Basic", "means": "WithMeans", "zscore": "WithZScore", "baseline": "WithBaseline"}


class KNN(_ExplicitModel):
    """Neighbourhood model, user- or item-based (Surprise's ``KNNBasic`` / ``KNNWithMeans``
    / ``KNNWithZScore`` / ``KNNBaseline`` via ``variant`` = ``"basic"`` / ``"means"`` /
    ``"zscore"`` / ``"baseline"``), ``similarity`` in ``"cosine"``, ``"pearson"``,
    ``"pearson_baseline"``, ``"msd"``. Similarities are computed sparsely in parallel;
    ``max_neighbours`` bounds the stored lists (memory ``n x max_neighbours``)."""

    _kind = "knn"
    _kinds = ("recommend.knn",)

    def __init__(
        self,
        k: int = 40,
        min_k: int = 1,
        similarity: str = "pearson_baseline",
        variant: str = "baseline",
        user_based: bool = False,
        shrinkage: float = 100.0,
        min_support: int = 1,
        damping: float = 0.5,
        amplify: float = 1.0,
        max_neighbours: int | None = None,
        baseline_epochs: int = 20,
        baseline_reg_item: float = 3.0,
        baseline_reg_user: float = 5.0,
        rating_scale: tuple[float, float] | None = None,
        num_threads: int | None = None,
    ) -> None:
        self.k = k
        self.min_k = min_k
        self.similarity = similarity
        self.variant = variant
        self.user_based = user_based
        self.shrinkage = shrinkage
        self.min_support = min_support
        self.damping = damping
        self.amplify = amplify
        self.max_neighbours = max_neighbours
        self.baseline_epochs = baseline_epochs
        self.baseline_reg_item = baseline_reg_item
        self.baseline_reg_user = baseline_reg_user
        self.rating_scale = rating_scale
        self.num_threads = num_threads

    def _rust_params(self) -> dict:
        p = self.get_params(deep=False)
        if p["similarity"] not in _SIMILARITIES:
            raise ValueError(f"similarity must be one of {sorted(_SIMILARITIES)}, got {p['similarity']!r}")
        if p["variant"] not in _VARIANTS:
            raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {p['variant']!r}")
        scale = _scale(p.pop("rating_scale"))
        return {
            "user_based": bool(p["user_based"]),
            "similarity": _SIMILARITIES[p["similarity"]],
            "variant": _VARIANTS[p["variant"]],
            "k": int(p["k"]),
            "min_k": int(p["min_k"]),
            "shrinkage": float(p["shrinkage"]),
            "min_support": int(p["min_support"]),
            "damping": float(p["damping"]),
            "amplify": float(p["amplify"]),
            "max_neighbours": p["max_neighbours"],
            "baseline": {
                "method": "Als",
                "epochs": int(p["baseline_epochs"]),
                "reg_item": float(p["baseline_reg_item"]),
                "reg_user": float(p["baseline_reg_user"]),
                "scale": scale,
            },
            "scale": scale,
            "num_threads": p["num_threads"],
        }

    @classmethod
    def _params_from_rust(cls, rust: dict) -> dict:
        p = dict(rust)
        baseline = p.pop("baseline")
        p["similarity"] = {v: k for k, v in _SIMILARITIES.items()}[p["similarity"]]
        p["variant"] = {v: k for k, v in _VARIANTS.items()}[p["variant"]]
        p["rating_scale"] = _unscale(p.pop("scale"))
        p.update(
            baseline_epochs=baseline["epochs"],
            baseline_reg_item=baseline["reg_item"],
            baseline_reg_user=baseline["reg_user"],
        )
        return p

    user_bias_ = _fitted_attr("user_bias", "User biases of the kNN baseline.")
    item_bias_ = _fitted_attr("item_bias", "Item biases of the kNN baseline.")

    @property
    def n_neighbours_(self) -> int:
        return self._attr("n_neighbours")
