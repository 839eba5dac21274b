"""Wires the staking service onto the one service skeleton (`ipheron_libs.service`):
repository, the assets and chain clients, the quote signer, use cases and servicer; the
outbox relay; the chain-event consumer (group "staking": the vault is the record of stakes);
and the periodic jobs (maturity sweep, idempotency-key purge, following pending stakes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import grpc
from ipheron.staking.v1 import staking_service_pb2, staking_service_pb2_grpc
from ipheron_libs.service import ServiceApp

from staking_service import domain
from staking_service.clients import AssetsClient, ChainClient
from staking_service.config import SCHEMA, SERVICE_NAME, Settings
from staking_service.quotes import QuoteSigner
from staking_service.repository import StakingRepository
from staking_service.service import StakingService
from staking_service.servicer import StakingServicer

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = staking_service_pb2.DESCRIPTOR.services_by_name["StakingService"].full_name


class StakingApp(ServiceApp):
    """Stakes over gRPC, their outbox relayed, the vault's events consumed, jobs swept; `clock` for tests."""

    name = SERVICE_NAME
    schema = SCHEMA
    migrations = MIGRATIONS_DIR
    grpc_services = (FULL_NAME,)

    def __init__(self, settings: Settings, database_url: str, redis_url: str | None = None, *,
                 clock: Callable[[], datetime] = domain.utcnow) -> None:
        super().__init__(settings, database_url, redis_url)
        assets = AssetsClient(settings.assets_addr, settings.call_timeout) if settings.assets_addr else None
        chain = ChainClient(settings.chain_addr, settings.chain_timeout) if settings.chain_addr else None
        for client in (assets, chain):
            if client is not None:
                self.on_close(client.close)
        self.service = StakingService(StakingRepository(self.engine), clock, assets, chain,
                                      QuoteSigner(settings.effective_quote_key()), settings.quote_ttl_s)
        self.servicer = StakingServicer(self.service, settings.currency)
        if settings.relay_events:
            self.relay_outbox()
        if settings.consume_chain_events and chain is not None:
            # Only the vault's events reach this process: Redis acknowledges the rest of the stream.
            self.consume("staking", self.service.on_chain_event, retry_idle_ms=settings.event_retry_idle_ms,
                         types=self.service.event_types, filter_in_redis=True)
        retention = timedelta(hours=settings.idempotency_retention_hours)
        self.every("maturity-sweep", settings.maturity_interval_seconds, self.service.mature_due)
        self.every("idempotency-purge", settings.maturity_interval_seconds,
                   lambda: self.service.purge_idempotency_keys(retention))
        if chain is not None:
            self.every("follow-pending", settings.pending_poll_interval_s, self.service.follow_pending)

    def register(self, server: grpc.aio.Server) -> None:
        staking_service_pb2_grpc.add_StakingServiceServicer_to_server(self.servicer, server)
