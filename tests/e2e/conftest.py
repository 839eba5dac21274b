"""One whole system for the end-to-end tests: real processes for every service and
the gateway, embedded PostgreSQL/Redis (or DATABASE_URL/REDIS_URL), traces to a file."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ipheron_devstack.stack import Stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    tmp = Path(tempfile.mkdtemp(prefix="ipheron-e2e-"))
    trace_file = tmp / "traces.jsonl"
    s = Stack.for_tests(tmp / "data", log_dir=tmp / "logs",
                        extra_env={"IPHERON_TRACE_FILE": str(trace_file), "IPHERON_ENV": "test",
                                   "LOG_LEVEL": "INFO",
                                   # Many sign-ins come from 127.0.0.1 here; the limiter
                                   # itself is proven in gateway/tests.
                                   "GATEWAY_RATELIMIT_AUTH": "10000/minute"})
    try:
        s.start()
        s.trace_file = trace_file  # type: ignore[attr-defined]
        yield s
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture()
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as c:
        yield c
