"""The committed ABI/bytecode must be what the committed Solidity compiles to."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

from chain_service.contracts import BUILD_DIR

COMPILE_JS = Path(__file__).resolve().parents[1] / "scripts" / "compile.js"


def test_committed_artifacts_match_a_fresh_compile(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is required to compile the contracts"
    subprocess.run([node, str(COMPILE_JS), "--out", str(tmp_path)], check=True, capture_output=True, timeout=300)
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    committed = sorted(p.name for p in BUILD_DIR.glob("*.json"))
    assert fresh == committed, "contract set changed: run `make contracts` and commit the build"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, BUILD_DIR, fresh, shallow=False)
    assert not mismatch and not errors, f"stale artifacts {mismatch or errors}: run `make contracts` and commit"
