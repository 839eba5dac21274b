"""The gateway's cache of catalog responses: the JSON bytes of asset pages and asset details.

Users browse far more than anything changes, and a cached body costs no gRPC call, no
protobuf decoding and no JSON encoding (the assets service's own cache still costs the
gateway a call, ~0.6 ms of CPU here). Entries are keyed by the normalised query.

Correct across replicas: every write of the assets service, on any replica, invalidates the
asset there and publishes its id on the Redis channel `ipheron:assets:invalidate` after the
commit (assets_service.cache). Each gateway process subscribes to it: a message drops that
asset's detail and every cached page (any page may hold, or now match, the asset). A fill
is stored only if no message arrived while it was loading (a generation counter), so a body
read before a commit is never stored after the message of that commit; one stored just
before its message is dropped by it. While the subscription is not established (start-up,
Redis lost) nothing is stored or served, and a lost subscription clears everything. A short
TTL bounds what a missed message could cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from typing import Any

log = logging.getLogger("gateway.catalog_cache")
CHANNEL = "ipheron:assets:invalidate"  # the assets service's invalidation channel (assets_service.cache)


class _Lru:
    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self.data: OrderedDict[Any, tuple[float, bytes]] = OrderedDict()

    def get(self, key: Any) -> bytes | None:
        item = self.data.get(key)
        if item is None:
            return None
        if item[0] < time.monotonic():
            del self.data[key]
            return None
        self.data.move_to_end(key)
        return item[1]

    def put(self, key: Any, body: bytes) -> None:
        self.data[key] = (time.monotonic() + self.ttl, body)
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)


class CatalogCache:
    """Pages and details of the catalog as response bytes, per gateway process."""

    def __init__(self, redis: Any, *, ttl: float = 5.0, pages: int = 1024, details: int = 4096) -> None:
        self.redis = redis
        self.pages = _Lru(pages, ttl)
        self.details = _Lru(details, ttl)
        self.generation = 0  # bumped by every invalidation message
        self.listening = False
        self._task: asyncio.Task[None] | None = None

    def _ensure_listener(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())

    def page(self, key: Any) -> bytes | None:
        """A cached page, or None (then load it and `put_page` with the generation read first)."""
        self._ensure_listener()
        return self.pages.get(key) if self.listening else None

    def detail(self, asset_id: str) -> bytes | None:
        self._ensure_listener()
        return self.details.get(asset_id) if self.listening else None

    def put_page(self, key: Any, body: bytes, generation: int) -> None:
        """Store a page loaded since `generation` was read, unless an invalidation came in between."""
        if self.listening and generation == self.generation:
            self.pages.put(key, body)

    def put_detail(self, asset_id: str, body: bytes, generation: int) -> None:
        if self.listening and generation == self.generation:
            self.details.put(asset_id, body)

    def invalidate(self, asset_id: str | None) -> None:
        """An asset changed (None: anything may have): drop it and every page."""
        self.generation += 1
        self.pages.data.clear()
        if asset_id is None:
            self.details.data.clear()
        else:
            self.details.data.pop(asset_id, None)

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "subscribe":
                        self.listening = True  # Redis confirmed: from now on no message is missed
                    elif message.get("type") == "message":
                        data = message["data"]
                        self.invalidate(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("catalog cache lost its invalidation channel; not caching until it is back",
                            exc_info=True)
            finally:
                self.listening = False
                self.invalidate(None)
                with contextlib.suppress(Exception):  # closing a broken connection may fail too
                    await pubsub.aclose()
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def of(app_state: Any) -> CatalogCache | None:
    """The app's catalog cache (made on first use), or None without Redis (no invalidations: no cache)."""
    cache = getattr(app_state, "catalog_cache", None)
    if cache is None:
        redis = getattr(app_state, "redis", None)
        if redis is None:
            return None
        cache = CatalogCache(redis)
        app_state.catalog_cache = cache
    return cache
