"""Settings: shared names, production refusals, secret checks."""

from __future__ import annotations

import pytest
from ipheron_libs.settings import DEV_SECRET_PREFIX, InsecureSettingError, ServiceSettings, require_secret
from pydantic import ValidationError


def test_shared_settings_are_read_from_their_plain_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("REDIS_URL", "redis://h:1/0")
    monkeypatch.setenv("DATA_DIR", "/tmp/x")
    s = ServiceSettings()
    assert (s.database_url, s.redis_url, str(s.data_dir)) == ("postgresql://u@h/db", "redis://h:1/0", "/tmp/x")
    assert s.env == "development"


def test_production_refuses_to_start_without_real_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPHERON_ENV", "production")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises((InsecureSettingError, ValidationError), match="DATABASE_URL"):
        ServiceSettings()


def test_unknown_environment_name_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPHERON_ENV", "staging-ish")
    with pytest.raises(ValidationError):
        ServiceSettings()


@pytest.mark.parametrize("value", [None, "", DEV_SECRET_PREFIX + "signer"])
def test_default_or_missing_secret_is_refused_outside_development(value: str | None) -> None:
    with pytest.raises(InsecureSettingError, match="CHAIN_SIGNER_KEY"):
        require_secret("production", "CHAIN_SIGNER_KEY", value)


def test_development_accepts_development_secrets() -> None:
    require_secret("development", "CHAIN_SIGNER_KEY", DEV_SECRET_PREFIX + "signer")
