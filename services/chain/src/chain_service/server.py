"""Wires the chain service on the one skeleton (`ipheron_libs.service.ServiceApp`): its
repository, `ChainService` and servicer; connecting to the chain (embedded EVM rebuilt from
its journal, or a JSON-RPC node) and deploying or locating the contracts in `prepare`;
periodic snapshots of the embedded chain; the "evm" health entry; a last snapshot on close."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
from ipheron.chain.v1 import chain_service_pb2, chain_service_pb2_grpc
from ipheron_libs.errors import FailedPrecondition
from ipheron_libs.grpc_server import DependencyCheck
from ipheron_libs.service import ServiceApp

from chain_service.config import ChainSettings
from chain_service.index_repository import IndexRepository
from chain_service.indexer import Indexer
from chain_service.repository import SCHEMA, ChainRepository
from chain_service.service import ChainService
from chain_service.servicer import ChainServicer

log = logging.getLogger("ipheron.chain")
SERVICE_NAME = "chain"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = chain_service_pb2.DESCRIPTOR.services_by_name["ChainService"].full_name


class ChainApp(ServiceApp):
    """The chain service process. The servicer exists before the chain is reached (the server
    registers it first); `prepare` connects before health turns SERVING."""

    name = SERVICE_NAME
    schema = SCHEMA
    migrations = MIGRATIONS_DIR
    grpc_services = (FULL_NAME,)
    needs_redis = True  # the indexer's domain events leave through the outbox relay

    def __init__(self, settings: ChainSettings, database_url: str, redis_url: str | None = None) -> None:
        super().__init__(settings, database_url, redis_url)
        self.repo = ChainRepository(self.engine)
        self.service = ChainService(settings, self.repo)
        self.servicer = ChainServicer(self.service)
        if settings.embedded and settings.journal:
            self.every("snapshot", settings.snapshot_interval_s, self.service.periodic_snapshot,
                       delay=settings.snapshot_interval_s)
        self.indexer = Indexer(settings, IndexRepository(self.engine), self.service)
        self.indexer_enabled = settings.indexer_interval_s > 0
        self.every("indexer", settings.indexer_interval_s, self.indexer.poll_once)
        if settings.reconcile_interval_s > 0 and self.indexer_enabled:
            self.every("reconcile", settings.reconcile_interval_s, self.service.periodic_reconcile,
                       delay=settings.reconcile_interval_s)
        self.relay_outbox()
        self.on_close(self.service.aclose)

    def register(self, server: grpc.aio.Server) -> None:
        chain_service_pb2_grpc.add_ChainServiceServicer_to_server(self.servicer, server)

    async def prepare(self) -> None:
        try:
            await self.service.start()
        except FailedPrecondition as exc:
            # E.g. the node cannot run the contracts (its EVM predates their target): say so plainly.
            log.critical("the chain service refuses to start: %s", exc)
            raise

    def dependency_checks(self) -> dict[str, DependencyCheck]:
        checks = {**super().dependency_checks(), "evm": self.service.chain_ready}
        if self.indexer_enabled:
            checks["indexer"] = self.indexer.healthy
            # Informational: NOT_SERVING while the last reconciliation found differences; the
            # overall ("") entry, which readiness reads, does not depend on it.
            checks["reconcile"] = self.service.reconcile_health
        return checks
