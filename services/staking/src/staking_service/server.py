"""Wires the staking service: database (migrated on start), servicer, outbox relay
and the maturity sweep, on the shared grpc.aio bootstrap from ipheron_libs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import grpc
from ipheron.staking.v1 import staking_service_pb2, staking_service_pb2_grpc
from ipheron_libs import db, embedded, events
from ipheron_libs.db import run_db

from staking_service import domain
from staking_service.assets_client import AssetDirectory
from staking_service.config import SCHEMA, SERVICE_NAME, Settings
from staking_service.service import StakingService
from staking_service.servicer import StakingServicer

log = logging.getLogger("staking_service")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = staking_service_pb2.DESCRIPTOR.services_by_name["StakingService"].full_name


def database_url(settings: Settings) -> str:
    """DATABASE_URL as given, else the embedded PostgreSQL under DATA_DIR with our own role."""
    return embedded.service_database_url(settings.database_url, settings.data_dir, SCHEMA)


class StakingApp:
    """Everything the process runs besides the gRPC server itself."""

    def __init__(self, settings: Settings, url: str, clock: Callable[[], datetime] = domain.utcnow) -> None:
        self.settings = settings
        self.url = url
        self.engine = db.make_engine(
            url, SCHEMA, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        # The thread pool matches the connection pool (make_engine already traces queries).
        db.configure_db_threads(settings.db_pool_size + settings.db_max_overflow)
        self.service = StakingService(self.engine, clock)
        self.assets = AssetDirectory(settings.assets_addr, settings.call_timeout) if settings.assets_addr else None
        self.servicer = StakingServicer(self.service, settings.currency, self.assets)
        self.relay: events.OutboxRelay | None = None
        self._sweeper: asyncio.Task[None] | None = None

    def migrate(self) -> None:
        db.migrate(self.url, SCHEMA, self.settings.migrations_dir or MIGRATIONS_DIR)

    def register(self, server: grpc.aio.Server) -> None:
        staking_service_pb2_grpc.add_StakingServiceServicer_to_server(self.servicer, server)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                n = await run_db(self.service.mature_due)
                if n:
                    log.info("recorded %d matured stakes", n)
                retention = timedelta(hours=self.settings.idempotency_retention_hours)
                purged = await run_db(self.service.purge_idempotency_keys, retention)
                if purged:
                    log.info("forgot %d expired idempotency keys", purged)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep sweeping after a DB hiccup
                log.warning("maturity sweep failed; retrying", exc_info=True)
            await asyncio.sleep(self.settings.maturity_interval_seconds)

    async def on_start(self) -> None:
        await run_db(self.migrate)
        if self.settings.relay_events and self.settings.redis_url:
            self.relay = events.OutboxRelay(self.engine, SCHEMA, self.settings.redis_url)
            self.relay.start()
        if self.settings.maturity_interval_seconds > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def on_stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self.relay is not None:
            await self.relay.stop()
        if self.assets is not None:
            await self.assets.close()
        self.engine.dispose()


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT."""
    from ipheron_libs import grpc_server

    url = await run_db(database_url, settings)
    app = StakingApp(settings, url)
    await grpc_server.serve(
        SERVICE_NAME,
        app.register,
        [FULL_NAME],
        host=settings.grpc_host,
        port=settings.grpc_port,
        on_start=app.on_start,
        on_stop=app.on_stop,
    )
