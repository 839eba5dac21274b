"""Event consumption into the analytics tables on a real PostgreSQL (and the
stream on a real Redis): idempotent by event id, daily aggregates exact."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import redis
from analytics_service.consumer import apply_event, apply_in_transaction
from conftest import NOW, created, days_ago, event, sold
from ipheron_libs import events
from sqlalchemy import Engine, text

D = Decimal


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


def test_a_malformed_event_is_skipped_without_partial_effects(clean_engine: Engine) -> None:
    bad = event("asset.sold", {"asset_id": "a1", "price": "-3"}, days_ago(1))
    assert _apply(clean_engine, bad) == [True]
    assert _apply(clean_engine, bad) == [False]  # not retried forever
    with clean_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sales")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM assets")).scalar_one() == 0


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
    evs = [created("a9", "design", days_ago(1)), sold("a9", "7", days_ago(1))]
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
    stake = {"stake_id": "live-s1", "user_id": "u1", "asset_id": "live-a1", "amount": "12.5", "duration_days": 30}
    for ev in (
        created("live-a1", "video", days_ago(1)),
        sold("live-a1", "3", days_ago(1)),
        event("stake.opened", stake, days_ago(1)),
    ):
        r.xadd(events.STREAM, ev.to_fields())

    async def run() -> tuple[int, int]:
        app = AnalyticsApp(
            Settings(redis_url=redis_url, consumer_group="analytics-live", db_pool_size=2), analytics_url
        )
        await app.on_start()
        try:
            for _ in range(200):  # bounded wait for the background consumer
                with clean_engine.connect() as conn:
                    sales = conn.execute(text("SELECT count(*) FROM sales WHERE asset_id = 'live-a1'")).scalar_one()
                    stakes = conn.execute(text("SELECT count(*) FROM stakes WHERE stake_id = 'live-s1'")).scalar_one()
                if sales and stakes:
                    return sales, stakes
                await asyncio.sleep(0.05)
            return 0, 0
        finally:
            await app.on_stop()

    assert asyncio.run(run()) == (1, 1)
    assert _day(clean_engine, days_ago(1).date(), "video")["total_volume"] == D("3")
