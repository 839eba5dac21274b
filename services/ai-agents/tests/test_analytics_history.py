"""Market history from the real analytics service: once it holds enough days (here
the synthetic market pushed through RecordSales), the models train on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from ai_agents_service import synthetic
from ai_agents_service.directory import AnalyticsHistory
from ai_agents_service.server import AgentsApp
from ipheron_libs import db, grpc_server
from ipheron_libs.db import run_db


@pytest.fixture(scope="session")
async def analytics_server(pg_admin_url: str) -> AsyncIterator[str]:
    from analytics_service.config import SCHEMA as ANALYTICS_SCHEMA
    from analytics_service.config import Settings as AnalyticsSettings
    from analytics_service.server import FULL_NAME, MIGRATIONS_DIR, AnalyticsApp

    db.drop_schema(pg_admin_url, ANALYTICS_SCHEMA)
    url = db.provision(pg_admin_url, ANALYTICS_SCHEMA)
    db.migrate(url, ANALYTICS_SCHEMA, MIGRATIONS_DIR)
    analytics = AnalyticsApp(AnalyticsSettings(consume_events=False, db_pool_size=2), url)
    server, port, health = grpc_server.build_server("analytics", analytics.register, [FULL_NAME])
    await grpc_server.start(server, health)
    yield f"127.0.0.1:{port}"
    await grpc_server.stop(server, health, grace=0.2)
    analytics.engine.dispose()


async def test_models_train_on_analytics_history_once_it_has_enough_days(
        app: AgentsApp, analytics_server: str) -> None:
    history = AnalyticsHistory(analytics_server, 10)
    app.analytics = history
    try:
        assert await app.refresh_history() == "synthetic"  # too little history: keep the synthetic market
        market = synthetic.generate(seed=99, days=90, end=datetime.now(UTC).date())
        assert await synthetic.push_to_analytics(market, analytics_server) == len(market.sales)
        assert await synthetic.push_to_analytics(market, analytics_server) == 0  # idempotent by sale id
        stored = await app.retrain()
        assert app.market.source == "analytics" and stored >= 2
        art = app.market.history("art")
        assert len(art) >= 85 and art["sales"].sum() > 0
        latest = await run_db(app.repo.latest_models)
        assert latest["art"]["source"] == "analytics"
        forecast = await app.market_agent.forecast("art", 3)
        assert forecast.market_source == "analytics" and len(forecast.points) == 3
    finally:
        app.analytics = None
        await history.close()
        app.load_synthetic()  # other tests expect the synthetic market
        await app.retrain()
