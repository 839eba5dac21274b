"""python -m analytics_service: read settings, set up telemetry, serve gRPC on :50054."""

from __future__ import annotations

from ipheron_libs import grpc_server, telemetry

from analytics_service.config import SERVICE_NAME, Settings
from analytics_service.server import serve


def main() -> None:
    settings = Settings()
    telemetry.setup(
        SERVICE_NAME,
        log_level=settings.log_level,
        trace_file=settings.trace_file,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        sample_ratio=settings.trace_sample_ratio,
    )
    grpc_server.run(lambda: serve(settings))


if __name__ == "__main__":
    main()
