"""Signing keys: development persistence, rotation overlap, PEM settings."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from auth_service.keys import KeyRing, SigningKey, load_keyring, rotate_dev_keys
from auth_service.service import utcnow
from auth_service.tokens import issue_access_token


def test_development_keys_are_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_keyring(None, None, tmp_path / "keys")
    second = load_keyring(None, None, tmp_path / "keys")
    assert first.current.kid == second.current.kid
    assert oct((tmp_path / "keys" / "current.pem").stat().st_mode & 0o777) == "0o600"


def test_rotation_keeps_previous_key_in_jwks_and_old_tokens_verify(tmp_path: Path) -> None:
    old = load_keyring(None, None, tmp_path)
    token, _ = issue_access_token(old, user_id="u", wallet="0x", issuer="i", audience="a", ttl_seconds=60, now=utcnow())
    new = rotate_dev_keys(tmp_path)
    assert new.current.kid != old.current.kid
    assert [k["kid"] for k in new.jwks()["keys"]] == [new.current.kid, old.current.kid]
    previous = next(k for k in new.keys if k.kid == jwt.get_unverified_header(token)["kid"])
    assert jwt.decode(token, previous.public_key, algorithms=["EdDSA"], audience="a")["sub"] == "u"


def test_keys_from_pem_setting_keep_order_and_refuse_non_ed25519() -> None:
    a, b = SigningKey.generate(), SigningKey.generate()
    ring = KeyRing.from_pem_text(a.private_pem() + "\n" + b.private_pem())
    assert [k.kid for k in ring.keys] == [a.kid, b.kid]
    with pytest.raises(ValueError):
        KeyRing.from_pem_text("no key here")


def test_production_without_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_keyring(None, None, None)
