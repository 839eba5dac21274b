"""Domain events through a transactional outbox, relayed to a Redis Stream, under a contract.

A service writes its change and `emit(...)` in one database transaction; the
`OutboxRelay` publishes unpublished rows to the stream and marks them; consumers
read with a consumer group and use `first_delivery(...)` in their own transaction
so at-least-once delivery applies each event once.

The contract: every (type, version) has a JSON Schema in `event_schemas/` (envelope
and payload, money as decimal strings; see its README). `emit` refuses an event that
does not match its schema (`UnknownEventType`, `UnknownEventVersion`, `InvalidEvent`),
so a producer cannot write a drifted shape. A `Consumer` checks every entry against
the same schemas before its handler sees it; an entry it cannot read (a broken
envelope, a contract violation, or a handler raising `UnreadableEvent`) goes to the
dead-letter stream `DEAD_STREAM` with its original fields, the group and the reason,
is counted in `events_dead_lettered_total` and logged as one ERROR alert line, and
only then acknowledged. Any other handler error (e.g. the database is down) leaves
the entry pending; it is reclaimed (XAUTOCLAIM) and retried.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from typing import Any, cast

import jsonschema_rs
import orjson
import redis
import redis.asyncio as aioredis
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from redis.typing import EncodableT, FieldT
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ipheron_libs.db import autocommit, check_schema_name, run_db
from ipheron_libs.metrics import EVENTS_DEAD_LETTERED

log = logging.getLogger("ipheron.events")
STREAM = "ipheron:events"
STREAM_MAXLEN = 1_000_000
# Where consumers put what they cannot read (see `Consumer`); kept, never trimmed short.
DEAD_STREAM = "ipheron:events:dead"
DEAD_STREAM_MAXLEN = 100_000
# How long an entry stays pending after a failed (transient) handling before it is retried.
RETRY_IDLE_MS = 30_000
_MAX_REASON_CHARS = 1000


# ---------------------------------------------------------------- errors


class EventError(Exception):
    """An event that cannot be read as the contract says; `reason` is a short code."""

    reason = "unreadable"

    def __init__(self, message: str, *, type_: str = "", version: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.type = type_
        self.version = version


class MalformedEnvelope(EventError):
    """A stream entry without the envelope fields, or whose payload is not a JSON object."""

    reason = "malformed_envelope"


class EventContractError(EventError):
    """The event does not meet the contract of its (type, version)."""

    reason = "contract"


class UnknownEventType(EventContractError):
    reason = "unknown_type"


class UnknownEventVersion(EventContractError):
    reason = "unknown_version"


class InvalidEvent(EventContractError):
    """The envelope or payload fails its schema; `errors` lists "path: message" lines."""

    reason = "invalid"

    def __init__(self, message: str, *, type_: str, version: int, errors: tuple[str, ...]) -> None:
        super().__init__(message, type_=type_, version=version)
        self.errors = errors


class UnreadableEvent(EventError):
    """Raised by a consumer's handler for an event it cannot parse (it would fail the same way on
    every retry): the consumer dead-letters it instead of retrying."""

    reason = "unreadable"


@dataclass(frozen=True)
class Event:
    """One domain event as it travels on the stream."""

    id: str
    type: str
    version: int
    occurred_at: str
    actor: str
    payload: dict[str, Any]

    def to_fields(self) -> dict[FieldT, EncodableT]:
        return {"id": self.id, "type": self.type, "version": str(self.version), "occurred_at": self.occurred_at,
                "actor": self.actor, "payload": orjson.dumps(self.payload).decode()}

    def document(self) -> dict[str, Any]:
        """The event as its JSON Schema describes it (envelope with the payload inside)."""
        return {"id": self.id, "type": self.type, "version": self.version, "occurred_at": self.occurred_at,
                "actor": self.actor, "payload": self.payload}

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> Event:
        """Decode a stream entry; `MalformedEnvelope` when it is not an event at all."""
        try:
            f = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                 for k, v in fields.items()}
            payload = orjson.loads(f.get("payload", "{}"))
            ev = cls(id=f["id"], type=f["type"], version=int(f.get("version", 1)), occurred_at=f["occurred_at"],
                     actor=f.get("actor", ""), payload=payload)
        except (KeyError, ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise MalformedEnvelope(f"not an event envelope: {exc!r}") from None
        if not isinstance(payload, dict):
            raise MalformedEnvelope("the payload is not a JSON object", type_=ev.type, version=ev.version)
        return ev


# ---------------------------------------------------------------- the contract


SCHEMA_PACKAGE = "ipheron_libs"
SCHEMA_FOLDER = "event_schemas"
COMMON_SCHEMA_ID = "urn:ipheron:events:common"


@dataclass(frozen=True)
class EventSchema:
    """The contract of one (type, version): its JSON Schema, compiled once."""

    type: str
    version: int
    producer: str
    consumers: tuple[str, ...]
    schema: Mapping[str, Any]
    # The Rust validator answers "valid?" in ~10 µs (the pure-Python one takes ~1 ms here);
    # the Python one only explains a failure, path by path.
    fast: Any
    validator: Validator


class Contracts:
    """Every event schema in a folder (`<type>.v<version>.json` plus `common.json`), compiled once."""

    def __init__(self, folder: Traversable) -> None:
        docs = {entry.name: orjson.loads(entry.read_bytes()) for entry in folder.iterdir()
                if entry.name.endswith(".json")}
        common = docs.pop("common.json")
        Draft202012Validator.check_schema(common)
        self._schemas: dict[tuple[str, int], EventSchema] = {}
        for name, doc in sorted(docs.items()):
            Draft202012Validator.check_schema(doc)
            type_, version = doc["properties"]["type"]["const"], doc["properties"]["version"]["const"]
            if name != f"{type_}.v{version}.json":
                raise ValueError(f"event schema {name} declares {type_} v{version}; name it {type_}.v{version}.json")
            # The shared definitions are inlined: resolving $refs on every call costs ~4x.
            inlined = _inline(doc, common["$defs"])
            self._schemas[(type_, version)] = EventSchema(
                type=type_, version=version, producer=doc.get("x-producer", ""),
                consumers=tuple(doc.get("x-consumers", ())), schema=doc,
                fast=jsonschema_rs.Draft202012Validator(inlined),
                validator=Draft202012Validator(inlined),
            )
        self.common: Mapping[str, Any] = common

    def __iter__(self) -> Iterator[EventSchema]:
        return iter(self._schemas.values())

    def types(self) -> set[str]:
        return {t for t, _ in self._schemas}

    def schema(self, type_: str, version: int) -> EventSchema:
        """The contract of (type, version), or `UnknownEventType` / `UnknownEventVersion`."""
        found = self._schemas.get((type_, version))
        if found is not None:
            return found
        if type_ in self.types():
            known = sorted(v for t, v in self._schemas if t == type_)
            raise UnknownEventVersion(f"{type_} has no version {version} (known: {known})", type_=type_,
                                      version=version)
        raise UnknownEventType(f"unknown event type {type_[:64]!r}", type_=type_, version=version)

    def check(self, event: Event) -> None:
        """Refuse an event that does not meet its contract (envelope and payload)."""
        contract = self.schema(event.type, event.version)
        doc = event.document()
        if contract.fast.is_valid(doc):
            return
        errors = tuple(_describe(e) for e in sorted(contract.validator.iter_errors(doc), key=_error_order))
        raise InvalidEvent(f"{event.type} v{event.version} does not match its schema: {'; '.join(errors[:5])}",
                           type_=event.type, version=event.version, errors=errors)


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    """`node` with every `$ref` into common.json replaced by the definition it names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            prefix = COMMON_SCHEMA_ID + "#/$defs/"
            if not ref.startswith(prefix) or ref[len(prefix):] not in defs:
                raise ValueError(f"event schemas may only refer to {prefix}<name>, not {ref}")
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline(defs[ref[len(prefix):]], defs), **_inline(rest, defs)}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _error_order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(p) for p in error.absolute_path)


def _describe(error: ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path) or "(event)"
    return f"{path}: {error.message[:200]}"


@functools.cache
def contracts() -> Contracts:
    """The schemas shipped with this package (loaded and compiled on first use)."""
    return Contracts(resources.files(SCHEMA_PACKAGE) / SCHEMA_FOLDER)


def check(event: Event) -> None:
    """Refuse an event that does not meet the contract of its (type, version)."""
    contracts().check(event)


def migration_upgrade(op: Any) -> None:
    """Create the outbox and processed-events tables (call from a service's Alembic migration)."""
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS outbox (
            id uuid PRIMARY KEY,
            type text NOT NULL,
            version integer NOT NULL DEFAULT 1,
            actor text NOT NULL DEFAULT '',
            payload jsonb NOT NULL,
            occurred_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_outbox_unpublished ON outbox (occurred_at) WHERE published_at IS NULL")
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS processed_events (
            consumer text NOT NULL,
            event_id text NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )
        """
    )


def migration_downgrade(op: Any) -> None:
    op.execute("DROP TABLE IF EXISTS processed_events")
    op.execute("DROP TABLE IF EXISTS outbox")


def emit(conn: Connection | Session, type_: str, actor: str, payload: dict[str, Any], *, version: int = 1) -> Event:
    """Record an event in the caller's transaction; it is published only if that commits.

    The event is checked against the schema of (type, version) first: an unknown type or
    version, or a payload that does not match, raises (`EventContractError`) and writes
    nothing, so the caller's transaction fails rather than publish a shape nobody can read.
    """
    return emit_many(conn, [(type_, actor, payload, str(uuid.uuid4()))], version=version)[0]


def emit_many(conn: Connection | Session, items: Sequence[tuple[str, str, dict[str, Any], str]], *,
              version: int = 1) -> list[Event]:
    """`emit` for several events in one statement (a batch of rows in one round trip), in the
    given order: each item is (type, actor, payload, event id). Every event is checked against
    its schema before anything is written."""
    evs = []
    for type_, actor, payload, event_id in items:
        ev = Event(id=event_id, type=type_, version=version, occurred_at=dt.datetime.now(dt.UTC).isoformat(),
                   actor=actor, payload=payload)
        check(ev)
        evs.append(ev)
    if len(evs) == 1:
        ev = evs[0]
        conn.execute(_EMIT_ONE, {"id": ev.id, "type": ev.type, "version": ev.version, "actor": ev.actor,
                                 "payload": orjson.dumps(ev.payload).decode(), "occurred_at": ev.occurred_at})
    elif evs:
        # The rows as one JSON text parameter, in order: one statement, however many events.
        rows = [{"id": ev.id, "type": ev.type, "version": ev.version, "actor": ev.actor, "payload": ev.payload,
                 "occurred_at": ev.occurred_at} for ev in evs]
        conn.execute(_EMIT_MANY, {"rows": orjson.dumps(rows).decode()})
    return evs


# Built once (a text() made per call is built and keyed again each time).
_EMIT_ONE = text("INSERT INTO outbox (id, type, version, actor, payload, occurred_at) "
                 "VALUES (:id, :type, :version, :actor, CAST(:payload AS jsonb), :occurred_at)")
_EMIT_MANY = text(
    "INSERT INTO outbox (id, type, version, actor, payload, occurred_at) "
    "SELECT r.id, r.type, r.version, r.actor, r.payload, r.occurred_at "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
    "AS r(id uuid, type text, version integer, actor text, payload jsonb, occurred_at timestamptz)")


def first_delivery(conn: Connection | Session, consumer: str, event_id: str) -> bool:
    """True the first time `consumer` sees `event_id`; run it in the same transaction as the effect."""
    row = conn.execute(
        text("INSERT INTO processed_events (consumer, event_id) VALUES (:c, :e) ON CONFLICT DO NOTHING RETURNING 1"),
        {"c": consumer, "e": event_id},
    ).first()
    return row is not None


def first_deliveries(conn: Connection | Session, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """`first_delivery` for several events in one statement: the ids among `event_ids` that
    `consumer` sees for the first time (each id once, however often it is listed); run it in
    the same transaction as their effects."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    # The ids as one JSON text parameter: psycopg's list adaptation costs more than the statement.
    rows = conn.execute(_FIRST_DELIVERIES, {"c": consumer, "ids": orjson.dumps(ids).decode()})
    return {r[0] for r in rows}


_FIRST_DELIVERIES = text(
    "INSERT INTO processed_events (consumer, event_id) "
    "SELECT :c, e FROM jsonb_array_elements_text(CAST(:ids AS jsonb)) AS e ON CONFLICT DO NOTHING RETURNING event_id")


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def async_redis_client(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url)


class OutboxRelay:
    """Publishes a service's unpublished outbox rows to the stream, oldest first."""

    def __init__(self, engine: Engine, schema: str, redis_url: str, *, stream: str = STREAM,
                 interval: float = 0.2, batch: int = 200) -> None:
        self.engine = engine
        self.schema = check_schema_name(schema)
        self.redis = redis_client(redis_url)
        self.stream = stream
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        # After a pass that found nothing, the next one first asks in one autocommit statement
        # whether anything is unpublished (the partial index answers it) instead of opening a
        # transaction (BEGIN, the locking SELECT, COMMIT): an idle service's relay costs a third
        # of the round trips. After a pass that published, the next goes straight to the batch.
        self._probe = autocommit(engine)
        self._any_unpublished = text(f'SELECT 1 FROM "{self.schema}".outbox WHERE published_at IS NULL LIMIT 1')
        self._idle = False
        contracts()  # a service that relays an outbox emits: compile the schemas now, not on its first write

    def publish_pending(self) -> int:
        """One pass: publish up to `batch` rows; returns how many were published."""
        if self._idle:
            with self._probe.connect() as probe:
                if probe.execute(self._any_unpublished).first() is None:
                    return 0
        published = self._publish_batch()
        self._idle = published == 0
        return published

    def _publish_batch(self) -> int:
        with self.engine.begin() as conn:
            rows = conn.execute(
                text(f'SELECT id, type, version, actor, payload, occurred_at FROM "{self.schema}".outbox '
                     "WHERE published_at IS NULL ORDER BY occurred_at LIMIT :n FOR UPDATE SKIP LOCKED"),
                {"n": self.batch},
            ).all()
            if not rows:
                return 0
            pipe = self.redis.pipeline(transaction=False)
            for r in rows:
                ev = Event(id=str(r.id), type=r.type, version=r.version, occurred_at=r.occurred_at.isoformat(),
                           actor=r.actor, payload=r.payload)
                pipe.xadd(self.stream, ev.to_fields(), maxlen=STREAM_MAXLEN, approximate=True)
            pipe.execute()
            # A crash between XADD and this UPDATE republishes: consumers deduplicate by id.
            conn.execute(text(f'UPDATE "{self.schema}".outbox SET published_at = now() WHERE id = ANY(:ids)'),
                         {"ids": [r.id for r in rows]})
            return len(rows)

    async def run(self) -> None:
        while True:
            try:
                n = await run_db(self.publish_pending)
                if n >= self.batch:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep relaying after Redis/DB hiccups
                log.warning("outbox relay pass failed; retrying", exc_info=True)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.redis.close()


def replay_dead(redis_url: str, group: str, *, dead_stream: str = DEAD_STREAM, limit: int = 1000) -> int:
    """After a fix, put what `group` dead-lettered back on the stream it came from, oldest first.

    The original fields are published again unchanged (same event id), so consumers that
    already applied an event skip it (`first_delivery`); each replayed entry leaves the
    dead-letter stream in the same MULTI. Returns how many were replayed.
    """
    r = redis_client(redis_url)
    replayed = 0
    try:
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], r.xrange(dead_stream, count=limit))
        for msg_id, fields in entries:
            if fields.get(b"dead_group") != group.encode():
                continue
            original: dict[FieldT, EncodableT] = {k: v for k, v in fields.items() if not k.startswith(b"dead_")}
            pipe = r.pipeline(transaction=True)
            pipe.xadd(fields[b"dead_stream"].decode(), original, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.xdel(dead_stream, msg_id)
            pipe.execute()
            replayed += 1
    finally:
        r.close()
    log.warning("replayed %d dead-lettered event(s) of %s from %s", replayed, group, dead_stream)
    return replayed


# One round trip per read for a `Consumer` with `filter_in_redis`: XAUTOCLAIM (entries pending
# too long), then XREADGROUP of new entries, acknowledging there those of the types the group
# does not use, so that only the wanted entries travel and are parsed. KEYS[1] stream; ARGV
# group, consumer, count, min idle ms, then the wanted types. Returns {claimed entries, new
# entries read, the wanted ones among them, the id to wait after (the last read, else the
# stream's last)}. A script cannot block: the consumer waits with XREAD BLOCK from that id.
_READ_WANTED = """
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], '0-0', 'COUNT', ARGV[3])[2]
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not reply then
    local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
    if #last == 0 then return {claimed, 0, {}, '0-0'} end
    return {claimed, 0, {}, last[1][1]}
end
local wanted = {}
for i = 5, #ARGV do wanted[ARGV[i]] = true end
local entries, keep, skip = reply[1][2], {}, {}
for _, entry in ipairs(entries) do
    local fields, kind = entry[2], nil
    for i = 1, #fields, 2 do
        if fields[i] == 'type' then kind = fields[i + 1] break end
    end
    if kind and wanted[kind] then keep[#keep + 1] = entry else skip[#skip + 1] = entry[1] end
end
if #skip > 0 then redis.call('XACK', KEYS[1], ARGV[1], unpack(skip)) end
return {claimed, #entries, keep, entries[#entries][1]}
"""


class Consumer:
    """Reads the stream in a consumer group and calls `handler` for each event that meets its contract.

    The handler must be idempotent (use `first_delivery` in its transaction); an
    event is acknowledged only after the handler returns, so a crash redelivers. The
    entries of one read are acknowledged together (one XACK), after the last of them.
    With `types`, events of other types are acknowledged unread: the group does not
    parse, check or handle what it never uses (every group reads the whole stream).
    What cannot be read (see the module docstring) is dead-lettered, counted and
    alerted, then acknowledged; any other failure leaves the entry pending, and
    `poll_once` reclaims entries pending for `retry_idle_ms` and tries them again.

    With `batch_handler` (opt-in), the events of one read that meet their contract go to it
    together, in stream order, in one call (e.g. one database transaction for them all,
    deduplicated with `first_deliveries`); it must apply all of them or none. When it raises,
    each of those events is handled again alone by `handler`, in order, so a poison event is
    still dead-lettered by itself and the others applied, and a transient failure leaves only
    what fails alone pending.

    With `types` and `filter_in_redis` (opt-in), a script inside Redis reclaims and reads in one
    round trip and acknowledges the other types there (as this class does unread otherwise):
    they are neither sent nor parsed here. A script cannot block, so each later poll first
    waits with XREAD BLOCK (COUNT 1) until the stream holds an entry after the last one read.
    """

    def __init__(self, redis_url: str, group: str, handler: Callable[[Event], Awaitable[None]], *,
                 stream: str = STREAM, name: str | None = None, block_ms: int = 1000, count: int = 100,
                 dead_stream: str = DEAD_STREAM, retry_idle_ms: int = RETRY_IDLE_MS,
                 contract: Contracts | None = None, types: Iterable[str] | None = None,
                 batch_handler: Callable[[Sequence[Event]], Awaitable[None]] | None = None,
                 filter_in_redis: bool = False) -> None:
        self.redis = async_redis_client(redis_url)
        self.group = group
        self.types = frozenset(types) if types is not None else None
        self.handler = handler
        self.batch_handler = batch_handler
        self.stream = stream
        self.name = name or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.block_ms = block_ms
        self.count = count
        self.dead_stream = dead_stream
        self.retry_idle_ms = retry_idle_ms
        self.contract = contract or contracts()
        self._read_wanted = (self.redis.register_script(_READ_WANTED)
                             if filter_in_redis and self.types is not None else None)
        self._read_after: bytes | None = None  # with `filter_in_redis`: the id a poll waits after
        self._task: asyncio.Task[None] | None = None

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _handle(self, entries: list[Any]) -> None:
        done: list[Any] = []
        try:
            if self.batch_handler is not None:
                await self._handle_batch(entries, done)
                return
            for msg_id, fields in entries:
                if await self._handle_one(msg_id, fields):
                    done.append(msg_id)
        finally:
            if done:
                await self.redis.xack(self.stream, self.group, *done)

    async def _read(self, msg_id: Any, fields: Mapping[Any, Any] | None) -> tuple[Event | None, bool]:
        """(the entry's event if this group is to handle it, else None; whether to acknowledge it with
        the batch). Trimmed entries and other types are acknowledged unread; what does not meet the
        contract is dead-lettered here (which acknowledges it)."""
        if fields is None:  # trimmed from the stream while pending: nothing left to read or keep
            log.warning("event %s of %s was trimmed before %s handled it", msg_id, self.stream, self.group)
            return None, True
        if self.types is not None:
            kind = fields.get(b"type", fields.get("type"))
            if (kind.decode() if isinstance(kind, bytes) else kind) not in self.types:
                return None, True
        try:
            event = Event.from_fields(fields)
            self.contract.check(event)
        except EventError as exc:
            await self._dead_letter(msg_id, fields, exc)
            return None, False
        return event, False

    async def _handle_one(self, msg_id: Any, fields: Mapping[Any, Any] | None) -> bool:
        """Handle one entry; True when it is to be acknowledged with the batch."""
        event, ack = await self._read(msg_id, fields)
        if event is None or fields is None:
            return ack
        return await self._apply_one(msg_id, fields, event)

    async def _apply_one(self, msg_id: Any, fields: Mapping[Any, Any], event: Event) -> bool:
        try:
            await self.handler(event)
        except EventError as exc:
            await self._dead_letter(msg_id, fields, exc)
            return False
        except Exception:  # noqa: BLE001 - transient (e.g. database down): leave it pending; retried later
            log.exception("event handler of %s failed for %s; it stays pending and is retried", self.group, msg_id)
            return False
        return True

    async def _handle_batch(self, entries: list[Any], done: list[Any]) -> None:
        """The readable events of `entries` to `batch_handler` at once; alone to `handler` if it raises."""
        assert self.batch_handler is not None
        ready: list[tuple[Any, Mapping[Any, Any], Event]] = []
        for msg_id, fields in entries:
            event, ack = await self._read(msg_id, fields)
            if event is not None and fields is not None:
                ready.append((msg_id, fields, event))
            elif ack:
                done.append(msg_id)
        if not ready:
            return
        try:
            await self.batch_handler([event for _, _, event in ready])
        except Exception as exc:  # noqa: BLE001 - one event may be poison: find it by handling each alone
            log.warning("batch of %d event(s) failed for %s (%r); handling them one by one", len(ready),
                        self.group, exc)
            for msg_id, fields, event in ready:
                if await self._apply_one(msg_id, fields, event):
                    done.append(msg_id)
            return
        done.extend(msg_id for msg_id, _, _ in ready)

    async def _dead_letter(self, msg_id: Any, fields: Mapping[Any, Any], exc: EventError) -> None:
        """Copy the entry to the dead-letter stream with why, then acknowledge it (one MULTI)."""
        mid = msg_id.decode() if isinstance(msg_id, bytes) else str(msg_id)
        dead: dict[Any, Any] = dict(fields)
        dead.update({
            "dead_stream": self.stream, "dead_message_id": mid, "dead_group": self.group,
            "dead_consumer": self.name, "dead_reason": exc.reason, "dead_error": exc.message[:_MAX_REASON_CHARS],
            "dead_at": dt.datetime.now(dt.UTC).isoformat(),
        })
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(self.dead_stream, dead, maxlen=DEAD_STREAM_MAXLEN, approximate=True)
                pipe.xack(self.stream, self.group, msg_id)
                await pipe.execute()
        except redis.RedisError:
            log.exception("could not dead-letter event %s of %s; it stays pending", mid, self.group)
            return
        # Label only known types: an arbitrary string from the stream must not grow the metric.
        type_label = exc.type if exc.type in self.contract.types() else "unknown"
        EVENTS_DEAD_LETTERED.labels(group=self.group, type=type_label, reason=exc.reason).inc()
        log.error("ALERT event dead-lettered: group=%s stream=%s message=%s type=%s version=%s reason=%s "
                  "dead_stream=%s: %s", self.group, self.stream, mid, exc.type[:64] or "?", exc.version,
                  exc.reason, self.dead_stream, exc.message[:_MAX_REASON_CHARS])

    async def poll_once(self) -> int:
        """Reclaim entries pending too long, then read new ones; returns how many were handled."""
        if self._read_wanted is not None:
            return await self._poll_filtered()
        handled = 0
        reply = await self.redis.xautoclaim(self.stream, self.group, self.name, min_idle_time=self.retry_idle_ms,
                                            start_id="0-0", count=self.count)
        # [next id, entries] (Redis 6.2) or [next id, entries, deleted ids] (Redis 7).
        claimed: list[Any] = reply[1]
        if claimed:
            await self._handle(claimed)
            handled += len(claimed)
        resp = cast(list[Any] | None, await self.redis.xreadgroup(self.group, self.name, {self.stream: ">"},
                                                                    count=self.count, block=self.block_ms))
        for _, entries in resp or []:
            await self._handle(entries)
            handled += len(entries)
        return handled

    async def _poll_filtered(self) -> int:
        """`poll_once` through the `_READ_WANTED` script (the other types acknowledged in Redis)."""
        assert self._read_wanted is not None and self.types is not None
        if self._read_after is not None:  # block until the stream grows past what was read
            await self.redis.xread({self.stream: self._read_after}, count=1, block=self.block_ms)
        claimed, read, kept, self._read_after = await self._read_wanted(
            keys=[self.stream], args=[self.group, self.name, self.count, self.retry_idle_ms, *sorted(self.types)])
        for batch in (claimed, kept):
            # Redis 6.2 answers an entry deleted while pending as nil, without its id (Redis 7 drops it).
            entries = [(entry[0], None if entry[1] is None else dict(zip(entry[1][::2], entry[1][1::2], strict=True)))
                       for entry in batch if entry is not None]
            if len(entries) < len(batch):
                log.warning("%d pending event(s) of %s were trimmed before %s handled them", len(batch) - len(entries),
                            self.stream, self.group)
            if entries:
                await self._handle(entries)
        return len(claimed) + int(read)

    async def run(self) -> None:
        await self._ensure_group()
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.warning("event consumer %s failed a pass; retrying", self.group, exc_info=True)
                await asyncio.sleep(1.0)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.redis.aclose()
