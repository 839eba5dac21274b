"""Wire conventions every service and the gateway share: exact money as decimal
strings, integer wei, timestamps, and the one classification of a failed gRPC call.

Money never becomes a float: a `Decimal` in code, a canonical decimal string on the
wire ("12.5", "0"; no exponent, no trailing zeros), NUMERIC in PostgreSQL and an
integer number of wei on chain.
"""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal, InvalidOperation

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from ipheron_libs.errors import (
    Aborted,
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

WEI_PER_ETH = 10**18
# Ether has 18 decimals; a price with more cannot be paid exactly in wei.
MAX_DECIMAL_PLACES = 18
# Enough for 10^12 ETH with 18 decimals: bounds the parser's work on hostile input.
MAX_MONEY_CHARS = 40
# Wide enough for any uint256 amount of wei (78 digits): conversions never round.
_EXACT = Context(prec=100)
_DIGITS = frozenset("0123456789")  # str.isdigit() also accepts other scripts' digits


# ---------------------------------------------------------------- money


def money_str(value: Decimal | int) -> str:
    """The canonical wire form of an amount: "12.5", "2", "0" (never "0E-18" or "1.50")."""
    d = Decimal(value)
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


def money_fixed(value: Decimal | int, places: int = 6) -> str:
    """An amount with exactly `places` decimals, rounded half-even: "12.500000", "0.000000"
    (for answers whose wire contract fixes the scale, e.g. NUMERIC(24, 6) totals)."""
    return format(Decimal(value).quantize(Decimal(1).scaleb(-places)), "f")


def parse_money(text: str, field: str = "amount", *, allow_zero: bool = False,
                max_places: int = MAX_DECIMAL_PLACES) -> Decimal:
    """A non-negative decimal string → Decimal, or `InvalidArgument` naming `field`.

    Refuses exponents, signs, NaN/Infinity, more than `max_places` decimals and
    absurdly long input; zero only when `allow_zero`.
    """
    raw = (text or "").strip()
    if not raw or len(raw) > MAX_MONEY_CHARS or not all(c in _DIGITS or c == "." for c in raw) \
            or raw.count(".") > 1 or raw in (".",):
        raise InvalidArgument(f"{field} must be a decimal string such as \"12.5\"", field=field)
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise InvalidArgument(f"{field} must be a decimal string such as \"12.5\"", field=field) from exc
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places:
        raise InvalidArgument(f"{field} has more than {max_places} decimal places", field=field)
    if value == 0 and not allow_zero:
        raise InvalidArgument(f"{field} must be greater than 0", field=field)
    return value


def to_wei(eth: Decimal) -> int:
    """ETH → integer wei, exactly; more than 18 decimals is refused, never rounded."""
    wei = Decimal(eth).scaleb(18, context=_EXACT)
    if wei != wei.to_integral_value():
        raise InvalidArgument("amount has more than 18 decimal places", field="amount")
    return int(wei)


def from_wei(wei: int) -> Decimal:
    """Integer wei → ETH as an exact Decimal (any uint256: no context rounding)."""
    return Decimal(int(wei)).scaleb(-18, context=_EXACT)


def wei_str(wei: int) -> str:
    """Wei on the wire: a base-10 integer string (JSON numbers lose precision above 2^53)."""
    return str(int(wei))


def parse_wei(text: str, field: str = "amount_wei") -> int:
    """A base-10 non-negative integer string → int, or `InvalidArgument` naming `field`."""
    raw = (text or "").strip()
    if not raw or not _DIGITS.issuperset(raw) or len(raw) > 78:  # 2^256 has 78 digits
        raise InvalidArgument(f"{field} must be a non-negative integer string", field=field)
    return int(raw)


# ---------------------------------------------------------------- time


def to_timestamp(value: dt.datetime | None) -> Timestamp:
    """A datetime → protobuf Timestamp (naive datetimes are taken as UTC); None → unset."""
    ts = Timestamp()
    if value is not None:
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        ts.FromDatetime(value)
    return ts


def from_timestamp(ts: Timestamp | None) -> dt.datetime | None:
    """A protobuf Timestamp → aware UTC datetime; an unset one → None."""
    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return None
    return ts.ToDatetime(tzinfo=dt.UTC)


def iso(value: dt.datetime | Timestamp | None) -> str | None:
    """RFC 3339 in UTC with a "Z" ("2026-01-02T03:04:05Z"); None/unset → None."""
    if isinstance(value, Timestamp):
        value = from_timestamp(value)
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- gRPC failures

# The call may succeed if retried; for a write the outcome may be unknown, so only
# idempotent (keyed) calls are retried. INTERNAL/UNKNOWN are a callee bug, not
# a passing condition: retrying them forever would hide it.
TRANSIENT_CODES = frozenset({
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
})

_TYPED: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.ABORTED: Aborted,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
}


# Stored outcomes that were transient when they happened (status_error only: a live call
# with these codes is `Transient`, see classify_rpc_error).
_STORED_TRANSIENT: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
}


class Transient(Exception):
    """A call that may succeed later (the callee was unavailable, slow or busy)."""

    def __init__(self, service: str, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{service}: {code.name} {message}".strip())
        self.service = service
        self.code = code


class UpstreamFailure(DomainError):
    """The callee failed with INTERNAL/UNKNOWN/...: our caller gets INTERNAL, no detail."""

    code = grpc.StatusCode.INTERNAL


def is_transient(code: grpc.StatusCode | None) -> bool:
    """Whether a call that ended with `code` may succeed if retried later."""
    return code in TRANSIENT_CODES


def classify_rpc_error(exc: grpc.aio.AioRpcError | grpc.RpcError, service: str) -> DomainError | Transient:
    """The one reading of a failed call: a typed domain error carrying the callee's
    status and message (safe: callees only send messages meant for clients), or
    `Transient`. Raise the result: `raise classify_rpc_error(exc, "chain") from exc`."""
    code_fn = getattr(exc, "code", None)
    code: grpc.StatusCode = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    details_fn = getattr(exc, "details", None)
    details = (details_fn() if callable(details_fn) else None) or code.name
    if code in TRANSIENT_CODES:
        return Transient(service, code, details)
    typed = _TYPED.get(code)
    if typed is not None:
        return typed(details)
    return UpstreamFailure(f"{service} failed")


def status_error(code: grpc.StatusCode, message: str) -> DomainError:
    """A typed error from a stored status code (e.g. a saga's recorded failure). A stored
    UNAVAILABLE or RESOURCE_EXHAUSTED (a failure the caller may retry) keeps its status."""
    typed = _TYPED.get(code) or _STORED_TRANSIENT.get(code)
    if typed is None:
        return UpstreamFailure(message)
    return typed(message)
