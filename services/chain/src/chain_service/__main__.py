"""python -m chain_service: read settings, set up telemetry, serve gRPC on :50056."""

from __future__ import annotations

from ipheron_libs import grpc_server, telemetry

from chain_service.config import ChainSettings
from chain_service.server import SERVICE_NAME, serve


def main() -> None:
    settings = ChainSettings()
    telemetry.setup(SERVICE_NAME, log_level=settings.log_level, trace_file=settings.trace_file,
                    otlp_endpoint=settings.otel_exporter_otlp_endpoint,
                    sample_ratio=settings.trace_sample_ratio)
    grpc_server.run(lambda: serve(settings))


if __name__ == "__main__":
    main()
