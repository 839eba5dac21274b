"""Gateway settings: where the services are, who may call from a browser, limits."""

from __future__ import annotations

import ipaddress
import os

from ipheron_libs.settings import CommonSettings, InsecureSettingError
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

SERVICES = ("auth", "assets", "staking", "analytics", "ai_agents", "chain")
DEFAULT_PORTS = {"auth": 50051, "assets": 50052, "staking": 50053, "analytics": 50054, "ai_agents": 50055,
                 "chain": 50056}
# A JSON (or any non-upload) body larger than this is refused with 413 before it is read.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# The file routes store at most 4 MiB of content; a multipart envelope adds headers and boundaries.
MAX_FILE_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = MAX_FILE_BYTES + 64 * 1024

ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _addr(name: str) -> object:
    env = f"{name.upper()}_ADDR"
    return Field(default=f"127.0.0.1:{DEFAULT_PORTS[name]}", validation_alias=AliasChoices(env, env.lower()))


class GatewaySettings(CommonSettings):
    """Read from GATEWAY_* plus the shared names (AUTH_ADDR, REDIS_URL, ...).

    The gateway holds no data, so unlike a service it needs no DATABASE_URL in
    production. It does need REDIS_URL there: without Redis every replica keeps its
    own rate-limit windows, so N replicas would let N times the auth limit (10 per
    minute per address) through; the limiter's fallback is for a Redis outage, not a
    way to run.
    """

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = ["http://localhost:3000", "http://127.0.0.1:3000"]
    cors_allow_credentials: bool = True
    upstream_timeout: float = 5.0
    health_timeout: float = 1.0
    # The one setting on proxies (GATEWAY_TRUSTED_PROXIES, JSON list of addresses or CIDRs):
    # the client is the right-most X-Forwarded-For hop that is not one of these; with
    # none (the default) X-Forwarded-For is ignored and the peer address is the client.
    trusted_proxies: list[ProxyNetwork] = []
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    max_upload_bytes: int = Field(default=DEFAULT_MAX_UPLOAD_BYTES, ge=1024)
    jwt_issuer: str = "ipheron-auth"
    jwt_audience: str = "ipheron-api"
    auth_addr: str = _addr("auth")  # type: ignore[assignment]
    assets_addr: str = _addr("assets")  # type: ignore[assignment]
    staking_addr: str = _addr("staking")  # type: ignore[assignment]
    analytics_addr: str = _addr("analytics")  # type: ignore[assignment]
    ai_agents_addr: str = _addr("ai_agents")  # type: ignore[assignment]
    chain_addr: str = _addr("chain")  # type: ignore[assignment]

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_with_credentials(cls, v: list[str]) -> list[str]:
        # A browser would send cookies/credentials to any site: never allowed.
        if "*" in v:
            raise ValueError("GATEWAY_CORS_ORIGINS must list origins; '*' is not allowed with credentials")
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, v: object) -> object:
        if isinstance(v, str):  # also a comma-separated list
            v = [p for p in (s.strip() for s in v.split(",")) if p]
        if isinstance(v, list):
            return [ipaddress.ip_network(p, strict=False) if isinstance(p, str) else p for p in v]
        return v

    @model_validator(mode="after")
    def _production_needs_redis(self) -> GatewaySettings:
        if "GATEWAY_TRUST_FORWARDED_FOR" in os.environ:
            raise InsecureSettingError("GATEWAY_TRUST_FORWARDED_FOR is gone: list the proxies to trust in "
                                       "GATEWAY_TRUSTED_PROXIES (e.g. [\"10.0.0.0/8\"])")
        if self.env == "production" and not self.redis_url:
            raise InsecureSettingError("REDIS_URL is required when IPHERON_ENV=production (shared rate limits)")
        return self

    def addr(self, service: str) -> str:
        return str(getattr(self, f"{service}_addr"))
