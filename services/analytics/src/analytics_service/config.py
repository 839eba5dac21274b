"""Analytics settings: the shared ones plus ANALYTICS_* (port, consumer group)."""

from __future__ import annotations

from pathlib import Path

from ipheron_libs.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

SCHEMA = "analytics"
SERVICE_NAME = "analytics"


class Settings(ServiceSettings):
    """Environment: ANALYTICS_GRPC_PORT, ANALYTICS_GRPC_HOST, ANALYTICS_CONSUMER_GROUP, ..."""

    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", populate_by_name=True)

    grpc_port: int = 50054
    # Consumer group on the ipheron:events stream; replicas share it, so each event
    # is handled by one of them.
    consumer_group: str = "analytics"
    # Consume events in this process (needs REDIS_URL).
    consume_events: bool = True
    # The consumer queues the days a sale touches and this job rebuilds their market rows every
    # ROLLUP_INTERVAL_S (a day's rebuild reads all its sales); 0 rebuilds on every event.
    rollup_interval_s: float = Field(0.5, ge=0, le=60)
    # Alembic scripts; defaults to services/analytics/migrations beside the sources.
    migrations_dir: Path | None = None
