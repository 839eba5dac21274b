"""Wires the analytics service onto the one service skeleton (`ipheron_libs.service`):
repository, use cases and servicer, and the domain-event consumer (a consumer group
on ipheron:events) whose handler consumer.py provides."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import grpc
from ipheron.analytics.v1 import analytics_service_pb2, analytics_service_pb2_grpc
from ipheron_libs import events
from ipheron_libs.db import run_db
from ipheron_libs.service import ServiceApp

from analytics_service import consumer, domain
from analytics_service.config import SCHEMA, SERVICE_NAME, Settings
from analytics_service.repository import AnalyticsRepository
from analytics_service.service import AnalyticsService
from analytics_service.servicer import AnalyticsServicer

log = logging.getLogger("analytics_service")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = analytics_service_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name


class AnalyticsApp(ServiceApp):
    """Read models over gRPC, fed by the domain-event stream; `clock` for tests."""

    name = SERVICE_NAME
    schema = SCHEMA
    migrations = MIGRATIONS_DIR
    grpc_services = (FULL_NAME,)

    def __init__(self, settings: Settings, database_url: str, redis_url: str | None = None, *,
                 clock: Callable[[], datetime] = domain.utcnow) -> None:
        super().__init__(settings, database_url, redis_url)
        self.service = AnalyticsService(AnalyticsRepository(self.engine), clock)
        self.servicer = AnalyticsServicer(self.service)
        self.defer_roll_up = settings.rollup_interval_s > 0
        if settings.consume_events:
            # Only the types it applies: the rest of the stream is acknowledged inside Redis, unsent.
            # The events of one read in one transaction (`handle` alone, should that batch fail).
            self.consume(settings.consumer_group, self.handle, types=consumer.HANDLERS,
                         batch_handler=self.handle_batch, filter_in_redis=True)
            self.every("market roll-up", settings.rollup_interval_s, self.roll_up)

    def register(self, server: grpc.aio.Server) -> None:
        analytics_service_pb2_grpc.add_AnalyticsServiceServicer_to_server(self.servicer, server)

    async def handle(self, event: events.Event) -> None:
        """One event from the stream, applied by consumer.py in its own transaction."""
        if not await run_db(consumer.apply_in_transaction, self.engine, event, defer_roll_up=self.defer_roll_up):
            log.debug("event %s already applied", event.id)

    async def handle_batch(self, batch: Sequence[events.Event]) -> None:
        """The events of one stream read, applied by consumer.py in one transaction."""
        applied = await run_db(consumer.apply_batch_in_transaction, self.engine, batch,
                               defer_roll_up=self.defer_roll_up)
        if applied < len(batch):
            log.debug("%d of %d events already applied", len(batch) - applied, len(batch))

    async def roll_up(self) -> None:
        """The market rows of the days the consumer queued (a crash leaves them queued)."""
        rebuilt = await run_db(consumer.roll_up_queued, self.engine)
        if rebuilt:
            log.debug("market roll-up rebuilt %d day(s)", rebuilt)
