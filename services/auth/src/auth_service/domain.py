"""The auth rules over frozen records: SIWE field checks, why a nonce or refresh token
fails, profile edits, idempotent totals, paging. No I/O: no SQL, no gRPC, no clock
(the service passes `now`), no randomness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from ipheron_libs.errors import Conflict, InvalidArgument, Unauthenticated
from ipheron_libs.vocab import DEFAULT_REPUTATION

from auth_service import siwe

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,80}$")
ADDRESS_LIKE_RE = re.compile(r"0x[0-9a-fA-F]{40}")
HEX_RE = re.compile(r"[0-9a-fA-F]+")
MAX_SKILLS = 30
MAX_SKILL_CHARS = 50
MAX_BIO_CHARS = 2000
MAX_REGION_CHARS = 100
MAX_EMAIL_CHARS = 120
MAX_PER_PAGE = 100
MAX_OPERATION_ID_CHARS = 200
MAX_SIGNATURE_HEX_CHARS = 8192
AMOUNT_PLACES = 6  # NUMERIC(24, 6) totals
MAX_AMOUNT = Decimal(10) ** 18
DEFAULT_REGION = "Global"
# A new user's reputation (the column default mirrors it).
NEW_USER_REPUTATION = DEFAULT_REPUTATION


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class User:
    """A user profile."""

    id: str
    wallet_address: str
    username: str
    email: str | None
    reputation_score: int
    region: str
    skills: tuple[str, ...]
    bio: str
    verified: bool
    total_sales: Decimal
    total_assets_created: int
    created_at: datetime
    updated_at: datetime

    def created_event(self) -> dict[str, Any]:
        """The payload of the `user.created` domain event."""
        return {"user_id": self.id, "wallet_address": self.wallet_address, "username": self.username,
                "region": self.region, "skills": list(self.skills), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class SiwePolicy:
    """What this server expects of a sign-in message (from the settings)."""

    domain: str
    uri: str
    chain_id: int
    statement: str | None
    nonce_ttl: timedelta
    clock_skew: timedelta


@dataclass(frozen=True)
class NonceChallenge:
    """What a client needs to sign in: the nonce, the SIWE fields and the text."""

    nonce: str
    address: str
    message: siwe.SiweMessage
    text: str


@dataclass(frozen=True)
class NonceState:
    """A stored nonce, read back to explain why consuming it failed."""

    address: str
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_at: datetime


@dataclass(frozen=True)
class StoredRefreshToken:
    """A refresh token row as the rotation rule sees it (`expired` by the database clock)."""

    family_id: str
    revoked: bool
    used: bool
    expired: bool


class RefreshVerdict(Enum):
    """What presenting a refresh token leads to."""

    ROTATE = "rotate"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    # Already used: it leaked (or a client retried after a lost response), so the whole
    # family is revoked and both holders sign in again (OAuth 2.0 Security BCP, 4.14).
    REUSED = "reused"


@dataclass(frozen=True)
class RefreshOutcome:
    """What presenting a refresh token did: rotated (user set), or the verdict against it."""

    verdict: RefreshVerdict
    user: User | None = None


@dataclass(frozen=True)
class ProfileEdit:
    """The client-editable fields a request names; None leaves a field unchanged."""

    username: str | None = None
    email: str | None = None  # "" clears it
    region: str | None = None
    skills: tuple[str, ...] | None = None
    bio: str | None = None


@dataclass(frozen=True)
class ProfileChanges:
    """A validated, normalised edit: the column values to write."""

    values: tuple[tuple[str, object], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return dict(self.values)


class OperationKind(Enum):
    SALE = "sale"
    ASSET_CREATED = "asset_created"


@dataclass(frozen=True)
class Operation:
    """A totals change applied once per operation id."""

    operation_id: str
    kind: OperationKind
    amount: Decimal | None = None


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class UserPage:
    users: tuple[User, ...]
    total: int
    page: Page


# ---------------------------------------------------------------- sign-in


def normalize_address(address: str, field: str = "address") -> str:
    """EIP-55 form; mixed-case input must already carry a valid checksum."""
    raw = (address or "").strip()
    try:
        checksummed = siwe.checksum(raw)
    except ValueError:
        raise InvalidArgument("address must be 0x followed by 40 hex digits", field=field) from None
    body = raw[2:]
    if body not in (body.lower(), body.upper()) and checksummed != raw:
        raise InvalidArgument("address has an invalid EIP-55 checksum", field=field)
    return checksummed


def challenge_message(policy: SiwePolicy, address: str, nonce: str, now: datetime) -> siwe.SiweMessage:
    """The EIP-4361 message this server asks `address` to sign."""
    return siwe.SiweMessage(
        domain=policy.domain, address=address, uri=policy.uri, version="1", chain_id=policy.chain_id, nonce=nonce,
        issued_at=siwe.format_datetime(now), scheme=None, statement=policy.statement or None,
        expiration_time=siwe.format_datetime(now + policy.nonce_ttl),
    )


def parse_sign_in(message: str) -> siwe.SiweMessage:
    """The sign-in text as an EIP-4361 message, or InvalidArgument saying what is wrong."""
    try:
        return siwe.parse_message(message)
    except siwe.SiweParseError as exc:
        raise InvalidArgument(f"not a valid EIP-4361 message: {exc}", field="message") from None


def verify_siwe_fields(msg: siwe.SiweMessage, policy: SiwePolicy, now: datetime) -> None:
    """Check every EIP-4361 field against this server's expectations (not the signature)."""
    skew = policy.clock_skew
    if msg.domain != policy.domain:
        raise Unauthenticated(f"SIWE domain {msg.domain!r} does not match {policy.domain!r}")
    expected_scheme = policy.uri.split("://", 1)[0]
    if msg.scheme is not None and msg.scheme != expected_scheme:
        raise Unauthenticated(f"SIWE scheme {msg.scheme!r} does not match {expected_scheme!r}")
    base = policy.uri.rstrip("/")
    if not (msg.uri == policy.uri or msg.uri == base or msg.uri.startswith(base + "/")):
        raise Unauthenticated(f"SIWE uri {msg.uri!r} is not under {policy.uri!r}")
    if msg.version != "1":
        raise Unauthenticated("SIWE version must be 1")
    if msg.chain_id != policy.chain_id:
        raise Unauthenticated(f"SIWE chain ID {msg.chain_id} does not match {policy.chain_id}")
    if msg.issued_at_dt > now + skew:
        raise Unauthenticated("SIWE message is issued in the future")
    if msg.issued_at_dt < now - policy.nonce_ttl - skew:
        raise Unauthenticated("SIWE message is too old (issued-at is past the nonce lifetime)")
    expiration = msg.expiration_time_dt
    if expiration is not None and expiration <= now:
        raise Unauthenticated("SIWE message has expired")
    not_before = msg.not_before_dt
    if not_before is not None and not_before > now + skew:
        raise Unauthenticated("SIWE message is not valid yet (not-before is in the future)")


def parse_signature(value: str) -> bytes:
    """A 0x-prefixed hex signature → bytes (bounded), or InvalidArgument."""
    v = (value or "").strip()
    if v.startswith(("0x", "0X")):
        v = v[2:]
    if not v or len(v) % 2 or len(v) > MAX_SIGNATURE_HEX_CHARS or not HEX_RE.fullmatch(v):
        raise InvalidArgument("signature must be 0x-prefixed hex", field="signature")
    return bytes.fromhex(v)


def needs_contract_check(signer: str | None, address: str) -> bool:
    """Whether only the chain (EIP-1271) can still accept the signature: its EOA signer is not `address`."""
    return signer != address


def signature_refusal(signer: str | None, address: str) -> Unauthenticated:
    """Why a signature that neither recovers to `address` nor passes EIP-1271 is refused."""
    if signer is None:
        return Unauthenticated("signature is not a valid EIP-191 signature for this address")
    return Unauthenticated(f"signature was made by {signer}, not by {address}")


def default_username(address: str) -> str:
    return "user_" + address[2:10].lower()


def username_candidates(address: str) -> tuple[str, ...]:
    """A new user's usernames in order of preference (the short one may be taken)."""
    return default_username(address), address.lower()


def nonce_failure_reason(state: NonceState | None, address: str, now: datetime) -> str:
    """Why a nonce could not be consumed for `address` at `now`."""
    if state is None:
        return "unknown nonce (request one from /auth/nonce)"
    if state.used_at is not None:
        return "nonce already used (replayed sign-in message)"
    if state.address != address:
        return "nonce was issued for another address"
    if state.expires_at <= now:
        return "nonce has expired"
    return "nonce is not valid"


# ---------------------------------------------------------------- refresh tokens


def refresh_verdict(token: StoredRefreshToken | None) -> RefreshVerdict:
    """The rotation rule: only an unused, unrevoked, unexpired token rotates."""
    if token is None:
        return RefreshVerdict.UNKNOWN
    if token.revoked:
        return RefreshVerdict.REVOKED
    if token.used:
        return RefreshVerdict.REUSED
    if token.expired:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.ROTATE


def check_refresh_token_shape(token: str, prefix: str) -> None:
    if not token or not token.startswith(prefix) or len(token) > 200:
        raise Unauthenticated("malformed refresh token")


def refresh_refusal(outcome: RefreshOutcome) -> Unauthenticated | None:
    """The error for a refresh that did not rotate; None when it did."""
    messages = {
        RefreshVerdict.REUSED: "refresh token was already used; all sessions of this sign-in are revoked",
        RefreshVerdict.REVOKED: "refresh token has been revoked",
        RefreshVerdict.EXPIRED: "refresh token has expired",
        RefreshVerdict.UNKNOWN: "unknown refresh token",
    }
    if outcome.verdict is RefreshVerdict.ROTATE and outcome.user is not None:
        return None
    return Unauthenticated(messages.get(outcome.verdict, "unknown refresh token"))


# ---------------------------------------------------------------- profiles


def validate_profile_edit(edit: ProfileEdit) -> ProfileChanges:
    """Normalise and check the client-editable fields."""
    out: list[tuple[str, object]] = []
    if edit.username is not None:
        username = edit.username.strip()
        if not USERNAME_RE.match(username):
            raise InvalidArgument("username must be 3-80 letters, digits, '_', '.' or '-'", field="username")
        if ADDRESS_LIKE_RE.fullmatch(username):
            raise InvalidArgument("username must not look like a wallet address", field="username")
        out.append(("username", username))
    if edit.email is not None:
        email = edit.email.strip()
        if email == "":
            out.append(("email", None))
        else:
            if len(email) > MAX_EMAIL_CHARS or not EMAIL_RE.match(email):
                raise InvalidArgument("email is not a valid address", field="email")
            out.append(("email", email.lower()))
    if edit.region is not None:
        region = edit.region.strip()
        if not region or len(region) > MAX_REGION_CHARS:
            raise InvalidArgument(f"region must be 1-{MAX_REGION_CHARS} characters", field="region")
        out.append(("region", region))
    if edit.skills is not None:
        out.append(("skills", _skills(edit.skills)))
    if edit.bio is not None:
        if len(edit.bio) > MAX_BIO_CHARS:
            raise InvalidArgument(f"bio must be at most {MAX_BIO_CHARS} characters", field="bio")
        out.append(("bio", edit.bio))
    return ProfileChanges(tuple(out))


def _skills(raw_skills: tuple[str, ...]) -> list[str]:
    """Trimmed skills, case-insensitively de-duplicated in their first spelling."""
    if len(raw_skills) > MAX_SKILLS * 4:  # bound the work before de-duplicating
        raise InvalidArgument(f"at most {MAX_SKILLS} skills", field="skills")
    skills: list[str] = []
    seen: set[str] = set()
    for raw in raw_skills:
        skill = (raw or "").strip()
        if not skill or len(skill) > MAX_SKILL_CHARS:
            raise InvalidArgument(f"each skill must be 1-{MAX_SKILL_CHARS} characters", field="skills")
        if skill.lower() not in seen:
            seen.add(skill.lower())
            skills.append(skill)
    if len(skills) > MAX_SKILLS:
        raise InvalidArgument(f"at most {MAX_SKILLS} skills", field="skills")
    return skills


# ---------------------------------------------------------------- totals


def parse_amount(value: str) -> Decimal:
    """A sale amount: positive, at most 6 decimals, below 10^18."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError):
        raise InvalidArgument("amount must be a decimal string", field="amount") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidArgument("amount must be positive", field="amount")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -AMOUNT_PLACES:
        raise InvalidArgument(f"amount has more than {AMOUNT_PLACES} decimal places", field="amount")
    if amount >= MAX_AMOUNT:
        raise InvalidArgument("amount is too large", field="amount")
    return amount


def check_operation_id(operation_id: str) -> str:
    op = (operation_id or "").strip()
    if not op or len(op) > MAX_OPERATION_ID_CHARS:
        raise InvalidArgument(f"operation_id is required (at most {MAX_OPERATION_ID_CHARS} characters)",
                              field="operation_id")
    return op


def check_replay(previous: Operation, user_id: str, previous_user_id: str, op: Operation) -> None:
    """A replayed operation id must repeat the same change for the same user."""
    if previous_user_id != user_id or previous.kind is not op.kind \
            or (op.amount is not None and previous.amount != op.amount):
        raise Conflict("operation_id was already used with different arguments", field="operation_id")


# ---------------------------------------------------------------- paging


def page_bounds(page: int, per_page: int) -> Page:
    page = page or 1
    per_page = per_page or 20
    if page < 1:
        raise InvalidArgument("page starts at 1", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidArgument(f"per_page must be 1..{MAX_PER_PAGE}", field="per_page")
    return Page(page, per_page)
