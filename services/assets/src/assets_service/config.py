"""Settings of the assets service (env prefix ASSETS_; shared names unprefixed)."""

from __future__ import annotations

from pathlib import Path

from ipheron_libs.settings import InsecureSettingError, ServiceSettings
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

SCHEMA = "assets"


class Settings(ServiceSettings):
    """Everything the assets service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="ASSETS_", extra="ignore", populate_by_name=True)

    grpc_port: int = 50052
    auth_addr: str = Field("127.0.0.1:50051", validation_alias=AliasChoices("AUTH_ADDR", "ASSETS_AUTH_ADDR"))
    chain_addr: str = Field("127.0.0.1:50056", validation_alias=AliasChoices("CHAIN_ADDR", "ASSETS_CHAIN_ADDR"))
    ai_agents_addr: str = Field("127.0.0.1:50055",
                                validation_alias=AliasChoices("AI_AGENTS_ADDR", "ASSETS_AI_AGENTS_ADDR"))
    # Prometheus /metrics endpoint (port 0 = off).
    metrics_port: int = 9052
    metrics_host: str = "127.0.0.1"
    # Alembic scripts; the container sets this (they live beside the package, not in it).
    migrations_dir: Path | None = None
    # Deadlines of outbound calls, seconds. The chain waits for a receipt, so it gets more.
    auth_timeout: float = 3.0
    ai_timeout: float = 3.0
    chain_timeout: float = 15.0
    # AI risk score (0..100) at or above which a new asset is held for review
    # (a HIGH level holds it too).
    review_threshold: int = 70
    # AI risk score (0..100) at or above which a purchase is refused (HIGH refuses too).
    purchase_block_threshold: int = 80
    # Two-level cache: in-process LRU then Redis.
    local_cache_ttl: float = 5.0
    local_cache_size: int = 2048
    redis_cache_ttl: int = 300
    # Saga worker: how often it scans, how long a claim lasts, retry backoff cap.
    saga_poll_interval: float = 2.0
    # A claim outlives any single step (the chain deadline); a replica that dies
    # holding one is taken over after it expires, or at once by its own restart.
    saga_lease_seconds: float = 45.0
    # Names this replica's saga claims; stable across restarts of the same pod/process slot.
    instance_id: str = ""
    saga_worker: bool = True
    saga_max_backoff: float = 300.0
    outbox_poll_interval: float = 0.5
    # A prepared purchase lapses unless its transaction is handed in within this many seconds.
    payment_window_s: float = Field(600.0, gt=0, le=86_400)
    # A submitted purchase's transaction is polled from this many seconds on, backing off to the cap
    # (the chain's sale event normally records it first: under load that takes a few seconds, so
    # an earlier first poll mostly finds a mined transaction and only costs two RPCs and writes).
    submitted_poll_s: float = Field(5.0, gt=0)
    submitted_poll_max_s: float = Field(60.0, gt=0)
    # The chain's events (consumer group "assets"): off only for tests that drive events by hand.
    consume_chain_events: bool = True
    # An event whose handling failed (e.g. the database was down) is retried after this idle time.
    event_retry_idle_ms: int = Field(30_000, ge=100)
    # Fault injection for crash tests (refused in production): the process dies with
    # os._exit(137), like kill -9, at this point: "purchase.after_broadcast" (the buyer's
    # transaction is on its way, the purchase not yet marked submitted), "mint.after_chain_mint".
    crash_at: str = ""

    @model_validator(mode="after")
    def _no_fault_injection_in_production(self) -> Settings:
        if self.crash_at and self.env == "production":
            raise InsecureSettingError("ASSETS_CRASH_AT is a test hook and is refused when IPHERON_ENV=production")
        return self
