"""(a) The HTTP ceiling: a bare FastAPI JSON endpoint on uvicorn (uvloop + httptools)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
