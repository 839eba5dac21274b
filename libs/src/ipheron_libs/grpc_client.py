"""Outgoing gRPC: channels that carry the caller's trace context and request id,
a default deadline for every call, and this deployable's client certificate.

`use_identity` sets the process's TLS identity once at start-up (a service's
`ServiceApp`, the gateway); every channel opened afterwards dials with mutual TLS
under it, so no client code chooses between secure and plaintext itself.

`user_token_var` holds the end user's verified access token while the gateway serves
that user's request; every call made meanwhile carries it as `authorization`
metadata, and the service verifies it itself (`ipheron_libs.grpc_server`)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import grpc

from ipheron_libs import telemetry
from ipheron_libs.grpc_server import REQUEST_ID_KEY, USER_TOKEN_KEY
from ipheron_libs.mtls import TlsIdentity

DEFAULT_TIMEOUT = 5.0
# The access token of the user the current request acts for (set by the gateway once verified).
user_token_var: ContextVar[str | None] = ContextVar("ipheron_user_token", default=None)
_identity: list[TlsIdentity | None] = [None]


def use_identity(identity: TlsIdentity | None) -> None:
    """Dial every channel opened from now on with `identity` (mutual TLS); None: plaintext."""
    _identity[0] = identity


def context_metadata(metadata: Any = ()) -> list[tuple[str, Any]]:
    """`metadata` plus the current trace context (traceparent), request id and user's access token."""
    md: list[tuple[str, Any]] = list(metadata or ())
    telemetry.inject_metadata(md)
    rid = telemetry.request_id_var.get()
    if rid and not any(k == REQUEST_ID_KEY for k, _ in md):
        md.append((REQUEST_ID_KEY, rid))
    token = user_token_var.get()
    if token and not any(k == USER_TOKEN_KEY for k, _ in md):
        md.append((USER_TOKEN_KEY, f"Bearer {token}"))
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


# A restarted peer is reachable again within ~2 s, not after gRPC's default exponential
# backoff of up to two minutes (calls fail fast meanwhile).
_OPTIONS = [("grpc.keepalive_time_ms", 30000), ("grpc.max_receive_message_length", 8 * 1024 * 1024),
            ("grpc.initial_reconnect_backoff_ms", 200), ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000)]


def channel(addr: str, *, default_timeout: float = DEFAULT_TIMEOUT, intercept: bool = True,
            tls: TlsIdentity | None = None) -> grpc.aio.Channel:
    """A channel with context propagation, over mutual TLS under `tls` or the process's identity
    (`use_identity`), plaintext when neither is set (development and tests without TLS).

    `intercept=False` leaves the propagation to the caller (`context_metadata()` and an
    explicit `timeout=` on every call): the gateway does that in its one call wrapper,
    because grpc.aio's interceptor machinery costs a noticeable share of a hot call.
    """
    identity = tls if tls is not None else _identity[0]
    interceptors = [_ContextInterceptor(default_timeout)] if intercept else None
    if identity is not None:
        return grpc.aio.secure_channel(addr, identity.channel_credentials(), interceptors=interceptors,
                                       options=_OPTIONS)
    return grpc.aio.insecure_channel(addr, interceptors=interceptors, options=_OPTIONS)

