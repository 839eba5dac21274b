"""The gateway as it is deployed: `python -m ipheron_gateway` (uvicorn) in its own process.

- It starts with IPHERON_ENV=production and no DATABASE_URL (it holds no data), and
  refuses to start there without REDIS_URL (the shared rate limits).
- A client cannot dodge the auth limit with a spoofed X-Forwarded-For: uvicorn's own
  proxy-header handling is off and GATEWAY_TRUSTED_PROXIES alone decides which hops
  count (the right-most untrusted one).
- A body over the limit is refused with a 413 problem+json before it is read.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from ipheron_gateway.config import SERVICES
from ipheron_gateway.testing import GatewayProcess
from ipheron_libs.devstack_ports import free_port

Gateway = GatewayProcess


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "IPHERON_ENV", "GATEWAY_TRUSTED_PROXIES")}
    env.update({"DATA_DIR": str(tmp), "GATEWAY_UPSTREAM_TIMEOUT": "0.5", "LOG_LEVEL": "WARNING"})
    # No service runs: allowed requests get a 503 from the gateway, refused ones a 429.
    env.update({f"{s.upper()}_ADDR": f"127.0.0.1:{free_port()}" for s in SERVICES})
    env.update(extra)
    return env


def _start(tmp: Path, **extra: str) -> Gateway:
    port = free_port()
    return GatewayProcess.start(port, _env(tmp, **extra), tmp / f"gateway-{port}.log")


def _stop(gw: Gateway) -> None:
    gw.stop()


@pytest.fixture(scope="module")
def production(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Production settings, no DATABASE_URL, no trusted proxies, auth limit 5/minute."""
    from ipheron_libs.mtls import generate_dev_pki

    tmp = tmp_path_factory.mktemp("gw-prod")
    pki = generate_dev_pki(tmp / "pki", ["gateway"])
    gw = _start(tmp, IPHERON_ENV="production", REDIS_URL=redis_url, IPHERON_TLS_DIR=str(pki / "gateway"),
                GATEWAY_RATELIMIT_AUTH="5/minute")
    try:
        yield gw
    finally:
        _stop(gw)


@pytest.fixture(scope="module")
def behind_proxy(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Behind a proxy on 127.0.0.1 (GATEWAY_TRUSTED_PROXIES), auth limit 5/minute."""
    gw = _start(tmp_path_factory.mktemp("gw-proxy"), REDIS_URL=redis_url, GATEWAY_RATELIMIT_AUTH="5/minute",
                GATEWAY_TRUSTED_PROXIES='["127.0.0.1", "10.0.0.0/8"]')
    try:
        yield gw
    finally:
        _stop(gw)


def _nonce(gw: Gateway, xff: str) -> int:
    return httpx.post(f"{gw.url}/api/v1/auth/nonce", json={"address": "0x" + "1" * 40},
                      headers={"X-Forwarded-For": xff}, timeout=5).status_code


def test_gateway_starts_in_production_without_a_database_url(production: Gateway) -> None:
    assert production.proc.poll() is None
    assert httpx.get(f"{production.url}/health/live", timeout=5).json() == {"status": "alive"}


def test_gateway_refuses_production_without_redis(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "ipheron_gateway"], capture_output=True, text=True, timeout=60,
                          env=_env(tmp_path, IPHERON_ENV="production", GATEWAY_PORT=str(port),
                                   IPHERON_TLS_DIR="/etc/ipheron/tls"))
    assert proc.returncode != 0
    assert "REDIS_URL is required when IPHERON_ENV=production" in proc.stderr


def test_spoofed_forwarded_for_does_not_dodge_the_auth_limit(production: Gateway, redis_url: str) -> None:
    # No trusted proxies: every request counts against the peer, 127.0.0.1, whatever it claims.
    redis.Redis.from_url(redis_url).delete("ipheron:rl:auth:ip:127.0.0.1")
    statuses = [_nonce(production, f"198.51.100.{i}") for i in range(8)]
    assert statuses.count(429) == 3, statuses
    assert 429 not in statuses[:5]


def test_only_the_right_most_untrusted_hop_counts(behind_proxy: Gateway) -> None:
    client = f"203.0.113.{uuid.uuid4().int % 250}"
    # The client prepends random hops; our proxies (10.x, then the peer 127.0.0.1) append theirs.
    statuses = [_nonce(behind_proxy, f"192.0.2.{i}, {client}, 10.1.2.3") for i in range(8)]
    assert statuses.count(429) == 3, statuses
    # Another client behind the same proxies has its own quota.
    other = f"198.51.100.{uuid.uuid4().int % 250}"
    assert _nonce(behind_proxy, f"{other}, 10.1.2.3") != 429


def test_oversized_body_is_refused_before_it_is_read(production: Gateway) -> None:
    """30 MB declared: 413 problem+json at once, with the body never sent (no 429, no internal text)."""
    with socket.create_connection(("127.0.0.1", int(production.url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 30000005\r\n\r\n{\"message\": \"")
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), reply[:300]
    assert b"content-type: application/problem+json" in head.lower()
    assert b'"status":413' in body and b"larger than max" not in body
