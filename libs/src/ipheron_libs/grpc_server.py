"""grpc.aio server bootstrap shared by every service: health (SERVING only after
start, NOT_SERVING on shutdown), reflection, graceful stop, and one interceptor
that gives every RPC a request id, a server span continuing the caller's trace,
a log line, a metric, and the mapping from typed domain errors to gRPC status.

With mutual TLS the same interceptor admits each RPC's allow-listed callers only
(`ipheron_libs.access`), and on an RPC that acts for a user it verifies that user's
access token from the call's `authorization` metadata: the gateway's certificate
alone cannot act for anyone."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import context as otel_context
from opentelemetry import trace

from ipheron_libs import access, telemetry
from ipheron_libs.errors import FIELD_METADATA_KEY, DomainError
from ipheron_libs.metrics import GRPC_REQUESTS
from ipheron_libs.mtls import TlsIdentity, peer_identity
from ipheron_libs.tokens import JwksVerifier, TokenError

log = logging.getLogger("ipheron.grpc")
REQUEST_ID_KEY = "x-request-id"
# The end user's access token on a call made for them ("Bearer <token>"; ipheron_libs.grpc_client).
USER_TOKEN_KEY = "authorization"
SLOW_RPC_SECONDS = 1.0


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Request id, tracing, logging, metrics and error mapping, in one wrapper.

    One wrapper rather than four stacked ones, built once per method and reused:
    every layer and allocation costs on each call, and the hot paths are measured
    against a bare server in bench/. Spans are made only when something exports
    them; otherwise an incoming trace context is still made current, so calls this
    service makes continue the caller's trace.
    """

    def __init__(self, service: str, *, enforce_access: bool = False,
                 user_tokens: JwksVerifier | None = None) -> None:
        self.tracer = telemetry.tracer("ipheron.grpc")
        self.service = service
        # With mutual TLS every caller has a verified identity; each RPC then admits only the
        # identities ipheron_libs.access names (health stays open for probes), and the gateway's
        # calls for a user must carry that user's access token, verified with `user_tokens`.
        self.enforce_access = enforce_access
        self.user_tokens = user_tokens
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        self._counters: dict[tuple[str, grpc.StatusCode], Any] = {}

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = details.method
        cached = self._handlers.get(method)
        if cached is not None:
            return cached
        handler = await continuation(details)
        if handler is None or method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler
        if handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        elif handler.unary_stream is not None:
            wrapped = grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        else:
            # Streaming-request RPCs are not wrapped, so they could not be checked: refused
            # (UNIMPLEMENTED) when access is enforced, rather than served unchecked.
            return None if self.enforce_access else handler
        self._handlers[method] = wrapped
        return wrapped

    def _enter(self, method: str, context: grpc.aio.ServicerContext) -> tuple[Any, Any, Any]:
        md = context.invocation_metadata() or ()
        rid = None
        has_trace = False
        for k, v in md:
            if k == REQUEST_ID_KEY:
                rid = v if isinstance(v, str) else None
            elif k == "traceparent":
                has_trace = True
        token = telemetry.request_id_var.set(rid or uuid.uuid4().hex)
        if telemetry.exporting():
            ctx = telemetry.extract_context(md)
            span = self.tracer.start_span(method, context=ctx, kind=trace.SpanKind.SERVER,
                                          attributes={"rpc.system": "grpc", "rpc.method": method})
            return token, span, otel_context.attach(trace.set_span_in_context(span, ctx))
        if has_trace:
            return token, trace.INVALID_SPAN, otel_context.attach(telemetry.extract_context(md))
        return token, trace.INVALID_SPAN, None

    def _count(self, method: str, code: grpc.StatusCode) -> None:
        counter = self._counters.get((method, code))
        if counter is None:
            counter = self._counters[(method, code)] = GRPC_REQUESTS.labels(method=method, code=code.name)
        counter.inc()

    def _exit(self, method: str, token: Any, span: Any, octx: Any, code: grpc.StatusCode, started: float) -> None:
        elapsed = time.perf_counter() - started
        self._count(method, code)
        if code is not grpc.StatusCode.OK:
            span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code is grpc.StatusCode.INTERNAL or elapsed > SLOW_RPC_SECONDS:
            log.warning("rpc %s %s %.1fms", method, code.name, elapsed * 1000)
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("rpc %s %s %.1fms", method, code.name, elapsed * 1000)
        span.end()
        if octx is not None:
            otel_context.detach(octx)
        telemetry.request_id_var.reset(token)

    async def _fail(self, context: grpc.aio.ServicerContext, exc: BaseException, span: Any) -> grpc.StatusCode:
        if isinstance(exc, DomainError):
            if exc.field:
                context.set_trailing_metadata(((FIELD_METADATA_KEY, exc.field),))
            span.set_status(trace.Status(trace.StatusCode.ERROR, exc.code.name))
            await context.abort(exc.code, exc.message)
        log.error("unhandled error in RPC", exc_info=exc)
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, "INTERNAL"))
        await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        raise AssertionError("unreachable")  # abort always raises

    async def _admit(self, method: str, allowed: frozenset[str], context: grpc.aio.ServicerContext) -> str:
        caller = peer_identity(context)
        if caller is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
            raise AssertionError("unreachable")  # abort always raises
        if caller not in allowed:
            log.warning("rpc %s refused to caller %s (not on its allow-list)", method, caller)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{caller} may not call {method}")
        return caller

    async def _check_user(self, method: str, fields: tuple[access.UserField, ...], request: Any,
                          context: grpc.aio.ServicerContext) -> None:
        """The gateway acts for the user its request names only with that user's valid access token."""
        try:
            named = [(path, claim, value) for path, claim in fields if (value := _field(request, path))]
        except AttributeError:  # not the contract's message: nothing can be checked, so nothing is done
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "the request names no user it can be checked for")
            raise AssertionError("unreachable") from None  # abort always raises
        if not named:
            return
        header = next((v for k, v in context.invocation_metadata() or () if k == USER_TOKEN_KEY), None)
        scheme, _, token = header.partition(" ") if isinstance(header, str) else ("", "", "")
        if scheme.lower() != "bearer" or not token:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                "a call for a user must carry that user's access token")
        if self.user_tokens is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "this service cannot verify access tokens")
            raise AssertionError("unreachable")  # abort always raises
        try:
            claims = await self.user_tokens.averify(token)
        except TokenError as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"invalid access token: {exc.reason}")
            raise AssertionError("unreachable") from None  # abort always raises
        for path, claim, value in named:
            held = claims.sub if claim == access.SUBJECT else (claims.wallet or "").lower()
            if held != (value if claim == access.SUBJECT else value.lower()):
                log.warning("rpc %s refused: %s is not the token's %s", method, path, claim)
                await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                    f"{path} is not the user of the access token")

    def _wrap_unary(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        allowed = access.allowed_callers(method) if self.enforce_access else None
        user_fields = access.user_fields(method)

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            token, span, octx = self._enter(method, context)
            code = grpc.StatusCode.OK
            try:
                if allowed is not None:
                    caller = await self._admit(method, allowed, context)
                    if user_fields and caller == access.GATEWAY:
                        await self._check_user(method, user_fields, request, context)
                return await behavior(request, context)
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:  # noqa: BLE001 - the one place errors become statuses
                if _is_abort(exc):
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                code = exc.code if isinstance(exc, DomainError) else grpc.StatusCode.INTERNAL
                await self._fail(context, exc, span)
            finally:
                self._exit(method, token, span, octx, code, started)

        return wrapper

    def _wrap_stream(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        allowed = access.allowed_callers(method) if self.enforce_access else None

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            token, span, octx = self._enter(method, context)
            code = grpc.StatusCode.OK
            try:
                if allowed is not None:
                    await self._admit(method, allowed, context)
                async for item in behavior(request, context):
                    yield item
            except Exception as exc:  # noqa: BLE001
                if _is_abort(exc):
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                code = exc.code if isinstance(exc, DomainError) else grpc.StatusCode.INTERNAL
                await self._fail(context, exc, span)
            finally:
                self._exit(method, token, span, octx, code, started)

        return wrapper


def _field(message: Any, path: str) -> str:
    """The string at a dotted field path of a protobuf message ("actor.user_id")."""
    value = message
    for name in path.split("."):
        value = getattr(value, name)
    return value if isinstance(value, str) else ""


def _is_abort(exc: BaseException) -> bool:
    # grpc.aio raises this internal exception type from context.abort().
    return type(exc).__name__ == "AbortError"


class _Health(health.aio.HealthServicer):
    """The library's servicer, but starting NOT_SERVING: the stock one reports the
    overall "" entry as SERVING from construction, before anything is ready."""

    def __init__(self) -> None:
        super().__init__()
        # The base class keeps its statuses in this dict (not in its type stubs).
        self._server_status[""] = health_pb2.HealthCheckResponse.NOT_SERVING  # type: ignore[attr-defined]


def build_server(name: str, register: Callable[[grpc.aio.Server], None], service_full_names: Iterable[str],
                 *, host: str = "127.0.0.1", port: int = 0, tls: TlsIdentity | None = None,
                 reflection_enabled: bool = True, user_tokens: JwksVerifier | None = None,
                 ) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """A configured, not yet started server; returns (server, bound port, health servicer).

    Health starts NOT_SERVING and is flipped by `start`, so nothing routes traffic
    to a server that is not ready. With `tls` the port requires a client certificate
    signed by its CA, every RPC admits only its allow-listed callers
    (`ipheron_libs.access`), and the gateway's calls for a user are admitted only with
    that user's access token, verified with `user_tokens` (refused without a verifier);
    reflection is for development only.
    """
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor(name, enforce_access=tls is not None, user_tokens=user_tokens)],
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 8 * 1024 * 1024)],
    )
    register(server)
    health_servicer = _Health()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_full_names)
    if reflection_enabled:
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    address = f"{host}:{port}"
    bound = server.add_secure_port(address, tls.server_credentials()) if tls else server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"cannot bind gRPC port {host}:{port}")
    return server, bound, health_servicer


def build_health_server(health_servicer: health.aio.HealthServicer, *, host: str, port: int
                        ) -> tuple[grpc.aio.Server, int]:
    """A plaintext server answering grpc.health only, from the same servicer as the main port.

    With mutual TLS the main port refuses callers without a client certificate, which
    kubelet's native gRPC probes and container HEALTHCHECKs cannot present; this port
    tells them SERVING/NOT_SERVING and serves nothing else.
    """
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind the gRPC health port {host}:{port}")
    return server, bound


async def start(server: grpc.aio.Server, health_servicer: health.aio.HealthServicer,
                service_full_names: Iterable[str] = ()) -> None:
    """Start serving and only then report SERVING (overall and for each named service)."""
    await server.start()
    for name in [*service_full_names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


async def stop(server: grpc.aio.Server, health_servicer: health.aio.HealthServicer, grace: float = 5.0) -> None:
    """Report NOT_SERVING first so balancers drain, then stop with a grace period."""
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace)


DependencyCheck = Callable[[], Awaitable[bool]]


async def watch_dependencies(health_servicer: health.aio.HealthServicer, checks: dict[str, DependencyCheck],
                             interval: float = 5.0) -> None:
    """Publish each dependency's state as its own health entry (e.g. "postgresql"),
    so the gateway's /health can name what is down without reaching into schemas."""
    while True:
        for dep, check in checks.items():
            try:
                ok = await asyncio.wait_for(check(), timeout=max(1.0, interval / 2))
            except Exception:  # noqa: BLE001 - a failing check means the dependency is down
                ok = False
            status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
            await health_servicer.set(dep, status)
        await asyncio.sleep(interval)


def engine_check(engine: Any) -> DependencyCheck:
    """A dependency check that runs SELECT 1 on the service's own pool."""
    from sqlalchemy import text

    from ipheron_libs.db import run_db

    def ping() -> bool:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    async def check() -> bool:
        return await run_db(ping)

    return check


def _all_engines_check(engines: list[Any]) -> DependencyCheck:
    per_engine = [engine_check(e) for e in engines]

    async def check() -> bool:
        return all([await c() for c in per_engine])

    return check


async def serve(name: str, register: Callable[[grpc.aio.Server], None], service_full_names: Iterable[str], *,
                host: str, port: int, on_start: Callable[[], Awaitable[None]] | None = None,
                on_stop: Callable[[], Awaitable[None]] | None = None, grace: float = 5.0,
                dependency_checks: dict[str, DependencyCheck] | None = None) -> None:
    """Run a service until SIGTERM/SIGINT; then drain and stop gracefully.

    `dependency_checks` (e.g. {"postgresql": engine_check(engine)}) are polled and
    published as health entries of their own.
    """
    server, bound, health_servicer = build_server(name, register, service_full_names, host=host, port=port)
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_event.set)
    try:
        if on_start is not None:
            await on_start()
        await start(server, health_servicer, service_full_names)
        checks = dict(dependency_checks or {})
        if "postgresql" not in checks:
            from ipheron_libs.db import ENGINES

            engines = list(ENGINES)
            if engines:
                checks["postgresql"] = _all_engines_check(engines)
        watcher = asyncio.create_task(watch_dependencies(health_servicer, checks))
        log.info("%s serving gRPC on %s:%d", name, host, bound)
        await stop_event.wait()
        watcher.cancel()
    finally:
        log.info("%s stopping", name)
        await stop(server, health_servicer, grace)
        if on_stop is not None:
            await on_stop()
        telemetry.shutdown()


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """asyncio.run with uvloop when available (≈30 % faster gRPC here)."""
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
