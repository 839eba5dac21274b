"""Domain events through a transactional outbox, relayed to a Redis Stream.

A service writes its change and `emit(...)` in one database transaction; the
`OutboxRelay` publishes unpublished rows to the stream and marks them; consumers
read with a consumer group and use `first_delivery(...)` in their own transaction
so at-least-once delivery applies each event once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ipheron_libs.db import check_schema_name, run_db

log = logging.getLogger("ipheron.events")
STREAM = "ipheron:events"
STREAM_MAXLEN = 1_000_000


@dataclass(frozen=True)
class Event:
    """One domain event as it travels on the stream."""

    id: str
    type: str
    version: int
    occurred_at: str
    actor: str
    payload: dict[str, Any]

    def to_fields(self) -> dict[str, str]:
        return {"id": self.id, "type": self.type, "version": str(self.version), "occurred_at": self.occurred_at,
                "actor": self.actor, "payload": orjson.dumps(self.payload).decode()}

    @classmethod
    def from_fields(cls, fields: dict[Any, Any]) -> Event:
        f = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
             for k, v in fields.items()}
        return cls(id=f["id"], type=f["type"], version=int(f.get("version", 1)), occurred_at=f["occurred_at"],
                   actor=f.get("actor", ""), payload=orjson.loads(f.get("payload", "{}")))


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
    """Record an event in the caller's transaction; it is published only if that commits."""
    ev = Event(id=str(uuid.uuid4()), type=type_, version=version,
               occurred_at=dt.datetime.now(dt.UTC).isoformat(), actor=actor, payload=payload)
    conn.execute(
        text("INSERT INTO outbox (id, type, version, actor, payload, occurred_at) "
             "VALUES (:id, :type, :version, :actor, CAST(:payload AS jsonb), :occurred_at)"),
        {"id": ev.id, "type": ev.type, "version": ev.version, "actor": ev.actor,
         "payload": orjson.dumps(payload).decode(), "occurred_at": ev.occurred_at},
    )
    return ev


def first_delivery(conn: Connection | Session, consumer: str, event_id: str) -> bool:
    """True the first time `consumer` sees `event_id`; run it in the same transaction as the effect."""
    row = conn.execute(
        text("INSERT INTO processed_events (consumer, event_id) VALUES (:c, :e) ON CONFLICT DO NOTHING RETURNING 1"),
        {"c": consumer, "e": event_id},
    ).first()
    return row is not None


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

    def publish_pending(self) -> int:
        """One pass: publish up to `batch` rows; returns how many were published."""
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


class Consumer:
    """Reads the stream in a consumer group and calls `handler` for each event.

    The handler must be idempotent (use `first_delivery` in its transaction); an
    event is acknowledged only after the handler returns, so a crash redelivers.
    """

    def __init__(self, redis_url: str, group: str, handler: Callable[[Event], Awaitable[None]], *,
                 stream: str = STREAM, name: str | None = None, block_ms: int = 1000, count: int = 100) -> None:
        self.redis = async_redis_client(redis_url)
        self.group = group
        self.handler = handler
        self.stream = stream
        self.name = name or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.block_ms = block_ms
        self.count = count
        self._task: asyncio.Task[None] | None = None

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _handle(self, entries: list[Any]) -> None:
        for msg_id, fields in entries:
            try:
                await self.handler(Event.from_fields(fields))
            except Exception:  # noqa: BLE001 - leave it pending; it is retried later
                log.exception("event handler failed for %s", msg_id)
                continue
            await self.redis.xack(self.stream, self.group, msg_id)

    async def poll_once(self) -> int:
        """Reclaim stale pending entries, then read new ones; returns how many were handled."""
        handled = 0
        _, claimed, *_ = await self.redis.xautoclaim(self.stream, self.group, self.name, min_idle_time=30000,
                                                      start_id="0-0", count=self.count)
        if claimed:
            await self._handle(claimed)
            handled += len(claimed)
        resp = await self.redis.xreadgroup(self.group, self.name, {self.stream: ">"}, count=self.count,
                                           block=self.block_ms)
        for _, entries in resp or []:
            await self._handle(entries)
            handled += len(entries)
        return handled

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
