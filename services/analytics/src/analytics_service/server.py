"""Wires the analytics service: database (migrated on start), servicer and the
event consumer (consumer group on ipheron:events), on the shared grpc.aio bootstrap."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import grpc
from ipheron.analytics.v1 import analytics_service_pb2, analytics_service_pb2_grpc
from ipheron_libs import db, embedded, events
from ipheron_libs.db import run_db

from analytics_service import consumer, domain
from analytics_service.config import SCHEMA, SERVICE_NAME, Settings
from analytics_service.service import AnalyticsService
from analytics_service.servicer import AnalyticsServicer

log = logging.getLogger("analytics_service")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = analytics_service_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name


def database_url(settings: Settings) -> str:
    """DATABASE_URL as given, else the embedded PostgreSQL under DATA_DIR with our own role."""
    return embedded.service_database_url(settings.database_url, settings.data_dir, SCHEMA)


class AnalyticsApp:
    """Everything the process runs besides the gRPC server itself."""

    def __init__(self, settings: Settings, url: str, clock: Callable[[], datetime] = domain.utcnow) -> None:
        self.settings = settings
        self.url = url
        self.engine = db.make_engine(
            url, SCHEMA, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        # The thread pool matches the connection pool (make_engine already traces queries).
        db.configure_db_threads(settings.db_pool_size + settings.db_max_overflow)
        self.service = AnalyticsService(self.engine, clock)
        self.servicer = AnalyticsServicer(self.service)
        self.consumer: events.Consumer | None = None

    def migrate(self) -> None:
        db.migrate(self.url, SCHEMA, self.settings.migrations_dir or MIGRATIONS_DIR)

    def register(self, server: grpc.aio.Server) -> None:
        analytics_service_pb2_grpc.add_AnalyticsServiceServicer_to_server(self.servicer, server)

    async def handle(self, event: events.Event) -> None:
        """Apply one event in its own transaction (idempotent by event id)."""
        applied = await run_db(consumer.apply_in_transaction, self.engine, event)
        if not applied:
            log.debug("event %s already applied", event.id)

    async def on_start(self) -> None:
        await run_db(self.migrate)
        if self.settings.consume_events and self.settings.redis_url:
            self.consumer = events.Consumer(self.settings.redis_url, self.settings.consumer_group, self.handle)
            self.consumer.start()

    async def on_stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        self.engine.dispose()


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT."""
    from ipheron_libs import grpc_server

    url = await run_db(database_url, settings)
    app = AnalyticsApp(settings, url)
    await grpc_server.serve(
        SERVICE_NAME,
        app.register,
        [FULL_NAME],
        host=settings.grpc_host,
        port=settings.grpc_port,
        on_start=app.on_start,
        on_stop=app.on_stop,
    )
