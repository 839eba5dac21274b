"""Fixtures for the auth tests: a migrated "auth" schema on the real PostgreSQL from
ipheron_libs.testing (emptied between tests), real Ed25519 keys, and the AuthApp
started in-process through the service skeleton on port 0 behind a real gRPC channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from auth_service.config import Settings
from auth_service.keys import KeyRing, SigningKey
from auth_service.repository import SCHEMA
from auth_service.server import MIGRATIONS_DIR, AuthApp
from ipheron.auth.v1 import auth_service_pb2_grpc
from ipheron_libs import db
from ipheron_libs.testing import fresh_schema
from sqlalchemy import Engine, text

DOMAIN = "app.ipheron.test"
URI = "https://app.ipheron.test"
CHAIN_ID = 31337


@pytest.fixture(scope="session")
def auth_url(pg_admin_url: str) -> str:
    """A fresh auth schema and role, migrated to head once per session."""
    url = fresh_schema(pg_admin_url, SCHEMA, MIGRATIONS_DIR)
    return url


@pytest.fixture(scope="session")
def engine(auth_url: str) -> Iterator[Engine]:
    eng = db.make_engine(auth_url, SCHEMA, pool_size=4, max_overflow=4)
    yield eng
    eng.dispose()


@pytest.fixture()
def clean_engine(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE users, siwe_nonces, refresh_tokens, user_operations, outbox CASCADE"))
    return engine


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing([SigningKey.generate()])


def make_settings(tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(siwe_domain=DOMAIN, siwe_uri=URI, siwe_chain_id=CHAIN_ID, env="test",
                                     data_dir=tmp, redis_url=None, database_url=None, chain_addr=None)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture()
async def auth_app(clean_engine: Engine, auth_url: str, keyring: KeyRing, tmp_path: Path) -> AsyncIterator[AuthApp]:
    """The auth service started through the service skeleton on port 0 (migrated, serving)."""
    app = AuthApp(make_settings(tmp_path), auth_url, keyring=keyring)
    await app.start(host="127.0.0.1", port=0)
    try:
        yield app
    finally:
        await app.stop(grace=0)


@pytest.fixture()
async def stub(auth_app: AuthApp) -> AsyncIterator[auth_service_pb2_grpc.AuthServiceStub]:
    """The AuthService with the production interceptors, over a real channel."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{auth_app.port}")
    try:
        yield auth_service_pb2_grpc.AuthServiceStub(channel)
    finally:
        await channel.close()
