"""The assets service starts through the one service skeleton, so it reports its
database in the standard gRPC health service like every other service."""

from __future__ import annotations

import grpc
from assets_service.server import FULL_NAME
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron_libs.testing import wait_until_async

SERVING = health_pb2.HealthCheckResponse.SERVING


async def test_a_running_assets_server_reports_postgresql_serving(replica) -> None:  # type: ignore[no-untyped-def]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{replica.app.port}") as ch:
        health = health_pb2_grpc.HealthStub(ch)

        async def status(name: str) -> int:
            return (await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)).status

        async def postgresql_serving() -> bool:
            return await status("postgresql") == SERVING

        # The entry is published by the skeleton's dependency watcher shortly after start.
        assert await wait_until_async(postgresql_serving, 10.0, ignore=(grpc.aio.AioRpcError,),
                                      message="no SERVING postgresql health entry")
        assert await status("") == SERVING
        assert await status(FULL_NAME) == SERVING
