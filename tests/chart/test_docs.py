"""Every value of the chart is documented in its README's values table."""

from __future__ import annotations

import re
from typing import Any

import yaml
from chart_render import CHART


def leaf_paths(node: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of every value that is not itself a non-empty mapping."""
    paths = set()
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths |= leaf_paths(value, f"{path}.")
        else:
            paths.add(path)
    return paths


def documented() -> set[str]:
    """Keys named in the first column of the README's values table (`a.b` / `.c` expands to a.c)."""
    text = (CHART / "README.md").read_text().split("## Values", 1)[1].split("\n## ", 1)[0]
    keys = set()
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        parent = ""
        for part in re.findall(r"`([^`]+)`", cell):
            if part.startswith(".") and parent:
                part = parent + part
            else:
                parent = part.rsplit(".", 1)[0]
            keys.add(part)
    return keys - {"services.<name>.*"}


def is_documented(path: str, keys: set[str]) -> bool:
    parts = path.split(".")
    candidates = {path}
    if parts[0] == "services" and len(parts) > 2:
        candidates.add(".".join(["services", "<name>", *parts[2:]]))
        candidates.add(".".join(["defaults", *parts[2:]]))  # a default overridden for one service
    for c in candidates:
        bits = c.split(".")
        for i in range(1, len(bits) + 1):
            head = ".".join(bits[:i])
            if head in keys or f"{head}.*" in keys:
                return True
    return False


def test_every_value_is_in_the_readme_table() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    keys = documented()
    missing = sorted(p for p in leaf_paths(values) if not is_documented(p, keys))
    assert not missing, missing
