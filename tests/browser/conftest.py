"""The browser tests run against the end-to-end suite's system: its `stack` and `api` fixtures,
loaded from tests/e2e/conftest.py (one definition of how the system starts, not a copy).

pytest keys a fixture by the directory that defines it, so within one `pytest tests` run
tests/browser gets its own instance of that stack (started when the first browser test
needs it) rather than sharing tests/e2e's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_E2E_CONFTEST = Path(__file__).parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("ipheron_e2e_conftest", _E2E_CONFTEST)
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

stack = _e2e.stack
api = _e2e.api
