"""Crash recovery: a replica stops mid-purchase or mid-mint; the chain's events (read again by
the restarted replica) and the saga worker leave chain and catalog agreeing, nothing doubled."""

from __future__ import annotations

from decimal import Decimal

from assets_service import domain
from assets_service.domain import Actor, Creator
from conftest import count_rows, create_request, fund, list_for_sale, settled, tx_dict
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs.db import run_db


async def _sale_entries(replica, asset_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    entries = (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset_id))).entries
    return [e.tx_hash for e in entries if e.kind == pb.PROVENANCE_KIND_SALE]


async def test_a_replica_gone_between_broadcast_and_record_is_completed_once_after_restart(
        start_replica, new_user, risk, chain_stub, clean_assets) -> None:  # type: ignore[no-untyped-def]
    alice, buyer = await new_user(), await new_user()
    # This replica does not read the chain's events: it "dies" before it could record anything.
    first = await start_replica(instance_id="replica-crashy", consume_chain_events=False)
    asset = (await first.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(first.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 3)
    offer = (await first.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="crash-key"))).purchase
    # The buyer's transaction was broadcast; the replica never marked the purchase submitted.
    raw = buyer.signer.sign_transaction(tx_dict(offer.transaction))
    sent = await chain_stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=offer.transaction, type=chain_pb.TRANSACTION_TYPE_BUY, asset_id=asset.id))
    await first.stop()

    restarted = await start_replica(instance_id="replica-crashy")  # reads the chain's events again
    done = await settled(restarted.stub, offer.id)
    assert (done.state, done.tx_hash) == (pb.PURCHASE_STATE_COMPLETED, sent.tx_hash.lower())
    got = (await restarted.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.listed) == (buyer.id, False)
    assert await _sale_entries(restarted, asset.id) == [sent.tx_hash.lower()]
    # The client hands the same transaction in again: the same, finished purchase.
    again = (await restarted.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=buyer.actor, purchase_id=offer.id, raw_transaction=raw))).purchase
    assert (again.state, again.tx_hash) == (pb.PURCHASE_STATE_COMPLETED, sent.tx_hash.lower())
    replay = await restarted.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="crash-key"))
    assert replay.replayed and replay.purchase.id == offer.id
    assert count_rows(clean_assets, "SELECT count(*) FROM outbox WHERE type = 'asset.sold'") == 1


async def test_an_offer_left_by_a_dead_replica_expires_on_another_once_its_lease_is_gone(
        start_replica, new_user, risk, chain_stub) -> None:  # type: ignore[no-untyped-def]
    alice, buyer = await new_user(), await new_user()
    dead = await start_replica(instance_id="replica-dead", saga_lease_seconds=0.5, payment_window_s=0.5)
    asset = (await dead.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(dead.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 3)
    offer = (await dead.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="takeover"))).purchase
    await dead.stop()

    survivor = await start_replica(instance_id="replica-survivor", start_worker=True)
    failed = await settled(survivor.stub, offer.id)
    assert (failed.state, failed.failure_reason) == (pb.PURCHASE_STATE_FAILED, "the offer expired")
    got = (await survivor.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.listed) == (alice.id, True)


async def test_crash_during_mint_is_minted_at_restart(start_replica, new_user, risk) -> None:
    alice = await new_user()
    first = await start_replica(instance_id="replica-mint")
    app = first.app.service
    new = domain.validate_new_asset({
        "name": "Lost Mint", "asset_type": "art", "price": "2",
        "creators": [{"user_id": alice.id, "share_percent": 100}],
        "ipfs_hash": create_request([(alice, "100")], alice).ipfs_hash})
    asset, _saga = await run_db(app.repo.create_asset, new, [Creator(alice.id, alice.wallet, Decimal(100))],
                               Actor(alice.id, alice.wallet))
    await first.stop()  # crashed before the risk check and the mint

    restarted = await start_replica(instance_id="replica-mint")
    got = (await restarted.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.status == pb.ASSET_STATUS_ACTIVE and got.token_id
