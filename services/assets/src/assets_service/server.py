"""Wires the assets service onto the one service skeleton (`ipheron_libs.service`):
repository, two-level cache, clients, use cases and servicer; the outbox relay; the
chain-event consumer (group "assets": the chain is the record of sales); the saga
recovery worker as a periodic job; unfinished sagas finished in `prepare`, before
anything is served."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import grpc
from ipheron.assets.v1 import assets_service_pb2, assets_service_pb2_grpc
from ipheron_libs.service import ServiceApp

from assets_service.cache import AssetCache
from assets_service.clients import AuthClient, ChainClient, RiskClient
from assets_service.config import SCHEMA, Settings
from assets_service.repository import Repository
from assets_service.service import AssetsService
from assets_service.servicer import AssetsServicer

log = logging.getLogger("assets.server")
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = "assets"
FULL_NAME = assets_service_pb2.DESCRIPTOR.services_by_name["AssetsService"].full_name


class AssetsApp(ServiceApp):
    """Everything one assets-service replica runs; `await start()` then `await stop()`."""

    name = SERVICE_NAME
    schema = SCHEMA
    migrations = MIGRATIONS
    grpc_services = (FULL_NAME,)

    def __init__(self, settings: Settings, database_url: str, redis_url: str | None = None) -> None:
        super().__init__(settings, database_url, redis_url)
        if not self.redis_url:
            raise ValueError("REDIS_URL is required (make run provides an embedded one)")
        owner = settings.instance_id or f"{socket.gethostname()}:{settings.grpc_port}"
        self.repo = Repository(self.engine, owner=owner, lease_seconds=settings.saga_lease_seconds)
        self.cache = AssetCache(self.redis_url, local_ttl=settings.local_cache_ttl,
                                local_size=settings.local_cache_size, redis_ttl=settings.redis_cache_ttl)
        self.auth = AuthClient(settings.auth_addr, settings.auth_timeout)
        self.chain = ChainClient(settings.chain_addr, settings.chain_timeout)
        self.risk = RiskClient(settings.ai_agents_addr, settings.ai_timeout)
        for closer in (self.cache.close, self.auth.close, self.chain.close, self.risk.close):
            self.on_close(closer)
        self.service = AssetsService(settings, self.repo, self.cache, self.auth, self.chain, self.risk)
        self.on_close(self.service.aclose)  # closed first (reverse order): before the clients it uses
        self.servicer = AssetsServicer(self.service)
        self.relay_outbox(settings.outbox_poll_interval)
        if settings.consume_chain_events:
            self.consume("assets", self.service.on_chain_event, retry_idle_ms=settings.event_retry_idle_ms,
                         types=self.service.event_types, filter_in_redis=True)
        if settings.saga_worker:
            self.every("saga-recovery", settings.saga_poll_interval, self.service.recover_once,
                       delay=settings.saga_poll_interval)

    def register(self, server: grpc.aio.Server) -> None:
        assets_service_pb2_grpc.add_AssetsServiceServicer_to_server(self.servicer, server)

    async def prepare(self) -> None:
        """Before serving: subscribe to cache invalidations, finish what a crash left."""
        await self.cache.start()
        recovered = await self.service.recover_all()
        if recovered:
            log.info("recovered %d unfinished sagas at start-up", recovered)
