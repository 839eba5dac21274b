#!/usr/bin/env bash
# Regenerate the Python stubs from every .proto under proto/ipheron (used by `make proto`
# and by the staleness check). Output is deterministic, so a diff means stale stubs.
# Generates into a scratch folder first, so a broken .proto never leaves the tree stubless.
#
# Besides the runtime modules, it writes type stubs: protoc's own `_pb2.pyi` for the
# messages and mypy-protobuf's `_pb2_grpc.pyi` for the service stubs (typed sync and
# `grpc.aio` stubs: every RPC's request and response type), plus a PEP 561 `py.typed`
# marker so mypy reads them from the installed package. Tools pinned in proto[gen].
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
BIN=$(cd "$(dirname "$PY")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m grpc_tools.protoc -I . --python_out="$tmp" --grpc_python_out="$tmp" --pyi_out="$tmp" \
  --plugin=protoc-gen-mypy_grpc="$BIN/protoc-gen-mypy_grpc" --mypy_grpc_out=quiet:"$tmp" \
  $(find ipheron -name '*.proto' | sort)
# Packages so the stubs import as `from ipheron.assets.v1 import assets_service_pb2`.
find "$tmp/ipheron" -type d -exec touch {}/__init__.py \;
touch "$tmp/ipheron/py.typed"
mkdir -p gen/python
rm -rf gen/python/ipheron
mv "$tmp/ipheron" gen/python/ipheron
