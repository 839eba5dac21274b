"""Staking settings: the shared ones plus STAKING_* (port, currency, maturity sweep)."""

from __future__ import annotations

from pathlib import Path

from ipheron_libs.settings import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

SCHEMA = "staking"
SERVICE_NAME = "staking"


class Settings(ServiceSettings):
    """Environment: STAKING_GRPC_PORT, STAKING_GRPC_HOST, STAKING_CURRENCY, ..."""

    model_config = SettingsConfigDict(env_prefix="STAKING_", extra="ignore", populate_by_name=True)

    grpc_port: int = 50053
    # The unit stakes are denominated in (the marketplace's settlement currency).
    currency: str = "ETH"
    # How often active stakes past their end time are recorded as matured and expired
    # idempotency keys forgotten (0 turns both jobs off).
    maturity_interval_seconds: float = 30.0
    # How long an Idempotency-Key is remembered (a retry within it gets the first answer).
    idempotency_retention_hours: float = 72.0
    # Run the outbox relay in this process (off only in tests without Redis).
    relay_events: bool = True
    # Where the assets service answers (ASSETS_ADDR, as every caller reads it); when
    # set, stakes may only be opened on assets that exist and are active.
    assets_addr: str | None = Field(default=None, validation_alias=AliasChoices("ASSETS_ADDR", "assets_addr"))
    # Deadline for each call to another service, seconds.
    call_timeout: float = 3.0
    # Alembic scripts; defaults to services/staking/migrations beside the sources.
    migrations_dir: Path | None = None
