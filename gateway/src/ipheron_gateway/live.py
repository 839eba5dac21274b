"""Live updates: every gateway replica tails the domain event stream and fans events out to rooms.

Rooms are `market` (every sale, listing/price change, new asset and stake), `asset:{id}`
(what happens to one asset) and `user:{id}` (what concerns one user: their sales,
purchases, royalties as a co-creator, their stakes). `routes(event)` says which rooms an
event reaches and what each room is shown; the `Hub` keeps the rooms of this replica.

Fan-out across replicas: each replica reads the whole stream with plain XREAD from the
moment it started (no consumer group), so an event a service published reaches the
clients of every replica. A consumer group per replica would leave a group and its
pending list behind for every pod that ever ran; live notifications need no
at-least-once delivery (a client that reconnects reloads what it shows), so the tail
keeps no state in Redis at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import orjson
import redis
import redis.asyncio as aioredis
from ipheron_libs import events
from prometheus_client import Counter, Gauge

log = logging.getLogger("ipheron.gateway.live")

# The id shape of the event contract (common.json $defs/id): what may follow "asset:" or "user:".
_ID = r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}"
ROOM = re.compile(rf"^(market|asset:{_ID}|user:{_ID})$")
MARKET = "market"

WS_CONNECTIONS = Gauge("gateway_ws_connections", "Open WebSocket connections on this replica")
WS_DROPPED = Counter("gateway_ws_dropped_total", "WebSocket connections closed by the gateway", ["reason"])
WS_DELIVERED = Counter("gateway_ws_messages_total", "Event messages queued to WebSocket clients")

# What a room other than the user's own is shown of each event: public facts (the chain
# shows them anyway), never review reasons or a stake's wallet bookkeeping.
_PUBLIC: dict[str, tuple[str, ...]] = {
    "asset.created": ("asset_id", "name", "asset_type", "price", "royalty_rate", "status", "region",
                      "creator_user_id", "owner_user_id", "creators"),
    "asset.updated": ("asset_id", "changed", "price", "listed", "status", "token_id", "tx_hash"),
    "asset.sold": ("asset_id", "asset_type", "purchase_id", "price", "currency", "seller_user_id", "buyer_user_id",
                   "seller_wallet", "buyer_wallet", "tx_hash", "block_number", "token_id"),
    "asset.transferred": ("asset_id", "from_wallet", "to_wallet", "tx_hash", "token_id"),
    "stake.opened": ("stake_id", "asset_id", "amount", "duration_days", "apr", "status"),
    "stake.claimed": ("stake_id", "asset_id", "amount", "status", "claimed"),
    "stake.matured": ("stake_id", "asset_id", "amount", "status"),
    "stake.closed": ("stake_id", "asset_id", "amount", "status", "early"),
}
# Which events the market room carries (a transfer is not market news).
_MARKET_TYPES = frozenset({"asset.created", "asset.updated", "asset.sold", "stake.opened", "stake.claimed",
                           "stake.closed"})
TYPES = frozenset(_PUBLIC)


def _users(event: events.Event) -> set[str]:
    """The users an event concerns: seller, buyer, owner, creator, every co-creator, the staker."""
    p = event.payload
    found = {str(p[k]) for k in ("seller_user_id", "buyer_user_id", "owner_user_id", "creator_user_id", "user_id",
                                 "from_user_id", "to_user_id") if p.get(k)}
    for c in p.get("creators") or ():
        if isinstance(c, Mapping) and c.get("user_id"):
            found.add(str(c["user_id"]))
    return found


def frame(event: events.Event, room: str, data: Mapping[str, Any]) -> bytes:
    """The JSON text frame of one event in one room."""
    return orjson.dumps({"type": "event", "room": room, "event": event.type, "id": event.id,
                         "occurred_at": event.occurred_at, "data": data})


def routes(event: events.Event) -> list[tuple[str, bytes]]:
    """(room, frame) for every room `event` reaches; [] for types the live feed does not carry.

    A user's own room gets the whole payload (it is about them); the others the public part."""
    fields = _PUBLIC.get(event.type)
    if fields is None:
        return []
    public = {k: event.payload[k] for k in fields if k in event.payload}
    out: list[tuple[str, bytes]] = []
    if event.type in _MARKET_TYPES:
        out.append((MARKET, frame(event, MARKET, public)))
    asset_id = event.payload.get("asset_id")
    if asset_id:
        room = f"asset:{asset_id}"
        out.append((room, frame(event, room, public)))
    for uid in sorted(_users(event)):
        room = f"user:{uid}"
        out.append((room, frame(event, room, event.payload)))
    return out


class Subscriber(Protocol):
    """One client connection as the hub sees it."""

    def offer(self, message: bytes) -> bool:
        """Queue `message` without waiting; False when the client is too far behind (it is then dropped)."""


MAX_WAIT_S = 30  # the longest `Prefer: wait=N` honoured (a longer one is cut to this)
RECHECK_S = 2.0  # a long poll re-reads at least this often, for a change no event announces


def preferred_wait(prefer: str | None) -> int:
    """The seconds of an RFC 7240 `Prefer` header's `wait=N` preference, at most MAX_WAIT_S;
    0 when absent or not a whole number (a preference a server does not understand is ignored,
    never an error). `Prefer: respond-async, wait=10` gives 10."""
    for pref in (prefer or "")[:256].split(","):
        name, _, value = pref.split(";", 1)[0].partition("=")
        if name.strip().lower() == "wait":
            value = value.strip().strip('"')
            return min(int(value), MAX_WAIT_S) if value.isascii() and value.isdigit() else 0
    return 0


class Waiter:
    """A request waiting for the next event of a room (long polling, `Prefer: wait=N`): the
    hub's fan-out sets `woken`. It takes no message, so it is never counted as a WebSocket
    delivery and can never fall behind."""

    def __init__(self) -> None:
        self.woken = asyncio.Event()

    def offer(self, message: bytes) -> bool:
        self.woken.set()
        return False


@dataclass
class Hub:
    """The rooms of this replica and the task tailing the event stream into them."""

    redis_url: str | None
    stream: str = events.STREAM
    block_ms: int = 1000
    count: int = 500
    rooms: dict[str, set[Subscriber]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _redis: aioredis.Redis | None = None
    # Set once the tail has its starting position, so nothing published after start() is missed.
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def join(self, sub: Subscriber, room: str) -> None:
        self.rooms.setdefault(room, set()).add(sub)

    def leave(self, sub: Subscriber, room: str) -> None:
        members = self.rooms.get(room)
        if members is not None:
            members.discard(sub)
            if not members:
                del self.rooms[room]

    def leave_all(self, sub: Subscriber, rooms: Iterable[str]) -> None:
        for room in list(rooms):
            self.leave(sub, room)

    @contextlib.contextmanager
    def watching(self, room: str) -> Iterator[Waiter]:
        """A `Waiter` in `room` while the block runs: join before reading the state it waits on,
        so an event published between the read and the wait is not missed."""
        waiter = Waiter()
        self.join(waiter, room)
        try:
            yield waiter
        finally:
            self.leave(waiter, room)

    def publish(self, event: events.Event) -> int:
        """Queue `event` to every subscriber of every room it reaches; returns how many were queued.

        Never waits: a subscriber whose queue is full is told so by `offer` and drops itself."""
        queued = 0
        for room, message in routes(event):
            for sub in tuple(self.rooms.get(room, ())):
                if sub.offer(message):
                    queued += 1
        if queued:
            WS_DELIVERED.inc(queued)
        return queued

    def dispatch(self, fields: Mapping[Any, Any]) -> int:
        """One stream entry: decode, check against its contract, publish. Unreadable entries are skipped."""
        kind = fields.get(b"type", fields.get("type"))
        if (kind.decode() if isinstance(kind, bytes) else kind) not in TYPES:
            return 0
        try:
            event = events.Event.from_fields(fields)
            events.check(event)
        except events.EventError as exc:
            # The services' consumers dead-letter it; the live feed just does not show it.
            log.warning("live feed skips an unreadable %s event: %s", exc.type[:64] or "?", exc.message[:300])
            return 0
        return self.publish(event)

    async def start(self) -> None:
        if not self.redis_url:
            log.warning("no REDIS_URL: the WebSocket rooms get no domain events")
            self.ready.set()
            return
        # Compile the event schemas now: on the first event they would cost its subscribers ~0.3 s.
        events.contracts()
        self._redis = aioredis.Redis.from_url(self.redis_url)
        self._task = asyncio.get_running_loop().create_task(self._tail())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._redis is not None:
            await self._redis.aclose()

    async def _start_id(self) -> str:
        assert self._redis is not None
        last = cast(list[Any], await self._redis.xrevrange(self.stream, count=1))
        return (last[0][0].decode() if isinstance(last[0][0], bytes) else str(last[0][0])) if last else "0-0"

    async def _tail(self) -> None:
        """XREAD from the stream's end at start, forever; a Redis outage is retried from where it stopped."""
        assert self._redis is not None
        last_id: str | None = None
        while True:
            try:
                if last_id is None:
                    last_id = await self._start_id()
                    self.ready.set()
                resp = cast(list[Any] | None, await self._redis.xread({self.stream: last_id}, count=self.count,
                                                                        block=self.block_ms))
                for _, entries in resp or []:
                    for msg_id, fields in entries:
                        last_id = msg_id.decode() if isinstance(msg_id, bytes) else str(msg_id)
                        if self.dispatch(fields):
                            # Let the writers send before the next entry: a burst (a whole XREAD)
                            # must not fill the queues of clients that read at full speed.
                            await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError):
                log.warning("live feed cannot read the event stream; retrying", exc_info=True)
                await asyncio.sleep(1.0)
