from typing import Any, Callable

import pandas as pd

__all__ = ["PriceOptimizer", "optimal_price"]

def optimal_price(
    elasticity: float, unit_cost: float, min_price: float | None = None, max_price: float | None = None
) -> float: ...

class PriceOptimizer:
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
    ) -> None: ...
    def demand_curve(self) -> dict[str, Any]: ...
    def optimize(self) -> dict[str, Any]: ...
    def curve(self, prices: Any) -> pd.DataFrame: ...
