"""Edge limits in one process: the client address from trusted proxies only, the body
size limit (declared and streamed), gRPC's message-size refusal as 413 with our own
wording, and the gateway's production settings."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fastapi.testclient import TestClient
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_gateway.problems import grpc_problem
from ipheron_gateway.ratelimit import client_ip
from ipheron_libs.devstack_ports import free_port
from pydantic import ValidationError

PROXIES = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")]


def _scope(peer: str, *xff: str) -> dict[str, object]:
    return {"type": "http", "client": (peer, 5555), "headers": [(b"x-forwarded-for", v.encode()) for v in xff]}


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert client_ip(_scope("127.0.0.1", "198.51.100.7"), ()) == "127.0.0.1"


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    assert client_ip(_scope("192.0.2.50", "198.51.100.7"), PROXIES) == "192.0.2.50"


def test_client_is_the_right_most_untrusted_hop() -> None:
    assert client_ip(_scope("127.0.0.1", "1.1.1.1, 198.51.100.7, 10.0.0.3"), PROXIES) == "198.51.100.7"
    # Two headers read as one list, in order.
    assert client_ip(_scope("10.9.9.9", "6.6.6.6", "198.51.100.8"), PROXIES) == "198.51.100.8"
    # A garbage hop is not a trusted proxy: it is the client (so spoofing cannot skip past it).
    assert client_ip(_scope("127.0.0.1", "198.51.100.7, not-an-ip"), PROXIES) == "not-an-ip"
    # Every hop trusted: the left-most is as far as we can see.
    assert client_ip(_scope("127.0.0.1", "10.0.0.1, 10.0.0.2"), PROXIES) == "10.0.0.1"


def test_gateway_settings_need_no_database_in_production() -> None:
    s = GatewaySettings(env="production", redis_url="redis://127.0.0.1:6379/0", database_url=None,
                        tls_dir="/etc/ipheron/tls")
    assert s.env == "production" and s.database_url is None
    with pytest.raises(ValidationError, match="REDIS_URL is required"):
        GatewaySettings(env="production", redis_url=None, tls_dir="/etc/ipheron/tls")


def test_gateway_settings_refuse_production_without_mutual_tls() -> None:
    # The gateway dials every service; in production it must do so with its client certificate.
    with pytest.raises(ValidationError, match="IPHERON_TLS_DIR"):
        GatewaySettings(env="production", redis_url="redis://127.0.0.1:6379/0")


def test_the_old_forwarded_for_switch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TRUST_FORWARDED_FOR", "true")
    with pytest.raises(ValidationError, match="GATEWAY_TRUSTED_PROXIES"):
        GatewaySettings()


def test_trusted_proxies_parse_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", '["127.0.0.1", "10.0.0.0/8", "::1"]')
    assert [str(n) for n in GatewaySettings().trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


@pytest.fixture()
def client() -> Iterator[TestClient]:
    dead = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES}
    app = create_app(GatewaySettings(**dead, upstream_timeout=0.3, max_body_bytes=2048,  # type: ignore[arg-type]
                                     max_upload_bytes=8192))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _is_413(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == 413, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["status"] == 413 and "larger than" in resp.json()["detail"]


def test_declared_oversized_json_body_is_413(client: TestClient) -> None:
    _is_413(client.post("/api/v1/auth/nonce", content=b"{" + b" " * 4000 + b"}",
                        headers={"content-type": "application/json"}))


def test_streamed_oversized_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(10):
            yield b" " * 500

    _is_413(client.post("/api/v1/auth/nonce", content=chunks(), headers={"content-type": "application/json"}))


def test_upload_routes_take_the_larger_limit(client: TestClient) -> None:
    # 4 KiB passes the upload limit (8 KiB): the route runs and asks for a token.
    assert client.post("/api/v1/files", content=b"x" * 4096).status_code == 401
    _is_413(client.post("/api/v1/files", content=b"x" * 9000))
    assert client.post("/api/v1/auth/nonce", json={"address": "0x" + "1" * 40}).status_code == 503  # small is fine


@pytest.mark.parametrize(("details", "status"), [
    ("SERVER: Received message larger than max (30000005 vs. 8388608)", 413),
    ("Stream removed (CLIENT: Received message larger than max (9000000 vs. 8388608))", 500),
    ("quota of db password=x exceeded", 429),
])
def test_resource_exhausted_is_413_for_message_size_and_never_shows_grpc_text(details: str, status: int) -> None:
    err = grpc.aio.AioRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                               details=details)
    resp = grpc_problem(err, "auth", "/api/v1/auth/login")
    assert resp.status_code == status
    assert b"larger than max" not in resp.body and b"password" not in resp.body and b"8388608" not in resp.body


async def test_a_real_grpc_size_refusal_is_413() -> None:
    """Through a real channel to a server with a small message limit."""
    from grpc_health.v1 import health_pb2

    async def check(
        req: health_pb2.HealthCheckRequest, ctx: grpc.aio.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 1024)])
    handler = grpc.unary_unary_rpc_method_handler(check, request_deserializer=health_pb2.HealthCheckRequest.FromString,
                                                  response_serializer=health_pb2.HealthCheckResponse.SerializeToString)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            call = ch.unary_unary("/grpc.health.v1.Health/Check",
                                  request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                  response_deserializer=health_pb2.HealthCheckResponse.FromString)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(health_pb2.HealthCheckRequest(service="x" * 5000), timeout=5)
    finally:
        await server.stop(None)
    resp = grpc_problem(refused.value, "auth", "/api/v1/auth/login")
    assert resp.status_code == 413 and b"larger than max" not in resp.body


def test_the_dev_faucet_does_not_exist_in_production(tmp_path: Path) -> None:
    from ipheron_libs.mtls import generate_dev_pki

    dead = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES}
    tls_dir = generate_dev_pki(tmp_path, ["gateway"]) / "gateway"
    prod = create_app(GatewaySettings(env="production", redis_url="redis://127.0.0.1:1/0",  # type: ignore[arg-type]
                                      tls_dir=tls_dir, **dead))
    dev = create_app(GatewaySettings(**dead))  # type: ignore[arg-type]
    assert "/api/v1/dev/faucet" not in prod.openapi()["paths"]
    assert "/api/v1/dev/faucet" in dev.openapi()["paths"]
    with TestClient(prod, raise_server_exceptions=False) as c:
        resp = c.post("/api/v1/dev/faucet", json={"address": "0x" + "1" * 40, "amount": "1"})
    assert resp.status_code == 404 and resp.headers["content-type"] == "application/problem+json"


def test_production_refuses_a_disabled_rate_limiter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ipheron_libs.mtls import generate_dev_pki
    from ipheron_libs.settings import InsecureSettingError

    dead = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES}
    tls_dir = generate_dev_pki(tmp_path, ["gateway"]) / "gateway"
    monkeypatch.setenv("GATEWAY_RATELIMIT_ENABLED", "false")
    with pytest.raises(InsecureSettingError, match="GATEWAY_RATELIMIT_ENABLED"):
        create_app(GatewaySettings(env="production", redis_url="redis://127.0.0.1:1/0",  # type: ignore[arg-type]
                                   tls_dir=tls_dir, **dead))
    assert create_app(GatewaySettings(**dead))  # type: ignore[arg-type]  # development may switch it off
