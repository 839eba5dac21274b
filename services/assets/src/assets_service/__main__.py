"""python -m assets_service: migrate, recover unfinished sagas, then serve gRPC on :50052."""

from __future__ import annotations

import asyncio
import signal

from prometheus_client import start_http_server

from assets_service.config import Settings
from assets_service.server import AssetsRuntime
from ipheron_libs import grpc_server, telemetry


async def main() -> None:
    settings = Settings()
    telemetry.setup("assets", log_level=settings.log_level, trace_file=settings.trace_file,
                    otlp_endpoint=settings.otel_exporter_otlp_endpoint, sample_ratio=settings.trace_sample_ratio)
    if settings.metrics_port:
        # cache_hits_total / cache_misses_total{cache=assets_local|assets_redis} and the RPC counters.
        start_http_server(settings.metrics_port, addr=settings.grpc_host)
    runtime = AssetsRuntime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    try:
        await stop.wait()
    finally:
        await runtime.stop(grace=5.0)
        telemetry.shutdown()


if __name__ == "__main__":
    grpc_server.run(main)
