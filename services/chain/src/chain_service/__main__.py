"""python -m chain_service: read settings, set up telemetry, serve gRPC on :50056."""

from __future__ import annotations

from ipheron_libs import grpc_server, telemetry

from chain_service.config import ChainSettings
from chain_service.server import SERVICE_NAME, serve


def main() -> None:
    settings = ChainSettings()
    telemetry.setup_service(SERVICE_NAME, settings)
    grpc_server.run(lambda: serve(settings))


if __name__ == "__main__":
    main()
