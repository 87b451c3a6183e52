"""mercato.pricing: the constant-elasticity optimum and PriceOptimizer on a fitted demand model."""

import numpy as np
import pandas as pd
import pytest
from mercato.pricing import PriceOptimizer, optimal_price
from mercato.regression import Design, LinearRegression


def test_optimal_price():
    assert optimal_price(-3.0, 10.0) == pytest.approx(15.0, rel=1e-14)
    assert optimal_price(-3.0, 10.0, max_price=12.0) == 12.0
    assert optimal_price(-0.5, 10.0, max_price=30.0) == 30.0
    with pytest.raises(ValueError, match="max_price"):
        optimal_price(-0.5, 10.0)
    with pytest.raises(ValueError, match="unit_cost"):
        optimal_price(-2.0, -1.0)


def demand_data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    true = {"a": -2.0, "b": -3.0, "c": -1.5}
    brand = rng.choice(list(true), size=n)
    price = np.exp(rng.uniform(np.log(5), np.log(20), size=n))
    promo = rng.integers(0, 2, size=n)
    eps = np.array([true[b] for b in brand])
    log_q = 6.0 + eps * np.log(price) + 0.3 * promo + rng.normal(0, 0.2, size=n)
    return pd.DataFrame({"sales": np.exp(log_q), "price": price, "brand": brand, "promo": promo}), true


def test_price_optimizer_on_fitted_log_log_model():
    df, true = demand_data()
    design = Design(["log(price)", "C(brand)", "log(price):C(brand)", "promo"])
    model = LinearRegression().fit(design.fit_transform(df), np.log(df["sales"]))
    names = model.param_names_
    elasticity = {
        "a": model.params_[names.index("log(price)")],
        "b": model.params_[names.index("log(price)")] + model.params_[names.index("log(price):C(brand)[T.b]")],
    }
    for b in ("a", "b"):
        assert elasticity[b] == pytest.approx(true[b], abs=0.05)

    def row(brand):
        return lambda p: design.transform(pd.DataFrame({"price": [p], "brand": [brand], "promo": [0], "sales": [1.0]}))

    opt = PriceOptimizer(model, row("b"), unit_cost=4.0, bounds=(1.0, 50.0))
    curve = opt.demand_curve()
    assert curve["b"] == pytest.approx(elasticity["b"], rel=1e-12)
    r = opt.optimize()
    assert r["price"] == pytest.approx(optimal_price(elasticity["b"], 4.0), rel=1e-12)
    assert r["lower"] < r["price"] < r["upper"]
    boot = PriceOptimizer(model, row("b"), unit_cost=4.0, bounds=(1.0, 50.0), interval="bootstrap", seed=1).optimize()
    assert (
        boot
        == PriceOptimizer(model, row("b"), unit_cost=4.0, bounds=(1.0, 50.0), interval="bootstrap", seed=1).optimize()
    )
    assert boot["lower"] < r["price"] < boot["upper"]
    # Brand a is elastic at exactly -2 only in expectation; with max_change the move is capped.
    capped = PriceOptimizer(model, row("a"), unit_cost=4.0, current_price=10.0, max_change=0.1).optimize()
    assert 9.0 <= capped["price"] <= 11.0
    # Brand c (ε = -1.5): the what-if curve peaks near the optimum.
    opt_c = PriceOptimizer(model, row("c"), unit_cost=4.0, bounds=(1.0, 50.0))
    table = opt_c.curve(np.linspace(5, 30, 251))
    assert list(table.columns) == ["price", "demand", "demand_lower", "demand_upper", "revenue", "profit"]
    best = table["price"][table["profit"].idxmax()]
    assert best == pytest.approx(opt_c.optimize()["price"], abs=0.2)
    assert (table["demand_lower"] < table["demand"]).all() and (table["demand"] < table["demand_upper"]).all()


def test_price_optimizer_rejects_bad_settings():
    df, _ = demand_data(n=500)
    design = Design(["log(price)", "promo"])
    model = LinearRegression().fit(design.fit_transform(df), np.log(df["sales"]))

    def row(p):
        return design.transform(pd.DataFrame({"price": [p], "promo": [0]}))

    with pytest.raises(ValueError, match="current_price"):
        PriceOptimizer(model, row, unit_cost=1.0, max_change=0.1).optimize()
    with pytest.raises(ValueError, match="affine"):
        PriceOptimizer(model, row, unit_cost=1.0, demand="linear").optimize()
    with pytest.raises(ValueError, match="objective|unknown variant"):
        PriceOptimizer(model, row, unit_cost=1.0, objective="volume").optimize()
