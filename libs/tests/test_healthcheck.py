"""The container HEALTHCHECK (`python -m ipheron_libs.healthcheck`) reads its target from
IPHERON_HEALTHCHECK and answers from a real gRPC health server: 0 SERVING, 1 otherwise."""

from __future__ import annotations

import pytest
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from ipheron_libs import healthcheck


def test_the_target_is_parsed_strictly() -> None:
    assert healthcheck.target({"IPHERON_HEALTHCHECK": "grpc:8086"}) == ("grpc", 8086, "/")
    assert healthcheck.target({"IPHERON_HEALTHCHECK": "http:8000/health/live"}) == ("http", 8000, "/health/live")
    for bad in ("", "grpc", "tcp:1", "grpc:port", "http:/x"):
        with pytest.raises(ValueError):
            healthcheck.target({"IPHERON_HEALTHCHECK": bad})


async def test_it_answers_0_only_while_the_server_reports_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    servicer = health.aio.HealthServicer()
    server = aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        monkeypatch.setenv("IPHERON_HEALTHCHECK", f"grpc:{port}")
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert await _run() == 0
        await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert await _run() == 1
    finally:
        await server.stop(0)
    assert await _run() == 1  # nothing listening


async def _run() -> int:
    import asyncio

    return await asyncio.to_thread(healthcheck.main)  # blocking client, off the server's loop
