"""The gateway's /api/v1/chain routes against a real chain service over gRPC (port 0):
status, a transaction with its receipt, balances, withdrawal, and problem+json errors.
The caller sends a real access token, checked by the gateway's own verifier against a
test key set served over the auth service's GetJwks RPC; nothing is overridden."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from chain_service.server import FULL_NAME
from chain_service.servicer import ChainServicer
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_gateway.testing import TokenIssuer, serve_jwks
from ipheron_libs import grpc_server
from ipheron_libs.devstack_ports import free_port

ISSUER = TokenIssuer()


@pytest.fixture(scope="module")
async def chain_addr(chain) -> AsyncIterator[str]:
    servicer = ChainServicer(chain)
    server, port, health = grpc_server.build_server(
        "chain", lambda s: pb_grpc.add_ChainServiceServicer_to_server(servicer, s), [FULL_NAME], port=0)
    await grpc_server.start(server, health)
    yield f"127.0.0.1:{port}"
    await grpc_server.stop(server, health, grace=0.5)


@pytest.fixture()
async def client(chain_addr: str, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    addrs = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES if s not in ("chain", "auth")}
    async with serve_jwks(ISSUER) as auth_addr:
        settings = GatewaySettings(chain_addr=chain_addr, auth_addr=auth_addr, redis_url=redis_url,  # type: ignore[arg-type]
                                   upstream_timeout=30, **addrs)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(f"10.9.{uuid.uuid4().int % 250}.1", 5555))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                yield c


async def test_chain_status_and_transaction_with_receipt(client, chain, users) -> None:
    status = await client.get("/api/v1/chain/status")
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["chain_id"] == chain.chain_id and body["network"] == "embedded" and body["healthy"]
    assert body["marketplace_address"] == chain.market.address

    minted = await chain.mint(str(uuid.uuid4()), users[0].address, "u", [(users[1].address, 10_000)], 500)
    tx = await client.get(f"/api/v1/chain/tx/{minted.tx.record.tx_hash}")
    assert tx.status_code == 200, tx.text
    t = tx.json()
    assert (t["type"], t["status"], t["token_id"]) == ("mint", "confirmed", minted.token_id)
    assert t["receipt"]["succeeded"] and any(e["name"] == "AssetMinted" for e in t["receipt"]["events"])
    assert t["block_number"] and t["gas_used"] and t["block_time"].endswith("Z")


async def test_unknown_or_malformed_transaction_is_a_problem(client) -> None:
    missing = await client.get("/api/v1/chain/tx/0x" + "cd" * 32)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    malformed = await client.get("/api/v1/chain/tx/0x1234")
    assert malformed.status_code in (400, 422)


async def test_balances_and_withdraw_to_own_wallet(client, chain, users) -> None:
    asset = str(uuid.uuid4())
    minted = await chain.mint(asset, users[0].address, "u", [(users[6].address, 10_000)], 5000)
    await chain.list_token(minted.token_id, "1000")
    await chain.buy(minted.token_id, users[4].address, "1000", "gw-" + asset)
    bal = (await client.get(f"/api/v1/chain/balances/{users[6].address.lower()}")).json()
    owed = int(bal["pending_withdrawal_wei"])
    assert owed >= 500 and bal["address"] == users[6].address and "." in bal["native_balance_eth"]

    assert (await client.post("/api/v1/chain/withdraw")).status_code == 401
    forged = TokenIssuer(kid=ISSUER.kid).headers("u6", users[6].address)  # same kid, another key
    assert (await client.post("/api/v1/chain/withdraw", headers=forged)).status_code == 401
    me = ISSUER.headers("u6", users[6].address)
    done = await client.post("/api/v1/chain/withdraw", headers=me)
    assert done.status_code == 200, done.text
    assert done.json()["results"] == [{"address": users[6].address, "amount_wei": str(owed), "succeeded": True}]
    again = await client.post("/api/v1/chain/withdraw", headers=me)
    assert again.status_code == 400 and "no payee has a pending balance" in again.json()["detail"]
    # With an Idempotency-Key a retry returns the first withdrawal instead.
    await chain.list_token(minted.token_id, "2000")
    await chain.buy(minted.token_id, users[5].address, "2000", "gw2-" + asset)
    headers = me | {"Idempotency-Key": "wd-" + asset}
    first = await client.post("/api/v1/chain/withdraw", headers=headers)
    retry = await client.post("/api/v1/chain/withdraw", headers=headers)
    assert first.status_code == retry.status_code == 200, first.text
    assert first.json() == retry.json() and first.json()["results"][0]["amount_wei"] == "1000"
    assert (await client.get(f"/api/v1/chain/balances/{users[6].address}")).json()["pending_withdrawal_wei"] == "0"


async def test_dev_faucet_funds_a_fresh_wallet_with_exact_wei(client, chain) -> None:
    from eth_account import Account

    wallet = Account.create().address
    funded = await client.post("/api/v1/dev/faucet", json={"address": wallet, "amount": "2.5"})
    assert funded.status_code == 200, funded.text
    body = funded.json()
    assert body["amount_wei"] == str(25 * 10**17) and body["balance_wei"] == str(25 * 10**17)
    balance = (await client.get(f"/api/v1/chain/balances/{wallet}")).json()
    assert balance["native_balance_wei"] == str(25 * 10**17)


@pytest.mark.parametrize(("amount", "status"), [("0", 422), ("1e3", 422), ("-1", 422),
                                                ("0.0000000000000000001", 422), ("101", 400)])
async def test_dev_faucet_refuses_bad_amounts_with_a_problem(client, amount: str, status: int) -> None:
    resp = await client.post("/api/v1/dev/faucet", json={"address": "0x" + "2" * 40, "amount": amount})
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
