"""Settings shared by every deployable, read from the environment (pydantic-settings).

Shared settings use their plain names (DATABASE_URL, REDIS_URL, ...); each service
subclasses `ServiceSettings` with its own `env_prefix` for what only it reads, and
refuses its own development-default secrets outside development with
`InsecureSettingError` (e.g. the chain signer key, the auth JWT keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ipheron_libs.mtls import TlsIdentity


class InsecureSettingError(ValueError):
    """A required secret or server is missing, or still a development default, outside development."""


def _shared(name: str, default: object) -> object:
    """A field read from its plain, unprefixed environment variable."""
    return Field(default=default, validation_alias=AliasChoices(name, name.lower()))


class CommonSettings(BaseSettings):
    """Settings every deployable reads the same way (the gateway, which holds no data, uses these)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Literal["development", "test", "production"] = _shared("IPHERON_ENV", "development")  # type: ignore[assignment]
    data_dir: Path = _shared("DATA_DIR", Path(".data"))  # type: ignore[assignment]
    database_url: str | None = _shared("DATABASE_URL", None)  # type: ignore[assignment]
    redis_url: str | None = _shared("REDIS_URL", None)  # type: ignore[assignment]
    log_level: str = _shared("LOG_LEVEL", "INFO")  # type: ignore[assignment]
    otel_exporter_otlp_endpoint: str | None = _shared("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # type: ignore[assignment]
    trace_file: Path | None = _shared("IPHERON_TRACE_FILE", None)  # type: ignore[assignment]
    trace_sample_ratio: float = _shared("IPHERON_TRACE_SAMPLE_RATIO", 1.0)  # type: ignore[assignment]
    # Prometheus /metrics of this process (e.g. AUTH_METRICS_PORT); off when unset.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # Mutual TLS between the deployables (IPHERON_TLS_DIR): a directory with tls.crt, tls.key and
    # ca.crt, the certificate's common name being this deployable's identity (ipheron_libs.mtls).
    # Required in production; without it (development, tests) gRPC is plaintext and callers are
    # not identified, so the per-RPC allow-lists of ipheron_libs.access cannot be enforced.
    tls_dir: Path | None = _shared("IPHERON_TLS_DIR", None)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _production_needs_mutual_tls(self) -> CommonSettings:
        if self.env == "production" and self.tls_dir is None:
            raise InsecureSettingError("IPHERON_TLS_DIR (mutual TLS between the deployables) is required "
                                       "when IPHERON_ENV=production")
        return self

    def tls_identity(self) -> TlsIdentity | None:
        """This deployable's certificate (mutual TLS), or None when TLS is not configured."""
        return TlsIdentity.load(self.tls_dir) if self.tls_dir is not None else None


class ServiceSettings(CommonSettings):
    """A gRPC service's settings: its own port, database pool, and real servers in production."""

    grpc_port: int = 0
    grpc_host: str = "127.0.0.1"
    # A plaintext port serving grpc.health only (e.g. AUTH_HEALTH_PORT), for probes that cannot
    # present a client certificate when the main port requires mutual TLS; off when unset.
    health_port: int | None = None
    # Seconds in-flight RPCs get to finish after SIGTERM (below the pod's termination grace).
    grace_seconds: float = 5.0
    db_pool_size: int = 8
    db_max_overflow: int = 8
    # With mutual TLS a service whose RPCs act for users (ipheron_libs.access.ON_BEHALF) verifies
    # each user's access token itself, with the auth service's keys (GetJwks at its AUTH_ADDR
    # setting) and the issuer and audience the auth service signs with (JWT_ISSUER, JWT_AUDIENCE).
    jwt_issuer: str = _shared("JWT_ISSUER", "ipheron-auth")  # type: ignore[assignment]
    jwt_audience: str = _shared("JWT_AUDIENCE", "ipheron-api")  # type: ignore[assignment]

    @model_validator(mode="after")
    def _production_needs_real_servers(self) -> ServiceSettings:
        if self.env == "production":
            if not self.database_url:
                raise InsecureSettingError("DATABASE_URL is required when IPHERON_ENV=production")
            if not self.redis_url:
                raise InsecureSettingError("REDIS_URL is required when IPHERON_ENV=production")
        return self
