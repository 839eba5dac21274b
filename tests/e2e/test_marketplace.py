"""The non-custodial marketplace end to end through the public REST API, every service a
real process, every key a real wallet (`ipheron_libs.wallet.Wallet`, which signs as a
browser wallet does).

A creator registers a co-created asset: it is minted to the creator's own wallet and is not
for sale until the creator signs a listing (EIP-712) and puts it. A wallet holding 0 ETH is
answered 402 with the amounts, and nothing is reserved. Funded by the development faucet,
the buyer pays from its own wallet (purchase → sign the prepared transaction → hand in the raw
bytes → the chain's indexer records the sale): the buyer's balance falls by exactly the price
plus gas used × effective gas price, the seller and each co-creator are credited their exact
wei, provenance, analytics and the creators' profiles show the sale, and the platform signer's
balance is untouched. Two buyers racing for one order: one sale, the other refused. The seller
withdraws with its own `withdraw()` transaction. A payment broadcast while the assets service
is down is recorded once it is back. Registration bad paths and the cross-replica cache too.

Expected amounts are computed here from the documented contract rules (services/chain/
CONTRACTS.md, "Money: splits and rounding"), never taken from the service's answers.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
import pytest
from helpers import Session, sign_in
from ipheron.assets.v1 import assets_service_pb2 as assets_pb
from ipheron.assets.v1 import assets_service_pb2_grpc as assets_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron_devstack import market
from ipheron_devstack.stack import ServiceSpec, Stack
from ipheron_libs.devstack_ports import free_port
from ipheron_libs.testing import wait_until

log = logging.getLogger("e2e.marketplace")
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
WEI = 10**18
PROBLEM = "application/problem+json"
DEADLINE_S = 90.0

# ------------------------------------------------------------------ helpers (also used by other e2e files)


def wei(eth: str) -> int:
    value = Decimal(eth) * WEI
    assert value == value.to_integral_value(), eth
    return int(value)


def is_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["detail"], body
    assert "Traceback" not in resp.text
    return body


def problem_names_field(body: dict[str, Any], field: str) -> bool:
    """The problem points at `field`: in its structured errors, or in the message."""
    fields = [e.get("field", "") for e in body.get("errors", [])]
    messages = [body["detail"], *(e.get("message", "") for e in body.get("errors", []))]
    return any(field in f for f in fields) or any(field in m for m in messages)


def asset_body(creators: list[tuple[Session, str]], *, price: str = "1", royalty: str = "10",
               content: bytes | None = None, name: str | None = None) -> dict[str, Any]:
    body = market.asset_body(creators, price=price, royalty=royalty, name=name,
                             description="an original end-to-end test composition")
    if content is not None:
        body["ipfs_hash"] = market.cid_v1(content)
    return body


def create_active_asset(api: httpx.Client, lead: Session, body: dict[str, Any]) -> dict[str, Any]:
    """Registered and minted (to the lead creator's wallet); not for sale."""
    return market.register(api, lead, body)


def listed_asset(api: httpx.Client, seller: Session, price: str) -> dict[str, Any]:
    """A new asset of `seller` alone, minted and listed for sale at `price` under its signature."""
    asset = create_active_asset(api, seller, asset_body([(seller, "100")], price=price))
    market.list_for_sale(api, seller, asset["id"], price)
    return asset


def purchase(api: httpx.Client, buyer: Session, asset_id: str, key: str) -> httpx.Response:
    return market.start_purchase(api, buyer, asset_id, key)


def wait_purchase(api: httpx.Client, buyer: Session, first: httpx.Response) -> dict[str, Any]:
    """A purchase answered awaiting_payment is paid from the buyer's own wallet (sign, hand in the
    raw transaction), then polled until the chain's record completes it."""
    assert first.status_code in (200, 201, 202), first.text
    p: dict[str, Any] = first.json()
    if p["state"] == "awaiting_payment":
        paid = market.submit_payment(api, buyer, p)
        assert paid.status_code == 202, paid.text
        p = paid.json()
    p = market.wait_purchase(api, buyer, p, timeout=DEADLINE_S)
    assert p["state"] == "completed", p
    return p


def funded(api: httpx.Client, n: int, eth: str = "10") -> list[Session]:
    """n new signed-in users whose wallets hold `eth` each (development faucet)."""
    users = sign_in_many(api, n)
    for u in users:
        market.fund(api, u.address, eth)
    return users


def sign_in_many(api: httpx.Client, n: int) -> list[Session]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: sign_in(api), range(n)))


@contextmanager
def chain_stub(stack: Stack, identity: str = "operator") -> Iterator[chain_grpc.ChainServiceStub]:
    """The chain service's gRPC API, straight (what the gateway does not expose), presenting
    `identity`'s certificate: the chain admits each RPC only to the callers its allow-list names."""
    with stack.channel("chain", identity) as ch:
        yield chain_grpc.ChainServiceStub(ch)


def chain_owner(stack: Stack, token_id: str) -> str:
    with chain_stub(stack) as stub:
        return str(stub.GetToken(chain_pb.GetTokenRequest(token_id=int(token_id)), timeout=10).owner_address).lower()


def prepared_pb(tx: dict[str, Any]) -> chain_pb.PreparedTransaction:
    """The gateway's Tx object back in the chain service's wire form."""
    return chain_pb.PreparedTransaction(
        from_address=tx["from"], to=tx["to"] or "", data=tx["data"], value_wei=str(tx["value"]),
        chain_id=tx["chainId"], gas=tx["gas"], max_fee_per_gas_wei=str(tx["maxFeePerGas"]),
        max_priority_fee_per_gas_wei=str(tx["maxPriorityFeePerGas"]), nonce=tx["nonce"])


def broadcast(stack: Stack, raw: str, tx: dict[str, Any], kind: int) -> str:
    """Hand a user-signed raw transaction to the chain service (as a wallet broadcasting it
    itself would); its hash."""
    with chain_stub(stack) as stub:
        r = stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
            raw_transaction=raw, expected=prepared_pb(tx), type=kind), timeout=30)
    return str(r.tx_hash)


def wait_mined(api: httpx.Client, tx_hash: str) -> dict[str, Any]:
    def mined() -> dict[str, Any] | None:
        r = api.get(f"/api/v1/chain/tx/{tx_hash}")
        if r.status_code != 200:
            return None
        tx: dict[str, Any] = r.json()
        return tx if tx["status"] in ("confirmed", "failed") and tx["receipt"] else None

    result: dict[str, Any] = wait_until(mined, DEADLINE_S, interval=0.2, message=f"{tx_hash} mined")
    return result


def expected_payouts(price_wei: int, royalty_bps: int, shares_bps: list[int]) -> tuple[int, list[int]]:
    """CONTRACTS.md: royalty floor(price x bps / 10,000); each co-creator floor(royalty x share /
    10,000); the rounding remainder to the FIRST co-creator; no fee by default; the seller gets
    price - royalty."""
    royalty = price_wei * royalty_bps // 10_000
    parts = [royalty * s // 10_000 for s in shares_bps]
    parts[0] += royalty - sum(parts)
    return price_wei - royalty, parts


def signer_address(api: httpx.Client) -> str:
    return str(market.expect(api.get("/api/v1/chain/status"), "chain status")["signer_address"])


def for_sale_ids(api: httpx.Client, creator: Session, for_sale: bool) -> set[str]:
    page = market.expect(api.get("/api/v1/assets", params={"creator": creator.id,
                                                          "for_sale": str(for_sale).lower()}), "list assets")
    return {a["id"] for a in page["items"]}


# ------------------------------------------------------------------ the sale scenario


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as c:
        yield c


# A price whose 10 % royalty is not a whole wei, and whose split leaves a remainder.
SALE_PRICE = "1.234567890123456789"
ROYALTY_BPS = 1000


@dataclass
class Sale:
    """One co-created asset listed, refused to a penniless wallet, then sold once; what was
    observed at each step, for the tests below."""

    creators: list[tuple[Session, int]]  # in the asset's order, with basis points
    seller: Session
    buyer: Session
    minted: dict[str, Any]  # the asset once minted, before any listing
    minted_owner: str  # the token's owner on chain then
    listing_before: httpx.Response  # GET listing before one was signed
    for_sale_before: tuple[set[str], set[str]]  # ids for_sale=true / false
    listing: dict[str, Any]  # what PUT answered
    for_sale_after: tuple[set[str], set[str]]
    poor: httpx.Response  # the 0-ETH purchase
    after_poor: dict[str, Any]  # the asset after it
    listing_after_poor: dict[str, Any]
    prepared: dict[str, Any]  # 201 awaiting_payment
    submitted: httpx.Response
    purchase: dict[str, Any]  # completed
    key: str
    buyer_before: int
    buyer_after: int
    signer_before: int
    signer_after: int
    sale_tx: dict[str, Any]


@pytest.fixture(scope="module")
def sale(client: httpx.Client, stack: Stack) -> Sale:
    alice, bob, carol, dave = sign_in_many(client, 4)
    # Bob is listed first, so the rounding remainder is his, not the seller's (Alice).
    creators = [(bob, 5000), (alice, 3000), (carol, 2000)]
    body = asset_body([(s, str(Decimal(bps) / 100)) for s, bps in creators], price=SALE_PRICE, royalty="10")
    minted = create_active_asset(client, alice, body)
    aid = minted["id"]
    minted_owner = chain_owner(stack, minted["token_id"])
    listing_before = client.get(f"/api/v1/assets/{aid}/listing")
    for_sale_before = for_sale_ids(client, alice, True), for_sale_ids(client, alice, False)

    document = market.listing_typed_data(client, alice, aid, SALE_PRICE)
    put = market.put_listing(client, alice, aid, document)
    assert put.status_code == 200, put.text
    for_sale_after = for_sale_ids(client, alice, True), for_sale_ids(client, alice, False)

    # Dave's new wallet holds nothing.
    poor = purchase(client, dave, aid, f"e2e-poor-{uuid.uuid4().hex}")
    after_poor = client.get(f"/api/v1/assets/{aid}").json()
    listing_after_poor = client.get(f"/api/v1/assets/{aid}/listing").json()

    market.fund(client, dave.address, "5")
    signer = signer_address(client)
    buyer_before = market.native_wei(client, dave.address)
    signer_before = market.native_wei(client, signer)
    key = f"e2e-sale-{uuid.uuid4().hex}"
    first = purchase(client, dave, aid, key)
    assert first.status_code == 201, first.text
    prepared = first.json()
    submitted = market.submit_payment(client, dave, prepared)
    assert submitted.status_code == 202, submitted.text
    done = market.wait_purchase(client, dave, submitted.json(), timeout=DEADLINE_S)
    assert done["state"] == "completed", done
    buyer_after = market.native_wei(client, dave.address)
    signer_after = market.native_wei(client, signer)
    return Sale(creators, alice, dave, minted, minted_owner, listing_before, for_sale_before, put.json(),
                for_sale_after, poor, after_poor, listing_after_poor, prepared, submitted, done, key, buyer_before,
                buyer_after, signer_before, signer_after, market.chain_tx(client, done["tx_hash"]))


def test_a_new_asset_is_minted_to_its_creator_and_for_sale_only_under_the_listing_the_creator_signed(
        sale: Sale) -> None:
    minted, seller = sale.minted, sale.seller
    assert minted["owner_user_id"] == seller.id
    assert minted["owner_wallet"].lower() == seller.address.lower()
    assert sale.minted_owner == seller.address.lower()
    # Not for sale until signed.
    assert minted["listed"] is False
    is_problem(sale.listing_before, 404)
    assert minted["id"] in sale.for_sale_before[1] and minted["id"] not in sale.for_sale_before[0]
    # The signed order is stored as signed, at the price asked, by the owner's wallet.
    listing = sale.listing["listing"]
    assert listing["state"] == "active" and listing["asset_id"] == minted["id"]
    assert listing["seller_wallet"].lower() == seller.address.lower()
    assert int(listing["price_wei"]) == wei(SALE_PRICE) and Decimal(listing["price"]) == Decimal(SALE_PRICE)
    assert int(listing["order"]["price"]) == wei(SALE_PRICE) and str(listing["order"]["tokenId"]) == minted["token_id"]
    assert listing["order"]["seller"].lower() == seller.address.lower()
    assert listing["signature"].startswith("0x") and listing["order_hash"].startswith("0x")
    assert sale.listing["cancel_transaction"] is None  # nothing superseded
    assert minted["id"] in sale.for_sale_after[0] and minted["id"] not in sale.for_sale_after[1]
    # The purchase fills exactly that order.
    assert sale.prepared["order_hash"] == listing["order_hash"]


def test_a_wallet_without_funds_is_answered_402_with_the_amounts_and_nothing_is_reserved(sale: Sale) -> None:
    body = is_problem(sale.poor, 402)
    required, available, shortfall = (int(body[k]) for k in ("required_wei", "available_wei", "shortfall_wei"))
    assert available == 0 and shortfall == required > wei(SALE_PRICE), body  # the price and the gas
    assert Decimal(body["required"]) * WEI == required and Decimal(body["available"]) == 0
    assert sale.after_poor["reserved"] is False and sale.after_poor["listed"] is True
    assert sale.listing_after_poor["listing"]["state"] == "active"
    assert sale.listing_after_poor["listing"]["order_hash"] == sale.listing["listing"]["order_hash"]


def test_the_buyer_pays_exactly_price_plus_gas_from_its_own_wallet_and_the_platform_pays_nothing(
        client: httpx.Client, sale: Sale) -> None:
    tx, prepared = sale.prepared["transaction"], sale.prepared
    # What the wallet signed: the buyer's own call, paying the price, in JSON-RPC names.
    assert prepared["state"] == "awaiting_payment" and prepared["expires_at"]
    assert tx["from"].lower() == sale.buyer.address.lower() and tx["value"] == wei(SALE_PRICE)
    assert int(prepared["price_wei"]) == wei(SALE_PRICE)
    for name in ("value", "chainId", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"):
        assert isinstance(tx[name], int), (name, tx)
    assert sale.submitted.json()["state"] in ("submitted", "completed")
    receipt = sale.sale_tx["receipt"]
    assert receipt["succeeded"] and sale.sale_tx["status"] == "confirmed", sale.sale_tx
    assert sale.sale_tx["from_address"].lower() == sale.buyer.address.lower()
    gas = int(receipt["gas_used"]) * int(receipt["effective_gas_price_wei"])
    assert gas > 0
    assert sale.buyer_before - sale.buyer_after == wei(SALE_PRICE) + gas
    assert sale.signer_after == sale.signer_before, "the platform signer paid for (or was paid by) the sale"
    # The token is the buyer's, in the catalog and on chain.
    asset = client.get(f"/api/v1/assets/{sale.minted['id']}").json()
    assert asset["owner_user_id"] == sale.buyer.id and asset["owner_wallet"].lower() == sale.buyer.address.lower()
    assert asset["listed"] is False and asset["reserved"] is False
    # The asset's listing now shows the order the sale filled.
    after = client.get(f"/api/v1/assets/{sale.minted['id']}/listing")
    assert after.status_code == 200 and after.json()["listing"]["state"] == "filled", after.text


def test_the_seller_and_each_co_creator_are_credited_their_exact_wei(client: httpx.Client, sale: Sale) -> None:
    price_wei = wei(SALE_PRICE)
    proceeds, parts = expected_payouts(price_wei, ROYALTY_BPS, [bps for _, bps in sale.creators])
    royalty = price_wei * ROYALTY_BPS // 10_000
    assert price_wei * ROYALTY_BPS % 10_000 != 0, "the royalty must not be a whole wei for this test"
    assert parts[0] > royalty * sale.creators[0][1] // 10_000, "this price leaves no rounding remainder to check"
    expected: dict[str, int] = {}
    for (s, _), part in zip(sale.creators, parts, strict=True):
        expected[s.address.lower()] = expected.get(s.address.lower(), 0) + part
    expected[sale.seller.address.lower()] += proceeds
    assert sum(expected.values()) == price_wei  # nothing lost, nothing invented
    for address, amount in expected.items():
        b = market.balances(client, address)
        assert int(b["pending_withdrawal_wei"]) == amount, (address, b, expected)
        assert Decimal(b["pending_withdrawal_eth"]) * WEI == amount
    assert market.pending_wei(client, sale.buyer.address) == 0


def test_provenance_analytics_and_the_creators_profiles_show_the_sale(client: httpx.Client, sale: Sale) -> None:
    aid = sale.minted["id"]
    entries = market.expect(client.get(f"/api/v1/assets/{aid}/provenance"), "provenance")["entries"]
    kinds = [e["kind"] for e in entries]
    assert kinds[0] == "mint" and kinds.count("sale") == 1, entries
    assert entries[0]["tx_hash"] == sale.minted["mint_tx_hash"]
    [sold] = [e for e in entries if e["kind"] == "sale"]
    assert sold["tx_hash"] == sale.purchase["tx_hash"] and Decimal(sold["price"]) == Decimal(SALE_PRICE)
    assert sold["from_wallet"].lower() == sale.seller.address.lower()
    assert sold["to_wallet"].lower() == sale.buyer.address.lower()
    assert sold["block_number"] == sale.sale_tx["block_number"]
    blocks = [e["block_number"] for e in entries]
    assert blocks == sorted(blocks) and blocks[0] < sold["block_number"], entries
    # The contract's own Sold event is in the receipt, at the price.
    events = [ev for ev in sale.sale_tx["receipt"]["events"] if ev["name"] == "Sold"]
    assert len(events) == 1 and int(events[0]["args"]["price"]) == wei(SALE_PRICE), sale.sale_tx["receipt"]

    def performance() -> dict[str, Any] | None:
        body = market.expect(client.get(f"/api/v1/analytics/assets/{aid}/performance"), "performance")
        return body if body["total_sales"] == 1 else None

    perf = wait_until(performance, DEADLINE_S, interval=0.2, message="analytics counted the sale")
    assert Decimal(perf["total_volume"]) == Decimal(SALE_PRICE)
    def profile(user: Session) -> dict[str, Any]:
        return market.expect(client.get(f"/api/v1/users/{user.id}"), "profile")

    for s, bps in sale.creators:
        # Attributed sales volume: price x share, rounded down to auth's 6 decimals.
        share = (Decimal(SALE_PRICE) * bps / 10_000).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
        counted = wait_until(lambda s=s: Decimal(profile(s)["total_sales"]) > 0, DEADLINE_S, interval=0.2,
                             message=f"{s.id}'s profile counted the sale")
        assert counted
        assert Decimal(profile(s)["total_sales"]) == share and profile(s)["total_assets_created"] == 1
    buyer = profile(sale.buyer)
    assert Decimal(buyer["total_sales"]) == 0 and buyer["total_assets_created"] == 0


def test_the_same_idempotency_key_replays_the_purchase_without_a_second_payment(
        client: httpx.Client, sale: Sale) -> None:
    credited = market.pending_wei(client, sale.seller.address)
    again = purchase(client, sale.buyer, sale.minted["id"], sale.key)
    assert again.status_code == 200, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    body = again.json()
    assert body["id"] == sale.purchase["id"] and body["state"] == "completed"
    assert body["tx_hash"] == sale.purchase["tx_hash"]
    # Handing the same signed payment in again answers the completed purchase and moves nothing.
    resubmitted = market.submit_payment(client, sale.buyer, sale.prepared)
    assert resubmitted.status_code == 202, resubmitted.text
    assert resubmitted.json()["state"] == "completed" and resubmitted.json()["tx_hash"] == sale.purchase["tx_hash"]
    assert market.pending_wei(client, sale.seller.address) == credited
    assert market.native_wei(client, sale.buyer.address) == sale.buyer_after


def test_the_seller_withdraws_its_credit_with_its_own_transaction(
        client: httpx.Client, stack: Stack, sale: Sale) -> None:
    seller = sale.seller
    pending = market.pending_wei(client, seller.address)
    assert pending > 0
    # Its own transaction needs gas: the seller's wallet holds a little ETH of its own.
    market.fund(client, seller.address, "0.1")
    before = market.native_wei(client, seller.address)
    resp = client.post("/api/v1/chain/withdraw", headers=seller.headers, json={})
    assert resp.status_code == 200, resp.text
    w = resp.json()
    assert int(w["pending_withdrawal_wei"]) == pending and Decimal(w["pending_withdrawal"]) * WEI == pending
    tx = w["transaction"]
    assert tx["from"].lower() == seller.address.lower() and tx["value"] == 0
    raw = seller.wallet.sign_transaction(tx)
    tx_hash = broadcast(stack, raw, tx, chain_pb.TRANSACTION_TYPE_WITHDRAW)
    mined = wait_mined(client, tx_hash)
    assert mined["status"] == "confirmed" and mined["receipt"]["succeeded"], mined
    after = market.balances(client, seller.address)
    assert int(after["pending_withdrawal_wei"]) == 0
    assert int(after["native_balance_wei"]) == before + pending - market.gas_cost_wei(mined)
    # Nothing left: a second withdrawal is a 409 problem, not a transaction.
    is_problem(client.post("/api/v1/chain/withdraw", headers=seller.headers, json={}), 409)


# ------------------------------------------------------------------ listings only by the owner's signature


def test_a_listing_is_refused_unless_the_owner_signed_it(client: httpx.Client) -> None:
    owner, stranger = sign_in_many(client, 2)
    asset = create_active_asset(client, owner, asset_body([(owner, "100")], price="1"))
    aid = asset["id"]
    is_problem(client.get(f"/api/v1/assets/{aid}/listing/typed-data", params={"price": "1"},
                          headers=stranger.headers), 403)
    document = market.listing_typed_data(client, owner, aid, "1")
    # The owner's document signed by another key: an invalid signature.
    is_problem(market.put_listing(client, owner, aid, document, stranger.wallet.sign_typed_data(document)), 400)
    # The stranger putting the owner's (validly signed) order: not theirs to list.
    is_problem(market.put_listing(client, stranger, aid, document, owner.wallet.sign_typed_data(document)), 403)
    # A tampered price no longer matches the signature.
    tampered = {**document, "message": {**document["message"], "price": "1"}}
    is_problem(market.put_listing(client, owner, aid, tampered, owner.wallet.sign_typed_data(document)), 400)
    is_problem(client.get(f"/api/v1/assets/{aid}/listing"), 404)
    assert client.get(f"/api/v1/assets/{aid}").json()["listed"] is False


# ------------------------------------------------------------------ one order, two buyers


def test_two_buyers_racing_for_one_order_make_one_sale_and_the_other_is_refused(
        client: httpx.Client, stack: Stack) -> None:
    seller, *buyers = funded(client, 3, "2")
    seller_pending = market.pending_wei(client, seller.address)
    asset = listed_asset(client, seller, "0.5")
    starts = [purchase(client, b, asset["id"], f"race-{uuid.uuid4().hex}") for b in buyers]
    assert [r.status_code for r in starts] == [201, 201], [r.text for r in starts]
    before = {b.address: market.native_wei(client, b.address) for b in buyers}

    def pay(pair: tuple[Session, httpx.Response]) -> httpx.Response:
        return market.submit_payment(client, pair[0], pair[1].json())

    with ThreadPoolExecutor(max_workers=2) as pool:
        submits = list(pool.map(pay, zip(buyers, starts, strict=True)))
    outcomes: list[tuple[Session, dict[str, Any]]] = []
    for b, start, sub in zip(buyers, starts, submits, strict=True):
        if sub.status_code == 202:
            outcomes.append((b, market.wait_purchase(client, b, sub.json(), timeout=DEADLINE_S)))
        else:
            body = is_problem(sub, 409)
            log.info("race loser refused at submit: %s", body)
            outcomes.append((b, market.get_purchase(client, b, start.json())))
    states = sorted(p["state"] for _, p in outcomes)
    assert states == ["completed", "failed"], outcomes
    (winner, won), = [(b, p) for b, p in outcomes if p["state"] == "completed"]
    (loser, lost), = [(b, p) for b, p in outcomes if p["state"] == "failed"]
    assert lost["failure_reason"] and lost["failure_code"] == "ABORTED", lost
    # The second hand-in of the lost purchase is a 409 too.
    again = client.post(f"/api/v1/assets/{asset['id']}/purchases/{lost['id']}/transaction",
                        json={"raw_transaction": loser.wallet.sign_transaction(lost["transaction"])},
                        headers=loser.headers)
    is_problem(again, 409)

    after = client.get(f"/api/v1/assets/{asset['id']}").json()
    assert after["owner_user_id"] == winner.id and after["owner_wallet"].lower() == winner.address.lower()
    assert chain_owner(stack, asset["token_id"]) == winner.address.lower()
    assert market.pending_wei(client, seller.address) - seller_pending == wei("0.5")  # paid once
    sales = [e for e in client.get(f"/api/v1/assets/{asset['id']}/provenance").json()["entries"] if e["kind"] == "sale"]
    assert len(sales) == 1 and sales[0]["tx_hash"] == won["tx_hash"]
    # The loser paid no price: at most the gas of its own reverted transaction, if it was mined.
    spent = before[loser.address] - market.native_wei(client, loser.address)
    gas = market.gas_cost_wei(market.chain_tx(client, lost["tx_hash"])) if lost.get("tx_hash") else 0
    assert spent == gas, (spent, gas, lost)


def test_a_long_poll_answers_once_the_sale_is_recorded_and_an_unpaid_purchase_when_its_wait_ends(
        client: httpx.Client) -> None:
    seller, buyer = funded(client, 2, "2")
    asset = listed_asset(client, seller, "0.25")
    start = purchase(client, buyer, asset["id"], f"long-poll-{uuid.uuid4().hex}")
    assert start.status_code == 201, start.text
    url = f"/api/v1/assets/{asset['id']}/purchases/{start.json()['id']}"
    # Unpaid, nothing changes: answered as it is once the wait is over, the preference echoed.
    t0 = time.monotonic()
    unpaid = client.get(url, headers={**buyer.headers, "Prefer": "wait=1"})
    assert unpaid.status_code == 200 and unpaid.json()["state"] == "awaiting_payment", unpaid.text
    assert unpaid.headers["Preference-Applied"] == "wait=1" and time.monotonic() - t0 >= 0.9
    # Without the preference (or with one the gateway does not understand) it answers at once.
    for headers in (buyer.headers, {**buyer.headers, "Prefer": "wait=soon"}):
        plain = client.get(url, headers=headers)
        assert plain.status_code == 200 and "Preference-Applied" not in plain.headers, plain.headers
    # Paid: one long poll is answered with the recorded sale.
    paid = market.submit_payment(client, buyer, start.json())
    assert paid.status_code == 202, paid.text
    done = client.get(url, headers={**buyer.headers, "Prefer": f"wait={int(DEADLINE_S)}"}, timeout=DEADLINE_S + 30)
    assert done.status_code == 200 and done.json()["state"] == "completed", done.text
    assert done.json()["tx_hash"] == paid.json()["tx_hash"]
    # Someone else still gets a 404, waiting or not.
    stranger = sign_in(client)
    is_problem(client.get(url, headers={**stranger.headers, "Prefer": "wait=5"}), 404)


def test_the_bench_lean_client_buys_end_to_end_and_reads_problems_like_httpx(
        client: httpx.Client, stack: Stack) -> None:
    """`market.LeanClient` (what `make bench` times purchases with) drives the same steps as httpx."""
    seller, buyer = funded(client, 2, "2")
    asset = listed_asset(client, seller, "0.15")
    lean = market.LeanClient(stack.gateway_url)
    done = market.buy(lean, buyer, asset["id"])
    assert done["state"] == "completed" and done["tx_hash"].startswith("0x")
    assert client.get(f"/api/v1/assets/{asset['id']}").json()["owner_wallet"].lower() == buyer.address.lower()
    # A problem answer: status, case-insensitive headers and JSON body, as httpx gives them.
    missing = lean.get(f"/api/v1/assets/{asset['id']}/purchases/{uuid.uuid4()}", headers=buyer.headers)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["status"] == 404
    with pytest.raises(market.ApiError, match="404"):
        market.expect(missing, "an unknown purchase")


# ------------------------------------------------------------------ a crash between broadcast and record


def test_a_payment_broadcast_while_assets_is_down_is_recorded_once_after_it_restarts(
        client: httpx.Client, stack: Stack) -> None:
    seller, buyer = funded(client, 2, "2")
    asset = listed_asset(client, seller, "0.75")
    first = purchase(client, buyer, asset["id"], f"crash-{uuid.uuid4().hex}")
    assert first.status_code == 201, first.text
    prepared = first.json()
    raw = buyer.wallet.sign_transaction(prepared["transaction"])
    stack.kill("assets")  # SIGKILL: no shutdown of any kind
    try:
        # The buyer's wallet broadcasts it itself; the chain mines it and indexes the sale
        # while nobody is there to record it.
        tx_hash = broadcast(stack, raw, prepared["transaction"], chain_pb.TRANSACTION_TYPE_BUY)
        assert wait_mined(client, tx_hash)["receipt"]["succeeded"]
    finally:
        stack.restart("assets")
    # The buyer reports the hash once assets answers again; the sale is recorded exactly once.
    def reported() -> httpx.Response | None:
        resp = client.post(f"/api/v1/assets/{asset['id']}/purchases/{prepared['id']}/transaction",
                           json={"tx_hash": tx_hash}, headers=buyer.headers)
        # 503 while the gateway's channel reconnects to the new process.
        return None if resp.status_code == 503 else resp

    report = wait_until(reported, DEADLINE_S, interval=0.2, message="assets never answered after its restart")
    assert report.status_code == 202, report.text
    done = market.wait_purchase(client, buyer, report.json(), timeout=DEADLINE_S)
    assert done["state"] == "completed" and done["tx_hash"] == tx_hash, done
    after = client.get(f"/api/v1/assets/{asset['id']}").json()
    assert after["owner_user_id"] == buyer.id and after["reserved"] is False
    assert chain_owner(stack, asset["token_id"]) == buyer.address.lower()
    entries = client.get(f"/api/v1/assets/{asset['id']}/provenance").json()["entries"]
    assert [e["tx_hash"] for e in entries if e["kind"] == "sale"] == [tx_hash]
    assert market.pending_wei(client, seller.address) == wei("0.75")


# ------------------------------------------------------------------ registration bad paths


@pytest.fixture(scope="module")
def owner_and_asset(client: httpx.Client) -> tuple[Session, dict[str, Any], bytes]:
    owner = sign_in(client)
    content = b"ipheron e2e content " + uuid.uuid4().bytes
    asset = create_active_asset(client, owner, asset_body([(owner, "100")], price="2", content=content))
    return owner, asset, content


def test_registering_the_same_content_again_is_409_naming_the_existing_asset(
        client: httpx.Client, owner_and_asset: tuple[Session, dict[str, Any], bytes]) -> None:
    owner, asset, content = owner_and_asset
    someone_else = sign_in(client)
    body = {**asset_body([(someone_else, "100")], price="1"), "ipfs_hash": market.cid_v1(content)}
    problem = is_problem(client.post("/api/v1/assets", json=body, headers=someone_else.headers), 409)
    assert asset["id"] in problem["detail"], problem
    assert client.get("/api/v1/assets", params={"creator": someone_else.id}).json()["total"] == 0


def test_only_the_owner_can_patch_an_asset(
        client: httpx.Client, owner_and_asset: tuple[Session, dict[str, Any], bytes]) -> None:
    owner, asset, _ = owner_and_asset
    stranger = sign_in(client)
    is_problem(client.patch(f"/api/v1/assets/{asset['id']}", json={"price": "0.01"}, headers=stranger.headers), 403)
    unchanged = client.get(f"/api/v1/assets/{asset['id']}").json()
    assert Decimal(unchanged["price"]) == Decimal(2) and unchanged["version"] == asset["version"]
    ok = client.patch(f"/api/v1/assets/{asset['id']}", json={"price": "2.5"}, headers=owner.headers)
    assert ok.status_code == 200, ok.text
    assert Decimal(client.get(f"/api/v1/assets/{asset['id']}").json()["price"]) == Decimal("2.5")


def _shares_60_30(a: Session, b: Session) -> dict[str, Any]:
    return {"creators": [{"user_id": a.id, "share_percent": "60"}, {"user_id": b.id, "share_percent": "30"}]}


INVALID_REGISTRATIONS = [
    pytest.param("ipfs_hash", lambda a, b: {"ipfs_hash": "b" + "a" * 58}, id="cid-base32-not-a-cid"),
    pytest.param("creators", _shares_60_30, id="shares-sum-90"),
    pytest.param("price", lambda a, b: {"price": "0"}, id="price-zero"),
    pytest.param("royalty_rate", lambda a, b: {"royalty_rate": "60"}, id="royalty-over-50"),
]


@pytest.mark.parametrize(("field", "change"), INVALID_REGISTRATIONS)
def test_invalid_registration_is_a_4xx_problem_naming_the_field_and_registers_nothing(
        client: httpx.Client, field: str, change: Any) -> None:
    a, b = sign_in_many(client, 2)
    body = {**asset_body([(a, "60"), (b, "40")], price="1"), **change(a, b)}
    resp = client.post("/api/v1/assets", json=body, headers=a.headers)
    assert 400 <= resp.status_code < 500, resp.text
    problem = is_problem(resp, resp.status_code)
    assert field in [e.get("field") for e in problem.get("errors", [])], problem
    assert client.get("/api/v1/assets", params={"creator": a.id}).json()["total"] == 0


def test_creating_an_asset_without_signing_in_is_401(client: httpx.Client) -> None:
    someone = sign_in(client)
    body = asset_body([(someone, "100")], price="1")
    is_problem(client.post("/api/v1/assets", json=body), 401)
    is_problem(client.post("/api/v1/assets", json=body, headers={"Authorization": "Bearer not.a.jwt"}), 401)
    assert client.get("/api/v1/assets", params={"creator": someone.id}).json()["total"] == 0


# ------------------------------------------------------------------ cache across replicas


def _local_cache_hits(metrics_url: str) -> float:
    text = httpx.get(metrics_url, timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("cache_hits_total{") and 'cache="assets_local"' in line)


def test_a_write_through_one_assets_replica_invalidates_another_replicas_cache(
        client: httpx.Client, stack: Stack) -> None:
    owner = sign_in(client)
    asset = create_active_asset(client, owner, asset_body([(owner, "100")], price="3"))
    # A second replica of the assets service (same database and Redis) whose in-process cache
    # would keep an entry for an hour: only the cross-replica invalidation can refresh it.
    replica = ServiceSpec("assets-replica-2", "assets_service", "assets", "ASSETS", free_port())
    stack.ports[replica.name] = replica.port
    stack.service_urls[replica.name] = stack.service_urls["assets"]
    metrics_port = free_port()
    stack.start_service(replica, env={"ASSETS_LOCAL_CACHE_TTL": "3600", "ASSETS_METRICS_PORT": str(metrics_port),
                                      "ASSETS_SAGA_WORKER": "false"})
    try:
        stack.wait_service(replica)
        with stack.channel(replica.name) as ch:
            stub = assets_grpc.AssetsServiceStub(ch)

            def price_on_replica() -> Decimal:
                r = stub.GetAsset(assets_pb.GetAssetRequest(asset_id=asset["id"]), timeout=10)
                return Decimal(r.asset.price.amount)

            metrics = f"http://127.0.0.1:{metrics_port}/metrics"
            assert price_on_replica() == Decimal(3)
            hits = _local_cache_hits(metrics)
            assert price_on_replica() == Decimal(3)
            assert _local_cache_hits(metrics) == hits + 1, "the replica did not serve from its local cache"
            resp = client.patch(f"/api/v1/assets/{asset['id']}", json={"price": "3.5"}, headers=owner.headers)
            assert resp.status_code == 200, resp.text
            # Pub/sub delivery is asynchronous: poll, bounded far below the replica's cache TTL.
            deadline = time.monotonic() + 30
            while (seen := price_on_replica()) != Decimal("3.5") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert seen == Decimal("3.5"), "the second replica still serves the old price"
    finally:
        proc = stack.processes.pop(replica.name)
        proc.terminate()
        proc.wait(30)
