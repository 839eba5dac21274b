"""python -m assets_service: migrate, finish sagas a crash left, then serve gRPC on :50052.

Without DATABASE_URL / REDIS_URL it joins (or starts) the embedded PostgreSQL and
Redis under DATA_DIR, like every service under `make run`.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from ipheron_libs import embedded, grpc_server, telemetry

from assets_service.config import SCHEMA, Settings
from assets_service.server import AssetsRuntime

log = logging.getLogger("assets")


def _with_embedded_defaults(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "database_url": embedded.service_database_url(settings.database_url, settings.data_dir, SCHEMA),
        "redis_url": embedded.service_redis_url(settings.redis_url, settings.data_dir),
    })


async def main() -> None:
    settings = Settings()
    # Also serves /metrics on ASSETS_METRICS_PORT: cache_hits_total / cache_misses_total
    # {cache="assets_local"|"assets_redis"}, RPC and DB counters.
    telemetry.setup_service("assets", settings)
    settings = await asyncio.to_thread(_with_embedded_defaults, settings)
    runtime = AssetsRuntime(settings)  # migrates (blocking) before anything is served
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    log.info("assets serving gRPC on %s:%d", settings.grpc_host, runtime.port)
    try:
        await stop.wait()
    finally:
        await runtime.stop(grace=5.0)
        telemetry.shutdown()


if __name__ == "__main__":
    grpc_server.run(main)
