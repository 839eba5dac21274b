"""Market agent: the forecast beats the naive last-value forecast on held-out days;
intervals, sentiment by rules, and stored model versions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ai_agents_service import synthetic
from ai_agents_service.domain import HistoryPoint
from ai_agents_service.market import HOLDOUT_DAYS, MarketAgent, validate_and_fit
from ai_agents_service.market_data import MarketData
from ai_agents_service.server import AiAgentsApp
from ipheron_libs.errors import FailedPrecondition, InvalidArgument


def test_forecast_beats_naive_last_value_on_held_out_synthetic_days(report: dict[str, str]) -> None:
    # A market the models never saw (another seed), validated on its last 14 days.
    data = MarketData()
    data.set_history(synthetic.generate(seed=2024, days=120).history_rows(), "synthetic")
    totals = {"sales": [0.0, 0.0], "avg_price": [0.0, 0.0]}
    for asset_type in data.asset_types():
        model = validate_and_fit(asset_type, data.history(asset_type), holdout=HOLDOUT_DAYS)
        for target, fitted in model.targets.items():
            # Price scales differ by type (patents vs literature): compare relative errors.
            scale = max(float(data.history(asset_type)[target].mean()), 1e-9)
            totals[target][0] += fitted.mae / scale
            totals[target][1] += fitted.baseline_mae / scale
    volume_ratio = totals["sales"][0] / totals["sales"][1]
    price_ratio = totals["avg_price"][0] / totals["avg_price"][1]
    report["forecast MAE / naive last-value MAE (volume)"] = f"{volume_ratio:.2f}"
    report["forecast MAE / naive last-value MAE (avg price)"] = f"{price_ratio:.2f}"
    assert volume_ratio < 0.85
    assert price_ratio < 1.0


async def test_forecast_has_n_days_with_intervals_and_sentiment_rules(market_agent: MarketAgent) -> None:
    forecast = await market_agent.forecast("art", 10)
    assert len(forecast.points) == 10
    last = market_agent.market.history("art").index[-1].date()
    assert [p.date for p in forecast.points] == [last + timedelta(days=i + 1) for i in range(10)]
    for p in forecast.points:
        assert p.volume_low <= p.volume <= p.volume_high
        assert p.avg_price_low <= p.avg_price <= p.avg_price_high and p.avg_price > 0
    # Later days carry wider intervals.
    first, tenth = forecast.points[0], forecast.points[-1]
    assert tenth.volume_high - tenth.volume_low > first.volume_high - first.volume_low
    assert forecast.sentiment in ("bullish", "neutral", "bearish")
    assert [r.name.split("-")[0] for r in forecast.rules] == ["history", "volume", "price", "outlook", "sentiment"]
    assert forecast.rules[-1].value == forecast.sentiment


async def test_sentiment_follows_the_indicators(pool: object) -> None:
    rows = []
    from datetime import date
    start = date(2026, 6, 1)
    for d in range(90):
        # Growing sales and prices: every indicator points up.
        rows.append(HistoryPoint(date=(start + timedelta(days=d)).isoformat(), asset_type="video",
                     sales=2 + d // 3, volume="0", avg_price=f"{0.3 + d * 0.01:.2f}"))
    data = MarketData()
    data.set_history(rows, "synthetic")
    agent = MarketAgent(pool, data)  # type: ignore[arg-type]
    agent.train()
    forecast = await agent.forecast("video", 7)
    assert forecast.sentiment == "bullish"
    assert [r.value for r in forecast.rules[1:4]] == ["1", "1", "1"]


async def test_bad_forecast_requests(market_agent: MarketAgent) -> None:
    with pytest.raises(InvalidArgument, match="days"):
        await market_agent.forecast("art", 0)
    with pytest.raises(FailedPrecondition, match="no market model"):
        await market_agent.forecast("unknown-type", 7)


async def test_model_versions_and_validation_errors_are_stored(app: AiAgentsApp) -> None:
    from ipheron_libs.db import run_db

    stored = await run_db(app.repo.latest_models)
    assert set(stored) == set(synthetic.ASSET_TYPES)
    art = stored["art"]
    assert art.version == app.service.market_agent.models["art"].version
    assert art.holdout_days == HOLDOUT_DAYS and art.source == "synthetic"
    assert art.mae_volume < art.baseline_mae_volume
    before = len(stored)
    assert await app.service.retrain() == before  # a retraining adds one new version per type
    again = await run_db(app.repo.latest_models)
    assert again["art"].version != art.version or again["art"].trained_at > art.trained_at
