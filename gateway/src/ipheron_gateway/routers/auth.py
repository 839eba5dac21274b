"""Sign-In with Ethereum and token routes: /api/v1/auth/* and /.well-known/jwks.json.

The router is root-level (the JWKS document lives outside /api/v1), so its API
paths carry the prefix themselves.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, status
from ipheron.auth.v1 import auth_service_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from ipheron_gateway.deps import Stubs
from ipheron_gateway.problems import UPSTREAM, problem_responses
from ipheron_gateway.responses import stamp
from ipheron_gateway.routers.users import UserOut, user_out

API = "/api/v1/auth"
router = APIRouter(tags=["auth"])


class NonceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(max_length=42, description="0x-prefixed wallet address (any letter case)",
                         examples=["0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"])


class NonceOut(BaseModel):
    nonce: str
    address: str = Field(description="EIP-55 form of the address")
    domain: str
    uri: str
    chain_id: int
    version: str
    statement: str
    issued_at: str
    expiration_time: str
    message: str = Field(description="The full EIP-4361 message: sign it unchanged (EIP-191 personal_sign)")


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(max_length=8192)
    signature: str = Field(max_length=8192, description="0x-prefixed hex signature")


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(max_length=512)


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_expires_at: str


class LoginOut(TokensOut):
    user: UserOut
    created: bool = Field(description="true when this sign-in created the account")


class JwksOut(BaseModel):
    """A JSON Web Key Set (RFC 7517)."""

    keys: list[dict[str, Any]]


def _tokens(t: pb.TokenPair) -> dict[str, Any]:
    return {"access_token": t.access_token, "refresh_token": t.refresh_token, "token_type": t.token_type,
            "expires_in": t.expires_in, "refresh_expires_at": stamp(t.refresh_expires_at)}


@router.post(f"{API}/nonce", response_model=NonceOut, responses=problem_responses(400, 413, 422, *UPSTREAM),
             summary="Get a single-use SIWE nonce and the message to sign")
async def create_nonce(body: NonceIn, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.auth.CreateNonce(pb.CreateNonceRequest(address=body.address))
    return {"nonce": r.nonce, "address": r.address, "domain": r.domain, "uri": r.uri, "chain_id": r.chain_id,
            "version": r.version, "statement": r.statement, "issued_at": r.issued_at,
            "expiration_time": r.expiration_time, "message": r.message}


@router.post(f"{API}/login", response_model=LoginOut, responses=problem_responses(400, 401, 413, 422, *UPSTREAM),
             summary="Sign in with a signed EIP-4361 message")
async def login(body: LoginIn, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.auth.Login(pb.LoginRequest(message=body.message, signature=body.signature))
    return {**_tokens(r.tokens), "user": user_out(r.user, private=True), "created": r.created}


@router.post(f"{API}/refresh", response_model=TokensOut,
             responses=problem_responses(400, 401, 413, 422, *UPSTREAM), summary="Rotate a refresh token (single use)")
async def refresh(body: RefreshIn, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.auth.Refresh(pb.RefreshRequest(refresh_token=body.refresh_token))
    return _tokens(r.tokens)


@router.post(f"{API}/logout", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(400, 401, 413, 422, *UPSTREAM), summary="Revoke the session's refresh tokens")
async def logout(body: RefreshIn, stubs: Stubs) -> Response:
    await stubs.auth.Logout(pb.LogoutRequest(refresh_token=body.refresh_token))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/.well-known/jwks.json", response_model=JwksOut, responses=problem_responses(*UPSTREAM),
            summary="Public keys that verify access tokens (RFC 7517)")
async def jwks(request: Request, stubs: Stubs) -> Response:
    verifier = getattr(request.app.state, "verifier", None)
    doc = getattr(verifier, "jwks_document", None)
    if doc is None:
        doc = orjson.loads((await stubs.auth.GetJwks(pb.GetJwksRequest())).jwks_json)
    return Response(orjson.dumps(doc), media_type="application/json", headers={"Cache-Control": "public, max-age=300"})
