"""Event consumption into the analytics tables on a real PostgreSQL (and the
stream on a real Redis): idempotent by event id, daily aggregates exact; every
event that meets its contract is readable, and what analytics cannot read goes
to the dead-letter stream (never acknowledged silently)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis
from analytics_service.consumer import (
    HANDLERS,
    apply_batch_in_transaction,
    apply_event,
    apply_events,
    apply_in_transaction,
    roll_up_queued,
)
from conftest import NOW, created, days_ago, event, sold
from ipheron_libs import events
from ipheron_libs.testing import wait_until_async
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text

D = Decimal
WALLET = "0x" + "ab" * 20
BUYER_WALLET = "0x" + "cd" * 20
TX = "0x" + "ef" * 32


def _contract(type_: str, payload: dict[str, Any], at: datetime) -> events.Event:
    """An event exactly as its schema describes it (checked here, so the sample cannot drift)."""
    ev = events.Event(id=str(uuid.uuid4()), type=type_, version=1, occurred_at=at.isoformat(), actor="seller-1",
                      payload=payload)
    events.check(ev)
    return ev


def contract_created(asset_id: str, asset_type: str, at: datetime, price: str = "1.5") -> events.Event:
    return _contract("asset.created", {
        "asset_id": asset_id, "name": f"Asset {asset_id[:8]}", "asset_type": asset_type, "price": price,
        "royalty_rate": "10", "status": "pending", "region": "Global", "owner_user_id": "seller-1",
        "owner_wallet": WALLET, "creator_user_id": "seller-1",
        "creators": [{"user_id": "seller-1", "wallet": WALLET, "share_percent": "60"},
                     {"user_id": "co-1", "wallet": BUYER_WALLET, "share_percent": "40"}],
        "ipfs_hash": "bafkreih" + asset_id.replace("-", "")[:20], "utility_features": ["streaming license"],
    }, at)


def contract_sold(asset_id: str, price: str, at: datetime, asset_type: str = "music") -> events.Event:
    return _contract("asset.sold", {
        "asset_id": asset_id, "asset_type": asset_type, "purchase_id": str(uuid.uuid4()), "price": price,
        "currency": "ETH", "seller_user_id": "seller-1", "seller_wallet": WALLET, "buyer_user_id": "buyer-1",
        "buyer_wallet": BUYER_WALLET, "tx_hash": TX, "block_number": 12, "token_id": "7",
        "creators": [{"user_id": "seller-1", "wallet": WALLET, "share_percent": "100"}],
    }, at)


def contract_stake(type_: str, asset_id: str, at: datetime, **extra: Any) -> events.Event:
    return _contract(type_, {
        "stake_id": str(uuid.uuid4()), "user_id": "staker-1", "asset_id": asset_id, "amount": "12.5",
        "duration_days": 30, "apr": "8", "start_time": at.isoformat(), "end_time": at.isoformat(),
        "status": {"stake.opened": "active", "stake.matured": "matured", "stake.closed": "closed"}.get(
            type_, "active"), **extra,
    }, at)


def _dead(r: redis.Redis, group: str) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in r.xrange(events.DEAD_STREAM)
            if f.get(b"dead_group") == group.encode()]


def _dead_count(group: str, type_: str, reason: str) -> float:
    labels = {"group": group, "type": type_, "reason": reason}
    return REGISTRY.get_sample_value("events_dead_lettered_total", labels) or 0.0


def _apply(engine: Engine, *evs: events.Event) -> list[bool]:
    with engine.begin() as conn:
        return [apply_event(conn, ev, NOW) for ev in evs]


def _day(engine: Engine, day: date, asset_type: str = "all") -> dict:
    with engine.connect() as conn:
        row = (
            conn.execute(
                text("SELECT * FROM market_analytics WHERE date = :d AND asset_type = :t"), {"d": day, "t": asset_type}
            )
            .mappings()
            .first()
        )
    return dict(row) if row else {}


def test_the_same_event_delivered_twice_counts_once(clean_engine: Engine) -> None:
    sale = sold("a1", "10.5", days_ago(1))
    assert _apply(clean_engine, created("a1", "art", days_ago(2)), sale) == [True, True]
    assert _apply(clean_engine, sale) == [False]
    # a different event for the same purchase (the relay re-published it) is still one sale
    dup = events.Event(
        id="other-id", type=sale.type, version=1, occurred_at=sale.occurred_at, actor="x", payload=sale.payload
    )
    assert _apply(clean_engine, dup) == [True]
    row = _day(clean_engine, days_ago(1).date())
    assert row["total_transactions"] == 1 and row["total_volume"] == D("10.5")


def test_daily_aggregates_per_type_and_for_the_whole_market(clean_engine: Engine) -> None:
    day = days_ago(1).date()
    _apply(
        clean_engine,
        created("a1", "art", days_ago(1, hours=5), creators=[("c1", "60"), ("c2", "40")]),
        created("a2", "art", days_ago(3), creators=[("c2", "100")]),
        created("m1", "music", days_ago(1, hours=4), creators=[("c3", "100")]),
        sold("a1", "1.000000000000000001", days_ago(1, hours=3)),
        sold("a1", "2", days_ago(1, hours=2)),
        sold("a2", "3.5", days_ago(1, hours=1)),
        sold("m1", "0.25", days_ago(1)),
        sold("m1", "100", days_ago(0)),  # the next day
    )
    art = _day(clean_engine, day, "art")
    assert art["total_volume"] == D("6.500000000000000001")
    assert art["total_transactions"] == 3
    assert art["active_assets"] == 2  # a1 created and sold, a2 sold
    assert art["active_creators"] == 2  # c1, c2
    assert art["avg_asset_price"] == (D("6.500000000000000001") / 3).quantize(D("1E-18"), rounding="ROUND_DOWN")
    whole = _day(clean_engine, day)
    assert whole["total_volume"] == D("6.750000000000000001") and whole["total_transactions"] == 4
    assert whole["active_assets"] == 3 and whole["active_creators"] == 3
    assert whole["market_sentiment"] == "bullish"  # first volume after a quiet week
    music_today = _day(clean_engine, NOW.date(), "music")
    assert music_today["total_volume"] == D("100") and music_today["market_sentiment"] == "bullish"
    created_only = _day(clean_engine, days_ago(3).date(), "art")
    assert created_only["total_transactions"] == 0 and created_only["active_assets"] == 1


def test_a_sale_seen_before_its_asset_moves_to_the_right_type(clean_engine: Engine) -> None:
    day = days_ago(1).date()
    _apply(clean_engine, sold("late", "4", days_ago(1)))
    assert _day(clean_engine, day, "unknown")["total_volume"] == D("4")
    _apply(clean_engine, created("late", "software", days_ago(5)))
    assert _day(clean_engine, day, "software")["total_volume"] == D("4")
    assert _day(clean_engine, day, "unknown")["total_volume"] == D("0")
    assert _day(clean_engine, day)["total_volume"] == D("4")


def test_a_malformed_event_is_refused_without_partial_effects_and_not_marked_applied(clean_engine: Engine) -> None:
    bad = event("asset.sold", {"asset_id": "a1", "price": "-3"}, days_ago(1))
    # It used to be marked processed and dropped; now it is refused (the stream consumer
    # dead-letters it, see test_the_running_service_dead_letters_what_it_cannot_read).
    with pytest.raises(events.UnreadableEvent, match="price"):
        _apply(clean_engine, bad)
    with pytest.raises(events.UnreadableEvent):
        _apply(clean_engine, bad)  # the same every time: nothing of it was kept
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sales")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM assets")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM processed_events")).scalar_one() == 0


ASSET = "4f1c2b7e-8d3a-4c55-9a10-0b6f3e2d1c00"
UPDATES: list[dict[str, Any]] = [  # every shape the assets service emits today
    {"changed": ["listed", "price"], "price": "2.5", "listed": True, "status": "active", "version": 3},
    {"changed": ["status", "listed"], "status": "archived", "listed": False},
    {"changed": ["status"], "status": "pending_review", "review_reasons": ["risk check unavailable"]},
    {"changed": ["status", "token_id"], "status": "active", "token_id": "1", "contract_address": WALLET,
     "tx_hash": TX},
    {"changed": ["status"], "status": "failed"},
    {"changed": ["files"], "file_cid": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
]
CONTRACT_SAMPLES: list[Callable[[], events.Event]] = [
    lambda: contract_created(ASSET, "music", days_ago(2)),
    *[(lambda u=u: _contract("asset.updated", {"asset_id": ASSET, **u}, days_ago(2))) for u in UPDATES],
    lambda: contract_sold(ASSET, "3.25", days_ago(1)),
    lambda: _contract("asset.transferred", {
        "asset_id": ASSET, "from_wallet": WALLET, "to_wallet": BUYER_WALLET, "from_user_id": "seller-1",
        "to_user_id": "buyer-1", "tx_hash": TX, "token_id": "1"}, days_ago(1)),
    lambda: contract_stake("stake.opened", ASSET, days_ago(1)),
    lambda: contract_stake("stake.matured", ASSET, days_ago(1)),
    lambda: contract_stake("stake.claimed", ASSET, days_ago(1), claimed="0.5", rewards_claimed="0.5"),
    lambda: contract_stake("stake.closed", ASSET, days_ago(1), early=True, principal_returned="12.5",
                           rewards_paid="0", rewards_forfeited="0.1", penalty="0.25", payout="12.25"),
]


def test_every_event_that_meets_its_contract_is_readable(clean_engine: Engine) -> None:
    """The consumer side of the contract: analytics reads every shape the schemas allow."""
    samples = [make() for make in CONTRACT_SAMPLES]
    assert {ev.type for ev in samples} == set(HANDLERS)  # a sample for every type analytics handles
    assert _apply(clean_engine, *samples) == [True] * len(samples)
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sales WHERE asset_id = :a"), {"a": ASSET}).scalar_one() == 1
    assert _day(clean_engine, days_ago(1).date(), "music")["total_volume"] == D("3.25")


def test_the_running_service_dead_letters_what_it_cannot_read(
    analytics_url: str, clean_engine: Engine, redis_url: str
) -> None:
    """Analytics used to acknowledge and drop a payload it could not read: a drifted producer
    lost sales silently. Now it lands in ipheron:events:dead with the group and the reason,
    is counted and alerted, and the sales around it are still applied."""
    from analytics_service.config import Settings
    from analytics_service.server import AnalyticsApp

    group = f"analytics-dead-{uuid.uuid4().hex[:6]}"
    r = redis.Redis.from_url(redis_url)
    good_asset, bad_asset = str(uuid.uuid4()), str(uuid.uuid4())
    drifted = contract_sold(bad_asset, "3", days_ago(1))
    drifted = events.Event(drifted.id, drifted.type, 1, drifted.occurred_at, drifted.actor,
                           {**drifted.payload, "price": 3.0})  # a JSON number: money drifted to a float
    before = _dead_count(group, "asset.sold", "invalid")
    published = [r.xadd(events.STREAM, ev.to_fields()) for ev in (
        contract_created(good_asset, "patent", days_ago(1)), drifted, contract_sold(good_asset, "2", days_ago(1),
                                                                                     "patent"))]

    def sales_of(asset_id: str) -> int:
        with clean_engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM sales WHERE asset_id = :a"), {"a": asset_id})
                       .scalar_one())

    async def run() -> list[dict[str, str]]:
        app = AnalyticsApp(Settings(redis_url=redis_url, consumer_group=group, db_pool_size=2), analytics_url)
        await app.start(host="127.0.0.1", port=0)
        try:
            await wait_until_async(lambda: sales_of(good_asset) == 1 and _dead(r, group), timeout=30,
                                   message="the good sale applied and the drifted one dead-lettered")
            return _dead(r, group)
        finally:
            await app.stop(grace=0.2)
            r.xdel(events.STREAM, *published)  # other tests' groups read the shared stream from its start

    [dead] = asyncio.run(run())
    assert dead["id"] == drifted.id and dead["type"] == "asset.sold" and dead["dead_reason"] == "invalid"
    assert "payload/price" in dead["dead_error"] and dead["payload"] == drifted.to_fields()["payload"]
    assert sales_of(bad_asset) == 0
    assert r.xpending(events.STREAM, group)["pending"] == 0
    assert _dead_count(group, "asset.sold", "invalid") == before + 1


def test_a_payload_that_passes_the_schema_but_not_analytics_is_dead_lettered_too(
    clean_engine: Engine, redis_url: str
) -> None:
    """The handler's own parse error (here a creator list the shares cannot be read from
    after the schema check, simulated by a handler-level refusal) is dead-lettered with
    reason "unreadable", and the analytics transaction leaves nothing behind."""
    stream, dead_stream = f"test:analytics:{uuid.uuid4().hex[:6]}", f"test:analytics-dead:{uuid.uuid4().hex[:6]}"
    r = redis.Redis.from_url(redis_url)
    asset = str(uuid.uuid4())
    ev = contract_created(asset, "art", days_ago(1))
    r.xadd(stream, ev.to_fields())

    async def run() -> int:
        async def handle(e: events.Event) -> None:
            # What the schema allows but this handler refuses: an occurred_at it cannot place.
            broken = events.Event(e.id, e.type, e.version, "not a time", e.actor, e.payload)
            await asyncio.to_thread(apply_in_transaction, clean_engine, broken)

        consumer = events.Consumer(redis_url, "analytics-unreadable", handle, stream=stream, dead_stream=dead_stream,
                                   block_ms=50)
        await consumer._ensure_group()
        try:
            return await consumer.poll_once()
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == 1
    [(_, fields)] = r.xrange(dead_stream)
    assert fields[b"dead_reason"] == b"unreadable" and fields[b"id"] == ev.id.encode()
    assert r.xpending(stream, "analytics-unreadable")["pending"] == 0
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM assets WHERE asset_id = :a"), {"a": asset}).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM processed_events")).scalar_one() == 0
    r.delete(stream, dead_stream)


def test_stake_events_track_value_staked_and_never_reopen(clean_engine: Engine) -> None:
    base = {
        "stake_id": "s1",
        "user_id": "u1",
        "asset_id": "a1",
        "amount": "25",
        "duration_days": 30,
        "start_time": days_ago(3).isoformat(),
    }
    _apply(
        clean_engine,
        event("stake.opened", base, days_ago(3)),
        event("stake.opened", {**base, "stake_id": "s2", "amount": "5"}, days_ago(2)),
    )
    _apply(clean_engine, event("stake.closed", {**base, "payout": "22.5"}, days_ago(1)))
    _apply(clean_engine, event("stake.matured", base, days_ago(0.5)))  # late, out of order
    with clean_engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT stake_id, status FROM stakes")).all())
    assert rows == {"s1": "closed", "s2": "active"}


def test_unknown_event_types_are_acknowledged(clean_engine: Engine) -> None:
    assert _apply(clean_engine, event("user.created", {"user_id": "u"}, NOW)) == [True]


def test_consumer_group_applies_a_redelivered_stream_event_once(clean_engine: Engine, redis_url: str) -> None:
    stream = "test:analytics-events"
    r = redis.Redis.from_url(redis_url)
    r.delete(stream)
    a9 = str(uuid.uuid4())
    evs = [contract_created(a9, "design", days_ago(1)), contract_sold(a9, "7", days_ago(1), "design")]
    for ev in [*evs, evs[1]]:  # the sale is published twice (at-least-once)
        r.xadd(stream, ev.to_fields())

    async def run() -> int:
        async def handle(ev: events.Event) -> None:
            await asyncio.to_thread(apply_in_transaction, clean_engine, ev)

        consumer = events.Consumer(redis_url, "analytics-test", handle, stream=stream, block_ms=100)
        await consumer._ensure_group()
        try:
            return await consumer.poll_once()
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == 3
    assert r.xpending(stream, "analytics-test")["pending"] == 0
    row = _day(clean_engine, days_ago(1).date(), "design")
    assert row["total_transactions"] == 1 and row["total_volume"] == D("7")


def test_changing_a_day_re_rates_the_sentiment_of_the_week_after(clean_engine: Engine) -> None:
    _apply(clean_engine, created("a1", "art", days_ago(10)), sold("a1", "10", days_ago(2)))
    assert _day(clean_engine, days_ago(2).date())["market_sentiment"] == "bullish"
    # a late, large sale three days earlier raises the baseline of that later day
    _apply(clean_engine, sold("a1", "500", days_ago(5)))
    # 10 against a week averaging 500/7 is far below 0.8x
    assert _day(clean_engine, days_ago(2).date())["market_sentiment"] == "bearish"


def test_the_running_service_consumes_the_shared_stream(
    analytics_url: str, clean_engine: Engine, redis_url: str
) -> None:
    """AnalyticsApp.on_start joins the consumer group on ipheron:events and applies what arrives."""
    from analytics_service.config import Settings
    from analytics_service.server import AnalyticsApp

    r = redis.Redis.from_url(redis_url)
    live_a1 = str(uuid.uuid4())
    stake = contract_stake("stake.opened", live_a1, days_ago(1))
    for ev in (
        contract_created(live_a1, "video", days_ago(1)),
        contract_sold(live_a1, "3", days_ago(1), "video"),
        stake,
    ):
        r.xadd(events.STREAM, ev.to_fields())

    async def run() -> tuple[int, int]:
        app = AnalyticsApp(
            Settings(redis_url=redis_url, consumer_group="analytics-live", db_pool_size=2), analytics_url
        )
        await app.start(host="127.0.0.1", port=0)
        try:
            def counts() -> tuple[int, int]:
                with clean_engine.connect() as conn:
                    sales = conn.execute(text("SELECT count(*) FROM sales WHERE asset_id = :a"),
                                         {"a": live_a1}).scalar_one()
                    stakes = conn.execute(text("SELECT count(*) FROM stakes WHERE stake_id = :s"),
                                          {"s": stake.payload["stake_id"]}).scalar_one()
                return int(sales), int(stakes)

            await wait_until_async(lambda: all(counts()), timeout=30, message="the background consumer applied both")
            # The market rows follow from the roll-up job (every ANALYTICS_ROLLUP_INTERVAL_S).
            await wait_until_async(lambda: _day(clean_engine, days_ago(1).date(), "video").get("total_volume")
                                   == D("3"), timeout=30, message="the roll-up job rebuilt the sale's day")
            return counts()
        finally:
            await app.stop(grace=0.2)

    assert asyncio.run(run()) == (1, 1)
    assert _day(clean_engine, days_ago(1).date(), "video")["total_volume"] == D("3")


def test_the_stream_path_queues_the_days_and_the_roll_up_job_rebuilds_each_once(clean_engine: Engine) -> None:
    """The consumer records the facts at once and queues the sale's day; the market rows follow
    when the roll-up job runs (once for many sales), and a second run has nothing to do."""
    day = days_ago(1)
    _apply(clean_engine, created("q1", "art", days_ago(2)))
    for price in ("1.25", "2.5"):
        assert apply_in_transaction(clean_engine, sold("q1", price, day), defer_roll_up=True)
    assert _day(clean_engine, day.date()) == {}, "the rows were rebuilt per sale, not deferred"
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rollup_pending")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM sales")).scalar_one() == 2
    assert roll_up_queued(clean_engine, NOW) == 1
    row = _day(clean_engine, day.date())
    assert row["total_transactions"] == 2 and row["total_volume"] == D("3.75")
    assert roll_up_queued(clean_engine, NOW) == 0
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rollup_pending")).scalar_one() == 0


def _facts(engine: Engine) -> dict[str, Any]:
    """Every table the events feed (the roll-up included), comparable across databases."""
    with engine.connect() as conn:
        return {
            "assets": conn.execute(text("SELECT asset_id, asset_type, status, list_price FROM assets ORDER BY 1"))
            .all(),
            "creators": conn.execute(text("SELECT * FROM asset_creators ORDER BY 1, 2")).all(),
            "sales": conn.execute(text("SELECT sale_id, asset_type, price, day FROM sales ORDER BY 1")).all(),
            "transfers": conn.execute(text("SELECT count(*) FROM transfers")).scalar_one(),
            "stakes": conn.execute(text("SELECT stake_id, status FROM stakes ORDER BY 1")).all(),
            "market": conn.execute(text("SELECT date, asset_type, total_volume, total_transactions, active_assets, "
                                        "active_creators, market_sentiment FROM market_analytics ORDER BY 1, 2")).all(),
        }


def test_a_batch_in_one_transaction_applies_what_one_event_at_a_time_does(clean_engine: Engine) -> None:
    """apply_events (the consumer's batch mode): same effects as apply_event per event, in order
    (a sale before its asset.created moves to the asset's type), each event once even when the
    read holds it twice, and nothing new when the batch is delivered again."""
    stake = {"stake_id": "s1", "user_id": "u1", "asset_id": "b1", "amount": "25", "duration_days": 30,
             "start_time": days_ago(3).isoformat()}
    early_sale = sold("b2", "4", days_ago(2))
    batch = [
        created("b1", "art", days_ago(3), creators=[("c1", "60"), ("c2", "40")]),
        sold("b1", "1.000000000000000001", days_ago(2)),
        early_sale,
        early_sale,  # the same event twice in one read
        created("b2", "music", days_ago(3)),
        event("asset.updated", {"asset_id": "b1", "status": "sold", "price": "9"}, days_ago(2)),
        event("asset.transferred", {"asset_id": "b1"}, days_ago(2)),
        event("asset.sold", {**sold("b2", "6", days_ago(2)).payload,
                             "creators": [{"user_id": "c9", "share_percent": "100"}]}, days_ago(2)),
        event("asset.transferred", {"asset_id": "b2"}, days_ago(2)),
        event("stake.opened", stake, days_ago(3)),
        event("stake.closed", {**stake, "payout": "25"}, days_ago(1)),
        event("user.created", {"user_id": "u"}, NOW),
    ]
    # The stream path one event at a time: a transaction each, the days queued, then rebuilt.
    assert [apply_in_transaction(clean_engine, ev, defer_roll_up=True) for ev in batch] == \
        [True, True, True, False, True, True, True, True, True, True, True, True]
    assert roll_up_queued(clean_engine, NOW) == 2
    one_at_a_time = _facts(clean_engine)
    with clean_engine.begin() as conn:
        conn.execute(text("TRUNCATE assets, asset_creators, sales, transfers, stakes, market_analytics, "
                          "processed_events, rollup_pending"))
    assert apply_batch_in_transaction(clean_engine, batch, defer_roll_up=True) == 11
    assert roll_up_queued(clean_engine, NOW) == 2
    assert _facts(clean_engine) == one_at_a_time
    assert {price: type_ for _, type_, price, _ in one_at_a_time["sales"]}[D("4")] == "music"
    assert one_at_a_time["transfers"] == 2 and one_at_a_time["market"]
    assert ("b2", "c9", D("100")) in one_at_a_time["creators"]
    assert apply_batch_in_transaction(clean_engine, batch) == 0
    assert _facts(clean_engine) == one_at_a_time
    with clean_engine.begin() as conn:  # rebuilt at once when not deferred: the same rows
        conn.execute(text("TRUNCATE market_analytics"))
        assert apply_events(conn, [sold("b1", "2", days_ago(2))], NOW) == 1
    assert _day(clean_engine, days_ago(2).date(), "art")["total_transactions"] == 2


def test_a_batch_with_a_poison_event_keeps_nothing_and_the_consumer_isolates_it(
    clean_engine: Engine, redis_url: str
) -> None:
    """An event that meets its contract but that analytics cannot read (an occurred_at in month 13)
    fails its whole batch, whose transaction keeps nothing; the stream consumer then applies each
    event alone: the poison one is dead-lettered and the sales around it are applied, in one pass."""
    asset = str(uuid.uuid4())
    good = [contract_created(asset, "art", days_ago(2)), contract_sold(asset, "2", days_ago(1), "art")]
    poison = contract_sold(asset, "5", days_ago(1), "art")
    poison = events.Event(poison.id, poison.type, 1, "2026-13-01T00:00:00Z", poison.actor, poison.payload)
    events.check(poison)  # the contract cannot tell
    late = contract_sold(asset, "3", days_ago(1), "art")
    with pytest.raises(events.UnreadableEvent, match="occurred_at"):
        apply_batch_in_transaction(clean_engine, [*good, poison, late], defer_roll_up=True)
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM processed_events")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM sales")).scalar_one() == 0

    stream, dead_stream = f"test:analytics:{uuid.uuid4().hex[:6]}", f"test:analytics-dead:{uuid.uuid4().hex[:6]}"
    r = redis.Redis.from_url(redis_url)
    for ev in (*good, poison, late):
        r.xadd(stream, ev.to_fields())
    batches: list[int] = []

    async def run() -> int:
        async def one(ev: events.Event) -> None:
            await asyncio.to_thread(apply_in_transaction, clean_engine, ev, defer_roll_up=True)

        async def many(evs: Any) -> None:
            batches.append(len(evs))
            await asyncio.to_thread(apply_batch_in_transaction, clean_engine, evs, defer_roll_up=True)

        consumer = events.Consumer(redis_url, "analytics-batch", one, batch_handler=many, stream=stream,
                                   dead_stream=dead_stream, block_ms=50)
        await consumer._ensure_group()
        try:
            return await consumer.poll_once()
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == 4
    assert batches == [4]
    [(_, fields)] = r.xrange(dead_stream)
    assert fields[b"dead_reason"] == b"unreadable" and fields[b"id"] == poison.id.encode()
    assert r.xpending(stream, "analytics-batch")["pending"] == 0
    with clean_engine.connect() as conn:
        prices = conn.execute(text("SELECT price FROM sales WHERE asset_id = :a ORDER BY price"), {"a": asset}).all()
        assert [p for (p,) in prices] == [D("2"), D("3")]
        assert conn.execute(text("SELECT count(*) FROM processed_events")).scalar_one() == 3
    r.delete(stream, dead_stream)


def test_a_sale_takes_its_assets_known_type_else_its_own_as_a_placeholder(clean_engine: Engine) -> None:
    def sale_typed(asset_id: str, asset_type: str | None) -> events.Event:
        ev = sold(asset_id, "1", days_ago(1))
        return event("asset.sold", {**ev.payload, **({"asset_type": asset_type} if asset_type else {})}, days_ago(1))

    _apply(clean_engine, created("k1", "art", days_ago(2)))
    _apply(clean_engine, sale_typed("k1", "music"), sale_typed("n1", "video"), sale_typed("u1", None),
           sale_typed("u1", "design"))
    with clean_engine.connect() as conn:
        assets = dict(conn.execute(text("SELECT asset_id, asset_type FROM assets")).all())
        sales = sorted(conn.execute(text("SELECT asset_id, asset_type FROM sales")).all())
    assert assets == {"k1": "art", "n1": "video", "u1": "design"}
    assert sales == [("k1", "art"), ("n1", "video"), ("u1", "design"), ("u1", "unknown")]


def test_an_update_changes_what_it_names_and_keeps_the_rest(clean_engine: Engine) -> None:
    _apply(clean_engine, created("p1", "art", days_ago(2)))  # list price 1.5, status pending
    _apply(clean_engine, event("asset.updated", {"asset_id": "p1", "status": "listed"}, days_ago(1)))
    _apply(clean_engine, event("asset.updated", {"asset_id": "p1", "price": "2.000000000000000001"}, days_ago(1)))
    _apply(clean_engine, event("asset.updated", {"asset_id": "p1", "changed": ["files"]}, days_ago(1)))
    with clean_engine.connect() as conn:
        row = conn.execute(text("SELECT status, list_price FROM assets WHERE asset_id = 'p1'")).one()
    assert (row.status, row.list_price) == ("listed", D("2.000000000000000001"))
