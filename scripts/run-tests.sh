#!/usr/bin/env bash
# Runs each package's suite in its own pytest process (its own config, event loop and
# metrics registry), then the end-to-end suite, and prints one total line at the end.
# Usage: scripts/run-tests.sh [suite-dir ...]   (default: every suite)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  suites=(libs/tests gateway/tests)
  for d in services/*/tests; do [ -d "$d" ] && suites+=("$d"); done
  [ -d devstack/tests ] && suites+=(devstack/tests)
  suites+=(tests)
fi
passed=0; failed=0; errors=0; skipped=0; bad=()
log=$(mktemp)
for s in "${suites[@]}"; do
  echo "=== $s"
  "$PY" -m pytest "$s" -q -p no:cacheprovider 2>&1 | tee "$log" | grep -vE '^(WARNING: |  )' | tail -n 40
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped)' "$log" | tail -1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
  e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+' || true)
  k=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || true)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); errors=$((errors + ${e:-0})); skipped=$((skipped + ${k:-0}))
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then bad+=("$s (exit $rc)"); fi
done
rm -f "$log"
echo
[ ${#bad[@]} -gt 0 ] && printf 'failing suites: %s\n' "${bad[*]}"
echo "Total: $passed passed, $((failed + errors)) failed, $skipped skipped"
[ ${#bad[@]} -eq 0 ]
