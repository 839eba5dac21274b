"""Uploads as clients send them, through the real gateway app in front of a real assets
replica (and auth, chain): a multipart/form-data file part and a raw body store the
same bytes under the same CID, never the multipart envelope."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from assets_service.cid import parse_cid
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


def _auth(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {user.access_token}"}


async def test_gateway_multipart_and_raw_uploads_give_the_same_cid(api, new_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await new_user(), await new_user()
    content = b"\x89PNG\r\n\x1a\n" + b"--not-a-boundary--\r\n" + alice.id.encode() + bytes(range(256))
    multipart = await api.post("/api/v1/files", files={"file": ("cover.png", content, "image/png")},
                               headers=_auth(alice))
    assert multipart.status_code == 201, multipart.text
    stored = multipart.json()
    # The part's bytes, name and type: not the envelope.
    assert stored["size"] == len(content) and stored["sha256"] == hashlib.sha256(content).hexdigest()
    assert (stored["filename"], stored["content_type"]) == ("cover.png", "image/png")
    assert parse_cid(stored["cid"]).multihash == bytes([0x12, 0x20]) + hashlib.sha256(content).digest()

    raw = await api.post("/api/v1/files", content=content, params={"filename": "again.png"},
                         headers=_auth(bob) | {"Content-Type": "image/png"})
    assert raw.status_code == 200 and raw.json()["cid"] == stored["cid"] and raw.json()["created"] is False

    got = await api.get(f"/api/v1/files/{stored['cid']}")
    assert got.status_code == 200 and got.content == content


async def test_gateway_multipart_form_fields_are_ignored_and_a_missing_file_is_400(api, new_user) -> None:  # type: ignore[no-untyped-def]
    alice = await new_user()
    content = b"%PDF-1.7 terms " + alice.id.encode()
    resp = await api.post("/api/v1/files", data={"note": "x" * 100},
                          files={"file": ("terms.pdf", content, "application/pdf")}, headers=_auth(alice))
    assert resp.status_code == 201, resp.text
    assert resp.json()["sha256"] == hashlib.sha256(content).hexdigest()
    missing = await api.post("/api/v1/files", files={"other": (None, b"just a field")}, headers=_auth(alice))
    assert missing.status_code == 400 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["errors"][0]["field"] == "file"
    broken = await api.post("/api/v1/files", content=b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nab",
                            headers=_auth(alice) | {"Content-Type": "multipart/form-data; boundary=b"})
    assert broken.status_code == 400 and "multipart" in broken.json()["detail"]


async def test_gateway_multipart_upload_larger_than_4_mib_is_413(api, new_user) -> None:  # type: ignore[no-untyped-def]
    alice = await new_user()
    resp = await api.post("/api/v1/files", files={"file": ("big.bin", b"x" * (4 * 1024 * 1024 + 1))},
                          headers=_auth(alice))
    assert resp.status_code == 413 and resp.headers["content-type"] == "application/problem+json"


async def test_gateway_multipart_upload_to_an_asset_attaches_it(api, new_user, risk) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await new_user(), await new_user()
    body = {"name": "Stems", "asset_type": "music", "price": "3", "royalty_rate": "5", "metadata": {},
            "utility_features": [], "region": "EU", "ipfs_hash": make_cid(),
            "creators": [{"user_id": alice.id, "share_percent": "100"}]}
    created = await api.post("/api/v1/assets", json=body, headers=_auth(alice))
    assert created.status_code == 201, created.text
    asset_id = created.json()["id"]
    art = b"artwork " + alice.id.encode()
    master = b"master " + alice.id.encode()

    url = f"/api/v1/assets/{asset_id}/files"
    forbidden = await api.post(url, files={"file": ("x.bin", b"bob's")}, headers=_auth(bob))
    assert forbidden.status_code == 403
    by_form = await api.post(url, files={"file": ("art.png", art, "image/png")}, headers=_auth(alice))
    assert by_form.status_code == 200, by_form.text
    by_raw = await api.post(url, content=master, headers=_auth(alice) | {"Content-Type": "audio/wav"})
    assert by_raw.status_code == 200, by_raw.text
    # The same bytes uploaded on their own have the CIDs the asset now lists.
    cids = [(await api.post("/api/v1/files", content=c, headers=_auth(alice))).json()["cid"] for c in (art, master)]
    assert by_raw.json()["file_cids"] == cids
    # Attaching a stored file by CID (JSON) still works, and is idempotent.
    again = await api.post(url, json={"cid": cids[0]}, headers=_auth(alice))
    assert again.status_code == 200 and again.json()["file_cids"] == cids
    bad = await api.post(url, json={"cid": "no"}, headers=_auth(alice))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cid"
