"""Wires the chain service: database (migrated on start), the chain (embedded EVM rebuilt
from its journal, or a JSON-RPC node), contracts deployed or located, and the servicer, on
the shared grpc.aio bootstrap from ipheron_libs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import grpc
from ipheron.chain.v1 import chain_service_pb2, chain_service_pb2_grpc
from ipheron_libs import db, embedded
from ipheron_libs.db import run_db

from chain_service.config import ChainSettings
from chain_service.domain import ChainDomain
from chain_service.repository import SCHEMA, ChainRepository
from chain_service.servicer import ChainServicer

log = logging.getLogger("chain_service")

SERVICE_NAME = "chain"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = chain_service_pb2.DESCRIPTOR.services_by_name["ChainService"].full_name


def database_url(settings: ChainSettings) -> str:
    """DATABASE_URL as given, else the embedded PostgreSQL under DATA_DIR with our own role."""
    return embedded.service_database_url(settings.database_url, settings.data_dir, SCHEMA)


class ChainApp:
    """Everything the process runs besides the gRPC server itself.

    The servicer exists before the chain is ready (the server registers it first); the
    domain is attached in `on_start`, before health turns SERVING.
    """

    def __init__(self, settings: ChainSettings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.engine = db.make_engine(url, SCHEMA, pool_size=settings.db_pool_size,
                                     max_overflow=settings.db_max_overflow)
        self.repo = ChainRepository(self.engine)
        self.domain: ChainDomain | None = None
        self.servicer = ChainServicer(None)  # type: ignore[arg-type]  # the domain is attached in on_start
        self._snapshots: asyncio.Task[None] | None = None

    def register(self, server: grpc.aio.Server) -> None:
        chain_service_pb2_grpc.add_ChainServiceServicer_to_server(self.servicer, server)

    async def on_start(self) -> None:
        await run_db(db.migrate, self.url, SCHEMA, self.settings.migrations_dir or MIGRATIONS_DIR)
        self.domain = await ChainDomain.open(self.settings, self.repo)
        self.servicer.domain = self.domain
        if self.domain.network.embedded and self.settings.journal:
            self._snapshots = asyncio.get_running_loop().create_task(self._snapshot_forever(self.domain))

    async def _snapshot_forever(self, domain: ChainDomain) -> None:
        while True:
            await asyncio.sleep(self.settings.snapshot_interval_s)
            try:
                await domain.snapshot(self.settings.snapshot_every)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep trying; the journal alone still rebuilds the chain
                log.warning("chain snapshot failed; retrying later", exc_info=True)

    async def chain_ready(self) -> bool:
        """Health entry "evm": the chain node answers (embedded: the in-process EVM)."""
        if self.domain is None:
            return False
        network = self.domain.network
        await network.run(lambda: network.w3.eth.block_number)
        return True

    async def on_stop(self) -> None:
        if self._snapshots is not None:
            self._snapshots.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._snapshots
        if self.domain is not None:
            await self.domain.aclose()
        self.engine.dispose()


async def serve(settings: ChainSettings) -> None:
    """Run until SIGTERM/SIGINT."""
    from ipheron_libs import grpc_server

    url = await run_db(database_url, settings)
    app = ChainApp(settings, url)
    await grpc_server.serve(
        SERVICE_NAME, app.register, [FULL_NAME], host=settings.grpc_host, port=settings.grpc_port,
        on_start=app.on_start, on_stop=app.on_stop,
        dependency_checks={"postgresql": grpc_server.engine_check(app.engine), "evm": app.chain_ready},
    )
