"""Settings: shared names and production refusals."""

from __future__ import annotations

import pytest
from ipheron_libs.settings import InsecureSettingError, ServiceSettings
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
    monkeypatch.setenv("IPHERON_TLS_DIR", "/etc/ipheron/tls")
    with pytest.raises((InsecureSettingError, ValidationError), match="DATABASE_URL"):
        ServiceSettings()


def test_unknown_environment_name_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPHERON_ENV", "staging-ish")
    with pytest.raises(ValidationError):
        ServiceSettings()
