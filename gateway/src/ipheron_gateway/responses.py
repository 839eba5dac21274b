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
from starlette.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money stays an exact decimal string on the wire
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def fast_json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body, default=_default), status_code=status_code, media_type="application/json",
                    headers=headers)
