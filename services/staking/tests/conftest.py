"""Fixtures for the staking tests: one migrated "staking" schema on the real
PostgreSQL from ipheron_libs.testing, emptied between tests, and a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from ipheron_libs import db
from ipheron_libs.testing import fresh_schema
from sqlalchemy import Engine, text
from staking_service.config import SCHEMA
from staking_service.server import MIGRATIONS_DIR

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A clock tests move by hand, so accrual is exact and repeatable."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def staking_url(pg_admin_url: str) -> str:
    """A fresh staking schema and role, migrated to head once per session."""
    url = fresh_schema(pg_admin_url, SCHEMA, MIGRATIONS_DIR)
    return url


@pytest.fixture(scope="session")
def engine(staking_url: str) -> Iterator[Engine]:
    eng = db.make_engine(staking_url, SCHEMA, pool_size=4, max_overflow=4)
    yield eng
    eng.dispose()


@pytest.fixture()
def clean_engine(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE stakes, idempotency_keys, outbox, processed_events"))
    return engine


@pytest.fixture()
def clock() -> Clock:
    return Clock()
