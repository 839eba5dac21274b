"""The staking routes through the real gateway app (ASGI) to a real staking server
on port 0 and PostgreSQL. Callers send real access tokens: the gateway's own verifier
fetches the signing keys over the auth service's GetJwks RPC (served here by a test
key set) and checks every token; nothing in the gateway is overridden."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from ipheron_libs import grpc_server
from sqlalchemy import Engine
from staking_service.config import SERVICE_NAME, Settings
from staking_service.server import FULL_NAME, StakingApp

gateway_app = pytest.importorskip("ipheron_gateway.app")
from ipheron_gateway.config import GatewaySettings  # noqa: E402
from ipheron_gateway.testing import TokenIssuer, serve_jwks  # noqa: E402

ISSUER = TokenIssuer()


@pytest.fixture()
async def client(staking_url: str, clean_engine: Engine, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app_ = StakingApp(
        Settings(relay_events=False, maturity_interval_seconds=0, db_pool_size=2, assets_addr=None), staking_url
    )
    server, port, health = grpc_server.build_server(SERVICE_NAME, app_.register, [FULL_NAME])
    await grpc_server.start(server, health)
    try:
        async with serve_jwks(ISSUER) as auth_addr:
            gw = gateway_app.create_app(
                GatewaySettings(staking_addr=f"127.0.0.1:{port}", auth_addr=auth_addr, redis_url=redis_url,
                                upstream_timeout=5)  # type: ignore[call-arg]
            )
            async with gw.router.lifespan_context(gw):
                transport = httpx.ASGITransport(app=gw, client=("10.9.8.7", 5555))
                async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                    yield c
    finally:
        await grpc_server.stop(server, health, grace=0.2)
        app_.engine.dispose()


def _as(user: str, key: str | None = None) -> dict[str, str]:
    """A real bearer token for `user` (and an Idempotency-Key)."""
    headers = ISSUER.headers(user)
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()  # type: ignore[no-any-return]


async def test_quote_open_replay_list_claim_unstake(client: httpx.AsyncClient) -> None:
    q = await client.get(
        "/api/v1/staking/quote", params={"asset_id": "asset-1", "amount": "1000", "duration_days": 365}
    )
    assert q.status_code == 200, q.text
    assert q.json()["apr"] == "10.5" and q.json()["expected_rewards"] == "105"

    body = {"asset_id": "asset-1", "amount": "1000", "duration_days": 90}
    opened = await client.post("/api/v1/stakes", json=body, headers=_as("alice", "open-key-1"))
    assert opened.status_code == 201, opened.text
    stake = opened.json()["stake"]
    assert stake["status"] == "active" and stake["amount"] == "1000" and stake["apr"] == "5.25"
    replay = await client.post("/api/v1/stakes", json=body, headers=_as("alice", "open-key-1"))
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["stake"]["id"] == stake["id"]
    conflict = await client.post("/api/v1/stakes", json={**body, "amount": "5"}, headers=_as("alice", "open-key-1"))
    _problem(conflict, 409)

    listed = (await client.get("/api/v1/stakes", headers=_as("alice"))).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == stake["id"]
    assert (await client.get("/api/v1/stakes", headers=_as("bob"))).json()["total"] == 0

    _problem(await client.get(f"/api/v1/stakes/{stake['id']}", headers=_as("bob")), 403)
    _problem(await client.post(f"/api/v1/stakes/{stake['id']}/claim", headers=_as("bob")), 403)
    claimed = await client.post(f"/api/v1/stakes/{stake['id']}/claim", headers=_as("alice", "claim-key-1"))
    assert claimed.status_code == 200 and claimed.json()["stake"]["id"] == stake["id"]
    out = await client.post(f"/api/v1/stakes/{stake['id']}/unstake", headers=_as("alice"))
    assert out.status_code == 200, out.text
    assert out.json()["early"] is True and out.json()["penalty"] == "100" and out.json()["payout"] == "900"
    again = _problem(await client.post(f"/api/v1/stakes/{stake['id']}/unstake", headers=_as("alice")), 400)
    assert "closed" in again["detail"]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"asset_id": "a", "amount": "-5", "duration_days": 30}, "amount", 400),
        ({"asset_id": "a", "amount": "12,5", "duration_days": 30}, "amount", 400),
        ({"asset_id": "a", "amount": "10", "duration_days": 45}, "duration_days", 400),
        ({"asset_id": "a", "amount": 10.5, "duration_days": 30}, "amount", 422),  # a JSON number is refused
        ({"asset_id": "a", "amount": "10", "duration_days": 30, "apr": "99"}, "apr", 422),
    ],
)
async def test_bad_open_bodies_are_problems_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, status: int
) -> None:
    p = _problem(await client.post("/api/v1/stakes", json=body, headers=_as("alice", "bad-body-key")), status)
    assert field in {e["field"] for e in p["errors"]}


async def test_open_requires_an_idempotency_key_and_a_user(client: httpx.AsyncClient) -> None:
    body = {"asset_id": "a", "amount": "10", "duration_days": 30}
    p = _problem(await client.post("/api/v1/stakes", json=body, headers=_as("alice")), 400)
    assert p["errors"][0]["field"] == "Idempotency-Key"
    _problem(await client.post("/api/v1/stakes", json=body, headers={"Idempotency-Key": "no-user-key"}), 401)
    _problem(await client.get("/api/v1/stakes/not-a-uuid", headers=_as("alice")), 404)
    _problem(await client.get("/api/v1/stakes", params={"status": "paused"}, headers=_as("alice")), 422)
