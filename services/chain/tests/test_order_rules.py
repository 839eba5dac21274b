"""The signed-order rules (domain.py), with no chain: parsing an order strictly (each refusal
names its field), the order window, the verdict VerifyOrder gives for each on-chain state,
who may fulfill or cancel, the withdraw relay's cooldown, what a tracked transaction must
match, and how reconciliation names its differences."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from chain_service import domain
from chain_service.domain import OrderOnChain, OrderState
from chain_service.orders import NATIVE_CURRENCY, Order
from ipheron_libs.errors import FailedPrecondition, InvalidArgument, PermissionDenied, ResourceExhausted

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
SELLER = "0x1111111111111111111111111111111111111111"
OTHER = "0x2222222222222222222222222222222222222222"


def order(**changes: object) -> Order:
    fields: dict[str, object] = {"token": TOKEN, "token_id": 7, "seller": SELLER, "price": 1000, "counter": 2,
                                 "salt": 99, "start_time": 100, "end_time": 200}
    fields.update(changes)
    return Order(**fields)  # type: ignore[arg-type]


def message(**changes: object) -> str:
    m: dict[str, object] = order().message()
    m.update(changes)
    return json.dumps({k: v for k, v in m.items() if v is not None})


def chain(**changes: object) -> OrderOnChain:
    fields: dict[str, object] = {"status": 0, "counter": 2, "owner": SELLER, "approved": True, "next_block_time": 150}
    fields.update(changes)
    return OrderOnChain(**fields)  # type: ignore[arg-type]


def test_a_well_formed_order_parses_to_the_same_order() -> None:
    assert domain.parse_order(message(), TOKEN, NATIVE_CURRENCY) == order()
    # Integers are accepted as well as decimal strings; addresses in any valid case.
    assert domain.parse_order(message(tokenId=7, seller=SELLER.lower()), TOKEN, NATIVE_CURRENCY) == order()


@pytest.mark.parametrize(("text", "field"), [
    ("", "order_json"), ("{", "order_json"), ("[1]", "order_json"),
    (message(salt=None), "order.salt"), (message(extra="1"), "order.extra"),
    (message(price="1.5"), "order.price"), (message(price="-1"), "order.price"), (message(price="0"), "order.price"),
    (message(price=True), "order.price"), (message(counter=str(2**256)), "order.counter"),
    (message(token=OTHER), "order.token"), (message(currency=OTHER), "order.currency"),
    (message(seller="0xabc"), "order.seller"), (message(seller="0x" + "00" * 20), "order.seller"),
    (message(seller="0x5fbDB2315678afecb367f032d93F642f64180aa3"), "order.seller"),  # bad EIP-55 checksum
])
def test_a_malformed_or_foreign_order_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.parse_order(text, TOKEN, NATIVE_CURRENCY)
    assert err.value.field == field


def test_the_order_window_starts_a_minute_early_and_lasts_30_days_by_default_at_most_a_year() -> None:
    assert domain.order_window(1_000_000, 0) == (1_000_000 - 60, 1_000_000 + 30 * 86_400)
    assert domain.order_window(1_000_000, 3600) == (1_000_000 - 60, 1_003_600)
    assert domain.order_window(1_000_000, 365 * 86_400)[1] == 1_000_000 + 365 * 86_400
    for bad in (-1, 365 * 86_400 + 1):
        with pytest.raises(InvalidArgument):
            domain.order_window(1_000_000, bad)


@pytest.mark.parametrize(("signature_valid", "on_chain", "state", "needle"), [
    (True, chain(), OrderState.FILLABLE, ""),
    (True, chain(status=1), OrderState.FILLED, "filled"),
    (True, chain(status=2), OrderState.CANCELLED, "cancelled"),
    (False, chain(), OrderState.INVALID_SIGNATURE, SELLER),
    (True, chain(next_block_time=99), OrderState.NOT_STARTED, "starts at 100"),
    (True, chain(next_block_time=200), OrderState.EXPIRED, "expired at 200"),
    (True, chain(counter=3), OrderState.COUNTER_INVALID, "counter is now 3"),
    (True, chain(owner=OTHER), OrderState.STALE, f"owner {OTHER}"),
    (True, chain(owner=None), OrderState.STALE, "does not exist"),
    (True, chain(approved=False), OrderState.NOT_APPROVED, "approval"),
])
def test_the_verdict_names_why_an_order_is_not_fillable(signature_valid: bool, on_chain: OrderOnChain,
                                                        state: OrderState, needle: str) -> None:
    verdict = domain.order_verdict(order(), signature_valid, on_chain)
    assert verdict.state is state and needle in verdict.reason
    assert verdict.fillable is (state is OrderState.FILLABLE)


def test_only_a_fillable_order_for_another_buyer_is_prepared_and_only_the_seller_cancels() -> None:
    sig = domain.SignatureCheck(True, "ecdsa", SELLER)
    fillable = domain.CheckedOrder(order(), b"h" * 32, sig, domain.OrderVerdict(OrderState.FILLABLE), SELLER)
    domain.fulfill_decision(fillable, OTHER, None)
    with pytest.raises(FailedPrecondition, match="buyer is the seller"):
        domain.fulfill_decision(fillable, SELLER, None)
    with pytest.raises(FailedPrecondition, match="buyer is the seller"):
        domain.fulfill_decision(fillable, OTHER, SELLER)
    expired = domain.CheckedOrder(order(), b"h" * 32, sig, domain.OrderVerdict(OrderState.EXPIRED, "expired at 200"),
                                  SELLER)
    with pytest.raises(FailedPrecondition, match="not fillable: expired at 200"):
        domain.fulfill_decision(expired, OTHER, None)
    domain.cancel_decision([order(), order(salt=1)], SELLER)
    with pytest.raises(PermissionDenied):
        domain.cancel_decision([order(), order(seller=OTHER)], SELLER)
    with pytest.raises(InvalidArgument):
        domain.cancel_decision([], SELLER)


def test_the_relay_cooldown_counts_down_in_whole_seconds() -> None:
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    assert domain.withdraw_cooldown_left(None, now, 3600) == 0
    assert domain.withdraw_cooldown_left(now - dt.timedelta(seconds=3600), now, 3600) == 0
    assert domain.withdraw_cooldown_left(now - dt.timedelta(seconds=10.5), now, 3600) == 3590
    assert domain.withdraw_cooldown_left(now, now, 0) == 0
    err = domain.cooldown_error(SELLER, 3590)
    assert isinstance(err, ResourceExhausted) and "3590 s" in str(err)


def test_a_tracked_transaction_must_be_the_prepared_call_from_the_expected_wallet() -> None:
    expected = domain.Prepared(SELLER, TOKEN, "0xabcd", 5, 1337, 100_000, 10, 1, 3)  # type: ignore[arg-type]
    found = domain.RawTx(tx_hash="0x" + "11" * 32, sender=SELLER, type=2, chain_id=1337, nonce=9,  # type: ignore[arg-type]
                         gas=90_000, max_fee_per_gas=50, max_priority_fee_per_gas=2, to=TOKEN, value=5,  # type: ignore[arg-type]
                         data="0xABCD")
    domain.check_tracked(found, expected)  # its own nonce, gas and fees are the wallet's choice
    from dataclasses import replace

    with pytest.raises(PermissionDenied):
        domain.check_tracked(replace(found, sender=OTHER), expected)  # type: ignore[arg-type]
    for change in ({"to": OTHER}, {"data": "0x00"}, {"value": 6}, {"chain_id": 1}):
        with pytest.raises(InvalidArgument):
            domain.check_tracked(replace(found, **change), expected)  # type: ignore[arg-type]


def test_reconciliation_names_each_owner_and_balance_that_differs() -> None:
    recorded = domain.recorded_balances([(SELLER, 900), (OTHER, 100), (SELLER, 50)], [(SELLER, 900)])
    assert recorded == {SELLER: 50, OTHER: 100}
    assert domain.differences({1: SELLER, 2: OTHER}, {1: SELLER, 2: OTHER}, {SELLER: 50, OTHER: 100}, recorded) == []
    diffs = domain.differences({1: SELLER, 2: OTHER, 3: SELLER}, {1: OTHER, 2: OTHER},
                               {SELLER: 51, OTHER: 100}, recorded)
    assert diffs == [domain.Difference("owner", "1", SELLER, OTHER), domain.Difference("owner", "3", SELLER, ""),
                     domain.Difference("pending_withdrawal", SELLER, "51", "50")]


def test_the_periodic_reconciliation_window_covers_everything_over_successive_runs_at_a_bounded_size() -> None:
    items = list(range(1, 8))
    seen: list[int] = []
    cursor = 0
    for _ in range(3):
        taken, cursor = domain.rotating_window(items, cursor, 3)
        assert len(taken) == 3
        seen += taken
    assert set(seen) == set(items) and seen[:7] == items  # in order, wrapping around after the last
    assert domain.rotating_window(items, 5, 0) == (items, 0)  # no bound: everything
    assert domain.rotating_window(items, 5, 50) == (items, 0)
    assert domain.rotating_window([], 3, 2) == ([], 0)
