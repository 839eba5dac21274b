"""The shared gRPC bootstrap over a real server and channel: health lifecycle,
typed errors become statuses, unexpected errors never leak, request ids flow."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron_libs import grpc_server, telemetry
from ipheron_libs.errors import FIELD_METADATA_KEY, InvalidArgument, NotFound
from ipheron_libs.grpc_client import channel

SEEN_REQUEST_IDS: list[str | None] = []


async def _ok(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    SEEN_REQUEST_IDS.append(telemetry.request_id_var.get())
    return b"pong:" + request


async def _not_found(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise NotFound("asset 42 does not exist")


async def _invalid(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise InvalidArgument("price must be greater than 0", field="price")


async def _boom(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError("password=hunter2 at db.internal:5432")


def _register(server: grpc.aio.Server) -> None:
    handlers = {name: grpc.unary_unary_rpc_method_handler(fn) for name, fn in
                {"Ok": _ok, "NotFound": _not_found, "Invalid": _invalid, "Boom": _boom}.items()}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.v1.TestService", handlers),))


@pytest.fixture()
async def served() -> AsyncIterator[tuple[grpc.aio.Channel, grpc.aio.Server, object]]:
    server, port, health = grpc_server.build_server("test", _register, ["test.v1.TestService"])
    ch = channel(f"127.0.0.1:{port}")
    yield ch, server, health
    await ch.close()
    await server.stop(0)


def _call(ch: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return ch.unary_unary(f"/test.v1.TestService/{method}")


async def test_health_is_serving_only_after_start_and_not_serving_after_stop(served) -> None:  # type: ignore[no-untyped-def]
    ch, server, health = served
    stub = health_pb2_grpc.HealthStub(ch)
    await server.start()
    # Registered but before start(): NOT_SERVING is the initial state of named services.
    before = await stub.Check(health_pb2.HealthCheckRequest(service=""))
    assert before.status != health_pb2.HealthCheckResponse.SERVING
    await grpc_server.start(server, health, ["test.v1.TestService"])  # type: ignore[arg-type]
    after = await stub.Check(health_pb2.HealthCheckRequest(service="test.v1.TestService"))
    assert after.status == health_pb2.HealthCheckResponse.SERVING
    await health.enter_graceful_shutdown()  # type: ignore[attr-defined]
    draining = await stub.Check(health_pb2.HealthCheckRequest(service="test.v1.TestService"))
    assert draining.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_typed_errors_become_their_grpc_status_with_the_reason(served) -> None:  # type: ignore[no-untyped-def]
    ch, server, health = served
    await grpc_server.start(server, health)  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as nf:
        await _call(ch, "NotFound")(b"x")
    assert nf.value.code() == grpc.StatusCode.NOT_FOUND
    assert nf.value.details() == "asset 42 does not exist"
    with pytest.raises(grpc.aio.AioRpcError) as inv:
        await _call(ch, "Invalid")(b"x")
    assert inv.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(inv.value.trailing_metadata())[FIELD_METADATA_KEY] == "price"


async def test_unexpected_error_is_internal_without_detail(served) -> None:  # type: ignore[no-untyped-def]
    ch, server, health = served
    await grpc_server.start(server, health)  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await _call(ch, "Boom")(b"x")
    assert exc.value.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (exc.value.details() or "")
    assert exc.value.details() == "internal error"


async def test_request_id_from_the_caller_reaches_the_handler(served) -> None:  # type: ignore[no-untyped-def]
    ch, server, health = served
    await grpc_server.start(server, health)  # type: ignore[arg-type]
    SEEN_REQUEST_IDS.clear()
    token = telemetry.request_id_var.set("req-abc-123")
    try:
        assert await _call(ch, "Ok")(b"ping") == b"pong:ping"
    finally:
        telemetry.request_id_var.reset(token)
    assert await _call(ch, "Ok")(b"ping") == b"pong:ping"
    assert SEEN_REQUEST_IDS[0] == "req-abc-123"
    assert SEEN_REQUEST_IDS[1] and SEEN_REQUEST_IDS[1] != "req-abc-123"  # generated when absent
