"""Gateway settings: where the services are, who may call from a browser, limits."""

from __future__ import annotations

from ipheron_libs.settings import ServiceSettings
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

SERVICES = ("auth", "assets", "staking", "analytics", "ai_agents", "chain")
DEFAULT_PORTS = {"auth": 50051, "assets": 50052, "staking": 50053, "analytics": 50054, "ai_agents": 50055, "chain": 50056}


def _addr(name: str) -> object:
    env = f"{name.upper()}_ADDR"
    return Field(default=f"127.0.0.1:{DEFAULT_PORTS[name]}", validation_alias=AliasChoices(env, env.lower()))


class GatewaySettings(ServiceSettings):
    """Read from GATEWAY_* plus the shared names (AUTH_ADDR, REDIS_URL, ...)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = ["http://localhost:3000", "http://127.0.0.1:3000"]
    cors_allow_credentials: bool = True
    upstream_timeout: float = 5.0
    health_timeout: float = 1.0
    trust_forwarded_for: bool = False
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

    def addr(self, service: str) -> str:
        return str(getattr(self, f"{service}_addr"))
