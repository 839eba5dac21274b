"""Wiring of the assets service: database, cache, clients, application, gRPC server,
outbox relay and saga worker, started and stopped in order."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import grpc
from ipheron.assets.v1 import assets_service_pb2, assets_service_pb2_grpc
from ipheron_libs import db, grpc_server
from ipheron_libs.events import OutboxRelay

from assets_service.cache import AssetCache
from assets_service.clients import AuthClient, ChainClient, RiskClient
from assets_service.config import SCHEMA, Settings
from assets_service.repository import Repository
from assets_service.service import AssetsApp
from assets_service.servicer import AssetsServicer

log = logging.getLogger("assets.server")
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = assets_service_pb2.DESCRIPTOR.services_by_name["AssetsService"].full_name


class AssetsRuntime:
    """Everything one assets-service replica runs; `start()` then `stop()`."""

    def __init__(self, settings: Settings) -> None:
        if not settings.database_url or not settings.redis_url:
            raise ValueError("DATABASE_URL and REDIS_URL are required (make run provides embedded ones)")
        self.settings = settings
        db.migrate(settings.database_url, SCHEMA, settings.migrations_dir or MIGRATIONS)
        self.engine = db.make_engine(settings.database_url, SCHEMA, pool_size=settings.db_pool_size,
                                     max_overflow=settings.db_max_overflow)
        db.configure_db_threads(settings.db_pool_size + settings.db_max_overflow)
        owner = settings.instance_id or f"{socket.gethostname()}:{settings.grpc_port}"
        self.repo = Repository(self.engine, owner=owner, lease_seconds=settings.saga_lease_seconds)
        self.cache = AssetCache(settings.redis_url, local_ttl=settings.local_cache_ttl,
                                local_size=settings.local_cache_size, redis_ttl=settings.redis_cache_ttl)
        self.auth = AuthClient(settings.auth_addr, settings.auth_timeout)
        self.chain = ChainClient(settings.chain_addr, settings.chain_timeout)
        self.risk = RiskClient(settings.ai_agents_addr, settings.ai_timeout)
        self.app = AssetsApp(settings, self.repo, self.cache, self.auth, self.chain, self.risk)
        self.relay = OutboxRelay(self.engine, SCHEMA, settings.redis_url, interval=settings.outbox_poll_interval)
        self.server, self.port, self.health = grpc_server.build_server(
            "assets", self.register, [SERVICE_NAME], host=settings.grpc_host, port=settings.grpc_port)

    def register(self, server: grpc.aio.Server) -> None:
        assets_service_pb2_grpc.add_AssetsServiceServicer_to_server(AssetsServicer(self.app), server)

    async def on_start(self) -> None:
        """Before serving: subscribe to invalidations, finish what a crash left, start background work."""
        await self.cache.start()
        recovered = await self.app.recover_all()
        if recovered:
            log.info("recovered %d unfinished sagas at start-up", recovered)
        self.relay.start()
        if self.settings.saga_worker:
            self.app.start_worker()

    async def start(self) -> None:
        await self.on_start()
        await grpc_server.start(self.server, self.health)

    async def on_stop(self) -> None:
        await self.app.stop_worker()
        await self.relay.stop()
        await self.cache.close()
        for client in (self.auth, self.chain, self.risk):
            await client.close()
        self.engine.dispose()

    async def stop(self, grace: float = 1.0) -> None:
        await grpc_server.stop(self.server, self.health, grace)
        await self.on_stop()
