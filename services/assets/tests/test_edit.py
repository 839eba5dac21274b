"""Editing: owner-only, field-mask style, nothing else writable; listing only by a signed
order (never by a flag); archive, never delete."""

from __future__ import annotations

import grpc
import orjson
from conftest import create_request, rejected
from ipheron.assets.v1 import assets_service_pb2 as pb


async def test_owner_updates_the_asking_price_and_metadata_of_an_unlisted_asset(replica, new_user, risk) -> None:
    alice = await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    assert not asset.listed and not asset.HasField("listing")  # minted, not for sale until signed
    updated = (await replica.stub.UpdateAsset(pb.UpdateAssetRequest(
        actor=alice.actor, asset_id=asset.id, price="2.25", metadata_json='{"edition": "deluxe"}',
        update_mask={"paths": ["price", "metadata"]}))).asset
    assert (updated.price.amount, updated.listed) == ("2.25", False)
    assert orjson.loads(updated.metadata_json) == {"edition": "deluxe"}
    assert updated.version > asset.version
    # Fields outside the mask are untouched.
    only_price = (await replica.stub.UpdateAsset(pb.UpdateAssetRequest(
        actor=alice.actor, asset_id=asset.id, price="3", update_mask={"paths": ["price"]}))).asset
    assert (only_price.price.amount, only_price.listed) == ("3", False)
    assert orjson.loads(only_price.metadata_json) == {"edition": "deluxe"}


async def test_listing_by_flag_is_refused_pointing_at_the_signed_listing(replica, new_user, risk) -> None:
    alice = await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    err = await rejected(replica.stub.UpdateAsset(pb.UpdateAssetRequest(
        actor=alice.actor, asset_id=asset.id, listed=True, update_mask={"paths": ["listed"]})))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "typed-data" in err.details()
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert not got.listed


async def test_non_owner_update_is_permission_denied_and_changes_nothing(replica, new_user, risk) -> None:
    alice, mallory = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    err = await rejected(replica.stub.UpdateAsset(pb.UpdateAssetRequest(
        actor=mallory.actor, asset_id=asset.id, price="0.0001", update_mask={"paths": ["price"]})))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.price.amount == asset.price.amount


async def test_only_price_listed_and_metadata_are_writable(replica, new_user, risk) -> None:
    alice = await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    for path in ("name", "owner_user_id", "status", "royalty_rate", "creators", "token_id"):
        err = await rejected(replica.stub.UpdateAsset(pb.UpdateAssetRequest(
            actor=alice.actor, asset_id=asset.id, update_mask={"paths": [path]})))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "not writable" in err.details()
    for bad in ({"price": "-1", "paths": ["price"]}, {"metadata_json": "[]", "paths": ["metadata"]}):
        paths = bad.pop("paths")
        err = await rejected(replica.stub.UpdateAsset(pb.UpdateAssetRequest(
            actor=alice.actor, asset_id=asset.id, update_mask={"paths": paths}, **bad)))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rejected(replica.stub.UpdateAsset(pb.UpdateAssetRequest(actor=alice.actor, asset_id=asset.id)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_archived_asset_is_kept_read_only_and_not_for_sale(replica, new_user, risk) -> None:
    alice, bob = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    err = await rejected(replica.stub.ArchiveAsset(pb.ArchiveAssetRequest(actor=bob.actor, asset_id=asset.id)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    archived = (await replica.stub.ArchiveAsset(pb.ArchiveAssetRequest(actor=alice.actor, asset_id=asset.id))).asset
    assert archived.status == pb.ASSET_STATUS_ARCHIVED and not archived.listed
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.status == pb.ASSET_STATUS_ARCHIVED
    err = await rejected(replica.stub.UpdateAsset(pb.UpdateAssetRequest(
        actor=alice.actor, asset_id=asset.id, listed=True, update_mask={"paths": ["listed"]})))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=bob.actor, asset_id=asset.id, idempotency_key="x")))
    assert err.code() == grpc.StatusCode.ABORTED


async def test_unknown_asset_is_not_found(replica, new_user) -> None:
    alice = await new_user()
    for asset_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        err = await rejected(replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset_id)))
        assert err.code() == grpc.StatusCode.NOT_FOUND
        err = await rejected(replica.stub.UpdateAsset(pb.UpdateAssetRequest(
            actor=alice.actor, asset_id=asset_id, price="1", update_mask={"paths": ["price"]})))
        assert err.code() == grpc.StatusCode.NOT_FOUND
