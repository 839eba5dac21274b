"""Rate limits shared by every gateway replica through Redis, with a local fallback.

Groups (first match wins; limits configurable, see `RateLimitSettings`):

| group        | routes                                                   | default     | mode    |
|--------------|----------------------------------------------------------|-------------|---------|
| transactions | POST purchase, POST /stakes, claim, unstake, withdraw     | 50 / hour   | exact   |
| auth         | /api/v1/auth/*                                           | 10 / minute | exact   |
| asset_writes | POST/PATCH/PUT/DELETE /api/v1/assets*, /api/v1/files*     | 100 / hour  | exact   |
| analytics    | /api/v1/analytics/*                                      | 1000 / hour | batched |
| default      | everything else (health, metrics and docs are exempt)    | 1000 / min  | batched |

Keys are per user (verified token subject) when authenticated, else per client IP
(`client_ip`: the right-most X-Forwarded-For hop that is not a GATEWAY_TRUSTED_PROXIES entry).

*Exact* groups run one Lua script per request: a sliding log in a sorted set,
timed by Redis' own clock, so across replicas no more than `limit` requests pass
in any rolling window.

*Batched* groups must not pay a blocking Redis round trip per request (that
halves gateway throughput on this hardware). Each replica keeps a local lease of
tokens per key and fixed window, reserved from a Redis counter in batches by an
atomic Lua script that never grants past the limit, and it tops the lease up in
the background before it runs dry. So the total let through never exceeds the
limit; the slack is the other way: tokens reserved by one replica and unused
when the window ends may be refused to another. That under-admission is at most
`replicas x batch`; the batch is `limit x batch_fraction` (1 % by default), which
keeps it within 5 % of the limit for up to five replicas. Windows are aligned to
the epoch on each replica's clock, so replica clocks should agree within a second.

If Redis is unreachable the limiter marks itself `degraded` (reported by /health),
keeps serving with per-replica local windows, and retries Redis after
`redis_retry_seconds`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ipheron_gateway.config import ProxyNetwork

log = logging.getLogger("ipheron.gateway.ratelimit")

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400}
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Sliding log: KEYS[1] zset; ARGV limit, window_ms, member. Returns {allowed, remaining, reset_ms}.
_SLIDING_LOG = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = window
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return {allowed, limit - count, reset}
"""

# Batch reservation: KEYS[1] counter of one fixed window; ARGV limit, want, ttl_ms. Returns {granted, used}.
_RESERVE = """
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), limit - used)
if grant <= 0 then return {0, used} end
used = redis.call('INCRBY', KEYS[1], grant)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {grant, used}
"""


@dataclass(frozen=True)
class Rule:
    """One rate-limit group: which requests it covers and how many per window."""

    name: str
    limit: int
    window: int
    exact: bool
    pattern: re.Pattern[str]
    methods: frozenset[str] | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and self.pattern.match(path) is not None


@dataclass(frozen=True)
class Decision:
    """The outcome of one request against its group; headers describe it."""

    allowed: bool
    rule: Rule
    remaining: int
    reset: int  # seconds until the window frees quota

    @property
    def retry_after(self) -> int:
        return max(1, self.reset)

    def headers(self) -> list[tuple[bytes, bytes]]:
        h = [(b"ratelimit-limit", str(self.rule.limit).encode()),
             (b"ratelimit-remaining", str(max(0, self.remaining)).encode()),
             (b"ratelimit-reset", str(max(0, self.reset)).encode()),
             (b"ratelimit-policy", f"{self.rule.limit};w={self.rule.window}".encode())]
        if not self.allowed:
            h.append((b"retry-after", str(self.retry_after).encode()))
        return h


def parse_rate(text: str) -> tuple[int, int]:
    """'10/minute', '1000/h', '50/3600' -> (limit, window seconds)."""
    count, _, per = text.strip().partition("/")
    per = per.strip().lower().rstrip("s") if not per.strip().isdigit() else per.strip()
    window = int(per) if per.isdigit() else _UNITS.get(per, 0)
    limit = int(count)
    if limit < 1 or window < 1:
        raise ValueError(f"invalid rate {text!r}; use e.g. '10/minute'")
    return limit, window


class RateLimitSettings(BaseSettings):
    """GATEWAY_RATELIMIT_* settings; each group's rate as 'N/unit'."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_RATELIMIT_", extra="ignore")

    enabled: bool = True
    auth: str = "10/minute"
    asset_writes: str = "100/hour"
    transactions: str = "50/hour"
    analytics: str = "1000/hour"
    default: str = "1000/minute"
    batch_fraction: float = 0.01
    redis_timeout_seconds: float = 0.25
    redis_retry_seconds: float = 1.0
    exempt: str = r"^/(health|metrics|docs|redoc|openapi\.json)(/|$)"

    def rules(self) -> list[Rule]:
        def rule(name: str, exact: bool, pattern: str, methods: Iterable[str] | None = None) -> Rule:
            limit, window = parse_rate(getattr(self, name))
            return Rule(name, limit, window, exact, re.compile(pattern), frozenset(methods) if methods else None)

        return [
            rule("transactions", True,
                 r"^/api/v1/(assets/[^/]+/purchase|stakes|stakes/[^/]+/(claim|unstake)|chain/withdraw)/?$", {"POST"}),
            rule("auth", True, r"^/api/v1/auth(/|$)"),
            rule("asset_writes", True, r"^/api/v1/(assets|files)(/|$)", _WRITE_METHODS),
            rule("analytics", False, r"^/api/v1/analytics(/|$)"),
            rule("default", False, r"^/"),
        ]


@dataclass
class _Lease:
    """One replica's share of a batched key's quota in one fixed window."""

    window_id: int
    tokens: int = 0
    global_used: int = 0
    exhausted: bool = False
    refill: asyncio.Task[None] | None = field(default=None, repr=False)


class _LocalWindows:
    """Per-replica fixed windows: the fallback while Redis is unreachable."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.counts: OrderedDict[tuple[str, str], tuple[int, int]] = OrderedDict()

    def hit(self, rule: Rule, key: str, now: float) -> Decision:
        wid = int(now // rule.window)
        reset = int((wid + 1) * rule.window - now) + 1
        k = (rule.name, key)
        prev_wid, count = self.counts.get(k, (wid, 0))
        if prev_wid != wid:
            count = 0
        allowed = count < rule.limit
        if allowed:
            count += 1
        self.counts[k] = (wid, count)
        self.counts.move_to_end(k)
        if len(self.counts) > self.max_keys:
            self.counts.popitem(last=False)
        return Decision(allowed, rule, rule.limit - count, reset)


class RateLimiter:
    """Decides per request; shared state in Redis, leases and fallback locally."""

    def __init__(self, redis: aioredis.Redis | None, rules: list[Rule] | None = None, *, prefix: str = "ipheron:rl",
                 batch_fraction: float = 0.01, redis_retry_seconds: float = 1.0, max_keys: int = 100_000,
                 exempt: str | None = r"^/(health|metrics|docs|redoc|openapi\.json)(/|$)",
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.rules = rules if rules is not None else RateLimitSettings().rules()
        self.prefix = prefix
        self.batch_fraction = batch_fraction
        self.redis_retry_seconds = redis_retry_seconds
        self.max_keys = max_keys
        self.exempt = re.compile(exempt) if exempt else None
        self.clock = clock
        self._leases: OrderedDict[tuple[str, str], _Lease] = OrderedDict()
        self._local = _LocalWindows(max_keys)
        self._down_until = 0.0
        self._degraded = redis is None
        self._sliding = redis.register_script(_SLIDING_LOG) if redis is not None else None
        self._reserve = redis.register_script(_RESERVE) if redis is not None else None
        self.redis_calls = 0  # observable cost, for tests and metrics

    @classmethod
    def from_settings(cls, settings: RateLimitSettings, redis_url: str | None, **kwargs: Any) -> RateLimiter:
        client = None
        if redis_url:
            client = aioredis.Redis.from_url(redis_url, socket_timeout=settings.redis_timeout_seconds,
                                             socket_connect_timeout=settings.redis_timeout_seconds)
        return cls(client, settings.rules(), batch_fraction=settings.batch_fraction,
                   redis_retry_seconds=settings.redis_retry_seconds, exempt=settings.exempt, **kwargs)

    async def close(self) -> None:
        for lease in self._leases.values():
            if lease.refill is not None and not lease.refill.done():
                lease.refill.cancel()
        if self.redis is not None:
            await self.redis.aclose()

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable (or absent) and limits are per replica only."""
        return self._degraded

    def classify(self, method: str, path: str) -> Rule | None:
        if self.exempt is not None and self.exempt.match(path):
            return None
        for rule in self.rules:
            if rule.matches(method, path):
                return rule
        return None

    def batch_size(self, rule: Rule) -> int:
        return max(1, int(rule.limit * self.batch_fraction))

    def _redis_usable(self, now: float) -> bool:
        return self.redis is not None and now >= self._down_until

    def _redis_failed(self, exc: BaseException) -> None:
        if not self._degraded:
            log.warning("Redis unreachable for rate limits (%s); using local limits", exc)
        self._degraded = True
        self._down_until = self.clock() + self.redis_retry_seconds

    def _redis_ok(self) -> None:
        if self._degraded and self.redis is not None:
            log.info("Redis reachable again; shared rate limits restored")
        self._degraded = False

    async def hit(self, rule: Rule, key: str) -> Decision:
        """Count one request of `key` against `rule`."""
        now = self.clock()
        if not self._redis_usable(now):
            return self._local.hit(rule, key, now)
        try:
            if rule.exact:
                return await self._hit_exact(rule, key)
            return await self._hit_batched(rule, key, now)
        except (TimeoutError, RedisError, OSError) as exc:
            self._redis_failed(exc)
            return self._local.hit(rule, key, now)

    async def _hit_exact(self, rule: Rule, key: str) -> Decision:
        assert self._sliding is not None
        self.redis_calls += 1
        allowed, remaining, reset_ms = await self._sliding(
            keys=[f"{self.prefix}:{rule.name}:{key}"], args=[rule.limit, rule.window * 1000, os.urandom(8).hex()])
        self._redis_ok()
        return Decision(bool(allowed), rule, int(remaining), -(-int(reset_ms) // 1000))

    def _lease(self, rule: Rule, key: str, window_id: int) -> _Lease:
        k = (rule.name, key)
        lease = self._leases.get(k)
        if lease is None or lease.window_id != window_id:
            lease = _Lease(window_id)
            self._leases[k] = lease
            if len(self._leases) > self.max_keys:
                # Dropping a lease only forfeits its unused tokens: never over-admits.
                self._leases.popitem(last=False)
        self._leases.move_to_end(k)
        return lease

    async def _refill(self, rule: Rule, key: str, lease: _Lease) -> None:
        assert self._reserve is not None
        want = self.batch_size(rule)
        try:
            self.redis_calls += 1
            granted, used = await self._reserve(
                keys=[f"{self.prefix}:{rule.name}:{key}:{lease.window_id}"],
                args=[rule.limit, want, (rule.window + 5) * 1000])
            self._redis_ok()
            lease.tokens += int(granted)
            lease.global_used = int(used)
            if int(granted) < want:
                lease.exhausted = True  # the window's quota is all handed out
        except (TimeoutError, RedisError, OSError) as exc:
            self._redis_failed(exc)  # also when nobody awaits this (a background top-up)
            raise
        finally:
            lease.refill = None

    def _start_refill(self, rule: Rule, key: str, lease: _Lease) -> asyncio.Task[None]:
        if lease.refill is None:
            lease.refill = asyncio.get_running_loop().create_task(self._refill(rule, key, lease))
            lease.refill.add_done_callback(_consume_exception)
        return lease.refill

    async def _hit_batched(self, rule: Rule, key: str, now: float) -> Decision:
        wid = int(now // rule.window)
        reset = int((wid + 1) * rule.window - now) + 1
        lease = self._lease(rule, key, wid)
        if lease.tokens <= 0 and not lease.exhausted:
            # Only here does a request wait for Redis: once per batch, not per request.
            await asyncio.shield(self._start_refill(rule, key, lease))
        if lease.tokens > 0:
            lease.tokens -= 1
            if lease.tokens <= self.batch_size(rule) // 2 and not lease.exhausted:
                self._start_refill(rule, key, lease)  # top up in the background
            remaining = max(0, rule.limit - lease.global_used) + lease.tokens
            return Decision(True, rule, remaining, reset)
        return Decision(False, rule, 0, reset)


def _consume_exception(task: asyncio.Task[None]) -> None:
    # A background top-up that failed already marked the limiter degraded.
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if isinstance(exc, RedisError | OSError | asyncio.TimeoutError):
            log.debug("background quota reservation failed: %s", exc)


def _default_identity(scope: Scope) -> str | None:
    user = (scope.get("state") or {}).get("user")
    uid = getattr(user, "id", None) or getattr(user, "sub", None)
    return str(uid) if uid else None


def _is_trusted(addr: str, trusted: Sequence[ProxyNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_ip(scope: Scope, trusted_proxies: Sequence[ProxyNetwork] = ()) -> str:
    """The client's address: the right-most hop not in `trusted_proxies`.

    The chain is X-Forwarded-For's entries then the peer. Each trusted proxy appends
    the address it received from; anything to the left of the first untrusted hop
    (from the right) was written by the client and is ignored. With no trusted
    proxies, or a peer that is not one, X-Forwarded-For is ignored entirely.
    """
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    hops: list[str] = []
    for k, v in scope.get("headers", ()):
        if k == b"x-forwarded-for":
            hops.extend(h.strip() for h in v.decode("latin-1").split(",") if h.strip())
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted_proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


class RateLimitMiddleware:
    """Pure ASGI middleware: 429 problem+json when over the limit, RateLimit-* headers always."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, *, identity: Callable[[Scope], str | None] | None = None,
                 trusted_proxies: Sequence[ProxyNetwork] = ()) -> None:
        self.app = app
        self.limiter = limiter
        self.identity = identity or _default_identity
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        rule = self.limiter.classify(scope["method"], scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
            return
        uid = self.identity(scope)
        key = f"u:{uid}" if uid else f"ip:{client_ip(scope, self.trusted_proxies)}"
        decision = await self.limiter.hit(rule, key)
        if not decision.allowed:
            await self._reject(decision, scope, send)
            return
        extra = decision.headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _reject(self, decision: Decision, scope: Scope, send: Send) -> None:
        rule = decision.rule
        body = orjson.dumps({
            "type": "https://ipheron.dev/problems/too-many-requests",
            "title": "Too Many Requests",
            "status": 429,
            "detail": f"rate limit of {rule.limit} requests per {rule.window} s exceeded for '{rule.name}'; "
                      f"retry in {decision.retry_after} s",
            "instance": scope["path"],
            "group": rule.name,
        })
        headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
                   *decision.headers()]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
