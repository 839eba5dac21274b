"""Real access tokens for route tests that do not run the auth service.

`TokenIssuer` signs RFC 9068 access tokens the way the auth service does (EdDSA,
`typ: at+jwt`, `token_use: access`) and `serve_jwks` publishes its key set over the
auth service's own `GetJwks` RPC on a free port. Point the gateway's `auth_addr` at
it and the gateway's real verifier fetches the keys and checks every token; nothing
is overridden. Every other auth RPC answers UNIMPLEMENTED.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2_grpc as pb_grpc


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenIssuer:
    """An Ed25519 signing key and the tokens it signs for the gateway's issuer and audience."""

    issuer: str = "ipheron-auth"
    audience: str = "ipheron-api"
    kid: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def jwks(self) -> dict[str, Any]:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": self.kid, "alg": "EdDSA",
                          "use": "sig"}]}

    def token(self, sub: str, wallet: str | None = None, ttl: int = 900) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.audience, "sub": sub, "iat": now, "nbf": now,
                                  "exp": now + ttl, "jti": uuid.uuid4().hex, "token_use": "access"}
        if wallet:
            claims["wallet"] = wallet
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid, "typ": "at+jwt"})

    def headers(self, sub: str, wallet: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, wallet)}"}


class _JwksOnly(pb_grpc.AuthServiceServicer):
    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer

    async def GetJwks(self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext) -> pb.GetJwksResponse:
        return pb.GetJwksResponse(jwks_json=orjson.dumps(self.issuer.jwks).decode())


@contextlib.asynccontextmanager
async def serve_jwks(issuer: TokenIssuer) -> AsyncIterator[str]:
    """Serve the issuer's key set over AuthService.GetJwks; yields the address."""
    server = grpc.aio.server()
    # Only GetJwks is implemented; every other RPC answers UNIMPLEMENTED.
    pb_grpc.add_AuthServiceServicer_to_server(_JwksOnly(issuer), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


@dataclass
class GatewayProcess:
    """`python -m ipheron_gateway` in its own process (uvicorn, as deployed), its output in `log`."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @classmethod
    def start(cls, port: int, env: dict[str, str], log: Path, timeout: float = 60) -> GatewayProcess:
        """Start it with exactly `env` (GATEWAY_PORT set to `port`) and wait for /health/live."""
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "ipheron_gateway"], env={**env, "GATEWAY_PORT": str(port)},
                                    stdout=out, stderr=subprocess.STDOUT)
        gw = cls(port, proc, log)
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gateway exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{gw.url}/health/live", timeout=1).status_code == 200:
                    return gw
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                gw.stop()
                raise AssertionError("gateway did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
