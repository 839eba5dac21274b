"""Edge bounds every router shares: pages, ids, integers that must fit the proto
fields, decimal strings and JSON metadata.

Everything a client sends is bounded here, before any service sees it, so that no
input can reach a database or a protobuf field it would overflow (an int64 page
offset, an int32 duration). A value outside its bounds is a 422 problem+json
naming the field. The bounds are published in the OpenAPI field descriptions.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import orjson
from fastapi import Path, Query, Request

from ipheron_gateway.problems import Problem

MAX_PAGE = 10_000  # with at most 100 per page, the deepest offset is 999,900 rows
MAX_PER_PAGE = 100
INT32_MAX = 2**31 - 1
MAX_ID_LENGTH = 128  # ids are UUIDs (36) or short slugs; nothing longer names anything
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 6  # the assets service's limit: an object holding objects, six levels down
MAX_METADATA_KEYS = 200

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1-based page number, 1..{MAX_PAGE}")]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description=f"items per page, 1..{MAX_PER_PAGE}")]
PathId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH,
                             description=f"an id (a UUID), at most {MAX_ID_LENGTH} characters")]
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object of at most 16 KiB, 6 levels and 200 keys (as the assets service requires).

    Depth is measured before serialising, so a body nested thousands of levels deep is
    refused here rather than overflowing the encoder.
    """
    keys = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise ValueError(f"metadata nests deeper than {MAX_METADATA_DEPTH} levels")
        if isinstance(node, dict):
            keys += len(node)
            if keys > MAX_METADATA_KEYS:
                raise ValueError(f"metadata has more than {MAX_METADATA_KEYS} keys")
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 2**63:
            raise ValueError("metadata integers must fit in 64 bits")
        elif isinstance(node, float) and not math.isfinite(node):  # NaN/Infinity are not JSON
            raise ValueError("metadata numbers must be finite")
    try:
        size = len(orjson.dumps(value))
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"metadata is not serialisable as JSON: {exc}") from None
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    return value


METADATA_DESCRIPTION = (f"JSON object, at most {MAX_METADATA_BYTES} bytes, {MAX_METADATA_DEPTH} levels deep and "
                        f"{MAX_METADATA_KEYS} keys")


def _has_nul(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _refused(field: str) -> Problem:
    return Problem(422, f"invalid request: {field} contains a NUL character", title="Unprocessable Content",
                   errors=[{"field": field, "message": "NUL characters are not allowed"}])


async def refuse_nul(request: Request) -> None:
    """No text a client sends may contain NUL: PostgreSQL text cannot store it, so the
    services would fail on it. Checked on the query, the path and a JSON body."""
    for name, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in name:
            raise _refused(name)
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise _refused(name)
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()  # already read (and cached) by the route's own parsing
        if b"\\u0000" in body:  # only then is it worth walking the parsed document
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                return  # the route's own parsing answers a malformed body
            if _has_nul(doc):
                raise _refused("body")
