"""Wires token verification and rate limiting into the app.

The verifier fetches the auth service's JWKS over gRPC and verifies tokens
locally; the rate-limit middleware keys requests by the verified subject (the
verification result is cached on the request so routes do not verify twice), or
by client IP for anonymous or invalid tokens.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ipheron_libs.settings import InsecureSettingError
from ipheron_libs.tokens import JwksVerifier, TokenError
from starlette.types import Scope

from ipheron_gateway.config import GatewaySettings
from ipheron_gateway.deps import User
from ipheron_gateway.ratelimit import RateLimiter, RateLimitMiddleware, RateLimitSettings


def _user(claims: Any, token: str) -> User:
    return User(id=claims.sub, wallet=claims.wallet, claims=dict(claims.raw), token=token)


def install(app: FastAPI, settings: GatewaySettings) -> None:
    async def fetch_jwks() -> str:
        from ipheron.auth.v1 import auth_service_pb2

        resp = await app.state.upstreams.auth.GetJwks(auth_service_pb2.GetJwksRequest(),
                                                      timeout=settings.upstream_timeout)
        return str(resp.jwks_json)

    verifier = JwksVerifier(fetch_jwks, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    app.state.verifier = verifier
    rl_settings = RateLimitSettings()
    if settings.env == "production" and not rl_settings.enabled:
        # Without limits one client can exhaust sign-in nonces and upstream capacity for everyone.
        raise InsecureSettingError("GATEWAY_RATELIMIT_ENABLED=false is refused when IPHERON_ENV=production")
    limiter = RateLimiter.from_settings(rl_settings, settings.redis_url)
    app.state.limiter = limiter

    def identity(scope: Scope) -> str | None:
        for k, v in scope["headers"]:
            if k == b"authorization":
                scheme, _, token = v.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token:
                    return None
                token = token.strip()
                try:
                    user = _user(verifier.verify(token), token)
                except TokenError:
                    return None  # the route answers 401; until then it counts against the IP
                scope.setdefault("state", {})["user"] = user
                return user.id
        return None

    async def start(app: FastAPI) -> None:
        await verifier.start()

    async def stop(app: FastAPI) -> None:
        await verifier.stop()
        await limiter.close()

    app.state.lifespan_hooks.append((start, stop))
    if rl_settings.enabled:
        app.add_middleware(RateLimitMiddleware, limiter=limiter, identity=identity,
                           trusted_proxies=settings.trusted_proxies)
