"""Staking rules: allowed durations, the APR, and the StakingVault's exact wei arithmetic.

No gRPC and no SQL here: plain values in, plain values out, so every rule can be
tested with exact integers and fixed clocks.

The rules (documented for users in services/staking/README.md):

* A stake locks `amount` (0.01 .. 1,000,000 ETH, at most 18 decimals) for one of the
  allowed durations: 30, 90, 180 or 365 days, from the staker's own wallet, on the
  StakingVault contract. The vault holds the ether; this service is the quoting
  authority (it signs the APR) and a read model of the vault's events.
* APR = base tier for the duration + long-lock bonus + size bonus, capped at
  `APR_CAP`. Each component is returned with its reason. On chain the APR is
  `apr_bps` = APR % × 100 (exact: every rate has at most two decimals).
* The reward a stake can ever earn is reserved from the vault's pool when it opens,
  rounded UP (≤ 1 wei in the staker's favour, so a tiny stake is never zero forever):
  ``reservation = ceil(amount_wei × apr_bps × duration_s / (10,000 × 31,536,000))``
  (365-day years, also across a leap day).
* Accrual is linear per second of block time, rounded DOWN:
  ``accrued(t) = floor(reservation × min(t − start, duration) / duration)``: exactly
  the reservation at the end, never more.
* Claim pays ``accrued(t) − claimed``. Unstake at or after the end pays principal +
  reservation − claimed; before the end principal + accrued(t) − claimed − penalty,
  ``penalty = floor(principal × penalty_bps / 10,000)`` (the vault's penalty, 10 % by
  default); the penalty and the unearned reservation return to the pool.
* Figures are recorded only from the vault's events; previews use the same rule.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ipheron_libs.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from ipheron_libs.prepared import PreparedTx as PreparedTx  # re-exported: the records of this domain hold it
from ipheron_libs.wire import from_wei, money_str, to_wei

YEAR_SECONDS = 365 * 86_400
BPS = 10_000
DAY_SECONDS = 86_400

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
# The vault's early-exit penalty by default (GetVault answers the deployed one).
DEFAULT_PENALTY_BPS = 1000

# The EIP-712 StakeQuote's fields in the struct's order (its JSON form keeps this order).
QUOTE_FIELDS = ("staker", "tokenId", "amount", "aprBps", "duration", "expiry", "nonce")
DOMAIN_FIELDS = ("name", "version", "chainId", "verifyingContract")
ORIGIN_API = "api"
ORIGIN_CHAIN = "chain"
QUOTE_EXPIRED = "the quote expired"

_DECIMAL_RE = re.compile(r"^[+-]?(\d+)(?:\.(\d+))?$")
_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
_WALLET_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_RAW_TX_RE = re.compile(r"^0x(?:[0-9a-fA-F]{2}){1,8192}$")
_TX_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")


class StakeStatus(StrEnum):
    """Life cycle of a stake: pending -> active -> matured -> closed; pending -> failed."""

    PENDING = "pending"
    ACTIVE = "active"
    MATURED = "matured"
    CLOSED = "closed"
    FAILED = "failed"


class ActionKind(StrEnum):
    """What a handed-in transaction is: the stake() that opens it, a claim, an unstake."""

    OPEN = "open"
    CLAIM = "claim"
    UNSTAKE = "unstake"


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
    amount_wei: int
    apr_bps: int
    duration_seconds: int
    reservation_wei: int


@dataclass(frozen=True)
class Funds:
    """What a prepared call needs from the wallet and what it holds (wei)."""

    can_pay: bool
    required_wei: int
    available_wei: int
    shortfall_wei: int


@dataclass(frozen=True)
class VaultInfo:
    """The vault's EIP-712 domain, signer, penalty and pool (GetVault)."""

    address: str
    chain_id: int
    domain_name: str
    domain_version: str
    quote_signer: str
    penalty_bps: int
    pool_free_wei: int
    pool_reserved_wei: int


@dataclass(frozen=True)
class SignedQuote:
    """A StakeQuote signed by the quote key: the EIP-712 message, the document, the signature."""

    message: dict[str, str]
    typed_data: dict[str, Any]
    signature: str
    quote_hash: str
    amount_wei: int
    apr_bps: int
    duration_seconds: int
    expires_at: datetime
    token_id: int
    reservation_wei: int
    quote_signer: str
    vault_address: str

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "typed_data": self.typed_data, "signature": self.signature,
                "quote_hash": self.quote_hash, "amount_wei": str(self.amount_wei), "apr_bps": self.apr_bps,
                "duration_seconds": self.duration_seconds, "expires_at": self.expires_at.isoformat(),
                "token_id": self.token_id, "reservation_wei": str(self.reservation_wei),
                "quote_signer": self.quote_signer, "vault_address": self.vault_address}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SignedQuote:
        # JSONB does not keep key order: the documents are rebuilt in their canonical order.
        message = {k: str(d["message"][k]) for k in QUOTE_FIELDS}
        stored = d["typed_data"]
        types = {name: stored["types"][name] for name in ("EIP712Domain", "StakeQuote")}
        typed = {"types": types, "primaryType": stored["primaryType"],
                 "domain": {k: stored["domain"][k] for k in DOMAIN_FIELDS}, "message": message}
        return cls(message=message, typed_data=typed, signature=str(d["signature"]),
                   quote_hash=str(d["quote_hash"]), amount_wei=int(d["amount_wei"]), apr_bps=int(d["apr_bps"]),
                   duration_seconds=int(d["duration_seconds"]),
                   expires_at=datetime.fromisoformat(str(d["expires_at"])), token_id=int(d["token_id"]),
                   reservation_wei=int(d["reservation_wei"]), quote_signer=str(d["quote_signer"]),
                   vault_address=str(d["vault_address"]))


@dataclass(frozen=True)
class Stake:
    """A stake as stored: the vault's figures in wei (ETH decimals are derived from them)."""

    id: str
    user_id: str
    asset_id: str
    wallet: str
    status: StakeStatus
    amount_wei: int
    apr_bps: int
    duration_days: int
    duration_seconds: int
    token_id: int
    start_time: datetime
    end_time: datetime
    reward_wei: int
    created_at: datetime
    claimed_wei: int = 0
    rewards_paid_wei: int = 0
    payout_wei: int | None = None
    penalty_wei: int | None = None
    early: bool | None = None
    closed_at: datetime | None = None
    vault_stake_id: int | None = None
    tx_hash: str = ""
    quote_hash: str = ""
    expires_at: datetime | None = None
    failure_reason: str = ""
    origin: str = ORIGIN_API
    transaction: PreparedTx | None = None
    signed_quote: SignedQuote | None = None

    @property
    def amount(self) -> Decimal:
        return from_wei(self.amount_wei)

    @property
    def apr(self) -> Decimal:
        return Decimal(self.apr_bps) / 100


@dataclass(frozen=True)
class StakeView:
    """A stake with what it has accrued as of `as_of` (the vault's rule)."""

    stake: Stake
    status: StakeStatus
    accrued_wei: int
    claimable_wei: int
    as_of: datetime

    @property
    def claimable_rewards(self) -> Decimal:
        return from_wei(self.claimable_wei)


@dataclass(frozen=True)
class PreparedAction:
    """A claim or unstake prepared for the staker's wallet, with what it pays if mined now."""

    id: str
    stake_id: str
    kind: ActionKind
    transaction: PreparedTx
    payout_wei: int
    penalty_wei: int
    early: bool
    created_at: datetime
    tx_hash: str = ""
    state: str = "prepared"
    failure_reason: str = ""


@dataclass(frozen=True)
class ActionOutcome:
    """The answer to a claim or unstake: the stake, the prepared call, or the wallet's shortfall."""

    view: StakeView
    action: PreparedAction | None
    shortfall: Funds | None
    replayed: bool
    principal_wei: int = 0


@dataclass(frozen=True)
class OpenOutcome:
    """The answer to opening a stake: the pending stake, or why nothing was stored."""

    view: StakeView | None
    components: tuple[AprComponent, ...]
    replayed: bool
    signed_quote: SignedQuote | None
    shortfall: Funds | None = None
    pool_capacity: tuple[int, int] | None = None  # (reservation_wei, pool_free_wei)


@dataclass(frozen=True)
class RequestKey:
    """A value-moving request under a client's Idempotency-Key."""

    user_id: str
    key: str
    operation: str
    fingerprint: str


# -- the chain's events, as this service reads them ----------------------------------


@dataclass(frozen=True)
class ChainEventRef:
    """Where a chain event comes from (the envelope the chain's indexer adds)."""

    event_id: str
    event_type: str
    tx_hash: str
    block_number: int
    log_index: int
    block_time: datetime | None


@dataclass(frozen=True)
class VaultOpened:
    ref: ChainEventRef
    vault_stake_id: int
    staker: str
    token_id: int
    amount_wei: int
    apr_bps: int
    start: int
    end: int
    reward_wei: int
    quote_nonce: int
    quote_hash: str


@dataclass(frozen=True)
class VaultClaimed:
    ref: ChainEventRef
    vault_stake_id: int
    staker: str
    amount_wei: int


@dataclass(frozen=True)
class VaultClosed:
    ref: ChainEventRef
    vault_stake_id: int
    staker: str
    paid_wei: int
    rewards_paid_wei: int
    penalty_wei: int
    early: bool


@dataclass(frozen=True)
class Emit:
    """A domain event to record in the same transaction as the change."""

    type: str
    actor: str
    payload: dict[str, Any] = field(default_factory=dict)


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


def check_wallet(value: str, field: str = "wallet") -> str:
    """A 0x-prefixed 20-byte address, lower-cased (how stakes store it)."""
    text = (value or "").strip()
    if not text:
        raise InvalidArgument(f"{field} is required: sign in with your wallet", field=field)
    if not _WALLET_RE.match(text):
        raise InvalidArgument(f"{field} is not a 0x-prefixed 20-byte address", field=field)
    return text.lower()


def check_raw_transaction(raw: str) -> str:
    if not _RAW_TX_RE.match(raw or ""):
        raise InvalidArgument("raw_transaction must be 0x-prefixed hex of at most 8 KiB", field="raw_transaction")
    return raw


def check_tx_hash(value: str) -> str:
    if not _TX_HASH_RE.match(value or ""):
        raise InvalidArgument("tx_hash must be a 0x-prefixed 32-byte hash", field="tx_hash")
    return value.lower()


def apr_bps_of(apr: Decimal) -> int:
    """APR percent -> basis points, exactly (every rate here has at most two decimals)."""
    bps = apr * 100
    if bps != bps.to_integral_value():
        raise ValueError(f"APR {apr} is not a whole number of basis points")
    return int(bps)


def reservation_wei(amount_wei: int, apr_bps: int, duration_seconds: int) -> int:
    """What the vault reserves for a stake (= its reward at the end), rounded up."""
    numerator = amount_wei * apr_bps * duration_seconds
    return -(-numerator // (BPS * YEAR_SECONDS))


def unix(t: datetime) -> int:
    """A datetime as unix seconds, rounded down (block times are whole seconds)."""
    return int(t.timestamp() // 1)


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def accrued_wei(reward_wei: int, start: int, end: int, at: int) -> int:
    """floor(reservation × min(t − start, duration) / duration): the vault's accrual rule."""
    duration = end - start
    if duration <= 0 or at <= start:
        return 0
    return reward_wei * min(at - start, duration) // duration


def penalty_wei(principal_wei: int, penalty_bps: int) -> int:
    return principal_wei * penalty_bps // BPS


def claim_payout_wei(stake: Stake, at: int) -> int:
    """What claim() pays at block time `at`."""
    return max(accrued_wei(stake.reward_wei, unix(stake.start_time), unix(stake.end_time), at) - stake.claimed_wei, 0)


def unstake_payout_wei(stake: Stake, at: int, penalty_bps: int) -> tuple[int, int, bool]:
    """(payout, penalty, early) of unstake() at block time `at`."""
    end = unix(stake.end_time)
    if at >= end:
        return stake.amount_wei + stake.reward_wei - stake.claimed_wei, 0, False
    accrued = accrued_wei(stake.reward_wei, unix(stake.start_time), end, at)
    penalty = penalty_wei(stake.amount_wei, penalty_bps)
    return stake.amount_wei + accrued - stake.claimed_wei - penalty, penalty, True


def quote(amount: Decimal, duration_days: int, now: datetime) -> Quote:
    """Price a prospective stake opened at `now` (the reward is the vault's reservation)."""
    apr, parts = apr_for(amount, duration_days)
    amount_wei = to_wei(amount)
    bps = apr_bps_of(apr)
    seconds = duration_days * DAY_SECONDS
    reservation = reservation_wei(amount_wei, bps, seconds)
    return Quote(amount=amount, duration_days=duration_days, apr=apr, components=parts,
                 expected_rewards=from_wei(reservation), start_time=now, end_time=now + timedelta(seconds=seconds),
                 amount_wei=amount_wei, apr_bps=bps, duration_seconds=seconds, reservation_wei=reservation)


def nonce_of(stake_id: str) -> int:
    """A pending stake's quote nonce: its UUID as an integer (a replay signs the same quote)."""
    return uuid.UUID(stake_id).int


def quote_message(staker: str, token_id: int, q: Quote, expiry: int, nonce: int) -> dict[str, str]:
    """The EIP-712 StakeQuote message (numbers as decimal strings)."""
    return {"staker": staker, "tokenId": str(token_id), "amount": str(q.amount_wei), "aprBps": str(q.apr_bps),
            "duration": str(q.duration_seconds), "expiry": str(expiry), "nonce": str(nonce)}


def pending_stake(stake_id: str, user_id: str, asset_id: str, wallet: str, q: Quote, sq: SignedQuote,
                  tx: PreparedTx, now: datetime) -> Stake:
    """The PENDING stake an open stores: the quote's figures until the vault's event replaces them."""
    return Stake(id=stake_id, user_id=user_id, asset_id=asset_id, wallet=wallet, status=StakeStatus.PENDING,
                 amount_wei=q.amount_wei, apr_bps=q.apr_bps, duration_days=q.duration_days,
                 duration_seconds=q.duration_seconds, token_id=sq.token_id, start_time=now,
                 end_time=now + timedelta(seconds=q.duration_seconds), reward_wei=sq.reservation_wei,
                 created_at=now, quote_hash=sq.quote_hash, expires_at=sq.expires_at, transaction=tx,
                 signed_quote=sq)


def effective_status(stake: Stake, now: datetime) -> StakeStatus:
    """An active stake past its end time is matured even before the sweep records it."""
    if stake.status is StakeStatus.ACTIVE and now >= stake.end_time:
        return StakeStatus.MATURED
    return stake.status


def view(stake: Stake, now: datetime) -> StakeView:
    """What the stake has accrued and can claim as of `now` (the vault's rule, wall clock)."""
    if stake.status in (StakeStatus.ACTIVE, StakeStatus.MATURED):
        accrued = accrued_wei(stake.reward_wei, unix(stake.start_time), unix(stake.end_time), unix(now))
        claimable = max(accrued - stake.claimed_wei, 0)
    elif stake.status is StakeStatus.CLOSED:
        accrued, claimable = stake.claimed_wei + stake.rewards_paid_wei, 0
    else:
        accrued, claimable = 0, 0
    return StakeView(stake=stake, status=effective_status(stake, now), accrued_wei=accrued,
                     claimable_wei=claimable, as_of=now)


def owns(stake: Stake, user_id: str, wallet: str) -> bool:
    """The stake's owner: its user, or (opened on the vault directly) the user of its wallet."""
    if stake.user_id:
        return stake.user_id == user_id
    return bool(wallet) and stake.wallet == wallet.lower()


def check_viewer(stake: Stake, user_id: str, wallet: str = "") -> None:
    """A read on behalf of a user (`user_id` set) is for the stake's owner only."""
    if user_id and not owns(stake, user_id, wallet):
        raise PermissionDenied("only the owner of this stake may see it")


def check_actor(stake: Stake | None, stake_id: str, user_id: str, wallet: str) -> Stake:
    """Only the owner acts on a stake (another user's is not found), from the stake's own wallet."""
    if stake is None or not owns(stake, user_id, wallet):
        raise NotFound(f"stake {stake_id!r} not found")
    if stake.wallet != wallet:
        raise PermissionDenied(f"this stake belongs to wallet {stake.wallet}; sign in with that wallet")
    return stake


def check_actionable(stake: Stake, kind: ActionKind) -> int:
    """The vault's stake id of an open stake (claim/unstake need one)."""
    if stake.status is StakeStatus.CLOSED:
        raise FailedPrecondition("the stake is closed; there is nothing left to claim or unstake")
    if stake.status is StakeStatus.FAILED:
        raise FailedPrecondition(f"the stake failed ({stake.failure_reason}); it never opened on the vault")
    if stake.status is StakeStatus.PENDING or stake.vault_stake_id is None:
        raise FailedPrecondition(f"the stake is not open on the vault yet; {kind.value} it once it is active")
    return stake.vault_stake_id


def check_page(page: int, per_page: int) -> tuple[int, int]:
    """A page of a list: page defaults to 1, per_page to 20 (1..MAX_PER_PAGE)."""
    page = page or 1
    per_page = per_page or 20
    if page < 1:
        raise InvalidArgument("page must be >= 1", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidArgument(f"per_page must be between 1 and {MAX_PER_PAGE}", field="per_page")
    return page, per_page


def check_replay(request: RequestKey, operation: str, fingerprint: str) -> None:
    """A key already used is only a replay of the same request; anything else is a Conflict."""
    if operation != request.operation or fingerprint != request.fingerprint:
        raise Conflict("this Idempotency-Key was already used for a different request")


# -- the vault's events -> the read model ---------------------------------------------


def _int(payload: dict[str, Any], key: str) -> int:
    return int(str(payload[key]))


def event_ref(event_id: str, event_type: str, p: dict[str, Any]) -> ChainEventRef:
    block_time = p.get("block_time")
    return ChainEventRef(event_id=event_id, event_type=event_type, tx_hash=str(p.get("tx_hash") or "").lower(),
                         block_number=int(p.get("block_number") or 0), log_index=int(p.get("log_index") or 0),
                         block_time=datetime.fromisoformat(str(block_time)) if block_time else None)


def opened_of(event_id: str, p: dict[str, Any]) -> VaultOpened:
    return VaultOpened(ref=event_ref(event_id, "chain.stake.opened", p), vault_stake_id=_int(p, "stake_id"),
                       staker=str(p["staker"]).lower(), token_id=_int(p, "token_id"),
                       amount_wei=_int(p, "amount_wei"), apr_bps=_int(p, "apr_bps"), start=_int(p, "start_time"),
                       end=_int(p, "end_time"), reward_wei=_int(p, "reward_wei"),
                       quote_nonce=_int(p, "quote_nonce"), quote_hash=str(p["quote_hash"]).lower())


def claimed_of(event_id: str, p: dict[str, Any]) -> VaultClaimed:
    return VaultClaimed(ref=event_ref(event_id, "chain.stake.claimed", p), vault_stake_id=_int(p, "stake_id"),
                        staker=str(p["staker"]).lower(), amount_wei=_int(p, "amount_wei"))


def closed_of(event_id: str, p: dict[str, Any]) -> VaultClosed:
    return VaultClosed(ref=event_ref(event_id, "chain.stake.closed", p), vault_stake_id=_int(p, "stake_id"),
                       staker=str(p["staker"]).lower(), paid_wei=_int(p, "paid_wei"),
                       rewards_paid_wei=_int(p, "rewards_paid_wei"), penalty_wei=_int(p, "penalty_wei"),
                       early=bool(p["early"]))


def activate(stake: Stake, ev: VaultOpened) -> Stake:
    """A pending stake the vault opened: the vault's figures replace the quote's."""
    return replace(stake, status=StakeStatus.ACTIVE, vault_stake_id=ev.vault_stake_id, wallet=ev.staker,
                   token_id=ev.token_id, amount_wei=ev.amount_wei, apr_bps=ev.apr_bps,
                   start_time=from_unix(ev.start), end_time=from_unix(ev.end),
                   duration_seconds=ev.end - ev.start, reward_wei=ev.reward_wei,
                   tx_hash=ev.ref.tx_hash or stake.tx_hash, failure_reason="", expires_at=None, transaction=None)


def chain_stake(stake_id: str, asset_id: str, ev: VaultOpened, now: datetime) -> Stake:
    """A stake opened on the vault directly (no quote request through the API): origin "chain"."""
    seconds = ev.end - ev.start
    return Stake(id=stake_id, user_id="", asset_id=asset_id, wallet=ev.staker, status=StakeStatus.ACTIVE,
                 amount_wei=ev.amount_wei, apr_bps=ev.apr_bps, duration_days=max(1, min(seconds // DAY_SECONDS, 3650)),
                 duration_seconds=seconds, token_id=ev.token_id, start_time=from_unix(ev.start),
                 end_time=from_unix(ev.end), reward_wei=ev.reward_wei, created_at=now,
                 vault_stake_id=ev.vault_stake_id, tx_hash=ev.ref.tx_hash, quote_hash=ev.quote_hash,
                 origin=ORIGIN_CHAIN)


def stake_payload(stake: Stake, status: StakeStatus | None = None) -> dict[str, Any]:
    """The stake part of every stake.* event (ETH decimals and the vault's wei figures)."""
    return {
        "stake_id": stake.id,
        "user_id": stake.user_id,
        "asset_id": stake.asset_id,
        "amount": money_str(stake.amount),
        "duration_days": stake.duration_days,
        "apr": money_str(stake.apr),
        "start_time": stake.start_time.isoformat(),
        "end_time": stake.end_time.isoformat(),
        "status": (status or stake.status).value,
        "wallet": stake.wallet,
        "vault_stake_id": stake.vault_stake_id or 0,
        "amount_wei": str(stake.amount_wei),
        "reward_wei": str(stake.reward_wei),
        "origin": stake.origin,
    }


def actor_of(stake: Stake) -> str:
    """Who an event is attributed to: the stake's user, else its wallet."""
    return stake.user_id or stake.wallet


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
