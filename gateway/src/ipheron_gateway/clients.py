"""Channels and stubs to every service, one channel each, opened once per process."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2_grpc
from ipheron_libs.grpc_client import channel, context_metadata

from ipheron_gateway.config import SERVICES, GatewaySettings

log = logging.getLogger("ipheron.gateway")


def _stub_class(service: str) -> type | None:
    """`ipheron.<svc>.v1.<svc>_service_pb2_grpc.<Svc>ServiceStub`, or None if not generated yet."""
    try:
        mod = importlib.import_module(f"ipheron.{service}.v1.{service}_service_pb2_grpc")
    except ImportError:
        return None
    camel = "".join(p.capitalize() for p in service.split("_")) + "ServiceStub"
    return getattr(mod, camel, None)


class ServiceClient:
    """A stub whose every call carries a deadline and the trace context / request id,
    and whose errors remember which service raised them (for 503 'naming it')."""

    def __init__(self, name: str, stub: Any, default_timeout: float = 5.0) -> None:
        self._name = name
        self._stub = stub
        self._timeout = default_timeout

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        rpc = getattr(self._stub, method)
        name = self._name
        default_timeout = self._timeout

        async def call(request: Any, *, timeout: float | None = None, metadata: Any = (), **kwargs: Any) -> Any:
            try:
                return await rpc(request, timeout=timeout or default_timeout,
                                 metadata=context_metadata(metadata), **kwargs)
            except grpc.aio.AioRpcError as exc:
                exc._ipheron_service = name  # type: ignore[attr-defined]
                raise

        self.__dict__[method] = call  # build the wrapper once per method
        return call


class Upstreams:
    """Every service's channel, stub and health stub."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.channels: dict[str, grpc.aio.Channel] = {}
        self.clients: dict[str, ServiceClient] = {}
        self.health: dict[str, health_pb2_grpc.HealthStub] = {}
        for svc in SERVICES:
            ch = channel(settings.addr(svc), default_timeout=settings.upstream_timeout, intercept=False)
            self.channels[svc] = ch
            self.health[svc] = health_pb2_grpc.HealthStub(ch)
            cls = _stub_class(svc)
            if cls is not None:
                self.clients[svc] = ServiceClient(svc, cls(ch), settings.upstream_timeout)

    def __getattr__(self, svc: str) -> ServiceClient:
        try:
            return self.clients[svc]
        except KeyError:
            raise AttributeError(svc) from None

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close()
