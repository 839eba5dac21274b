"""The ai-agents event handling (ai_agents_service.consumer) on the real PostgreSQL, Redis
and MeTTa workers: asset.created analysed once per event and indexed, asset.sold joins
the trade history once, events arrive through the real stream consumer, and what the
agents cannot read is dead-lettered with an alert instead of being dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis
from ai_agents_service.consumer import CONSUMER_GROUP, asset_of
from ai_agents_service.server import AgentsApp
from ipheron_libs import events
from ipheron_libs.db import run_db
from ipheron_libs.testing import wait_until_async

W = ["0x" + c * 40 for c in "123456"]
TX = "0x" + "ab" * 32


def _event(type_: str, payload: dict[str, Any]) -> events.Event:
    """An event as its schema describes it (checked, so these samples cannot drift from the contract)."""
    ev = events.Event(id=str(uuid.uuid4()), type=type_, version=1, occurred_at=datetime.now(UTC).isoformat(),
                      actor="u-1", payload=payload)
    events.check(ev)
    return ev


def created(asset_id: str, *, name: str, asset_type: str, price: str, region: str = "europe",
            features: tuple[str, ...] = ()) -> events.Event:
    return _event("asset.created", {
        "asset_id": asset_id, "name": name, "asset_type": asset_type, "price": price, "royalty_rate": "10",
        "status": "pending", "region": region, "owner_user_id": "u-1", "owner_wallet": W[0],
        "creator_user_id": "u-1", "creators": [{"user_id": "u-1", "wallet": W[0], "share_percent": "100"}],
        "ipfs_hash": f"bafy{asset_id}", "utility_features": list(features),
    })


def sold(asset_id: str, price: str, seller: str, buyer: str) -> events.Event:
    return _event("asset.sold", {
        "asset_id": asset_id, "asset_type": "video", "purchase_id": str(uuid.uuid4()), "price": price,
        "currency": "ETH", "seller_user_id": "u-1", "seller_wallet": seller, "buyer_user_id": "u-2",
        "buyer_wallet": buyer, "tx_hash": TX, "block_number": 3, "token_id": "9",
        "creators": [{"user_id": "u-1", "wallet": seller, "share_percent": "100"}],
    })


async def test_asset_created_event_is_analysed_once_and_indexed(app: AgentsApp) -> None:
    asset_id = str(uuid.uuid4())
    event = created(asset_id, name="Event-born anthem", asset_type="music", price="0.25",
                    features=("streaming-rights",))
    await app.handle_event(event)
    await app.handle_event(event)  # at-least-once delivery: the same event again
    rows = await run_db(app.repo.analyses_of, asset_id)
    assert len(rows) == 1 and rows[0]["suggested_price"] > 0 and rows[0]["risk_score"] == 0
    assert rows[0]["failures"] == [] and rows[0]["sentiment"] in ("bullish", "neutral", "bearish")
    # The asset is now known: the same content again is a duplicate.
    assert app.market.find_content(f"bafy{asset_id}") == ("exact", asset_id)


async def test_a_sale_delivered_twice_is_one_trade_in_the_history(app: AgentsApp) -> None:
    asset_id = str(uuid.uuid4())
    event = sold(asset_id, "2.5", W[2], W[3])
    await app.handle_event(event)
    await app.handle_event(event)
    [trade] = app.market.trades_of(asset_id)
    assert (trade.seller, trade.buyer, trade.price) == (W[2], W[3], Decimal("2.5"))
    assert trade.at == datetime.fromisoformat(event.occurred_at)


async def test_events_arrive_through_the_redis_stream(app: AgentsApp, redis_url: str) -> None:
    stream = f"test:events:{uuid.uuid4().hex[:8]}"
    asset_id = str(uuid.uuid4())
    writer = redis.Redis.from_url(redis_url)
    try:
        for ev in (sold(asset_id, "1.5", W[4], W[5]),
                   created(asset_id, name="Streamed", asset_type="video", price="0.3")):
            writer.xadd(stream, ev.to_fields())
    finally:
        writer.close()
    consumer = events.Consumer(redis_url, CONSUMER_GROUP, app.handle_event, stream=stream, block_ms=100)
    consumer.start()
    try:
        await wait_until_async(lambda: run_db(app.repo.analyses_of, asset_id), timeout=30,
                               message="the streamed asset.created analysed")
    finally:
        await consumer.stop()
    assert len(await run_db(app.repo.analyses_of, asset_id)) == 1
    [trade] = app.market.trades_of(asset_id)
    assert (trade.seller, trade.buyer, trade.price) == (W[4], W[5], Decimal("1.5"))


async def test_an_asset_the_agents_cannot_read_is_refused_not_silently_dropped(app: AgentsApp) -> None:
    """The handler used to log a warning and return, so the event was acknowledged and lost."""
    asset_id = str(uuid.uuid4())
    ev = created(asset_id, name="Sculpture", asset_type="art", price="1")
    odd = events.Event(ev.id, ev.type, ev.version, ev.occurred_at, ev.actor, {**ev.payload, "asset_type": "sculpture"})
    with pytest.raises(events.UnreadableEvent, match="unknown asset type"):
        asset_of(odd)
    with pytest.raises(events.UnreadableEvent):
        await app.handle_event(odd)
    bad_price = events.Event(ev.id, "asset.sold", 1, ev.occurred_at, ev.actor, {"asset_id": asset_id, "price": "x"})
    with pytest.raises(events.UnreadableEvent, match="price"):
        await app.handle_event(bad_price)
    assert await run_db(app.repo.analyses_of, asset_id) == [] and app.market.trades_of(asset_id) == []


async def test_the_stream_consumer_dead_letters_what_the_agents_cannot_read(app: AgentsApp, redis_url: str) -> None:
    tag = uuid.uuid4().hex[:8]
    stream, dead_stream = f"test:events:{tag}", f"test:events:{tag}:dead"
    asset_id = str(uuid.uuid4())
    good = sold(asset_id, "4", W[1], W[2])
    drifted = {**good.to_fields(), "id": str(uuid.uuid4()),
               "payload": good.to_fields()["payload"].replace('"price":"4"', '"price":4')}  # type: ignore[union-attr]
    r = redis.Redis.from_url(redis_url)
    r.xadd(stream, drifted)
    r.xadd(stream, good.to_fields())
    consumer = events.Consumer(redis_url, CONSUMER_GROUP, app.handle_event, stream=stream, dead_stream=dead_stream,
                               block_ms=50)
    await consumer._ensure_group()
    try:
        assert await consumer.poll_once() == 2
    finally:
        await consumer.redis.aclose()
    [(_, dead)] = r.xrange(dead_stream)
    assert dead[b"dead_group"] == CONSUMER_GROUP.encode() and dead[b"dead_reason"] == b"invalid"
    assert dead[b"id"] == str(drifted["id"]).encode()
    assert r.xpending(stream, CONSUMER_GROUP)["pending"] == 0
    [trade] = app.market.trades_of(asset_id)  # the good sale still arrived
    assert trade.price == Decimal("4")
    r.delete(stream, dead_stream)
    r.close()
