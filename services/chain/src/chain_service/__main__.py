"""python -m chain_service: settings, telemetry, then the chain service on :50056."""

from __future__ import annotations

import gc

from ipheron_libs.service import main as serve_main

from chain_service.config import ChainSettings
from chain_service.repository import SCHEMA
from chain_service.server import SERVICE_NAME, ChainApp

# The embedded EVM allocates a few hundred thousand short-lived objects per purchase (stack
# items, messages, RLP lists); at CPython's default threshold (700) the collector ran ~200
# times per 256 purchases and each older-generation pass walked every long-lived object (the
# chain's state, the imported libraries): 1-2.5 ms of a purchase's ~20 ms. The EVM's garbage is
# freed by reference counting; cycles are still collected, only less often.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Move what the imports made out of the collector's sight and collect less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main() -> None:
    tune_gc()
    serve_main(ChainSettings, ChainApp, name=SERVICE_NAME, schema=SCHEMA)


if __name__ == "__main__":
    main()
