"""The assets rules as pure functions over frozen records (no database, no gRPC), and
the two codecs at the edges: the saga's JSON column and the cached asset."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from assets_service import domain
from assets_service.cache import decode, encode
from assets_service.domain import Actor, Asset, Creator, Edit, MintData, PurchaseData
from assets_service.repository import saga_data, saga_data_json
from ipheron_libs.errors import Aborted, FailedPrecondition, InvalidArgument, PermissionDenied

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


def test_who_may_buy_and_what_a_purchase_reserves() -> None:
    data = domain.decide_reserve(_asset(), BUYER, None)
    assert data == PurchaseData(price=Decimal("1.5"), seller_user_id=OWNER.user_id, seller_wallet=OWNER.wallet,
                                token_id="7", asset_type="music", asset_version=3)
    refusals = [
        (_asset(status=domain.ARCHIVED, listed=False), BUYER, None, Aborted, "archived"),
        (_asset(), OWNER, None, FailedPrecondition, "already own"),
        (_asset(reserved_by="s-1"), BUYER, None, Aborted, "in progress"),
        (_asset(status=domain.PENDING_REVIEW), BUYER, None, Aborted, "pending_review"),
        (_asset(listed=False), BUYER, None, Aborted, "not listed"),
        (_asset(), BUYER, Decimal("1.4"), FailedPrecondition, "above your max_price"),
    ]
    for asset, buyer, limit, error, words in refusals:
        with pytest.raises(error, match=words):
            domain.decide_reserve(asset, buyer, limit)


def test_an_archived_asset_is_refused_even_to_its_own_owner_first() -> None:
    # Archived wins over "you already own it": the answer names why it is not for sale.
    with pytest.raises(Aborted, match="archived"):
        domain.decide_reserve(_asset(status=domain.ARCHIVED, listed=False), OWNER, None)


def test_one_ownership_check_guards_edit_archive_and_attach() -> None:
    edit = Edit(price=Decimal(2), changed=("price",))
    assert domain.decide_edit(_asset(), OWNER, edit) == edit
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


def test_a_purchase_in_progress_blocks_price_changes_unlisting_and_archiving() -> None:
    reserved = _asset(reserved_by="s-1")
    for edit in (Edit(price=Decimal(2)), Edit(listed=False)):
        with pytest.raises(Aborted):
            domain.decide_edit(reserved, OWNER, edit)
    metadata_only = Edit(metadata={"a": 1})
    assert domain.decide_edit(reserved, OWNER, metadata_only) == metadata_only
    with pytest.raises(Aborted):
        domain.decide_archive(reserved, OWNER)


def test_which_status_an_assessed_asset_gets() -> None:
    assert domain.assess(10, False, (), 70) == domain.Assessment(10, (), domain.PENDING, domain.MINTING)
    held = domain.assess(85, True, ("prohibited_terms",), 70)
    assert (held.status, held.next_state, held.reasons) == (domain.PENDING_REVIEW, domain.HELD, ("prohibited_terms",))
    assert domain.assess(69, True, ("high level",), 70).next_state == domain.HELD
    unanswered = domain.assess(None, False, (), 70)
    assert (unanswered.status, unanswered.next_state) == (domain.PENDING_REVIEW, domain.ASSESSING)
    assert "unavailable" in unanswered.reasons[0]


def test_saga_data_round_trips_through_its_json_column() -> None:
    purchase = PurchaseData(price=Decimal("1.000000000000000007"), seller_user_id="s", seller_wallet="0xs",
                            token_id="12", asset_type="art", asset_version=4, risk_score=5, tx_hash="0xt",
                            block_number=99, payouts=(("0xa", 10**18 + 7),), auth_error="")
    mint = MintData(risk_score=80, reasons=("why",), token_id="3", contract_address="0xc", tx_hash="0xm",
                    block_number=5)
    assert saga_data(domain.PURCHASE, saga_data_json(purchase)) == purchase
    assert saga_data(domain.MINT, saga_data_json(mint)) == mint
    assert saga_data(domain.MINT, {}) == MintData()


def test_a_cached_asset_decodes_to_the_same_record() -> None:
    asset = _asset(created_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), risk_score=12,
                   review_reasons=("r",), file_cids=("bafk",), reserved_by=None)
    assert decode(encode(asset)) == asset


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
