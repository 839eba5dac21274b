"""The access-token verifier (gateway and services): the rejection matrix, caching and key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ipheron_libs.tokens import JwksVerifier, TokenError

ISS, AUD = "ipheron-auth", "ipheron-api"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw), "kid": kid, "alg": "EdDSA", "use": "sig"}
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISS, "aud": AUD, "sub": "user-1", "wallet": "0xabc", "iat": now, "nbf": now,
                  "exp": now + 900, "jti": "j1", "token_use": "access"}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        hdr = {"kid": self.kid, "typ": "at+jwt", **(headers or {})}
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers=hdr)


def jwks(*keys: Key) -> dict[str, Any]:
    return {"keys": [k.jwk for k in keys]}


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(signature)


@pytest.fixture()
def key() -> Key:
    return Key("k1")


@pytest.fixture()
def verifier(key: Key) -> JwksVerifier:
    v = JwksVerifier(lambda: None, ISS, AUD, leeway=5)  # type: ignore[arg-type,return-value]
    v.load_jwks(jwks(key))
    return v


def reason(verifier: JwksVerifier, token: str) -> str:
    with pytest.raises(TokenError) as info:
        verifier.verify(token)
    return info.value.reason


def test_valid_token_is_accepted_with_claims(verifier: JwksVerifier, key: Key) -> None:
    claims = verifier.verify(key.token())
    assert (claims.sub, claims.wallet, claims.kid, claims.jti) == ("user-1", "0xabc", "k1", "j1")


def test_verified_token_is_served_from_cache_until_expiry(key: Key) -> None:
    now = [time.time()]
    v = JwksVerifier(lambda: None, ISS, AUD, leeway=0, clock=lambda: now[0])  # type: ignore[arg-type,return-value]
    v.load_jwks(jwks(key))
    token = key.token(exp=int(now[0]) + 60)
    first = v.verify(token)
    assert v.verify(token) is first  # the dict hit, no signature check
    now[0] += 61
    with pytest.raises(TokenError, match="expired"):
        v.verify(token)


def test_missing_token_is_rejected(verifier: JwksVerifier) -> None:
    assert reason(verifier, "") == "missing token"


def test_alg_none_is_rejected(verifier: JwksVerifier, key: Key) -> None:
    claims = jwt.decode(key.token(), options={"verify_signature": False})
    token = unsigned({"alg": "none", "kid": "k1", "typ": "at+jwt"}, claims)
    assert "not accepted" in reason(verifier, token)


@pytest.mark.parametrize("secret", ["pem", "raw"])
def test_hs256_with_public_key_as_secret_is_rejected(verifier: JwksVerifier, key: Key, secret: str) -> None:
    claims = jwt.decode(key.token(), options={"verify_signature": False})
    header = {"alg": "HS256", "kid": "k1", "typ": "at+jwt"}
    signing_input = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
    mac_key = key.public_pem if secret == "pem" else base64.urlsafe_b64decode(key.jwk["x"] + "=")
    sig = hmac.new(mac_key, signing_input, hashlib.sha256).digest()
    assert "not accepted" in reason(verifier, signing_input.decode() + "." + b64(sig))


def test_unknown_kid_is_rejected(verifier: JwksVerifier) -> None:
    assert reason(verifier, Key("k-unknown").token()) == "unknown signing key"


def test_token_signed_by_another_key_under_a_known_kid_is_rejected(verifier: JwksVerifier) -> None:
    assert reason(verifier, Key("k1").token()) == "signature verification failed"


def test_tampered_payload_is_rejected(verifier: JwksVerifier, key: Key) -> None:
    head, _, sig = key.token().split(".")
    claims = jwt.decode(key.token(), options={"verify_signature": False}) | {"sub": "admin"}
    token = f"{head}.{b64(json.dumps(claims).encode())}.{sig}"
    assert reason(verifier, token) == "signature verification failed"


def test_expired_token_is_rejected(verifier: JwksVerifier, key: Key) -> None:
    past = int(time.time()) - 3600
    assert reason(verifier, key.token(iat=past - 900, nbf=past - 900, exp=past)) == "token has expired"


def test_wrong_issuer_and_audience_are_rejected(verifier: JwksVerifier, key: Key) -> None:
    assert "issuer" in reason(verifier, key.token(iss="someone-else"))
    assert "audience" in reason(verifier, key.token(aud="other-api"))


def test_refresh_token_or_other_jwt_used_as_access_token_is_rejected(verifier: JwksVerifier, key: Key) -> None:
    assert reason(verifier, "rt_opaque-refresh-token") == "malformed token"
    assert reason(verifier, key.token(token_use="refresh")) == "not an access token"
    assert reason(verifier, key.token(headers={"typ": "JWT"})) == "not an access token"


def test_missing_claims_are_rejected(verifier: JwksVerifier, key: Key) -> None:
    assert "'jti'" in reason(verifier, key.token(jti=None))
    assert "'exp'" in reason(verifier, key.token(exp=None))


def test_garbage_is_rejected(verifier: JwksVerifier) -> None:
    assert reason(verifier, "a.b.c") == "malformed token"
    assert reason(verifier, "x" * 9000) == "token too large"


async def test_rotation_unknown_kid_triggers_one_refetch_then_verifies() -> None:
    old, new = Key("old"), Key("new")
    served = [jwks(old)]
    fetches = []

    async def source() -> dict[str, Any]:
        fetches.append(1)
        return served[0]

    now = [time.time()]
    v = JwksVerifier(source, ISS, AUD, unknown_kid_interval=30, clock=lambda: now[0])
    await v.start()
    try:
        old_token = old.token()
        assert v.verify(old_token).kid == "old"
        served[0] = jwks(new, old)  # auth rotated: new current key, old kept for overlap
        now[0] += 31  # the start-up fetch counts towards the refetch throttle
        assert (await v.averify(new.token())).kid == "new"
        assert v.verify(old_token).kid == "old"
        assert len(fetches) == 2
        # A flood of unknown kids costs no further fetch inside the interval.
        for _ in range(20):
            with pytest.raises(TokenError, match="unknown signing key"):
                await v.averify(Key("bogus").token())
        assert len(fetches) == 2
    finally:
        await v.stop()


async def test_key_removed_from_jwks_stops_verifying_cached_tokens() -> None:
    old, new = Key("old"), Key("new")
    v = JwksVerifier(lambda: None, ISS, AUD)  # type: ignore[arg-type,return-value]
    v.load_jwks(jwks(new, old))
    token = old.token()
    v.verify(token)
    v.load_jwks(jwks(new))
    with pytest.raises(TokenError, match="unknown signing key"):
        v.verify(token)


async def test_start_tolerates_auth_being_down() -> None:
    async def source() -> dict[str, Any]:
        raise ConnectionError("auth down")

    v = JwksVerifier(source, ISS, AUD)
    await v.start()
    try:
        assert not v.ready
        with pytest.raises(TokenError, match="not loaded yet"):
            v.verify(Key("k").token())
    finally:
        await v.stop()


async def test_a_verifier_without_keys_fetches_again_for_a_token_after_the_short_retry_interval() -> None:
    """A service started before auth: the first token after auth came up waits for one fetch, not 30 s."""
    key = Key("k")
    auth_up = [False]
    now = [time.time()]

    async def source() -> dict[str, Any]:
        if not auth_up[0]:
            raise ConnectionError("auth down")
        return jwks(key)

    v = JwksVerifier(source, ISS, AUD, unknown_kid_interval=30, retry_interval=2, clock=lambda: now[0])
    await v.start()
    try:
        auth_up[0] = True
        now[0] += 1  # inside the retry interval: no fetch yet
        with pytest.raises(TokenError, match="not loaded yet"):
            await v.averify(key.token())
        now[0] += 2  # past it, though far inside the unknown-kid throttle
        assert (await v.averify(key.token())).sub == "user-1"
    finally:
        await v.stop()
