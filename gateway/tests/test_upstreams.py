"""The gateway's upstream stubs are typed, every call carries a deadline and the
request's context, a failure names its service through a gateway-owned error, and
routers are an explicit list matched behind a literal-prefix filter."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron_gateway import routers
from ipheron_gateway.app import PrefixFilteredInclude, create_app, literal_prefixes
from ipheron_gateway.clients import UpstreamError, Upstreams
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_libs import telemetry
from ipheron_libs.devstack_ports import free_port
from starlette.routing import Match


def test_stub_calls_are_type_checked(tmp_path: Path) -> None:
    """mypy sees each RPC's request and response type: a wrong request is an error, the answer is typed."""
    from mypy import api

    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent("""
        from ipheron.assets.v1 import assets_service_pb2 as pb
        from ipheron_gateway.clients import Upstreams

        async def probe(stubs: Upstreams) -> None:
            r = await stubs.assets.GetAsset(pb.GetAssetRequest(asset_id="a"), timeout=1.0, metadata=())
            reveal_type(r)
            await stubs.assets.GetAsset(pb.ListAssetsRequest())
            stubs.assets.NoSuchRpc
    """))
    out, _, _ = api.run([str(probe), "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                         "--follow-imports", "silent", "--ignore-missing-imports"])
    assert 'Revealed type is "ipheron.assets.v1.assets_service_pb2.GetAssetResponse"' in out, out
    assert 'incompatible type "ListAssetsRequest"' in out, out
    assert '"AssetsServiceAsyncStub" has no attribute "NoSuchRpc"' in out, out


def test_upstreams_resolve_services_without_dynamic_lookup() -> None:
    from ipheron_gateway import clients

    assert "__getattr__" not in vars(Upstreams)
    assert not any("__getattr__" in vars(c) for c in vars(clients).values() if isinstance(c, type)
                   and c.__module__ == clients.__name__)
    up = Upstreams(GatewaySettings())
    assert {svc for svc in SERVICES if hasattr(up, svc)} == set(SERVICES)


class _Recorder:
    """A real AuthService endpoint answering GetJwks, recording what each call carried."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []
        self.time_remaining: list[float | None] = []
        self.fail_with: grpc.StatusCode | None = None

    async def get_jwks(
        self, request: auth_pb.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb.GetJwksResponse:
        self.metadata.append({k: str(v) for k, v in context.invocation_metadata() or ()})
        self.time_remaining.append(context.time_remaining())
        if self.fail_with is not None:
            await context.abort(self.fail_with, "db password=hunter2 at 10.0.0.7 failed")
        return auth_pb.GetJwksResponse(jwks_json='{"keys": []}')


@pytest.fixture()
async def auth_server() -> AsyncIterator[tuple[str, _Recorder]]:
    rec = _Recorder()
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(rec.get_jwks, request_deserializer=auth_pb.GetJwksRequest.FromString,
                                                  response_serializer=auth_pb.GetJwksResponse.SerializeToString)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("ipheron.auth.v1.AuthService",
                                                                          {"GetJwks": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", rec
    finally:
        await server.stop(None)


async def test_every_call_carries_a_deadline_and_the_request_id(auth_server: tuple[str, _Recorder]) -> None:
    addr, rec = auth_server
    up = Upstreams(GatewaySettings(auth_addr=addr, upstream_timeout=3.0))
    token = telemetry.request_id_var.set("req-42")
    try:
        assert (await up.auth.GetJwks(auth_pb.GetJwksRequest())).jwks_json == '{"keys": []}'
        await up.auth.GetJwks(auth_pb.GetJwksRequest(), timeout=0.8, metadata=[("x-extra", "1")])
    finally:
        telemetry.request_id_var.reset(token)
        await up.close()
    assert [m.get("x-request-id") for m in rec.metadata] == ["req-42", "req-42"]
    assert rec.metadata[1]["x-extra"] == "1"
    default, explicit = rec.time_remaining
    # The server sees the deadline the call carried (to within gRPC's clock rounding).
    assert default is not None and 2.0 < default <= 3.05
    assert explicit is not None and 0 < explicit <= 0.85


async def test_a_failed_call_is_an_upstream_error_naming_the_service(auth_server: tuple[str, _Recorder]) -> None:
    addr, rec = auth_server
    rec.fail_with = grpc.StatusCode.INTERNAL
    dead = f"127.0.0.1:{free_port()}"
    up = Upstreams(GatewaySettings(auth_addr=addr, staking_addr=dead, upstream_timeout=0.5))
    try:
        with pytest.raises(UpstreamError) as failed:
            await up.auth.GetJwks(auth_pb.GetJwksRequest())
        assert failed.value.service == "auth" and failed.value.code() == grpc.StatusCode.INTERNAL
        assert isinstance(failed.value.rpc_error, grpc.aio.AioRpcError)
        assert not hasattr(failed.value.rpc_error, "_ipheron_service")  # nothing hung on grpc's object
        from ipheron.staking.v1 import staking_service_pb2 as st_pb

        with pytest.raises(UpstreamError) as down:
            await up.staking.GetQuote(st_pb.GetQuoteRequest())
        assert down.value.service == "staking" and down.value.code() in (grpc.StatusCode.UNAVAILABLE,
                                                                         grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        await up.close()


def test_routers_are_an_explicit_list_mounted_as_listed() -> None:
    names = [a.name for a in routers.AREAS]
    assert names == ["ai", "analytics", "asset_analysis", "assets", "auth", "chain", "dev", "files", "staking", "users"]
    app = create_app(GatewaySettings())
    paths = set(app.openapi()["paths"])
    assert "/api/v1/users/{user_id}" in paths and "/.well-known/jwks.json" in paths and "/api/v1/files" in paths


def test_prefix_filter_is_a_subclass_not_a_patched_route() -> None:
    app = create_app(GatewaySettings())
    # Nothing is assigned onto FastAPI's route objects: the filter is a class with its own method.
    assert not any("matches" in vars(r) for r in app.router.routes)
    filtered = [r for r in app.router.routes if isinstance(r, PrefixFilteredInclude)]
    assert [r.original_router for r in filtered][1:] == [a.router for a in routers.AREAS]
    users = next(r for r in filtered if r.original_router is next(a.router for a in routers.AREAS
                                                                    if a.name == "users"))
    assert users.literal_prefixes == ("/api/v1/users",)
    assert literal_prefixes(users.original_router, "/api/v1") == ("/api/v1/users",)

    def scope(path: str) -> dict[str, object]:
        return {"type": "http", "path": path, "root_path": "", "method": "GET", "headers": []}

    assert users.matches(scope("/api/v1/stakes/1")) == (Match.NONE, {})
    assert users.matches(scope("/api/v1/users/me"))[0] == Match.FULL


def test_prefix_filter_costs_no_more_than_one_check_per_router() -> None:
    """A request walks each non-matching router with one startswith, not FastAPI's bookkeeping."""
    import sys

    from fastapi import routing as fastapi_routing

    app = create_app(GatewaySettings())
    calls: list[str] = []

    def profile(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "call" and frame.f_code.co_filename == fastapi_routing.__file__:
            calls.append(frame.f_code.co_name)

    probe = {"type": "http", "path": "/api/v1/nowhere", "root_path": "", "method": "GET", "headers": []}
    sys.setprofile(profile)
    try:
        results = [r.matches(probe) for r in app.router.routes if isinstance(r, PrefixFilteredInclude)]
    finally:
        sys.setprofile(None)
    assert all(m == (Match.NONE, {}) for m in results)
    assert calls == []  # FastAPI's matching never ran for a path no router can serve


async def test_prefix_filter_keeps_routing_and_templates(tmp_path: Path) -> None:
    """Requests still reach their routes (and unknown paths 404) through the filtered routers."""
    from fastapi.testclient import TestClient

    dead = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES}
    app = create_app(GatewaySettings(**dead, upstream_timeout=0.3, health_timeout=0.3))  # type: ignore[arg-type]

    def run() -> tuple[int, int, str]:
        with TestClient(app, raise_server_exceptions=False) as c:
            a = c.get("/api/v1/staking/quote", params={"asset_id": "a1", "amount": "1", "duration_days": 30})
            b = c.get("/api/v1/nope")
            metrics = c.get("/metrics").text
        return a.status_code, b.status_code, metrics

    quote, nope, metrics = await asyncio.to_thread(run)
    assert quote == 503 and nope == 404  # the route ran (and found staking down)
    assert 'endpoint="/api/v1/staking/quote",status="503"' in metrics
