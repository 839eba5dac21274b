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
from fastapi import Path, Query

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


