"""Auth service settings (env prefix AUTH_; shared settings keep their plain names)."""

from __future__ import annotations

from pathlib import Path

from ipheron_libs.settings import InsecureSettingError, ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

# eth-tester's py-evm chain, which the embedded chain service runs by default.
EMBEDDED_CHAIN_ID = 131277322940537
DEV_SIWE_DOMAIN = "localhost:8000"
DEV_SIWE_URI = "http://localhost:8000"


class Settings(ServiceSettings):
    """Everything the auth service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", populate_by_name=True)

    grpc_port: int = 50051
    # What a SIWE message must name: the gateway's public host and origin.
    siwe_domain: str = DEV_SIWE_DOMAIN
    siwe_uri: str = DEV_SIWE_URI
    siwe_chain_id: int = EMBEDDED_CHAIN_ID
    siwe_statement: str = "Sign in to IPheron."
    nonce_ttl_seconds: int = 600
    clock_skew_seconds: int = 60
    jwt_issuer: str = "ipheron-auth"
    jwt_audience: str = "ipheron-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # PEM PKCS#8 Ed25519 keys, current first, previous after it during a rotation.
    jwt_private_keys: SecretStr | None = None
    jwt_private_keys_file: Path | None = None
    chain_addr: str | None = Field(default=None, validation_alias=AliasChoices("CHAIN_ADDR", "chain_addr"))
    chain_timeout_seconds: float = 5.0
    # Alembic scripts live beside the package (set in the container image).
    migrations_dir: Path | None = None

    @model_validator(mode="after")
    def _keys_outside_development(self) -> Settings:
        has_keys = bool(self.jwt_private_keys or self.jwt_private_keys_file)
        if self.env not in ("development", "test") and not has_keys:
            raise InsecureSettingError("AUTH_JWT_PRIVATE_KEYS or AUTH_JWT_PRIVATE_KEYS_FILE is required in production")
        if self.env == "production":
            # The development defaults would let a message signed for a local page (or another
            # network) sign in here: production names its own public origin and chain.
            defaults = {"AUTH_SIWE_DOMAIN": self.siwe_domain == DEV_SIWE_DOMAIN,
                        "AUTH_SIWE_URI": self.siwe_uri == DEV_SIWE_URI,
                        "AUTH_SIWE_CHAIN_ID": self.siwe_chain_id == EMBEDDED_CHAIN_ID}
            if any(defaults.values()):
                names = ", ".join(k for k, v in defaults.items() if v)
                raise InsecureSettingError(f"{names}: set the public origin and chain id when IPHERON_ENV=production "
                                           "(the development defaults are refused)")
        return self

    @property
    def dev_keys_dir(self) -> Path:
        return self.data_dir / "auth" / "keys"
