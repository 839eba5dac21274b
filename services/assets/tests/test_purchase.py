"""The purchase saga: exact on-chain splits, idempotency, one winner among many,
risk refusals with compensation, provenance that matches the chain."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import grpc
from conftest import create_request, rejected
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs import db
from sqlalchemy import text

WEI = 10**18


async def _balance(chain_stub, wallet: str) -> int:  # type: ignore[no-untyped-def]
    resp = await chain_stub.GetBalance(chain_pb.GetBalanceRequest(address=wallet))
    return int(resp.pending_withdrawal_wei or 0)


async def test_purchase_pays_seller_and_each_co_creator_exactly_on_chain(replica, new_user, risk, chain_stub,
                                                                         auth_stub, clean_assets) -> None:
    alice, bob, carol, buyer = await new_user(), await new_user(), await new_user(), await new_user()
    # A price whose royalty does not divide evenly, so rounding is exercised.
    price = "1.000000000000000007"
    asset = (await replica.stub.CreateAsset(create_request(
        [(alice, "50"), (bob, "33.33"), (carol, "16.67")], alice, price=price, royalty_rate="7.5"))).asset
    before = {u.wallet: await _balance(chain_stub, u.wallet) for u in (alice, bob, carol)}

    purchase = (await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=asset.id, idempotency_key="buy-1"))).purchase

    assert purchase.state == pb.PURCHASE_STATE_COMPLETED
    assert purchase.tx_hash.startswith("0x") and purchase.price.amount == price
    price_wei = int(Decimal(price) * WEI)
    royalty = price_wei * 750 // 10_000
    bob_cut, carol_cut = royalty * 3333 // 10_000, royalty * 1667 // 10_000
    alice_cut = royalty - bob_cut - carol_cut  # the first co-creator takes the rounding remainder
    deltas = {u.wallet: await _balance(chain_stub, u.wallet) - before[u.wallet] for u in (alice, bob, carol)}
    assert deltas == {alice.wallet: price_wei - royalty + alice_cut, bob.wallet: bob_cut, carol.wallet: carol_cut}
    assert sum(deltas.values()) == price_wei

    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.owner_wallet, got.listed, got.reserved) == (buyer.id, buyer.wallet, False, False)
    token = await chain_stub.GetToken(chain_pb.GetTokenRequest(token_id=int(asset.token_id)))
    assert token.owner_address.lower() == buyer.wallet

    # Creators' total_sales in auth: each their share of the price (auth keeps 6 decimals).
    totals = {u.id: Decimal((await auth_stub.GetUser(auth_pb.GetUserRequest(id=u.id))).user.total_sales)
              for u in (alice, bob, carol)}
    assert totals == {alice.id: Decimal("0.5"), bob.id: Decimal("0.3333"), carol.id: Decimal("0.1667")}

    # Provenance: mint, sale, transfer in order, each tx verifiable on chain.
    entries = (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
    assert [e.kind for e in entries] == [pb.PROVENANCE_KIND_MINT, pb.PROVENANCE_KIND_SALE, pb.PROVENANCE_KIND_TRANSFER]
    assert entries[0].tx_hash == asset.mint_tx_hash and entries[0].to_wallet == alice.wallet
    assert entries[1].tx_hash == purchase.tx_hash and entries[1].price.amount == price
    assert (entries[2].from_wallet, entries[2].to_wallet) == (alice.wallet, buyer.wallet)
    for e, kind in zip(entries, (chain_pb.TRANSACTION_TYPE_MINT, chain_pb.TRANSACTION_TYPE_BUY,
                                 chain_pb.TRANSACTION_TYPE_BUY), strict=True):
        tx = (await chain_stub.GetTransaction(chain_pb.GetTransactionRequest(tx_hash=e.tx_hash))).transaction
        assert tx.status == chain_pb.TRANSACTION_STATUS_CONFIRMED and tx.type == kind
        assert tx.block_number == e.block_number and tx.asset_id == asset.id

    engine = db.make_engine(clean_assets, "assets", pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        events = {r.type: r.payload for r in conn.execute(text("SELECT type, payload FROM outbox"))}
    engine.dispose()
    assert events["asset.sold"]["tx_hash"] == purchase.tx_hash and events["asset.sold"]["price"] == price
    assert events["asset.transferred"]["to_wallet"] == buyer.wallet


async def test_same_idempotency_key_returns_the_same_purchase(replica, new_user, risk, chain_stub) -> None:
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    req = pb.PurchaseAssetRequest(actor=buyer.actor, asset_id=asset.id, idempotency_key="same-key")
    first = (await replica.stub.PurchaseAsset(req)).purchase
    again = (await replica.stub.PurchaseAsset(req)).purchase
    assert first == again
    txs = (await chain_stub.ListTransactions(chain_pb.ListTransactionsRequest(asset_id=asset.id))).transactions
    assert [t.type for t in txs].count(chain_pb.TRANSACTION_TYPE_BUY) == 1
    # A key reused for another asset is a client error, not a second purchase.
    other = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=buyer.actor, asset_id=other.id, idempotency_key="same-key")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_twenty_concurrent_buyers_exactly_one_wins_and_nineteen_conflict(replica, new_user, risk,
                                                                               chain_stub) -> None:
    alice = await new_user()
    buyers = [await new_user() for _ in range(20)]
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset

    async def buy(user):  # type: ignore[no-untyped-def]
        try:
            return await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
                actor=user.actor, asset_id=asset.id, idempotency_key=f"k-{user.id}"))
        except grpc.aio.AioRpcError as exc:
            return exc

    results = await asyncio.gather(*[buy(u) for u in buyers])
    wins = [r for r in results if not isinstance(r, grpc.aio.AioRpcError)]
    losses = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(wins) == 1 and wins[0].purchase.state == pb.PURCHASE_STATE_COMPLETED
    assert len(losses) == 19
    assert {e.code() for e in losses} == {grpc.StatusCode.ABORTED}
    winner = next(u for u in buyers if u.id == wins[0].purchase.buyer_user_id)
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.owner_user_id == winner.id
    txs = (await chain_stub.ListTransactions(chain_pb.ListTransactionsRequest(asset_id=asset.id))).transactions
    assert [t.type for t in txs].count(chain_pb.TRANSACTION_TYPE_BUY) == 1


async def test_risky_purchase_is_refused_and_the_reservation_released(replica, new_user, risk, chain_stub) -> None:
    alice, shady, honest = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    risk.purchase_score = 90
    req = pb.PurchaseAssetRequest(actor=shady.actor, asset_id=asset.id, idempotency_key="shady")
    err = await rejected(replica.stub.PurchaseAsset(req))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "wash_trading" in err.details()
    # Same key, same answer, and still nothing bought.
    again = await rejected(replica.stub.PurchaseAsset(req))
    assert (again.code(), again.details()) == (err.code(), err.details())
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.reserved, got.listed) == (alice.id, False, True)

    risk.purchase_score = 5
    ok = (await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=honest.actor, asset_id=asset.id, idempotency_key="honest"))).purchase
    assert ok.state == pb.PURCHASE_STATE_COMPLETED


async def test_owner_cannot_buy_own_asset_and_unlisted_assets_are_not_for_sale(replica, new_user, risk) -> None:
    alice, bob = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=alice.actor, asset_id=asset.id, idempotency_key="mine")))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    await replica.stub.UpdateAsset(pb.UpdateAssetRequest(actor=alice.actor, asset_id=asset.id, listed=False,
                                                         update_mask={"paths": ["listed"]}))
    err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=bob.actor, asset_id=asset.id, idempotency_key="unlisted")))
    assert err.code() == grpc.StatusCode.ABORTED and "not listed" in err.details()
    err = await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=bob.actor, asset_id=asset.id, idempotency_key="")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_new_owner_can_relist_at_a_new_price_and_resell(replica, new_user, risk, chain_stub) -> None:
    alice, bob, carol = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice, royalty_rate="10"))).asset
    await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(actor=bob.actor, asset_id=asset.id, idempotency_key="a"))
    await replica.stub.UpdateAsset(pb.UpdateAssetRequest(actor=bob.actor, asset_id=asset.id, price="3", listed=True,
                                                         update_mask={"paths": ["price", "listed"]}))
    before_alice, before_bob = await _balance(chain_stub, alice.wallet), await _balance(chain_stub, bob.wallet)
    second = (await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=carol.actor, asset_id=asset.id, idempotency_key="b"))).purchase
    assert second.state == pb.PURCHASE_STATE_COMPLETED and second.seller_user_id == bob.id
    # Secondary sale: the seller gets price minus royalty, the creator the royalty.
    assert await _balance(chain_stub, bob.wallet) - before_bob == 3 * WEI * 9 // 10
    assert await _balance(chain_stub, alice.wallet) - before_alice == 3 * WEI // 10
    kinds = [e.kind for e in (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries]
    assert kinds == [pb.PROVENANCE_KIND_MINT] + [pb.PROVENANCE_KIND_SALE, pb.PROVENANCE_KIND_TRANSFER] * 2
