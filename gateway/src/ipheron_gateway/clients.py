"""Typed stubs to every service, one channel each, opened once per process.

`Upstreams` has one attribute per service, typed by the generated `*AsyncStub`
(mypy-protobuf `.pyi`), so `await stubs.assets.GetAsset(req)` is checked: the
request type and the response type are known.

The stubs are the generated classes, built on `_CallingChannel`, which hands each
of them multicallables that give every call a deadline (the caller's `timeout=` or
the gateway's default) and the trace context / request id metadata, and that turn
a failed call into `UpstreamError`, which names the service for the 503/504 body.
No interceptor (grpc.aio's interceptor machinery costs a noticeable share of a hot
call) and no dynamic attribute lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar, cast

import grpc
from grpc_health.v1 import health_pb2
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as ai_agents_grpc
from ipheron.analytics.v1 import analytics_service_pb2_grpc as analytics_grpc
from ipheron.assets.v1 import assets_service_pb2_grpc as assets_grpc
from ipheron.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron.staking.v1 import staking_service_pb2_grpc as staking_grpc
from ipheron_libs.grpc_client import channel, context_metadata

from ipheron_gateway.config import SERVICES, GatewaySettings

if TYPE_CHECKING:  # the async stub types exist only in the generated .pyi
    from ipheron.ai_agents.v1.ai_agents_service_pb2_grpc import AiAgentsServiceAsyncStub
    from ipheron.analytics.v1.analytics_service_pb2_grpc import AnalyticsServiceAsyncStub
    from ipheron.assets.v1.assets_service_pb2_grpc import AssetsServiceAsyncStub
    from ipheron.auth.v1.auth_service_pb2_grpc import AuthServiceAsyncStub
    from ipheron.chain.v1.chain_service_pb2_grpc import ChainServiceAsyncStub
    from ipheron.staking.v1.staking_service_pb2_grpc import StakingServiceAsyncStub

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Metadata = Sequence[tuple[str, str | bytes]]
HealthCheck: TypeAlias = (
    "grpc.aio.UnaryUnaryMultiCallable[health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse]"
)


class UpstreamError(grpc.aio.AioRpcError):
    """A call to `service` failed with the status of `rpc_error`.

    Still an `AioRpcError` (same code, details and trailing metadata), so routes
    that inspect a status keep working; problems.py maps it and names the service.
    """

    def __init__(self, service: str, rpc_error: grpc.aio.AioRpcError) -> None:
        super().__init__(rpc_error.code(), rpc_error.initial_metadata(), rpc_error.trailing_metadata(),
                         rpc_error.details(), rpc_error.debug_error_string())
        self.service = service
        self.rpc_error = rpc_error


class _UnaryCall(Generic[Req, Resp]):
    """One RPC of one service: deadline, context metadata, `UpstreamError` on failure."""

    __slots__ = ("_rpc", "_service", "_timeout")

    def __init__(self, rpc: grpc.aio.UnaryUnaryMultiCallable[Req, Resp], service: str, timeout: float) -> None:
        self._rpc = rpc
        self._service = service
        self._timeout = timeout

    async def __call__(self, request: Req, *, timeout: float | None = None, metadata: Metadata | None = None,
                       **kwargs: Any) -> Resp:
        try:
            return await self._rpc(request, timeout=timeout or self._timeout, metadata=context_metadata(metadata),
                                   **kwargs)
        except grpc.aio.AioRpcError as exc:
            raise UpstreamError(self._service, exc) from exc


class _CallingChannel:
    """What a generated stub class needs of a channel (`unary_unary`), answering with `_UnaryCall`s."""

    def __init__(self, inner: grpc.aio.Channel, service: str, timeout: float) -> None:
        self._inner = inner
        self._service = service
        self._timeout = timeout

    def unary_unary(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                    _registered_method: bool = False) -> _UnaryCall[Any, Any]:
        rpc = self._inner.unary_unary(method, request_serializer=request_serializer,
                                      response_deserializer=response_deserializer,
                                      _registered_method=_registered_method)  # type: ignore[call-arg]
        return _UnaryCall(rpc, self._service, self._timeout)


def calling_channel(inner: grpc.aio.Channel, service: str, timeout: float) -> grpc.aio.Channel:
    """`inner` as the channel a generated stub is built on, so its calls go through `_UnaryCall`.

    Typed as `grpc.aio.Channel` so the generated `*Stub(channel)` overloads pick the
    async stub type; the stubs only ever call `unary_unary` on it (every RPC is unary).
    """
    return cast(grpc.aio.Channel, _CallingChannel(inner, service, timeout))


class Upstreams:
    """Every service's channel, typed stub and health check."""

    auth: AuthServiceAsyncStub
    assets: AssetsServiceAsyncStub
    staking: StakingServiceAsyncStub
    analytics: AnalyticsServiceAsyncStub
    ai_agents: AiAgentsServiceAsyncStub
    chain: ChainServiceAsyncStub

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        # Mutual TLS under the gateway's certificate when configured (required in production),
        # so the services identify the gateway and the JWKS is fetched over an authenticated channel.
        tls = settings.tls_identity()
        self.channels: dict[str, grpc.aio.Channel] = {
            svc: channel(settings.addr(svc), default_timeout=settings.upstream_timeout, intercept=False, tls=tls)
            for svc in SERVICES}
        # grpc.health.v1 Check per service; health checks pass their own short timeout and
        # read the status themselves (an unreachable service is not an error there).
        self.health_check: dict[str, HealthCheck] = {
            svc: ch.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                response_deserializer=health_pb2.HealthCheckResponse.FromString)
            for svc, ch in self.channels.items()}
        self.auth = auth_grpc.AuthServiceStub(self._calling("auth"))
        self.assets = assets_grpc.AssetsServiceStub(self._calling("assets"))
        self.staking = staking_grpc.StakingServiceStub(self._calling("staking"))
        self.analytics = analytics_grpc.AnalyticsServiceStub(self._calling("analytics"))
        self.ai_agents = ai_agents_grpc.AiAgentsServiceStub(self._calling("ai_agents"))
        self.chain = chain_grpc.ChainServiceStub(self._calling("chain"))

    def _calling(self, service: str) -> grpc.aio.Channel:
        return calling_channel(self.channels[service], service, self.settings.upstream_timeout)

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close()
