#!/usr/bin/env bash
# Runs each package's suite in its own pytest process (its own config, event loop and
# metrics registry), then the end-to-end suite, and prints one total line at the end.
# A suite fails when pytest fails or when it collected no tests at all (pytest's exit 5:
# a suite that silently runs nothing is not a pass). Every test has a time limit
# (pytest-timeout, TEST_TIMEOUT seconds, default 120; a test that needs longer says so
# with @pytest.mark.timeout(N)).
# Usage: scripts/run-tests.sh [suite-dir ...]   (default: every suite)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  suites=(libs/tests gateway/tests)
  for d in services/*/tests; do [ -d "$d" ] && suites+=("$d"); done
  [ -d devstack/tests ] && suites+=(devstack/tests)
  suites+=(tests)
fi
if ! "$PY" -c 'import pytest_timeout' 2>/dev/null; then
  echo "pytest-timeout is not installed in $PY: run 'make install'" >&2
  echo "Total: 0 passed, ${#suites[@]} failed, 0 skipped"
  exit 1
fi
passed=0; failed=0; errors=0; skipped=0; bad=()
# Checks `make test` ran before the suites (proto-check, lint, typecheck) that failed.
for c in ${FAILED_CHECKS:-}; do bad+=("make $c"); failed=$((failed + 1)); done
log=$(mktemp)
for s in "${suites[@]}"; do
  echo "=== $s"
  "$PY" -m pytest "$s" -q -p no:cacheprovider --timeout="$TEST_TIMEOUT" 2>&1 | tee "$log" \
    | grep -vE '^(WARNING: |  )' | tail -n 40
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped|deselected)|^(=+ )?no tests ran' "$log" | tail -1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
  e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+' || true)
  k=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || true)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); errors=$((errors + ${e:-0})); skipped=$((skipped + ${k:-0}))
  case "$rc" in
    0) ;;
    5) bad+=("$s (no tests collected)"); failed=$((failed + 1)) ;;
    *) bad+=("$s (exit $rc)")
       # A suite that died before its summary (crash, collection error) still counts as failed.
       [ -z "${f}${e}" ] && failed=$((failed + 1)) ;;
  esac
done
rm -f "$log"
echo
[ ${#bad[@]} -gt 0 ] && printf 'failing suites: %s\n' "${bad[*]}"
echo "Total: $passed passed, $((failed + errors)) failed, $skipped skipped"
[ ${#bad[@]} -eq 0 ]
