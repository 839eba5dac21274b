"""The /api/v1/ai routes through the real gateway app (JWTs verified against the
real auth service's JWKS, problem+json errors) in front of the real ai-agents service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from ai_agents_service.server import AgentsApp

gateway_app = pytest.importorskip("ipheron_gateway.app")
from ipheron_gateway.config import GatewaySettings  # noqa: E402


@pytest.fixture(scope="session")
async def api(app: AgentsApp, auth_server: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(auth_addr=auth_server, ai_agents_addr=f"127.0.0.1:{app.port}",  # type: ignore[attr-defined]
                               redis_url=redis_url, upstream_timeout=10)  # type: ignore[call-arg]
    gw = gateway_app.create_app(settings)
    async with gw.router.lifespan_context(gw):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://gw") as client:
            yield client


def _ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()  # type: ignore[no-any-return]


async def test_pricing_route_returns_price_range_and_rules(api: httpx.AsyncClient) -> None:
    body = _ok(await api.post("/api/v1/ai/pricing", json={
        "asset_type": "patent", "region": "north-america", "creator_reputation": 95, "co_creators": 4,
        "utility_features": ["commercial-license"]}))
    assert Decimal(body["low"]) < Decimal(body["suggested"]) < Decimal(body["high"]) and body["currency"] == "ETH"
    assert [r["name"] for r in body["rules"]][:2] == ["basis-comparables", "region-north-america"]
    assert body["basis"] == "comparables" and body["confidence"] in ("high", "medium", "low")
    assert body["comparables"] and all(Decimal(c["price"]) > 0 and c["asset_id"] and c["sold_at"]
                                       for c in body["comparables"])
    priced = _ok(await api.post("/api/v1/ai/pricing", json={"asset_type": "patent", "asking_price": "5.5"}))
    assert priced["asking_percentile"] is not None and "percentile of" in priced["asking_position"]


async def test_bad_pricing_input_is_problem_json(api: httpx.AsyncClient) -> None:
    bad_type = _problem(await api.post("/api/v1/ai/pricing", json={"asset_type": "sculpture"}), 400)
    assert "unknown asset type" in bad_type["detail"]
    _problem(await api.post("/api/v1/ai/pricing", json={"asset_type": "art", "asking_price": 1.5}), 422)


async def test_collaborators_route_ranks_directory_users(api: httpx.AsyncClient, creators: dict[str, Any]) -> None:
    anna, token = creators["anna"]
    body = _ok(await api.get("/api/v1/ai/collaborators", params={"user_id": anna, "skills": "music-production"}))
    assert [c["candidate"]["username"] for c in body["collaborators"]] == ["boris", "chen"]
    mine = _ok(await api.get("/api/v1/ai/collaborators", params={"skills": "writing"},
                             headers={"Authorization": f"Bearer {token}"}))
    assert mine["user_id"] == anna and [c["candidate"]["username"] for c in mine["collaborators"]] == ["dina"]
    _problem(await api.get("/api/v1/ai/collaborators"), 400)


async def test_split_route_sums_to_100(api: httpx.AsyncClient) -> None:
    body = _ok(await api.post("/api/v1/ai/collaboration/split", json={"contributors": [
        {"user_id": "a", "role": "lead", "effort": "5", "owns_original_ip": True},
        {"user_id": "b", "role": "contributor", "effort": "15"},
        {"user_id": "c", "role": "advisor"}]}))
    assert sum(Decimal(s["share_percent"]) for s in body["shares"]) == Decimal("100.00")
    _problem(await api.post("/api/v1/ai/collaboration/split", json={"contributors": []}), 422)


async def test_risk_route_needs_a_signed_in_caller(api: httpx.AsyncClient, creators: dict[str, Any]) -> None:
    purchase = {"kind": "purchase", "purchase": {"asset_id": "x1", "seller_wallet": "0x" + "1" * 40,
                                                 "buyer_wallet": "0x" + "2" * 40, "price": "1"}}
    _problem(await api.post("/api/v1/ai/risk", json=purchase), 401)
    headers = {"Authorization": f"Bearer {creators['boris'][1]}"}
    ring = ["0x" + c * 40 for c in "abc"]
    history = [{"asset_id": "x1", "seller_wallet": ring[k % 3], "buyer_wallet": ring[(k + 1) % 3], "price": "1"}
               for k in range(4)]
    flagged = _ok(await api.post("/api/v1/ai/risk", headers=headers, json={
        "kind": "purchase", "history": history,
        "purchase": {"asset_id": "x1", "seller_wallet": ring[1], "buyer_wallet": ring[2], "price": "1.1"}}))
    assert flagged["level"] == "high" and "wash-trading-ring" in flagged["flags"]
    asset = _ok(await api.post("/api/v1/ai/risk", headers=headers, json={
        "kind": "asset", "asset": {"asset_type": "software", "name": "Keygen for everything", "asking_price": "900",
                                   "wallet_age_days": 1}}))
    assert set(asset["flags"]) == {"prohibited-terms", "new-wallet-extreme-price"} and asset["score"] == 95
    _problem(await api.post("/api/v1/ai/risk", headers=headers, json={"kind": "asset"}), 400)


async def test_forecast_route(api: httpx.AsyncClient) -> None:
    body = _ok(await api.get("/api/v1/ai/market/forecast", params={"asset_type": "design", "days": 5}))
    assert len(body["points"]) == 5 and body["sentiment"] in ("bullish", "neutral", "bearish")
    assert body["model_version"] and Decimal(body["baseline_mae_volume"]) > 0
    _problem(await api.get("/api/v1/ai/market/forecast", params={"asset_type": "design", "days": 0}), 422)


def _asset_event(type_: str, payload: dict[str, Any]) -> Any:
    import uuid
    from datetime import UTC, datetime

    from ipheron_libs import events

    ev = events.Event(id=str(uuid.uuid4()), type=type_, version=1, occurred_at=datetime.now(UTC).isoformat(),
                      actor="u-1", payload=payload)
    events.check(ev)
    return ev


async def test_asset_analysis_is_readable_and_rerun_by_its_owner_only(
        api: httpx.AsyncClient, app: AgentsApp, creators: dict[str, Any]) -> None:
    import uuid

    anna, anna_token = creators["anna"]
    boris, boris_token = creators["boris"]
    asset_id = str(uuid.uuid4())
    wallet, buyer_wallet = "0x" + "a" * 40, "0x" + "b" * 40
    creators_list = [{"user_id": anna, "wallet": wallet, "share_percent": "100"}]
    await app.handle_event(_asset_event("asset.created", {
        "asset_id": asset_id, "name": "Harbour lights", "asset_type": "music", "price": "0.3", "royalty_rate": "10",
        "status": "pending", "region": "europe", "owner_user_id": anna, "owner_wallet": wallet,
        "creator_user_id": anna, "creators": creators_list, "ipfs_hash": f"bafy{asset_id}",
        "utility_features": ["streaming-rights"]}))
    as_anna = {"Authorization": f"Bearer {anna_token}"}
    as_boris = {"Authorization": f"Bearer {boris_token}"}

    body = _ok(await api.get(f"/api/v1/assets/{asset_id}/analysis", headers=as_anna))
    assert body["asset_id"] == asset_id and body["trigger"] == "asset.created" and body["runs"] == 1
    assert body["complete"] and body["failures"] == []
    pricing = body["pricing"]
    assert pricing["basis"] == "comparables" and pricing["comparables"] and pricing["confidence"]
    assert Decimal(pricing["low"]) < Decimal(pricing["suggested"]) < Decimal(pricing["high"])
    assert "percentile of" in pricing["asking_position"]  # the event's price is the asking price
    assert body["risk"]["level"] in ("low", "medium", "high") and body["market"]["points"]

    _problem(await api.get(f"/api/v1/assets/{asset_id}/analysis"), 401)
    _problem(await api.get(f"/api/v1/assets/{uuid.uuid4()}/analysis", headers=as_anna), 404)
    denied = _problem(await api.post(f"/api/v1/assets/{asset_id}/analysis", headers=as_boris), 403)
    assert "owner" in denied["detail"]
    _problem(await api.post(f"/api/v1/assets/{asset_id}/analysis", headers=as_anna, params={"days": 0}), 422)

    again = _ok(await api.post(f"/api/v1/assets/{asset_id}/analysis", headers=as_anna, params={"days": 3}))
    assert again["trigger"] == "owner" and again["runs"] == 2 and len(again["market"]["points"]) == 3
    assert _ok(await api.get(f"/api/v1/assets/{asset_id}/analysis", headers=as_boris))["trigger"] == "owner"

    # Sold to boris: he is the owner of record now, anna no longer is.
    await app.handle_event(_asset_event("asset.sold", {
        "asset_id": asset_id, "asset_type": "music", "purchase_id": str(uuid.uuid4()), "price": "0.31",
        "currency": "ETH", "seller_user_id": anna, "seller_wallet": wallet, "buyer_user_id": boris,
        "buyer_wallet": buyer_wallet, "tx_hash": "0x" + "cd" * 32, "block_number": 7, "token_id": "3",
        "creators": creators_list}))
    _problem(await api.post(f"/api/v1/assets/{asset_id}/analysis", headers=as_anna), 403)
    assert _ok(await api.post(f"/api/v1/assets/{asset_id}/analysis", headers=as_boris))["runs"] == 3
    # the sale joined the comparables with the features remembered from asset.created
    sold = [s for s in app.market.sales_arrays("music").sales if s.asset_id == asset_id]
    assert len(sold) == 1 and sold[0].region == "europe" and sold[0].utility_count == 1


async def test_asset_analysis_shows_the_sale_flags_a_closed_ring_stored_later(
        api: httpx.AsyncClient, app: AgentsApp, creators: dict[str, Any]) -> None:
    import uuid
    from datetime import UTC, datetime, timedelta

    from ipheron_libs import events

    anna, anna_token = creators["anna"]
    asset_id = str(uuid.uuid4())
    ring = ["0x" + c * 40 for c in "123"]
    creators_list = [{"user_id": anna, "wallet": ring[0], "share_percent": "100"}]
    await app.handle_event(_asset_event("asset.created", {
        "asset_id": asset_id, "name": "Loop", "asset_type": "video", "price": "0.4", "royalty_rate": "10",
        "status": "pending", "region": "asia", "owner_user_id": anna, "owner_wallet": ring[0],
        "creator_user_id": anna, "creators": creators_list, "ipfs_hash": f"bafy{asset_id}", "utility_features": []}))
    start = datetime.now(UTC) - timedelta(hours=20)
    purchases = [str(uuid.uuid4()) for _ in range(4)]
    for i, purchase in enumerate(purchases):  # A->B, B->C, C->A, A->B within a day
        ev = events.Event(str(uuid.uuid4()), "asset.sold", 1, (start + timedelta(hours=4 * i)).isoformat(), "u-1", {
            "asset_id": asset_id, "asset_type": "video", "purchase_id": purchase, "price": "0.4", "currency": "ETH",
            "seller_user_id": anna, "seller_wallet": ring[i % 3], "buyer_user_id": anna,
            "buyer_wallet": ring[(i + 1) % 3], "tx_hash": "0x" + "ef" * 32, "block_number": 9 + i,
            "token_id": "5", "creators": creators_list})
        events.check(ev)
        await app.handle_event(ev)
    body = _ok(await api.get(f"/api/v1/assets/{asset_id}/analysis",
                             headers={"Authorization": f"Bearer {anna_token}"}))
    wash = {f["sale_id"]: f for f in body["sale_flags"] if f["rule"].startswith("wash")}
    assert [wash[p]["rule"] for p in purchases] == ["wash-cycle-closed-later"] * 3 + ["wash-trading-ring"]
    first = wash[purchases[0]]
    assert first["retroactive"] and first["revealed_by_sale_id"] == purchases[3] and first["points"] == 70
    assert first["cycle_wallets"] == sorted(ring) and first["price"] == "0.4"
    assert first["seller_wallet"] == ring[0] and first["buyer_wallet"] == ring[1]
    assert "closed the wash-trading cycle" in first["explanation"]
    assert datetime.fromisoformat(first["sold_at"]) < datetime.fromisoformat(first["decided_at"])
