#!/usr/bin/env bash
# Regenerate the Python stubs from every .proto under proto/ipheron (used by `make proto`
# and by the staleness check). Output is deterministic, so a diff means stale stubs.
# Generates into a scratch folder first, so a broken .proto never leaves the tree stubless.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m grpc_tools.protoc -I . --python_out="$tmp" --grpc_python_out="$tmp" --pyi_out="$tmp" \
  $(find ipheron -name '*.proto' | sort)
# Packages so the stubs import as `from ipheron.assets.v1 import assets_service_pb2`.
find "$tmp/ipheron" -type d -exec touch {}/__init__.py \;
mkdir -p gen/python
rm -rf gen/python/ipheron
mv "$tmp/ipheron" gen/python/ipheron
