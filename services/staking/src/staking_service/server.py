"""Wires the staking service onto the one service skeleton (`ipheron_libs.service`):
repository, assets client, use cases and servicer, the outbox relay, and two
periodic jobs (the maturity sweep and the idempotency-key purge)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import grpc
from ipheron.staking.v1 import staking_service_pb2, staking_service_pb2_grpc
from ipheron_libs.service import ServiceApp

from staking_service import domain
from staking_service.clients import AssetsClient
from staking_service.config import SCHEMA, SERVICE_NAME, Settings
from staking_service.repository import StakingRepository
from staking_service.service import StakingService
from staking_service.servicer import StakingServicer

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = staking_service_pb2.DESCRIPTOR.services_by_name["StakingService"].full_name


class StakingApp(ServiceApp):
    """Stakes over gRPC, their outbox relayed, maturity and key expiry swept; `clock` for tests."""

    name = SERVICE_NAME
    schema = SCHEMA
    migrations = MIGRATIONS_DIR
    grpc_services = (FULL_NAME,)

    def __init__(self, settings: Settings, database_url: str, redis_url: str | None = None, *,
                 clock: Callable[[], datetime] = domain.utcnow) -> None:
        super().__init__(settings, database_url, redis_url)
        assets = AssetsClient(settings.assets_addr, settings.call_timeout) if settings.assets_addr else None
        if assets is not None:
            self.on_close(assets.close)
        self.service = StakingService(StakingRepository(self.engine), clock, assets)
        self.servicer = StakingServicer(self.service, settings.currency)
        if settings.relay_events:
            self.relay_outbox()
        retention = timedelta(hours=settings.idempotency_retention_hours)
        self.every("maturity-sweep", settings.maturity_interval_seconds, self.service.mature_due)
        self.every("idempotency-purge", settings.maturity_interval_seconds,
                   lambda: self.service.purge_idempotency_keys(retention))

    def register(self, server: grpc.aio.Server) -> None:
        staking_service_pb2_grpc.add_StakingServiceServicer_to_server(self.servicer, server)
