"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request):
request id and the api_requests_total / api_duration_seconds metrics labelled by
route template, and the request body size limit. The HTTP server span itself is
FastAPI's native OpenTelemetry span (configured in app.py), which is current while
routes call the services."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
from ipheron_libs import telemetry
from ipheron_libs.metrics import API_DURATION, API_REQUESTS
from opentelemetry import context as otel_context
from starlette.exceptions import HTTPException
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


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the streamed body passes the route's limit.

    An HTTPException, so FastAPI's body parsing re-raises it as it is (it turns
    other errors into 400) and problems.py answers 413 problem+json.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


class BodyLimitMiddleware:
    """413 problem+json for a body over the limit, before the body is read.

    A declared Content-Length over the limit is refused at once, without reading a
    byte; otherwise the bytes are counted as they stream in and the request fails
    with 413 as soon as they pass the limit (chunked or lying clients). Upload routes
    (`upload_paths`, matched on method and path) get the larger `upload_limit`.
    """

    def __init__(self, app: ASGIApp, *, limit: int, upload_limit: int, upload_paths: re.Pattern[str]) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if self.upload_paths.match(scope["path"]) else self.limit
        for k, v in scope["headers"]:
            if k == b"content-length":  # the HTTP server already refused a malformed one
                if v.isdigit() and int(v) > limit:
                    await _too_large(scope, send, limit)
                    return
                break
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        tracked = _TrackedSend(send)
        try:
            await self.app(scope, counting_receive, tracked)
        except BodyTooLarge:
            if tracked.started:
                raise
            await _too_large(scope, send, limit)


class _TrackedSend:
    """`send`, remembering whether the response has started (then a refusal can no longer
    be answered with a response of its own)."""

    __slots__ = ("_send", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    body = orjson.dumps({"type": "https://ipheron.dev/problems/content-too-large", "title": "Content Too Large",
                         "status": 413, "detail": f"the request body is larger than {limit} bytes",
                         "instance": scope["path"]})
    # Connection: close, as the unread rest of the body is not worth draining.
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class NulInText(HTTPException):
    """A client's text holds a NUL character (PostgreSQL text cannot store one): 422.

    An HTTPException, so FastAPI's body parsing re-raises it from `receive` as it is;
    problems.py renders it with the refused field."""

    def __init__(self, field: str) -> None:
        super().__init__(422, f"invalid request: {field} contains a NUL character")
        self.field = field


_ESCAPED_NUL = b"\\u0000"


def _escaped_nul_at(data: bytes, start: int) -> int:
    """Index of the first JSON escape `\\u0000` in `data` at or after `start` that is not
    itself an escaped backslash followed by "u0000", or -1."""
    i = data.find(_ESCAPED_NUL, start)
    while i != -1:
        backslashes = 0
        j = i - 1
        while j >= 0 and data[j] == 0x5C:
            backslashes += 1
            j -= 1
        if backslashes % 2 == 0:  # the backslash of \u0000 is not escaped: a real NUL
            return i
        i = data.find(_ESCAPED_NUL, i + 1)
    return -1


class RefuseNulMiddleware:
    """422 problem+json for a NUL character in the query, the path or a JSON body.

    Checked here on the raw request, not by a dependency on every route: this costs a
    `bytes.find` per request, where a FastAPI dependency costs ~90 Python calls on the
    hot path. A JSON body is scanned as it streams (the tail of each chunk is kept so a
    split escape is still seen); uploads (other content types) are not text.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            from urllib.parse import parse_qsl

            field = next((k or "query" for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
                          if "\x00" in k or "\x00" in v), "query")
            await _nul_refused(scope, send, field)
            return
        if "\x00" in scope["path"]:
            await _nul_refused(scope, send, "path")
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        tail = b""

        async def scanning_receive() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                window = tail + chunk
                if _escaped_nul_at(window, 0) != -1:
                    raise NulInText("body")
                tail = window[-16:]
            return message

        tracked = _TrackedSend(send)
        try:
            await self.app(scope, scanning_receive, tracked)
        except NulInText as exc:
            if tracked.started:
                raise
            await _nul_refused(scope, send, exc.field)


def _is_json(scope: Scope) -> bool:
    for k, v in scope["headers"]:
        if k == b"content-type":
            return b"json" in v
    return True  # no content type: FastAPI reads a JSON body anyway


async def _nul_refused(scope: Scope, send: Send, field: str) -> None:
    body = orjson.dumps({"type": "https://ipheron.dev/problems/unprocessable-content",
                         "title": "Unprocessable Content", "status": 422,
                         "detail": f"invalid request: {field} contains a NUL character", "instance": scope["path"],
                         "errors": [{"field": field, "message": "NUL characters are not allowed"}]})
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
