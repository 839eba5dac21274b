"""`WS /ws`: live updates in rooms, over JSON text frames.

Client to server (an optional "id" is echoed in the answer):

    {"op": "subscribe",   "room": "market" | "asset:{id}" | "user:{id}", "token": "<access token>"?}
    {"op": "unsubscribe", "room": ...}
    {"op": "auth", "token": "<access token>"}      user rooms need the token of that user
    {"op": "ping"}  /  {"op": "pong"}              any frame counts as a sign of life

Server to client:

    {"type": "welcome", "heartbeat_s": 20, "max_subscriptions": 50}
    {"type": "subscribed" | "unsubscribed", "room": ...}
    {"type": "event", "room": ..., "event": "asset.sold", "id": ..., "occurred_at": ..., "data": {...}}
    {"type": "ping"} every heartbeat (answer with any frame), {"type": "pong"}
    {"type": "error", "code": ..., "message": ...}  codes: bad_frame, frame_too_large, unknown_op,
        bad_room, unauthorized, forbidden, too_many_subscriptions, token_expired, too_many_connections

A bad frame gets an error frame and the connection stays open. The gateway closes a
connection (code 1008 policy, 1013 try again later, 1001 idle) when its client is over
the per-address connection limit, when it falls `queue_size` messages behind (a slow
reader is dropped, never waited for: the fan-out only ever queues without blocking), or
when nothing arrived from it for `idle_timeout_s`. Tokens travel in frames because a
browser cannot set headers on a WebSocket; nothing is authorised by cookies, so a page on
another origin gains nothing from opening this socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter as Tally
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from ipheron_libs.tokens import JwksVerifier, TokenError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.websockets import WebSocketState

from ipheron_gateway.live import ROOM, WS_CONNECTIONS, WS_DROPPED, Hub
from ipheron_gateway.ratelimit import client_ip

log = logging.getLogger("ipheron.gateway.ws")
router = APIRouter()

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
GOING_AWAY = 1001


class WsSettings(BaseSettings):
    """GATEWAY_WS_* settings. The connection limit is per replica (counted in its memory)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_WS_", extra="ignore")

    max_connections_per_ip: int = 20
    max_subscriptions: int = 50
    # Messages a client may be behind before it is dropped.
    queue_size: int = 256
    max_frame_bytes: int = 4096
    heartbeat_s: float = 20.0
    idle_timeout_s: float = 60.0


class Connection:
    """One client: its rooms, its bounded send queue and the task that drains it."""

    def __init__(self, ws: WebSocket, hub: Hub, settings: WsSettings, verifier: JwksVerifier | None) -> None:
        self.ws = ws
        self.hub = hub
        self.settings = settings
        self.verifier = verifier
        self.rooms: set[str] = set()
        self.user_id: str | None = None
        self.token_exp = 0.0
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=settings.queue_size)
        self.last_seen = time.monotonic()
        self.closing: tuple[int, str] | None = None
        self.wake = asyncio.Event()

    # ------------------------------------------------------------ outbound

    def offer(self, message: bytes) -> bool:
        """Queue without waiting (the hub's fan-out); a full queue drops this client."""
        if self.closing is not None:
            return False
        if self.user_id is not None and time.time() > self.token_exp and self._in_user_room(message):
            self._expire()
            return False
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.close(TRY_AGAIN_LATER, "too slow: the client fell too far behind", reason="slow")
            return False
        return True

    def _in_user_room(self, message: bytes) -> bool:
        # A user's room is only for as long as their token is valid; after that they re-send "auth".
        return message.startswith(b'{"type":"event","room":"user:')

    def _expire(self) -> None:
        """The token ran out: leave the user's room and say so (the client re-sends 'auth' to come back)."""
        for room in [r for r in self.rooms if r.startswith("user:")]:
            self.rooms.discard(room)
            self.hub.leave(self, room)
        self.user_id = None
        self.error("token_expired", "the access token expired: send 'auth' with a fresh one and subscribe again")

    def send(self, doc: dict[str, Any]) -> None:
        """A control frame (answer, error, ping): queued like events, so frames never interleave."""
        self.offer(orjson.dumps(doc))

    def close(self, code: int, message: str, *, reason: str) -> None:
        if self.closing is None:
            self.closing = (code, message)
            self.hub.leave_all(self, self.rooms)
            WS_DROPPED.labels(reason=reason).inc()
            self.wake.set()

    async def writer(self) -> None:
        """Send queued frames in order; the endpoint cancels it when the connection closes."""
        while True:
            message = await self.queue.get()
            await self.ws.send_text(message.decode())

    async def heartbeat(self) -> None:
        while self.closing is None:
            await asyncio.sleep(self.settings.heartbeat_s)
            if time.monotonic() - self.last_seen > self.settings.idle_timeout_s:
                self.close(GOING_AWAY, "no frame from the client within the idle timeout", reason="idle")
                return
            self.send({"type": "ping"})

    # ------------------------------------------------------------ inbound

    def error(self, code: str, message: str, ref: Any = None) -> None:
        doc: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if ref is not None:
            doc["id"] = ref
        self.send(doc)

    async def handle(self, text: str) -> None:
        """One client frame; every mistake is answered with an error frame, never a disconnect."""
        self.last_seen = time.monotonic()
        if len(text) > self.settings.max_frame_bytes:
            self.error("frame_too_large", f"frames are at most {self.settings.max_frame_bytes} bytes")
            return
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.error("bad_frame", "a frame must be a JSON object")
            return
        if not isinstance(msg, dict):
            self.error("bad_frame", "a frame must be a JSON object")
            return
        ref = msg.get("id")
        if ref is not None and not (isinstance(ref, (str, int)) and len(str(ref)) <= 64):
            ref = None
        op = msg.get("op")
        if op in ("ping", "pong"):
            if op == "ping":
                self.send({"type": "pong", **({"id": ref} if ref is not None else {})})
            return
        if op == "auth":
            await self._auth(msg.get("token"), ref)
            return
        if op not in ("subscribe", "unsubscribe"):
            self.error("unknown_op", "op must be one of subscribe, unsubscribe, auth, ping, pong", ref)
            return
        room = msg.get("room")
        if not isinstance(room, str) or not ROOM.match(room):
            self.error("bad_room", "room must be 'market', 'asset:{id}' or 'user:{id}'", ref)
            return
        if op == "unsubscribe":
            self.rooms.discard(room)
            self.hub.leave(self, room)
            self.send({"type": "unsubscribed", "room": room, **({"id": ref} if ref is not None else {})})
            return
        if room.startswith("user:"):
            if msg.get("token") is not None and not await self._auth(msg.get("token"), ref, quiet=True):
                return
            if self.user_id is None:
                self.error("unauthorized", "a user room needs that user's access token ('auth' first)", ref)
                return
            if room != f"user:{self.user_id}":
                self.error("forbidden", "a user room is only for that user", ref)
                return
        if room not in self.rooms and len(self.rooms) >= self.settings.max_subscriptions:
            self.error("too_many_subscriptions", f"at most {self.settings.max_subscriptions} rooms per connection",
                       ref)
            return
        self.rooms.add(room)
        self.hub.join(self, room)
        self.send({"type": "subscribed", "room": room, **({"id": ref} if ref is not None else {})})

    async def _auth(self, token: Any, ref: Any, *, quiet: bool = False) -> bool:
        """Verify an access token the way the REST routes do (JWKS, locally); a new user leaves the old user's room."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            self.error("unauthorized", "token must be an access token", ref)
            return False
        if self.verifier is None:
            self.error("unauthorized", "token verification is not available", ref)
            return False
        try:
            claims = await self.verifier.averify(token)
        except TokenError as exc:
            self.error("unauthorized", f"invalid access token: {exc.reason}", ref)
            return False
        if self.user_id is not None and self.user_id != str(claims.sub):
            for room in [r for r in self.rooms if r.startswith("user:")]:
                self.rooms.discard(room)
                self.hub.leave(self, room)
        self.user_id, self.token_exp = str(claims.sub), float(claims.exp)
        if not quiet:
            self.send({"type": "authenticated", "user_id": self.user_id, "expires_at": claims.exp,
                       **({"id": ref} if ref is not None else {})})
        return True


class Registry:
    """The connections of this replica, counted per client address."""

    def __init__(self) -> None:
        self.per_ip: Tally[str] = Tally()

    def admit(self, ip: str, limit: int) -> bool:
        if self.per_ip[ip] >= limit:
            return False
        self.per_ip[ip] += 1
        WS_CONNECTIONS.inc()
        return True

    def release(self, ip: str) -> None:
        self.per_ip[ip] -= 1
        if self.per_ip[ip] <= 0:
            del self.per_ip[ip]
        WS_CONNECTIONS.dec()


@router.websocket("/ws")
async def live(ws: WebSocket) -> None:
    """Live updates for the rooms the client subscribes to (see the module docstring)."""
    app = ws.app
    settings: WsSettings = app.state.ws_settings
    hub: Hub = app.state.hub
    registry: Registry = app.state.ws_registry
    ip = client_ip(ws.scope, app.state.settings.trusted_proxies)
    await ws.accept()
    if not registry.admit(ip, settings.max_connections_per_ip):
        WS_DROPPED.labels(reason="limit").inc()
        await ws.send_text(orjson.dumps({"type": "error", "code": "too_many_connections",
                                         "message": f"at most {settings.max_connections_per_ip} connections "
                                                    "per client address"}).decode())
        await ws.close(POLICY_VIOLATION)
        return
    conn = Connection(ws, hub, settings, getattr(app.state, "verifier", None))
    conn.send({"type": "welcome", "heartbeat_s": settings.heartbeat_s, "max_subscriptions": settings.max_subscriptions})
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(conn.writer()), asyncio.create_task(conn.heartbeat()),
                                      asyncio.create_task(conn.wake.wait())]
    reader = asyncio.create_task(_read(conn))
    try:
        # Ends when the client leaves, a send fails, or the gateway drops the client (wake).
        await asyncio.wait({reader, tasks[0], tasks[2]}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        conn.closing = conn.closing or (1000, "")
        conn.hub.leave_all(conn, conn.rooms)
        for t in (*tasks, reader):
            t.cancel()
        for t in (*tasks, reader):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        registry.release(ip)
        if ws.application_state == WebSocketState.CONNECTED and ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                # A dropped client gets the reason in the close frame, without waiting on its send queue.
                await asyncio.wait_for(ws.close(conn.closing[0], conn.closing[1][:120]), timeout=1.0)


async def _read(conn: Connection) -> None:
    try:
        while conn.closing is None:
            message = await conn.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                conn.last_seen = time.monotonic()
                conn.error("bad_frame", "frames are JSON text, not binary")
                continue
            await conn.handle(text)
    except WebSocketDisconnect:
        return


def install(app: FastAPI) -> None:
    """Mount `WS /ws` and start the event tail with the app (a lifespan hook)."""
    settings = WsSettings()
    app.state.ws_settings = settings
    app.state.ws_registry = Registry()
    app.state.hub = Hub(app.state.settings.redis_url)

    async def start(app: FastAPI) -> None:
        await app.state.hub.start()

    async def stop(app: FastAPI) -> None:
        await app.state.hub.stop()

    app.state.lifespan_hooks.append((start, stop))
    app.include_router(router)
