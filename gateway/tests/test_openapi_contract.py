"""The published contract: every route documents its problem+json errors, schema names
and operation ids are unique, and every parameter is bounded at the edge (a value out
of bounds is a 422 problem+json naming the field, never a 5xx).

The gateway runs as production builds it; the auth address serves a test key set over
the real GetJwks RPC, so the real verifier checks the real tokens these tests send.
The other services are not running: a request that got past the edge would be a 503.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from ipheron_gateway import deps
from ipheron_gateway.app import create_app
from ipheron_gateway.config import SERVICES, GatewaySettings
from ipheron_gateway.problems import api_routes
from ipheron_gateway.testing import TokenIssuer, serve_jwks
from ipheron_libs.devstack_ports import free_port
from pydantic import BaseModel

OWNED_PREFIXES = ("/api/v1/", "/.well-known")


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(GatewaySettings(redis_url=None))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        if not path.startswith(OWNED_PREFIXES):
            continue
        for method, op in item.items():
            yield method.upper(), path, op


def _needs_user(route: APIRoute) -> bool:
    calls = []
    stack = [route.dependant]
    while stack:
        d = stack.pop()
        calls.append(d.call)
        stack.extend(d.dependencies)
    return any(c in (deps._current_user, deps._optional_user) for c in calls)


def test_problem_schema_is_a_component_with_rfc9457_members(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert problem["properties"]["errors"]["anyOf"][0]["items"]["$ref"] == "#/components/schemas/FieldError"


def test_every_route_documents_its_errors_as_problem_json(document: dict[str, Any]) -> None:
    seen = 0
    for method, path, op in operations(document):
        seen += 1
        errors = {int(code): r for code, r in op["responses"].items() if int(code) >= 400}
        assert 429 in errors and 503 in errors and 504 in errors, (method, path, sorted(errors))
        for code, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], (method, path, code)
            assert response["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}
        limited = errors[429]["headers"]
        assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy",
                "Retry-After"} <= set(limited), (method, path)
        if op.get("parameters") or op.get("requestBody"):
            assert 422 in errors, (method, path)
        if op.get("requestBody"):
            assert 413 in errors, (method, path)
    assert seen >= 40


def test_routes_that_read_a_token_document_401(app: FastAPI, document: dict[str, Any]) -> None:
    checked = 0
    for path, methods, route in api_routes(app):
        if path.startswith(OWNED_PREFIXES) and _needs_user(route):
            for method in methods:
                checked += 1
                assert "401" in document["paths"][path][method.lower()]["responses"], (method, path)
    assert checked >= 15


def test_routes_that_need_a_token_declare_the_bearer_scheme(app: FastAPI, document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    ops = document["paths"]
    assert ops["/api/v1/stakes"]["post"]["security"] == [{"bearerAuth": []}]
    assert ops["/api/v1/ai/collaborators"]["get"]["security"] == [{}, {"bearerAuth": []}]  # optional
    assert "security" not in ops["/api/v1/assets"]["get"]
    for path, methods, route in api_routes(app):
        if path.startswith(OWNED_PREFIXES) and _needs_user(route):
            for method in methods:
                assert {"bearerAuth": []} in ops[path][method.lower()]["security"], (method, path)


def test_no_fastapi_default_validation_error_is_published_for_owned_routes(document: dict[str, Any]) -> None:
    for method, path, op in operations(document):
        for code, response in op["responses"].items():
            assert "HTTPValidationError" not in str(response), (method, path, code)


def test_schema_names_are_unique_and_stable(app: FastAPI, document: dict[str, Any]) -> None:
    # FastAPI disambiguates two models of one name with module-path names, which code
    # generators refuse (openapi-python-client skipped POST /assets for two `AssetIn`s).
    names = document["components"]["schemas"]
    assert not [n for n in names if "__" in n], sorted(names)
    assert "AssetCreate" in names and "PricingAssetIn" in names and "AssetIn" not in names
    models: dict[str, type[BaseModel]] = {}
    modules = {inspect.getmodule(route.endpoint) for _, _, route in api_routes(app)}
    assert len(modules) >= 8
    for module in modules:
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__.startswith("ipheron_gateway"):
                name = obj.model_config.get("title") or obj.__name__
                other = models.setdefault(name, obj)
                assert other is obj, f"two models named {name}: {other.__module__} and {obj.__module__}"


def test_every_operation_id_is_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def _param(document: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    op = document["paths"][path][method]
    if name in {p["name"] for p in op.get("parameters", [])}:
        return next(p["schema"] for p in op["parameters"] if p["name"] == name)
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return document["components"]["schemas"][ref]["properties"][name]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("path", "method", "name", "maximum"), [
    ("/api/v1/assets", "get", "page", 10_000),
    ("/api/v1/assets", "get", "per_page", 100),
    ("/api/v1/stakes", "get", "page", 10_000),
    ("/api/v1/users", "get", "page", 10_000),
    ("/api/v1/staking/quote", "get", "duration_days", 3650),
    ("/api/v1/stakes", "post", "duration_days", 3650),
])
def test_integer_bounds_are_published(document: dict[str, Any], path: str, method: str, name: str,
                                      maximum: int) -> None:
    schema = _param(document, path, method, name)
    assert schema["maximum"] == maximum and schema["minimum"] >= 1
    assert str(maximum) in schema["description"].replace(",", "")


def test_wallet_age_is_bounded_in_the_contract(document: dict[str, Any]) -> None:
    age = document["components"]["schemas"]["PricingAssetIn"]["properties"]["wallet_age_days"]["anyOf"][0]
    assert age["minimum"] == 0 and age["maximum"] < 2**31


# ---------------------------------------------------------------- behaviour at the edge


@pytest.fixture()
async def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture()
async def client(issuer: TokenIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_jwks(issuer) as auth_addr:
        addrs = {f"{s}_addr": f"127.0.0.1:{free_port()}" for s in SERVICES if s != "auth"}
        gw = create_app(GatewaySettings(auth_addr=auth_addr, redis_url=None, upstream_timeout=2,  # type: ignore[arg-type]
                                        **addrs))
        async with gw.router.lifespan_context(gw):
            transport = httpx.ASGITransport(app=gw, client=(f"10.7.{uuid.uuid4().int % 250}.1", 5555))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                yield c


def _refused(resp: httpx.Response, field: str) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in resp.json()["errors"]}, resp.json()


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        doc = {"n": doc}
    return doc


CID = "bafkrei" + "a" * 52


async def test_the_fuzzers_500s_are_422s_naming_the_field(client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
    me = str(uuid.uuid4())
    auth = issuer.headers(me, "0x" + "ab" * 20)
    _refused(await client.get("/api/v1/assets", params={"page": 2316981457}), "page")
    _refused(await client.get("/api/v1/stakes", params={"page": 2159923872}, headers=auth), "page")
    _refused(await client.get("/api/v1/users", params={"page": 221692380896284}), "page")
    _refused(await client.get("/api/v1/staking/quote", params={
        "asset_id": "a", "amount": "1", "duration_days": -18446744073709551616}), "duration_days")
    _refused(await client.post("/api/v1/stakes", json={"asset_id": "a", "amount": "1", "duration_days": 39442802188},
                               headers=auth | {"Idempotency-Key": "fuzz-open-1"}), "duration_days")
    _refused(await client.post("/api/v1/ai/pricing", json={"asset_type": "art", "wallet_age_days": 4294967297}),
             "wallet_age_days")
    _refused(await client.get("/api/v1/ai/collaborators", params={"user_id": "null"}), "user_id")
    twice = {"name": "x", "asset_type": "art", "price": "1", "ipfs_hash": CID,
             "creators": [{"user_id": me, "share_percent": "50"}, {"user_id": me, "share_percent": "50"}]}
    _refused(await client.post("/api/v1/assets", json=twice, headers=auth), "creators")
    over = {**twice, "creators": [{"user_id": me, "share_percent": "420.0"}]}
    _refused(await client.post("/api/v1/assets", json=over, headers=auth), "creators")
    asset = str(uuid.uuid4())
    _refused(await client.patch(f"/api/v1/assets/{asset}", json={"metadata": _nested(300)}, headers=auth), "metadata")


@pytest.mark.parametrize("depth", [6, 7, 50])
async def test_metadata_deeper_than_the_services_limit_is_refused_at_the_edge(
        client: httpx.AsyncClient, issuer: TokenIssuer, depth: int) -> None:
    resp = await client.patch(f"/api/v1/assets/{uuid.uuid4()}", json={"metadata": _nested(depth)},
                              headers=issuer.headers(str(uuid.uuid4())))
    _refused(resp, "metadata")


async def test_metadata_within_bounds_passes_the_edge(client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
    # Five levels below the top: accepted here, so the request reaches the (absent) assets service.
    resp = await client.patch(f"/api/v1/assets/{uuid.uuid4()}", json={"metadata": _nested(4)},
                              headers=issuer.headers(str(uuid.uuid4())))
    assert resp.status_code == 503 and resp.json()["service"] == "assets", resp.text


@pytest.mark.parametrize(("method", "url", "kwargs", "field"), [
    ("GET", "/api/v1/assets", {"params": {"per_page": 101}}, "per_page"),
    ("GET", "/api/v1/assets", {"params": {"page": 10_001}}, "page"),
    ("GET", "/api/v1/assets/" + "x" * 129, {}, "asset_id"),
    ("GET", "/api/v1/users", {"params": {"page": 0}}, "page"),
    ("GET", "/api/v1/staking/quote", {"params": {"asset_id": "a", "amount": "1" * 41, "duration_days": 30}}, "amount"),
    ("GET", "/api/v1/staking/quote", {"params": {"asset_id": "a", "amount": "1", "duration_days": 3651}},
     "duration_days"),
    ("GET", "/api/v1/analytics/market", {"params": {"from": "x" * 500}}, "from"),
    ("POST", "/api/v1/ai/pricing", {"json": {"asset_type": "art", "wallet_age_days": -1}}, "wallet_age_days"),
    ("POST", "/api/v1/ai/pricing", {"json": {"asset_type": "art", "utility_features": ["x" * 101]}},
     "utility_features.0"),
])
async def test_out_of_bounds_parameters_are_422(client: httpx.AsyncClient, method: str, url: str,
                                                kwargs: dict[str, Any], field: str) -> None:
    _refused(await client.request(method, url, **kwargs), field)


# Found by the contract fuzzer: GET /users?skill=%00 was a 500 (PostgreSQL text cannot hold NUL).
@pytest.mark.parametrize(("method", "url", "kwargs", "field"), [
    ("GET", "/api/v1/users", {"params": {"skill": "art\x00"}}, "skill"),
    ("GET", "/api/v1/assets", {"params": {"q": "\x00"}}, "q"),
    ("GET", "/api/v1/users/%00", {}, "path"),
    ("POST", "/api/v1/ai/pricing", {"content": b'{"asset_type": "art", "name": "\\\\\\u0000"}',
                                    "headers": {"content-type": "application/json"}}, "body"),
    ("POST", "/api/v1/ai/pricing", {"json": {"asset_type": "art", "name": "a\x00b"}}, "body"),
    ("POST", "/api/v1/ai/collaboration/split", {"json": {"contributors": [{"user_id": "u", "role": "lead",
                                                                            "effort": "1", "x\x00": 1}]}}, "body"),
])
async def test_text_with_a_nul_character_is_422(client: httpx.AsyncClient, method: str, url: str,
                                                kwargs: dict[str, Any], field: str) -> None:
    _refused(await client.request(method, url, **kwargs), field)


async def test_escaped_backslash_u0000_text_is_not_a_nul(client: httpx.AsyncClient) -> None:
    # The six characters \u0000 in a string are ordinary text; the request reaches the service.
    resp = await client.post("/api/v1/ai/pricing", json={"asset_type": "art", "name": "\\u0000"})
    assert resp.status_code == 503 and resp.json()["service"] == "ai_agents", resp.text


@pytest.mark.parametrize("metadata", [
    {f"k{i}": i for i in range(201)},  # more keys than the assets service keeps
    {"big": 2**70},  # an integer no 64-bit JSON reader keeps exactly
    {"text": "x" * (16 * 1024)},  # larger than 16 KiB once encoded
])
async def test_metadata_outside_the_assets_limits_is_refused_at_the_edge(
        client: httpx.AsyncClient, issuer: TokenIssuer, metadata: dict[str, Any]) -> None:
    resp = await client.patch(f"/api/v1/assets/{uuid.uuid4()}", json={"metadata": metadata},
                              headers=issuer.headers(str(uuid.uuid4())))
    _refused(resp, "metadata")


async def test_non_finite_metadata_numbers_are_refused(client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
    body = b'{"metadata": {"x": NaN}}'  # Python's JSON reader accepts NaN; JSON itself has no NaN
    resp = await client.patch(f"/api/v1/assets/{uuid.uuid4()}", content=body,
                              headers=issuer.headers(str(uuid.uuid4())) | {"Content-Type": "application/json"})
    assert resp.status_code in (400, 422) and resp.headers["content-type"] == "application/problem+json", resp.text
