"""The gateway's edge behaviour with real channels: every error is problem+json,
gRPC statuses map through one table, a down service is named, health is honest."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from ipheron.auth.v1 import auth_service_pb2
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_gateway.problems import GRPC_TO_HTTP, grpc_problem
from ipheron_libs.devstack_ports import free_port
from pydantic import BaseModel, Field, ValidationError


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: str


def _settings(**kw: object) -> GatewaySettings:
    dead = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES}
    return GatewaySettings(**dead, health_timeout=0.3, upstream_timeout=0.5, **kw)  # type: ignore[arg-type]


@pytest.fixture()
def client() -> Iterator[TestClient]:
    app = create_app(_settings())
    test_router = APIRouter()

    @test_router.post("/api/v1/_test/items")
    async def create(item: Item) -> dict[str, str]:
        return {"name": item.name}

    @test_router.get("/api/v1/_test/upstream")
    async def upstream(request: Request) -> dict[str, str]:
        await request.app.state.upstreams.auth.GetJwks(auth_service_pb2.GetJwksRequest())
        return {}

    app.include_router(test_router)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _is_problem(resp, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("https://")
    return body  # type: ignore[no-any-return]


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    body = _is_problem(client.get("/api/v1/nope"), 404)
    assert "/api/v1/nope" in body["detail"]


def test_malformed_json_is_a_400_problem(client: TestClient) -> None:
    resp = client.post("/api/v1/_test/items", content=b'{"name": ', headers={"content-type": "application/json"})
    body = _is_problem(resp, 400)
    assert body["detail"] == "malformed JSON body"


def test_invalid_field_is_a_422_problem_naming_the_field(client: TestClient) -> None:
    body = _is_problem(client.post("/api/v1/_test/items", json={"name": "", "price": "1"}), 422)
    assert [e["field"] for e in body["errors"]] == ["name"]
    assert "name" in body["detail"]


def test_down_service_is_a_503_naming_it_without_internal_detail(client: TestClient) -> None:
    body = _is_problem(client.get("/api/v1/_test/upstream"), 503)
    assert body["service"] == "auth"
    assert "auth" in body["detail"]
    assert "127.0.0.1" not in str(body) and "Traceback" not in str(body)


def test_health_is_503_and_names_every_down_component(client: TestClient) -> None:
    resp = client.get("/health")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unhealthy"
    assert {f"service:{s}" for s in SERVICES} <= set(body["down"])
    # No REDIS_URL in this test app: Redis is listed as degraded, not as a reason for 503.
    assert "redis" in body["degraded"] and "redis" not in body["down"]
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").status_code == 503


def test_metrics_expose_the_seed_metric_names(client: TestClient) -> None:
    client.get("/health/live")
    text = client.get("/metrics").text
    for name in ("api_requests_total", "api_duration_seconds", "cache_hits_total", "cache_misses_total",
                 "ai_predictions_total", "blockchain_transactions_total", "database_queries_total"):
        assert name in text
    assert 'api_requests_total{endpoint="/health/live",status="200"}' in text


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert client.get("/health/live", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/health/live", headers={"X-Request-ID": "bad id\x01"}).headers["x-request-id"]
    assert generated != "bad id\x01" and len(generated) == 32


def test_cors_allows_configured_origins_only(client: TestClient) -> None:
    pre = {"Access-Control-Request-Method": "GET"}
    ok = client.options("/health", headers={"Origin": "http://localhost:3000", **pre})
    assert ok.headers.get("access-control-allow-origin") == "http://localhost:3000"
    assert ok.headers.get("access-control-allow-credentials") == "true"
    bad = client.options("/health", headers={"Origin": "https://evil.example", **pre})
    assert "access-control-allow-origin" not in bad.headers


def test_wildcard_cors_origin_is_refused() -> None:
    with pytest.raises(ValidationError, match="not allowed"):
        GatewaySettings(cors_origins=["*"])


@pytest.mark.parametrize(("code", "status"), [
    (grpc.StatusCode.INVALID_ARGUMENT, 400), (grpc.StatusCode.FAILED_PRECONDITION, 400),
    (grpc.StatusCode.UNAUTHENTICATED, 401), (grpc.StatusCode.PERMISSION_DENIED, 403),
    (grpc.StatusCode.NOT_FOUND, 404), (grpc.StatusCode.ALREADY_EXISTS, 409), (grpc.StatusCode.ABORTED, 409),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 429), (grpc.StatusCode.UNAVAILABLE, 503),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 504), (grpc.StatusCode.INTERNAL, 500), (grpc.StatusCode.UNKNOWN, 500),
])
def test_grpc_status_maps_to_http_status(code: grpc.StatusCode, status: int) -> None:
    err = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="db password=x failed")
    resp = grpc_problem(err, "assets", "/api/v1/assets")
    assert resp.status_code == status == GRPC_TO_HTTP.get(code, 500)
    if status >= 500:
        assert b"password" not in resp.body
