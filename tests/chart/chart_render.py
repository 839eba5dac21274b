"""Chart tests: Helm's own engine (helm-python-sdk, offline) renders infra/helm/ipheron.

`render(values)` returns the parsed manifests of one render (hooks included, NOTES.txt
left out) and `render_text(values)` the same as one YAML stream, the form the golden
files under golden/ keep. Refresh them after an intended change with
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/chart -q`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "infra" / "helm" / "ipheron"
GOLDEN = Path(__file__).resolve().parent / "golden"
RELEASE = "ipheron"
NAMESPACE = "ipheron"

Manifest = dict[str, Any]


def production_values() -> dict[str, Any]:
    """The example production values file (a fresh copy each call)."""
    return copy.deepcopy(yaml.safe_load((CHART / "values-production.yaml").read_text()))


def render_text(values: dict[str, Any] | None = None) -> str:
    """The rendered manifests as one YAML stream, in template order (what golden files hold)."""
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    parts = []
    for path in sorted(out):
        if path.endswith("NOTES.txt"):
            continue
        for doc in out[path].split("\n---\n"):
            doc = doc.strip().removeprefix("---").strip()
            if doc:
                parts.append(f"# Source: {path}\n{doc}\n")
    return "---\n".join(parts)


def render(values: dict[str, Any] | None = None) -> list[Manifest]:
    """The rendered manifests, parsed."""
    return [d for d in yaml.safe_load_all(render_text(values)) if d]


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]
