"""Local verification of the auth service's access tokens against a cached JWKS.

The gateway verifies every request's bearer token with it, and each service that acts
for a user verifies the same token again, carried in the gateway's call metadata
(`ipheron_libs.grpc_client.user_token_var`, checked by `ipheron_libs.grpc_server`), so
no service trusts a bare `user_id`.

`verify` is synchronous and, for a token seen before, one dict lookup: verified
tokens are kept in a bounded LRU until they expire (keyed by the whole token
string, so a tampered token never hits). Only the asymmetric algorithm the keys
declare is accepted, which shuts out `alg: none` and HS256 key confusion; the
header must say `typ: at+jwt` (RFC 9068) and the claims `token_use: access`, so
no other JWT passes as an access token. Keys are refreshed periodically, and an
unknown `kid` triggers at most one refetch per `unknown_kid_interval` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt as pyjwt

log = logging.getLogger("ipheron.tokens")

ACCESS_TOKEN_TYPE = "at+jwt"
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "RS256"})
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud", "jti"]

JwksSource = str | Callable[[], Awaitable[dict[str, Any] | str]]


class TokenError(Exception):
    """The token is not acceptable; `reason` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Claims:
    """The verified claims (subject, wallet, ...) plus the full claim set."""

    sub: str
    wallet: str | None
    exp: int
    iat: int
    jti: str
    kid: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class _Key:
    kid: str
    algorithm: str
    key: Any


class JwksVerifier:
    """Verifies access tokens with keys fetched from the auth service."""

    def __init__(self, source: JwksSource, issuer: str, audience: str, leeway: float = 30.0, *,
                 refresh_interval: float = 300.0, unknown_kid_interval: float = 30.0, retry_interval: float = 2.0,
                 cache_size: int = 50_000, fetch_timeout: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.refresh_interval = refresh_interval
        self.unknown_kid_interval = unknown_kid_interval
        self.retry_interval = retry_interval
        self.cache_size = cache_size
        self.fetch_timeout = fetch_timeout
        self.clock = clock
        self._keys: dict[str, _Key] = {}
        self.jwks_document: dict[str, Any] | None = None  # last loaded set, served at /.well-known/jwks.json
        self._cache: OrderedDict[str, Claims] = OrderedDict()
        self._last_fetch_attempt = float("-inf")
        self._fetch_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._pending: asyncio.Task[bool] | None = None

    # --- key management -----------------------------------------------------
    @property
    def ready(self) -> bool:
        """True once a key set has been loaded (for readiness reporting)."""
        return bool(self._keys)

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def load_jwks(self, jwks: dict[str, Any] | str) -> None:
        """Replace the key set; keys with another algorithm or shape are skipped."""
        doc = json.loads(jwks) if isinstance(jwks, str) else jwks
        keys: dict[str, _Key] = {}
        for jwk in doc.get("keys", []):
            kid, alg = jwk.get("kid"), jwk.get("alg")
            if not kid or alg not in ALLOWED_ALGORITHMS or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[kid] = _Key(kid, alg, pyjwt.PyJWK(jwk, algorithm=alg).key)
            except Exception:  # noqa: BLE001 - one bad key must not drop the others
                log.warning("skipping unusable JWK %s", kid)
        if not keys:
            raise ValueError("JWKS contains no usable signing key")
        if set(keys) != set(self._keys):
            # A key that left the set must stop verifying right away, cached tokens included.
            self._cache.clear()
            log.info("JWKS loaded: %s", ", ".join(sorted(keys)))
        self._keys = keys
        self.jwks_document = doc

    async def _fetch(self) -> dict[str, Any] | str:
        if isinstance(self.source, str):
            import httpx

            async with httpx.AsyncClient(timeout=self.fetch_timeout) as client:
                resp = await client.get(self.source)
                resp.raise_for_status()
                return resp.json()
        return await asyncio.wait_for(self.source(), timeout=self.fetch_timeout)

    async def refresh(self) -> bool:
        """Fetch and load the key set now; False (logged) if that failed."""
        async with self._fetch_lock:
            self._last_fetch_attempt = self.clock()
            try:
                self.load_jwks(await self._fetch())
                return True
            except Exception as exc:  # noqa: BLE001 - keep the old keys and retry later
                log.warning("JWKS fetch failed: %s", exc)
                return False

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval if self._keys else self.retry_interval)
            await self.refresh()

    async def start(self) -> None:
        """Load keys (tolerating an auth service that is not up yet) and keep them fresh."""
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def stop(self) -> None:
        for task in (self._task, self._pending):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass

    def _refetch_allowed(self) -> bool:
        # Without any key yet (auth was not up at start) a token may ask again every retry interval.
        interval = self.unknown_kid_interval if self._keys else self.retry_interval
        return self.clock() - self._last_fetch_attempt >= interval

    def _schedule_refetch(self) -> asyncio.Task[bool] | None:
        if self._pending is not None and not self._pending.done():
            return self._pending
        if not self._refetch_allowed():
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._last_fetch_attempt = self.clock()  # throttle even before the task runs
        self._pending = loop.create_task(self.refresh())
        return self._pending

    # --- verification -----------------------------------------------------------
    def verify(self, token: str) -> Claims:
        """Verify an access token; raise `TokenError(reason)` if it is not acceptable."""
        if not token:
            raise TokenError("missing token")
        hit = self._cache.get(token)
        if hit is not None:
            if hit.exp + self.leeway > self.clock():
                self._cache.move_to_end(token)  # LRU: hot tokens stay, idle ones age out
                return hit
            del self._cache[token]
            raise TokenError("token has expired")
        claims = self._verify_uncached(token)
        self._cache[token] = claims
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return claims

    async def averify(self, token: str) -> Claims:
        """Like `verify`, but waits for one JWKS refetch when the kid is unknown (rotation)."""
        try:
            return self.verify(token)
        except TokenError as exc:
            if exc.reason != "unknown signing key" and exc.reason != "signing keys are not loaded yet":
                raise
            task = self._pending if self._pending is not None and not self._pending.done() else None
            if task is None:
                raise
            await task
            return self.verify(token)

    def _verify_uncached(self, token: str) -> Claims:
        if len(token) > 8192:
            raise TokenError("token too large")
        try:
            header = pyjwt.get_unverified_header(token)
        except pyjwt.InvalidTokenError:
            raise TokenError("malformed token") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise TokenError(f"algorithm {alg!r} is not accepted")
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise TokenError("not an access token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("token has no key id")
        key = self._keys.get(kid)
        if key is None:
            self._schedule_refetch()
            raise TokenError("signing keys are not loaded yet" if not self._keys else "unknown signing key")
        if key.algorithm != alg:
            raise TokenError(f"algorithm {alg!r} does not match the signing key")
        try:
            payload = pyjwt.decode(
                token, key.key, algorithms=[key.algorithm], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": _REQUIRED_CLAIMS},
            )
        except pyjwt.ExpiredSignatureError:
            raise TokenError("token has expired") from None
        except pyjwt.ImmatureSignatureError:
            raise TokenError("token is not valid yet") from None
        except pyjwt.InvalidAudienceError:
            raise TokenError("token is for another audience") from None
        except pyjwt.InvalidIssuerError:
            raise TokenError("token is from another issuer") from None
        except pyjwt.InvalidSignatureError:
            raise TokenError("signature verification failed") from None
        except pyjwt.MissingRequiredClaimError as exc:
            raise TokenError(f"token lacks the {exc.claim!r} claim") from None
        except pyjwt.InvalidTokenError:
            raise TokenError("malformed token") from None
        if payload.get("token_use") != "access":
            raise TokenError("not an access token")
        sub = payload.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenError("token has no subject")
        return Claims(sub=sub, wallet=payload.get("wallet"), exp=int(payload["exp"]), iat=int(payload["iat"]),
                      jti=str(payload["jti"]), kid=kid, raw=payload)


def grpc_jwks_source(auth_client: Any, timeout: float = 5.0) -> Callable[[], Awaitable[str]]:
    """A JWKS source that asks the auth service's GetJwks RPC (no HTTP hop to ourselves)."""
    from ipheron.auth.v1 import auth_service_pb2

    async def fetch() -> str:
        resp = await auth_client.GetJwks(auth_service_pb2.GetJwksRequest(), timeout=timeout)
        return str(resp.jwks_json)

    return fetch
