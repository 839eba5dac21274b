"""The whole system as real processes: a request goes gateway -> service ->
PostgreSQL under one trace; health, docs and metrics are served; a service that
dies is named in the 503 and comes back."""

from __future__ import annotations

import secrets

import httpx
from helpers import sign_in, spans
from ipheron_devstack.stack import Stack
from ipheron_gateway.routers.users import UserOut
from ipheron_libs.testing import wait_until


def test_request_goes_gateway_to_service_to_postgres_under_one_trace(stack: Stack, api: httpx.Client) -> None:
    session = sign_in(api)
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    resp = api.get("/api/v1/users/me", headers={**session.headers, "traceparent": traceparent})
    assert resp.status_code == 200, resp.text
    assert resp.json()["wallet_address"] == session.account.address
    # The route skips response re-validation for speed; its documented model still holds.
    assert UserOut.model_validate(resp.json()).id == session.user["id"]
    found = spans(stack.trace_file, trace_id, want=3)  # type: ignore[attr-defined]
    by_service = {s["service"] for s in found}
    assert {"gateway", "auth"} <= by_service, found
    gateway_span = next(s for s in found if s["service"] == "gateway")
    rpc_span = next(s for s in found if s["service"] == "auth" and s["kind"] == "SERVER")
    db_spans = [s for s in found if s["service"] == "auth" and s["attributes"].get("db.system") == "postgresql"]
    assert gateway_span["name"] == "GET /api/v1/users/me"
    assert rpc_span["name"].startswith("/ipheron.auth.v1.AuthService/")
    assert db_spans, "no database span in the trace"
    # The service span is a child of the gateway's, and the SELECT a child of the service span.
    assert rpc_span["parent_id"] == gateway_span["span_id"], (traceparent, found)
    assert any(d["parent_id"] == rpc_span["span_id"] for d in db_spans)


def test_health_lists_every_component_healthy(api: httpx.Client) -> None:
    resp = api.get("/health")
    body = resp.json()
    assert resp.status_code == 200, body
    assert body["status"] in ("healthy", "degraded")
    components = body["components"]
    for name in ("auth", "assets", "staking", "analytics", "ai_agents", "chain"):
        assert components[f"service:{name}"]["status"] == "up"
    assert components["postgresql"]["status"] == "up"
    assert components["redis"]["status"] == "up"
    assert components["chain"]["status"] == "up" and components["chain"]["latest_block"] >= 0
    assert api.get("/health/ready").status_code == 200


def test_each_service_serves_its_own_prometheus_metrics(stack: Stack, api: httpx.Client) -> None:
    sign_in(api)  # auth answers RPCs and queries its schema
    auth = httpx.get(f"http://127.0.0.1:{stack.metrics_ports['auth']}/metrics", timeout=10).text
    assert 'grpc_server_requests_total{code="OK",method="/ipheron.auth.v1.AuthService/Login"}' in auth
    assert "database_queries_total{" in auth
    for name in ("assets", "staking", "analytics", "ai-agents", "chain"):
        resp = httpx.get(f"http://127.0.0.1:{stack.metrics_ports[name]}/metrics", timeout=10)
        assert resp.status_code == 200 and "grpc_server_requests_total" in resp.text, name


def test_docs_openapi_and_metrics_are_served(api: httpx.Client) -> None:
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    for path in ("/api/v1/auth/nonce", "/api/v1/users/me", "/api/v1/assets", "/api/v1/stakes",
                 "/api/v1/analytics/overview", "/api/v1/ai/pricing", "/api/v1/chain/status", "/health"):
        assert path in spec["paths"], path
    metrics = api.get("/metrics").text
    assert "api_requests_total" in metrics and "api_duration_seconds_bucket" in metrics


def test_unknown_route_and_bad_token_are_problems(api: httpx.Client) -> None:
    nf = api.get("/api/v1/definitely-not-here")
    assert nf.status_code == 404 and nf.headers["content-type"] == "application/problem+json"
    bad = api.get("/api/v1/users/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in bad.text


def test_a_dead_service_is_named_and_recovers_after_restart(stack: Stack, api: httpx.Client) -> None:
    session = sign_in(api)
    stack.kill("staking")
    try:
        resp = api.get("/api/v1/stakes", headers=session.headers)
        assert resp.status_code == 503, resp.text
        assert resp.json()["service"] == "staking"
        health = api.get("/health")
        assert health.status_code == 503 and "service:staking" in health.json()["down"]
        # PostgreSQL itself is fine: a dead service's unreachable entry is not the database down.
        assert "postgresql" not in health.json()["down"], health.json()
    finally:
        stack.restart("staking")
    # The gateway's channel reconnects within its short backoff (about 2 s at most).
    wait_until(lambda: api.get("/api/v1/stakes", headers=session.headers).status_code == 200, 10, interval=0.2,
               message="GET /api/v1/stakes answering 200 after staking restarted")


def test_the_gateways_certificate_alone_cannot_act_for_a_user(stack: Stack, api: httpx.Client) -> None:
    """Zero trust on the real stack: a direct call with the gateway's own certificate that names a
    user is refused without that user's access token, and with another user's; with the user's own
    token it gets through (the services verify it themselves against auth's JWKS)."""
    import grpc
    from ipheron.auth.v1 import auth_service_pb2 as auth_pb
    from ipheron.auth.v1 import auth_service_pb2_grpc as auth_grpc
    from ipheron.staking.v1 import staking_service_pb2 as staking_pb
    from ipheron.staking.v1 import staking_service_pb2_grpc as staking_grpc

    alice, mallory = sign_in(api), sign_in(api)
    wallet = alice.address.lower()

    def as_gateway(call: object, request: object, token: str | None) -> grpc.RpcError | object:
        md = (("authorization", f"Bearer {token}"),) if token else None
        try:
            return call(request, metadata=md, timeout=10)  # type: ignore[operator]
        except grpc.RpcError as exc:
            return exc

    with stack.channel("staking", "gateway") as st, stack.channel("auth", "gateway") as au:
        list_stakes = staking_grpc.StakingServiceStub(st).ListStakes
        update = auth_grpc.AuthServiceStub(au).UpdateProfile
        alices_stakes = staking_pb.ListStakesRequest(user_id=alice.id, wallet=wallet)
        rename = auth_pb.UpdateProfileRequest(user_id=alice.id, username=f"pwned{secrets.token_hex(3)}")
        for call, request in ((list_stakes, alices_stakes), (update, rename)):
            missing = as_gateway(call, request, None)
            assert isinstance(missing, grpc.RpcError) and missing.code() == grpc.StatusCode.UNAUTHENTICATED
            foreign = as_gateway(call, request, mallory.access_token)
            assert isinstance(foreign, grpc.RpcError) and foreign.code() == grpc.StatusCode.PERMISSION_DENIED
        own = as_gateway(list_stakes, alices_stakes, alice.access_token)
        assert not isinstance(own, grpc.RpcError), own
    # Nothing was changed by the refused calls.
    me = api.get("/api/v1/users/me", headers=alice.headers)
    assert me.status_code == 200 and not str(me.json().get("username") or "").startswith("pwned")
