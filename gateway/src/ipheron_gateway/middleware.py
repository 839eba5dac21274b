"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request):
request id and the api_requests_total / api_duration_seconds metrics labelled by
route template. The HTTP server span itself is FastAPI's native OpenTelemetry
span (configured in app.py), which is current while routes call the services."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from ipheron_libs import telemetry
from ipheron_libs.metrics import API_DURATION, API_REQUESTS
from opentelemetry import context as otel_context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9_\-.:]{1,128}$")


class TelemetryMiddleware:
    def __init__(self, app: ASGIApp, api_prefix: str = "", propagate_incoming: bool = False) -> None:
        """`propagate_incoming`: make an incoming traceparent current (when FastAPI's own
        server span, which would do that, is off because nothing exports spans)."""
        self.app = app
        self.api_prefix = api_prefix
        self.propagate_incoming = propagate_incoming
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid_raw = None
        carrier: list[tuple[str, str]] = []
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid_raw = v
            elif k == b"traceparent" or k == b"tracestate":
                carrier.append((k.decode(), v.decode("latin-1")))
        octx = None
        if carrier and self.propagate_incoming:
            octx = otel_context.attach(telemetry.extract_context(carrier))
        rid = rid_raw.decode() if rid_raw and _SAFE_REQUEST_ID.match(rid_raw) else uuid.uuid4().hex
        rid_token = telemetry.request_id_var.set(rid)
        status = 500
        rid_header = (b"x-request-id", rid.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            endpoint = _route_template(scope, route, self.api_prefix)
            elapsed = time.perf_counter() - started
            children = self._children.get((endpoint, status))
            if children is None:  # label values are bounded: route templates x statuses
                children = self._children[(endpoint, status)] = (
                    API_REQUESTS.labels(endpoint=endpoint, status=str(status)), API_DURATION.labels(endpoint=endpoint))
            children[0].inc()
            children[1].observe(elapsed)
            telemetry.request_id_var.reset(rid_token)
            if octx is not None:
                otel_context.detach(octx)


def _route_template(scope: Scope, route: Any, api_prefix: str) -> str:
    """The matched route's full template (bounded label values), or 'unmatched'.

    Routers included under the API prefix report templates relative to it.
    """
    path = getattr(route, "path", None)
    if not path:
        return "unmatched"
    if api_prefix and not path.startswith(api_prefix) and scope["path"].startswith(api_prefix + "/"):
        return api_prefix + path
    return str(path)
