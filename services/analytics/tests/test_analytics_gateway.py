"""The analytics routes through the real gateway app (ASGI) to a real analytics
server on port 0 and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from analytics_service.config import SERVICE_NAME, Settings
from analytics_service.consumer import apply_event
from analytics_service.server import FULL_NAME, AnalyticsApp
from conftest import NOW, created, days_ago, sold
from ipheron_libs import grpc_server
from sqlalchemy import Engine

gateway_app = pytest.importorskip("ipheron_gateway.app")
from ipheron_gateway.config import GatewaySettings  # noqa: E402


@pytest.fixture()
async def client(analytics_url: str, clean_engine: Engine, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    with clean_engine.begin() as conn:
        for ev in (
            created("a1", "art", days_ago(3), creators=[("c1", "100")]),
            sold("a1", "2.5", days_ago(1, hours=1)),
            sold("a1", "3.5", days_ago(0, hours=1)),
        ):
            apply_event(conn, ev, NOW)
    app_ = AnalyticsApp(Settings(consume_events=False, db_pool_size=2), analytics_url, clock=lambda: NOW)
    server, port, health = grpc_server.build_server(SERVICE_NAME, app_.register, [FULL_NAME])
    await grpc_server.start(server, health)
    gw = gateway_app.create_app(
        GatewaySettings(analytics_addr=f"127.0.0.1:{port}", redis_url=redis_url, upstream_timeout=5)
    )  # type: ignore[call-arg]
    try:
        async with gw.router.lifespan_context(gw):
            transport = httpx.ASGITransport(app=gw, client=("10.9.8.6", 5555))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                yield c
    finally:
        await grpc_server.stop(server, health, grace=0.2)
        app_.engine.dispose()


def _ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()  # type: ignore[no-any-return]


async def test_every_analytics_route_answers(client: httpx.AsyncClient) -> None:
    first = (NOW - timedelta(days=2)).date().isoformat()
    m = _ok(
        await client.get(
            "/api/v1/analytics/market", params={"from": first, "to": NOW.date().isoformat(), "asset_type": "art"}
        )
    )
    assert [d["total_volume"] for d in m["days"]] == ["0", "2.5", "3.5"] and m["total_volume"] == "6"
    o = _ok(await client.get("/api/v1/analytics/overview"))
    assert o["total_sales"] == 2 and o["volume_24h"] == "3.5" and o["volume_change_7d_pct"] is None
    a = _ok(await client.get("/api/v1/analytics/assets/a1/performance"))
    assert a["price_change_pct"] == "40" and a["recent_sales"][0]["price"] == "3.5"
    c = _ok(await client.get("/api/v1/analytics/creators/c1/performance"))
    assert c["attributed_volume"] == "6" and c["top_asset_id"] == "a1"
    t = _ok(await client.get("/api/v1/analytics/top", params={"by": "price", "period": "24h"}))
    assert [(i["asset_id"], i["value"]) for i in t["items"]] == [("a1", "3.5")]
    ins = _ok(await client.get("/api/v1/analytics/insights"))
    assert {i["kind"] for i in ins["insights"]} >= {"volume_trend", "sentiment"}
    h = _ok(await client.get("/api/v1/analytics/history", params={"days": 3}))
    assert set(h["series"]) == {"all", "art"} and len(h["series"]["art"]) == 3


async def test_bad_analytics_queries_are_problems_naming_the_parameter(client: httpx.AsyncClient) -> None:
    p = _problem(await client.get("/api/v1/analytics/market", params={"from": "2026-99-01"}), 400)
    assert p["errors"][0]["field"] == "from" and "from" in p["detail"]
    p = _problem(await client.get("/api/v1/analytics/market", params={"from": "2026-03-10", "to": "2026-03-01"}), 400)
    assert p["errors"][0]["field"] == "from"
    p = _problem(await client.get("/api/v1/analytics/top", params={"by": "hype"}), 422)
    assert p["errors"][0]["field"] == "by"
    p = _problem(await client.get("/api/v1/analytics/top", params={"period": "1y"}), 422)
    assert p["errors"][0]["field"] == "period"
    _problem(await client.get("/api/v1/analytics/assets/unknown-asset/performance"), 404)
    p = _problem(await client.get("/api/v1/analytics/insights", params={"asset_type": "ART!"}), 400)
    assert p["errors"][0]["field"] == "asset_type"
