"""The ai-agents service on the one service skeleton: serving only once its workers and
models are ready, with "postgresql" and "metta" health entries."""

from __future__ import annotations

import grpc
from ai_agents_service.server import FULL_NAME, AiAgentsApp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron_libs.testing import wait_until_async


async def test_ai_agents_app_reports_its_service_database_and_workers_in_health(app: AiAgentsApp) -> None:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    try:
        health = health_pb2_grpc.HealthStub(channel)

        async def serving(name: str) -> bool:
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            except grpc.aio.AioRpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        assert await serving(FULL_NAME)
        # prepare() ran before SERVING: the pool is up and every asset type has a trained model.
        assert app.pool.worker_pids() and app.service.market_agent.models
        assert await wait_until_async(lambda: serving("postgresql"), timeout=10)
        assert await wait_until_async(lambda: serving("metta"), timeout=10)
    finally:
        await channel.close()
