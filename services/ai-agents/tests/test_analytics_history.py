"""Market history from the real analytics service: once it holds enough days (here
the synthetic market pushed through RecordSales), the models train on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from ai_agents_service import synthetic
from ai_agents_service.clients import AnalyticsClient, push_to_analytics
from ai_agents_service.server import AiAgentsApp
from ipheron_libs.db import run_db
from ipheron_libs.testing import fresh_schema


@pytest.fixture(scope="session")
async def analytics_server(pg_admin_url: str) -> AsyncIterator[str]:
    from analytics_service.config import SCHEMA as ANALYTICS_SCHEMA
    from analytics_service.config import Settings as AnalyticsSettings
    from analytics_service.server import MIGRATIONS_DIR, AnalyticsApp

    url = fresh_schema(pg_admin_url, ANALYTICS_SCHEMA, MIGRATIONS_DIR)
    analytics = AnalyticsApp(AnalyticsSettings(consume_events=False, db_pool_size=2), url, redis_url="")
    port = await analytics.start(host="127.0.0.1", port=0)
    yield f"127.0.0.1:{port}"
    await analytics.stop(grace=0.2)


async def test_models_train_on_analytics_history_once_it_has_enough_days(
        app: AiAgentsApp, analytics_server: str) -> None:
    history = AnalyticsClient(analytics_server, 10)
    app.service.analytics = history
    try:
        assert await app.service.refresh_history() == "synthetic"  # too little history: keep the synthetic market
        market = synthetic.generate(seed=99, days=90, end=datetime.now(UTC).date())
        assert await push_to_analytics(market, analytics_server) == len(market.sales)
        assert await push_to_analytics(market, analytics_server) == 0  # idempotent by sale id
        stored = await app.service.retrain()
        assert app.market.source == "analytics" and stored >= 2
        art = app.market.history("art")
        assert len(art) >= 85 and art["sales"].sum() > 0
        latest = await run_db(app.repo.latest_models)
        assert latest["art"].source == "analytics"
        forecast = await app.service.market_agent.forecast("art", 3)
        assert forecast.market_source == "analytics" and len(forecast.points) == 3
    finally:
        app.service.analytics = None
        await history.close()
        app.service.load_synthetic()  # other tests expect the synthetic market
        await app.service.retrain()
