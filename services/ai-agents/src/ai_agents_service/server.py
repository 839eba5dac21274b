"""Wires the ai-agents service on the one service skeleton: the MeTTa worker pool, the
fact stores, the clients of auth and analytics, `AiAgentsService`, the servicer, the
event consumer (`ai_agents_service.consumer`), the retraining, market-history refresh
and knowledge-base reload schedules, the "metta" health entry and the closes."""

from __future__ import annotations

from pathlib import Path

import grpc
from ipheron.ai_agents.v1 import ai_agents_service_pb2, ai_agents_service_pb2_grpc
from ipheron_libs import events
from ipheron_libs.grpc_server import DependencyCheck
from ipheron_libs.service import ServiceApp

from ai_agents_service.clients import AnalyticsClient, Directory
from ai_agents_service.config import SCHEMA, SERVICE_NAME, Settings
from ai_agents_service.consumer import CONSUMER_GROUP, EventHandler
from ai_agents_service.engine import RulePool
from ai_agents_service.kb import KB_DIR
from ai_agents_service.market_data import MarketData
from ai_agents_service.repository import Repository
from ai_agents_service.service import AiAgentsService
from ai_agents_service.servicer import AiAgentsServicer

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = ai_agents_service_pb2.DESCRIPTOR.services_by_name["AiAgentsService"].full_name


class AiAgentsApp(ServiceApp):
    """The ai-agents service's wiring."""

    name = SERVICE_NAME
    schema = SCHEMA
    migrations = MIGRATIONS_DIR
    grpc_services = (FULL_NAME,)

    def __init__(self, settings: Settings, database_url: str, redis_url: str | None = None) -> None:
        super().__init__(settings, database_url, redis_url)
        self.repo = Repository(self.engine)
        self.pool = RulePool(settings.workers, settings.kb_dir or KB_DIR, settings.worker_call_timeout,
                             cache_size=settings.cache_size)
        self.on_close(self.pool.close)
        self.market = MarketData()
        self.directory = Directory(settings.auth_addr, settings.call_timeout)
        self.on_close(self.directory.close)
        analytics = AnalyticsClient(settings.analytics_addr, settings.call_timeout) if settings.analytics_addr \
            else None
        if analytics is not None:
            self.on_close(analytics.close)
        self.service = AiAgentsService(settings, self.pool, self.market, self.repo, self.directory, analytics)
        self.servicer = AiAgentsServicer(self.service)
        self.event_handler = EventHandler(self.service)
        if settings.consume_events:
            # The other types are acknowledged inside Redis, never sent here (most of the stream).
            self.consume(CONSUMER_GROUP, self.event_handler.handle, types=self.event_handler.EVENT_TYPES,
                         filter_in_redis=True)
        self.every("retrain", settings.retrain_interval, self.service.retrain, delay=settings.retrain_interval)
        if analytics is not None:
            self.every("market-history", settings.history_refresh_interval, self.service.refresh_history,
                       delay=settings.history_refresh_interval)
        reload = settings.kb_reload if settings.kb_reload is not None else settings.env == "development"
        if reload:
            self.every("kb-reload", settings.kb_reload_interval, self.pool.reload_if_changed,
                       delay=settings.kb_reload_interval)

    def register(self, server: grpc.aio.Server) -> None:
        ai_agents_service_pb2_grpc.add_AiAgentsServiceServicer_to_server(self.servicer, server)

    async def prepare(self) -> None:
        await self.pool.start()
        await self.service.warm_up()

    def dependency_checks(self) -> dict[str, DependencyCheck]:
        return {**super().dependency_checks(), "metta": self.metta_ready}

    async def metta_ready(self) -> bool:
        """Health entry "metta": at least one interpreter worker is up."""
        return self.service.metta_ready()

    async def handle_event(self, event: events.Event) -> None:
        """One domain event into the agents' facts (the handling lives in ai_agents_service.consumer)."""
        await self.event_handler.handle(event)


# The name the gateway's contract tests import (tests/test_gateway_ai.py).
AgentsApp = AiAgentsApp
