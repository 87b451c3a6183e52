"""Prices from fitted demand models.

::

    from mercato.pricing import optimal_price, PriceOptimizer
    optimal_price(-2.5, unit_cost=4.0)                # 6.667 = c·ε/(1+ε)
    design = Design(["log(price)", "C(brand)", "log(price):C(brand)", "promo"])
    model = LinearRegression().fit(design.fit_transform(df), np.log(df["sales"]))
    row = lambda p: design.transform(pd.DataFrame({"price": [p], "brand": ["b"], "promo": [0]}))
    opt = PriceOptimizer(model, row, unit_cost=4.0, bounds=(3, 20), current_price=8, max_change=0.25)
    opt.optimize()     # {"price", "lower", "upper", "demand", "revenue", "profit", "at_bound"}
    opt.curve(np.linspace(3, 20, 50))   # DataFrame: price, demand (+ bands), revenue, profit

``row(price)`` returns the model's design row at that price for the product or segment, so
interactions (price × brand) and other fixed features are handled: the demand curve is read
from the fitted coefficients as ``ln q = a + b·ln p`` (``demand="loglog"``, ``b`` is the
elasticity) or ``q = a + b·p`` (``demand="linear"``), with the covariance of ``(a, b)`` from
the model's ``cov_params_`` for delta-method or parametric-bootstrap intervals.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

import numpy as np

from mercato._mercato import pricing as _native

__all__ = ["PriceOptimizer", "optimal_price"]


def optimal_price(
    elasticity: float, unit_cost: float, min_price: float | None = None, max_price: float | None = None
) -> float:
    """Profit-maximising price under constant elasticity: ``c·ε/(1+ε)`` clipped to the bounds.

    For ``ε ≥ −1`` profit rises with price: the answer is ``max_price`` and a ``ValueError``
    when none is given.
    """
    return _native.optimal_price(float(elasticity), float(unit_cost), min_price, max_price)


class PriceOptimizer:
    """Maximises expected profit (or revenue) over price for one product/segment.

    Parameters
    ----------
    model : a fitted ``mercato.regression.LinearRegression`` of (log) demand.
    row : ``row(price)`` -> the model's design row (1 x k array or DataFrame) at that price.
    unit_cost : cost per unit (ignored for ``objective="revenue"``).
    bounds : ``(min_price, max_price)``, either may be None.
    current_price, max_change : limit the move to ``current_price·(1 ± max_change)``.
    demand : ``"loglog"`` (model of log demand on log price) or ``"linear"``.
    objective : ``"profit"`` or ``"revenue"``.
    interval : ``"delta"`` or ``"bootstrap"`` (``n_boot`` draws, ``seed``); level ``1 - alpha``.
    """

    def __init__(
        self,
        model: Any,
        row: Callable[[float], Any],
        unit_cost: float,
        bounds: tuple[float | None, float | None] = (None, None),
        current_price: float | None = None,
        max_change: float | None = None,
        demand: str = "loglog",
        objective: str = "profit",
        interval: str = "delta",
        n_boot: int = 1000,
        seed: int = 0,
        alpha: float = 0.05,
    ):
        self.model = model
        self.row = row
        self.unit_cost = unit_cost
        self.bounds = bounds
        self.current_price = current_price
        self.max_change = max_change
        self.demand = demand
        self.objective = objective
        self.interval = interval
        self.n_boot = n_boot
        self.seed = seed
        self.alpha = alpha

    def _design_row(self, price: float) -> np.ndarray:
        r = self.row(price)
        if hasattr(r, "to_numpy"):
            r = r.to_numpy(dtype=np.float64)
        r = np.asarray(r, dtype=np.float64).reshape(-1)
        if r.shape[0] != self.model.n_features_in_:
            raise ValueError(f"row(price) gave {r.shape[0]} values, the model has {self.model.n_features_in_} features")
        lead = [1.0] if self.model.fit_intercept else []
        return np.concatenate([lead, r])

    def demand_curve(self) -> dict[str, Any]:
        """The fitted curve ``(a, b)`` and their covariance at this product's other features."""
        if self.demand not in ("loglog", "linear"):
            raise ValueError(f"demand must be 'loglog' or 'linear', got {self.demand!r}")
        if not hasattr(self.model, "cov_params_"):
            raise ValueError(
                "the demand model must be a fitted LinearRegression (not Ridge): intervals need cov_params_"
            )
        # The design is affine in ln p (or p): two evaluations give level and slope rows.
        p0, p1 = (1.0, math.e) if self.demand == "loglog" else (1.0, 2.0)
        x0, x1 = self._design_row(p0), self._design_row(p1)
        slope = x1 - x0
        level = x0 - slope * (0.0 if self.demand == "loglog" else 1.0)
        if not np.allclose(
            self._design_row(p1 * 1.7), level + slope * (math.log(p1 * 1.7) if self.demand == "loglog" else p1 * 1.7)
        ):
            raise ValueError(
                f"row(price) is not affine in {'log price' if self.demand == 'loglog' else 'price'}: check demand="
            )
        theta, cov = self.model.params_, self.model.cov_params_
        g = np.stack([level, slope])
        c = g @ cov @ g.T
        return {"kind": self.demand, "a": float(level @ theta), "b": float(slope @ theta), "cov": c.tolist()}

    def _params(self) -> str:
        lo, hi = self.bounds
        return json.dumps(
            {
                "unit_cost": float(self.unit_cost),
                "min_price": lo,
                "max_price": hi,
                "current_price": self.current_price,
                "max_change": self.max_change,
                "objective": self.objective,
                "interval": self.interval,
                "n_boot": int(self.n_boot),
                "seed": int(self.seed),
                "alpha": float(self.alpha),
            }
        )

    def optimize(self) -> dict[str, Any]:
        """The optimal price with its interval and expected demand, revenue and profit."""
        return json.loads(_native.optimize_price(self._params(), json.dumps(self.demand_curve())))

    def curve(self, prices: Any):
        """What-if table: price, demand with bands, revenue, profit (a pandas DataFrame)."""
        import pandas as pd

        rows = json.loads(
            _native.price_curve(self._params(), json.dumps(self.demand_curve()), [float(p) for p in prices])
        )
        return pd.DataFrame(rows)
