"""The wire conventions: money stays exact and canonical, wei is exact, timestamps
are UTC with a Z, and a failed call is classified one way for every caller."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import grpc
import pytest
from ipheron_libs import wire
from ipheron_libs.errors import (
    Aborted,
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)


class _Err(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = "") -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("0E-18"), "0"), (Decimal("1.50"), "1.5"), (Decimal("2"), "2"), (Decimal("1E+3"), "1000"),
    (Decimal("0.000000000000000001"), "0.000000000000000001"), (7, "7"),
])
def test_money_has_one_canonical_string(value: Decimal, text: str) -> None:
    assert wire.money_str(value) == text


@pytest.mark.parametrize(("value", "places", "text"), [
    (Decimal("12.5"), 6, "12.500000"), (Decimal("0"), 6, "0.000000"), (Decimal("0E-18"), 6, "0.000000"),
    (Decimal("1.0000005"), 6, "1.000000"), (Decimal("1.0000015"), 6, "1.000002"), (3, 2, "3.00"),
])
def test_fixed_scale_money_has_exactly_that_many_decimals(value: Decimal, places: int, text: str) -> None:
    assert wire.money_fixed(value, places) == text


@pytest.mark.parametrize("bad", ["", " ", "-1", "+1", "1e3", "NaN", "Infinity", "1.2.3", ".", "1,5",
                                 "0.0000000000000000001", "9" * 41, "١٢"])
def test_bad_money_strings_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        wire.parse_money(bad, "price")
    assert exc.value.field == "price"


def test_zero_money_is_refused_unless_allowed() -> None:
    with pytest.raises(InvalidArgument):
        wire.parse_money("0", "price")
    assert wire.parse_money("0.0", "fee", allow_zero=True) == 0
    assert wire.parse_money(" 12.50 ") == Decimal("12.50")


def test_wei_conversion_is_exact_and_never_rounds() -> None:
    assert wire.to_wei(Decimal("1.000000000000000001")) == 10**18 + 1
    assert wire.from_wei(10**18 + 1) == Decimal("1.000000000000000001")
    with pytest.raises(InvalidArgument):
        wire.to_wei(Decimal("0.0000000000000000001"))
    assert wire.parse_wei(wire.wei_str(2**255)) == 2**255
    # Any uint256 survives the round trip exactly (the default Decimal context has 28 digits).
    assert wire.to_wei(wire.from_wei(2**256 - 1)) == 2**256 - 1
    for bad in ("-1", "1.0", "0x10", "", "1" * 79):
        with pytest.raises(InvalidArgument):
            wire.parse_wei(bad)


def test_timestamps_round_trip_in_utc_with_z() -> None:
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC)
    ts = wire.to_timestamp(moment)
    assert wire.from_timestamp(ts) == moment
    assert wire.iso(ts) == "2026-01-02T03:04:05.600000Z"
    assert wire.iso(moment.replace(tzinfo=None)) == "2026-01-02T03:04:05.600000Z"
    assert wire.iso(None) is None and wire.from_timestamp(wire.to_timestamp(None)) is None


@pytest.mark.parametrize(("code", "typed"), [
    (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument), (grpc.StatusCode.NOT_FOUND, NotFound),
    (grpc.StatusCode.ALREADY_EXISTS, Conflict), (grpc.StatusCode.FAILED_PRECONDITION, FailedPrecondition),
    (grpc.StatusCode.PERMISSION_DENIED, PermissionDenied), (grpc.StatusCode.ABORTED, Aborted),
])
def test_a_refusal_keeps_its_status_and_message(code: grpc.StatusCode, typed: type) -> None:
    err = wire.classify_rpc_error(_Err(code, "token 7 does not exist"), "chain")
    assert isinstance(err, typed)
    assert err.code == code and str(err) == "token 7 does not exist"
    assert isinstance(wire.status_error(code, "again"), typed)


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                  grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED])
def test_passing_conditions_are_transient(code: grpc.StatusCode) -> None:
    err = wire.classify_rpc_error(_Err(code, "connection refused"), "chain")
    assert isinstance(err, wire.Transient) and err.service == "chain" and err.code == code
    assert wire.is_transient(code)


@pytest.mark.parametrize("code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS])
def test_a_callee_bug_is_not_transient_and_leaks_no_detail(code: grpc.StatusCode) -> None:
    err = wire.classify_rpc_error(_Err(code, "Traceback: password=hunter2"), "chain")
    assert isinstance(err, wire.UpstreamFailure)
    assert err.code == grpc.StatusCode.INTERNAL and "hunter2" not in str(err)
    assert not wire.is_transient(code)


@pytest.mark.parametrize(("code", "typed"), [(grpc.StatusCode.UNAVAILABLE, Unavailable),
                                             (grpc.StatusCode.RESOURCE_EXHAUSTED, ResourceExhausted)])
def test_a_stored_retryable_failure_keeps_its_status(code: grpc.StatusCode, typed: type) -> None:
    err = wire.status_error(code, "the risk check is unavailable; retry later")
    assert isinstance(err, typed) and err.code == code and str(err) == "the risk check is unavailable; retry later"
