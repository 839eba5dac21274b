"""/health against real gRPC servers (grpc's own health servicer, one per service):
an unreachable service is reported as itself, never as the database being down;
PostgreSQL is down only when a service that answers says its entry is NOT_SERVING."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_libs.devstack_ports import free_port

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


async def _network_status(request: chain_pb.GetNetworkStatusRequest,
                          context: grpc.aio.ServicerContext) -> chain_pb.GetNetworkStatusResponse:
    return chain_pb.GetNetworkStatusResponse(healthy=True, network="devnet", chain_id=31337, latest_block=7)


class _Services:
    """A health endpoint for every service but `killed`, each with "" and "postgresql" SERVING."""

    def __init__(self) -> None:
        self.servers: dict[str, grpc.aio.Server] = {}
        self.health: dict[str, health.aio.HealthServicer] = {}
        self.addrs: dict[str, str] = {}

    async def start(self, killed: str) -> None:
        for svc in SERVICES:
            if svc == killed:
                self.addrs[svc] = f"127.0.0.1:{free_port()}"  # nothing listens: as after kill -9
                continue
            server = grpc.aio.server()
            servicer = health.aio.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
            if svc == "chain":
                handler = grpc.unary_unary_rpc_method_handler(
                    _network_status, request_deserializer=chain_pb.GetNetworkStatusRequest.FromString,
                    response_serializer=chain_pb.GetNetworkStatusResponse.SerializeToString)
                server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
                    "ipheron.chain.v1.ChainService", {"GetNetworkStatus": handler})])
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            await servicer.set("", SERVING)
            await servicer.set("postgresql", SERVING)
            self.servers[svc], self.health[svc], self.addrs[svc] = server, servicer, f"127.0.0.1:{port}"

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop(None) for s in self.servers.values()))


@pytest.fixture()
async def staking_killed() -> AsyncIterator[_Services]:
    services = _Services()
    await services.start(killed="staking")
    try:
        yield services
    finally:
        await services.stop()


async def _health(services: _Services) -> tuple[int, dict[str, Any]]:
    settings = GatewaySettings(**{f"{s}_addr": a for s, a in services.addrs.items()},  # type: ignore[arg-type]
                               health_timeout=0.5, upstream_timeout=0.5)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            resp = await client.get("/health")
    return resp.status_code, resp.json()


async def test_a_killed_service_is_reported_as_itself_not_as_the_database(staking_killed: _Services) -> None:
    status, body = await _health(staking_killed)
    assert status == 503
    assert body["down"] == ["service:staking"]
    assert body["components"]["postgresql"] == {"status": "up"}
    assert body["components"]["service:auth"] == {"status": "up"}
    assert body["components"]["chain"]["status"] == "up"


async def test_postgresql_is_down_when_a_reachable_service_says_so(staking_killed: _Services) -> None:
    await staking_killed.health["assets"].set("postgresql", NOT_SERVING)
    status, body = await _health(staking_killed)
    assert status == 503
    assert body["down"] == ["postgresql", "service:staking"]
    assert body["components"]["postgresql"] == {"status": "down", "seen_down_by": ["assets"]}


async def test_nobody_reachable_means_postgresql_unknown_not_down() -> None:
    services = _Services()
    services.addrs = {s: f"127.0.0.1:{free_port()}" for s in SERVICES}
    status, body = await _health(services)
    assert status == 503
    assert body["down"] == sorted(["chain", *(f"service:{s}" for s in SERVICES)])
    assert body["components"]["postgresql"] == {"status": "unknown"}
