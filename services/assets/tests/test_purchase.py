"""Money really moves: the owner signs a listing, the buyer's own wallet pays the prepared
`fulfill` (price + gas, exactly), the seller and every co-creator are credited the exact wei
on chain, the platform pays nothing, and the chain's events record the sale. Real auth and
chain services (embedded EVM), real wallets (ipheron_libs.wallet)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import grpc
import orjson
from conftest import (
    WEI,
    count_rows,
    create_request,
    fund,
    list_for_sale,
    native_balance,
    pay,
    pending_withdrawal,
    rejected,
    settled,
    tx_dict,
)
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs.testing import wait_until_async
from ipheron_libs.wallet import Wallet

PLATFORM_SIGNER = Wallet.from_key("0x" + "00" * 31 + "01").address.lower()


async def _buy(replica, buyer, asset_id: str, key: str) -> pb.PurchaseAssetResponse:  # type: ignore[no-untyped-def]
    return await replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(actor=buyer.actor, asset_id=asset_id,
                                                                    idempotency_key=key))


async def test_an_empty_wallet_is_told_what_it_lacks_and_nothing_is_stored(replica, new_user, risk,
                                                                           clean_assets) -> None:
    alice, broke = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1.5")

    resp = await _buy(replica, broke, asset.id, "no-money")

    assert not resp.HasField("purchase") and resp.HasField("insufficient_funds")
    short = resp.insufficient_funds
    assert (short.available_wei, short.price_wei) == ("0", str(15 * WEI // 10))
    assert int(short.required_wei) > int(short.price_wei)  # price + gas × maxFeePerGas
    assert int(short.shortfall_wei) == int(short.required_wei)
    assert count_rows(clean_assets, "SELECT count(*) FROM sagas WHERE kind = 'purchase'") == 0
    assert (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset.listed


async def test_the_buyer_pays_price_plus_gas_exactly_and_every_creator_is_credited_exact_wei(
        start_replica, new_user, risk, chain_stub, auth_stub, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(start_worker=True)
    alice, bob, carol, buyer = await new_user(), await new_user(), await new_user(), await new_user()
    price = "1.000000000000000007"  # its royalty does not divide evenly: rounding is exercised
    asset = (await replica.stub.CreateAsset(create_request(
        [(alice, "50"), (bob, "33.33"), (carol, "16.67")], alice, royalty_rate="7.5"))).asset
    assert not asset.listed  # minted, not for sale until its owner signs
    listed = (await list_for_sale(replica.stub, alice, asset.id, price)).listing
    assert (listed.state, listed.price.amount, listed.price_wei) == (
        pb.LISTING_STATE_ACTIVE, price, "1000000000000000007")
    await fund(chain_stub, buyer, 5)
    before = {u.wallet: await pending_withdrawal(chain_stub, u.wallet) for u in (alice, bob, carol)}
    paid_before, platform_before = await native_balance(chain_stub, buyer.wallet), \
        await native_balance(chain_stub, PLATFORM_SIGNER)

    purchase = (await _buy(replica, buyer, asset.id, "buy-1")).purchase
    assert purchase.state == pb.PURCHASE_STATE_AWAITING_PAYMENT and purchase.expires_at.seconds > 0
    assert purchase.transaction.from_address.lower() == buyer.wallet
    assert purchase.transaction.value_wei == purchase.price_wei == "1000000000000000007"
    assert purchase.order_hash == listed.order_hash
    submitted = await pay(replica.stub, buyer, purchase)
    assert submitted.state in (pb.PURCHASE_STATE_SUBMITTED, pb.PURCHASE_STATE_COMPLETED) and submitted.tx_hash
    done = await settled(replica.stub, purchase.id)
    assert done.state == pb.PURCHASE_STATE_COMPLETED and done.tx_hash == submitted.tx_hash

    mined = await chain_stub.GetTransaction(chain_pb.GetTransactionRequest(tx_hash=done.tx_hash))
    receipt = mined.transaction.receipt
    gas_cost = receipt.gas_used * int(receipt.effective_gas_price_wei)
    price_wei = 10**18 + 7
    assert paid_before - await native_balance(chain_stub, buyer.wallet) == price_wei + gas_cost
    assert await native_balance(chain_stub, PLATFORM_SIGNER) == platform_before  # the platform paid nothing
    royalty = price_wei * 750 // 10_000
    bob_cut, carol_cut = royalty * 3333 // 10_000, royalty * 1667 // 10_000
    alice_cut = royalty - bob_cut - carol_cut  # the first co-creator takes the rounding remainder
    deltas = {u.wallet: await pending_withdrawal(chain_stub, u.wallet) - before[u.wallet] for u in (alice, bob, carol)}
    assert deltas == {alice.wallet: price_wei - royalty + alice_cut, bob.wallet: bob_cut, carol.wallet: carol_cut}

    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert (got.owner_user_id, got.owner_wallet, got.listed) == (buyer.id, buyer.wallet, False)
    token = await chain_stub.GetToken(chain_pb.GetTokenRequest(token_id=int(asset.token_id)))
    assert token.owner_address.lower() == buyer.wallet
    entries = (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
    assert [e.kind for e in entries] == [pb.PROVENANCE_KIND_MINT, pb.PROVENANCE_KIND_SALE, pb.PROVENANCE_KIND_TRANSFER]
    assert entries[1].tx_hash == done.tx_hash and entries[1].price.amount == price
    assert entries[1].block_number == receipt.block_number

    async def credited() -> dict[str, Decimal] | None:
        totals = {u.id: Decimal((await auth_stub.GetUser(auth_pb.GetUserRequest(id=u.id))).user.total_sales)
                  for u in (alice, bob, carol)}
        return totals if sum(totals.values()) > 0 else None

    totals = await wait_until_async(credited, 10.0, message="creators were not credited")
    assert totals == {alice.id: Decimal("0.5"), bob.id: Decimal("0.3333"), carol.id: Decimal("0.1667")}
    assert count_rows(clean_assets, "SELECT count(*) FROM outbox WHERE type = 'asset.sold'") == 1


async def test_the_same_key_answers_the_same_offer_and_transaction(replica, new_user, risk, chain_stub) -> None:
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 3)
    first = await _buy(replica, buyer, asset.id, "same-key")
    again = await _buy(replica, buyer, asset.id, "same-key")
    assert again.replayed and not first.replayed
    assert again.purchase == first.purchase
    other = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    err = await rejected(_buy(replica, buyer, other.id, "same-key"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Handing the same signed transaction in twice sends it once and answers the same purchase.
    raw = buyer.signer.sign_transaction(tx_dict(first.purchase.transaction))
    req = pb.SubmitPurchaseTransactionRequest(actor=buyer.actor, purchase_id=first.purchase.id, raw_transaction=raw)
    one = (await replica.stub.SubmitPurchaseTransaction(req)).purchase
    two = (await replica.stub.SubmitPurchaseTransaction(req)).purchase
    assert one.tx_hash == two.tx_hash and one.id == two.id
    assert (await settled(replica.stub, one.id)).state == pb.PURCHASE_STATE_COMPLETED


async def test_two_buyers_race_for_one_listing_one_completes_the_other_fails_aborted(
        start_replica, new_user, risk, chain_stub) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(start_worker=True)
    alice, ann, ben = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    for u in (ann, ben):
        await fund(chain_stub, u, 3)
    offers = [(await _buy(replica, u, asset.id, f"race-{u.id}")).purchase for u in (ann, ben)]
    assert offers[0].order_hash == offers[1].order_hash  # no exclusive reservation: the chain picks

    async def hand_in(user, offer):  # type: ignore[no-untyped-def]
        try:
            return await pay(replica.stub, user, offer)
        except grpc.aio.AioRpcError as exc:
            return exc

    await asyncio.gather(hand_in(ann, offers[0]), hand_in(ben, offers[1]))
    final = [await settled(replica.stub, o.id) for o in offers]
    states = sorted(p.state for p in final)
    assert states == [pb.PURCHASE_STATE_COMPLETED, pb.PURCHASE_STATE_FAILED]
    loser = next(p for p in final if p.state == pb.PURCHASE_STATE_FAILED)
    winner = next(p for p in final if p.state == pb.PURCHASE_STATE_COMPLETED)
    assert (loser.failure_code, loser.failure_reason) == ("ABORTED", "another buyer bought it first")
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.owner_user_id == winner.buyer_user_id
    sales = [e for e in (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
             if e.kind == pb.PROVENANCE_KIND_SALE]
    assert [e.tx_hash for e in sales] == [winner.tx_hash]


async def test_cancelled_superseded_and_expired_listings_cannot_be_bought(replica, new_user, risk,
                                                                          chain_stub) -> None:
    alice, buyer = await new_user(), await new_user()
    await fund(chain_stub, buyer, 5)
    await fund(chain_stub, alice, 1)  # the seller pays its own cancel transaction
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset

    # Superseded: a new price is a new signed order; the old one gets the seller's cancel tx.
    first = await list_for_sale(replica.stub, alice, asset.id, "2")
    assert not first.HasField("cancel_transaction")  # nothing superseded
    old = first.listing
    new = await list_for_sale(replica.stub, alice, asset.id, "3")
    assert new.HasField("cancel_transaction") and new.cancel_transaction.from_address.lower() == alice.wallet
    raw = alice.signer.sign_transaction(tx_dict(new.cancel_transaction))
    await chain_stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=new.cancel_transaction, type=chain_pb.TRANSACTION_TYPE_CANCEL))

    async def old_cancelled() -> bool:
        v = await chain_stub.VerifyOrder(chain_pb.VerifyOrderRequest(order_json=old.order_json,
                                                                     signature=old.signature))
        return v.state == chain_pb.ORDER_STATE_CANCELLED

    await wait_until_async(old_cancelled, 10.0, message="the superseded order was not cancelled on chain")
    offer = (await _buy(replica, buyer, asset.id, "after-supersede")).purchase
    assert (offer.price_wei, offer.order_hash) == (str(3 * WEI), new.listing.order_hash)

    # Cancelled: off sale at once, with the seller's cancel transaction.
    cancelled = await replica.stub.CancelListing(pb.CancelListingRequest(actor=alice.actor, asset_id=asset.id))
    assert cancelled.listing.state == pb.LISTING_STATE_CANCELLED and cancelled.HasField("cancel_transaction")
    err = await rejected(_buy(replica, buyer, asset.id, "after-cancel"))
    assert err.code() == grpc.StatusCode.ABORTED and "not for sale" in err.details()
    err = await rejected(replica.stub.GetListing(pb.GetListingRequest(asset_id=asset.id)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await rejected(replica.stub.CancelListing(pb.CancelListingRequest(actor=alice.actor, asset_id=asset.id)))
    assert err.code() == grpc.StatusCode.NOT_FOUND

    # Expired: a three-second listing is no longer for sale once its window closed. The window is
    # on the chain's clock, which the embedded chain runs ahead of the wall clock when it mines
    # more than a block a second (each block is stamped at least a second after its parent); so
    # while waiting, blocks are mined (faucet payments) to move the chain's clock on, and either
    # refusal counts: the chain's (the order expired) or the service's own (its window closed).
    await list_for_sale(replica.stub, alice, asset.id, "1", duration_seconds=3)

    tries = iter(range(1000))

    async def refused() -> grpc.aio.AioRpcError | None:
        try:
            await _buy(replica, buyer, asset.id, f"late-{next(tries)}")
        except grpc.aio.AioRpcError as exc:
            return exc
        # One more block (a 1-wei faucet payment): the chain's clock moves on by at least a second.
        await chain_stub.Faucet(chain_pb.FaucetRequest(address=alice.wallet, amount_wei="1"))
        return None

    err = await wait_until_async(refused, 30.0, message="the expired listing was still for sale")
    assert (err.code(), "not for sale" in err.details() or "expired" in err.details()) in (
        (grpc.StatusCode.ABORTED, True), (grpc.StatusCode.ALREADY_EXISTS, True)), (err.code(), err.details())


async def test_a_listing_the_owner_did_not_sign_is_refused(replica, new_user, risk) -> None:
    alice, mallory = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    err = await rejected(replica.stub.GetListingTypedData(pb.GetListingTypedDataRequest(
        actor=mallory.actor, asset_id=asset.id, price="1")))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    typed = orjson.loads((await replica.stub.GetListingTypedData(pb.GetListingTypedDataRequest(
        actor=alice.actor, asset_id=asset.id, price="1"))).typed_data_json)

    # Alice's order signed by Mallory's key: not a valid signature of its seller.
    forged = mallory.signer.sign_typed_data(typed)
    err = await rejected(replica.stub.PutListing(pb.PutListingRequest(
        actor=alice.actor, asset_id=asset.id, order_json=orjson.dumps(typed["message"]).decode(), signature=forged)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    # An order naming Mallory as the seller, signed by her: its seller is not the owner.
    typed["message"]["seller"] = Wallet.from_key(mallory.signer.private_key).address
    err = await rejected(replica.stub.PutListing(pb.PutListingRequest(
        actor=alice.actor, asset_id=asset.id, order_json=orjson.dumps(typed["message"]).decode(),
        signature=mallory.signer.sign_typed_data(typed))))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err.details()
    # Only the owner puts a listing at all.
    err = await rejected(replica.stub.PutListing(pb.PutListingRequest(
        actor=mallory.actor, asset_id=asset.id, order_json=orjson.dumps(typed["message"]).decode(),
        signature=forged)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert not got.listed


async def test_a_sale_made_directly_on_the_contract_is_recorded_as_owner_change_and_provenance(
        replica, new_user, risk, chain_stub) -> None:  # type: ignore[no-untyped-def]
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    listing = (await list_for_sale(replica.stub, alice, asset.id, "1.25")).listing
    await fund(chain_stub, buyer, 3)
    # The buyer fills the signed order without the assets service.
    prepared = await chain_stub.PrepareFulfill(chain_pb.PrepareFulfillRequest(
        order_json=listing.order_json, signature=listing.signature, buyer=buyer.wallet))
    raw = buyer.signer.sign_transaction(tx_dict(prepared.prepared.transaction))
    sent = await chain_stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=prepared.prepared.transaction))

    async def recorded() -> pb.Asset | None:
        a = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
        return a if a.owner_wallet == buyer.wallet else None

    got = await wait_until_async(recorded, 20.0, message="the direct sale was not recorded")
    assert (got.owner_user_id, got.listed) == (buyer.id, False)
    entries = (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
    sale = [e for e in entries if e.kind == pb.PROVENANCE_KIND_SALE]
    assert [(e.tx_hash, e.from_wallet, e.to_wallet, e.price.amount) for e in sale] == [
        (sent.tx_hash.lower(), alice.wallet, buyer.wallet, "1.25")]
    purchase = (await replica.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=sale[0].purchase_id))).purchase
    assert (purchase.buyer_user_id, purchase.tx_hash) == (buyer.id, sent.tx_hash.lower())
    # Asked for by a user, the purchase is its buyer's and seller's only: anyone else is told it does not exist.
    for who in (buyer, alice):
        mine = await replica.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=purchase.id, actor=who.actor))
        assert mine.purchase.id == purchase.id
    stranger = await new_user()
    err = await rejected(replica.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=purchase.id, actor=stranger.actor)))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_a_transaction_the_buyer_broadcast_itself_is_handed_in_by_hash(replica, new_user, risk,
                                                                             chain_stub) -> None:
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 3)
    offer = (await _buy(replica, buyer, asset.id, "by-hash")).purchase
    raw = buyer.signer.sign_transaction(tx_dict(offer.transaction))
    sent = await chain_stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=offer.transaction))
    # Someone else cannot hand it in: to a stranger the purchase does not exist (as GetPurchase
    # answers), the seller may see it but not pay it, and under another asset it is not found.
    stranger = await new_user()
    err = await rejected(replica.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=stranger.actor, purchase_id=offer.id, tx_hash=sent.tx_hash)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await rejected(replica.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=alice.actor, purchase_id=offer.id, tx_hash=sent.tx_hash)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = await rejected(replica.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=buyer.actor, purchase_id=offer.id, tx_hash=sent.tx_hash, asset_id=str(uuid.uuid4()))))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    handed = (await replica.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=buyer.actor, purchase_id=offer.id, tx_hash=sent.tx_hash))).purchase
    assert handed.tx_hash == sent.tx_hash.lower()
    assert (await settled(replica.stub, offer.id)).state == pb.PURCHASE_STATE_COMPLETED


async def test_a_transaction_that_is_not_the_prepared_call_is_refused(replica, new_user, risk, chain_stub) -> None:
    alice, buyer, other = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 3)
    offer = (await _buy(replica, buyer, asset.id, "tampered")).purchase
    cheap = tx_dict(offer.transaction) | {"value": 1}
    err = await rejected(replica.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=buyer.actor, purchase_id=offer.id, raw_transaction=buyer.signer.sign_transaction(cheap))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    someone_else = tx_dict(offer.transaction) | {"from": other.wallet}
    err = await rejected(replica.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=buyer.actor, purchase_id=offer.id, raw_transaction=other.signer.sign_transaction(someone_else))))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err.details()
    still = (await replica.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=offer.id))).purchase
    assert still.state == pb.PURCHASE_STATE_AWAITING_PAYMENT


async def test_risky_purchases_are_refused_and_owners_cannot_buy_their_own(replica, new_user, risk, chain_stub,
                                                                           clean_assets) -> None:
    alice, shady = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    err = await rejected(_buy(replica, shady, asset.id, "not-listed"))
    assert err.code() == grpc.StatusCode.ABORTED and "not for sale" in err.details()
    await list_for_sale(replica.stub, alice, asset.id, "1")
    err = await rejected(_buy(replica, alice, asset.id, "mine"))
    assert err.code() == grpc.StatusCode.ABORTED and "already own" in err.details()
    risk.purchase_score = 90
    err = await rejected(_buy(replica, shady, asset.id, "shady"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "wash_trading" in err.details()
    assert count_rows(clean_assets, "SELECT count(*) FROM sagas WHERE kind = 'purchase'") == 0
    err = await rejected(_buy(replica, shady, asset.id, ""))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_new_owner_lists_at_a_new_price_and_resells_with_the_royalty(
        start_replica, new_user, risk, chain_stub) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(start_worker=True)
    alice, bob, carol = await new_user(), await new_user(), await new_user()
    for u in (bob, carol):
        await fund(chain_stub, u, 5)
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice, royalty_rate="10"))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    first = (await _buy(replica, bob, asset.id, "a")).purchase
    await pay(replica.stub, bob, first)
    assert (await settled(replica.stub, first.id)).state == pb.PURCHASE_STATE_COMPLETED

    await list_for_sale(replica.stub, bob, asset.id, "3")
    before_alice, before_bob = await pending_withdrawal(chain_stub, alice.wallet), \
        await pending_withdrawal(chain_stub, bob.wallet)
    second = (await _buy(replica, carol, asset.id, "b")).purchase
    assert second.seller_user_id == bob.id
    await pay(replica.stub, carol, second)
    assert (await settled(replica.stub, second.id)).state == pb.PURCHASE_STATE_COMPLETED
    assert await pending_withdrawal(chain_stub, bob.wallet) - before_bob == 3 * WEI * 9 // 10
    assert await pending_withdrawal(chain_stub, alice.wallet) - before_alice == 3 * WEI // 10
    kinds = [e.kind for e in (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries]
    assert kinds == [pb.PROVENANCE_KIND_MINT] + [pb.PROVENANCE_KIND_SALE, pb.PROVENANCE_KIND_TRANSFER] * 2


async def test_a_mined_purchase_waiting_for_its_sale_event_is_polled_again_only_at_the_longest_interval(
        start_replica, new_user, risk, chain_stub, clean_assets) -> None:  # type: ignore[no-untyped-def]
    # No chain events consumed: the poll alone follows the transaction.
    replica = await start_replica(start_worker=True, consume_chain_events=False, submitted_poll_max_s=120.0)
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    await list_for_sale(replica.stub, alice, asset.id, "1")
    await fund(chain_stub, buyer, 5)
    purchase = (await _buy(replica, buyer, asset.id, "poll-1")).purchase
    await pay(replica.stub, buyer, purchase)

    async def polled() -> int | None:  # seconds to the next poll, once a poll found it mined
        wait = count_rows(clean_assets, "SELECT coalesce(max(extract(epoch FROM next_attempt_at - now())), -1) "
                                        f"FROM sagas WHERE id = '{purchase.id}' AND error = 'transaction confirmed'")
        return wait if wait > 0 else None

    wait = await wait_until_async(polled, 20.0, interval=0.1, message="the mined transaction was not polled")
    # Mined: the sale event records it; the fallback poll is two minutes away, not seconds.
    assert wait > 100
    got = (await replica.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=purchase.id))).purchase
    assert got.state == pb.PURCHASE_STATE_SUBMITTED
