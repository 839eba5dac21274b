"""Outgoing gRPC: channels that carry the caller's trace context and request id,
and a default deadline for every call."""

from __future__ import annotations

from typing import Any

import grpc

from ipheron_libs import telemetry
from ipheron_libs.grpc_server import REQUEST_ID_KEY

DEFAULT_TIMEOUT = 5.0


def context_metadata(metadata: Any = ()) -> list[tuple[str, Any]]:
    """`metadata` plus the current trace context (traceparent) and request id."""
    md: list[tuple[str, Any]] = list(metadata or ())
    telemetry.inject_metadata(md)
    rid = telemetry.request_id_var.get()
    if rid and not any(k == REQUEST_ID_KEY for k, _ in md):
        md.append((REQUEST_ID_KEY, rid))
    return md


class _ContextInterceptor(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """Adds traceparent and x-request-id metadata, and a deadline when the caller set none."""

    def __init__(self, default_timeout: float) -> None:
        self.default_timeout = default_timeout

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        md = context_metadata(details.metadata)
        timeout = details.timeout if details.timeout is not None else self.default_timeout
        return grpc.aio.ClientCallDetails(details.method, timeout, grpc.aio.Metadata(*md), details.credentials,
                                          details.wait_for_ready)

    async def intercept_unary_unary(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(self, continuation, details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._details(details), request)


def channel(addr: str, *, default_timeout: float = DEFAULT_TIMEOUT, intercept: bool = True) -> grpc.aio.Channel:
    """An insecure channel (mTLS is the mesh's job on a cluster) with context propagation.

    `intercept=False` leaves the propagation to the caller (`context_metadata()` and an
    explicit `timeout=` on every call): the gateway does that in its one call wrapper,
    because grpc.aio's interceptor machinery costs a noticeable share of a hot call.
    """
    return grpc.aio.insecure_channel(
        addr,
        interceptors=[_ContextInterceptor(default_timeout)] if intercept else None,
        options=[("grpc.keepalive_time_ms", 30000), ("grpc.max_receive_message_length", 8 * 1024 * 1024),
                 # A restarted peer is reachable again within ~2 s, not after gRPC's default
                 # exponential backoff of up to two minutes (calls fail fast meanwhile).
                 ("grpc.initial_reconnect_backoff_ms", 200), ("grpc.min_reconnect_backoff_ms", 200),
                 ("grpc.max_reconnect_backoff_ms", 2000)],
    )
