"""The chain service's pure rules (domain.py), without a chain or a database: request
validation, royalty arithmetic, the idempotency decision, provenance, fee policy and what
a contract's custom error means to a client."""

from __future__ import annotations

import random
import uuid

import pytest
from chain_service import domain
from chain_service.domain import (
    CONFIRMED,
    FAILED,
    PENDING,
    REPLACED,
    Credit,
    DecodedEvent,
    Fees,
    PriorAction,
    Revert,
    Share,
    Transaction,
    WithdrawalResult,
)
from eth_account import Account
from eth_account.messages import encode_defunct
from ipheron_libs.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

A = "0x1111111111111111111111111111111111111111"
B = "0x2222222222222222222222222222222222222222"
CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def tx(**overrides: object) -> Transaction:
    fields: dict[str, object] = dict(tx_hash="0x" + "ab" * 32, chain_id=1, from_address=A, to_address=B, nonce=0,
                                     type="buy", gas_limit=21_000, max_fee_per_gas=2, max_priority_fee_per_gas=1)
    fields.update(overrides)
    return Transaction(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("text", ["0.5", "-3", "1e3", "", " ", "0x10", "١٢"])
def test_wei_amounts_are_whole_decimal_digit_strings(text: str) -> None:
    with pytest.raises(InvalidArgument, match="whole number of wei") as err:
        domain.parse_amount_wei(text, "price_wei")
    assert err.value.field == "price_wei"


def test_wei_amounts_are_bounded_by_uint256_and_positive_unless_told_otherwise() -> None:
    assert domain.parse_amount_wei(str(domain.UINT256_MAX), "p") == domain.UINT256_MAX
    with pytest.raises(InvalidArgument, match="exceeds uint256"):
        domain.parse_amount_wei(str(domain.UINT256_MAX + 1), "p")
    with pytest.raises(InvalidArgument, match="greater than zero"):
        domain.parse_amount_wei("0", "p")
    assert domain.parse_amount_wei(" 0 ", "p", positive=False) == 0


def test_addresses_are_checksummed_and_a_wrong_checksum_or_zero_is_refused() -> None:
    assert domain.parse_address(CHECKSUMMED.lower(), "owner") == CHECKSUMMED
    wrong = CHECKSUMMED[:2] + CHECKSUMMED[2].lower() + CHECKSUMMED[3].upper() + CHECKSUMMED[4:]
    for bad in ["", "0x123", "not-an-address", wrong, domain.ZERO_ADDRESS]:
        with pytest.raises(InvalidArgument) as err:
            domain.parse_address(bad, "owner")
        assert err.value.field == "owner"


def test_tx_hashes_are_normalised_to_lower_case_and_must_be_32_hex_bytes() -> None:
    assert domain.parse_tx_hash(" 0x" + "AB" * 32 + " ") == "0x" + "ab" * 32
    for bad in ["0x12", "ab" * 33, "0x" + "zz" * 32, ""]:
        with pytest.raises(InvalidArgument, match="tx_hash"):
            domain.parse_tx_hash(bad)


def test_idempotency_keys_are_required_for_purchases_and_bounded_everywhere() -> None:
    assert domain.parse_idempotency_key("  k  ", required=True) == "k"
    assert domain.parse_idempotency_key("", required=False) == ""
    with pytest.raises(InvalidArgument, match="is required"):
        domain.parse_idempotency_key("   ", required=True)
    with pytest.raises(InvalidArgument, match="is required"):
        domain.parse_idempotency_key("k" * 201, required=True)
    with pytest.raises(InvalidArgument, match="at most 200"):
        domain.parse_idempotency_key("k" * 201, required=False)


def test_a_valid_mint_becomes_an_order_with_checksummed_shares() -> None:
    asset = str(uuid.uuid4())
    order = domain.validate_mint(asset, A, "ipfs://x", [(CHECKSUMMED.lower(), 6000), (B, 4000)], 250)
    assert order.asset_id == uuid.UUID(asset) and order.owner == A and order.royalty_bps == 250
    assert order.co_creators == (Share(CHECKSUMMED, 6000), Share(B, 4000))
    assert order.details == {"token_uri": "ipfs://x", "royalty_bps": 250,
                             "co_creators": [[CHECKSUMMED, 6000], [B, 4000]]}


@pytest.mark.parametrize(("args", "field", "needle"), [
    (("nope", A, "u", [(B, 10_000)], 0), "asset_id", "UUID"),
    ((None, "0x1", "u", [(B, 10_000)], 0), "owner_address", "valid address"),
    ((None, A, "u" * 2049, [(B, 10_000)], 0), "token_uri", "longer than 2048"),
    ((None, A, "u", [], 0), "co_creators", "at least one"),
    ((None, A, "u", [(f"0x{i:040x}", 500) for i in range(1, 22)], 0), "co_creators", "at most 20"),
    ((None, A, "u", [(A, 5000), (A.lower(), 5000)], 0), "co_creators", "distinct"),
    ((None, A, "u", [(A, 10_000), (B, 0)], 0), "co_creators", "positive"),
    ((None, A, "u", [(A, 5000), (B, 4000)], 0), "co_creators", "sum to 10000 bps, got 9000"),
    ((None, A, "u", [(B, 10_000)], 5001), "royalty_bps", "0..5000"),
    ((None, A, "u", [(B, 10_000)], -1), "royalty_bps", "0..5000"),
])
def test_mint_rules_name_the_field_they_refuse(args: tuple, field: str, needle: str) -> None:  # type: ignore[type-arg]
    asset, *rest = args
    with pytest.raises(InvalidArgument, match=needle) as err:
        domain.validate_mint(asset or str(uuid.uuid4()), *rest)
    assert err.value.field == field


def test_payees_are_one_to_a_hundred_and_duplicates_collapse_in_order() -> None:
    assert domain.validate_payees([B, A, B.lower()]) == [B, A]
    with pytest.raises(InvalidArgument, match="at least one payee"):
        domain.validate_payees([])
    with pytest.raises(InvalidArgument, match="at most 100"):
        domain.validate_payees([A] * 101)


def test_a_purchase_naming_an_asset_must_name_the_tokens_asset() -> None:
    asset = uuid.uuid4()
    domain.check_token_asset(5, asset, "")
    domain.check_token_asset(5, asset, str(asset).upper())
    with pytest.raises(InvalidArgument, match=f"token 5 belongs to asset {asset}") as err:
        domain.check_token_asset(5, asset, str(uuid.uuid4()))
    assert err.value.field == "asset_id"


def test_a_withdrawal_pays_the_sum_pending_and_needs_something_pending() -> None:
    assert domain.withdrawal_amount([0, 5, 7]) == 12
    with pytest.raises(FailedPrecondition, match="no payee has a pending balance"):
        domain.withdrawal_amount([0, 0])


@pytest.mark.parametrize(("page", "per_page", "expected"), [
    (0, 0, (1, 20, 0)), (-5, 1000, (1, 100, 0)), (3, 10, (3, 10, 20)), (2, -1, (2, 1, 1)),
])
def test_page_windows_clamp_to_sane_bounds(page: int, per_page: int, expected: tuple[int, int, int]) -> None:
    assert domain.page_window(page, per_page) == expected


# --------------------------------------------------------------------------- signatures


def test_signed_hash_is_the_digest_or_the_eip191_hash_of_the_message() -> None:
    with pytest.raises(InvalidArgument, match="message or digest"):
        domain.signed_hash(None, None)
    with pytest.raises(InvalidArgument, match="32 bytes"):
        domain.signed_hash(None, b"short")
    assert domain.signed_hash(None, b"d" * 32) == b"d" * 32
    assert len(domain.signed_hash(b"hello", None)) == 32


def test_ecdsa_check_accepts_the_signer_only_and_treats_garbage_as_invalid() -> None:
    user = Account.create()
    signature = user.sign_message(encode_defunct(primitive=b"hi")).signature
    hash32 = domain.signed_hash(b"hi", None)
    assert domain.ecdsa_check(user.address, hash32, signature) == (True, "ecdsa", user.address)
    assert domain.ecdsa_check(A, hash32, signature).valid is False
    assert domain.ecdsa_check(A, hash32, b"\x00" * 7) == (False, "ecdsa", "")


# --------------------------------------------------------------------------- money


def test_royalty_split_floors_each_part_and_gives_the_remainder_to_the_first_co_creator() -> None:
    assert domain.royalty_split(777, [("a", 3000), ("b", 3000), ("c", 4000)]) == [
        Credit("a", 234), Credit("b", 233), Credit("c", 310)]
    assert domain.royalty_split(0, [("a", 10_000)]) == [("a", 0)]


def test_royalty_split_always_pays_out_the_whole_royalty_to_the_wei() -> None:
    rng = random.Random(9)
    for _ in range(500):
        n = rng.randint(1, domain.MAX_CO_CREATORS)
        cuts = sorted(rng.sample(range(1, domain.TOTAL_SHARES_BPS), n - 1))
        bps = [b - a for a, b in zip([0, *cuts], [*cuts, domain.TOTAL_SHARES_BPS], strict=True)]
        royalty = rng.choice([0, 1, rng.randint(0, 10**6), rng.randint(0, domain.UINT256_MAX // 10**5)])
        parts = domain.royalty_split(royalty, [(f"c{i}", b) for i, b in enumerate(bps)])
        assert sum(p.amount_wei for p in parts) == royalty
        floors = [royalty * b // domain.TOTAL_SHARES_BPS for b in bps]
        assert [p.amount_wei for p in parts[1:]] == floors[1:]
        assert 0 <= parts[0].amount_wei - floors[0] < n  # the remainder is less than one wei per co-creator


def test_royalty_quote_leaves_the_rest_of_the_price_to_the_seller() -> None:
    quote = domain.royalty_quote(1001, A, 25, [(A, 3000), (B, 7000)])
    assert quote == (A, 25, [Credit(A, 8), Credit(B, 17)], 976)


def _event(name: str, **args: object) -> DecodedEvent:
    return DecodedEvent(name, B, args, 0)


def test_a_sale_reads_its_payouts_seller_and_royalty_from_its_events() -> None:
    events = [_event("Transfer", tokenId=1), _event("RoyaltyCredited", coCreator=A.lower(), amount=70),
              _event("SellerCredited", seller=B.lower(), amount=930), _event("Sold", royalty=70, price=1000)]
    payouts, seller, royalty = domain.sale_of(events)
    assert payouts == [(A, 70, "royalty"), (B, 930, "seller")] and seller == B and royalty == 70


def test_a_withdrawal_counts_only_what_it_paid() -> None:
    results = domain.withdrawal_results([_event("Withdrawn", payee=A, amount=5),
                                         _event("WithdrawalFailed", payee=B, amount=7), _event("Other")])
    assert results == [WithdrawalResult(A, 5, True), WithdrawalResult(B, 7, False)]
    assert domain.withdrawn_total(results) == 5


def test_event_arguments_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(TypeError):
        _event("Sold", royalty="70").int_arg("royalty")
    with pytest.raises(TypeError):
        _event("Withdrawn", payee=5).address_arg("payee")


# --------------------------------------------------------------------------- idempotency


def test_no_earlier_attempt_means_go_ahead() -> None:
    assert domain.prior_attempt_action(None, "h", "purchase") is PriorAction.PROCEED


def test_an_attempt_that_never_reached_a_block_releases_its_key_whatever_it_asked() -> None:
    dropped = tx(status=FAILED, block_number=None, request_hash="other")
    assert domain.prior_attempt_action(dropped, "h", "purchase") is PriorAction.RELEASE


def test_the_same_key_for_a_different_request_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="already used for a different withdrawal"):
        domain.prior_attempt_action(tx(status=CONFIRMED, block_number=3, request_hash="a"), "b", "withdrawal")


@pytest.mark.parametrize(("status", "block", "action"), [
    (PENDING, None, PriorAction.AWAIT), (REPLACED, None, PriorAction.AWAIT),
    (CONFIRMED, 7, PriorAction.ANSWER), (FAILED, 7, PriorAction.ANSWER),
])
def test_an_attempt_in_flight_is_awaited_and_a_mined_one_is_the_answer(status: str, block: int | None,
                                                                       action: PriorAction) -> None:
    assert domain.prior_attempt_action(tx(status=status, block_number=block, request_hash="h"), "h", "p") is action


def test_a_failed_transaction_answers_with_its_decoded_reason_else_a_generic_one() -> None:
    assert domain.failure_error(tx(status=CONFIRMED)) is None
    decoded = domain.failure_error(tx(status=FAILED), Revert("OrderAlreadyFilled", {"orderHash": b"\x01" * 32}))
    assert isinstance(decoded, FailedPrecondition) and "already been filled" in str(decoded)
    generic = domain.failure_error(tx(status=FAILED, error="reverted on chain: X"))
    assert isinstance(generic, FailedPrecondition) and "reverted on chain: X" in str(generic)


def test_an_asset_minted_by_someone_else_is_a_conflict() -> None:
    asset = uuid.uuid4()
    err = domain.foreign_mint_error(asset, 4)
    assert isinstance(err, Conflict) and str(asset) in str(err) and "another signer" in str(err)


# --------------------------------------------------------------------------- provenance


@pytest.mark.parametrize(("status", "block", "shown"), [
    (CONFIRMED, 5, True), (PENDING, None, True), (FAILED, 5, True), (FAILED, None, False), (REPLACED, 5, False),
    (REPLACED, None, False),
])
def test_provenance_leaves_out_what_never_happened_on_chain(status: str, block: int | None, shown: bool) -> None:
    assert domain.is_provenance(tx(status=status, block_number=block)) is shown


# --------------------------------------------------------------------------- fees and gas


def test_fees_allow_the_base_fee_to_double() -> None:
    assert domain.fees_for(100, 7) == Fees(207, 7)


def test_a_replacement_bids_at_least_the_bump_and_never_below_the_market() -> None:
    sent = Fees(200, 10)
    assert domain.bumped_fees(sent, Fees(100, 5), 25) == Fees(251, 13)
    assert domain.bumped_fees(sent, Fees(900, 50), 25) == Fees(900, 50)
    rng = random.Random(3)
    for _ in range(300):
        old = Fees(rng.randint(1, 10**12), rng.randint(0, 10**10))
        now = Fees(rng.randint(1, 10**12), rng.randint(0, 10**10))
        bump = rng.randint(11, 500)
        new = domain.bumped_fees(old, now, bump)
        assert new.max_fee * 100 > old.max_fee * (100 + bump) - 100 and new.priority_fee > old.priority_fee
        assert new.max_fee >= now.max_fee and new.priority_fee >= now.priority_fee
        assert new.max_fee >= new.priority_fee


def test_gas_margin_confirmations_and_nonce_errors() -> None:
    assert domain.gas_with_margin(100_000, 20) == 120_000
    assert domain.confirmations(latest_block=10, receipt_block=10) == 1
    assert domain.confirmations(latest_block=12, receipt_block=10) == 3
    for text in ["Nonce too low", "already known", "replacement transaction underpriced"]:
        assert domain.is_nonce_error(text)
    assert not domain.is_nonce_error("insufficient funds for gas")


def test_a_deployment_identity_depends_on_the_code_and_every_constructor_argument() -> None:
    assert domain.deployment_identity("c", A, B) == domain.deployment_identity("c", A, B)
    assert domain.deployment_identity("c", A, B) != domain.deployment_identity("c", B, A)
    assert domain.deployment_identity("c", A) != domain.deployment_identity("d", A)


# --------------------------------------------------------------------------- contract errors


@pytest.mark.parametrize(("revert", "kind", "needle"), [
    (Revert("OrderAlreadyFilled", {"orderHash": b"\x07" * 32}), FailedPrecondition, "already been filled"),
    (Revert("WrongPayment", {"expected": 100, "sent": 99}), FailedPrecondition, "price is 100 wei, 99 wei offered"),
    (Revert("NotSeller", {"caller": A, "orderHash": b"\x01" * 32}), PermissionDenied, f"{A} is not the order's seller"),
    (Revert("OrderStale", {"owner": B}), FailedPrecondition, f"no longer owns the token (owner {B})"),
    (Revert("AccessControlUnauthorizedAccount", {"account": A}), PermissionDenied, "lacks the role"),
    (Revert("ERC721NonexistentToken", {"tokenId": 3}), NotFound, "token 3 does not exist"),
    (Revert("AssetAlreadyMinted", {"tokenId": 3}), Conflict, "already minted as token 3"),
    (Revert("SharesMustSumTo10000", {"sum": 5}), InvalidArgument, "got 5"),
    (Revert("Mystery", {"data": b"\x01"}), FailedPrecondition, "contract reverted: Mystery(data=0x01)"),
])
def test_contract_errors_become_typed_errors_with_clear_messages(revert: Revert, kind: type, needle: str) -> None:
    err = domain.revert_to_error(revert)
    assert type(err) is kind and needle in str(err)
