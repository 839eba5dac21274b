"""python -m analytics_service: settings, telemetry, then the shared skeleton serves gRPC on :50054."""

from __future__ import annotations

from ipheron_libs import service

from analytics_service.config import SCHEMA, SERVICE_NAME, Settings
from analytics_service.server import AnalyticsApp


def main() -> None:
    service.main(Settings, AnalyticsApp, name=SERVICE_NAME, schema=SCHEMA)


if __name__ == "__main__":
    main()
