"""Installs token verification and rate limiting on the gateway app.

`install(app, settings)` puts a `JwksVerifier` at `app.state.verifier` (keys from
the auth service's GetJwks RPC, refreshed in the background) and a `RateLimiter`
at `app.state.limiter` (its `degraded` flag feeds /health), adds the
`RateLimitMiddleware`, and registers start/stop hooks in `app.state.lifespan_hooks`.
The middleware keys limits by the verified token's subject; the user it verified
is left in the request state so `deps.CurrentUser` does not verify twice.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.types import Scope

from ipheron_gateway.ratelimit import RateLimiter, RateLimitMiddleware, RateLimitSettings
from ipheron_gateway.security.jwt import JwksVerifier, TokenError

log = logging.getLogger("ipheron.gateway.security")


def _jwks_source(app: FastAPI, timeout: float) -> Any:
    from ipheron.auth.v1 import auth_service_pb2

    async def fetch() -> str:
        # Upstreams exist only inside the lifespan; look them up at call time.
        resp = await app.state.upstreams.auth.GetJwks(auth_service_pb2.GetJwksRequest(), timeout=timeout)
        return str(resp.jwks_json)

    return fetch


def identity_from_bearer(verifier: JwksVerifier) -> Any:
    """The user id of a request's valid bearer token, or None (then the limit is per IP)."""
    from ipheron_gateway.deps import User

    def identity(scope: Scope) -> str | None:
        state = scope.setdefault("state", {})
        cached = state.get("user")
        if cached is not None:
            return str(cached.id)
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return None
                try:
                    claims = verifier.verify(token.strip())
                except TokenError:
                    return None  # the route's CurrentUser answers 401 with the reason
                state["user"] = User(id=claims.sub, wallet=claims.wallet, claims=claims.raw)
                return claims.sub
        return None

    return identity


def install(app: FastAPI, settings: Any, rate_settings: RateLimitSettings | None = None) -> None:
    verifier = JwksVerifier(_jwks_source(app, settings.upstream_timeout), settings.jwt_issuer, settings.jwt_audience,
                            leeway=getattr(settings, "jwt_leeway_seconds", 30.0))
    app.state.verifier = verifier
    rates = rate_settings or RateLimitSettings()
    limiter: RateLimiter | None = None
    if rates.enabled:
        limiter = RateLimiter.from_settings(rates, settings.redis_url)
        app.state.limiter = limiter
        app.add_middleware(RateLimitMiddleware, limiter=limiter, identity=identity_from_bearer(verifier),
                           trust_forwarded_for=settings.trust_forwarded_for)

    async def start(_: FastAPI) -> None:
        await verifier.start()

    async def stop(_: FastAPI) -> None:
        await verifier.stop()
        if limiter is not None:
            await limiter.close()

    app.state.lifespan_hooks.append((start, stop))
