"""DATABASE_URL switches the system to another PostgreSQL with no other change:
here a second, separately started server stands in for a managed one."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
from helpers import sign_in
from ipheron_devstack.stack import SERVICES, Stack
from ipheron_libs import db, embedded
from sqlalchemy import create_engine, text


def test_database_url_points_services_at_an_external_postgres() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-extdb-"))
    external = embedded.start_postgres(tmp / "external-pg", delete_on_stop=True)
    auth = next(s for s in SERVICES if s.name == "auth")
    stack = Stack.for_tests(tmp / "data", services=(auth,), log_dir=tmp / "logs",
                            extra_env={"DATABASE_URL": external.admin_url})
    try:
        stack.start_infra()
        assert stack.pg is None, "no embedded PostgreSQL may start when DATABASE_URL is set"
        stack.start_service(auth)
        stack.wait_service(auth)
        stack.start_gateway()
        stack.wait_gateway_live()
        with httpx.Client(base_url=stack.gateway_url, timeout=30) as api:
            session = sign_in(api)
        engine = create_engine(db.sqlalchemy_url(external.admin_url))
        with engine.connect() as conn:
            wallets = conn.execute(text("SELECT wallet_address FROM auth.users")).scalars().all()
        engine.dispose()
        assert wallets == [session.account.address]
    finally:
        stack.stop()
        external.stop()
        shutil.rmtree(tmp, ignore_errors=True)
