"""How a purchase that cannot happen answers: nothing is prepared or stored while the chain or
the risk check is unreachable (UNAVAILABLE, retry); an offer not paid in time fails ("the offer
expired") and cannot be paid; a buyer's transaction that reverts fails the purchase with the
revert's reason; an archived asset is not for sale, also when a key replays an earlier purchase."""

from __future__ import annotations

import grpc
from conftest import create_request, fund, list_for_sale, pay, rejected, settled, tx_dict
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs import db
from ipheron_libs.devstack_ports import free_port
from ipheron_libs.testing import wait_until_async
from sqlalchemy import text


def _sql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = db.make_engine(url, "assets", pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


async def test_nothing_is_prepared_while_the_chain_or_the_risk_check_is_unreachable(
        start_replica, new_user, risk, chain_stub, clean_assets) -> None:  # type: ignore[no-untyped-def]
    alice, buyer = await new_user(), await new_user()
    healthy = await start_replica()
    asset = (await healthy.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(healthy.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 3)
    closed = f"127.0.0.1:{free_port()}"
    for broken in ({"chain_addr": closed, "chain_timeout": 1.0}, {"ai_agents_addr": closed, "ai_timeout": 1.0}):
        replica = await start_replica(consume_chain_events=False, **broken)
        err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
            actor=buyer.actor, asset_id=asset.id, idempotency_key="retry-me")))
        assert err.code() == grpc.StatusCode.UNAVAILABLE, (broken, err.details())
    assert _sql(clean_assets, "SELECT count(*) FROM sagas WHERE kind = 'purchase'") == [(0,)]
    # The client's retry with the same key, once both answer, prepares the purchase.
    offer = (await healthy.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="retry-me"))).purchase
    assert offer.state == pb.PURCHASE_STATE_AWAITING_PAYMENT


async def test_an_offer_not_paid_in_time_expires_and_cannot_be_paid(start_replica, new_user, risk,
                                                                    chain_stub) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(start_worker=True, payment_window_s=0.5)
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 3)
    offer = (await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="slow"))).purchase
    failed = await settled(replica.stub, offer.id)  # the worker expires it
    assert (failed.state, failed.failure_code, failed.failure_reason) == (
        pb.PURCHASE_STATE_FAILED, "DEADLINE_EXCEEDED", "the offer expired")
    raw = buyer.signer.sign_transaction(tx_dict(offer.transaction))
    err = await rejected(replica.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=buyer.actor, purchase_id=offer.id, raw_transaction=raw)))
    assert err.code() == grpc.StatusCode.ABORTED and "expired" in err.details()
    # Nothing was sent: the asset is still the seller's and still for sale.
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.listed) == (alice.id, True)


async def test_a_buyers_transaction_that_reverts_fails_the_purchase_with_its_reason(
        start_replica, new_user, risk, chain_stub) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(start_worker=True)
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 3)
    await fund(chain_stub, alice, 1)
    offer = (await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="too-late"))).purchase
    # The seller cancels on chain before the buyer's payment lands.
    cancelled = await replica.stub.CancelListing(pb.CancelListingRequest(actor=alice.actor, asset_id=asset.id))
    raw = alice.signer.sign_transaction(tx_dict(cancelled.cancel_transaction))
    sent = await chain_stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=cancelled.cancel_transaction, type=chain_pb.TRANSACTION_TYPE_CANCEL))

    async def mined() -> bool:
        tx = (await chain_stub.GetTransaction(chain_pb.GetTransactionRequest(tx_hash=sent.tx_hash))).transaction
        return tx.status == chain_pb.TRANSACTION_STATUS_CONFIRMED

    await wait_until_async(mined, 10.0, message="the cancel was not mined")
    submitted = await pay(replica.stub, buyer, offer)  # broadcast: the chain reverts it
    assert submitted.state == pb.PURCHASE_STATE_SUBMITTED
    failed = await settled(replica.stub, offer.id)
    assert failed.state == pb.PURCHASE_STATE_FAILED and "OrderIsCancelled" in failed.failure_reason
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.owner_user_id == alice.id


async def test_an_archived_asset_is_not_for_sale_and_nothing_is_stored(replica, new_user, risk, chain_stub,
                                                                       clean_assets) -> None:
    alice, bob, carol = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    await fund(chain_stub, bob, 3)
    offer = (await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=bob.actor, asset_id=asset.id, idempotency_key="bob-buys"))).purchase
    archived = (await replica.stub.ArchiveAsset(pb.ArchiveAssetRequest(actor=alice.actor, asset_id=asset.id))).asset
    assert (archived.status, archived.listed) == (pb.ASSET_STATUS_ARCHIVED, False)
    assert _sql(clean_assets, "SELECT state, reason FROM listings") == [("cancelled", "the asset was archived")]
    before = _sql(clean_assets, "SELECT count(*) FROM sagas WHERE kind = 'purchase'")

    # A fresh buyer, and the earlier buyer replaying their key: both refused (409), not 200.
    for actor, key in ((carol.actor, "carol-tries"), (bob.actor, "bob-buys")):
        err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
            actor=actor, asset_id=asset.id, idempotency_key=key)))
        assert err.code() == grpc.StatusCode.ABORTED and "archived" in err.details(), (key, err.details())
    assert _sql(clean_assets, "SELECT count(*) FROM sagas WHERE kind = 'purchase'") == before
    # The earlier offer stays readable.
    again = (await replica.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=offer.id))).purchase
    assert again.id == offer.id
