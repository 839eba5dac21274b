"""Rate limits: exact and batched groups across two limiter "replicas" sharing one real
Redis, the middleware's 429 problem+json and headers, and degraded mode without Redis."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from ipheron_gateway.ratelimit import RateLimiter, RateLimitMiddleware, RateLimitSettings, Rule, parse_rate
from ipheron_libs import embedded
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def rule(name: str, limit: int, window: int, exact: bool) -> Rule:
    return Rule(name, limit, window, exact, re.compile(r"^/"))


async def replica(url: str, rules: list[Rule], prefix: str, **kw: object) -> RateLimiter:
    return RateLimiter(aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5), rules,
                       prefix=prefix, **kw)  # type: ignore[arg-type]


@pytest.fixture()
def prefix() -> str:
    return f"test:rl:{uuid.uuid4().hex}"


def test_rate_strings_parse() -> None:
    assert parse_rate("10/minute") == (10, 60)
    assert parse_rate("1000/h") == (1000, 3600)
    assert parse_rate("50/3600") == (50, 3600)
    with pytest.raises(ValueError):
        parse_rate("0/minute")


def test_default_groups_classify_routes() -> None:
    limiter = RateLimiter(None, RateLimitSettings().rules())
    cases = {("POST", "/api/v1/auth/login"): "auth", ("POST", "/api/v1/assets"): "asset_writes",
             ("PATCH", "/api/v1/assets/a1"): "asset_writes", ("POST", "/api/v1/files"): "asset_writes",
             ("POST", "/api/v1/assets/a1/purchase"): "transactions", ("POST", "/api/v1/stakes"): "transactions",
             ("POST", "/api/v1/stakes/s1/unstake"): "transactions", ("GET", "/api/v1/analytics/overview"): "analytics",
             ("GET", "/api/v1/assets"): "default", ("GET", "/health"): None, ("GET", "/metrics"): None}
    assert {k: getattr(limiter.classify(*k), "name", None) for k in cases} == cases


async def test_exact_limit_holds_across_two_replicas(redis_url: str, prefix: str) -> None:
    r = rule("auth", 10, 60, exact=True)
    a, b = await replica(redis_url, [r], prefix), await replica(redis_url, [r], prefix)
    try:
        results = [await (a if i % 2 else b).hit(r, "ip:1.2.3.4") for i in range(25)]
        assert sum(d.allowed for d in results) == 10
        assert [d.remaining for d in results[:10]] == list(range(9, -1, -1))
        denied = results[10]
        assert not denied.allowed and 1 <= denied.retry_after <= 60
        assert (await a.hit(r, "ip:5.6.7.8")).allowed  # another key has its own budget
    finally:
        await a.close()
        await b.close()


async def test_batched_limit_never_exceeds_and_slack_is_within_five_percent(redis_url: str, prefix: str) -> None:
    r = rule("default", 1000, 3600, exact=False)
    a, b = await replica(redis_url, [r], prefix), await replica(redis_url, [r], prefix)
    try:
        allowed = 0
        for i in range(1300):
            allowed += (await (a if i % 3 else b).hit(r, "u:alice")).allowed
        assert 950 <= allowed <= 1000
        counters = [k async for k in a.redis.scan_iter(f"{prefix}:default:u:alice:*")]  # type: ignore[union-attr]
        granted = sum([int(await a.redis.get(k)) for k in counters])  # type: ignore[union-attr]
        assert granted <= 1000
        # Round trips are per batch (10 tokens), not per request.
        assert a.redis_calls + b.redis_calls <= 1000 // 10 + 4
    finally:
        await a.close()
        await b.close()


@pytest.fixture()
async def disposable_redis() -> AsyncIterator[tuple[str, embedded.EmbeddedRedis, Path]]:
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-rl-redis-"))
    r = embedded.start_redis(tmp, persist=False)
    try:
        yield r.url, r, tmp
    finally:
        r.stop()
        embedded.remove_tree(tmp)


async def test_degraded_mode_keeps_serving_with_local_limits_when_redis_is_gone(
        disposable_redis: tuple[str, embedded.EmbeddedRedis, Path], prefix: str) -> None:
    url, server, _ = disposable_redis
    exact, batched = rule("auth", 3, 60, exact=True), rule("default", 200, 60, exact=False)
    limiter = await replica(url, [exact, batched], prefix, redis_retry_seconds=3600)
    try:
        assert (await limiter.hit(exact, "ip:9.9.9.9")).allowed
        assert not limiter.degraded
        server.stop()
        decisions = [await limiter.hit(exact, "ip:9.9.9.9") for _ in range(5)]
        assert limiter.degraded
        assert sum(d.allowed for d in decisions) == 3  # the local window enforces the limit
        assert (await limiter.hit(batched, "u:bob")).allowed
    finally:
        await limiter.close()


async def test_no_redis_configured_means_local_limits_and_degraded() -> None:
    r = rule("auth", 2, 60, exact=True)
    limiter = RateLimiter(None, [r])
    assert limiter.degraded
    assert [(await limiter.hit(r, "k")).allowed for _ in range(3)] == [True, True, False]


def app_with(limiter: RateLimiter) -> RateLimitMiddleware:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    inner = Starlette(routes=[Route("/api/v1/auth/nonce", ok, methods=["POST"]), Route("/api/v1/things", ok),
                              Route("/health", ok)])

    def identity(scope: dict) -> str | None:  # type: ignore[type-arg]
        for k, v in scope["headers"]:
            if k == b"x-test-user":
                return v.decode()
        return None

    return RateLimitMiddleware(inner, limiter, identity=identity)


async def test_middleware_returns_429_problem_json_with_headers(redis_url: str, prefix: str) -> None:
    settings = RateLimitSettings(auth="3/minute")
    limiter = RateLimiter(aioredis.Redis.from_url(redis_url), settings.rules(), prefix=prefix)
    transport = httpx.ASGITransport(app=app_with(limiter))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            ok = [await client.post("/api/v1/auth/nonce") for _ in range(3)]
            assert [r.status_code for r in ok] == [200, 200, 200]
            assert ok[0].headers["ratelimit-limit"] == "3" and ok[2].headers["ratelimit-remaining"] == "0"
            assert int(ok[0].headers["ratelimit-reset"]) <= 60
            limited = await client.post("/api/v1/auth/nonce")
            assert limited.status_code == 429
            assert limited.headers["content-type"] == "application/problem+json"
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            assert limited.headers["ratelimit-remaining"] == "0"
            body = limited.json()
            assert body["status"] == 429 and body["title"] == "Too Many Requests" and "auth" in body["detail"]
            # Keyed by user when authenticated: the same IP as a user has its own budget.
            as_user = await client.post("/api/v1/auth/nonce", headers={"x-test-user": "user-7"})
            assert as_user.status_code == 200
            health = await client.get("/health")
            assert health.status_code == 200 and "ratelimit-limit" not in health.headers
            other = await client.get("/api/v1/things")
            assert other.headers["ratelimit-limit"] == "1000"
    finally:
        await limiter.close()


async def test_shared_limits_resume_when_redis_returns(
        disposable_redis: tuple[str, embedded.EmbeddedRedis, Path], prefix: str) -> None:
    url, server, data_dir = disposable_redis
    r = rule("auth", 100, 60, exact=True)
    now = [1000.0]
    limiter = await replica(url, [r], prefix, redis_retry_seconds=5, clock=lambda: now[0])
    try:
        server.stop()
        await limiter.hit(r, "k")
        assert limiter.degraded
        restarted = embedded.start_redis(data_dir, persist=False)  # same socket path
        try:
            await limiter.hit(r, "k")
            assert limiter.degraded  # still inside the retry back-off: no Redis attempt
            now[0] += 6
            assert (await limiter.hit(r, "k")).allowed
            assert not limiter.degraded
            assert limiter.redis_calls >= 2
        finally:
            restarted.stop()
    finally:
        await limiter.close()
