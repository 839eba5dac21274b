"""DATABASE_URL switches the system to another PostgreSQL with no other change. The
stand-in for a managed server is the test server IPHERON_TEST_DATABASE_URL names (a fresh
database on it), or else a second, separately started PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import sign_in
from ipheron_devstack.stack import SERVICES, Stack
from ipheron_libs import db, embedded
from ipheron_libs.testing import TEST_DATABASE_URL, drop_database, fresh_database
from sqlalchemy import create_engine, text

EXTERNAL_DATABASE = "ipheron_e2e_external"


@pytest.fixture()
def external_postgres() -> Iterator[str]:
    """Superuser URL of a PostgreSQL the system does not start itself."""
    test_db = os.environ.get(TEST_DATABASE_URL)
    if test_db:
        yield fresh_database(test_db, EXTERNAL_DATABASE)
        drop_database(test_db, EXTERNAL_DATABASE)
        return
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-extdb-"))
    external = embedded.start_postgres(tmp / "external-pg", delete_on_stop=True)
    try:
        yield external.admin_url
    finally:
        external.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_database_url_points_services_at_an_external_postgres(external_postgres: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-extdb-"))
    auth = next(s for s in SERVICES if s.name == "auth")
    stack = Stack.for_tests(tmp / "data", services=(auth,), log_dir=tmp / "logs",
                            extra_env={"DATABASE_URL": external_postgres})
    try:
        stack.start_infra()
        assert stack.pg is None, "no embedded PostgreSQL may start when DATABASE_URL is set"
        stack.start_service(auth)
        stack.wait_service(auth)
        stack.start_gateway()
        stack.wait_gateway_live()
        with httpx.Client(base_url=stack.gateway_url, timeout=30) as api:
            session = sign_in(api)
        engine = create_engine(db.sqlalchemy_url(external_postgres))
        with engine.connect() as conn:
            wallets = conn.execute(text("SELECT wallet_address FROM auth.users")).scalars().all()
        engine.dispose()
        assert wallets == [session.account.address]
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
