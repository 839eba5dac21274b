"""Fixtures for the chain tests: a migrated "chain" schema on the real PostgreSQL from
ipheron_libs.testing, one embedded EVM shared by the session (contracts deployed once,
≈35 tx/s is the budget), and helpers to act as users signing their own transactions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from chain_service.config import ChainSettings
from chain_service.repository import SCHEMA, ChainRepository
from chain_service.server import MIGRATIONS_DIR
from chain_service.service import ChainService
from eth_account import Account
from eth_account.signers.local import LocalAccount
from ipheron_libs import db
from ipheron_libs.testing import fresh_database

# eth-tester funds the accounts with private keys 1..10; key 1 is the platform signer.
USER_KEYS = ["0x" + f"{i:064x}" for i in range(2, 11)]


def chain_database(admin_url: str, name: str) -> str:
    """A fresh database with the chain schema and role, migrated to head."""
    url = db.provision(fresh_database(admin_url, name), SCHEMA)
    db.migrate(url, SCHEMA, MIGRATIONS_DIR)
    return url


async def open_service(url: str, **overrides: Any) -> ChainService:
    """A connected `ChainService` on its own engine (no gRPC server)."""
    settings = ChainSettings(database_url=url, **overrides)
    engine = db.make_engine(url, SCHEMA, pool_size=4, max_overflow=8)
    return await ChainService.open(settings, ChainRepository(engine))


def close_service(service: ChainService) -> None:
    service.close()
    service.repo.engine.dispose()


@pytest.fixture(scope="session")
def chain_url(pg_admin_url: str) -> str:
    return chain_database(pg_admin_url, "ipheron_chain_test")


@pytest.fixture(scope="session")
async def chain(chain_url: str) -> AsyncIterator[ChainService]:
    service = await open_service(chain_url)
    yield service
    close_service(service)


@pytest.fixture(scope="session")
def users() -> list[LocalAccount]:
    return [Account.from_key(k) for k in USER_KEYS]


@pytest.fixture()
def new_asset() -> Callable[[], str]:
    return lambda: str(uuid.uuid4())
