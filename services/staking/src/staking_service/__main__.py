"""python -m staking_service: read settings, set up telemetry, serve gRPC on :50053."""

from __future__ import annotations

from ipheron_libs import grpc_server, telemetry

from staking_service.config import SERVICE_NAME, Settings
from staking_service.server import serve


def main() -> None:
    settings = Settings()
    telemetry.setup_service(SERVICE_NAME, settings)
    grpc_server.run(lambda: serve(settings))


if __name__ == "__main__":
    main()
