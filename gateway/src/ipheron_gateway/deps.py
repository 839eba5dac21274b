"""FastAPI dependencies, as Annotated aliases so handlers read like sentences:
`async def me(user: CurrentUser, stubs: Stubs)`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from ipheron_libs.grpc_client import user_token_var
from ipheron_libs.tokens import TokenError

from ipheron_gateway.clients import Upstreams
from ipheron_gateway.problems import Problem

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_\-:.]{8,128}$")


@dataclass(frozen=True)
class User:
    """The caller, from a verified access token (kept to carry to the services, never shown)."""

    id: str
    wallet: str | None
    claims: dict[str, Any] = field(default_factory=dict)
    token: str = field(default="", repr=False)


async def _upstreams(request: Request) -> Upstreams:
    # async on purpose: FastAPI runs sync dependencies in a worker thread (a hop per request).
    return request.app.state.upstreams


Stubs = Annotated[Upstreams, Depends(_upstreams)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Authorization header must be 'Bearer <access token>'",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_request"'})
    return token.strip()


async def user_from_request(request: Request) -> User | None:
    """Verify the bearer token locally (JWKS cache, no auth hop); None when absent.

    The rate-limit middleware usually verified it already and left the user on
    the request; otherwise verify here (waiting for one JWKS refetch on an
    unknown key id, as after a key rotation). The verified token then rides on
    every gRPC call this request makes (`user_token_var`): the services verify
    it themselves before acting for the user.
    """
    cached = getattr(request.state, "user", None)
    if cached is not None:
        user_token_var.set(cached.token)
        return cached
    token = bearer_token(request)
    if token is None:
        return None
    verifier = getattr(request.app.state, "verifier", None)
    if verifier is None:
        raise Problem(503, "token verification is not available")
    try:
        claims = await verifier.averify(token)
    except TokenError as exc:  # its reason is safe to show
        raise Problem(401, f"invalid access token: {exc.reason}",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    user = User(id=str(claims.sub), wallet=claims.wallet, claims=dict(claims.raw), token=token)
    request.state.user = user
    user_token_var.set(token)
    return user


async def _current_user(request: Request) -> User:
    user = await user_from_request(request)
    if user is None:
        raise Problem(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
    return user


async def _optional_user(request: Request) -> User | None:
    return await user_from_request(request)


CurrentUser = Annotated[User, Depends(_current_user)]
OptionalUser = Annotated[User | None, Depends(_optional_user)]


def _checked_key(value: str) -> str:
    if not _IDEMPOTENCY_KEY.match(value):
        raise Problem(400, "Idempotency-Key must be 8-128 characters of A-Z a-z 0-9 _ - : .",
                      errors=[{"field": "Idempotency-Key", "message": "invalid format"}])
    return value


async def _idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str:
    if idempotency_key is None:
        raise Problem(400, "the Idempotency-Key header is required for this request",
                      errors=[{"field": "Idempotency-Key", "message": "required"}])
    return _checked_key(idempotency_key)


async def _optional_idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str:
    return "" if idempotency_key is None else _checked_key(idempotency_key)


IdempotencyKey = Annotated[str, Depends(_idempotency_key)]
# "" when the client sent none (the write is then not deduplicated).
OptionalIdempotencyKey = Annotated[str, Depends(_optional_idempotency_key)]
