"""A consumer with a batch handler (opt-in) hands the readable events of one read over
together, in stream order; when the batch fails, each event is handled alone, so a poison
event is still dead-lettered by itself and a transient failure leaves only its own event
pending. `first_deliveries` marks a batch's event ids in one statement (real Redis and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import redis
from event_samples import event, sold_payload
from event_samples import poll_once as _poll
from ipheron_libs import db, events
from sqlalchemy import event as sa_event
from sqlalchemy import text


class Bus:
    """A fresh stream, dead-letter stream and group; what the batch and the single handler saw."""

    def __init__(self, redis_url: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.stream, self.dead, self.group = f"test:evb:{tag}", f"test:evb:{tag}:dead", f"g-{tag}"
        self.r = redis.Redis.from_url(redis_url)
        self.redis_url = redis_url
        self.batches: list[list[str]] = []
        self.alone: list[str] = []

    def consumer(self, *, poison: str = "", down: str = "", **kw: Any) -> events.Consumer:
        """A batch handler that fails when its batch holds `poison` or `down`; the single handler
        raises `UnreadableEvent` for `poison` and a transient error for `down`."""

        async def batch(evs: Sequence[events.Event]) -> None:
            ids = [ev.id for ev in evs]
            if poison in ids or down in ids:
                raise RuntimeError("one of them cannot be applied")
            self.batches.append(ids)

        async def one(ev: events.Event) -> None:
            if ev.id == poison:
                raise events.UnreadableEvent("cannot read this one", type_=ev.type, version=ev.version)
            if ev.id == down:
                raise ConnectionError("database is down")
            self.alone.append(ev.id)

        return events.Consumer(self.redis_url, self.group, one, batch_handler=batch, stream=self.stream,
                               dead_stream=self.dead, block_ms=20, **kw)

    def publish(self, *evs: events.Event) -> None:
        for ev in evs:
            self.r.xadd(self.stream, ev.to_fields())

    def pending_ids(self) -> list[bytes]:
        return [p["message_id"] for p in self.r.xpending_range(self.stream, self.group, min="-", max="+", count=100)]

    def dead_ids(self) -> list[str]:
        return [f[b"id"].decode() for _, f in self.r.xrange(self.dead)]


@pytest.fixture()
async def bus(redis_url: str) -> AsyncIterator[Bus]:
    b = Bus(redis_url)
    yield b
    b.r.delete(b.stream, b.dead)
    b.r.close()


async def test_the_events_of_one_read_go_to_the_batch_handler_together_in_stream_order(bus: Bus) -> None:
    evs = [event("asset.sold", sold_payload()) for _ in range(4)]
    drifted = event("asset.sold", sold_payload(price=1.5))  # fails its schema: never handed over
    bus.publish(evs[0], evs[1], drifted, event("user.created", {"user_id": "u-1"}), evs[2], evs[3])
    assert await _poll(bus.consumer(types={"asset.sold"})) == 6
    assert bus.batches == [[ev.id for ev in evs]] and bus.alone == []
    assert bus.dead_ids() == [drifted.id]
    assert bus.pending_ids() == []


async def test_a_poison_event_in_a_batch_is_dead_lettered_alone_and_the_others_applied_in_order(bus: Bus) -> None:
    evs = [event("asset.sold", sold_payload()) for _ in range(3)]
    bus.publish(*evs)
    assert await _poll(bus.consumer(poison=evs[1].id)) == 3
    assert bus.batches == []  # the batch applied nothing
    assert bus.alone == [evs[0].id, evs[2].id]
    assert bus.dead_ids() == [evs[1].id]
    assert bus.pending_ids() == []


async def test_a_transient_failure_in_a_batch_leaves_only_its_own_event_pending(bus: Bus) -> None:
    evs = [event("asset.sold", sold_payload()) for _ in range(3)]
    bus.publish(*evs)
    assert await _poll(bus.consumer(down=evs[0].id, retry_idle_ms=60_000)) == 3
    assert bus.alone == [evs[1].id, evs[2].id] and bus.dead_ids() == []
    assert len(bus.pending_ids()) == 1
    # Reclaimed later, it is retried (in a batch of its own) once the database is back.
    assert await _poll(bus.consumer(retry_idle_ms=0)) == 1
    assert bus.batches == [[evs[0].id]] and bus.pending_ids() == []


class _Op:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str) -> None:
        self.conn.execute(text(sql))


def test_first_deliveries_marks_a_batch_once_per_consumer_in_one_statement(service_db_url: Any) -> None:
    engine = db.make_engine(service_db_url("libtest_pe_batch"), "libtest_pe_batch")
    statements: list[str] = []
    with engine.begin() as conn:
        events.migration_upgrade(_Op(conn))
        assert events.first_delivery(conn, "analytics", "ev-1") is True
    with engine.begin() as conn:
        sa_event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        assert events.first_deliveries(conn, "analytics", ["ev-1", "ev-2", "ev-3", "ev-2"]) == {"ev-2", "ev-3"}
        assert len(statements) == 1
        assert events.first_deliveries(conn, "analytics", ["ev-2", "ev-3"]) == set()
        assert events.first_deliveries(conn, "ai-agents", ["ev-1"]) == {"ev-1"}
        assert events.first_deliveries(conn, "analytics", []) == set()
        assert events.first_delivery(conn, "analytics", "ev-3") is False
    engine.dispose()


async def test_filtered_in_redis_only_the_wanted_types_are_sent_and_the_others_acknowledged(bus: Bus) -> None:
    wanted = [event("asset.sold", sold_payload()) for _ in range(3)]
    drifted = event("asset.sold", sold_payload(price=1.5))
    bus.publish(event("user.created", {"user_id": "u-1"}), wanted[0], drifted, wanted[1])
    bus.r.xadd(bus.stream, {"id": "x", "type": "chain.transfer", "payload": "{not json"})  # never parsed
    bus.publish(wanted[2])
    consumer = bus.consumer(types={"asset.sold"}, filter_in_redis=True)
    assert await _poll(consumer) == 6
    assert bus.batches == [[ev.id for ev in wanted]]
    assert bus.dead_ids() == [drifted.id]  # a wanted type is still checked against its contract
    assert bus.pending_ids() == []


async def test_filtered_in_redis_a_consumer_waits_for_new_entries_and_reads_them_next(bus: Bus) -> None:
    consumer = bus.consumer(types={"asset.sold"}, filter_in_redis=True)
    consumer.block_ms = 3000
    await consumer._ensure_group()
    try:
        assert await asyncio.wait_for(consumer.poll_once(), 1) == 0  # the first poll reads at once
        sold = event("asset.sold", sold_payload())
        waiting = asyncio.create_task(consumer.poll_once())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # blocked: nothing new since the last read
        started = time.monotonic()
        bus.publish(event("user.created", {"user_id": "u-1"}), sold)
        assert await asyncio.wait_for(waiting, 2) == 2  # woken by the entries, not by the timeout
        assert time.monotonic() - started < 2
        assert bus.batches == [[sold.id]] and bus.pending_ids() == []
    finally:
        await consumer.redis.aclose()


async def test_filtered_in_redis_a_pending_entry_is_still_reclaimed_and_retried(bus: Bus) -> None:
    sold = event("asset.sold", sold_payload())
    bus.publish(sold)
    assert await _poll(bus.consumer(down=sold.id, types={"asset.sold"}, filter_in_redis=True,
                                    retry_idle_ms=60_000)) == 1
    assert len(bus.pending_ids()) == 1
    assert await _poll(bus.consumer(types={"asset.sold"}, filter_in_redis=True, retry_idle_ms=0)) == 1
    assert bus.batches == [[sold.id]] and bus.pending_ids() == []


async def test_filtered_in_redis_a_pending_entry_trimmed_away_does_not_stop_the_reads(bus: Bus) -> None:
    sold = event("asset.sold", sold_payload())
    bus.publish(sold)
    assert await _poll(bus.consumer(down=sold.id, types={"asset.sold"}, filter_in_redis=True,
                                    retry_idle_ms=60_000)) == 1
    [msg_id] = bus.pending_ids()
    bus.r.xdel(bus.stream, msg_id)  # trimmed while pending (Redis 6.2 then keeps it pending, without fields)
    later = event("asset.sold", sold_payload())
    bus.publish(later)
    assert await _poll(bus.consumer(types={"asset.sold"}, filter_in_redis=True, retry_idle_ms=0)) >= 1
    assert bus.batches == [[later.id]] and bus.dead_ids() == []
