"""python -m chain_service: settings, telemetry, then the chain service on :50056 (the garbage
collector tuned as in every service: `ipheron_libs.service.tune_gc`)."""

from __future__ import annotations

from ipheron_libs.service import main as serve_main

from chain_service.config import ChainSettings
from chain_service.repository import SCHEMA
from chain_service.server import SERVICE_NAME, ChainApp


def main() -> None:
    serve_main(ChainSettings, ChainApp, name=SERVICE_NAME, schema=SCHEMA)


if __name__ == "__main__":
    main()
