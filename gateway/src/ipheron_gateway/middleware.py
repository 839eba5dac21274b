"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request):
request id, a server span continuing the caller's W3C trace, and the
api_requests_total / api_duration_seconds metrics labelled by route template."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ipheron_libs import telemetry
from ipheron_libs.metrics import API_DURATION, API_REQUESTS

_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9_\-.:]{1,128}$")


class TelemetryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tracer = telemetry.tracer("ipheron.gateway")

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
            elif k in (b"traceparent", b"tracestate"):
                carrier.append((k.decode(), v.decode("latin-1")))
        rid = rid_raw.decode() if rid_raw and _SAFE_REQUEST_ID.match(rid_raw) else uuid.uuid4().hex
        rid_token = telemetry.request_id_var.set(rid)
        parent = telemetry.extract_context(carrier)
        span = self.tracer.start_span(f"{scope['method']} {scope['path']}", context=parent,
                                      kind=trace.SpanKind.SERVER,
                                      attributes={"http.request.method": scope["method"], "url.path": scope["path"]})
        octx = otel_context.attach(trace.set_span_in_context(span, parent))
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
            endpoint = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            API_REQUESTS.labels(endpoint=endpoint, status=str(status)).inc()
            API_DURATION.labels(endpoint=endpoint).observe(elapsed)
            span.update_name(f"{scope['method']} {endpoint}")
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()
            otel_context.detach(octx)
            telemetry.request_id_var.reset(rid_token)
