"""End to end through the gateway: SIWE login with a real key, tokens verified locally
from the auth service's JWKS, profile rules, refresh reuse, and the auth rate limit
holding across two gateway instances sharing one Redis. The auth service runs
in-process on port 0 against the real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import FastAPI
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_gateway.ratelimit import RateLimiter
from ipheron_libs import db, grpc_server
from ipheron_libs.devstack_ports import free_port
from ipheron_libs.tokens import JwksVerifier

auth_service = pytest.importorskip("auth_service")
from auth_service.config import Settings as AuthSettings  # noqa: E402
from auth_service.repository import SCHEMA  # noqa: E402
from auth_service.server import FULL_NAME, MIGRATIONS_DIR, AuthApp  # noqa: E402

DOMAIN, URI, CHAIN_ID = "gw.ipheron.test", "https://gw.ipheron.test", 31337


@pytest.fixture(scope="module")
async def auth_addr(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    db.drop_schema(pg_admin_url, SCHEMA)
    url = db.provision(pg_admin_url, SCHEMA)
    db.migrate(url, SCHEMA, MIGRATIONS_DIR)
    settings = AuthSettings(siwe_domain=DOMAIN, siwe_uri=URI, siwe_chain_id=CHAIN_ID, env="test",  # type: ignore[call-arg]
                            data_dir=tmp_path_factory.mktemp("auth"), redis_url=None, chain_addr=None)
    app = AuthApp(settings, url)
    server, port, health = grpc_server.build_server("auth", app.register, [FULL_NAME])
    await grpc_server.start(server, health)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)
        app.engine.dispose()


def gateway(auth_addr: str, redis_url: str, **rates: str) -> FastAPI:
    """A gateway app as production builds it; rate limits come from GATEWAY_RATELIMIT_* as there."""
    addrs = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES if s != "auth"}
    settings = GatewaySettings(auth_addr=auth_addr, redis_url=redis_url, upstream_timeout=5, **addrs)  # type: ignore[arg-type]
    env = {f"GATEWAY_RATELIMIT_{k.upper()}": v for k, v in rates.items()}
    with mock.patch.dict(os.environ, env):
        app = create_app(settings)
    assert isinstance(app.state.verifier, JwksVerifier) and isinstance(app.state.limiter, RateLimiter)
    return app


@pytest.fixture()
async def client(auth_addr: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = gateway(auth_addr, redis_url, auth="1000/minute")
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(ip, 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
            yield c


def problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()  # type: ignore[no-any-return]


async def sign_in(client: httpx.AsyncClient, account: Any = None) -> dict[str, Any]:
    account = account or Account.create()
    nonce = (await client.post("/api/v1/auth/nonce", json={"address": account.address})).json()
    sig = account.sign_message(encode_defunct(text=nonce["message"])).signature.hex()
    resp = await client.post(
        "/api/v1/auth/login", json={"message": nonce["message"], "signature": "0x" + sig.removeprefix("0x")}
    )
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_login_through_gateway_then_profile_with_bearer_token(client: httpx.AsyncClient) -> None:
    account = Account.create()
    nonce = await client.post("/api/v1/auth/nonce", json={"address": account.address.lower()})
    assert nonce.status_code == 200 and nonce.headers["ratelimit-limit"] == "1000"
    body = nonce.json()
    assert (body["domain"], body["uri"], body["chain_id"], body["address"]) == (DOMAIN, URI, CHAIN_ID, account.address)
    session = await sign_in(client, account)
    assert session["created"] is True and session["token_type"] == "Bearer" and session["expires_in"] == 900
    me = await client.get("/api/v1/users/me", headers=bearer(session))
    assert me.status_code == 200 and me.json()["wallet_address"] == account.address
    assert me.json()["reputation_score"] == 50 and me.json()["total_sales"] == "0.000000"
    public = await client.get(f"/api/v1/users/{session['user']['id']}")
    assert public.status_code == 200 and public.json()["email"] is None


async def test_jwks_is_served_at_well_known_path(client: httpx.AsyncClient) -> None:
    resp = await client.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    keys = resp.json()["keys"]
    assert keys and all(k["kty"] == "OKP" and k["alg"] == "EdDSA" and "d" not in k for k in keys)


async def test_protected_route_rejects_missing_and_tampered_tokens(client: httpx.AsyncClient) -> None:
    problem(await client.get("/api/v1/users/me"), 401)
    session = await sign_in(client)
    head, payload, sig = session["access_token"].split(".")
    tampered = f"{head}.{payload[:-2]}AA.{sig}"
    body = problem(await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tampered}"}), 401)
    assert "invalid access token" in body["detail"]
    body = problem(
        await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {session['refresh_token']}"}), 401
    )
    assert "malformed" in body["detail"]


async def test_login_rejections_are_401_problems_with_reason(client: httpx.AsyncClient) -> None:
    account, other = Account.create(), Account.create()
    nonce = (await client.post("/api/v1/auth/nonce", json={"address": account.address})).json()
    msg = nonce["message"].replace(f"Chain ID: {CHAIN_ID}", "Chain ID: 1")
    sig = account.sign_message(encode_defunct(text=msg)).signature.hex()
    body = problem(await client.post("/api/v1/auth/login", json={"message": msg, "signature": "0x" + sig}), 401)
    assert "chain ID" in body["detail"]
    sig = other.sign_message(encode_defunct(text=nonce["message"])).signature.hex()
    body = problem(
        await client.post("/api/v1/auth/login", json={"message": nonce["message"], "signature": "0x" + sig}), 401
    )
    assert other.address in body["detail"]
    problem(await client.post("/api/v1/auth/nonce", json={"address": "nope"}), 400)


async def test_profile_update_rules(client: httpx.AsyncClient) -> None:
    a, b = await sign_in(client), await sign_in(client)
    name = f"gw_{uuid.uuid4().hex[:8]}"
    ok = await client.patch("/api/v1/users/me", headers=bearer(a),
                            json={"username": name, "email": f"{name}@example.com", "skills": ["Music"], "bio": "hi"})
    assert ok.status_code == 200 and ok.json()["username"] == name and ok.json()["email"] == f"{name}@example.com"
    for forbidden in ({"reputation_score": 100}, {"verified": True}, {"total_sales": "1e9"}, {"wallet_address": "0x0"}):
        body = problem(await client.patch("/api/v1/users/me", headers=bearer(b), json=forbidden), 422)
        assert next(iter(forbidden)) in body["detail"]
    body = problem(await client.patch("/api/v1/users/me", headers=bearer(b), json={"username": name.upper()}), 409)
    assert "username" in body["detail"]
    problem(await client.patch("/api/v1/users/me", json={"bio": "x"}), 401)
    listed = await client.get("/api/v1/users", params={"skill": "music", "per_page": 100})
    assert listed.status_code == 200 and a["user"]["id"] in [u["id"] for u in listed.json()["items"]]
    assert listed.json()["total"] >= 1


async def test_refresh_rotation_and_reuse_through_gateway(client: httpx.AsyncClient) -> None:
    session = await sign_in(client)
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert rotated.status_code == 200
    problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}), 401)
    problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}), 401)
    fresh = await sign_in(client)
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": fresh["refresh_token"]})).status_code == 204
    problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}), 401)


async def test_auth_rate_limit_holds_across_two_gateway_instances(auth_addr: str, redis_url: str) -> None:
    first, second = gateway(auth_addr, redis_url), gateway(auth_addr, redis_url)
    ip = f"192.0.2.{uuid.uuid4().int % 250}"
    statuses = []
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 1)), base_url="http://gw")
                   for app in (first, second)]
        try:
            for i in range(14):
                resp = await clients[i % 2].post("/api/v1/auth/nonce", json={"address": Account.create().address})
                statuses.append(resp.status_code)
            limited = problem(resp, 429)
            assert "auth" in limited["detail"] and int(resp.headers["retry-after"]) >= 1
        finally:
            for c in clients:
                await c.aclose()
    assert statuses.count(200) == 10 and statuses.count(429) == 4
