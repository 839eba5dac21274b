"""Cross-service tests: everything under tests/ is end to end (real processes)."""

from __future__ import annotations

import pytest

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
