"""In production the auth service refuses the development SIWE origin and chain: a message signed
for a local page or another network must not sign anyone in here."""

from __future__ import annotations

import pytest
from auth_service.config import DEV_SIWE_DOMAIN, DEV_SIWE_URI, EMBEDDED_CHAIN_ID, Settings
from pydantic import ValidationError

PROD = {"env": "production", "database_url": "postgresql://x@h/db", "redis_url": "redis://h:6379/0",
        "tls_dir": "/etc/ipheron/tls", "jwt_private_keys": "-----BEGIN PRIVATE KEY-----\n…",
        "siwe_domain": "app.ipheron.example", "siwe_uri": "https://app.ipheron.example", "siwe_chain_id": 1}


def test_production_accepts_its_own_origin_and_chain() -> None:
    s = Settings(**PROD)
    assert (s.siwe_domain, s.siwe_chain_id) == ("app.ipheron.example", 1)


@pytest.mark.parametrize(("field", "default", "named"), [
    ("siwe_domain", DEV_SIWE_DOMAIN, "AUTH_SIWE_DOMAIN"),
    ("siwe_uri", DEV_SIWE_URI, "AUTH_SIWE_URI"),
    ("siwe_chain_id", EMBEDDED_CHAIN_ID, "AUTH_SIWE_CHAIN_ID"),
])
def test_production_refuses_each_development_siwe_default(field: str, default: object, named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings(**{**PROD, field: default})


def test_development_keeps_the_local_defaults() -> None:
    s = Settings()
    assert (s.siwe_domain, s.siwe_uri, s.siwe_chain_id) == (DEV_SIWE_DOMAIN, DEV_SIWE_URI, EMBEDDED_CHAIN_ID)
