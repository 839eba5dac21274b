"""Access JWTs (EdDSA, 15 minutes, with kid) and opaque refresh tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

import jwt

from auth_service.keys import ALGORITHM, KeyRing

ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068 header typ, so no other JWT passes as an access token
REFRESH_PREFIX = "rt_"


def issue_access_token(ring: KeyRing, *, user_id: str, wallet: str, issuer: str, audience: str,
                       ttl_seconds: int, now: datetime) -> tuple[str, str]:
    """Sign an access token with the current key; returns (token, jti)."""
    iat = int(now.timestamp())
    jti = uuid.uuid4().hex
    claims = {"iss": issuer, "aud": audience, "sub": user_id, "wallet": wallet, "iat": iat,
              "nbf": iat, "exp": iat + ttl_seconds, "jti": jti, "token_use": "access"}
    key = ring.current
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE})
    return token, jti


def new_refresh_token() -> tuple[str, bytes]:
    """A random opaque refresh token and the hash that is stored instead of it."""
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> bytes:
    # 256 random bits need no slow KDF: a fast hash keeps a DB leak from yielding tokens.
    return hashlib.sha256(token.encode()).digest()
