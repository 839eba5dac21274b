"""python -m assets_service: settings, telemetry, then the shared skeleton migrates,
finishes the sagas a crash left and serves gRPC on :50052.

Without DATABASE_URL / REDIS_URL it joins (or starts) the embedded PostgreSQL and
Redis under DATA_DIR, like every service under `make run`. Also serves /metrics on
ASSETS_METRICS_PORT: cache_hits_total / cache_misses_total
{cache="assets_local"|"assets_redis"}, RPC and DB counters.
"""

from __future__ import annotations

from ipheron_libs import service

from assets_service.config import SCHEMA, Settings
from assets_service.server import SERVICE_NAME, AssetsApp


def main() -> None:
    service.main(Settings, AssetsApp, name=SERVICE_NAME, schema=SCHEMA)


if __name__ == "__main__":
    main()
