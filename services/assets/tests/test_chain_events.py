"""The chain is the record: the consumer of the chain's events (group "assets") applies each
one once (redelivery changes nothing), in either order within a transaction, and a reorg's
`chain.event.reverted` undoes exactly what the event did. Events are delivered to the
replica's handler as the consumer would (schema-checked first); the listings here are stored
without a chain round trip, so each rule is seen on its own."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import grpc
import sqlalchemy
from assets_service import domain
from assets_service.domain import Actor, Listing, PreparedTx, PurchaseData
from conftest import create_request, rejected
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron_libs import db, events
from ipheron_libs.db import run_db
from sqlalchemy import text

WEI = 10**18
CONTRACT = "0x" + "5e" * 20


def _hex32() -> str:
    return "0x" + uuid.uuid4().hex + uuid.uuid4().hex


def _position(tx_hash: str, log_index: int, event: str) -> dict[str, Any]:
    return {"chain_id": 31337, "contract": CONTRACT, "event": event, "block_number": 42, "block_hash": _hex32(),
            "block_time": "2026-12-01T12:00:00+00:00", "tx_hash": tx_hash, "log_index": log_index}


def _event(type_: str, payload: dict[str, Any]) -> events.Event:
    ev = events.Event(id=str(uuid.uuid4()), type=type_, version=1,
                      occurred_at=dt.datetime.now(dt.UTC).isoformat(), actor="", payload=payload)
    events.check(ev)  # exactly what the consumer lets through
    return ev


def sale_event(asset: pb.Asset, seller: str, buyer: str, price_wei: int, order_hash: str | None,
               tx_hash: str) -> events.Event:
    return _event("chain.sale.recorded", {
        **_position(tx_hash, 3, "Sold"), "token_id": asset.token_id, "asset_id": asset.id, "seller": seller,
        "buyer": buyer, "price_wei": str(price_wei), "royalty_wei": "0", "fee_wei": "0", "order_hash": order_hash,
        "credits": [{"payee": seller, "amount_wei": str(price_wei), "kind": "seller"}]})


def transfer_event(asset: pb.Asset, sender: str, to: str, tx_hash: str) -> events.Event:
    return _event("chain.transfer", {**_position(tx_hash, 5, "Transfer"), "token_id": asset.token_id,
                                     "asset_id": asset.id, "from": sender, "to": to, "kind": "transfer"})


def reverted_event(undone: events.Event) -> events.Event:
    p = undone.payload
    return _event("chain.event.reverted", {
        "chain_id": 31337, "contract": CONTRACT, "event": p["event"], "block_number": p["block_number"],
        "block_hash": p["block_hash"], "tx_hash": p["tx_hash"], "log_index": p["log_index"], "event_id": undone.id,
        "event_type": undone.type, "reason": "reorg", "undone": p})


async def _listing(replica, owner, asset: pb.Asset, price: str = "2", counter: int = 0) -> Listing:  # type: ignore[no-untyped-def]
    """A signed listing stored as PutListing stores one (the chain's verification is tested elsewhere)."""
    now = dt.datetime.now(dt.UTC)
    listing = Listing(id=str(uuid.uuid4()), asset_id=asset.id, state=domain.LISTING_ACTIVE,
                      order={"tokenId": asset.token_id, "counter": str(counter)}, signature="0x" + "11" * 65,
                      order_hash=_hex32(), seller_wallet=owner.wallet, price=Decimal(price),
                      price_wei=int(Decimal(price) * WEI), start_time=now - dt.timedelta(minutes=1),
                      end_time=now + dt.timedelta(days=1), counter=counter)
    stored, _ = await run_db(replica.app.repo.put_listing, listing, Actor(owner.id, owner.wallet),
                             lambda a: domain.require_listable(a, Actor(owner.id, owner.wallet)))
    await replica.app.cache.invalidate(asset.id)
    return stored


async def _offer(replica, buyer, asset: pb.Asset, listing: Listing, key: str) -> str:  # type: ignore[no-untyped-def]
    """A prepared purchase awaiting the buyer's payment, as PurchaseAsset stores one."""
    tx = PreparedTx(from_address=buyer.wallet, to=CONTRACT, data="0x", value_wei=listing.price_wei, chain_id=31337,
                    gas=300_000, max_fee_per_gas_wei=2 * 10**9, max_priority_fee_per_gas_wei=10**9, nonce=0)
    data = PurchaseData(price=listing.price, seller_user_id=asset.owner_user_id, seller_wallet=asset.owner_wallet,
                        token_id=asset.token_id, asset_type="music", asset_version=asset.version,
                        price_wei=listing.price_wei, order_hash=listing.order_hash, listing_id=listing.id,
                        transaction=tx, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    saga, created = await run_db(replica.app.repo.start_purchase, asset.id, Actor(buyer.id, buyer.wallet), key, data)
    assert created
    return saga.id


def _rows(url: str, statement: str, **params: object) -> list[tuple[Any, ...]]:
    engine = db.make_engine(url, "assets", pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            return [tuple(r) for r in conn.execute(text(statement), params)]
    finally:
        engine.dispose()


async def _get(replica, asset_id: str) -> pb.Asset:  # type: ignore[no-untyped-def]
    return (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset_id))).asset


async def _purchase(replica, purchase_id: str) -> pb.Purchase:  # type: ignore[no-untyped-def]
    return (await replica.stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=purchase_id))).purchase


async def test_a_sale_straight_on_the_contract_is_recorded_once_with_owner_provenance_and_credits(
        start_replica, new_user, risk, auth_stub, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice, bob, buyer = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "60"), (bob, "40")], alice))).asset
    listing = await _listing(replica, alice, asset, price="2")
    listed = await _get(replica, asset.id)
    assert listed.listed and listed.listing.order_hash == listing.order_hash and listed.price.amount == "2"
    tx = _hex32()
    sale = sale_event(asset, alice.wallet, buyer.wallet, 2 * WEI, listing.order_hash, tx)

    for _ in range(3):  # at-least-once delivery: the same event three times
        await replica.app.service.on_chain_event(sale)
    await replica.app.service.idle()  # the creators' credits run beside the consumer

    got = await _get(replica, asset.id)
    assert (got.owner_user_id, got.owner_wallet, got.listed) == (buyer.id, buyer.wallet, False)
    assert not got.HasField("listing")
    entries = (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
    assert [(e.kind, e.tx_hash) for e in entries] == [
        (pb.PROVENANCE_KIND_MINT, asset.mint_tx_hash), (pb.PROVENANCE_KIND_SALE, tx), (pb.PROVENANCE_KIND_TRANSFER, tx)]
    assert (entries[1].from_wallet, entries[1].to_wallet, entries[1].price.amount) == (alice.wallet, buyer.wallet, "2")
    assert _rows(clean_assets, "SELECT state FROM listings WHERE id = :id", id=listing.id) == [("filled",)]
    # A purchase row for the sale made without the API, completed once the creators were credited.
    [(purchase_id,)] = _rows(clean_assets, "SELECT id FROM sagas WHERE kind = 'purchase'")
    purchase = await _purchase(replica, str(purchase_id))
    assert (purchase.state, purchase.buyer_user_id, purchase.tx_hash) == (pb.PURCHASE_STATE_COMPLETED, buyer.id, tx)
    totals = {u.id: Decimal((await auth_stub.GetUser(auth_pb.GetUserRequest(id=u.id))).user.total_sales)
              for u in (alice, bob)}
    assert totals == {alice.id: Decimal("1.2"), bob.id: Decimal("0.8")}  # counted once, not three times
    sold = _rows(clean_assets, "SELECT payload FROM outbox WHERE type = 'asset.sold'")
    assert len(sold) == 1 and sold[0][0]["buyer_user_id"] == buyer.id and sold[0][0]["price"] == "2"


async def test_the_purchase_risk_check_is_given_the_assets_earlier_sales_oldest_first(
        start_replica, new_user, risk) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice, bob, carol, dave = await new_user(), await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    first = await _listing(replica, alice, asset, price="2")
    await replica.app.service.on_chain_event(sale_event(asset, alice.wallet, bob.wallet, first.price_wei,
                                                        first.order_hash, _hex32()))
    second = await _listing(replica, bob, await _get(replica, asset.id), price="3.000000000000000001")
    await replica.app.service.on_chain_event(sale_event(asset, bob.wallet, carol.wallet, second.price_wei,
                                                        second.order_hash, _hex32()))
    await _listing(replica, carol, await _get(replica, asset.id), price="4")

    # The listing was never signed on chain: PrepareFulfill refuses it, after the risk check.
    await rejected(replica.stub.PurchaseAsset(pb.PurchaseAssetRequest(actor=dave.actor, asset_id=asset.id,
                                                                      idempotency_key="k")))
    assert risk.purchase_history == [(alice.wallet, bob.wallet, "2"), (bob.wallet, carol.wallet,
                                                                       "3.000000000000000001")]


async def test_the_buyers_open_purchase_completes_and_every_other_offer_of_the_order_fails_aborted(
        start_replica, new_user, risk, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice, winner, loser = await new_user(), await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    listing = await _listing(replica, alice, asset)
    won, lost = await _offer(replica, winner, asset, listing, "w"), await _offer(replica, loser, asset, listing, "l")
    tx = _hex32()

    await replica.app.service.on_chain_event(sale_event(asset, alice.wallet, winner.wallet, listing.price_wei,
                                                        listing.order_hash, tx))

    w, x = await _purchase(replica, won), await _purchase(replica, lost)
    assert (w.state, w.tx_hash, w.buyer_user_id) == (pb.PURCHASE_STATE_COMPLETED, tx, winner.id)
    assert (x.state, x.failure_code, x.failure_reason) == (pb.PURCHASE_STATE_FAILED, "ABORTED",
                                                           "another buyer bought it first")
    # The loser handing in a transaction now is a 409 with the reason.
    err = await rejected(replica.stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=loser.actor, purchase_id=lost, tx_hash=_hex32())))
    assert err.code() == grpc.StatusCode.ABORTED and "another buyer" in err.details()
    assert (await _get(replica, asset.id)).owner_user_id == winner.id


async def test_a_transfer_outside_a_sale_moves_the_owner_and_makes_the_listing_stale(
        start_replica, new_user, risk, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice, friend = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    listing = await _listing(replica, alice, asset)
    tx = _hex32()
    gift = transfer_event(asset, alice.wallet, friend.wallet, tx)
    await replica.app.service.on_chain_event(gift)
    await replica.app.service.on_chain_event(gift)

    got = await _get(replica, asset.id)
    assert (got.owner_user_id, got.owner_wallet, got.listed) == (friend.id, friend.wallet, False)
    assert _rows(clean_assets, "SELECT state, reason FROM listings WHERE id = :id", id=listing.id) == [
        ("invalid", "the token moved to another wallet")]
    entries = (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
    assert [(e.kind, e.from_wallet, e.to_wallet) for e in entries][1:] == [
        (pb.PROVENANCE_KIND_TRANSFER, alice.wallet, friend.wallet)]
    assert len(_rows(clean_assets, "SELECT 1 FROM outbox WHERE type = 'asset.transferred'")) == 1
    # A mint transfer is the mint saga's: ignored.
    mint = _event("chain.transfer", {**_position(_hex32(), 0, "Transfer"), "token_id": asset.token_id,
                                     "asset_id": asset.id, "from": "0x" + "0" * 40, "to": alice.wallet,
                                     "kind": "mint"})
    await replica.app.service.on_chain_event(mint)
    assert (await _get(replica, asset.id)).owner_user_id == friend.id


async def test_the_sale_and_its_transfer_record_the_same_in_either_order(
        start_replica, new_user, risk, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    outcomes = []
    for transfer_first in (False, True):
        alice, buyer = await new_user(), await new_user()
        asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
        listing = await _listing(replica, alice, asset)
        tx = _hex32()
        sale = sale_event(asset, alice.wallet, buyer.wallet, listing.price_wei, listing.order_hash, tx)
        moved = transfer_event(asset, alice.wallet, buyer.wallet, tx)
        for ev in ((moved, sale) if transfer_first else (sale, moved)):
            await replica.app.service.on_chain_event(ev)
        got = await _get(replica, asset.id)
        entries = (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
        outcomes.append((
            got.owner_user_id == buyer.id, got.listed, sorted(e.kind for e in entries),
            _rows(clean_assets, "SELECT state FROM listings WHERE id = :id", id=listing.id),
            len(_rows(clean_assets, "SELECT 1 FROM outbox WHERE type = 'asset.transferred' "
                                    "AND payload->>'asset_id' = :a", a=asset.id)),
            _rows(clean_assets, "SELECT payload->>'seller_user_id' FROM outbox WHERE type = 'asset.sold' "
                                "AND payload->>'asset_id' = :a", a=asset.id) == [(alice.id,)]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] is True and outcomes[0][3] == [("filled",)] and outcomes[0][4] == 1 and outcomes[0][5]


async def test_a_sale_of_a_paid_purchase_and_its_transfer_are_recorded_in_nine_statements(
        start_replica, new_user, risk, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "60"), (buyer, "40")], alice))).asset
    listing = await _listing(replica, alice, asset)
    purchase_id, tx = await _offer(replica, buyer, asset, listing, "k"), _hex32()
    assert await run_db(replica.app.repo.mark_submitted, purchase_id, tx, 60.0) is not None
    statements: list[str] = []

    def seen(conn, cursor, statement, *_: object) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sqlalchemy.event.listen(replica.app.repo.engine, "after_cursor_execute", seen)
    try:
        await replica.app.service.on_chain_event(sale_event(asset, alice.wallet, buyer.wallet, listing.price_wei,
                                                            listing.order_hash, tx))
        await replica.app.service.on_chain_event(transfer_event(asset, alice.wallet, buyer.wallet, tx))
        await replica.app.service.idle()
    finally:
        sqlalchemy.event.remove(replica.app.repo.engine, "after_cursor_execute", seen)

    # Lock the asset, lock the open purchases, end the listings, move the owner, provenance, outbox,
    # claim the event and record the purchase; claim the transfer; complete after the credits.
    assert len(statements) == 9, statements
    assert (await _purchase(replica, purchase_id)).state == pb.PURCHASE_STATE_COMPLETED
    assert _rows(clean_assets, "SELECT lease_until FROM sagas WHERE id = :id", id=purchase_id) == [(None,)]
    got = await _get(replica, asset.id)
    assert (got.owner_user_id, got.listed) == (buyer.id, False)
    assert _rows(clean_assets, "SELECT state FROM listings WHERE id = :id", id=listing.id) == [("filled",)]
    assert sorted(r[0] for r in _rows(clean_assets, "SELECT type FROM outbox WHERE payload->>'asset_id' = :a "
                                                    "AND type IN ('asset.transferred', 'asset.sold')", a=asset.id)) \
        == ["asset.sold", "asset.transferred"]
    assert _rows(clean_assets, "SELECT payload->>'listed' FROM outbox WHERE type = 'asset.updated' "
                               "AND payload->>'asset_id' = :a AND payload->'changed' = '[\"listed\"]'::jsonb "
                               "AND payload->>'listed' = 'false'", a=asset.id) == [("false",)]


async def test_orders_cancelled_or_invalidated_by_counter_on_chain_are_off_sale(
        start_replica, new_user, risk, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice = await new_user()
    first = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    second = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    third = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    cancelled = await _listing(replica, alice, first)
    old = await _listing(replica, alice, second, counter=0)
    current = await _listing(replica, alice, third, counter=1)

    await replica.app.service.on_chain_event(_event("chain.order.cancelled", {
        **_position(_hex32(), 0, "Cancelled"), "order_hash": cancelled.order_hash, "seller": alice.wallet}))
    await replica.app.service.on_chain_event(_event("chain.order.counter_incremented", {
        **_position(_hex32(), 0, "CounterIncremented"), "seller": alice.wallet, "counter": "1"}))

    states = dict(_rows(clean_assets, "SELECT id::text, state FROM listings"))
    assert states == {cancelled.id: "cancelled", old.id: "invalid", current.id: "active"}
    listed = {a: (await _get(replica, a)).listed for a in (first.id, second.id, third.id)}
    assert listed == {first.id: False, second.id: False, third.id: True}
    for_sale = (await replica.stub.ListAssets(pb.ListAssetsRequest(for_sale=True))).assets
    not_for_sale = (await replica.stub.ListAssets(pb.ListAssetsRequest(for_sale=False))).assets
    assert [a.id for a in for_sale] == [third.id]
    assert {a.id for a in not_for_sale} == {first.id, second.id}


async def test_a_reorged_sale_is_undone_and_its_purchase_can_complete_when_re_mined(
        start_replica, new_user, risk, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    listing = await _listing(replica, alice, asset)
    purchase_id = await _offer(replica, buyer, asset, listing, "reorg")
    tx = _hex32()
    sale = sale_event(asset, alice.wallet, buyer.wallet, listing.price_wei, listing.order_hash, tx)
    await replica.app.service.on_chain_event(sale)
    assert (await _purchase(replica, purchase_id)).state == pb.PURCHASE_STATE_COMPLETED

    undo = reverted_event(sale)
    await replica.app.service.on_chain_event(undo)
    await replica.app.service.on_chain_event(undo)  # redelivered: undone once

    got = await _get(replica, asset.id)
    assert (got.owner_user_id, got.owner_wallet, got.listed) == (alice.id, alice.wallet, True)
    assert got.listing.order_hash == listing.order_hash
    kinds = [e.kind for e in (await replica.stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries]
    assert kinds == [pb.PROVENANCE_KIND_MINT]
    assert (await _purchase(replica, purchase_id)).state == pb.PURCHASE_STATE_SUBMITTED

    # The same transaction mined again on the new branch: a new event, recorded again.
    again = sale_event(asset, alice.wallet, buyer.wallet, listing.price_wei, listing.order_hash, tx)
    await replica.app.service.on_chain_event(again)
    assert (await _purchase(replica, purchase_id)).state == pb.PURCHASE_STATE_COMPLETED
    assert (await _get(replica, asset.id)).owner_user_id == buyer.id


async def test_events_about_tokens_this_catalog_does_not_hold_change_nothing(
        start_replica, new_user, risk, clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice, buyer = await new_user(), await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    stranger = pb.Asset(id=str(uuid.uuid4()), token_id="999999")
    await replica.app.service.on_chain_event(sale_event(stranger, alice.wallet, buyer.wallet, WEI, None, _hex32()))
    assert (await _get(replica, asset.id)).owner_user_id == alice.id
    assert _rows(clean_assets, "SELECT count(*) FROM sagas WHERE kind = 'purchase'") == [(0,)]


async def test_listings_past_their_window_are_swept_off_sale(start_replica, new_user, risk,
                                                             clean_assets) -> None:  # type: ignore[no-untyped-def]
    replica = await start_replica(consume_chain_events=False)
    alice = await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    listing = await _listing(replica, alice, asset)
    assert (await _get(replica, asset.id)).listed
    _rows(clean_assets, "UPDATE listings SET end_time = now() - interval '1 second' WHERE id = :id RETURNING 1",
          id=listing.id)
    await replica.app.service.expire_listings()
    got = await _get(replica, asset.id)
    assert (got.listed, got.HasField("listing")) == (False, False)
    assert _rows(clean_assets, "SELECT state, reason FROM listings") == [("invalid", "the order expired")]
