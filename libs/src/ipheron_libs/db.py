"""PostgreSQL access shared by every service: pooled engines, one schema and role
per service, Alembic migrations on start-up, and a bounded thread pool so async
servicers can call sync SQLAlchemy Core without blocking the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import re
import weakref
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

P = ParamSpec("P")
T = TypeVar("T")

_SCHEMA_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_executor: ThreadPoolExecutor | None = None
# Engines this process made, so the gRPC bootstrap can publish a "postgresql"
# health entry without each service wiring it.
ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
_executor_size = 8  # matches the default pool size: more threads only contend for the GIL


def sqlalchemy_url(url: str) -> URL:
    """Normalise a libpq-style URL to SQLAlchemy's psycopg 3 dialect."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def check_schema_name(schema: str) -> str:
    """Schema and role names are interpolated into DDL, so only a safe shape passes."""
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def role_for(schema: str) -> str:
    """The PostgreSQL role that owns a service's schema."""
    return f"ipheron_{check_schema_name(schema)}"


def make_engine(url: str, schema: str, *, pool_size: int = 8, max_overflow: int = 8) -> Engine:
    """A pooled engine whose connections see only `schema` (then `public` for extensions)."""
    check_schema_name(schema)
    engine = create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping: it costs a round trip on every checkout (a fifth of a hot read's
        # throughput here). A connection found dead is invalidated with its pool and the
        # next checkout reconnects; pool_recycle retires idle ones before servers drop them.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"options": f"-c search_path={schema},public"},
    )
    _count_queries(engine)
    from ipheron_libs import telemetry

    if telemetry.exporting():  # statement spans only when spans go somewhere
        telemetry.instrument_engine(engine, schema)
    ENGINES.add(engine)
    return engine


def autocommit(engine: Engine) -> Engine:
    """The same pool, for single-statement reads: no BEGIN/ROLLBACK round trips.

    A hot primary-key read in a transaction costs two extra round trips (about a
    fifth of the throughput here, see bench/); reads that need one consistent
    snapshot across statements keep using `engine.begin()`.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _count_queries(engine: Engine) -> None:
    from ipheron_libs.metrics import DATABASE_QUERIES

    children: dict[str, object] = {}

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        op = statement.lstrip()[:6].upper()
        child = children.get(op)
        if child is None:
            child = children[op] = DATABASE_QUERIES.labels(operation=op)
        child.inc()  # type: ignore[attr-defined]


def provision(admin_url: str, schema: str, password: str | None = None) -> str:
    """Create the service's role and schema if missing; return the URL the service uses.

    Needs a URL allowed to create roles (the embedded server's superuser, or an
    operator's admin URL). The service then connects as its own role, which owns
    only its own schema and has no rights on any other service's.
    """
    role = role_for(schema)
    engine = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        with engine.connect() as conn:
            # Two processes may provision at once (replicas, parallel tests).
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key("provision")})
            try:
                exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
                if not exists:
                    conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
                if password:
                    # Utility statements take no bind parameters: a string literal, quotes doubled
                    # (standard_conforming_strings is on, so backslashes are literal).
                    if "\x00" in password:
                        raise ValueError("a role password cannot contain NUL")
                    literal = "'" + password.replace("'", "''") + "'"
                    conn.exec_driver_sql(f'ALTER ROLE "{role}" PASSWORD {literal}')
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{role}"'))
                conn.execute(text(f'GRANT ALL ON SCHEMA "{schema}" TO "{role}"'))
                conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
                db = conn.execute(text("SELECT current_database()")).scalar_one()
                conn.execute(text(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}"'))
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key("provision")})
    finally:
        engine.dispose()
    parsed = make_url(admin_url).set(username=role, password=password)
    return parsed.render_as_string(hide_password=False)


def drop_schema(admin_url: str, schema: str) -> None:
    """Remove a schema and everything in it (tests start each service fresh)."""
    engine = create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{check_schema_name(schema)}" CASCADE'))
    finally:
        engine.dispose()


def _lock_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def migrate(url: str, schema: str, migrations_dir: Path | str) -> None:
    """Upgrade the schema to Alembic head, one migrator at a time across replicas.

    The version table lives inside the service's schema, so services never touch
    each other's migration state.
    """
    from alembic import command
    from alembic.config import Config

    check_schema_name(schema)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    engine = create_engine(sqlalchemy_url(url), connect_args={"options": f"-c search_path={schema},public"})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(f"migrate:{schema}")})
            conn.commit()
            try:
                cfg.attributes["connection"] = conn
                cfg.attributes["schema"] = schema
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(f"migrate:{schema}")})
                conn.commit()
    finally:
        engine.dispose()


def configure_db_threads(size: int) -> None:
    """Size the pool `run_db` uses; match it to the engine's pool size."""
    global _executor, _executor_size
    _executor_size = size
    if _executor is not None:
        _executor.shutdown(wait=False)
        _executor = None


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run sync database code in the bounded pool, keeping the caller's context (trace)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=_executor_size, thread_name_prefix="db")
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor, call)
