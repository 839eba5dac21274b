"""Wires the auth service: database (migrated on start), signing keys, the chain
client for EIP-1271 wallets, the servicer and the outbox relay, on the shared
grpc.aio bootstrap from ipheron_libs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import grpc
from ipheron.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from ipheron_libs import db, embedded, events, grpc_client
from ipheron_libs.db import run_db

from auth_service import domain
from auth_service.config import Settings
from auth_service.domain import Authenticator
from auth_service.keys import KeyRing, load_keyring
from auth_service.repository import SCHEMA, Repository
from auth_service.servicer import AuthServicer

log = logging.getLogger("auth_service")

SERVICE_NAME = "auth"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


def database_url(settings: Settings) -> str:
    """DATABASE_URL as given, else the embedded PostgreSQL under DATA_DIR with our own role."""
    return embedded.service_database_url(settings.database_url, settings.data_dir, SCHEMA)


def keyring_for(settings: Settings) -> KeyRing:
    pem = settings.jwt_private_keys.get_secret_value() if settings.jwt_private_keys else None
    dev_dir = settings.dev_keys_dir if settings.env in ("development", "test") else None
    return load_keyring(pem, settings.jwt_private_keys_file, dev_dir)


class AuthApp:
    """Everything the process runs besides the gRPC server itself."""

    def __init__(self, settings: Settings, url: str, *, keyring: KeyRing | None = None,
                 clock: Callable[[], datetime] = domain.utcnow) -> None:
        self.settings = settings
        self.url = url
        self.engine = db.make_engine(url, SCHEMA, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
        self.chain_channel: grpc.aio.Channel | None = None
        verifier = None
        if settings.chain_addr:
            from auth_service.chain_client import contract_verifier

            self.chain_channel = grpc_client.channel(settings.chain_addr)
            verifier = contract_verifier(self.chain_channel, settings.chain_timeout_seconds)
        self.auth = Authenticator(settings, Repository(self.engine), keyring or keyring_for(settings),
                                  contract_verifier=verifier, clock=clock)
        self.servicer = AuthServicer(self.auth)
        self.relay: events.OutboxRelay | None = None

    def register(self, server: grpc.aio.Server) -> None:
        auth_service_pb2_grpc.add_AuthServiceServicer_to_server(self.servicer, server)

    async def on_start(self) -> None:
        await run_db(db.migrate, self.url, SCHEMA, self.settings.migrations_dir or MIGRATIONS_DIR)
        if self.settings.redis_url:
            self.relay = events.OutboxRelay(self.engine, SCHEMA, self.settings.redis_url)
            self.relay.start()

    async def on_stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()
        if self.chain_channel is not None:
            await self.chain_channel.close()
        self.engine.dispose()


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT."""
    from ipheron_libs import grpc_server

    url = await run_db(database_url, settings)
    app = AuthApp(settings, url)
    await grpc_server.serve(SERVICE_NAME, app.register, [FULL_NAME], host=settings.grpc_host, port=settings.grpc_port,
                            on_start=app.on_start, on_stop=app.on_stop)
