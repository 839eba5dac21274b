"""python -m staking_service: settings, telemetry, then the shared skeleton serves gRPC on :50053."""

from __future__ import annotations

from ipheron_libs import service

from staking_service.config import SCHEMA, SERVICE_NAME, Settings
from staking_service.server import StakingApp


def main() -> None:
    service.main(Settings, StakingApp, name=SERVICE_NAME, schema=SCHEMA)


if __name__ == "__main__":
    main()
