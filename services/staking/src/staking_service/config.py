"""Staking settings: the shared ones plus STAKING_* (port, currency, maturity sweep, quote key)."""

from __future__ import annotations

from pathlib import Path

from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_KEY
from ipheron_libs.settings import InsecureSettingError, ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

SCHEMA = "staking"
SERVICE_NAME = "staking"


class Settings(ServiceSettings):
    """Environment: STAKING_GRPC_PORT, STAKING_QUOTE_SIGNER_KEY, STAKING_QUOTE_TTL_S, CHAIN_ADDR, ..."""

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
    # Where the assets service answers (ASSETS_ADDR, as every caller reads it): a stake's asset
    # must exist, be active and be minted (its token id goes into the quote).
    assets_addr: str | None = Field(default=None, validation_alias=AliasChoices("ASSETS_ADDR", "assets_addr"))
    # Where the chain service answers (CHAIN_ADDR): the vault's domain, prepared transactions.
    chain_addr: str = Field("127.0.0.1:50056", validation_alias=AliasChoices("CHAIN_ADDR", "chain_addr"))
    # Where the auth service answers (AUTH_ADDR): its JWKS verifies the users the gateway's calls act for.
    auth_addr: str = Field("127.0.0.1:50051", validation_alias=AliasChoices("AUTH_ADDR", "auth_addr"))
    # Deadline for each call to another service, seconds; the chain's get more (it may mine).
    call_timeout: float = 3.0
    chain_timeout: float = 15.0
    # The key whose EIP-712 signature the vault accepts on quotes (secret; the public
    # development key by default in development and test, refused in production).
    quote_signer_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STAKING_QUOTE_SIGNER_KEY", "quote_signer_key"))
    # A signed quote (and the pending stake holding it) lapses after this many seconds.
    quote_ttl_s: int = Field(600, gt=0, le=86_400)
    # The chain's events (consumer group "staking"): off only for tests that drive events by hand.
    consume_chain_events: bool = True
    # An event whose handling failed (e.g. the database was down) is retried after this idle time.
    event_retry_idle_ms: int = Field(30_000, ge=100)
    # How often pending stakes and handed-in claims/unstakes are followed on the chain
    # (a revert fails them with its reason; a lapsed quote fails the stake). 0 turns it off.
    pending_poll_interval_s: float = 2.0
    # Alembic scripts; defaults to services/staking/migrations beside the sources.
    migrations_dir: Path | None = None

    @model_validator(mode="after")
    def _no_dev_quote_key_in_production(self) -> Settings:
        key = self.quote_signer_key.get_secret_value() if self.quote_signer_key else ""
        if self.env == "production" and (not key or key.lower() == DEV_QUOTE_SIGNER_KEY):
            raise InsecureSettingError(
                "STAKING_QUOTE_SIGNER_KEY must be set to a real key when IPHERON_ENV=production")
        return self

    def effective_quote_key(self) -> str:
        """The quote signer's private key (the development key unless one is set)."""
        return self.quote_signer_key.get_secret_value() if self.quote_signer_key else DEV_QUOTE_SIGNER_KEY
