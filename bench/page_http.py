"""The serialization ceiling of a catalog page: a bare FastAPI endpoint answering the very page
the gateway answered (its JSON, held in memory as Python objects) encoded by orjson per request.

Run: BENCH_PAGE_DIR=<dir of name.json> uvicorn bench.page_http:app
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Response

app = FastAPI()
_PAGES: dict[str, Any] = {p.stem: orjson.loads(p.read_bytes())
                          for p in Path(os.environ["BENCH_PAGE_DIR"]).glob("*.json")}


@app.get("/page/{name}")
async def page(name: str) -> Response:
    return Response(orjson.dumps(_PAGES[name]), media_type="application/json")
