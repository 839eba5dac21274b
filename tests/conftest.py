"""Cross-service tests: everything under tests/ is end to end (real processes).

One whole system for the end-to-end and browser tests (`stack`, `api`): real processes for every
service and the gateway, traces to a file. PostgreSQL and Redis are embedded ones started for the
run, or the test servers IPHERON_TEST_DATABASE_URL / IPHERON_TEST_REDIS_URL name (then the system
gets a fresh database `ipheron_e2e` there); never the shell's DATABASE_URL. Defined here, once, so
tests/e2e and tests/browser share one instance per run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ipheron_devstack.stack import Stack
from ipheron_libs.testing import TEST_DATABASE_URL, TEST_REDIS_URL, drop_database, fresh_database

# The first test that uses the session's whole system also waits for it to start (six
# services, the gateway, PostgreSQL, Redis: about a minute on a busy 2-core machine), so
# those tests get a longer limit than the default per-test timeout (pytest.ini / run-tests.sh).
E2E_STACK_TIMEOUT = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            if "stack" in getattr(item, "fixturenames", ()) and item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(E2E_STACK_TIMEOUT))


E2E_DATABASE = "ipheron_e2e"
E2E_VAULT_POOL_WEI = 10 * 10**18


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-e2e-"))
    trace_file = tmp / "traces.jsonl"
    env = {"IPHERON_TRACE_FILE": str(trace_file), "IPHERON_ENV": "test", "LOG_LEVEL": "INFO",
           # Many sign-ins come from 127.0.0.1 here; the limiter itself is proven in gateway/tests.
           "GATEWAY_RATELIMIT_AUTH": "10000/minute",
           # The contract fuzzer (test_fuzz_contract.py) sends thousands of requests from one
           # user and one IP; its run is about the contract, not the limits.
           "GATEWAY_RATELIMIT_DEFAULT": "100000/minute", "GATEWAY_RATELIMIT_ANALYTICS": "100000/minute",
           "GATEWAY_RATELIMIT_ASSET_WRITES": "100000/minute", "GATEWAY_RATELIMIT_TRANSACTIONS": "100000/minute",
           # The staking vault's reward pool starts at 10 ETH (not the development 1,000), so
           # test_staking.py exhausts it with a stake the faucet can fund.
           "CHAIN_VAULT_INITIAL_POOL_WEI": str(E2E_VAULT_POOL_WEI)}
    test_db = os.environ.get(TEST_DATABASE_URL)
    if test_db:
        env["DATABASE_URL"] = fresh_database(test_db, E2E_DATABASE)
    if os.environ.get(TEST_REDIS_URL):
        env["REDIS_URL"] = os.environ[TEST_REDIS_URL]
    s = Stack.for_tests(tmp / "data", log_dir=tmp / "logs", extra_env=env)
    try:
        s.start()
        s.trace_file = trace_file  # type: ignore[attr-defined]
        yield s
    finally:
        s.stop()
        if test_db:
            drop_database(test_db, E2E_DATABASE)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture()
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as c:
        yield c
