"""How a purchase that cannot happen answers: a chain refusal keeps the chain's status
(NOT_FOUND is 404 and ALREADY_EXISTS 409 at the gateway, not 400), and a purchase of
an archived asset is a clear refusal with nothing reserved, even when its key replays
an earlier purchase."""

from __future__ import annotations

import grpc
from assets_service.domain import Actor
from conftest import create_request, rejected
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs import db
from sqlalchemy import text


def _sql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = db.make_engine(url, "assets", pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


async def test_a_token_the_chain_does_not_know_is_not_found_for_the_buyer(replica, new_user, risk,
                                                                          clean_assets) -> None:
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    # The catalog points at a token the chain has never minted.
    _sql(clean_assets, "UPDATE assets SET token_id = '987654321' WHERE id = :id", id=asset.id)
    req = pb.PurchaseAssetRequest(actor=buyer.actor, asset_id=asset.id, idempotency_key="ghost-token")
    err = await rejected(replica.stub.PurchaseAsset(req))
    assert err.code() == grpc.StatusCode.NOT_FOUND, err.details()
    assert "987654321" in err.details()
    # The same key replays the same answer, and the reservation was released.
    again = await rejected(replica.stub.PurchaseAsset(req))
    assert (again.code(), again.details()) == (err.code(), err.details())
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.reserved) == (alice.id, False)


async def test_a_buy_the_chain_already_has_under_another_request_is_already_exists(replica, new_user, risk,
                                                                                   chain_stub) -> None:
    alice, buyer, other = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    service = replica.app.service
    saga, created = await service.reserve(Actor(buyer.id, buyer.wallet), asset.id, "taken-key", None)
    assert created
    saga = await service._prepare_buy(saga)
    assert saga is not None
    # The chain already holds this purchase's idempotency key for a different request.
    await chain_stub.BuyToken(chain_pb.BuyTokenRequest(
        token_id=int(saga.purchase.token_id), recipient_address=other.wallet,
        price_wei=str(int(saga.purchase.price * 10**18)), idempotency_key=f"ipheron-purchase:{saga.id}",
        asset_id=asset.id))
    await service.drive(saga)

    err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="taken-key")))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS, err.details()
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.reserved) == (alice.id, False)


async def test_an_archived_asset_is_not_for_sale_and_nothing_is_reserved(replica, new_user, risk,
                                                                         clean_assets) -> None:
    alice, bob, carol = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    bought = (await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=bob.actor, asset_id=asset.id, idempotency_key="bob-buys"))).purchase
    assert bought.state == pb.PURCHASE_STATE_COMPLETED
    await replica.stub.ArchiveAsset(pb.ArchiveAssetRequest(actor=bob.actor, asset_id=asset.id))
    sagas_before = _sql(clean_assets, "SELECT count(*) FROM sagas WHERE kind = 'purchase'")

    # A fresh buyer, and the earlier buyer replaying their key: both refused (409), not 200.
    for actor, key in ((carol.actor, "carol-tries"), (bob.actor, "bob-buys")):
        err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
            actor=actor, asset_id=asset.id, idempotency_key=key)))
        assert err.code() == grpc.StatusCode.ABORTED and "archived" in err.details(), (key, err.details())

    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.status, got.reserved, got.owner_user_id) == (pb.ASSET_STATUS_ARCHIVED, False, bob.id)
    assert _sql(clean_assets, "SELECT count(*) FROM sagas WHERE kind = 'purchase'") == sagas_before
    # The history stays readable: the completed purchase still reads back.
    again = (await replica.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=bought.id))).purchase
    assert again.state == pb.PURCHASE_STATE_COMPLETED
