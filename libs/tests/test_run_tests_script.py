"""scripts/run-tests.sh (what `make test` and CI run): a suite that collects no tests fails,
every test has a time limit, a failed check counts, and the last line is CI's total."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run-tests.sh"


def make_suites(root: Path) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, body in {
        "passing": "def test_ok():\n    pass\n",
        "empty": "def helper():\n    pass\n",
        "hanging": ("import time\nimport pytest\n\n\ndef test_hangs():\n    time.sleep(60)\n\n\n"
                    "@pytest.mark.timeout(20)\ndef test_may_take_longer():\n    time.sleep(3)\n"),
    }.items():
        (root / name).mkdir()
        (root / name / f"test_{name}.py").write_text(body)


def run(root: Path, *suites: str, **env: str) -> subprocess.CompletedProcess[str]:
    # `make test` runs this suite with its own FAILED_CHECKS set: the script under test must not see it.
    base = {k: v for k, v in os.environ.items() if k != "FAILED_CHECKS"}
    return subprocess.run(["bash", str(SCRIPT), *[str(root / s) for s in suites]],
                          env={**base, "PY": sys.executable, **env}, capture_output=True, text=True, timeout=120)


def test_a_suite_that_collects_nothing_fails_the_run(tmp_path: Path) -> None:
    make_suites(tmp_path)
    proc = run(tmp_path, "passing", "empty")
    assert proc.returncode != 0, proc.stdout
    assert "empty (no tests collected)" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == "Total: 1 passed, 1 failed, 0 skipped"


def test_a_hanging_test_fails_at_the_time_limit_and_a_marked_one_may_take_longer(tmp_path: Path) -> None:
    make_suites(tmp_path)
    proc = run(tmp_path, "hanging", TEST_TIMEOUT="2")
    assert proc.returncode != 0
    assert "Timeout (>2.0s) from pytest-timeout" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == "Total: 1 passed, 1 failed, 0 skipped"


def test_passing_suites_pass_and_a_failed_check_is_counted(tmp_path: Path) -> None:
    make_suites(tmp_path)
    ok = run(tmp_path, "passing")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.rstrip().splitlines()[-1] == "Total: 1 passed, 0 failed, 0 skipped"
    lint_failed = run(tmp_path, "passing", FAILED_CHECKS=" lint")
    assert lint_failed.returncode != 0
    assert "make lint" in lint_failed.stdout
    assert lint_failed.stdout.rstrip().splitlines()[-1] == "Total: 1 passed, 1 failed, 0 skipped"
