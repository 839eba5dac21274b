"""Files: content stored under its CID v1 once, readable back, attachable by the owner,
and usable as an asset's content hash."""

from __future__ import annotations

import hashlib

import grpc
from assets_service.cid import parse_cid
from conftest import create_request, rejected
from ipheron.assets.v1 import assets_service_pb2 as pb


async def test_upload_stores_content_under_its_cid_once(replica, new_user, risk) -> None:
    alice, bob = await new_user(), await new_user()
    content = b"\x89PNG fake image bytes " + alice.id.encode()
    first = await replica.stub.UploadFile(pb.UploadFileRequest(actor=alice.actor, filename="cover<script>.png",
                                                               content_type="image/png", content=content))
    cid = parse_cid(first.file.cid)
    assert first.created and cid.version == 1 and cid.codec == "raw"
    assert cid.multihash == bytes([0x12, 0x20]) + hashlib.sha256(content).digest()
    assert (first.file.size, first.file.sha256, first.file.filename) == (
        len(content), hashlib.sha256(content).hexdigest(), "cover.png")
    again = await replica.stub.UploadFile(pb.UploadFileRequest(actor=bob.actor, content=content))
    assert not again.created and again.file.cid == first.file.cid and again.file.uploader_user_id == alice.id
    got = await replica.stub.GetFile(pb.GetFileRequest(cid=first.file.cid, include_content=True))
    assert got.content == content and got.file.content_type == "image/png"


async def test_bad_uploads_are_refused(replica, new_user) -> None:
    alice = await new_user()
    for req, reason in (
        (pb.UploadFileRequest(actor=alice.actor, content=b""), "empty"),
        (pb.UploadFileRequest(actor=alice.actor, content=b"x" * (4 * 1024 * 1024 + 1)), "larger than"),
        (pb.UploadFileRequest(actor=alice.actor, content=b"x", content_type="not a type"), "MIME"),
    ):
        err = await rejected(replica.stub.UploadFile(req))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and reason in err.details()
    err = await rejected(replica.stub.GetFile(pb.GetFileRequest(cid="bafkreinotstored")))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_owner_attaches_files_and_the_uploaded_cid_registers_the_asset(replica, new_user, risk) -> None:
    alice, bob = await new_user(), await new_user()
    master = (await replica.stub.UploadFile(pb.UploadFileRequest(
        actor=alice.actor, content=b"master " + alice.id.encode()))).file
    art = (await replica.stub.UploadFile(pb.UploadFileRequest(
        actor=alice.actor, content=b"art " + alice.id.encode()))).file
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice, ipfs_hash=master.cid))).asset
    assert asset.ipfs_hash == master.cid and asset.status == pb.ASSET_STATUS_ACTIVE

    err = await rejected(replica.stub.AttachFile(pb.AttachFileRequest(actor=bob.actor, asset_id=asset.id, cid=art.cid)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = await rejected(replica.stub.AttachFile(pb.AttachFileRequest(actor=alice.actor, asset_id=asset.id,
                                                                      cid="bafkreimissing")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))  # cached now
    for cid in (art.cid, master.cid, art.cid):  # attaching twice changes nothing
        attached = (await replica.stub.AttachFile(pb.AttachFileRequest(actor=alice.actor, asset_id=asset.id,
                                                                       cid=cid))).asset
    assert list(attached.file_cids) == [art.cid, master.cid]
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert list(got.file_cids) == [art.cid, master.cid]  # the cache was invalidated
    listed = (await replica.stub.ListAssets(pb.ListAssetsRequest(owner=alice.id))).assets
    assert [list(a.file_cids) for a in listed] == [[art.cid, master.cid]]
