"""JSON responses for hot read routes.

FastAPI validates a route's return value against its `response_model` before
serialising it. For bodies our own code builds field by field from typed protobuf
messages that second pass only costs time on the hottest paths, so those routes
return `fast_json(...)`: the `response_model` still documents the shape in OpenAPI,
and the end-to-end tests validate these bodies against it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp
from ipheron_libs.wire import iso
from starlette.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money stays an exact decimal string on the wire
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def fast_json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body, default=_default), status_code=status_code, media_type="application/json",
                    headers=headers)


def stamp(ts: Timestamp) -> str:
    """A required timestamp field on the wire: RFC 3339 UTC with "Z" (the epoch when unset)."""
    return iso(ts) or "1970-01-01T00:00:00Z"


def opt_stamp(msg: Any, name: str) -> str | None:
    """An optional timestamp field: None when the message does not carry it."""
    return iso(getattr(msg, name)) if msg.HasField(name) else None
