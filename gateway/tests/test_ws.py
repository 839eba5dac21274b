"""`WS /ws` against real gateway processes (uvicorn, as deployed) and a real Redis stream.

Two replicas share one Redis. Events are put on the stream exactly as the services'
outbox relays put them (`Event.to_fields()`, checked against the event contract first),
so the gateway's tail reads the same wire form it reads in production. Access tokens are
real EdDSA tokens whose keys the gateways fetch over AuthService.GetJwks.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import orjson
import pytest
import redis
import websockets
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2_grpc as pb_grpc
from ipheron_gateway.config import SERVICES
from ipheron_gateway.live import MAX_WAIT_S, Hub, preferred_wait, routes
from ipheron_gateway.testing import GatewayProcess, TokenIssuer
from ipheron_libs import events
from ipheron_libs.devstack_ports import free_port
from websockets.asyncio.client import ClientConnection, connect

log = logging.getLogger("test_ws")
SELLER, BUYER, CO_CREATOR = "user-seller-1", "user-buyer-1", "user-co-1"


Replica = GatewayProcess


class _Jwks(pb_grpc.AuthServiceServicer):
    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer

    def GetJwks(self, request: pb.GetJwksRequest, context: grpc.ServicerContext) -> pb.GetJwksResponse:
        return pb.GetJwksResponse(jwks_json=orjson.dumps(self.issuer.jwks).decode())


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture(scope="module")
def auth_addr(issuer: TokenIssuer) -> Iterator[str]:
    """AuthService.GetJwks on a thread pool (the gateways fetch keys while the test's loop is idle)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_AuthServiceServicer_to_server(_Jwks(issuer), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)


def _start(tmp: Path, redis_url: str, auth_addr: str, **extra: str) -> Replica:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "IPHERON_ENV")}
    env.update({f"{s.upper()}_ADDR": f"127.0.0.1:{free_port()}" for s in SERVICES})
    env.update({"DATA_DIR": str(tmp), "REDIS_URL": redis_url, "AUTH_ADDR": auth_addr, "GATEWAY_PORT": str(port),
                "LOG_LEVEL": "WARNING", "GATEWAY_UPSTREAM_TIMEOUT": "0.5"})
    env.update(extra)
    return GatewayProcess.start(port, env, tmp / f"gateway-{port}.log")


def _stop(rep: Replica) -> None:
    rep.stop()


@pytest.fixture(scope="module")
def replicas(redis_url: str, auth_addr: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Replica, Replica]]:
    """Replica A takes 600 connections from one address; replica B keeps small limits and a fast heartbeat."""
    tmp = tmp_path_factory.mktemp("ws")
    a = _start(tmp, redis_url, auth_addr, GATEWAY_WS_MAX_CONNECTIONS_PER_IP="600", GATEWAY_WS_QUEUE_SIZE="64")
    b = _start(tmp, redis_url, auth_addr, GATEWAY_WS_MAX_CONNECTIONS_PER_IP="8", GATEWAY_WS_MAX_SUBSCRIPTIONS="3",
               GATEWAY_WS_HEARTBEAT_S="0.5", GATEWAY_WS_IDLE_TIMEOUT_S="3")
    try:
        yield a, b
    finally:
        _stop(a)
        _stop(b)


def _wallet() -> str:
    return "0x" + secrets.token_hex(20)


def sale(asset_id: str | None = None, price: str = "1.25") -> events.Event:
    """An asset.sold event as the assets service emits it (checked against its contract)."""
    ev = events.Event(
        id=str(uuid.uuid4()), type="asset.sold", version=1, occurred_at=dt.datetime.now(dt.UTC).isoformat(),
        actor=BUYER, payload={
            "asset_id": asset_id or str(uuid.uuid4()), "asset_type": "art", "purchase_id": str(uuid.uuid4()),
            "price": price, "currency": "ETH", "seller_user_id": SELLER, "seller_wallet": _wallet(),
            "buyer_user_id": BUYER, "buyer_wallet": _wallet(), "tx_hash": "0x" + secrets.token_hex(32),
            "block_number": 7, "token_id": "3",
            "creators": [{"user_id": SELLER, "wallet": _wallet(), "share_percent": "60"},
                         {"user_id": CO_CREATOR, "wallet": _wallet(), "share_percent": "40"}]})
    events.check(ev)
    return ev


def price_change(asset_id: str, price: str) -> events.Event:
    ev = events.Event(id=str(uuid.uuid4()), type="asset.updated", version=1,
                      occurred_at=dt.datetime.now(dt.UTC).isoformat(), actor=SELLER,
                      payload={"asset_id": asset_id, "changed": ["price", "listed"], "price": price, "listed": True})
    events.check(ev)
    return ev


def new_asset(i: int) -> events.Event:
    """A large asset.created (a 200-character name, ten co-creators): about 1.5 KB in the market room."""
    creators = [{"user_id": f"user-{k}", "wallet": _wallet(), "share_percent": "10"} for k in range(10)]
    ev = events.Event(id=str(uuid.uuid4()), type="asset.created", version=1,
                      occurred_at=dt.datetime.now(dt.UTC).isoformat(), actor="user-0",
                      payload={"asset_id": str(uuid.uuid4()), "name": f"{i:06d}" + "n" * 194, "asset_type": "music",
                               "price": "1", "royalty_rate": "5", "status": "active", "region": "EU",
                               "owner_user_id": "user-0", "owner_wallet": creators[0]["wallet"],
                               "creator_user_id": "user-0", "creators": creators, "ipfs_hash": "bafy" + "a" * 50,
                               "utility_features": []})
    events.check(ev)
    return ev


def publish(redis_url: str, *evs: events.Event) -> None:
    """XADD as the outbox relay does."""
    r = redis.Redis.from_url(redis_url)
    try:
        pipe = r.pipeline(transaction=False)
        for ev in evs:
            pipe.xadd(events.STREAM, ev.to_fields(), maxlen=events.STREAM_MAXLEN, approximate=True)
        pipe.execute()
    finally:
        r.close()


async def recv(ws: ClientConnection, timeout: float = 5.0, *, skip_pings: bool = True) -> dict[str, Any]:
    while True:
        doc: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if not (skip_pings and doc["type"] == "ping"):
            return doc


async def client(url: str, *rooms: str, token: str | None = None) -> ClientConnection:
    """Connected, welcomed and subscribed to `rooms`."""
    ws = await connect(url, open_timeout=30)
    assert (await recv(ws, 30))["type"] == "welcome"
    for room in rooms:
        await ws.send(orjson.dumps({"op": "subscribe", "room": room, **({"token": token} if token else {})}).decode())
        answer = await recv(ws, 30)
        assert answer == {"type": "subscribed", "room": room}, answer
    return ws


async def next_event(ws: ClientConnection, event_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = await recv(ws, max(0.01, deadline - time.monotonic()))
        if doc["type"] == "event" and doc["id"] == event_id:
            return doc


def test_a_user_room_shows_the_whole_payload_and_the_market_only_public_facts() -> None:
    ev = sale()
    by_room = {room: orjson.loads(message) for room, message in routes(ev)}
    assert set(by_room) == {"market", f"asset:{ev.payload['asset_id']}", f"user:{SELLER}", f"user:{BUYER}",
                            f"user:{CO_CREATOR}"}
    assert by_room["market"]["data"]["price"] == "1.25" and "creators" not in by_room["market"]["data"]
    assert by_room[f"user:{CO_CREATOR}"]["data"]["creators"] == ev.payload["creators"]
    assert routes(events.Event("x", "user.created", 1, "", "", {})) == []


@pytest.mark.parametrize(("header", "seconds"), [
    (None, 0), ("", 0), ("wait=5", 5), ("Wait = 7", 7), ("respond-async, wait=10", 10), ('wait="3"', 3),
    ("wait=5; x=y", 5), (f"wait={MAX_WAIT_S * 100}", MAX_WAIT_S), ("wait=abc", 0), ("wait=-1", 0), ("wait=1.5", 0),
    ("wait=\u0663", 0), ("handling=strict", 0), ("wait", 0), ("wait=0", 0)])
def test_prefer_wait_is_read_as_rfc_7240_says_and_anything_else_is_ignored(header: str | None, seconds: int) -> None:
    assert preferred_wait(header) == seconds


async def test_a_long_poll_waiter_is_woken_by_an_event_of_its_room_only_and_leaves_with_its_block() -> None:
    hub = Hub(redis_url=None)
    ev = sale()
    with hub.watching(f"asset:{ev.payload['asset_id']}") as mine, hub.watching("asset:another") as other:
        assert hub.publish(ev) == 0  # a waiter is not counted as a WebSocket delivery
        await asyncio.wait_for(mine.woken.wait(), 1)
        assert not other.woken.is_set()
    assert hub.rooms == {}


async def test_a_recorded_sale_reaches_its_subscribers_within_a_second(
        replicas: tuple[Replica, Replica], redis_url: str, issuer: TokenIssuer) -> None:
    a, _ = replicas
    ev = sale()
    market = await client(a.ws, "market")
    asset = await client(a.ws, f"asset:{ev.payload['asset_id']}")
    seller = await client(a.ws, f"user:{SELLER}", token=issuer.token(SELLER))
    try:
        started = time.monotonic()
        publish(redis_url, ev)
        got = [await next_event(ws, ev.id, timeout=1.0) for ws in (market, asset, seller)]
        elapsed = time.monotonic() - started
        log.warning("sale on the stream -> 3 subscribers in %.1f ms", elapsed * 1000)
        assert [g["event"] for g in got] == ["asset.sold"] * 3
        assert got[0]["data"]["price"] == "1.25" and got[0]["room"] == "market"
        assert got[2]["data"]["seller_wallet"] == ev.payload["seller_wallet"]
    finally:
        for ws in (market, asset, seller):
            await ws.close()


@pytest.mark.timeout(240)
async def test_500_concurrent_clients_on_one_gateway_all_receive_the_sale(
        replicas: tuple[Replica, Replica], redis_url: str) -> None:
    a, _ = replicas
    ev = sale()
    clients: list[ClientConnection] = []
    try:
        for _ in range(10):  # 50 handshakes at a time: the 2-core machine is shared
            clients += await asyncio.gather(*(client(a.ws, "market", f"asset:{ev.payload['asset_id']}")
                                              for _client in range(50)))
        assert len(clients) == 500
        metrics = httpx.get(f"{a.url}/metrics", timeout=10).text
        assert "gateway_ws_connections 500.0" in metrics
        started = time.monotonic()
        publish(redis_url, ev)
        got = await asyncio.gather(*(next_event(ws, ev.id, timeout=30) for ws in clients))
        elapsed = time.monotonic() - started
        log.warning("one sale -> 500 clients (x2 rooms) in %.0f ms", elapsed * 1000)
        assert all(g["event"] == "asset.sold" for g in got)
    finally:
        await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)


async def test_a_client_on_replica_b_sees_an_event_that_replica_a_also_delivers(
        replicas: tuple[Replica, Replica], redis_url: str) -> None:
    a, b = replicas
    asset_id = str(uuid.uuid4())
    on_a, on_b = await client(a.ws, f"asset:{asset_id}"), await client(b.ws, f"asset:{asset_id}")
    try:
        ev = price_change(asset_id, "2.5")
        publish(redis_url, ev)
        got_a, got_b = await next_event(on_a, ev.id), await next_event(on_b, ev.id)
        assert got_a == got_b
        assert got_b["data"] == {"asset_id": asset_id, "changed": ["price", "listed"], "price": "2.5",
                                 "listed": True}
    finally:
        await on_a.close()
        await on_b.close()


def _raw_client(port: int, room: str) -> socket.socket:
    """A WebSocket client that subscribes and then never reads, with a tiny receive buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = orjson.dumps({"op": "subscribe", "room": room})
    mask = secrets.token_bytes(4)
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))
    sock.settimeout(10)
    while _read_frame(sock).get("type") != "subscribed":  # welcome first, then the ack; then it stops reading
        pass
    return sock


def _read_frame(sock: socket.socket) -> dict[str, Any]:
    """One unmasked text frame from the server (the small control answers: welcome, subscribed)."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "the gateway closed the connection"
            data += chunk
        return data

    _, size = exactly(2)
    if size == 126:
        size = int.from_bytes(exactly(2), "big")
    elif size == 127:
        size = int.from_bytes(exactly(8), "big")
    doc: dict[str, Any] = orjson.loads(exactly(size))
    return doc


@pytest.mark.timeout(180)
async def test_a_slow_client_is_dropped_without_delaying_the_others(
        replicas: tuple[Replica, Replica], redis_url: str) -> None:
    a, _ = replicas
    slow = _raw_client(a.port, "market")
    fast = await client(a.ws, "market")
    try:
        # 4000 x ~1.5 KB: more than the kernel's socket buffers and the 64-message queue can hold.
        evs = [new_asset(i) for i in range(4000)]
        before = httpx.get(f"{a.url}/metrics", timeout=10).text
        started = time.monotonic()
        for i in range(0, len(evs), 500):
            publish(redis_url, *evs[i:i + 500])
        seen = 0
        while seen < len(evs):
            doc = await recv(fast, 30)
            if doc["type"] == "event":
                assert doc["id"] == evs[seen].id  # in order, none lost
                seen += 1
        log.warning("fast client got %d events in %.0f ms beside a stalled one", seen,
                    (time.monotonic() - started) * 1000)
        deadline = time.monotonic() + 10
        while 'gateway_ws_dropped_total{reason="slow"}' not in (after := httpx.get(f"{a.url}/metrics").text) \
                or _counter(after, "slow") <= _counter(before, "slow"):
            assert time.monotonic() < deadline, "the slow client was not dropped"
            await asyncio.sleep(0.2)
    finally:
        slow.close()
        await fast.close()


def _counter(metrics: str, reason: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(f'gateway_ws_dropped_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_bad_frames_get_error_frames_and_the_connection_stays_open(replicas: tuple[Replica, Replica],
                                                                         redis_url: str) -> None:
    _, b = replicas
    ws = await client(b.ws)
    try:
        cases = [("not json", "bad_frame"), ("[1, 2]", "bad_frame"), ('{"op": "dance"}', "unknown_op"),
                 ('{"op": "subscribe", "room": "casino"}', "bad_room"),
                 ('{"op": "subscribe", "room": "asset:../../etc"}', "bad_room"),
                 ('{"op": "subscribe", "room": "user:someone"}', "unauthorized"),
                 ('{"op": "auth", "token": "not.a.token"}', "unauthorized"),
                 ('{"op": "subscribe", "room": "market", "pad": "' + "x" * 5000 + '"}', "frame_too_large")]
        for text, code in cases:
            await ws.send(text)
            answer = await recv(ws)
            assert answer["type"] == "error" and answer["code"] == code, (text[:40], answer)
        await ws.send(b"\x00\x01")
        assert (await recv(ws))["code"] == "bad_frame"
        # Still open and working.
        await ws.send('{"op": "subscribe", "room": "market", "id": 7}')
        assert await recv(ws) == {"type": "subscribed", "room": "market", "id": 7}
        ev = sale()
        publish(redis_url, ev)
        assert (await next_event(ws, ev.id))["event"] == "asset.sold"
    finally:
        await ws.close()


async def test_a_user_room_needs_that_users_token(replicas: tuple[Replica, Replica], issuer: TokenIssuer,
                                                  redis_url: str) -> None:
    _, b = replicas
    ws = await client(b.ws)
    try:
        await ws.send(orjson.dumps({"op": "subscribe", "room": f"user:{SELLER}",
                                    "token": issuer.token(BUYER)}).decode())
        assert (await recv(ws))["code"] == "forbidden"
        other = TokenIssuer()  # a key the gateway does not trust
        await ws.send(orjson.dumps({"op": "auth", "token": other.token(SELLER)}).decode())
        assert (await recv(ws))["code"] == "unauthorized"
        await ws.send(orjson.dumps({"op": "auth", "token": issuer.token(SELLER)}).decode())
        assert (await recv(ws))["user_id"] == SELLER
        await ws.send(orjson.dumps({"op": "subscribe", "room": f"user:{SELLER}"}).decode())
        assert (await recv(ws))["type"] == "subscribed"
        ev = sale()
        publish(redis_url, ev)
        got = await next_event(ws, ev.id)
        assert got["room"] == f"user:{SELLER}" and got["data"]["buyer_user_id"] == BUYER
    finally:
        await ws.close()


async def test_connections_per_address_and_subscriptions_per_connection_are_limited(
        replicas: tuple[Replica, Replica]) -> None:
    _, b = replicas
    held = [await client(b.ws) for _ in range(8)]
    try:
        extra = await connect(b.ws)
        answer = orjson.loads(await asyncio.wait_for(extra.recv(), 5))
        assert answer["code"] == "too_many_connections"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(extra.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        ws = held[0]
        for i in range(3):
            await ws.send(orjson.dumps({"op": "subscribe", "room": f"asset:a{i}"}).decode())
            assert (await recv(ws))["type"] == "subscribed"
        await ws.send('{"op": "subscribe", "room": "market"}')
        assert (await recv(ws))["code"] == "too_many_subscriptions"
        await ws.send('{"op": "unsubscribe", "room": "asset:a0"}')
        assert (await recv(ws))["type"] == "unsubscribed"
        await ws.send('{"op": "subscribe", "room": "market"}')
        assert (await recv(ws))["type"] == "subscribed"
    finally:
        for ws in held:
            await ws.close()
    # Closed connections give their places back.
    again = await client(b.ws)
    await again.close()


async def test_heartbeats_are_sent_and_a_silent_client_is_closed(replicas: tuple[Replica, Replica]) -> None:
    _, b = replicas
    ws = await client(b.ws)
    try:
        assert (await recv(ws, 3, skip_pings=False))["type"] == "ping"
        # Answer nothing: after the 3 s idle timeout the gateway closes with 1001.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    finally:
        await ws.close()


async def test_a_user_room_ends_with_its_token_and_a_fresh_token_rejoins(
        replicas: tuple[Replica, Replica], issuer: TokenIssuer, redis_url: str) -> None:
    _, b = replicas
    ws = await client(b.ws, f"user:{BUYER}", token=issuer.token(BUYER, ttl=1))
    try:
        await asyncio.sleep(1.5)
        await ws.send('{"op": "pong"}')  # alive (the idle timeout of B is 3 s)
        ev = sale()
        publish(redis_url, ev)
        answer = await recv(ws)
        assert answer["type"] == "error" and answer["code"] == "token_expired"
        await ws.send(orjson.dumps({"op": "subscribe", "room": f"user:{BUYER}",
                                    "token": issuer.token(BUYER)}).decode())
        assert (await recv(ws))["type"] == "subscribed"
        again = sale()
        publish(redis_url, again)
        assert (await next_event(ws, again.id))["data"]["buyer_user_id"] == BUYER
    finally:
        await ws.close()
