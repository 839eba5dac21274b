"""The listing, purchase-payment and withdrawal routes at the edge: what a client sends is
refused as a 422 problem naming the field before any service sees it, and the contract
documents the 402 body and the Tx object. The services are not running here (a request
that passed the edge would be a 503 naming the service); the gateway's real verifier
checks real tokens against a test key set served over the auth service's GetJwks RPC."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_gateway.routers.chain import retry_after_seconds
from ipheron_gateway.testing import TokenIssuer, serve_jwks
from ipheron_libs.devstack_ports import free_port

ISSUER = TokenIssuer()
WALLET = "0x" + "ab" * 20
ORDER = {"token": "0x" + "11" * 20, "tokenId": "1", "seller": WALLET, "price": "1000000000000000000",
         "currency": "0x" + "00" * 20, "counter": "0", "salt": "12345", "startTime": "1", "endTime": "2"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app: FastAPI = create_app(GatewaySettings(redis_url=None))
    return app.openapi()


@pytest.fixture()
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with serve_jwks(ISSUER) as auth_addr:
        addrs = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES if s != "auth"}
        settings = GatewaySettings(auth_addr=auth_addr, redis_url=None, upstream_timeout=2,
                                   **addrs)  # type: ignore[arg-type]
        gw = create_app(settings)
        async with gw.router.lifespan_context(gw):
            transport = httpx.ASGITransport(app=gw, client=(f"10.8.{uuid.uuid4().int % 250}.1", 5555))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                yield c


def me() -> dict[str, str]:
    return ISSUER.headers(str(uuid.uuid4()), WALLET)


def refused(resp: httpx.Response, field: str) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in resp.json()["errors"]}, resp.json()


ASSET = str(uuid.uuid4())
TYPED = f"/api/v1/assets/{ASSET}/listing/typed-data"
PAY = f"/api/v1/assets/{ASSET}/purchases/{uuid.uuid4()}/transaction"


@pytest.mark.parametrize(("params", "field"), [
    ({}, "price"),
    ({"price": "0"}, "price"),
    ({"price": "0.0"}, "price"),
    ({"price": "-1"}, "price"),
    ({"price": "1e3"}, "price"),
    ({"price": "12345678"}, "price"),  # 8 integer digits: above the asset price bound
    ({"price": "1." + "1" * 19}, "price"),  # 19 decimals: below a wei
    ({"price": "1", "duration_seconds": 59}, "duration_seconds"),
    ({"price": "1", "duration_seconds": 31_536_001}, "duration_seconds"),
    ({"price": "1", "duration_seconds": "x"}, "duration_seconds"),
])
async def test_typed_data_refuses_a_price_or_duration_out_of_bounds(client: httpx.AsyncClient,
                                                                    params: dict[str, Any], field: str) -> None:
    refused(await client.get(TYPED, params=params, headers=me()), field)


async def test_typed_data_within_bounds_reaches_the_assets_service(client: httpx.AsyncClient) -> None:
    resp = await client.get(TYPED, params={"price": "0.000000000000000001", "duration_seconds": 60}, headers=me())
    assert resp.status_code == 503 and resp.json()["service"] == "assets", resp.text
    assert (await client.get(TYPED, params={"price": "1"})).status_code == 401


@pytest.mark.parametrize(("body", "field"), [
    ({"order": ORDER}, "signature"),
    ({"order": ORDER, "signature": "0x123"}, "signature"),  # odd number of hex digits
    ({"order": ORDER, "signature": "0xzz"}, "signature"),
    ({"order": ORDER, "signature": "ab" * 65}, "signature"),  # no 0x
    ({"order": ORDER, "signature": "0x" + "ab" * 4097}, "signature"),
    ({"order": {**ORDER, "extra": "1"}, "signature": "0x" + "ab" * 65}, "order.extra"),
    ({"order": {k: v for k, v in ORDER.items() if k != "salt"}, "signature": "0x" + "ab" * 65}, "order.salt"),
    ({"order": {**ORDER, "price": str(2**256)}, "signature": "0x" + "ab" * 65}, "order.price"),
    ({"order": {**ORDER, "price": 2**256}, "signature": "0x" + "ab" * 65}, "order.price"),
    ({"order": {**ORDER, "price": "-1"}, "signature": "0x" + "ab" * 65}, "order.price"),
    ({"order": {**ORDER, "seller": "0x1234"}, "signature": "0x" + "ab" * 65}, "order.seller"),
])
async def test_a_malformed_listing_is_refused_at_the_edge(client: httpx.AsyncClient, body: dict[str, Any],
                                                          field: str) -> None:
    resp = await client.put(f"/api/v1/assets/{ASSET}/listing", json=body, headers=me())
    assert resp.status_code == 422, resp.text
    assert any(e["field"].startswith(field) for e in resp.json()["errors"]), resp.json()


async def test_a_well_formed_listing_reaches_the_assets_service(client: httpx.AsyncClient) -> None:
    # Integers are accepted for the order's numbers as well as decimal strings.
    order = {**ORDER, "price": 10**18, "salt": 2**256 - 1}
    resp = await client.put(f"/api/v1/assets/{ASSET}/listing", json={"order": order, "signature": "0x" + "ab" * 65},
                            headers=me())
    assert resp.status_code == 503 and resp.json()["service"] == "assets", resp.text


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"),
    ({"raw_transaction": "0x02f8", "tx_hash": "0x" + "ab" * 32}, "body"),
    ({"raw_transaction": "0x02f"}, "raw_transaction"),
    ({"raw_transaction": "02f8"}, "raw_transaction"),
    ({"raw_transaction": "0x"}, "raw_transaction"),
    ({"raw_transaction": "0x" + "ab" * 8193}, "raw_transaction"),
    ({"raw_transaction": "0xgg"}, "raw_transaction"),
    ({"tx_hash": "0x" + "ab" * 31}, "tx_hash"),
    ({"tx_hash": "0x" + "ab" * 33}, "tx_hash"),
    ({"tx_hash": 12}, "tx_hash"),
    ({"raw_transaction": "0x02f8", "from": WALLET}, "from"),
])
async def test_a_malformed_payment_is_refused_at_the_edge(client: httpx.AsyncClient, body: dict[str, Any],
                                                          field: str) -> None:
    refused(await client.post(PAY, json=body, headers=me()), field)


@pytest.mark.parametrize("body", [{"raw_transaction": "0x" + "ab" * 8192}, {"tx_hash": "0x" + "AB" * 32}])
async def test_a_well_formed_payment_reaches_the_assets_service(client: httpx.AsyncClient,
                                                                body: dict[str, Any]) -> None:
    resp = await client.post(PAY, json=body, headers=me())
    assert resp.status_code == 503 and resp.json()["service"] == "assets", resp.text


async def test_withdraw_body_is_bounded_and_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/chain/withdraw")).status_code == 401
    refused(await client.post("/api/v1/chain/withdraw", json={"relay": "sometimes"}, headers=me()), "relay")
    refused(await client.post("/api/v1/chain/withdraw", json={"payee": WALLET}, headers=me()), "payee")
    for body in (None, {"relay": False}, {"relay": True}):
        resp = await client.post("/api/v1/chain/withdraw", json=body, headers=me())
        assert resp.status_code == 503 and resp.json()["service"] == "chain", resp.text


async def test_patching_listed_is_refused_listing_is_by_signature(client: httpx.AsyncClient) -> None:
    refused(await client.patch(f"/api/v1/assets/{ASSET}", json={"listed": True}, headers=me()), "listed")


async def test_for_sale_filter_is_a_boolean(client: httpx.AsyncClient) -> None:
    refused(await client.get("/api/v1/assets", params={"for_sale": "maybe"}), "for_sale")
    resp = await client.get("/api/v1/assets", params={"for_sale": "true"})
    assert resp.status_code == 503 and resp.json()["service"] == "assets", resp.text


def test_the_402_body_and_the_tx_object_are_in_the_contract(document: dict[str, Any]) -> None:
    purchase = document["paths"]["/api/v1/assets/{asset_id}/purchase"]["post"]["responses"]
    assert purchase["402"]["content"] == {"application/problem+json": {"schema": {
        "$ref": "#/components/schemas/Problem"}}}
    assert "202" not in purchase and {"200", "201"} <= set(purchase)
    problem = document["components"]["schemas"]["Problem"]["properties"]
    assert {"required_wei", "available_wei", "shortfall_wei", "required", "available"} <= set(problem)
    tx = document["components"]["schemas"]["Tx"]
    assert set(tx["required"]) == {"from", "to", "data", "value", "chainId", "gas", "maxFeePerGas",
                                   "maxPriorityFeePerGas", "nonce"}
    assert all(tx["properties"][n]["type"] == "integer"
               for n in ("value", "chainId", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"))
    purchase_out = document["components"]["schemas"]["PurchaseOut"]["properties"]
    assert purchase_out["state"]["enum"] == ["awaiting_payment", "submitted", "completed", "failed"]
    assert "listed" not in document["components"]["schemas"]["AssetPatch"]["properties"]
    paid = document["paths"]["/api/v1/assets/{asset_id}/purchases/{purchase_id}/transaction"]["post"]["responses"]
    assert "202" in paid and {"400", "403", "404", "409"} <= set(paid)


class _Exhausted(grpc.aio.AioRpcError):
    def __init__(self, details: str, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.aio.Metadata(), grpc.aio.Metadata(*metadata),
                         details)


@pytest.mark.parametrize(("details", "metadata", "seconds"), [
    ("wallet 0xab relayed recently; retry in 42 s", (), 42),
    ("retry in 1.2 seconds", (), 2),
    ("retry_after=17", (), 17),
    ("cooldown", (("retry-after", "30"),), 30),
    ("cooldown, no number", (), 60),
    ("retry in 0 s", (), 1),
])
def test_the_relay_cooldown_retry_after_comes_from_the_chain_service(details: str,
                                                                     metadata: tuple[tuple[str, str], ...],
                                                                     seconds: int) -> None:
    assert retry_after_seconds(_Exhausted(details, metadata)) == seconds
