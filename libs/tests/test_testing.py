"""The shared test plugin: fixtures never touch the database a shell's DATABASE_URL names
(only the embedded server or IPHERON_TEST_DATABASE_URL), and `wait_until` waits on conditions."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ipheron_libs import db, embedded
from ipheron_libs.testing import wait_until, wait_until_async
from sqlalchemy import create_engine, text

INNER = '''
import os
import pytest
from ipheron_libs import db
from ipheron_libs.testing import UnsafeTestDatabaseError, _target, fresh_database, fresh_schema

EXTERNAL = os.environ["SENTINEL_SERVER_URL"]


def test_plain_database_url_is_hidden_from_the_run():
    assert "DATABASE_URL" not in os.environ and "REDIS_URL" not in os.environ
    import conftest  # read the environment when pytest imported it, before any test

    assert conftest.SEEN == (None, None)


def test_fixture_schemas_live_elsewhere(pg_admin_url, service_db_url):
    assert _target(pg_admin_url)[0] != _target(EXTERNAL)[0]
    service_db_url("auth")
    fresh_schema(pg_admin_url, "auth")


def test_dropping_on_the_shell_database_is_refused():
    with pytest.raises(UnsafeTestDatabaseError, match="DATABASE_URL"):
        fresh_schema(EXTERNAL, "auth")
    with pytest.raises(UnsafeTestDatabaseError, match="DATABASE_URL"):
        db.drop_schema(EXTERNAL, "auth")
    other_db_same_server = EXTERNAL.replace("/postgres?", "/template1?")
    assert other_db_same_server != EXTERNAL
    with pytest.raises(UnsafeTestDatabaseError, match="not a test database"):
        fresh_database(other_db_same_server, "postgres")
'''

INNER_TEST_URL = '''
import os
from ipheron_libs.testing import fresh_schema


def test_test_only_setting_names_the_database(pg_admin_url):
    assert pg_admin_url == os.environ["IPHERON_TEST_DATABASE_URL"]
    fresh_schema(pg_admin_url, "scratch")
'''


@pytest.fixture(scope="module")
def sentinel_server() -> Iterator[str]:
    """A separately started PostgreSQL standing in for someone's real database: its "auth"
    schema (the name the fixtures drop) holds a sentinel row."""
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-sentinel-"))
    pg = embedded.start_postgres(tmp / "pg", delete_on_stop=True)
    engine = create_engine(db.sqlalchemy_url(pg.admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE SCHEMA auth"))
        conn.execute(text("CREATE TABLE auth.keep (v text)"))
        conn.execute(text("INSERT INTO auth.keep VALUES ('sentinel')"))
    engine.dispose()
    try:
        yield pg.admin_url
    finally:
        pg.stop()
        embedded.remove_tree(tmp)


def sentinel_rows(url: str) -> list[str]:
    engine = create_engine(db.sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT v FROM auth.keep")).scalars())
    finally:
        engine.dispose()


def run_inner(tmp_path: Path, source: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    (tmp_path / "conftest.py").write_text(
        "import os\nSEEN = (os.environ.get('DATABASE_URL'), os.environ.get('REDIS_URL'))\n")
    base = {k: v for k, v in os.environ.items()
            if k.upper() not in ("DATABASE_URL", "REDIS_URL", "IPHERON_TEST_DATABASE_URL", "IPHERON_TEST_REDIS_URL")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env={**base, **env}, capture_output=True, text=True, timeout=300)


def test_fixtures_ignore_a_shell_database_url_and_leave_it_untouched(sentinel_server: str, tmp_path: Path) -> None:
    proc = run_inner(tmp_path, INNER, {"DATABASE_URL": sentinel_server, "REDIS_URL": "redis://127.0.0.1:1/0",
                                       "SENTINEL_SERVER_URL": sentinel_server})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout, proc.stdout
    assert "ignoring DATABASE_URL, REDIS_URL from the shell" in proc.stdout
    assert sentinel_rows(sentinel_server) == ["sentinel"]


def test_the_test_only_setting_points_fixtures_at_an_external_database(sentinel_server: str, tmp_path: Path) -> None:
    proc = run_inner(tmp_path, INNER_TEST_URL, {"IPHERON_TEST_DATABASE_URL": sentinel_server})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout, proc.stdout
    engine = create_engine(db.sqlalchemy_url(sentinel_server))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = 'scratch'")).first()
    engine.dispose()


def test_wait_until_returns_the_first_truthy_value() -> None:
    start = time.monotonic()
    assert wait_until(lambda: time.monotonic() - start > 0.1 and "ready", timeout=5, interval=0.01) == "ready"


def test_wait_until_names_the_condition_and_last_value_when_it_times_out() -> None:
    pending = [1, 2, 3]
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"queue drained \(last value: \[\]\) after 0.2s"):
        wait_until(lambda: [p for p in pending if p > 3], timeout=0.2, message="queue drained")
    # It waited its whole timeout (no upper bound: speed is not a test's business on 2 busy cores).
    assert time.monotonic() - start >= 0.2


def test_wait_until_treats_ignored_exceptions_as_not_yet() -> None:
    calls = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("not up yet")
        return True

    assert wait_until(flaky, timeout=5, interval=0.01, ignore=(ConnectionError,)) is True
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, timeout=1)


async def test_wait_until_async_awaits_coroutine_predicates() -> None:
    state = {"n": 0}

    async def grows() -> int:
        state["n"] += 1
        return state["n"] if state["n"] >= 3 else 0

    assert await wait_until_async(grows, timeout=5, interval=0.01) == 3
    with pytest.raises(TimeoutError, match="never"):
        await wait_until_async(lambda: False, timeout=0.1, message=lambda: "never")
