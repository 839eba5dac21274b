"""The web console: `gateway/web/` served at `/` (index.html) and `/static/` (modules, styles, vendor).

The page and its files carry a Content-Security-Policy that allows only this origin's
scripts, styles, images and connections (REST and the WebSocket), no inline script, no
framing, no plugins; the API routes and /docs are not affected. `gateway/web/vendor/`
(ethers, Chart.js from npm) is copied there by `make install` and not committed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

log = logging.getLogger("ipheron.gateway.console")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY"}
DEFAULT_WEB_DIR = Path(__file__).resolve().parents[2] / "web"


class ConsoleSettings(BaseSettings):
    """GATEWAY_WEB_DIR: where the console's files are (default: gateway/web beside the package)."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    web_dir: Path = DEFAULT_WEB_DIR


class _Static(StaticFiles):
    """Static files with the console's security headers; revalidated, since file names are not hashed."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def install(app: FastAPI) -> None:
    """Serve the console when its folder exists (an API-only image may leave it out)."""
    web = ConsoleSettings().web_dir
    index = web / "index.html"
    if not index.is_file():
        log.info("no web console at %s: serving the API only", web)
        return
    router = APIRouter(include_in_schema=False)

    @router.api_route("/", methods=["GET", "HEAD"])
    async def console() -> FileResponse:
        return FileResponse(index, headers={**HEADERS, "Cache-Control": "no-cache"})

    app.include_router(router)
    app.mount("/static", _Static(directory=web), name="static")
