"""The web console as the gateway serves it: the page and its files at / and /static with a
Content-Security-Policy that allows only this origin (no inline script, no framing), no
secrets in what is served, and the API and /docs unaffected by the console's headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_libs.devstack_ports import free_port

WEB = Path(__file__).resolve().parents[1] / "web"


@pytest.fixture()
def client() -> Iterator[TestClient]:
    dead = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES}
    with TestClient(create_app(GatewaySettings(**dead, upstream_timeout=0.3)),  # type: ignore[arg-type]
                    raise_server_exceptions=False) as c:
        yield c


def _csp(value: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in value.split(";")) if d}


def test_the_console_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/app.js">' in resp.text
    csp = _csp(resp.headers["content-security-policy"])
    assert csp["script-src"] == "'self'" and csp["connect-src"] == "'self'" and csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe-inline" not in resp.headers["content-security-policy"]
    assert resp.headers["x-content-type-options"] == "nosniff"
    module = client.get("/static/js/app.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert "content-security-policy" in module.headers


def test_the_page_has_no_inline_script_or_style_the_policy_would_block() -> None:
    html = (WEB / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "style=" not in html and "<style" not in html
    for js in WEB.glob("js/**/*.js"):
        text = js.read_text()
        assert "innerHTML" not in text and "eval(" not in text, js  # text goes in as text, never as markup


def test_nothing_secret_is_served_with_the_console() -> None:
    for f in [*WEB.glob("*.html"), *WEB.glob("*.css"), *WEB.glob("js/**/*.js")]:
        text = f.read_text()
        assert not re.search(r"0x[0-9a-fA-F]{64}", text), f  # no private key (or any 32-byte secret)
        assert "PRIVATE KEY" not in text and "Bearer ey" not in text, f


def test_api_routes_and_docs_keep_their_own_headers(client: TestClient) -> None:
    problem = client.get("/api/v1/nope")
    assert problem.status_code == 404 and problem.headers["content-type"] == "application/problem+json"
    assert "content-security-policy" not in problem.headers
    assert "content-security-policy" not in client.get("/docs").headers
    assert client.get("/static/../pyproject.toml").status_code == 404
