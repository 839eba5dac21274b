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
    # History only: the pushed sales must not join the session's comparables (see the restart test).
    loaded, app.service.sales_loaded = app.service.sales_loaded, True
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
        app.service.sales_loaded = loaded
        await history.close()
        app.service.load_synthetic()  # other tests expect the synthetic market
        await app.service.retrain()


async def test_a_restarted_service_prices_from_the_sales_analytics_recorded(pg_admin_url: str) -> None:
    """Comparables used to live only in memory from the asset.sold events seen since start: a
    restart left pricing on the KB prior. Now the service loads them from analytics (ListSales),
    with the features stored with each asset's analysis."""
    import uuid
    from datetime import timedelta
    from decimal import Decimal

    import grpc
    from ai_agents_service.config import SCHEMA, Settings
    from ai_agents_service.server import MIGRATIONS_DIR as AI_MIGRATIONS
    from analytics_service.config import SCHEMA as ANALYTICS_SCHEMA
    from analytics_service.config import Settings as AnalyticsSettings
    from analytics_service.server import MIGRATIONS_DIR, AnalyticsApp
    from ipheron.ai_agents.v1 import ai_agents_service_pb2 as pb
    from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as pb_grpc
    from ipheron_libs import events
    from ipheron_libs.testing import drop_database, fresh_database

    scratch = fresh_database(pg_admin_url, "ai_agents_restart")
    analytics = AnalyticsApp(AnalyticsSettings(consume_events=False, db_pool_size=2),
                             fresh_schema(scratch, ANALYTICS_SCHEMA, MIGRATIONS_DIR), redis_url="")
    ai_url = fresh_schema(scratch, SCHEMA, AI_MIGRATIONS)
    wallet, now = "0x" + "7" * 40, datetime.now(UTC)

    def event(type_: str, payload: dict[str, object], at: datetime) -> events.Event:
        ev = events.Event(str(uuid.uuid4()), type_, 1, at.isoformat(), "u-1", payload)
        events.check(ev)
        return ev

    def agents(analytics_addr: str) -> AiAgentsApp:
        return AiAgentsApp(Settings(database_url=ai_url, workers=1, kb_reload=False, retrain_interval=0,
                                    consume_events=False, auth_addr="127.0.0.1:1", analytics_addr=analytics_addr,
                                    synthetic_sales=False), ai_url, redis_url="")

    async def suggest(app: AiAgentsApp) -> pb.SuggestPriceResponse:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        try:
            asset = pb.AssetFeatures(asset_type="trademark", region="europe", utility_features=["merch", "licensing"])
            return await pb_grpc.AiAgentsServiceStub(channel).SuggestPrice(pb.SuggestPriceRequest(asset=asset))
        finally:
            await channel.close()

    port = await analytics.start(host="127.0.0.1", port=0)
    first = agents(f"127.0.0.1:{port}")
    try:
        await first.start(host="127.0.0.1", port=0)
        sold: list[str] = []
        for i in range(8):  # eight trademarks, each registered and sold once at about 2 ETH
            asset_id, purchase = str(uuid.uuid4()), str(uuid.uuid4())
            creators = [{"user_id": "u-1", "wallet": wallet, "share_percent": "100"}]
            created = event("asset.created", {
                "asset_id": asset_id, "name": f"Mark {i}", "asset_type": "trademark", "price": "2",
                "royalty_rate": "10", "status": "pending", "region": "europe", "owner_user_id": "u-1",
                "owner_wallet": wallet, "creator_user_id": "u-1", "creators": creators,
                "ipfs_hash": f"bafy{asset_id}", "utility_features": ["merch", "licensing"]}, now - timedelta(days=30))
            sale = event("asset.sold", {
                "asset_id": asset_id, "asset_type": "trademark", "purchase_id": purchase, "price": f"2.{i + 1}",
                "currency": "ETH", "seller_user_id": "u-1", "seller_wallet": wallet, "buyer_user_id": f"u-b{i}",
                "buyer_wallet": "0x" + f"{i + 1}" * 40, "tx_hash": "0x" + "ab" * 32, "block_number": 3 + i,
                "token_id": str(i), "creators": creators}, now - timedelta(days=i + 1))
            for ev in (created, sale):  # what both consumers see on the stream
                await first.handle_event(ev)
                await analytics.handle(ev)
            sold.append(asset_id)
        before = await suggest(first)
        assert before.basis == "comparables" and {c.asset_id for c in before.comparables} == set(sold)
        await first.stop(grace=0)

        # The same service restarted (empty memory) without analytics: the old behaviour, no market.
        blind = agents("")
        await blind.start(host="127.0.0.1", port=0)
        try:
            assert blind.market.sales_count() == 0 and (await suggest(blind)).basis == "prior"
        finally:
            await blind.stop(grace=0)

        second = agents(f"127.0.0.1:{port}")
        await second.start(host="127.0.0.1", port=0)
        try:
            assert second.service.sales_loaded and second.market.sales_count("trademark") == 8
            loaded = {s.asset_id: s for s in second.market.sales_arrays("trademark").sales}
            assert set(loaded) == set(sold)
            # features from the analyses stored before the restart, ids from analytics
            assert {(s.region, s.utility_count, s.co_creators) for s in loaded.values()} == {("europe", 2, 1)}
            assert {s.price for s in loaded.values()} == {Decimal(f"2.{i + 1}") for i in range(8)}
            after = await suggest(second)
            assert after.basis == "comparables" and {c.asset_id for c in after.comparables} == set(sold)
            assert after.suggested.amount == before.suggested.amount
            # loading again (the periodic refresh) adds nothing: a sale id is held once
            assert await second.service.load_sales() == 0 and second.market.sales_count("trademark") == 8
        finally:
            await second.stop(grace=0)
    finally:
        await analytics.stop(grace=0)
        drop_database(pg_admin_url, "ai_agents_restart")
