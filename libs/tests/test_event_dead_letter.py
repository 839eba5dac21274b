"""What a consumer cannot read goes to the dead-letter stream with its original fields,
the consumer group and the reason, counted and alerted; a transient failure stays
pending and is retried (real Redis)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import redis
from event_samples import event, sold_payload
from event_samples import poll_once as _poll
from ipheron_libs import events
from prometheus_client import REGISTRY


def _dead_count(group: str, type_: str, reason: str) -> float:
    value = REGISTRY.get_sample_value("events_dead_lettered_total", {"group": group, "type": type_, "reason": reason})
    return value or 0.0


def _text(fields: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in fields.items()}


class Bus:
    """One fresh stream and dead-letter stream, a consumer group on them, and what the handler saw."""

    def __init__(self, redis_url: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.stream, self.dead, self.group = f"test:ev:{tag}", f"test:ev:{tag}:dead", f"g-{tag}"
        self.r = redis.Redis.from_url(redis_url)
        self.redis_url = redis_url
        self.seen: list[events.Event] = []

    def consumer(self, handler: Callable[[events.Event], Awaitable[None]] | None = None, **kw: Any) -> events.Consumer:
        async def record(ev: events.Event) -> None:
            self.seen.append(ev)

        return events.Consumer(self.redis_url, self.group, handler or record, stream=self.stream,
                               dead_stream=self.dead, block_ms=20, **kw)

    def publish(self, fields: dict[Any, Any]) -> bytes:
        msg_id: bytes = self.r.xadd(self.stream, fields)
        return msg_id

    def pending(self) -> int:
        return int(self.r.xpending(self.stream, self.group)["pending"])

    def dead_entries(self) -> list[dict[str, str]]:
        return [_text(f) for _, f in self.r.xrange(self.dead)]


@pytest.fixture()
async def bus(redis_url: str) -> AsyncIterator[Bus]:
    b = Bus(redis_url)
    yield b
    b.r.delete(b.stream, b.dead)
    b.r.close()


async def test_a_payload_that_fails_its_schema_is_dead_lettered_counted_and_alerted_never_silently_acked(
        bus: Bus, caplog: pytest.LogCaptureFixture) -> None:
    drifted = event("asset.sold", sold_payload(price=1.5))  # a float: the shape a drifted producer would send
    good = event("asset.sold", sold_payload())
    before = _dead_count(bus.group, "asset.sold", "invalid")
    msg_id = bus.publish(drifted.to_fields())
    bus.publish(good.to_fields())
    with caplog.at_level(logging.ERROR, logger="ipheron.events"):
        assert await _poll(bus.consumer()) == 2
    assert [ev.id for ev in bus.seen] == [good.id]  # the handler never saw the bad one
    [dead] = bus.dead_entries()
    assert {k: dead[k] for k in ("id", "type", "version", "occurred_at", "actor", "payload")} == \
        _text({k.encode(): str(v).encode() for k, v in drifted.to_fields().items()})  # the original fields
    assert (dead["dead_group"], dead["dead_reason"], dead["dead_stream"]) == (bus.group, "invalid", bus.stream)
    assert dead["dead_message_id"] == msg_id.decode() and "payload/price" in dead["dead_error"]
    assert bus.pending() == 0  # acknowledged only once it is safe in the dead-letter stream
    assert _dead_count(bus.group, "asset.sold", "invalid") == before + 1
    alerts = [r for r in caplog.records if r.levelno == logging.ERROR and r.getMessage().startswith("ALERT")]
    assert len(alerts) == 1 and drifted.type in alerts[0].getMessage() and bus.group in alerts[0].getMessage()
    assert "\n" not in alerts[0].getMessage()  # one line


async def test_unknown_types_versions_and_broken_envelopes_are_dead_lettered_with_their_reason(bus: Bus) -> None:
    newer = event("asset.sold", sold_payload(), version=2)
    unknown = event("asset.exploded", {"asset_id": "a"})
    broken = {"id": str(uuid.uuid4()), "type": "asset.sold", "payload": "{not json"}
    not_object = {**event("asset.sold", sold_payload()).to_fields(), "payload": orjson.dumps([1, 2]).decode()}
    for fields in (newer.to_fields(), unknown.to_fields(), broken, not_object):
        bus.publish(fields)
    before = _dead_count(bus.group, "unknown", "unknown_type")
    assert await _poll(bus.consumer()) == 4
    assert bus.seen == [] and bus.pending() == 0
    assert [d["dead_reason"] for d in bus.dead_entries()] == \
        ["unknown_version", "unknown_type", "malformed_envelope", "malformed_envelope"]
    # An arbitrary type string from the stream is labelled "unknown" (bounded metric labels).
    assert _dead_count(bus.group, "unknown", "unknown_type") == before + 1


async def test_a_handler_that_cannot_parse_an_event_dead_letters_it_instead_of_retrying(bus: Bus) -> None:
    calls: list[str] = []

    async def picky(ev: events.Event) -> None:
        calls.append(ev.id)
        raise events.UnreadableEvent(f"price {ev.payload['price']} is above what I can store", type_=ev.type,
                                     version=ev.version)

    ev = event("asset.sold", sold_payload())
    bus.publish(ev.to_fields())
    assert await _poll(bus.consumer(picky, retry_idle_ms=0)) == 1
    [dead] = bus.dead_entries()
    assert dead["dead_reason"] == "unreadable" and "above what I can store" in dead["dead_error"]
    assert dead["id"] == ev.id and bus.pending() == 0
    assert await _poll(bus.consumer(picky, retry_idle_ms=0)) == 0  # not delivered again
    assert calls == [ev.id]


async def test_a_transient_failure_stays_pending_and_is_retried_not_dead_lettered(bus: Bus) -> None:
    attempts: list[str] = []

    async def flaky(ev: events.Event) -> None:
        attempts.append(ev.id)
        if len(attempts) == 1:
            raise ConnectionError("database is down")
        bus.seen.append(ev)

    ev = event("asset.sold", sold_payload())
    bus.publish(ev.to_fields())
    assert await _poll(bus.consumer(flaky, retry_idle_ms=60_000)) == 1
    assert bus.pending() == 1 and bus.dead_entries() == [] and bus.seen == []
    # Not yet idle long enough: a pass leaves it alone.
    assert await _poll(bus.consumer(flaky, retry_idle_ms=60_000)) == 0
    # Once idle past retry_idle_ms, XAUTOCLAIM hands it to a consumer again.
    assert await _poll(bus.consumer(flaky, retry_idle_ms=0)) == 1
    assert [e.id for e in bus.seen] == [ev.id] and attempts == [ev.id, ev.id]
    assert bus.pending() == 0 and bus.dead_entries() == []


async def test_after_a_fix_dead_lettered_events_are_replayed_once_and_leave_the_dead_letter_stream(bus: Bus) -> None:
    ev = event("asset.sold", sold_payload())
    fixed = False

    async def handler(e: events.Event) -> None:
        if not fixed:
            raise events.UnreadableEvent("this consumer version cannot read it yet", type_=e.type, version=e.version)
        bus.seen.append(e)

    bus.publish(ev.to_fields())
    assert await _poll(bus.consumer(handler)) == 1
    assert len(bus.dead_entries()) == 1 and bus.seen == []
    other_group = {**bus.dead_entries()[0], "dead_group": "someone-else"}
    bus.r.xadd(bus.dead, other_group)  # another group's dead letter stays where it is
    fixed = True
    assert events.replay_dead(bus.redis_url, bus.group, dead_stream=bus.dead) == 1
    assert [d["dead_group"] for d in bus.dead_entries()] == ["someone-else"]
    assert await _poll(bus.consumer(handler)) == 1
    assert [e.id for e in bus.seen] == [ev.id]  # the same event, fields unchanged
    assert bus.seen[0].payload == ev.payload


async def test_a_read_is_acknowledged_together_except_what_failed(bus: Bus) -> None:
    """One XACK for the entries of a read: the handled ones leave the pending list, a transient
    failure among them stays pending (not acknowledged with the rest)."""
    evs = [event("asset.sold", sold_payload()) for _ in range(4)]

    async def fails_on_third(ev: events.Event) -> None:
        if ev.id == evs[2].id:
            raise ConnectionError("database is down")
        bus.seen.append(ev)

    for ev in evs:
        bus.publish(ev.to_fields())
    assert await _poll(bus.consumer(fails_on_third, retry_idle_ms=60_000)) == 4
    assert [e.id for e in bus.seen] == [evs[0].id, evs[1].id, evs[3].id]
    pending = bus.r.xpending_range(bus.stream, bus.group, min="-", max="+", count=10)
    assert len(pending) == 1 and bus.dead_entries() == []


async def test_a_group_that_names_its_types_acknowledges_the_others_unread(bus: Bus) -> None:
    """Other types (even a broken one) are acknowledged without being parsed, checked or handled:
    a group does not pay for, or dead-letter, what it never uses."""
    wanted = event("asset.sold", sold_payload())
    bus.publish(event("user.created", {"user_id": "u-1"}).to_fields())
    bus.publish({"id": "x", "type": "chain.transfer", "payload": "{not json"})
    bus.publish(wanted.to_fields())
    assert await _poll(bus.consumer(types={"asset.sold"})) == 3
    assert [e.id for e in bus.seen] == [wanted.id]
    assert bus.pending() == 0 and bus.dead_entries() == []
