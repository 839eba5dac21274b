"""Two-level read cache for assets: an in-process LRU (seconds) in front of Redis (minutes).

Every write invalidates both levels and publishes the asset id on a Redis
channel so the other replicas drop their local copy. A per-asset generation
counter in Redis stops a slow reader from writing a value it loaded before an
invalidation back into Redis (the classic stale-refill race). Redis holds the JSON
form of an `Asset` (`encode` / `decode`); the local LRU holds the record itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis
from ipheron_libs.metrics import CACHE_HITS, CACHE_MISSES
from ipheron_libs.wire import money_str

from assets_service.domain import Asset, Creator, Listing

log = logging.getLogger("assets.cache")
CHANNEL = "ipheron:assets:invalidate"
_PREFIX = "ipheron:assets:asset:"
_GEN_PREFIX = "ipheron:assets:gen:"
LOCAL, REDIS = "assets_local", "assets_redis"

# SETEX only if the generation is still the one read before loading from the database.
_SET_IF_GEN = """
local gen = redis.call('GET', KEYS[2]) or '0'
if gen == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return money_str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(asset: Asset) -> bytes:
    """An asset's cached form: JSON, money as decimal strings, times in ISO 8601 (wei and
    counters as strings too: JSON readers hold integers in 64 bits)."""
    d = asdict(asset)
    if d["listing"] is not None:
        d["listing"].update(price_wei=str(d["listing"]["price_wei"]), counter=str(d["listing"]["counter"]))
    return orjson.dumps(d, default=_default)


def _listing(d: dict[str, Any] | None) -> Listing | None:
    if d is None:
        return None
    return Listing(**{
        **d, "price": Decimal(d["price"]), "price_wei": int(d["price_wei"]), "counter": int(d["counter"]),
        "start_time": _time(d["start_time"]), "end_time": _time(d["end_time"]),
        "created_at": _time(d["created_at"]), "updated_at": _time(d["updated_at"]),
    })


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def decode(raw: bytes | str) -> Asset:
    """The asset from its cached form."""
    d: dict[str, Any] = orjson.loads(raw)
    return Asset(**{
        **d, "price": Decimal(d["price"]), "royalty_rate": Decimal(d["royalty_rate"]),
        "utility_features": tuple(d["utility_features"]), "review_reasons": tuple(d["review_reasons"]),
        "created_at": _time(d["created_at"]), "updated_at": _time(d["updated_at"]),
        "creators": tuple(Creator(c["user_id"], c["wallet"], Decimal(c["share_percent"])) for c in d["creators"]),
        "file_cids": tuple(d["file_cids"]), "listing": _listing(d.get("listing")),
    })


class LocalLru:
    """A small LRU with a TTL per entry; not thread-safe (used from the event loop only)."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self._data: OrderedDict[str, tuple[float, Asset]] = OrderedDict()

    def get(self, key: str) -> Asset | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    def put(self, key: str, value: Asset) -> None:
        self._data[key] = (time.monotonic() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def drop(self, key: str) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()


class AssetCache:
    """Read-through cache of assets keyed by asset id."""

    def __init__(self, redis_url: str, *, local_ttl: float, local_size: int, redis_ttl: int) -> None:
        self.redis = aioredis.Redis.from_url(redis_url)
        self.local = LocalLru(local_size, local_ttl)
        self.redis_ttl = redis_ttl
        self._set_if_gen = self.redis.register_script(_SET_IF_GEN)
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def get(self, asset_id: str, load: Callable[[], Awaitable[Asset | None]]) -> Asset | None:
        """The asset from the local LRU, else Redis, else `load()` (then cached in both)."""
        value = self.local.get(asset_id)
        if value is not None:
            CACHE_HITS.labels(cache=LOCAL).inc()
            return value
        CACHE_MISSES.labels(cache=LOCAL).inc()
        gen = "0"
        try:
            raw, gen_raw = await self.redis.mget(_PREFIX + asset_id, _GEN_PREFIX + asset_id)
            gen = (gen_raw.decode() if isinstance(gen_raw, bytes) else str(gen_raw)) if gen_raw else "0"
            if raw is not None:
                CACHE_HITS.labels(cache=REDIS).inc()
                value = decode(raw)
                self.local.put(asset_id, value)
                return value
            CACHE_MISSES.labels(cache=REDIS).inc()
        except Exception:
            log.warning("redis cache read failed; reading through", exc_info=True)
            return await load()
        value = await load()
        if value is None:
            return None
        try:
            stored = await self._set_if_gen(keys=[_PREFIX + asset_id, _GEN_PREFIX + asset_id],
                                            args=[gen, encode(value), self.redis_ttl])
        except Exception:
            log.warning("redis cache fill failed", exc_info=True)
            stored = 0
        if stored:
            self.local.put(asset_id, value)
        return value

    async def invalidate(self, asset_id: str) -> None:
        """Drop the asset everywhere: here, in Redis, and (via pub/sub) in every other replica."""
        self.local.drop(asset_id)
        try:
            pipe = self.redis.pipeline(transaction=True)
            pipe.incr(_GEN_PREFIX + asset_id)
            pipe.expire(_GEN_PREFIX + asset_id, max(self.redis_ttl * 2, 600))
            pipe.delete(_PREFIX + asset_id)
            pipe.publish(CHANNEL, asset_id)
            await pipe.execute()
        except Exception:
            log.warning("cache invalidation of %s failed", asset_id, exc_info=True)

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        data = message["data"]
                        self.local.drop(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("cache invalidation listener lost Redis; reconnecting", exc_info=True)
                self.local.clear()
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):  # closing a broken connection may fail too
                    await pubsub.aclose()

    async def start(self) -> None:
        """Subscribe to invalidations (returns once subscribed, or after 2 s)."""
        self._listener = asyncio.get_running_loop().create_task(self._listen())
        try:
            await asyncio.wait_for(self._subscribed.wait(), 2.0)
        except TimeoutError:
            log.warning("cache invalidation channel not subscribed yet")

    async def close(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await self.redis.aclose()
