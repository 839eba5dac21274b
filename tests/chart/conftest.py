"""Fixtures of the chart tests (helpers in chart_render.py)."""

from __future__ import annotations

import pytest
from chart_render import Manifest, production_values, render


@pytest.fixture(scope="session")
def default_docs() -> list[Manifest]:
    return render(None)


@pytest.fixture(scope="session")
def production_docs() -> list[Manifest]:
    return render(production_values())
