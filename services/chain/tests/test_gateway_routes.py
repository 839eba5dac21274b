"""The gateway's /api/v1/chain routes against a real chain service over gRPC (port 0):
status, a transaction with its receipt, balances, withdrawal (the payee's own withdraw()
signed by its wallet, or the platform's relayed withdrawFor with its cooldown), the
development faucet, and problem+json errors. Credits come from real sales: a seller signs an
order, a buyer's own wallet pays for it.
The caller sends a real access token, checked by the gateway's own verifier against a
test key set served over the auth service's GetJwks RPC; nothing is overridden."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from chain_service.server import FULL_NAME
from chain_service.servicer import ChainServicer
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_gateway.prepared import eth, tx_out
from ipheron_gateway.testing import TokenIssuer, serve_jwks
from ipheron_libs import grpc_server
from ipheron_libs.devstack_ports import free_port
from ipheron_libs.testing import wait_until_async
from ipheron_libs.wallet import Wallet

ISSUER = TokenIssuer()


@pytest.fixture(scope="module")
async def chain_addr(chain) -> AsyncIterator[str]:
    servicer = ChainServicer(chain)
    server, port, health = grpc_server.build_server(
        "chain", lambda s: pb_grpc.add_ChainServiceServicer_to_server(servicer, s), [FULL_NAME], port=0)
    await grpc_server.start(server, health)
    yield f"127.0.0.1:{port}"
    await grpc_server.stop(server, health, grace=0.5)


@pytest.fixture(scope="module")
async def stub(chain_addr: str) -> AsyncIterator[pb_grpc.ChainServiceStub]:
    channel = grpc.aio.insecure_channel(chain_addr)
    yield pb_grpc.ChainServiceStub(channel)
    await channel.close()


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


async def _mined(stub: pb_grpc.ChainServiceStub, tx_hash: str) -> pb.Transaction:
    async def confirmed() -> pb.Transaction | None:
        t = (await stub.GetTransaction(pb.GetTransactionRequest(tx_hash=tx_hash))).transaction
        return t if t.status in (pb.TRANSACTION_STATUS_CONFIRMED, pb.TRANSACTION_STATUS_FAILED) else None

    t = await wait_until_async(confirmed, 60, interval=0.1, message=f"{tx_hash} mined")
    assert t.status == pb.TRANSACTION_STATUS_CONFIRMED, t
    return t


async def _signed_and_sent(stub: pb_grpc.ChainServiceStub, wallet: Wallet, tx: dict[str, Any]) -> pb.Transaction:
    """What a wallet does with a Tx object: sign it, hand the raw bytes to the chain service, wait."""
    expected = pb.PreparedTransaction(
        from_address=tx["from"], to=tx["to"] or "", data=tx["data"], value_wei=str(tx["value"]),
        chain_id=tx["chainId"], gas=tx["gas"], max_fee_per_gas_wei=str(tx["maxFeePerGas"]),
        max_priority_fee_per_gas_wei=str(tx["maxPriorityFeePerGas"]), nonce=tx["nonce"])
    sent = await stub.SubmitRawTransaction(pb.SubmitRawTransactionRequest(
        raw_transaction=wallet.sign_transaction(tx), expected=expected))
    return await _mined(stub, sent.tx_hash)


async def _credit(stub: pb_grpc.ChainServiceStub, payee: Wallet, price_wei: int) -> None:
    """A real sale whose royalty (50 %, all to `payee`) credits `payee` price / 2: a fresh seller
    signs an order for a fresh token, a fresh funded buyer pays for it from its own wallet."""
    seller, buyer = Wallet.create(), Wallet.create()
    await stub.Faucet(pb.FaucetRequest(address=buyer.address, amount_wei=str(10**18)))
    minted = await stub.MintAsset(pb.MintAssetRequest(
        asset_id=str(uuid.uuid4()), owner_address=seller.address, token_uri="ipfs://gw",
        co_creators=[pb.CoCreator(address=payee.address, share_bps=10_000)], royalty_bps=5_000))
    await _mined(stub, minted.transaction.tx_hash)
    order = await stub.BuildOrder(pb.BuildOrderRequest(token_id=minted.token_id, seller=seller.address,
                                                       price_wei=str(price_wei)))
    signature = seller.sign_typed_data(order.typed_data_json)
    fill = await stub.PrepareFulfill(pb.PrepareFulfillRequest(order_json=order.order_json, signature=signature,
                                                              buyer=buyer.address))
    await _signed_and_sent(stub, buyer, tx_out(fill.prepared.transaction))


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()  # type: ignore[no-any-return]


async def test_withdraw_prepares_the_payees_own_withdraw_which_pays_its_wallet_exactly(client, stub) -> None:
    payee = Wallet.create()
    await stub.Faucet(pb.FaucetRequest(address=payee.address, amount_wei=str(10**17)))  # for the gas
    await _credit(stub, payee, 2_000)
    me = ISSUER.headers(str(uuid.uuid4()), payee.address.lower())
    before = (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()
    assert before["pending_withdrawal_wei"] == "1000"

    assert (await client.post("/api/v1/chain/withdraw")).status_code == 401
    forged = TokenIssuer(kid=ISSUER.kid).headers("x", payee.address)  # same kid, another key
    assert (await client.post("/api/v1/chain/withdraw", headers=forged)).status_code == 401
    prepared = await client.post("/api/v1/chain/withdraw", headers=me, json={})
    assert prepared.status_code == 200, prepared.text
    body = prepared.json()
    assert body["relayed"] is False and body["pending_withdrawal_wei"] == "1000"
    assert body["pending_withdrawal"] == "0.000000000000001"
    tx = body["transaction"]
    status = (await client.get("/api/v1/chain/status")).json()
    assert tx["from"].lower() == payee.address.lower() and tx["to"].lower() == status["marketplace_address"].lower()
    assert tx["value"] == 0 and tx["chainId"] == status["chain_id"] and tx["data"].startswith("0x")
    assert all(isinstance(tx[k], int) for k in ("gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"))

    mined = await _signed_and_sent(stub, payee, tx)
    gas = mined.receipt.gas_used * int(mined.receipt.effective_gas_price_wei)
    after = (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()
    assert after["pending_withdrawal_wei"] == "0"
    assert int(after["native_balance_wei"]) == int(before["native_balance_wei"]) + 1000 - gas

    nothing = _problem(await client.post("/api/v1/chain/withdraw", headers=me, json={}), 409)
    assert "nothing to withdraw" in nothing["detail"]


async def test_withdraw_relay_pays_the_gas_once_per_cooldown(client, stub) -> None:
    payee = Wallet.create()  # holds no ETH at all: the platform pays the gas
    await _credit(stub, payee, 3_000)
    me = ISSUER.headers(str(uuid.uuid4()), payee.address)
    headers = me | {"Idempotency-Key": "relay-" + uuid.uuid4().hex}
    first = await client.post("/api/v1/chain/withdraw", headers=headers, json={"relay": True})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["relayed"] is True and body["transaction"]["type"] == "withdraw"
    assert body["results"] == [{"address": payee.address, "amount_wei": "1500", "succeeded": True}]
    retry = await client.post("/api/v1/chain/withdraw", headers=headers, json={"relay": True})
    assert retry.status_code == 200 and retry.json() == body  # the same key: the same withdrawal
    balance = (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()
    assert balance["pending_withdrawal_wei"] == "0" and balance["native_balance_wei"] == "1500"

    await _credit(stub, payee, 1_000)
    limited = await client.post("/api/v1/chain/withdraw", headers=me, json={"relay": True})
    refusal = _problem(limited, 429)
    seconds = int(limited.headers["Retry-After"])
    assert 0 < seconds <= 3600 and f"{seconds} s" in refusal["detail"]
    # The cooldown is the relay's only: the payee's own withdraw() is still prepared, once its
    # wallet can pay the gas (1,500 wei cannot: 402).
    assert (await client.post("/api/v1/chain/withdraw", headers=me)).status_code == 402
    await stub.Faucet(pb.FaucetRequest(address=payee.address, amount_wei=str(10**17)))
    own = await client.post("/api/v1/chain/withdraw", headers=me)
    assert own.status_code == 200 and own.json()["pending_withdrawal_wei"] == "500", own.text


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


async def _mined_via_gateway(client: httpx.AsyncClient, tx_hash: str) -> dict[str, Any]:
    """Poll GET /chain/tx/{hash} as a client would, until the transaction is mined."""
    async def mined() -> dict[str, Any] | None:
        t = (await client.get(f"/api/v1/chain/tx/{tx_hash}")).json()
        return t if t.get("status") in ("confirmed", "failed") else None

    t = await wait_until_async(mined, 60, interval=0.1, message=f"{tx_hash} mined")
    assert t["status"] == "confirmed", t
    return t


async def _credited_payee(client: httpx.AsyncClient, stub: pb_grpc.ChainServiceStub, price_wei: int,
                          gas_wei: int) -> tuple[Wallet, dict[str, str]]:
    payee = Wallet.create()
    if gas_wei:
        await stub.Faucet(pb.FaucetRequest(address=payee.address, amount_wei=str(gas_wei)))
    await _credit(stub, payee, price_wei)
    return payee, ISSUER.headers(str(uuid.uuid4()), payee.address.lower())


async def test_signed_withdraw_handed_in_through_the_gateway_pays_the_payee_exactly(client, stub) -> None:
    payee, me = await _credited_payee(client, stub, 4_000, 10**17)
    before = (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()
    assert before["pending_withdrawal_wei"] == "2000"
    prepared = await client.post("/api/v1/chain/withdraw", headers=me, json={})
    assert prepared.status_code == 200, prepared.text
    tx = prepared.json()["transaction"]
    assert tx["data"] == "0x3ccfd60b"  # withdraw()
    raw = payee.sign_transaction(tx)

    assert (await client.post("/api/v1/chain/withdraw/transaction", json={"raw_transaction": raw})).status_code == 401
    handed = await client.post("/api/v1/chain/withdraw/transaction", headers=me, json={"raw_transaction": raw})
    assert handed.status_code == 202, handed.text
    body = handed.json()
    t = body["transaction"]
    assert body["tx_hash"] == t["tx_hash"] and t["type"] == "withdraw"
    assert t["from_address"].lower() == payee.address.lower() and t["nonce"] == tx["nonce"]

    mined = await _mined_via_gateway(client, body["tx_hash"])
    gas = mined["receipt"]["gas_used"] * int(mined["receipt"]["effective_gas_price_wei"])
    after = (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()
    assert after["pending_withdrawal_wei"] == "0"
    assert int(after["native_balance_wei"]) == int(before["native_balance_wei"]) + 2000 - gas
    again = await client.post("/api/v1/chain/withdraw/transaction", headers=me, json={"raw_transaction": raw})
    assert again.status_code == 202 and again.json()["tx_hash"] == body["tx_hash"]  # nothing sent twice
    assert again.json()["transaction"]["status"] == "confirmed"


async def test_withdraw_handed_in_with_nothing_pending_or_a_used_nonce_is_a_conflict(client, stub) -> None:
    payee, me = await _credited_payee(client, stub, 2_000, 10**17)
    tx = (await client.post("/api/v1/chain/withdraw", headers=me, json={})).json()["transaction"]
    first = await client.post("/api/v1/chain/withdraw/transaction", headers=me,
                              json={"raw_transaction": payee.sign_transaction(tx)})
    assert first.status_code == 202, first.text
    await _mined_via_gateway(client, first.json()["tx_hash"])
    native = (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()["native_balance_wei"]
    # Nothing pending: a further withdraw() would only revert and burn gas, so nothing is sent.
    nothing = _problem(await client.post("/api/v1/chain/withdraw/transaction", headers=me, json={
        "raw_transaction": payee.sign_transaction(tx | {"nonce": tx["nonce"] + 1})}), 409)
    assert "nothing to withdraw" in nothing["detail"]
    assert (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()["native_balance_wei"] == native
    # Credited again, a withdraw() reusing the spent nonce is refused by the node: the wallet's to fix.
    await _credit(stub, payee, 2_000)
    used = _problem(await client.post("/api/v1/chain/withdraw/transaction", headers=me, json={
        "raw_transaction": payee.sign_transaction(tx | {"gas": tx["gas"] + 1})}), 409)
    assert f"nonce {tx['nonce']}" in used["detail"]
    assert (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()["pending_withdrawal_wei"] == "1000"


async def test_withdraw_with_the_wallets_own_fees_and_gas_is_accepted(client, stub) -> None:
    payee, me = await _credited_payee(client, stub, 2_000, 10**17)
    tx = (await client.post("/api/v1/chain/withdraw", headers=me, json={})).json()["transaction"]
    own = tx | {"gas": tx["gas"] + 10_000, "maxFeePerGas": tx["maxFeePerGas"] * 2,
                "maxPriorityFeePerGas": tx["maxPriorityFeePerGas"] + 1}
    handed = await client.post("/api/v1/chain/withdraw/transaction", headers=me,
                               json={"raw_transaction": payee.sign_transaction(own)})
    assert handed.status_code == 202, handed.text
    await _mined_via_gateway(client, handed.json()["tx_hash"])
    assert (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()["pending_withdrawal_wei"] == "0"


async def test_handed_in_withdraw_signed_by_another_wallet_is_forbidden(client, stub) -> None:
    payee, me = await _credited_payee(client, stub, 2_000, 10**17)
    tx = (await client.post("/api/v1/chain/withdraw", headers=me, json={})).json()["transaction"]
    other = Wallet.create()
    raw = other.sign_transaction(tx | {"from": other.address})
    refused = _problem(await client.post("/api/v1/chain/withdraw/transaction", headers=me,
                                         json={"raw_transaction": raw}), 403)
    assert other.address.lower() in refused["detail"].lower()
    assert (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()["pending_withdrawal_wei"] == "1000"


async def test_handed_in_transaction_that_is_not_withdraw_is_refused(client, stub) -> None:
    payee, me = await _credited_payee(client, stub, 2_000, 10**17)
    tx = (await client.post("/api/v1/chain/withdraw", headers=me, json={})).json()["transaction"]
    transfer = tx | {"data": "0x", "value": 1}  # a plain transfer to the marketplace
    refused = _problem(await client.post("/api/v1/chain/withdraw/transaction", headers=me,
                                         json={"raw_transaction": payee.sign_transaction(transfer)}), 400)
    assert "not the prepared call" in refused["detail"]
    elsewhere = tx | {"to": "0x" + "3" * 40}
    _problem(await client.post("/api/v1/chain/withdraw/transaction", headers=me,
                               json={"raw_transaction": payee.sign_transaction(elsewhere)}), 400)
    assert (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()["pending_withdrawal_wei"] == "1000"


@pytest.mark.parametrize("body", [{"raw_transaction": "0x123"}, {"raw_transaction": "0xzz"},
                                  {"raw_transaction": "02f8"}, {"raw_transaction": "0x"}, {},
                                  {"raw_transaction": "0x02", "tx_hash": "0x" + "1" * 64}])
async def test_malformed_withdraw_transaction_is_unprocessable(client, body: dict[str, Any]) -> None:
    me = ISSUER.headers(str(uuid.uuid4()), Wallet.create().address.lower())
    _problem(await client.post("/api/v1/chain/withdraw/transaction", headers=me, json=body), 422)


async def test_withdraw_from_a_wallet_without_gas_money_is_402_then_relay_pays(client, stub) -> None:
    payee, me = await _credited_payee(client, stub, 6_000, 0)
    short = _problem(await client.post("/api/v1/chain/withdraw", headers=me, json={}), 402)
    required = int(short["required_wei"])
    assert required > 0 and short["available_wei"] == "0" and short["shortfall_wei"] == str(required)
    assert short["required"] == eth(required) and short["shortfall"] == eth(required)
    assert short["available"] == "0" and "price_wei" not in short
    assert '{"relay": true}' in short["detail"]

    relayed = await client.post("/api/v1/chain/withdraw", headers=me, json={"relay": True})
    assert relayed.status_code == 200, relayed.text
    assert relayed.json()["results"] == [{"address": payee.address, "amount_wei": "3000", "succeeded": True}]
    balance = (await client.get(f"/api/v1/chain/balances/{payee.address}")).json()
    assert balance["pending_withdrawal_wei"] == "0" and balance["native_balance_wei"] == "3000"


def test_withdraw_call_data_is_the_withdraw_selector() -> None:
    from eth_utils import function_signature_to_4byte_selector
    from ipheron_gateway.routers.chain import WITHDRAW_CALL_DATA

    assert WITHDRAW_CALL_DATA == "0x3ccfd60b" == "0x" + function_signature_to_4byte_selector("withdraw()").hex()
