"""The REST surface through the real gateway app (JWT verified against the auth
service's JWKS, problem+json errors) in front of an assets replica, auth and chain.

Users sign in through the gateway with their own wallet (`ipheron_libs.wallet.Wallet`,
SIWE), sign their listings (EIP-712) and their payments (EIP-1559) with it, as a browser
wallet would; money comes from the development faucet and moves on the embedded EVM."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import make_cid
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_gateway.app import create_app
from ipheron_gateway.config import GatewaySettings
from ipheron_libs.testing import wait_until_async
from ipheron_libs.wallet import Wallet

WEI = 10**18
SETTLE_S = 90.0  # the sale is recorded when the chain's indexer sees it; polled, never slept on


@pytest.fixture()
async def api(replica, auth_server, chain_server, ai_server, redis_url,  # type: ignore[no-untyped-def]
              monkeypatch) -> AsyncIterator[httpx.AsyncClient]:
    # Every user here signs in from one address; the limits themselves are proven in gateway/tests.
    monkeypatch.setenv("GATEWAY_RATELIMIT_AUTH", "100000/minute")
    monkeypatch.setenv("GATEWAY_RATELIMIT_ASSET_WRITES", "100000/minute")
    monkeypatch.setenv("GATEWAY_RATELIMIT_TRANSACTIONS", "100000/minute")
    settings = GatewaySettings(auth_addr=auth_server, assets_addr=f"127.0.0.1:{replica.runtime.port}",
                               chain_addr=chain_server, ai_agents_addr=ai_server[0], redis_url=redis_url,
                               upstream_timeout=30)
    app = create_app(settings)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client):
        yield client


@dataclass(frozen=True)
class Person:
    """A user signed in through the gateway with their own wallet."""

    wallet: Wallet
    id: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_in(api: httpx.AsyncClient, wallet: Wallet | None = None) -> Person:
    wallet = wallet or Wallet.create()
    nonce = await api.post("/api/v1/auth/nonce", json={"address": wallet.address})
    assert nonce.status_code == 200, nonce.text
    message = nonce.json()["message"]
    login = await api.post("/api/v1/auth/login", json={"message": message, "signature": wallet.sign_siwe(message)})
    assert login.status_code == 200, login.text
    return Person(wallet, login.json()["user"]["id"], login.json()["access_token"])


def auth(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {user.access_token}"}


def problem(resp: httpx.Response, status: int) -> dict:  # type: ignore[type-arg]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()  # type: ignore[no-any-return]


def body(creators, **fields):  # type: ignore[no-untyped-def]
    doc = {"name": "Field Recording", "asset_type": "music", "price": "1.25", "royalty_rate": "10",
           "metadata": {"description": "rain on a tin roof"}, "utility_features": ["stems"], "region": "EU",
           "ipfs_hash": make_cid(), "creators": [{"user_id": u.id, "share_percent": s} for u, s in creators]}
    doc.update(fields)
    return doc


async def register(api: httpx.AsyncClient, creators: list[tuple[Person, str]], **fields: Any) -> dict[str, Any]:
    created = await api.post("/api/v1/assets", json=body(creators, **fields), headers=creators[0][0].headers)
    assert created.status_code == 201, created.text
    asset: dict[str, Any] = created.json()
    assert asset["status"] == "active" and asset["token_id"], asset
    return asset


async def typed_data(api: httpx.AsyncClient, owner: Person, asset_id: str, price: str, **params: Any) -> dict[str, Any]:
    resp = await api.get(f"/api/v1/assets/{asset_id}/listing/typed-data", params={"price": price, **params},
                         headers=owner.headers)
    assert resp.status_code == 200, resp.text
    document: dict[str, Any] = resp.json()["typed_data"]
    return document


async def put_listing(api: httpx.AsyncClient, owner: Person, asset_id: str, document: dict[str, Any],
                      signature: str) -> httpx.Response:
    return await api.put(f"/api/v1/assets/{asset_id}/listing", headers=owner.headers,
                         json={"order": document["message"], "signature": signature})


async def list_for_sale(api: httpx.AsyncClient, owner: Person, asset_id: str, price: str) -> dict[str, Any]:
    document = await typed_data(api, owner, asset_id, price)
    put = await put_listing(api, owner, asset_id, document, owner.wallet.sign_typed_data(document))
    assert put.status_code == 200, put.text
    listing: dict[str, Any] = put.json()["listing"]
    return listing


async def fund(api: httpx.AsyncClient, person: Person, eth: str) -> int:
    resp = await api.post("/api/v1/dev/faucet", json={"address": person.wallet.address, "amount": eth})
    assert resp.status_code == 200, resp.text
    return int(resp.json()["balance_wei"])


async def balances(api: httpx.AsyncClient, address: str) -> dict[str, Any]:
    resp = await api.get(f"/api/v1/chain/balances/{address}")
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def start_purchase(api: httpx.AsyncClient, buyer: Person, asset_id: str, key: str) -> httpx.Response:
    return await api.post(f"/api/v1/assets/{asset_id}/purchase", headers=buyer.headers | {"Idempotency-Key": key})


async def pay(api: httpx.AsyncClient, payer: Person, purchase: dict[str, Any], **payment: str) -> httpx.Response:
    payment = payment or {"raw_transaction": payer.wallet.sign_transaction(purchase["transaction"])}
    return await api.post(f"/api/v1/assets/{purchase['asset_id']}/purchases/{purchase['id']}/transaction",
                          json=payment, headers=payer.headers)


async def settled(api: httpx.AsyncClient, buyer: Person, purchase: dict[str, Any]) -> dict[str, Any]:
    """Poll the purchase until the chain's record of the sale completes it (or it fails)."""
    if purchase["state"] in ("completed", "failed"):
        return purchase
    url = f"/api/v1/assets/{purchase['asset_id']}/purchases/{purchase['id']}"

    async def finished() -> dict[str, Any] | None:
        resp = await api.get(url, headers=buyer.headers)
        assert resp.status_code == 200, resp.text
        current: dict[str, Any] = resp.json()
        return current if current["state"] in ("completed", "failed") else None

    return await wait_until_async(finished, SETTLE_S, interval=0.1,
                                  message=f"purchase {purchase['id']} neither completed nor failed")


def expected_tx(tx: dict[str, Any]) -> chain_pb.PreparedTransaction:
    return chain_pb.PreparedTransaction(
        from_address=tx["from"], to=tx["to"] or "", data=tx["data"], value_wei=str(tx["value"]),
        chain_id=tx["chainId"], gas=tx["gas"], max_fee_per_gas_wei=str(tx["maxFeePerGas"]),
        max_priority_fee_per_gas_wei=str(tx["maxPriorityFeePerGas"]), nonce=tx["nonce"])


# ---------------------------------------------------------------- catalogue


async def test_register_browse_and_edit_through_the_gateway(api, risk) -> None:  # type: ignore[no-untyped-def]
    alice, bob, carol = await sign_in(api), await sign_in(api), await sign_in(api)
    asset = await register(api, [(alice, "50"), (bob, "25"), (carol, "25")])
    assert len(asset["creators"]) == 3 and asset["listed"] is False and asset["listing"] is None
    assert asset["owner_wallet"].lower() == alice.wallet.address.lower()

    listed = (await api.get("/api/v1/assets", params={"creator": bob.id, "q": "rain", "sort": "-price"})).json()
    assert [a["id"] for a in listed["items"]] == [asset["id"]] and listed["total"] == 1
    assert (await api.get(f"/api/v1/assets/{asset['id']}")).json()["name"] == "Field Recording"

    problem(await api.patch(f"/api/v1/assets/{asset['id']}", json={"price": "0.01"}, headers=bob.headers), 403)
    problem(await api.patch(f"/api/v1/assets/{asset['id']}", json={"name": "x"}, headers=alice.headers), 422)
    # Listing is by signed order only: "listed" is not writable.
    refused = problem(await api.patch(f"/api/v1/assets/{asset['id']}", json={"listed": True},
                                      headers=alice.headers), 422)
    assert "listed" in {e["field"] for e in refused["errors"]}
    patched = await api.patch(f"/api/v1/assets/{asset['id']}", json={"price": "2"}, headers=alice.headers)
    assert patched.status_code == 200 and patched.json()["price"] == "2" and patched.json()["listed"] is False

    suggestion = await api.get(f"/api/v1/assets/{asset['id']}/price-suggestion")
    assert suggestion.status_code == 200 and suggestion.json()["suggested"] == "2.000000"
    assert suggestion.json()["rules"][0]["module"] == "pricing"


async def test_gateway_maps_conflicts_and_bad_input_to_problems(api, risk) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await sign_in(api), await sign_in(api)
    problem(await api.post("/api/v1/assets", json=body([(alice, "100")])), 401)
    doc = body([(alice, "100")])
    first = await api.post("/api/v1/assets", json=doc, headers=alice.headers)
    assert first.status_code == 201
    dup = problem(await api.post("/api/v1/assets", json=body([(bob, "100")], ipfs_hash=doc["ipfs_hash"]),
                                 headers=bob.headers), 409)
    assert first.json()["id"] in dup["detail"]
    problem(await api.post("/api/v1/assets", json=body([(alice, "60"), (bob, "30")]), headers=alice.headers), 422)
    problem(await api.post("/api/v1/assets", json=body([(alice, "100")], price=1.5), headers=alice.headers), 422)
    bad_cid = problem(await api.post("/api/v1/assets", json=body([(alice, "100")], ipfs_hash="Qm" + "x" * 44),
                                     headers=alice.headers), 400)
    assert "CID" in bad_cid["detail"]
    problem(await api.post("/api/v1/assets", json=body([(bob, "100")]), headers=alice.headers), 400)
    problem(await api.get("/api/v1/assets", params={"per_page": 101}), 422)
    problem(await api.get("/api/v1/assets/00000000-0000-0000-0000-000000000000"), 404)
    own = first.json()["id"]
    missing = problem(await api.post(f"/api/v1/assets/{own}/purchase", headers=bob.headers), 400)
    assert "Idempotency-Key" in missing["detail"]
    problem(await api.post(f"/api/v1/assets/{own}/purchase", headers=bob.headers | {"Idempotency-Key": "x"}), 400)
    # Not listed: nothing to buy.
    problem(await start_purchase(api, bob, own, "not-listed-1"), 409)


# ---------------------------------------------------------------- signed listings


async def test_listing_round_trip_typed_data_sign_put_get_for_sale_delete(api, risk) -> None:  # type: ignore[no-untyped-def]
    alice = await sign_in(api)
    asset = await register(api, [(alice, "100")])
    aid = asset["id"]
    document = await typed_data(api, alice, aid, "0.5", duration_seconds=3600)
    assert document["primaryType"] == "Order" and {"EIP712Domain", "Order"} <= set(document["types"])
    message = document["message"]
    assert message["seller"].lower() == alice.wallet.address.lower() and message["price"] == str(WEI // 2)
    assert message["tokenId"] == asset["token_id"]
    assert int(message["endTime"]) - int(message["startTime"]) <= 3600 + 60

    put = await put_listing(api, alice, aid, document, alice.wallet.sign_typed_data(document))
    assert put.status_code == 200, put.text
    listing = put.json()["listing"]
    assert put.json()["cancel_transaction"] is None  # nothing superseded
    assert listing["state"] == "active" and listing["price"] == "0.5" and listing["price_wei"] == str(WEI // 2)
    assert listing["order"] == message and listing["seller_wallet"].lower() == alice.wallet.address.lower()
    assert listing["order_hash"].startswith("0x") and len(listing["order_hash"]) == 66

    got = await api.get(f"/api/v1/assets/{aid}/listing")
    assert got.status_code == 200 and got.json()["listing"]["order_hash"] == listing["order_hash"]
    shown = (await api.get(f"/api/v1/assets/{aid}")).json()
    assert shown["listed"] is True and shown["price"] == "0.5"
    assert shown["listing"]["order_hash"] == listing["order_hash"]
    for_sale = (await api.get("/api/v1/assets", params={"creator": alice.id, "for_sale": "true"})).json()
    not_for_sale = (await api.get("/api/v1/assets", params={"creator": alice.id, "for_sale": "false"})).json()
    assert [a["id"] for a in for_sale["items"]] == [aid] and not_for_sale["items"] == []

    # A new price is a new signed order: the old one is superseded, its cancel transaction answered.
    second = await typed_data(api, alice, aid, "0.75")
    replaced = await put_listing(api, alice, aid, second, alice.wallet.sign_typed_data(second))
    assert replaced.status_code == 200, replaced.text
    cancel = replaced.json()["cancel_transaction"]
    assert cancel is not None and cancel["from"].lower() == alice.wallet.address.lower() and cancel["value"] == 0
    assert replaced.json()["listing"]["price"] == "0.75"

    deleted = await api.delete(f"/api/v1/assets/{aid}/listing", headers=alice.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["listing"]["state"] == "cancelled"
    tx = deleted.json()["cancel_transaction"]
    assert tx["from"].lower() == alice.wallet.address.lower() and isinstance(tx["nonce"], int)
    after = (await api.get(f"/api/v1/assets/{aid}")).json()
    assert after["listed"] is False
    not_for_sale = (await api.get("/api/v1/assets", params={"creator": alice.id, "for_sale": "false"})).json()
    assert [a["id"] for a in not_for_sale["items"]] == [aid]
    current = await api.get(f"/api/v1/assets/{aid}/listing")
    assert current.status_code == 404 or current.json()["listing"]["state"] != "active", current.text
    problem(await api.delete(f"/api/v1/assets/{aid}/listing", headers=alice.headers), 404)


async def test_only_the_owner_lists_and_only_with_a_valid_signature(api, risk) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await sign_in(api), await sign_in(api)
    asset = await register(api, [(alice, "100")])
    aid = asset["id"]
    problem(await api.get(f"/api/v1/assets/{aid}/listing/typed-data", params={"price": "1"},
                          headers=bob.headers), 403)
    problem(await api.get(f"/api/v1/assets/{aid}/listing/typed-data", params={"price": "1"}), 401)
    problem(await api.get(f"/api/v1/assets/{aid}/listing/typed-data", params={"price": "0"},
                          headers=alice.headers), 422)
    problem(await api.get(f"/api/v1/assets/{uuid.uuid4()}/listing/typed-data", params={"price": "1"},
                          headers=alice.headers), 404)
    document = await typed_data(api, alice, aid, "1")

    # Signed by someone else than the order's seller: an invalid signature.
    problem(await put_listing(api, alice, aid, document, bob.wallet.sign_typed_data(document)), 400)
    problem(await put_listing(api, alice, aid, document, "0x" + "11" * 65), 400)
    # The message changed after signing (a lower price): the signature no longer matches.
    signature = alice.wallet.sign_typed_data(document)
    cheaper = {**document, "message": {**document["message"], "price": "1"}}
    problem(await put_listing(api, alice, aid, cheaper, signature), 400)
    # A correct order, handed in by someone who does not own the asset.
    problem(await put_listing(api, bob, aid, document, signature), 403)
    # An order whose seller is not the owner, validly signed by that seller.
    forged = {**document, "message": {**document["message"], "seller": bob.wallet.address}}
    problem(await put_listing(api, alice, aid, forged, bob.wallet.sign_typed_data(forged)), 403)
    assert (await api.get(f"/api/v1/assets/{aid}")).json()["listed"] is False
    problem(await api.get(f"/api/v1/assets/{aid}/listing"), 404)
    problem(await api.delete(f"/api/v1/assets/{aid}/listing", headers=bob.headers), 403)

    put = await put_listing(api, alice, aid, document, signature)
    assert put.status_code == 200, put.text
    problem(await api.delete(f"/api/v1/assets/{aid}/listing", headers=bob.headers), 403)


# ---------------------------------------------------------------- buyer-paid purchases


async def test_a_wallet_without_funds_gets_402_with_the_amounts_and_nothing_is_reserved(api, risk) -> None:  # type: ignore[no-untyped-def]
    alice, poor = await sign_in(api), await sign_in(api)
    asset = await register(api, [(alice, "100")])
    listing = await list_for_sale(api, alice, asset["id"], "0.25")
    own = problem(await start_purchase(api, alice, asset["id"], "own-asset-1"), 409)
    assert "own" in own["detail"]
    refused = await start_purchase(api, poor, asset["id"], "poor-buyer-1")
    body_ = problem(refused, 402)
    required, available, shortfall = (int(body_[k]) for k in ("required_wei", "available_wei", "shortfall_wei"))
    assert available == 0 and shortfall == required - available and required > int(listing["price_wei"])
    assert body_["price_wei"] == listing["price_wei"]
    assert Decimal(body_["required"]) * WEI == required and body_["available"] == "0"
    assert body_["title"] == "Payment Required" and body_["instance"].endswith("/purchase")
    after = (await api.get(f"/api/v1/assets/{asset['id']}")).json()
    assert after["reserved"] is False and after["listed"] is True
    assert (await api.get(f"/api/v1/assets/{asset['id']}/listing")).json()["listing"]["state"] == "active"


async def test_a_funded_buyer_pays_from_its_own_wallet_and_the_sale_is_recorded(api, chain_stub, risk) -> None:  # type: ignore[no-untyped-def]
    alice, bob, buyer = await sign_in(api), await sign_in(api), await sign_in(api)
    asset = await register(api, [(alice, "80"), (bob, "20")])
    aid = asset["id"]
    listing = await list_for_sale(api, alice, aid, "0.5")
    before = int((await balances(api, buyer.wallet.address))["native_balance_wei"])
    assert before == 0
    funded = await fund(api, buyer, "2")
    seller_pending = int((await balances(api, alice.wallet.address))["pending_withdrawal_wei"])

    started = await start_purchase(api, buyer, aid, "buy-field-rec-1")
    assert started.status_code == 201, started.text
    purchase = started.json()
    assert purchase["state"] == "awaiting_payment" and purchase["price"] == "0.5"
    assert purchase["price_wei"] == listing["price_wei"] and purchase["order_hash"] == listing["order_hash"]
    assert purchase["expires_at"].endswith("Z") and purchase["buyer_user_id"] == buyer.id
    tx = purchase["transaction"]
    assert tx["from"].lower() == buyer.wallet.address.lower() and tx["value"] == WEI // 2
    assert all(isinstance(tx[k], int) for k in ("chainId", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"))
    replay = await start_purchase(api, buyer, aid, "buy-field-rec-1")
    assert replay.status_code == 200 and replay.json()["id"] == purchase["id"] and replay.json()["replayed"]
    assert replay.headers["Idempotent-Replayed"] == "true"

    # Someone else cannot pay (or take over) this purchase.
    problem(await pay(api, alice, purchase, raw_transaction=alice.wallet.sign_transaction(
        {**tx, "from": alice.wallet.address})), 403)
    # Not the prepared call: a different value.
    problem(await pay(api, buyer, purchase, raw_transaction=buyer.wallet.sign_transaction({**tx, "value": 1})), 400)
    problem(await pay(api, buyer, {**purchase, "asset_id": str(uuid.uuid4())}), 404)
    problem(await pay(api, buyer, {**purchase, "id": str(uuid.uuid4())}), 404)

    submitted = await pay(api, buyer, purchase)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["state"] in ("submitted", "completed") and submitted.json()["tx_hash"]
    done = await settled(api, buyer, submitted.json())
    assert done["state"] == "completed", done
    assert done["block_number"] and done["tx_hash"] == submitted.json()["tx_hash"]
    seen = await api.get(f"/api/v1/assets/{aid}/purchases/{purchase['id']}", headers=alice.headers)
    assert seen.status_code == 200 and seen.json()["state"] == "completed"
    problem(await api.get(f"/api/v1/assets/{aid}/purchases/{purchase['id']}", headers=bob.headers), 404)

    # The buyer paid exactly price + gas; the token is the buyer's; the listing is filled.
    receipt = (await api.get(f"/api/v1/chain/tx/{done['tx_hash']}")).json()["receipt"]
    gas = receipt["gas_used"] * int(receipt["effective_gas_price_wei"])
    assert int((await balances(api, buyer.wallet.address))["native_balance_wei"]) == funded - WEI // 2 - gas
    owned = (await api.get(f"/api/v1/assets/{aid}")).json()
    assert owned["owner_user_id"] == buyer.id and owned["listed"] is False
    current = await api.get(f"/api/v1/assets/{aid}/listing")  # after the sale: the listing it filled
    assert current.status_code == 200 and current.json()["listing"]["state"] == "filled", current.text
    assert int((await balances(api, alice.wallet.address))["pending_withdrawal_wei"]) > seller_pending
    trail = (await api.get(f"/api/v1/assets/{aid}/provenance")).json()["entries"]
    assert [e["kind"] for e in trail][:2] == ["mint", "sale"] and trail[1]["tx_hash"] == done["tx_hash"]
    assert trail[1]["price"] == "0.5" and trail[1]["purchase_id"] == purchase["id"]
    # Paid already: handing in the payment again does not pay twice.
    again = await pay(api, buyer, purchase)
    assert again.status_code in (202, 409), again.text
    assert int((await balances(api, buyer.wallet.address))["native_balance_wei"]) == funded - WEI // 2 - gas


async def test_a_buyer_that_broadcast_itself_reports_the_hash(api, chain_stub, risk) -> None:  # type: ignore[no-untyped-def]
    alice, buyer = await sign_in(api), await sign_in(api)
    asset = await register(api, [(alice, "100")])
    await list_for_sale(api, alice, asset["id"], "0.1")
    await fund(api, buyer, "1")
    purchase = (await start_purchase(api, buyer, asset["id"], "broadcast-self-1")).json()
    problem(await pay(api, buyer, purchase, tx_hash="0x" + "ab" * 32), 404)  # the node does not know it
    # The wallet broadcasts on its own (here through the chain service, as any node would).
    raw = buyer.wallet.sign_transaction(purchase["transaction"])
    sent = await chain_stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=expected_tx(purchase["transaction"])))
    reported = await pay(api, buyer, purchase, tx_hash=sent.tx_hash)
    assert reported.status_code == 202, reported.text
    assert reported.json()["tx_hash"] == sent.tx_hash
    done = await settled(api, buyer, reported.json())
    assert done["state"] == "completed", done
    assert (await api.get(f"/api/v1/assets/{asset['id']}")).json()["owner_user_id"] == buyer.id


async def test_a_payment_under_another_assets_path_or_from_anyone_but_the_buyer_sends_nothing(  # type: ignore[no-untyped-def]
        api, risk) -> None:
    alice, buyer, stranger = await sign_in(api), await sign_in(api), await sign_in(api)
    asset = await register(api, [(alice, "100")])
    other = await register(api, [(alice, "100")])
    await list_for_sale(api, alice, asset["id"], "0.1")
    await fund(api, buyer, "1")
    purchase = (await start_purchase(api, buyer, asset["id"], "pay-guard-1")).json()
    raw = buyer.wallet.sign_transaction(purchase["transaction"])
    # The right purchase id under another asset's path: not found, whoever asks.
    problem(await api.post(f"/api/v1/assets/{other['id']}/purchases/{purchase['id']}/transaction",
                           json={"raw_transaction": raw}, headers=buyer.headers), 404)
    # Somebody else's purchase: not found (its existence is not told); the seller's hand-in: 403.
    problem(await pay(api, stranger, purchase, raw_transaction=raw), 404)
    problem(await pay(api, alice, purchase, raw_transaction=raw), 403)
    still = await api.get(f"/api/v1/assets/{asset['id']}/purchases/{purchase['id']}", headers=buyer.headers)
    assert still.json()["state"] == "awaiting_payment" and not still.json()["tx_hash"], still.text
    # Nothing was broadcast: the buyer's own hand-in of the same transaction is the first.
    paid = await pay(api, buyer, purchase, raw_transaction=raw)
    assert paid.status_code == 202, paid.text
    assert (await settled(api, buyer, paid.json()))["state"] == "completed"


async def test_two_buyers_for_one_order_one_sale_and_one_409(api, risk) -> None:  # type: ignore[no-untyped-def]
    alice, first, second = await sign_in(api), await sign_in(api), await sign_in(api)
    asset = await register(api, [(alice, "100")])
    await list_for_sale(api, alice, asset["id"], "0.1")
    await fund(api, first, "1")
    await fund(api, second, "1")
    a = (await start_purchase(api, first, asset["id"], "race-first-1")).json()
    b_start = await start_purchase(api, second, asset["id"], "race-second-1")
    assert b_start.status_code == 201, b_start.text  # nothing is reserved until someone pays
    b = b_start.json()
    won = await settled(api, first, (await pay(api, first, a)).json())
    assert won["state"] == "completed", won
    late = await pay(api, second, b)
    if late.status_code == 202:  # handed in before the service knew: the chain refuses it
        lost = await settled(api, second, late.json())
        assert lost["state"] == "failed" and lost["failure_code"] == "ABORTED", lost
    else:
        problem(late, 409)
        lost = (await api.get(f"/api/v1/assets/{asset['id']}/purchases/{b['id']}", headers=second.headers)).json()
        assert lost["state"] in ("failed", "awaiting_payment"), lost
    assert (await api.get(f"/api/v1/assets/{asset['id']}")).json()["owner_user_id"] == first.id


# ---------------------------------------------------------------- files


async def test_files_upload_serve_and_attach_through_the_gateway(api, new_user, risk) -> None:  # type: ignore[no-untyped-def]
    alice = await new_user()
    content = b"<html><script>alert(1)</script></html>" + alice.id.encode()
    up = await api.post("/api/v1/files", params={"filename": "page.html"}, content=content,
                        headers=auth(alice) | {"Content-Type": "text/html"})
    assert up.status_code == 201, up.text
    cid = up.json()["cid"]
    assert (await api.post("/api/v1/files", content=content, headers=auth(alice))).status_code == 200
    problem(await api.post("/api/v1/files", content=b"x" * (4 * 1024 * 1024 + 1), headers=auth(alice)), 413)
    problem(await api.post("/api/v1/files", content=b"x"), 401)

    served = await api.get(f"/api/v1/files/{cid}")
    assert served.status_code == 200 and served.content == content
    # An uploaded page is never rendered on our origin.
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment")
    assert (
        served.headers["x-content-type-options"] == "nosniff"
        and "sandbox" in served.headers["content-security-policy"]
    )
    assert (await api.get(f"/api/v1/files/{cid}", headers={"If-None-Match": f'"{cid}"'})).status_code == 304
    problem(await api.get("/api/v1/files/bafkreinothere"), 404)

    created = await api.post("/api/v1/assets", json=body([(alice, "100")], ipfs_hash=cid), headers=auth(alice))
    assert created.status_code == 201, created.text
    asset_id = created.json()["id"]
    attached = await api.post(f"/api/v1/assets/{asset_id}/files", json={"cid": cid}, headers=auth(alice))
    assert attached.status_code == 200 and attached.json()["file_cids"] == [cid]
