"""Crash recovery: a replica stops mid-saga; a fresh replica finishes or rolls back
each unfinished saga so that chain and catalog agree."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from assets_service import domain
from assets_service.domain import Actor, Creator
from conftest import create_request
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs.db import run_db
from ipheron_libs.testing import wait_until_async


async def _buy_count(chain_stub, asset_id: str) -> int:  # type: ignore[no-untyped-def]
    txs = (await chain_stub.ListTransactions(chain_pb.ListTransactionsRequest(asset_id=asset_id))).transactions
    return [t.type for t in txs].count(chain_pb.TRANSACTION_TYPE_BUY)


@pytest.mark.parametrize("crash_after", ["chain_buy_sent", "chain_buy_confirmed"])
async def test_crash_between_chain_buy_and_record_is_finished_at_restart(start_replica, new_user, risk, chain_stub,
                                                                         crash_after: str) -> None:
    alice, buyer = await new_user(), await new_user()
    first = await start_replica(instance_id="replica-crashy")
    asset = (await first.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    app = first.app.service

    # Run the saga's steps by hand up to the chain buy, then "crash" before the record.
    saga, created = await app.reserve(Actor(buyer.id, buyer.wallet), asset.id, "crash-key", None)
    assert created
    saga = await app._prepare_buy(saga)
    assert saga is not None and saga.state == domain.BUYING
    bought = await app.chain.buy(token_id=saga.purchase.token_id, recipient=buyer.wallet,
                                 price_wei=domain.to_wei(saga.purchase.price),
                                 idempotency_key=f"ipheron-purchase:{saga.id}", asset_id=asset.id)
    if crash_after == "chain_buy_confirmed":
        await run_db(app.repo.advance, saga.id, domain.BUYING, domain.BOUGHT,
                     replace(saga.purchase, tx_hash=bought.tx.tx_hash, block_number=bought.tx.block_number))
    await first.stop()  # nothing recorded: the chain sold, the catalog does not know yet

    restarted = await start_replica(instance_id="replica-crashy")  # recovery runs before serving
    purchase = (await restarted.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=saga.id))).purchase
    assert purchase.state == pb.PURCHASE_STATE_COMPLETED
    assert purchase.tx_hash == bought.tx.tx_hash
    got = (await restarted.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.reserved) == (buyer.id, False)
    assert await _buy_count(chain_stub, asset.id) == 1
    entries = (await restarted.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
    assert [e.tx_hash for e in entries if e.kind == pb.PROVENANCE_KIND_SALE] == [bought.tx.tx_hash]
    # The client's retry with the same key gets the same, finished purchase.
    replay = (await restarted.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="crash-key"))).purchase
    assert replay.id == saga.id and replay.state == pb.PURCHASE_STATE_COMPLETED


async def test_crash_before_the_chain_buy_rolls_back_and_the_same_key_can_retry(start_replica, new_user, risk,
                                                                                chain_stub) -> None:
    alice, buyer = await new_user(), await new_user()
    first = await start_replica(instance_id="replica-early")
    asset = (await first.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    saga, _ = await first.app.service.reserve(Actor(buyer.id, buyer.wallet), asset.id, "early", None)
    await first.stop()

    restarted = await start_replica(instance_id="replica-early")
    failed = (await restarted.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=saga.id))).purchase
    assert failed.state == pb.PURCHASE_STATE_FAILED and "interrupted" in failed.failure_reason
    got = (await restarted.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.reserved) == (alice.id, False)
    assert await _buy_count(chain_stub, asset.id) == 0

    retry = (await restarted.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="early"))).purchase
    assert retry.state == pb.PURCHASE_STATE_COMPLETED and retry.id != saga.id
    assert await _buy_count(chain_stub, asset.id) == 1


async def test_another_replica_takes_over_once_the_dead_replicas_lease_expires(start_replica, new_user, risk,
                                                                               chain_stub) -> None:
    alice, buyer = await new_user(), await new_user()
    dead = await start_replica(instance_id="replica-dead", saga_lease_seconds=0.5)
    asset = (await dead.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    app = dead.app.service
    saga, _ = await app.reserve(Actor(buyer.id, buyer.wallet), asset.id, "takeover", None)
    saga = await app._prepare_buy(saga)
    assert saga is not None and saga.state == domain.BUYING  # the BuyToken call was lost with the process
    await dead.stop()

    survivor = await start_replica(instance_id="replica-survivor", start_worker=True)
    async def finished() -> pb.Purchase | None:
        purchase = (await survivor.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=saga.id))).purchase
        return purchase if purchase.state == pb.PURCHASE_STATE_COMPLETED else None

    # The worker polls every 0.2 s; bounded wait for the lease to expire and the survivor to finish.
    purchase = await wait_until_async(finished, 10.0, message="the survivor did not finish the purchase")
    assert purchase.state == pb.PURCHASE_STATE_COMPLETED
    assert await _buy_count(chain_stub, asset.id) == 1
    got = (await survivor.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.owner_user_id == buyer.id


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
