"""Staking rules: allowed durations, the APR, exact reward accrual, claims, unstaking.

No gRPC and no SQL here: plain values in, plain values out, so every rule can be
tested with exact Decimals and fixed clocks.

The rules (documented for users in services/staking/README.md):

* A stake locks `amount` (0.01 .. 1,000,000, at most 18 decimals) for one of the
  allowed durations: 30, 90, 180 or 365 days.
* APR = base tier for the duration + long-lock bonus + size bonus, capped at
  `APR_CAP`. Each component is returned with its reason.
* Rewards are simple interest accruing continuously (per microsecond, the
  database's time resolution) from the start time to the end time, never beyond:
  ``accrued(t) = amount * apr/100 * elapsed(t) / 365 days``, rounded DOWN to 18
  decimals so the service never pays more than was earned. Accrual is always
  recomputed from the start time, so the result does not depend on how often
  anyone looked at or claimed from the stake (no rounding drift).
* Claim pays ``accrued(now) - rewards_claimed``. The owner may claim any time
  until the stake is closed.
* Unstake after the end time (matured): principal + unclaimed rewards.
  Unstake before the end time (early): principal less `EARLY_UNSTAKE_PENALTY_RATE`
  percent of it; unclaimed rewards are forfeited (rewards already claimed stay
  claimed). Only the owner may claim or unstake.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, localcontext
from enum import StrEnum

from ipheron_libs.errors import Conflict, FailedPrecondition, InvalidArgument, PermissionDenied
from ipheron_libs.wire import money_str

SCALE = Decimal("1E-18")
# Enough significant digits for 1e6 * 1e2 * 3.2e13 (microseconds per year) with
# 18 decimals and no rounding before the final quantize.
_PRECISION = 80
YEAR = timedelta(days=365)
_YEAR_US = Decimal(YEAR // timedelta(microseconds=1))

MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000")
MAX_PER_PAGE = 100

# Base APR (percent) by lock duration in days; these are the only durations allowed.
BASE_APR: dict[int, Decimal] = {
    30: Decimal("3.00"),
    90: Decimal("5.00"),
    180: Decimal("7.00"),
    365: Decimal("9.00"),
}
ALLOWED_DURATIONS: tuple[int, ...] = tuple(sorted(BASE_APR))
# Extra percentage points for committing to a long lock.
LONG_LOCK_BONUS: dict[int, Decimal] = {180: Decimal("0.50"), 365: Decimal("1.50")}
# Extra percentage points for large stakes: (minimum amount, bonus), largest first.
SIZE_BONUS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("10000"), Decimal("0.50")),
    (Decimal("1000"), Decimal("0.25")),
)
APR_CAP = Decimal("10.50")
EARLY_UNSTAKE_PENALTY_RATE = Decimal("10")  # percent of principal

_DECIMAL_RE = re.compile(r"^[+-]?(\d+)(?:\.(\d+))?$")
_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")


class StakeStatus(StrEnum):
    """Life cycle of a stake."""

    ACTIVE = "active"
    MATURED = "matured"
    CLOSED = "closed"


@dataclass(frozen=True)
class AprComponent:
    """One rule's contribution to an APR, in percentage points."""

    rule: str
    rate: Decimal
    explanation: str


@dataclass(frozen=True)
class Quote:
    """What a stake of `amount` for `duration_days` opened at `start_time` would earn."""

    amount: Decimal
    duration_days: int
    apr: Decimal
    components: tuple[AprComponent, ...]
    expected_rewards: Decimal
    start_time: datetime
    end_time: datetime


@dataclass(frozen=True)
class Stake:
    """A stake as stored; accrued figures are derived with `view`."""

    id: str
    user_id: str
    asset_id: str
    amount: Decimal
    duration_days: int
    apr: Decimal
    start_time: datetime
    end_time: datetime
    status: StakeStatus
    total_rewards_earned: Decimal
    rewards_claimed: Decimal
    last_reward_calculation: datetime
    created_at: datetime
    closed_at: datetime | None = None
    penalty: Decimal | None = None
    payout: Decimal | None = None


@dataclass(frozen=True)
class StakeView:
    """A stake with what it has accrued as of `as_of`."""

    stake: Stake
    status: StakeStatus
    claimable_rewards: Decimal
    expected_total_rewards: Decimal
    as_of: datetime


@dataclass(frozen=True)
class ClaimResult:
    """The stake after a claim and the amount the claim paid."""

    stake: Stake
    claimed: Decimal
    matured_now: bool


@dataclass(frozen=True)
class UnstakeResult:
    """The closed stake and how its payout was made up."""

    stake: Stake
    early: bool
    principal_returned: Decimal
    rewards_paid: Decimal
    rewards_forfeited: Decimal
    penalty: Decimal
    payout: Decimal
    matured_now: bool


def quantize(value: Decimal) -> Decimal:
    """Round down to 18 decimals: never credit a fraction of a unit not earned."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return value.quantize(SCALE, rounding=ROUND_DOWN)


def parse_amount(raw: str, field: str = "amount") -> Decimal:
    """Parse a wire decimal string into a stake amount, naming `field` when invalid."""
    text = (raw or "").strip()
    if not text:
        raise InvalidArgument(f"{field} is required", field=field)
    match = _DECIMAL_RE.match(text)
    if not match:
        raise InvalidArgument(f"{field} must be a decimal string such as '100.5', got {raw!r}", field=field)
    integer, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > 18:
        raise InvalidArgument(f"{field} has more than 18 decimal places", field=field)
    if len(integer.lstrip("0")) > 18:
        raise InvalidArgument(f"{field} is too large", field=field)
    value = Decimal(text)
    if value <= 0:
        raise InvalidArgument(f"{field} must be greater than 0", field=field)
    if value < MIN_AMOUNT:
        raise InvalidArgument(f"{field} must be at least {MIN_AMOUNT}", field=field)
    if value > MAX_AMOUNT:
        raise InvalidArgument(f"{field} must be at most {money_str(MAX_AMOUNT)}", field=field)
    return value


def check_duration(duration_days: int) -> int:
    """Only the tiers in BASE_APR may be chosen."""
    if duration_days not in BASE_APR:
        allowed = ", ".join(str(d) for d in ALLOWED_DURATIONS)
        raise InvalidArgument(f"duration_days must be one of {allowed}, got {duration_days}", field="duration_days")
    return duration_days


def check_id(value: str, field: str) -> str:
    """Ids from other services are opaque but bounded, printable and non-empty."""
    text = (value or "").strip()
    if not text:
        raise InvalidArgument(f"{field} is required", field=field)
    if not _ID_RE.match(text):
        raise InvalidArgument(f"{field} is not a valid id", field=field)
    return text


def check_idempotency_key(key: str, *, required: bool) -> str | None:
    """1..128 printable ASCII characters without spaces; empty means none given."""
    if not key:
        if required:
            raise InvalidArgument("idempotency_key is required for this operation", field="idempotency_key")
        return None
    if not _IDEMPOTENCY_KEY_RE.match(key):
        raise InvalidArgument(
            "idempotency_key must be 1-128 printable ASCII characters without spaces", field="idempotency_key"
        )
    return key


def apr_for(amount: Decimal, duration_days: int) -> tuple[Decimal, tuple[AprComponent, ...]]:
    """The APR (percent) for a stake and the rules that produced it."""
    check_duration(duration_days)
    parts = [
        AprComponent("base_tier", BASE_APR[duration_days], f"base rate for a {duration_days}-day lock"),
    ]
    if duration_days in LONG_LOCK_BONUS:
        parts.append(
            AprComponent(
                "long_lock_bonus",
                LONG_LOCK_BONUS[duration_days],
                f"bonus for locking {duration_days} days",
            )
        )
    for minimum, bonus in SIZE_BONUS:
        if amount >= minimum:
            parts.append(AprComponent("size_bonus", bonus, f"bonus for staking at least {money_str(minimum)}"))
            break
    total = sum((p.rate for p in parts), Decimal(0))
    if total > APR_CAP:
        parts.append(AprComponent("cap", APR_CAP - total, f"APR is capped at {money_str(APR_CAP)} %"))
        total = APR_CAP
    return total, tuple(parts)


def _elapsed_us(start: datetime, end: datetime, at: datetime) -> Decimal:
    """Microseconds of accrual between start and min(at, end), never negative."""
    stop = min(at, end)
    if stop <= start:
        return Decimal(0)
    return Decimal((stop - start) // timedelta(microseconds=1))


def accrued_rewards(amount: Decimal, apr: Decimal, start: datetime, end: datetime, at: datetime) -> Decimal:
    """Total simple-interest reward earned from `start` until `at` (capped at `end`)."""
    elapsed = _elapsed_us(start, end, at)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        raw = amount * apr * elapsed / (Decimal(100) * _YEAR_US)
    return quantize(raw)


def quote(amount: Decimal, duration_days: int, now: datetime) -> Quote:
    """Price a prospective stake opened at `now`."""
    apr, parts = apr_for(amount, duration_days)
    end = now + timedelta(days=duration_days)
    return Quote(
        amount=amount,
        duration_days=duration_days,
        apr=apr,
        components=parts,
        expected_rewards=accrued_rewards(amount, apr, now, end, end),
        start_time=now,
        end_time=end,
    )


def new_stake(stake_id: str, user_id: str, asset_id: str, q: Quote) -> Stake:
    """The stake a quote becomes once opened."""
    return Stake(
        id=stake_id,
        user_id=user_id,
        asset_id=asset_id,
        amount=q.amount,
        duration_days=q.duration_days,
        apr=q.apr,
        start_time=q.start_time,
        end_time=q.end_time,
        status=StakeStatus.ACTIVE,
        total_rewards_earned=Decimal(0),
        rewards_claimed=Decimal(0),
        last_reward_calculation=q.start_time,
        created_at=q.start_time,
    )


def effective_status(stake: Stake, now: datetime) -> StakeStatus:
    """An active stake past its end time is matured even before the sweep records it."""
    if stake.status is StakeStatus.ACTIVE and now >= stake.end_time:
        return StakeStatus.MATURED
    return stake.status


def view(stake: Stake, now: datetime) -> StakeView:
    """What the stake has accrued and can pay as of `now`."""
    if stake.status is StakeStatus.CLOSED:
        claimable = Decimal(0)
    else:
        claimable = accrued_rewards(stake.amount, stake.apr, stake.start_time, stake.end_time, now)
        claimable -= stake.rewards_claimed
    return StakeView(
        stake=stake,
        status=effective_status(stake, now),
        claimable_rewards=max(claimable, Decimal(0)),
        expected_total_rewards=accrued_rewards(
            stake.amount, stake.apr, stake.start_time, stake.end_time, stake.end_time
        ),
        as_of=now,
    )


def check_owner(stake: Stake, user_id: str) -> None:
    """Only the stake's owner may act on it."""
    if not user_id:
        raise InvalidArgument("user_id is required", field="user_id")
    if stake.user_id != user_id:
        raise PermissionDenied("only the owner of this stake may do that")


def check_viewer(stake: Stake, user_id: str) -> None:
    """A read on behalf of a user (`user_id` set) is for the stake's owner only."""
    if user_id and stake.user_id != user_id:
        raise PermissionDenied("only the owner of this stake may see it")


def check_page(page: int, per_page: int) -> tuple[int, int]:
    """A page of a list: page defaults to 1, per_page to 20 (1..MAX_PER_PAGE)."""
    page = page or 1
    per_page = per_page or 20
    if page < 1:
        raise InvalidArgument("page must be >= 1", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidArgument(f"per_page must be between 1 and {MAX_PER_PAGE}", field="per_page")
    return page, per_page


def mature(stake: Stake, now: datetime) -> Stake:
    """Record maturity of an active stake whose end time has passed."""
    if effective_status(stake, now) is not StakeStatus.MATURED or stake.status is not StakeStatus.ACTIVE:
        return stake
    earned = accrued_rewards(stake.amount, stake.apr, stake.start_time, stake.end_time, stake.end_time)
    return dataclasses.replace(
        stake,
        status=StakeStatus.MATURED,
        total_rewards_earned=earned,
        last_reward_calculation=stake.end_time,
    )


def claim(stake: Stake, user_id: str, now: datetime) -> ClaimResult:
    """Pay everything accrued and not yet claimed."""
    check_owner(stake, user_id)
    if stake.status is StakeStatus.CLOSED:
        raise FailedPrecondition("stake is closed; there is nothing left to claim")
    matured = mature(stake, now)
    earned = accrued_rewards(stake.amount, stake.apr, stake.start_time, stake.end_time, now)
    payable = earned - stake.rewards_claimed
    if payable < 0:  # cannot happen with monotonic clocks; refuse rather than claw back
        payable = Decimal(0)
    updated = dataclasses.replace(
        matured,
        total_rewards_earned=earned,
        rewards_claimed=stake.rewards_claimed + payable,
        last_reward_calculation=min(now, stake.end_time),
    )
    return ClaimResult(stake=updated, claimed=payable, matured_now=matured is not stake)


def unstake(stake: Stake, user_id: str, now: datetime) -> UnstakeResult:
    """Close the stake: matured pays principal + unclaimed; early pays principal less the penalty."""
    check_owner(stake, user_id)
    if stake.status is StakeStatus.CLOSED:
        raise FailedPrecondition("stake is already closed")
    matured = mature(stake, now)
    earned = accrued_rewards(stake.amount, stake.apr, stake.start_time, stake.end_time, now)
    unclaimed = max(earned - stake.rewards_claimed, Decimal(0))
    early = now < stake.end_time
    if early:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            penalty = quantize(stake.amount * EARLY_UNSTAKE_PENALTY_RATE / Decimal(100))
        principal = stake.amount - penalty
        paid, forfeited = Decimal(0), unclaimed
    else:
        penalty = Decimal(0)
        principal = stake.amount
        paid, forfeited = unclaimed, Decimal(0)
    payout = principal + paid
    closed = dataclasses.replace(
        matured,
        status=StakeStatus.CLOSED,
        total_rewards_earned=earned,
        rewards_claimed=stake.rewards_claimed + paid,
        last_reward_calculation=min(now, stake.end_time),
        closed_at=now,
        penalty=penalty,
        payout=payout,
    )
    return UnstakeResult(
        stake=closed,
        early=early,
        principal_returned=principal,
        rewards_paid=paid,
        rewards_forfeited=forfeited,
        penalty=penalty,
        payout=payout,
        matured_now=matured is not stake,
    )


def request_fingerprint(operation: str, **params: object) -> str:
    """A stable hash of an operation and its normalised parameters (idempotency check)."""

    def norm(value: object) -> object:
        if isinstance(value, Decimal):
            return money_str(value)
        return value

    body = json.dumps({"op": operation, **{k: norm(v) for k, v in params.items()}}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def utcnow() -> datetime:
    """The service clock (UTC, microsecond resolution like PostgreSQL)."""
    return datetime.now(UTC)


# -- what a write decides ---------------------------------------------------------
#
# A write is decided here and applied by the repository in one transaction: the
# stake as it is to be stored, the events to record with it, and the answer kept
# under the request's Idempotency-Key so a retry gets the same answer.

Json = dict[str, object]


@dataclass(frozen=True)
class RequestKey:
    """A value-moving request under a client's Idempotency-Key."""

    user_id: str
    key: str
    operation: str
    fingerprint: str


@dataclass(frozen=True)
class Emit:
    """A domain event to record in the same transaction as the change."""

    type: str
    actor: str
    payload: Json


@dataclass(frozen=True)
class Change:
    """A decided write: store `stake`, record `events`, answer (and remember) `answer`."""

    stake: Stake
    events: tuple[Emit, ...]
    answer: Json


@dataclass(frozen=True)
class OpenOutcome:
    """The answer to opening a stake."""

    view: StakeView
    components: tuple[AprComponent, ...]
    replayed: bool


@dataclass(frozen=True)
class ClaimOutcome:
    """The answer to a claim."""

    view: StakeView
    claimed: Decimal
    replayed: bool


@dataclass(frozen=True)
class UnstakeOutcome:
    """The answer to an unstake, with how the payout was made up."""

    view: StakeView
    early: bool
    principal_returned: Decimal
    rewards_paid: Decimal
    rewards_forfeited: Decimal
    penalty: Decimal
    payout: Decimal
    replayed: bool


def check_replay(request: RequestKey, operation: str, fingerprint: str) -> None:
    """A key already used is only a replay of the same request; anything else is a Conflict."""
    if operation != request.operation or fingerprint != request.fingerprint:
        raise Conflict("this Idempotency-Key was already used for a different request")


def stake_payload(stake: Stake) -> Json:
    """The stake part of every stake.* event."""
    return {
        "stake_id": stake.id,
        "user_id": stake.user_id,
        "asset_id": stake.asset_id,
        "amount": money_str(stake.amount),
        "duration_days": stake.duration_days,
        "apr": money_str(stake.apr),
        "start_time": stake.start_time.isoformat(),
        "end_time": stake.end_time.isoformat(),
        "status": stake.status.value,
    }


def stake_to_json(stake: Stake) -> Json:
    """A JSON-safe snapshot of a stake (stored with idempotency keys)."""
    out: Json = {}
    for f in dataclasses.fields(stake):
        value = getattr(stake, f.name)
        if isinstance(value, Decimal):
            out[f.name] = money_str(value)
        elif isinstance(value, datetime):
            out[f.name] = value.isoformat()
        elif isinstance(value, StakeStatus):
            out[f.name] = value.value
        else:
            out[f.name] = value
    return out


def _dec(data: Mapping[str, object], key: str) -> Decimal:
    return Decimal(str(data[key]))


def _opt_dec(data: Mapping[str, object], key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else Decimal(str(value))


def _time(data: Mapping[str, object], key: str) -> datetime:
    return datetime.fromisoformat(str(data[key]))


def stake_from_json(data: Mapping[str, object]) -> Stake:
    """Inverse of `stake_to_json`."""
    closed_at = data.get("closed_at")
    return Stake(
        id=str(data["id"]),
        user_id=str(data["user_id"]),
        asset_id=str(data["asset_id"]),
        amount=_dec(data, "amount"),
        duration_days=int(str(data["duration_days"])),
        apr=_dec(data, "apr"),
        start_time=_time(data, "start_time"),
        end_time=_time(data, "end_time"),
        status=StakeStatus(str(data["status"])),
        total_rewards_earned=_dec(data, "total_rewards_earned"),
        rewards_claimed=_dec(data, "rewards_claimed"),
        last_reward_calculation=_time(data, "last_reward_calculation"),
        created_at=_time(data, "created_at"),
        closed_at=None if closed_at is None else datetime.fromisoformat(str(closed_at)),
        penalty=_opt_dec(data, "penalty"),
        payout=_opt_dec(data, "payout"),
    )


def _view_json(v: StakeView) -> Json:
    return {"stake": stake_to_json(v.stake), "as_of": v.as_of.isoformat()}


def _view_from_json(data: Mapping[str, object]) -> StakeView:
    stake = data["stake"]
    if not isinstance(stake, Mapping):
        raise ValueError("a stored answer has no stake")
    return view(stake_from_json(stake), datetime.fromisoformat(str(data["as_of"])))


def open_outcome(answer: Mapping[str, object], *, replayed: bool) -> OpenOutcome:
    """An open's answer (fresh or stored); the APR components follow from the stake."""
    v = _view_from_json(answer)
    _, parts = apr_for(v.stake.amount, v.stake.duration_days)
    return OpenOutcome(view=v, components=parts, replayed=replayed)


def claim_outcome(answer: Mapping[str, object], *, replayed: bool) -> ClaimOutcome:
    """A claim's answer (fresh or stored)."""
    return ClaimOutcome(view=_view_from_json(answer), claimed=_dec(answer, "claimed"), replayed=replayed)


def unstake_outcome(answer: Mapping[str, object], *, replayed: bool) -> UnstakeOutcome:
    """An unstake's answer (fresh or stored)."""
    return UnstakeOutcome(
        view=_view_from_json(answer),
        early=bool(answer["early"]),
        principal_returned=_dec(answer, "principal_returned"),
        rewards_paid=_dec(answer, "rewards_paid"),
        rewards_forfeited=_dec(answer, "rewards_forfeited"),
        penalty=_dec(answer, "penalty"),
        payout=_dec(answer, "payout"),
        replayed=replayed,
    )


def open_change(stake_id: str, user_id: str, asset_id: str, amount: Decimal, duration_days: int,
                now: datetime) -> Change:
    """Open a stake at `now`: stake.opened, answered with the new stake."""
    stake = new_stake(stake_id, user_id, asset_id, quote(amount, duration_days, now))
    return Change(stake, (Emit("stake.opened", user_id, stake_payload(stake)),), _view_json(view(stake, now)))


def claim_change(stake: Stake, user_id: str, now: datetime) -> Change:
    """Claim what has accrued: stake.matured if it matures now, stake.claimed if anything was paid."""
    r = claim(stake, user_id, now)
    emitted: list[Emit] = []
    if r.matured_now:
        emitted.append(Emit("stake.matured", r.stake.user_id, stake_payload(r.stake)))
    if r.claimed > 0:
        emitted.append(Emit("stake.claimed", user_id, {
            **stake_payload(r.stake),
            "claimed": money_str(r.claimed),
            "rewards_claimed": money_str(r.stake.rewards_claimed),
        }))
    return Change(r.stake, tuple(emitted), {**_view_json(view(r.stake, now)), "claimed": money_str(r.claimed)})


def unstake_change(stake: Stake, user_id: str, now: datetime) -> Change:
    """Close the stake: stake.matured first if it matures now, then stake.closed with the payout."""
    r = unstake(stake, user_id, now)
    figures: Json = {
        "early": r.early,
        "principal_returned": money_str(r.principal_returned),
        "rewards_paid": money_str(r.rewards_paid),
        "rewards_forfeited": money_str(r.rewards_forfeited),
        "penalty": money_str(r.penalty),
        "payout": money_str(r.payout),
    }
    emitted: list[Emit] = []
    if r.matured_now:
        matured = mature(stake, now)
        emitted.append(Emit("stake.matured", matured.user_id, stake_payload(matured)))
    emitted.append(Emit("stake.closed", user_id, {**stake_payload(r.stake), **figures}))
    return Change(r.stake, tuple(emitted), {**_view_json(view(r.stake, now)), **figures})


def maturity_change(stake: Stake, now: datetime) -> Change:
    """Record maturity of a stake past its end time (the sweep): stake.matured."""
    matured = mature(stake, now)
    return Change(matured, (Emit("stake.matured", matured.user_id, stake_payload(matured)),), {})
