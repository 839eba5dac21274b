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
PACKAGES := -e "proto[gen]" -e "libs[testing]" -e "devstack[test]" -e "gateway[test]" $(foreach s,$(SERVICES),-e "services/$(s)[test]")

.PHONY: help install install-wrk install-chromium web run test proto proto-check contracts bench catalog explain-1m demo-data eval-agents images test-containers reconcile lint typecheck clean

help:
	@echo "make install   create .venv and install every package (+ build-time node tools)"
	@echo "make run       start PostgreSQL, Redis, all six services and the gateway on :8000"
	@echo "make test      contract checks, lint, typecheck, then every test suite"
	@echo "make lint      ruff over the repository (line length 120)"
	@echo "make typecheck mypy over every package's src/ (config: mypy.ini)"
	@echo "make bench     throughput/latency benchmarks, purchases/s end to end (writes bench/RESULTS.md)"
	@echo "make catalog N=1000000   COPY N synthetic assets into the assets schema at DATABASE_URL"
	@echo "make explain-1m  the query-plan test (every browse/search plan uses an index) at 1,000,000 assets"
	@echo "make demo-data synthetic market data, and (with 'make run' up) creators, listings and real purchases"
	@echo "make reconcile compare the chain with the services' records of a running stack; exit 1 on a difference"
	@echo "make eval-agents  measured agent quality on the synthetic market (writes bench/AGENTS.md)"
	@echo "make images   build the seven deployables' container images offline (Docker; installs docker.io when root)"
	@echo "make test-containers  each image on its own, then the whole system from images (after make images)"
	@echo "make proto     regenerate the gRPC stubs from proto/"
	@echo "make contracts recompile the Solidity contracts"

install:
	@test -n "$(PYTHON_BOOT)" || { echo "Python 3.11 or 3.12 is required (hyperon has no wheels for 3.13+)"; exit 1; }
	@test -d $(VENV) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(PACKAGES)
	npm ci --no-audit --no-fund --ignore-scripts
	npm ci --prefix services/chain/devnode --no-audit --no-fund --ignore-scripts
	@$(MAKE) --no-print-directory web
	@$(MAKE) --no-print-directory install-wrk
	@$(MAKE) --no-print-directory install-chromium
	@echo "installed: run 'make run' or 'make test'"

# `make bench` drives its HTTP load with wrk (a system package, not a Python one).
install-wrk:
	@scripts/apt-install.sh wrk wrk "the load generator of 'make bench'"

# The web console's libraries from npm (pinned in package-lock.json), copied beside its
# modules so the gateway serves them from its own origin (the page's CSP allows nothing else).
web:
	@mkdir -p gateway/web/vendor
	cp node_modules/ethers/dist/ethers.min.js node_modules/chart.js/dist/chart.umd.min.js gateway/web/vendor/

# The browser end-to-end tests (tests/browser) drive Debian's chromium with playwright-core.
install-chromium:
	@scripts/apt-install.sh chromium chromium "the browser of tests/browser" "or set CHROMIUM_PATH"

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

# Every check runs even when an earlier one fails; a failed check is counted in the
# final "Total:" line (as one failure) and makes the run fail.
test:
	@failed=""; for check in proto-check lint typecheck; do \
	  echo "=== make $$check"; $(MAKE) --no-print-directory $$check || failed="$$failed $$check"; done; \
	  PY=$(PY) FAILED_CHECKS="$$failed" scripts/run-tests.sh

# Per-deployable images (ipheron/<name>:0.1.0) built offline from a wheelhouse; installs Debian's
# docker.io and mmdebstrap and starts dockerd when missing (infra/docker/README.md).
images:
	bash infra/docker/images.sh

# Each image on its own (health, a real call over mTLS, non-root, read-only root, SIGTERM, refusal of
# development secrets), then the whole system from images with compose (infra/compose.yaml).
test-containers:
	@STRICT=1 scripts/apt-install.sh docker-compose docker-compose "make test-containers (the compose stack)"
	$(PY) -m pytest infra/tests -q -p no:cacheprovider --timeout=900 -o testpaths=infra/tests

bench: install-wrk
	$(PY) bench/run.py

# N synthetic assets (realistic types, prices, creators, text) straight into the assets schema
# with COPY: DATABASE_URL is the assets service's database URL. ~10 s for 10,000, ~3 min for 1,000,000.
N ?= 10000
catalog:
	$(PY) -m assets_service.catalog --rows $(N)

# The EXPLAIN test of every browse and search query on a generated catalog of 1,000,000 assets
# (the suite runs it at 10,000); ~5 minutes, most of it loading the catalog. Not in `make test`.
explain-1m:
	ASSETS_EXPLAIN_ROWS=1000000 $(PY) -m pytest services/assets/tests/test_browse.py -q -p no:cacheprovider --timeout 1800 \
	  -k every_browse_and_search_plan

# The synthetic market data first; then, when a stack answers on GATEWAY_URL (default the
# `make run` gateway), creators, assets, signed listings and real purchases through it.
demo-data:
	$(PY) -m ai_agents_service.synthetic --out .data/demo
	$(PY) -m ipheron_devstack.demo

# The agents' measured quality (pricing MdAPE vs baselines, forecast MASE and interval coverage,
# wash-ring precision/recall, collaboration NDCG@10) on the synthetic market, time-ordered split;
# ~2 minutes on one core. The suite runs the same harness on a small market.
eval-agents:
	$(PY) -m ai_agents_service.evaluation --out bench/AGENTS.md

# Against a running stack (`make run`; CHAIN_ADDR / ASSETS_ADDR name other gRPC addresses).
reconcile:
	$(PY) -m ipheron_devstack.reconcile

lint:
	$(VENV)/bin/ruff check .

# One mypy run over every package's src/ (file list, strict modules: mypy.ini); the
# incremental cache in .mypy_cache makes re-runs fast.
typecheck:
	$(VENV)/bin/mypy

clean:
	rm -rf .data
