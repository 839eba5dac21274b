"""Forecast intervals from validated errors: never zero width, wider with the horizon, and a
thin history answers the recent mean with the insufficient-history rule and a wide interval."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from ai_agents_service import synthetic
from ai_agents_service.domain import HistoryPoint
from ai_agents_service.engine import RulePool
from ai_agents_service.market import (
    MIN_DAYS,
    MarketAgent,
    conformal_quantiles,
    horizon_scale,
    interval,
    validate_and_fit,
)
from ai_agents_service.market_data import MarketData


def test_interval_widens_with_the_horizon_and_never_closes() -> None:
    widths = [np.subtract(*reversed(interval(10.0, h, -0.5, 0.7, "sales"))) for h in range(1, 15)]
    assert all(b > a for a, b in zip(widths, widths[1:], strict=False))
    # errors of exactly zero on validation still leave a floor: no claim of certainty
    lo, hi = interval(2.0, 1, 0.0, 0.0, "avg_price")
    assert lo < 2.0 < hi and hi - lo >= 0.04 - 1e-12
    lo, hi = interval(0.0, 1, 0.0, 0.0, "sales")
    assert hi - lo >= 1.0
    assert horizon_scale(1) == 1.0 and horizon_scale(15) == np.sqrt(2)


def test_conformal_quantiles_cover_at_least_the_nominal_share_of_the_sample() -> None:
    scaled = list(np.linspace(-1, 1, 56))
    q10, q90 = conformal_quantiles(scaled)
    inside = sum(1 for z in scaled if q10 <= z <= q90) / len(scaled)
    assert q10 < 0 < q90 and inside >= 0.8


def test_validated_quantiles_come_from_a_time_ordered_backtest() -> None:
    data = MarketData()
    data.set_history(synthetic.generate(seed=3, days=120).history_rows(), "synthetic")
    model = validate_and_fit("music", data.history("music"))
    for target in ("sales", "avg_price"):
        fitted = model.targets[target]
        assert fitted.q10 < 0 < fitted.q90 and fitted.errors == 6 * 14  # six origins x 14 days


def _thin(days: int) -> MarketData:
    start = date(2026, 10, 1)
    rows = [HistoryPoint(date=(start + timedelta(days=d)).isoformat(), asset_type="patent", sales=2 + d % 2,
                         volume="0", avg_price="5.0") for d in range(days)]
    data = MarketData()
    data.set_history(rows, "synthetic")
    return data


async def test_a_thin_history_says_insufficient_history_with_a_wide_interval(pool: RulePool) -> None:
    data = _thin(20)
    agent = MarketAgent(pool, data)
    agent.train()  # too few days: no model is trained
    assert agent.models == {}
    forecast = await agent.forecast("patent", 7)
    assert forecast.insufficient_history and forecast.model is None and forecast.history_days == 20
    rule = forecast.rules[0]
    assert rule.name == "insufficient-history" and f"a model needs {MIN_DAYS}" in rule.explanation
    first, last = forecast.points[0], forecast.points[-1]
    assert first.avg_price == Decimal("5.000000")
    assert first.avg_price_high - first.avg_price_low == Decimal("10.000000")  # +/-100 %: wide on purpose
    assert last.volume_high - last.volume_low > first.volume_high - first.volume_low > 0
    assert forecast.sentiment in ("bullish", "neutral", "bearish")


async def test_enough_history_gives_validated_intervals(pool: RulePool) -> None:
    data = MarketData()
    data.set_history(synthetic.generate(seed=3, days=120).history_rows(), "synthetic")
    agent = MarketAgent(pool, data)
    agent.train()
    forecast = await agent.forecast("art", 14)
    assert not forecast.insufficient_history and forecast.rules[0].name == "history-sufficient"
    assert "back-tested errors" in forecast.interval_method
    for p in forecast.points:
        assert p.volume_low < p.volume < p.volume_high and p.avg_price_low < p.avg_price < p.avg_price_high
    widths = [p.avg_price_high - p.avg_price_low for p in forecast.points]
    assert widths[-1] > widths[0]
