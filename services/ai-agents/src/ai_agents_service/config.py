"""AI-agents settings: the shared ones plus AI_AGENTS_* (port, workers, timeouts, ...)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ipheron_libs.settings import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

SCHEMA = "ai_agents"
SERVICE_NAME = "ai-agents"


class Settings(ServiceSettings):
    """Environment: AI_AGENTS_GRPC_PORT, AI_AGENTS_WORKERS, AI_AGENTS_KB_RELOAD, ..."""

    model_config = SettingsConfigDict(env_prefix="AI_AGENTS_", extra="ignore", populate_by_name=True)

    grpc_port: int = 50055
    # MeTTa interpreter processes (one interpreter each); one per core is right.
    workers: int = 2
    # Seconds one interpreter call may take before its worker is replaced.
    worker_call_timeout: float = 5.0
    # Rule answers cached per (KB version, queries, data); 0 disables.
    cache_size: int = 8192
    # Where the .metta files live (default: kb/ beside the code).
    kb_dir: Path | None = None
    # Reload edited .metta files (None: on in development, off elsewhere).
    kb_reload: bool | None = None
    kb_reload_interval: float = 1.0
    # Per-agent timeouts of the orchestrator (seconds).
    pricing_timeout: float = 2.0
    risk_timeout: float = 2.0
    market_timeout: float = 3.0
    # Market models are retrained this often (seconds), and market history refreshed.
    retrain_interval: float = 6 * 3600.0
    # Market history (the pricing agent's demand data) is refreshed this often (seconds).
    history_refresh_interval: float = 300.0
    history_days: int = 120
    # Seed of the synthetic market used until the analytics service has history.
    synthetic_seed: int = 7
    # The synthetic market's last day (unset: today); tests pin it so their market is the same every day.
    synthetic_end: date | None = None
    # Also seed the comparable sales, trade log and known assets from the synthetic market
    # (None: everywhere but production, which only borrows its daily history).
    synthetic_sales: bool | None = None
    # Other services (host:port); empty disables the call.
    auth_addr: str = Field("127.0.0.1:50051", validation_alias=AliasChoices("AUTH_ADDR", "AI_AGENTS_AUTH_ADDR"))
    analytics_addr: str = Field("127.0.0.1:50054",
                                validation_alias=AliasChoices("ANALYTICS_ADDR", "AI_AGENTS_ANALYTICS_ADDR"))
    call_timeout: float = 2.0
    # Consume domain events (asset.created, asset.sold) from the Redis stream.
    consume_events: bool = True
    migrations_dir: Path | None = None
