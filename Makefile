# IPheron — one command each: install, run, test, bench.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first interpreter that really runs and is 3.11 or 3.12 (a pyenv shim may exist for a
# version that is not selected; hyperon has no wheels for 3.13+).
PYTHON_BOOT ?= $(shell for p in python3.11 python3.12 python3; do \
  $$p -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SERVICES := auth assets staking analytics ai-agents chain
PACKAGES := -e proto -e "libs[testing]" -e devstack -e "gateway[test]" $(foreach s,$(SERVICES),-e "services/$(s)[test]")

.PHONY: help install run test proto proto-check contracts bench demo-data lint clean

help:
	@echo "make install   create .venv and install every package (+ build-time node tools)"
	@echo "make run       start PostgreSQL, Redis, all six services and the gateway on :8000"
	@echo "make test      contract checks + the whole test suite"
	@echo "make bench     throughput/latency benchmarks (writes bench/RESULTS.md)"
	@echo "make proto     regenerate the gRPC stubs from proto/"
	@echo "make contracts recompile the Solidity contracts"

install:
	@test -n "$(PYTHON_BOOT)" || { echo "Python 3.11 or 3.12 is required (hyperon has no wheels for 3.13+)"; exit 1; }
	@test -d $(VENV) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(PACKAGES)
	npm ci --no-audit --no-fund --ignore-scripts
	npm ci --prefix services/chain/devnode --no-audit --no-fund --ignore-scripts
	@echo "installed: run 'make run' or 'make test'"

run:
	$(PY) -m ipheron_devstack

proto:
	./proto/gen.sh

# Contracts are consistent (buf lint), compatible with the last commit (buf breaking),
# and the committed stubs match the .proto files.
proto-check:
	cd proto && ../node_modules/.bin/buf lint
	@if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto/buf.yaml 2>/dev/null; then \
	  cd proto && ../node_modules/.bin/buf breaking --against '../.git#ref=HEAD~1,subdir=proto'; fi
	@tmp=$$(mktemp -d); cp -r proto/gen/python "$$tmp/committed"; ./proto/gen.sh; \
	  if ! diff -r -q "$$tmp/committed" proto/gen/python >/dev/null; then \
	    diff -r "$$tmp/committed" proto/gen/python | head -20; rm -rf "$$tmp"; \
	    echo "generated stubs are stale: run 'make proto' and commit"; exit 1; fi; rm -rf "$$tmp"
	@echo "proto: lint, breaking and stub checks passed"

contracts:
	node services/chain/scripts/compile.js

test: proto-check
	PY=$(PY) scripts/run-tests.sh

bench:
	$(PY) bench/run.py

demo-data:
	$(PY) -m ai_agents_service.synthetic --out .data/demo

lint:
	$(VENV)/bin/ruff check .

clean:
	rm -rf .data
