"""/health (every component, 200 or 503 naming what is down), /health/live, /health/ready, /metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import grpc
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from grpc_health.v1 import health_pb2
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs.wire import iso
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ipheron_gateway.clients import Upstreams
from ipheron_gateway.config import SERVICES

router = APIRouter(tags=["operations"])
SERVING = health_pb2.HealthCheckResponse.SERVING


# What one health entry of one service said.
UP, DOWN, UNKNOWN, UNREACHABLE = "up", "down", "unknown", "unreachable"


async def _check(upstreams: Upstreams, svc: str, name: str, timeout: float) -> str:
    """UP/DOWN as the service answered; UNKNOWN if it has no such entry; UNREACHABLE if it did not answer."""
    try:
        resp = await upstreams.health_check[svc](health_pb2.HealthCheckRequest(service=name), timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        return UNKNOWN if exc.code() == grpc.StatusCode.NOT_FOUND else UNREACHABLE
    return UP if resp.status == SERVING else DOWN


def _service_status(answer: str) -> str:
    return DOWN if answer == UNREACHABLE else answer


def postgresql_status(db_views: dict[str, str]) -> dict[str, Any]:
    """PostgreSQL as the services see it: down only when a service that answered says so.

    A service that does not answer says nothing about the database (it is reported
    as `service:<name>`), nor does one without a "postgresql" entry.
    """
    reporting = {s: v for s, v in db_views.items() if v in (UP, DOWN)}
    seen_down = sorted(s for s, v in reporting.items() if v == DOWN)
    if seen_down:
        return {"status": DOWN, "seen_down_by": seen_down}
    return {"status": UP if reporting else UNKNOWN}


async def component_status(request: Request) -> dict[str, Any]:
    upstreams: Upstreams = request.app.state.upstreams
    timeout = request.app.state.settings.health_timeout
    checks = [_check(upstreams, svc, "", timeout) for svc in SERVICES]
    checks += [_check(upstreams, svc, "postgresql", timeout) for svc in SERVICES]
    results = await asyncio.gather(*checks)
    services = dict(zip(SERVICES, results[: len(SERVICES)], strict=True))
    db_views = dict(zip(SERVICES, results[len(SERVICES):], strict=True))
    components: dict[str, Any] = {f"service:{s}": {"status": _service_status(st)} for s, st in services.items()}
    components["postgresql"] = postgresql_status(db_views)
    components["redis"] = {"status": await _redis_status(request)}
    components["chain"] = await _chain_status(upstreams, timeout)
    return components


async def _chain_status(upstreams: Upstreams, timeout: float) -> dict[str, Any]:
    """The chain as the chain service sees it: reachable node, latest block, network."""
    try:
        st = await upstreams.chain.GetNetworkStatus(chain_pb.GetNetworkStatusRequest(), timeout=timeout)
    except grpc.aio.AioRpcError:
        return {"status": DOWN}
    return {"status": "up" if st.healthy else "down", "network": st.network, "chain_id": st.chain_id,
            "latest_block": st.latest_block}


async def _redis_status(request: Request) -> str:
    redis = getattr(request.app.state, "redis", None)
    if redis is None:
        return "down"
    try:
        await asyncio.wait_for(redis.ping(), timeout=request.app.state.settings.health_timeout)
    except Exception:  # noqa: BLE001 - any failure means unreachable
        return "down"
    limiter = getattr(request.app.state, "limiter", None)
    return "degraded" if getattr(limiter, "degraded", False) else "up"


# Without these the system still serves (local rate limits, events wait in the
# outboxes, caches fall through to PostgreSQL): their loss degrades, not fails.
SOFT_COMPONENTS = frozenset({"redis"})


@router.get("/health", summary="Every component's status; 503 names what is down")
async def health(request: Request) -> Response:
    components = await component_status(request)
    # PostgreSQL "unknown" (no reachable service reports it) is not evidence it is down:
    # the unreachable services are what is down, and they are listed.
    bad = {name for name, c in components.items()
           if c["status"] == DOWN or (c["status"] == UNKNOWN and name != "postgresql")}
    down = sorted(bad - SOFT_COMPONENTS)
    degraded = sorted((bad & SOFT_COMPONENTS)
                      | {name for name, c in components.items() if c["status"] == "degraded"})
    body = {
        "status": "unhealthy" if down else ("degraded" if degraded else "healthy"),
        "timestamp": iso(dt.datetime.now(dt.UTC)),
        "down": down,
        "components": components,
    }
    if degraded:
        body["degraded"] = degraded
    return _json(body, 503 if down else 200)


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.get("/health/live", summary="The gateway process is alive")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/health/ready", summary="Ready to serve: every service answers its health check")
async def ready(request: Request) -> Response:
    upstreams: Upstreams = request.app.state.upstreams
    timeout = request.app.state.settings.health_timeout
    results = await asyncio.gather(*[_check(upstreams, s, "", timeout) for s in SERVICES])
    down = [s for s, r in zip(SERVICES, results, strict=True) if r != UP]
    return _json({"status": "not ready" if down else "ready", "down": down},
                 503 if down else 200)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
