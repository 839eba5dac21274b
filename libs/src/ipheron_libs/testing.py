"""pytest plugin shared by every package's tests: a real PostgreSQL and a real Redis
for the whole session (embedded, or the servers named by DATABASE_URL / REDIS_URL),
and fresh per-service schemas and roles."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ipheron_libs import db, embedded


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Superuser URL of the PostgreSQL the tests use (external when DATABASE_URL is set)."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-pg-"))
    pg = embedded.start_postgres(tmp / "pg", delete_on_stop=True)
    try:
        yield pg.admin_url
    finally:
        pg.stop()
        embedded.remove_tree(tmp)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the Redis the tests use (external when REDIS_URL is set)."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-redis-"))
    r = embedded.start_redis(tmp, persist=False)
    try:
        yield r.url
    finally:
        r.stop()
        embedded.remove_tree(tmp)


@pytest.fixture()
def service_db_url(pg_admin_url: str) -> Callable[[str], str]:
    """Factory: a freshly emptied schema + its own role; returns the service's URL."""

    def make(schema: str) -> str:
        return fresh_schema(pg_admin_url, schema)

    return make


def fresh_schema(pg_admin_url: str, schema: str, migrations_dir: Path | str | None = None) -> str:
    """Drop the schema, provision it again with its role, migrate it if a folder is
    given; returns the service's URL. What each service's session fixture does."""
    db.drop_schema(pg_admin_url, schema)
    url = db.provision(pg_admin_url, schema)
    if migrations_dir is not None:
        db.migrate(url, schema, migrations_dir)
    return url
