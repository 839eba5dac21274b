"""The assets rules as pure functions over frozen records (no database, no gRPC), and
the two codecs at the edges: the saga's JSON column and the cached asset."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from assets_service import domain
from assets_service.cache import decode, encode
from assets_service.domain import (
    Actor,
    Asset,
    Creator,
    Edit,
    Listing,
    MintData,
    PreparedTx,
    PurchaseData,
    Saga,
    VerifiedOrder,
)
from assets_service.repository import saga_data, saga_data_json
from ipheron_libs.errors import Aborted, Conflict, FailedPrecondition, InvalidArgument, PermissionDenied

OWNER = Actor("u-owner", "0x" + "a1" * 20)
BUYER = Actor("u-buyer", "0x" + "b2" * 20)


def _asset(**fields: object) -> Asset:
    values: dict[str, object] = {
        "id": "5f0c8f1e-0000-4000-8000-000000000001", "name": "Night Drive", "asset_type": "music",
        "price": Decimal("1.5"), "royalty_rate": Decimal("10"), "status": domain.ACTIVE, "listed": True,
        "metadata": {"description": "synthwave"}, "utility_features": ("stems",), "region": "EU",
        "ipfs_hash": "QmHash", "creator_user_id": OWNER.user_id, "owner_user_id": OWNER.user_id,
        "owner_wallet": OWNER.wallet, "token_id": "7", "version": 3,
        "creators": (Creator(OWNER.user_id, OWNER.wallet, Decimal("100")),),
    }
    values.update(fields)
    return Asset(**values)  # type: ignore[arg-type]


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _asset().price = Decimal(0)  # type: ignore[misc]


NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
ORDER_HASH = "0x" + "ab" * 32


def _listing(**fields: object) -> Listing:
    values: dict[str, object] = {
        "id": "l-1", "asset_id": "5f0c8f1e-0000-4000-8000-000000000001", "state": domain.LISTING_ACTIVE,
        "order": {"tokenId": "7", "counter": "0"}, "signature": "0x" + "11" * 65, "order_hash": ORDER_HASH,
        "seller_wallet": OWNER.wallet, "price": Decimal("1.5"), "price_wei": 15 * 10**17,
        "start_time": NOW - dt.timedelta(hours=1), "end_time": NOW + dt.timedelta(days=1), "counter": 0,
    }
    values.update(fields)
    return Listing(**values)  # type: ignore[arg-type]


def _verified(**fields: object) -> VerifiedOrder:
    values: dict[str, object] = {
        "order_hash": ORDER_HASH.upper().replace("0X", "0x"), "state": "FILLABLE", "reason": "",
        "owner": OWNER.wallet, "token_id": "7", "seller": OWNER.wallet.upper().replace("0X", "0x"),
        "price_wei": 10**18 + 7, "start_time": NOW, "end_time": NOW + dt.timedelta(days=30),
        "order_json": '{"tokenId": "7", "counter": "3", "price": "1000000000000000007"}',
    }
    values.update(fields)
    return VerifiedOrder(**values)  # type: ignore[arg-type]


def test_who_may_buy_an_asset_under_a_signed_listing() -> None:
    listed = _asset(listing=_listing())
    assert domain.decide_purchase(listed, BUYER, None, NOW) == listed.listing
    refusals = [
        (_asset(status=domain.ARCHIVED, listing=_listing()), BUYER, None, Aborted, "archived"),
        (_asset(listing=None), BUYER, None, Aborted, "not for sale"),
        (listed, OWNER, None, Aborted, "already own"),
        (_asset(status=domain.PENDING_REVIEW, listing=_listing()), BUYER, None, Aborted, "pending_review"),
        (_asset(listing=_listing(end_time=NOW)), BUYER, None, Aborted, "expired"),
        (_asset(listing=_listing(start_time=NOW + dt.timedelta(seconds=1))), BUYER, None, Aborted, "not open"),
        (listed, BUYER, Decimal("1.4"), FailedPrecondition, "above your max_price"),
    ]
    for asset, buyer, limit, error, words in refusals:
        with pytest.raises(error, match=words):
            domain.decide_purchase(asset, buyer, limit, NOW)


def test_a_verified_order_becomes_a_listing_only_for_its_owner_and_token() -> None:
    listing = domain.listing_of(_asset(), _verified(), "0xsig", listing_id="l-2", now=NOW)
    assert (listing.state, listing.price, listing.price_wei, listing.counter) == (
        domain.LISTING_ACTIVE, Decimal("1.000000000000000007"), 10**18 + 7, 3)
    assert listing.order_hash == ORDER_HASH and listing.seller_wallet == OWNER.wallet
    refusals = [
        (_verified(token_id="8"), PermissionDenied, "not this asset's token"),
        (_verified(seller=BUYER.wallet), PermissionDenied, "not the asset's owner"),
        (_verified(state="INVALID_SIGNATURE"), InvalidArgument, "signature"),
        (_verified(state="EXPIRED", reason="the order expired"), Conflict, "expired"),
        (_verified(state="COUNTER_INVALID", reason="counter 0 < 1"), Conflict, "counter"),
    ]
    for verified, error, words in refusals:
        with pytest.raises(error, match=words):
            domain.listing_of(_asset(), verified, "0xsig", listing_id="l-3", now=NOW)


def test_only_the_owner_lists_and_only_an_active_minted_asset() -> None:
    domain.require_listable(_asset(), OWNER)
    with pytest.raises(PermissionDenied):
        domain.require_listable(_asset(), BUYER)
    for asset in (_asset(status=domain.PENDING_REVIEW), _asset(token_id="")):
        with pytest.raises(Aborted, match="only an active, minted asset"):
            domain.require_listable(asset, OWNER)


def _purchase_saga(state: str, **data: object) -> Saga:
    d = PurchaseData(price=Decimal(1), seller_user_id=OWNER.user_id, seller_wallet=OWNER.wallet, token_id="7",
                     asset_type="music", asset_version=1, expires_at=NOW + dt.timedelta(minutes=10),
                     **data)  # type: ignore[arg-type]
    return Saga(id="s-1", kind=domain.PURCHASE, asset_id="a", actor_user_id=BUYER.user_id,
                actor_wallet=BUYER.wallet, idempotency_key="k", state=state, data=d, error="why")


def test_a_sale_completes_the_purchase_of_its_transaction_else_the_buyers_submitted_then_oldest_offer() -> None:
    tx, order = "0x" + "ab" * 32, "0x" + "0d" * 32
    sale = domain.ChainSale(event_id="e", asset_id="a", token_id="7", seller=OWNER.wallet, buyer=BUYER.wallet,
                            price_wei=10**18, order_hash=order, tx_hash=tx, block_number=1)

    def offer(id_: str, state: str, minutes: int, tx_hash: str = "", wallet: str = BUYER.wallet) -> Saga:
        return dataclasses.replace(_purchase_saga(state, order_hash=order, tx_hash=tx_hash), id=id_,
                                   actor_wallet=wallet, created_at=NOW + dt.timedelta(minutes=minutes))

    older_unpaid = offer("unpaid", domain.AWAITING_PAYMENT, 0)
    paid = offer("paid", domain.SUBMITTED, 1, tx_hash=tx)
    other_tx = offer("other-tx", domain.SUBMITTED, 2, tx_hash="0x" + "ee" * 32)
    someone_else = offer("else", domain.SUBMITTED, -1, wallet="0x" + "99" * 20)
    assert domain.sale_purchase([older_unpaid, someone_else, other_tx, paid], sale) is paid
    assert domain.sale_purchase([older_unpaid, someone_else, other_tx], sale) is other_tx
    assert domain.sale_purchase([offer("newer", domain.AWAITING_PAYMENT, 5), older_unpaid], sale) is older_unpaid
    assert domain.sale_purchase([someone_else], sale) is None


def test_who_may_hand_in_a_purchase_transaction_and_when() -> None:
    tx = "0x" + "cd" * 32
    assert domain.decide_submit(_purchase_saga(domain.AWAITING_PAYMENT), BUYER, tx, NOW) is True
    # The same transaction again answers the purchase as it is.
    assert domain.decide_submit(_purchase_saga(domain.SUBMITTED, tx_hash=tx), BUYER, tx, NOW) is False
    refusals = [
        (_purchase_saga(domain.AWAITING_PAYMENT), OWNER, NOW, PermissionDenied, "not your purchase"),
        (_purchase_saga(domain.AWAITING_PAYMENT), BUYER, NOW + dt.timedelta(minutes=10), Aborted, "expired"),
        (_purchase_saga(domain.SAGA_FAILED), BUYER, NOW, Aborted, "why"),
        (_purchase_saga(domain.SUBMITTED, tx_hash="0x" + "ef" * 32), BUYER, NOW, Aborted, "already submitted"),
    ]
    for saga, actor, now, error, words in refusals:
        with pytest.raises(error, match=words):
            domain.decide_submit(saga, actor, tx, now)


def test_a_buyer_who_lost_the_race_is_aborted_other_reverts_keep_their_reason() -> None:
    assert domain.failure_of("OrderAlreadyFilled(0xab…)") == ("ABORTED", "another buyer bought it first")
    code, reason = domain.failure_of("WrongPayment")
    assert code == "FAILED_PRECONDITION" and "WrongPayment" in reason


def test_listing_is_by_signature_and_the_asking_price_only_while_unlisted() -> None:
    edit = Edit(price=Decimal(2), changed=("price",))
    assert domain.decide_edit(_asset(listed=False), OWNER, edit) == edit
    with pytest.raises(FailedPrecondition, match="sign"):
        domain.decide_edit(_asset(listed=True, listing=_listing()), OWNER, edit)
    with pytest.raises(FailedPrecondition, match="typed-data"):
        domain.decide_edit(_asset(listed=False), OWNER, Edit(listed=True, changed=("listed",)))


def test_one_ownership_check_guards_edit_archive_and_attach() -> None:
    edit = Edit(price=Decimal(2), changed=("price",))
    assert domain.decide_edit(_asset(listed=False), OWNER, edit) == edit
    assert domain.decide_archive(_asset(), OWNER) is True
    domain.decide_attach(_asset(), OWNER)
    for decide in (lambda a, who: domain.decide_edit(a, who, edit), domain.decide_archive, domain.decide_attach):
        with pytest.raises(PermissionDenied, match="only the owner"):
            decide(_asset(), BUYER)
    archived = _asset(status=domain.ARCHIVED, listed=False)
    with pytest.raises(FailedPrecondition, match="archived"):
        domain.decide_edit(archived, OWNER, edit)
    with pytest.raises(FailedPrecondition, match="archived"):
        domain.decide_attach(archived, OWNER)
    assert domain.decide_archive(archived, OWNER) is False  # archiving twice changes nothing


def test_which_status_an_assessed_asset_gets() -> None:
    assert domain.assess(10, False, (), 70) == domain.Assessment(10, (), domain.PENDING, domain.MINTING)
    held = domain.assess(85, True, ("prohibited_terms",), 70)
    assert (held.status, held.next_state, held.reasons) == (domain.PENDING_REVIEW, domain.HELD, ("prohibited_terms",))
    assert domain.assess(69, True, ("high level",), 70).next_state == domain.HELD
    unanswered = domain.assess(None, False, (), 70)
    assert (unanswered.status, unanswered.next_state) == (domain.PENDING_REVIEW, domain.ASSESSING)
    assert "unavailable" in unanswered.reasons[0]


def test_saga_data_round_trips_through_its_json_column() -> None:
    prepared = PreparedTx(from_address="0xb", to="0xm", data="0x12", value_wei=10**24 + 7, chain_id=31337,
                          gas=210_000, max_fee_per_gas_wei=3 * 10**9, max_priority_fee_per_gas_wei=10**9, nonce=4)
    purchase = PurchaseData(price=Decimal("1.000000000000000007"), seller_user_id="s", seller_wallet="0xs",
                            token_id="12", asset_type="art", asset_version=4, risk_score=5, tx_hash="0xt",
                            block_number=99, auth_error="", price_wei=10**18 + 7, order_hash="0xo", listing_id="l",
                            transaction=prepared, expires_at=NOW, sale_event_id="e")
    mint = MintData(risk_score=80, reasons=("why",), token_id="3", contract_address="0xc", tx_hash="0xm",
                    block_number=5)
    assert saga_data(domain.PURCHASE, saga_data_json(purchase)) == purchase
    assert saga_data(domain.MINT, saga_data_json(mint)) == mint
    assert saga_data(domain.MINT, {}) == MintData()


def test_a_cached_asset_decodes_to_the_same_record() -> None:
    asset = _asset(created_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), risk_score=12,
                   review_reasons=("r",), file_cids=("bafk",), reserved_by=None,
                   listing=_listing(price_wei=10**24 + 1, counter=2**200, created_at=NOW))
    assert decode(encode(asset)) == asset
    assert decode(encode(_asset())) == _asset()


def test_metadata_integers_beyond_64_bits_are_refused_not_a_crash() -> None:
    assert domain.check_metadata({"edition": 2**63 - 1, "flag": True}) == {"edition": 2**63 - 1, "flag": True}
    for big in (2**64, -(2**63) - 1, 10**30):
        with pytest.raises(InvalidArgument, match="64 bits"):
            domain.check_metadata({"nested": [{"n": big}]})


def test_kept_text_with_a_nul_character_is_refused_naming_the_field() -> None:
    assert domain.refuse_nul("u-1", "creator") == "u-1"
    with pytest.raises(InvalidArgument, match="NUL") as info:
        domain.refuse_nul("u\x00", "creator")
    assert info.value.field == "creator"
