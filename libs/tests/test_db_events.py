"""Real PostgreSQL + Redis: per-service roles cannot read each other's schemas,
and the outbox publishes committed events once and never rolled-back ones."""

from __future__ import annotations

import uuid

import pytest
import redis
from event_samples import event, sold_payload, stake_payload
from ipheron_libs import db, events
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError


class _Op:
    def __init__(self, conn) -> None:  # type: ignore[no-untyped-def]
        self.conn = conn

    def execute(self, sql: str) -> None:
        self.conn.execute(text(sql))


def _with_outbox(url: str, schema: str):  # type: ignore[no-untyped-def]
    engine = db.make_engine(url, schema)
    with engine.begin() as conn:
        events.migration_upgrade(_Op(conn))
    return engine


def test_a_service_role_cannot_read_another_services_schema(service_db_url) -> None:  # type: ignore[no-untyped-def]
    a = db.make_engine(service_db_url("libtest_a"), "libtest_a")
    b = db.make_engine(service_db_url("libtest_b"), "libtest_b")
    with a.begin() as conn:
        conn.execute(text("CREATE TABLE secrets (v text)"))
        conn.execute(text("INSERT INTO secrets VALUES ('mine')"))
    with pytest.raises(ProgrammingError, match="permission denied"), b.connect() as conn:
        conn.execute(text("SELECT * FROM libtest_a.secrets")).all()
    a.dispose()
    b.dispose()


def test_outbox_relays_committed_events_once_and_drops_rolled_back_ones(service_db_url, redis_url) -> None:  # type: ignore[no-untyped-def]
    engine = _with_outbox(service_db_url("libtest_ev"), "libtest_ev")
    stream = "test:events:relay"
    r = redis.Redis.from_url(redis_url)
    r.delete(stream)
    payload = sold_payload(price="1.5")
    with engine.begin() as conn:
        ev = events.emit(conn, "asset.sold", "user-1", payload)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        events.emit(conn, "asset.sold", "user-1", sold_payload())
        raise RuntimeError("the change failed")
    relay = events.OutboxRelay(engine, "libtest_ev", redis_url, stream=stream)
    assert relay.publish_pending() == 1
    assert relay.publish_pending() == 0
    entries = r.xrange(stream)
    assert len(entries) == 1
    got = events.Event.from_fields(entries[0][1])
    assert (got.id, got.type, got.payload) == (ev.id, "asset.sold", payload)
    assert got.payload["price"] == "1.5"  # money stays an exact decimal string end to end
    events.check(got)  # what the relay publishes still meets the contract
    engine.dispose()


def test_an_idle_relay_asks_in_one_statement_and_still_publishes_what_arrives_meanwhile(  # type: ignore[no-untyped-def]
        service_db_url, redis_url) -> None:
    """After a pass that found nothing, a pass is one autocommit SELECT (no BEGIN, locking
    SELECT, COMMIT); an event written meanwhile is published by the next pass all the same."""
    from sqlalchemy import event as sa_event

    engine = _with_outbox(service_db_url("libtest_evi"), "libtest_evi")
    stream = "test:events:relay-idle"
    r = redis.Redis.from_url(redis_url)
    r.delete(stream)
    sent: list[str] = []
    sa_event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: sent.append(statement))
    relay = events.OutboxRelay(engine, "libtest_evi", redis_url, stream=stream)
    assert relay.publish_pending() == 0  # the first pass: the locked batch read, which found nothing
    sent.clear()
    assert relay.publish_pending() == 0 and relay.publish_pending() == 0
    assert len(sent) == 2 and all(s.startswith("SELECT 1 FROM") for s in sent), sent
    with engine.begin() as conn:
        ev = events.emit(conn, "asset.sold", "user-1", sold_payload(price="2"))
    assert relay.publish_pending() == 1
    assert [events.Event.from_fields(f).id for _, f in r.xrange(stream)] == [ev.id]
    sent.clear()
    assert relay.publish_pending() == 0  # right after publishing: the batch read itself, no probe
    assert not any(s.startswith("SELECT 1 FROM") for s in sent) and any("FOR UPDATE" in s for s in sent)
    engine.dispose()


def test_several_events_are_written_in_one_statement_and_relayed_in_their_order(  # type: ignore[no-untyped-def]
        service_db_url, redis_url) -> None:
    engine = _with_outbox(service_db_url("libtest_evm"), "libtest_evm")
    stream = "test:events:relay-many"
    r = redis.Redis.from_url(redis_url)
    r.delete(stream)
    items = [("asset.sold", f"user-{i}", sold_payload(price=f"1.{i + 1}"), str(uuid.uuid4())) for i in range(3)]
    with pytest.raises(events.EventContractError), engine.begin() as conn:
        events.emit_many(conn, [*items, ("asset.sold", "user-x", {"price": "no"}, str(uuid.uuid4()))])
    with engine.begin() as conn:
        written = events.emit_many(conn, items)
    relay = events.OutboxRelay(engine, "libtest_evm", redis_url, stream=stream)
    assert relay.publish_pending() == 3, "the refused batch wrote nothing"
    got = [events.Event.from_fields(fields) for _, fields in r.xrange(stream)]
    assert [(e.id, e.actor, e.payload) for e in got] == [(i[3], i[1], i[2]) for i in items]
    assert [e.id for e in written] == [i[3] for i in items]
    assert [e.payload["price"] for e in got] == ["1.1", "1.2", "1.3"]  # exact decimal strings, in order
    engine.dispose()


def test_first_delivery_is_true_once_per_consumer(service_db_url) -> None:  # type: ignore[no-untyped-def]
    engine = _with_outbox(service_db_url("libtest_pe"), "libtest_pe")
    with engine.begin() as conn:
        assert events.first_delivery(conn, "analytics", "ev-1") is True
        assert events.first_delivery(conn, "analytics", "ev-1") is False
        assert events.first_delivery(conn, "ai-agents", "ev-1") is True
    engine.dispose()


async def test_consumer_group_delivers_and_acknowledges(redis_url) -> None:  # type: ignore[no-untyped-def]
    stream = "test:events:consumer"
    r = redis.Redis.from_url(redis_url)
    r.delete(stream)
    seen: list[str] = []

    async def handler(ev: events.Event) -> None:
        seen.append(ev.type)

    consumer = events.Consumer(redis_url, "g1", handler, stream=stream, block_ms=50)
    await consumer._ensure_group()
    r.xadd(stream, event("stake.opened", stake_payload()).to_fields())
    assert await consumer.poll_once() == 1
    assert seen == ["stake.opened"]
    assert r.xpending(stream, "g1")["pending"] == 0
    await consumer.redis.aclose()
