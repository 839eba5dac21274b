"""python -m ai_agents_service: read settings, set up telemetry, serve gRPC on :50055."""

from __future__ import annotations

from ipheron_libs import service

from ai_agents_service.config import SCHEMA, SERVICE_NAME, Settings
from ai_agents_service.server import AiAgentsApp


def main() -> None:
    service.main(Settings, AiAgentsApp, name=SERVICE_NAME, schema=SCHEMA)


if __name__ == "__main__":
    main()
