"""PostgreSQL text cannot hold a NUL character. Client text that the service keeps as it
is (ids, keys, filters, CIDs) is refused with INVALID_ARGUMENT naming the field when it
holds one — never INTERNAL — for a direct gRPC caller as well as behind the gateway
(free text such as names and metadata is cleaned instead: see test_text_is_sanitised)."""

from __future__ import annotations

import grpc
from conftest import create_request, rejected
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron_libs.errors import FIELD_METADATA_KEY


def _field(err: grpc.aio.AioRpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get(FIELD_METADATA_KEY)


async def test_text_with_a_nul_character_is_invalid_argument_not_internal(replica, new_user, risk) -> None:
    alice, bob = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    nul_actor = pb.Actor(user_id=bob.id + "\x00", wallet=bob.wallet)
    stub = replica.stub
    calls = [
        (lambda: stub.ListAssets(pb.ListAssetsRequest(region="EU\x00")), "region"),
        (lambda: stub.ListAssets(pb.ListAssetsRequest(creator="u\x00")), "creator"),
        (lambda: stub.ListAssets(pb.ListAssetsRequest(owner="u\x00")), "owner"),
        (lambda: stub.PurchaseAsset(pb.PurchaseAssetRequest(actor=bob.actor, asset_id=asset.id,
                                                            idempotency_key="key\x00")), "idempotency_key"),
        (lambda: stub.PurchaseAsset(pb.PurchaseAssetRequest(actor=nul_actor, asset_id=asset.id,
                                                            idempotency_key="k")), "actor.user_id"),
        (lambda: stub.UploadFile(pb.UploadFileRequest(actor=nul_actor, content=b"x")), "actor.user_id"),
        (lambda: stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
            actor=bob.actor, purchase_id=asset.id, tx_hash="0x\x00")), "tx_hash"),
        (lambda: stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
            actor=bob.actor, purchase_id=asset.id, raw_transaction="0x02\x00")), "raw_transaction"),
        (lambda: stub.GetListingTypedData(pb.GetListingTypedDataRequest(actor=nul_actor, asset_id=asset.id,
                                                                        price="1")), "actor.user_id"),
        (lambda: stub.GetFile(pb.GetFileRequest(cid="bafk\x00")), "cid"),
        (lambda: stub.AttachFile(pb.AttachFileRequest(actor=alice.actor, asset_id=asset.id, cid="bafk\x00")), "cid"),
        (lambda: stub.CreateAsset(create_request([(alice, "50")], alice, creators=[
            pb.CreatorShare(user_id=alice.id, share_percent="50"),
            pb.CreatorShare(user_id="u\x00", share_percent="50")])), "creators.1.user_id"),
    ]
    for call, field in calls:
        err = await rejected(call())
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, err.code(), err.details())
        assert _field(err) == field and "NUL" in err.details(), (field, _field(err), err.details())
