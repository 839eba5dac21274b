"""RFC 9457 problem+json, and the one table from gRPC status to HTTP status."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import grpc
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from ipheron_libs.errors import FIELD_METADATA_KEY
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ipheron_gateway.clients import UpstreamError
from ipheron_gateway.middleware import NulInText

log = logging.getLogger("ipheron.gateway")
PROBLEM_TYPE_BASE = "https://ipheron.dev/problems/"

GRPC_TO_HTTP: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# Statuses whose gRPC detail is written by our services for clients; others are internal
# (RESOURCE_EXHAUSTED's text comes from gRPC itself as often as from us: own wording).
_CLIENT_SAFE = {400, 401, 403, 404, 409}
_MESSAGE_SIZE = re.compile(r"\b(SERVER|CLIENT): (Received|Sent) message larger than max")


class Problem(Exception):
    """Raise from a route to answer with a problem+json."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, type_: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_ or PROBLEM_TYPE_BASE + self.title.lower().replace(" ", "-")
        self.headers = headers or {}
        self.extra = extra


def problem_response(status: int, detail: str, *, instance: str | None = None, title: str | None = None,
                     type_: str | None = None, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    title = title or (HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error")
    body: dict[str, Any] = {
        "type": type_ or PROBLEM_TYPE_BASE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})  # absent, not null
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json", headers=headers)


# ---------------------------------------------------------------- the documented contract

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_INT_HEADER = {"schema": {"type": "integer", "minimum": 0}}
# What the rate-limit middleware sends (ratelimit.Decision.headers); on a 429 also Retry-After.
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit-Limit": {"description": "requests allowed per window in this route's group", **_INT_HEADER},
    "RateLimit-Remaining": {"description": "requests left in the current window", **_INT_HEADER},
    "RateLimit-Reset": {"description": "seconds until the window frees quota", **_INT_HEADER},
    "RateLimit-Policy": {"description": 'the group\'s policy, e.g. "10;w=60"', "schema": {"type": "string"}},
    "Retry-After": {"description": "seconds to wait before retrying", **_INT_HEADER},
}
_DESCRIPTIONS = {
    400: "Bad request: malformed JSON, a missing or invalid header, or input the service refused",
    401: "Missing, malformed or invalid access token",
    402: ("Your wallet cannot pay: required_wei / available_wei / shortfall_wei (decimal strings) and "
          "required / available (ETH) name the amounts; nothing was reserved"),
    403: "The resource is not yours",
    404: "No such resource",
    409: "Conflicts with the current state (duplicate, replayed key with other data, not available)",
    413: "The body is larger than this route accepts",
    422: "A parameter or body field is outside its documented bounds; errors[] names each field",
    429: "Rate limit exceeded; see the RateLimit headers",
    503: "An upstream service is unavailable; retry later",
    504: "An upstream service did not answer in time",
}


class FieldError(BaseModel):
    """One refused field of a request."""

    field: str = Field(description="dotted path of the field (query, path, body or header name)")
    message: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem+json body; every error response has this shape."""

    model_config = ConfigDict(extra="allow", title="Problem")
    type: str = Field(description="URI identifying the problem type")
    title: str
    status: int = Field(ge=100, le=599)
    detail: str
    instance: str | None = Field(default=None, description="the request path")
    errors: list[FieldError] | None = Field(default=None, description="the refused fields, on 400/422")
    service: str | None = Field(default=None, description="the upstream service, on 503/504")
    group: str | None = Field(default=None, description="the rate-limit group, on 429")
    # The 402 extension (a purchase the buyer's wallet cannot pay): amounts as exact decimals.
    required_wei: str | None = Field(default=None, description="on 402: price + gas x maxFeePerGas, in wei")
    available_wei: str | None = Field(default=None, description="on 402: the wallet's balance, in wei")
    shortfall_wei: str | None = Field(default=None, description="on 402: required - available, in wei")
    price_wei: str | None = Field(default=None, description="on 402: the price alone, in wei")
    required: str | None = Field(default=None, description="on 402: required_wei as an ETH decimal")
    available: str | None = Field(default=None, description="on 402: available_wei as an ETH decimal")
    shortfall: str | None = Field(default=None, description="on 402: shortfall_wei as an ETH decimal")


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can return, each a problem+json.

    Every route also documents 429 (rate limits cover every route) and, when it calls
    a service, pass 503/504 explicitly.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*codes, 429}):
        entry: dict[str, Any] = {"description": _DESCRIPTIONS.get(code, HTTPStatus(code).phrase),
                                 "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}}
        if code == 429:
            entry["headers"] = RATE_LIMIT_HEADERS
        elif code == 503:
            entry["headers"] = {"Retry-After": RATE_LIMIT_HEADERS["Retry-After"]}
        out[code] = entry
    return out


UPSTREAM = (503, 504)


@contextlib.contextmanager
def precondition_as(status: int) -> Iterator[None]:
    """Answer the service's FAILED_PRECONDITION as `status` (e.g. 409 "not for sale") in this block.

    The one table maps FAILED_PRECONDITION to 400; routes whose contract names a state
    conflict (an order no longer fillable, nothing to withdraw) use this instead. The
    service's message and field are kept.
    """
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        detail = exc.details() or HTTPStatus(status).phrase
        field = dict(exc.trailing_metadata() or ()).get(FIELD_METADATA_KEY)
        errors = [{"field": field, "message": detail}] if field else None
        raise Problem(status, detail, errors=errors) from None


def _problem_components() -> dict[str, Any]:
    schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "Problem": schema}


BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                         "description": "an access token from POST /api/v1/auth/login (Sign-In with Ethereum)"}}


def _token_use(route: APIRoute) -> str | None:
    """'required' / 'optional' when a route reads the caller's token, else None."""
    from ipheron_gateway import deps  # deps imports this module

    stack, calls = [route.dependant], set()
    while stack:
        d = stack.pop()
        calls.add(d.call)
        stack.extend(d.dependencies)
    if deps._current_user in calls:
        return "required"
    return "optional" if deps._optional_user in calls else None


def api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """Every API route as mounted: (full path, methods, route), through included routers."""
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and ctx.path_format:
            yield ctx.path_format, set(ctx.methods or route.methods or ()), route


def _document_security(app: FastAPI, doc: dict[str, Any]) -> None:
    """Declare the bearer scheme, and on each operation whether it needs or accepts a token."""
    doc.setdefault("components", {}).setdefault("securitySchemes", {}).update(BEARER)
    for path, methods, route in api_routes(app):
        use = _token_use(route)
        if use is None:
            continue
        for method in methods:
            op = doc["paths"].get(path, {}).get(method.lower())
            if op is not None:
                op["security"] = [{"bearerAuth": []}] if use == "required" else [{}, {"bearerAuth": []}]


def _document_problems(app: FastAPI) -> None:
    """Put the Problem schema and the bearer scheme into the published OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        doc.setdefault("components", {}).setdefault("schemas", {}).update(_problem_components())
        _document_security(app, doc)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def grpc_problem(exc: grpc.aio.AioRpcError, service: str | None, instance: str) -> Response:
    """Map an upstream gRPC error; internal details never reach the client."""
    code = exc.code()
    status = GRPC_TO_HTTP.get(code, 500)
    extra: dict[str, Any] = {}
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        # gRPC's own message-size limit, not a rate limit: the request was too big ("SERVER:
        # Received ..." / "CLIENT: Sent ...": the client's body) or the answer was ("CLIENT:
        # Received ..." / "SERVER: Sent ...": ours). Either way the text is internal.
        size = _MESSAGE_SIZE.search(exc.details() or "")
        if size is not None:
            log.warning("upstream %s refused a message size: %s", service, exc.details())
            if size.groups() in (("SERVER", "Received"), ("CLIENT", "Sent")):
                return problem_response(413, "the request is too large for the service", instance=instance,
                                        service=service)
            return problem_response(500, "internal error", instance=instance)
        return problem_response(429, f"the {service or 'upstream'} service is over capacity; retry later",
                                instance=instance, headers={"Retry-After": "1"}, service=service)
    if status in _CLIENT_SAFE:
        detail = exc.details() or HTTPStatus(status).phrase
        field = dict(exc.trailing_metadata() or ()).get(FIELD_METADATA_KEY)
        if field:
            extra["errors"] = [{"field": field, "message": detail}]
    elif status == 503:
        detail = f"the {service or 'upstream'} service is unavailable"
        extra["service"] = service
    elif status == 504:
        detail = f"the {service or 'upstream'} service did not answer in time"
        extra["service"] = service
    else:
        log.error("upstream %s failed: %s %s", service, code.name, exc.details())
        detail = "internal error"
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return problem_response(status, detail, instance=instance, headers=headers, **extra)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[-1] if loc else "")


def install(app: FastAPI) -> None:
    """Register the handlers that make every error a problem+json, and document them."""
    _document_problems(app)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc.status, exc.detail, instance=request.url.path, title=exc.title,
                                type_=exc.type, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
                  for e in exc.errors()]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        json_error = any(e.get("type") == "json_invalid" for e in exc.errors())
        if json_error:
            return problem_response(400, "malformed JSON body", instance=request.url.path, title="Bad Request",
                                    errors=errors)
        return problem_response(422, f"invalid request: {fields}", instance=request.url.path,
                                title="Unprocessable Content", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        if isinstance(exc, NulInText):
            return problem_response(422, detail, instance=request.url.path, title="Unprocessable Content",
                                    errors=[{"field": exc.field, "message": "NUL characters are not allowed"}])
        return problem_response(exc.status_code, detail, instance=request.url.path,
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _grpc(request: Request, exc: grpc.aio.AioRpcError) -> Response:
        # Calls through ipheron_gateway.clients raise UpstreamError, which names the service.
        service = exc.service if isinstance(exc, UpstreamError) else None
        return grpc_problem(exc, service, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(500, "internal error", instance=request.url.path)
