"""Wires the auth service on the one service skeleton: repository, signing keys, the
chain client for EIP-1271 wallets, `AuthService`, the servicer and the outbox relay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
from ipheron.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from ipheron_libs.service import ServiceApp
from ipheron_libs.tokens import JwksSource

from auth_service.clients import ChainClient
from auth_service.config import Settings
from auth_service.keys import KeyRing, load_keyring
from auth_service.repository import SCHEMA, Repository
from auth_service.service import AuthService, Clock, ContractSignatureVerifier, utcnow
from auth_service.servicer import AuthServicer

SERVICE_NAME = "auth"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


def keyring_for(settings: Settings) -> KeyRing:
    pem = settings.jwt_private_keys.get_secret_value() if settings.jwt_private_keys else None
    dev_dir = settings.dev_keys_dir if settings.env in ("development", "test") else None
    return load_keyring(pem, settings.jwt_private_keys_file, dev_dir)


class AuthApp(ServiceApp):
    """The auth service's wiring."""

    name = SERVICE_NAME
    schema = SCHEMA
    migrations = MIGRATIONS_DIR
    grpc_services = (FULL_NAME,)

    def __init__(self, settings: Settings, database_url: str, redis_url: str | None = None, *,
                 keyring: KeyRing | None = None, clock: Clock = utcnow) -> None:
        super().__init__(settings, database_url, redis_url)
        self.chain: ChainClient | None = None
        verifier: ContractSignatureVerifier | None = None
        if settings.chain_addr:
            self.chain = ChainClient(settings.chain_addr, settings.chain_timeout_seconds)
            verifier = self.chain.contract_accepts
            self.on_close(self.chain.close)
        self.repo = Repository(self.engine)
        self.service = AuthService(settings, self.repo, keyring or keyring_for(settings),
                                   contract_verifier=verifier, clock=clock)
        self.servicer = AuthServicer(self.service)
        self.relay_outbox()

    def jwks_source(self) -> JwksSource:
        """The auth service verifies its own tokens (UpdateProfile) with its own key set."""
        async def own_keys() -> dict[str, Any]:
            return self.service.jwks()

        return own_keys

    def register(self, server: grpc.aio.Server) -> None:
        auth_service_pb2_grpc.add_AuthServiceServicer_to_server(self.servicer, server)
