"""Domain events end to end, every service a real process: a REAL sale (minted on the
embedded EVM, listed under the seller's signature, paid from the buyer's own funded
wallet through the gateway, recorded from the chain's indexed events) leaves the assets
outbox, crosses the Redis stream, and lands in analytics' aggregates (the asset's and
the creator's performance show the sale's volume) and in the ai-agents trade history (a
purchase reversing the sale is flagged as a round trip). A stake on the sold asset, opened
from the buyer's own wallet on the staking vault, reaches analytics too. Every event the
producers published for it meets its schema (ipheron_libs.events), and no consumer
dead-lettered any of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
from helpers import sign_in
from ipheron_devstack import market
from ipheron_devstack.stack import Stack
from ipheron_libs import events
from ipheron_libs.testing import wait_until
from test_marketplace import asset_body, create_active_asset, purchase, wait_purchase

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PRICE = "0.8125"  # exact in binary too, but compared as Decimal strings all the same
STAKE = "2.5"
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as c:
        yield c


def _ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, (resp.status_code, resp.text)
    body: dict[str, Any] = resp.json()
    return body


def _entries(stack: Stack, stream: str) -> list[dict[bytes, bytes]]:
    r = redis.Redis.from_url(stack.redis_url)
    try:
        return [fields for _, fields in r.xrange(stream)]
    finally:
        r.close()


def _stream_events(stack: Stack) -> list[tuple[dict[bytes, bytes], events.Event]]:
    return [(fields, events.Event.from_fields(fields)) for fields in _entries(stack, events.STREAM)]


def test_a_real_sale_reaches_analytics_aggregates_and_the_ai_agents_history_through_the_stream(
        client: httpx.Client, stack: Stack) -> None:
    seller, buyer = sign_in(client), sign_in(client)
    seller_wallet = seller.user["wallet_address"].lower()
    buyer_wallet = buyer.user["wallet_address"].lower()

    # The round-trip check answers "clean" before the sale: the history is what the event adds.
    def round_trip_flags(asset_id: str) -> list[str]:
        body = _ok(client.post("/api/v1/ai/risk", headers=buyer.headers, json={
            "kind": "purchase",
            "purchase": {"asset_id": asset_id, "seller_wallet": buyer_wallet, "buyer_wallet": seller_wallet,
                         "price": PRICE}}))
        return [f for f in body["flags"] if "round-trip" in f]

    asset = create_active_asset(client, seller, asset_body([(seller, "100")], price=PRICE))
    market.list_for_sale(client, seller, asset["id"], PRICE)
    market.fund(client, buyer.address, "2")
    assert round_trip_flags(asset["id"]) == []

    first = purchase(client, buyer, asset["id"], f"events-e2e-{uuid.uuid4().hex}")
    sale = wait_purchase(client, buyer, first)
    assert Decimal(sale["price"]) == Decimal(PRICE)

    # analytics: the asset's performance shows the one sale and its exact volume.
    def performance() -> dict[str, Any] | None:
        body = _ok(client.get(f"/api/v1/analytics/assets/{asset['id']}/performance"))
        return body if body["total_sales"] == 1 else None

    perf = wait_until(performance, DEADLINE_S, interval=0.2, message="analytics applied the asset.sold event")
    assert Decimal(perf["total_volume"]) == Decimal(PRICE) and perf["asset_type"] == "music"
    [recent] = perf["recent_sales"]
    assert recent["sale_id"] == sale["id"] and Decimal(recent["price"]) == Decimal(PRICE)
    assert recent["buyer_id"] == buyer.user["id"] and recent["seller_id"] == seller.user["id"]
    # ... and the creator's, from asset.created's creator shares plus the sale.
    creator = _ok(client.get(f"/api/v1/analytics/creators/{seller.user['id']}/performance"))
    assert creator["assets_created"] == 1 and creator["total_sales"] == 1
    assert Decimal(creator["total_volume"]) == Decimal(PRICE) == Decimal(creator["attributed_volume"])

    # ai-agents: the sale joined its trade history, so buying it straight back is a round trip.
    flags = wait_until(lambda: round_trip_flags(asset["id"]), DEADLINE_S, interval=0.2,
                       message="ai-agents recorded the asset.sold trade")
    assert flags == ["wash-round-trip"]

    # staking -> analytics: a stake on the sold asset, opened from the buyer's own wallet on the
    # vault (stake.opened comes from the vault's event), counts as value staked on it.
    market.fund(client, buyer.address, "3")
    market.stake(client, buyer, asset["id"], STAKE, 30)
    staked = wait_until(lambda: (p := _ok(client.get(f"/api/v1/analytics/assets/{asset['id']}/performance")))
                        ["active_stakes"] == 1 and p, DEADLINE_S, interval=0.2,
                        message="analytics applied the stake.opened event")
    assert Decimal(staked["total_staked"]) == Decimal(STAKE)

    # The contract: what the real producers published for this sale meets its schema ...
    mine = [(f, ev) for f, ev in _stream_events(stack)
            if ev.payload.get("asset_id") == asset["id"]
            or (ev.type == "user.created" and ev.payload["user_id"] in (seller.user["id"], buyer.user["id"]))]
    for _, ev in mine:
        events.check(ev)
    types = sorted({ev.type for _, ev in mine})
    service_types = [t for t in types if not t.startswith("chain.")]
    assert service_types == ["asset.created", "asset.sold", "asset.transferred", "asset.updated", "stake.opened",
                             "user.created"], types
    # The chain service's indexer published the same sale from the contract's own events.
    assert {"chain.sale.recorded", "chain.transfer", "chain.credit"} <= set(types), types
    [sold] = [ev for _, ev in mine if ev.type == "asset.sold"]
    assert sold.payload["price"] == PRICE and sold.payload["purchase_id"] == sale["id"]
    assert sold.payload["seller_wallet"].lower() == seller_wallet and sold.actor == buyer.user["id"]
    # ... and no consumer dead-lettered any of it.
    ids = {ev.id for _, ev in mine}
    dead = [f for f in _entries(stack, events.DEAD_STREAM) if f.get(b"id", b"").decode() in ids]
    assert dead == []
