"""pytest plugin shared by every package's tests (loaded through the `pytest11` entry point).

- A real PostgreSQL and a real Redis for the whole session: the embedded ones, or the servers
  named by the TEST-ONLY settings `IPHERON_TEST_DATABASE_URL` / `IPHERON_TEST_REDIS_URL`.
  The plain `DATABASE_URL` / `REDIS_URL` a shell may have set (pointing at a real database)
  are taken out of the test process's environment at start-up, so nothing in a test run
  connects to them by accident, and dropping a schema there is refused loudly.
- Fresh per-service schemas and roles (`fresh_schema`, the `service_db_url` fixture).
- `wait_until` / `wait_until_async`: wait for a condition instead of sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from ipheron_libs import db, embedded

T = TypeVar("T")

TEST_DATABASE_URL = "IPHERON_TEST_DATABASE_URL"
TEST_REDIS_URL = "IPHERON_TEST_REDIS_URL"
_PLAIN_NAMES = ("DATABASE_URL", "REDIS_URL")

# What the shell had set before the run (kept only to refuse dropping schemas there).
_shell_urls: dict[str, str] = {}
# PostgreSQL servers this run may drop schemas on: the embedded ones it started and the
# server named by IPHERON_TEST_DATABASE_URL.
_test_servers: set[tuple[str, int]] = set()


class UnsafeTestDatabaseError(RuntimeError):
    """A test tried to drop a schema on a database that is not a test database."""


# -- waiting for conditions ----------------------------------------------------------------


def _describe(message: str | Callable[[], str] | None, last: object) -> str:
    text = message() if callable(message) else message
    return f"{text or 'condition not met'} (last value: {last!r})"


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    *,
    interval: float = 0.05,
    message: str | Callable[[], str] | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `predicate` until it returns something truthy and return that value.

    Raises `TimeoutError` (naming `message` and the last value) after `timeout` seconds;
    the predicate is always tried once more at the deadline. Exceptions of the types in
    `ignore` (e.g. `httpx.HTTPError` while a server starts) count as "not yet".
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        expired = time.monotonic() >= deadline
        try:
            value = predicate()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if expired:
            raise TimeoutError(_describe(message, last) + f" after {timeout:g}s")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


async def wait_until_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    *,
    interval: float = 0.05,
    message: str | Callable[[], str] | None = None,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """`wait_until` for async tests: the predicate may be sync or return an awaitable; the
    event loop keeps running between tries."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        expired = time.monotonic() >= deadline
        try:
            result = predicate()
            value: T = await result if inspect.isawaitable(result) else result
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if expired:
            raise TimeoutError(_describe(message, last) + f" after {timeout:g}s")
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))


# -- which databases a test may touch -------------------------------------------------------


def _target(url: str) -> tuple[tuple[str, int], str]:
    """((host or socket dir, port), database) of a PostgreSQL URL."""
    from sqlalchemy.engine import make_url

    u = make_url(db.sqlalchemy_url(url))
    host = u.host or str(u.query.get("host") or "") or "/var/run/postgresql"
    if host in ("localhost", "127.0.0.1", "::1"):
        host = "loopback"
    return (host, int(u.port or 5432)), u.database or ""


def assert_test_database(admin_url: str) -> None:
    """Refuse (loudly) unless `admin_url` is on a server this test run owns: an embedded
    PostgreSQL it started, or the one named by IPHERON_TEST_DATABASE_URL — and never the
    database the shell's DATABASE_URL names (unless that is the test database itself)."""
    server, database = _target(admin_url)
    shell = _shell_urls.get("DATABASE_URL")
    test_url = os.environ.get(TEST_DATABASE_URL)
    if shell and _target(shell) == (server, database) and not (test_url and _target(test_url) == (server, database)):
        raise UnsafeTestDatabaseError(
            f"refusing to drop a schema in the database DATABASE_URL names ({database!r}): tests only "
            f"touch the embedded PostgreSQL or the one {TEST_DATABASE_URL} names")
    if server not in _test_servers and not (test_url and _target(test_url)[0] == server):
        raise UnsafeTestDatabaseError(
            f"refusing to drop a schema on {server[0]}:{server[1]}: not a test database (set "
            f"{TEST_DATABASE_URL} to use an external one, or let the fixtures start the embedded one)")


def _guarded_drop_schema(admin_url: str, schema: str) -> None:
    assert_test_database(admin_url)
    _unguarded_drop_schema(admin_url, schema)


_unguarded_drop_schema = db.drop_schema


def _hide_shell_urls() -> None:
    for name in list(os.environ):
        if name.upper() in _PLAIN_NAMES:
            _shell_urls[name.upper()] = os.environ.pop(name)
    db.drop_schema = _guarded_drop_schema


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Before any conftest.py is imported: take the shell's plain DATABASE_URL / REDIS_URL
    out of this run's environment and guard `db.drop_schema` (tests call it directly as
    well as through `fresh_schema`)."""
    _hide_shell_urls()


def pytest_configure(config: pytest.Config) -> None:
    _hide_shell_urls()  # also when the plugin was loaded late (-p ipheron_libs.testing)


def pytest_report_header(config: pytest.Config) -> str | None:
    if _shell_urls:
        return (f"ipheron: ignoring {', '.join(sorted(_shell_urls))} from the shell (tests use the embedded "
                f"servers or {TEST_DATABASE_URL} / {TEST_REDIS_URL})")
    return None


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Superuser URL of the PostgreSQL the tests use: IPHERON_TEST_DATABASE_URL when set,
    otherwise an embedded server for this session. Never the shell's DATABASE_URL."""
    external = os.environ.get(TEST_DATABASE_URL)
    if external:
        _test_servers.add(_target(external)[0])
        yield external
        return
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-pg-"))
    pg = embedded.start_postgres(tmp / "pg", delete_on_stop=True)
    server = _target(pg.admin_url)[0]
    _test_servers.add(server)
    try:
        yield pg.admin_url
    finally:
        _test_servers.discard(server)
        pg.stop()
        embedded.remove_tree(tmp)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the Redis the tests use: IPHERON_TEST_REDIS_URL when set, otherwise an
    embedded server for this session. Never the shell's REDIS_URL."""
    external = os.environ.get(TEST_REDIS_URL)
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


def fresh_database(pg_admin_url: str, name: str) -> str:
    """A new, empty database `name` on the test server (dropped first if it exists);
    returns its superuser URL. Refuses any server that is not a test server."""
    from sqlalchemy import create_engine, text

    assert_test_database(pg_admin_url)
    db.check_schema_name(name)
    engine = create_engine(db.sqlalchemy_url(pg_admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    from sqlalchemy.engine import make_url

    return make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(pg_admin_url: str, name: str) -> None:
    """Remove a database `fresh_database` made (same refusal rules)."""
    from sqlalchemy import create_engine, text

    assert_test_database(pg_admin_url)
    db.check_schema_name(name)
    engine = create_engine(db.sqlalchemy_url(pg_admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def fresh_schema(pg_admin_url: str, schema: str, migrations_dir: Path | str | None = None) -> str:
    """Drop the schema, provision it again with its role, migrate it if a folder is
    given; returns the service's URL. What each service's session fixture does.
    Refuses any database that is not a test database (see `assert_test_database`)."""
    assert_test_database(pg_admin_url)
    db.drop_schema(pg_admin_url, schema)
    url = db.provision(pg_admin_url, schema)
    if migrations_dir is not None:
        db.migrate(url, schema, migrations_dir)
    return url
