"""The auth rules: SIWE nonces and verification, token issue/rotation, profile edits.

No gRPC and no SQL here: the repository does the storage (called through the libs
thread pool) and a `ContractSignatureVerifier` (the chain service, for EIP-1271
wallets) is injected.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from ipheron_libs.db import run_db
from ipheron_libs.errors import InvalidArgument, Unauthenticated, Unavailable

from auth_service import siwe, tokens
from auth_service.config import Settings
from auth_service.keys import KeyRing
from auth_service.repository import Repository, User

NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_LENGTH = 17  # ~101 bits; the EIP asks for at least 8 alphanumerics
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,80}$")
MAX_SKILLS = 30
MAX_SKILL_CHARS = 50
MAX_BIO_CHARS = 2000
MAX_REGION_CHARS = 100
MAX_PER_PAGE = 100

# (address, message text, signature bytes) -> True when the contract wallet accepts it.
ContractSignatureVerifier = Callable[[str, str, bytes], Awaitable[bool]]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NonceChallenge:
    """What a client needs to sign in: the nonce, the SIWE fields and the text."""

    nonce: str
    address: str
    message: siwe.SiweMessage
    text: str


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_at: datetime


def new_nonce() -> str:
    return "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


def normalize_address(address: str, field: str = "address") -> str:
    """EIP-55 form; mixed-case input must already carry a valid checksum."""
    try:
        checksummed = siwe.checksum((address or "").strip())
    except ValueError:
        raise InvalidArgument("address must be 0x followed by 40 hex digits", field=field) from None
    body = address.strip()[2:]
    if body not in (body.lower(), body.upper()) and checksummed != address.strip():
        raise InvalidArgument("address has an invalid EIP-55 checksum", field=field)
    return checksummed


def verify_siwe_fields(msg: siwe.SiweMessage, settings: Settings, now: datetime) -> None:
    """Check every EIP-4361 field against this server's expectations (not the signature)."""
    skew = timedelta(seconds=settings.clock_skew_seconds)
    if msg.domain != settings.siwe_domain:
        raise Unauthenticated(f"SIWE domain {msg.domain!r} does not match {settings.siwe_domain!r}")
    expected_scheme = settings.siwe_uri.split("://", 1)[0]
    if msg.scheme is not None and msg.scheme != expected_scheme:
        raise Unauthenticated(f"SIWE scheme {msg.scheme!r} does not match {expected_scheme!r}")
    base = settings.siwe_uri.rstrip("/")
    if not (msg.uri == settings.siwe_uri or msg.uri == base or msg.uri.startswith(base + "/")):
        raise Unauthenticated(f"SIWE uri {msg.uri!r} is not under {settings.siwe_uri!r}")
    if msg.version != "1":
        raise Unauthenticated("SIWE version must be 1")
    if msg.chain_id != settings.siwe_chain_id:
        raise Unauthenticated(f"SIWE chain ID {msg.chain_id} does not match {settings.siwe_chain_id}")
    issued_at = msg.issued_at_dt
    if issued_at > now + skew:
        raise Unauthenticated("SIWE message is issued in the future")
    if issued_at < now - timedelta(seconds=settings.nonce_ttl_seconds) - skew:
        raise Unauthenticated("SIWE message is too old (issued-at is past the nonce lifetime)")
    expiration = msg.expiration_time_dt
    if expiration is not None and expiration <= now:
        raise Unauthenticated("SIWE message has expired")
    not_before = msg.not_before_dt
    if not_before is not None and not_before > now + skew:
        raise Unauthenticated("SIWE message is not valid yet (not-before is in the future)")


def recover_signer(text: str, signature: bytes) -> str | None:
    """The EIP-191 personal_sign signer of `text`, or None if the signature is not an EOA one."""
    if len(signature) != 65:
        return None
    try:
        return Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception:  # noqa: BLE001 - any malformed (r, s, v) simply recovers nobody
        return None


def parse_signature(value: str) -> bytes:
    v = (value or "").strip()
    if v.startswith(("0x", "0X")):
        v = v[2:]
    if not v or len(v) % 2 or len(v) > 8192 or not re.fullmatch(r"[0-9a-fA-F]+", v):
        raise InvalidArgument("signature must be 0x-prefixed hex", field="signature")
    return bytes.fromhex(v)


def default_username(address: str) -> str:
    return "user_" + address[2:10].lower()


def validate_profile_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Normalise and check the client-editable fields; anything else is refused."""
    allowed = {"username", "email", "region", "skills", "bio"}
    unknown = set(changes) - allowed
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidArgument(f"field {field!r} cannot be changed by the client", field=field)
    out: dict[str, Any] = {}
    if "username" in changes:
        username = (changes["username"] or "").strip()
        if not USERNAME_RE.match(username):
            raise InvalidArgument("username must be 3-80 letters, digits, '_', '.' or '-'", field="username")
        if re.fullmatch(r"0x[0-9a-fA-F]{40}", username):
            raise InvalidArgument("username must not look like a wallet address", field="username")
        out["username"] = username
    if "email" in changes:
        email = (changes["email"] or "").strip()
        if email == "":
            out["email"] = None
        else:
            if len(email) > 120 or not EMAIL_RE.match(email):
                raise InvalidArgument("email is not a valid address", field="email")
            out["email"] = email.lower()
    if "region" in changes:
        region = (changes["region"] or "").strip()
        if not region or len(region) > MAX_REGION_CHARS:
            raise InvalidArgument(f"region must be 1-{MAX_REGION_CHARS} characters", field="region")
        out["region"] = region
    if "skills" in changes:
        skills: list[str] = []
        seen: set[str] = set()
        for raw in changes["skills"] or []:
            skill = (raw or "").strip()
            if not skill or len(skill) > MAX_SKILL_CHARS:
                raise InvalidArgument(f"each skill must be 1-{MAX_SKILL_CHARS} characters", field="skills")
            if skill.lower() not in seen:
                seen.add(skill.lower())
                skills.append(skill)
        if len(skills) > MAX_SKILLS:
            raise InvalidArgument(f"at most {MAX_SKILLS} skills", field="skills")
        out["skills"] = skills
    if "bio" in changes:
        bio = changes["bio"] or ""
        if len(bio) > MAX_BIO_CHARS:
            raise InvalidArgument(f"bio must be at most {MAX_BIO_CHARS} characters", field="bio")
        out["bio"] = bio
    return out


def parse_amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError):
        raise InvalidArgument("amount must be a decimal string", field="amount") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidArgument("amount must be positive", field="amount")
    if amount.as_tuple().exponent < -6:  # type: ignore[operator]
        raise InvalidArgument("amount has more than 6 decimal places", field="amount")
    if amount >= Decimal(10) ** 18:
        raise InvalidArgument("amount is too large", field="amount")
    return amount


def check_operation_id(operation_id: str) -> str:
    op = (operation_id or "").strip()
    if not op or len(op) > 200:
        raise InvalidArgument("operation_id is required (at most 200 characters)", field="operation_id")
    return op


def page_bounds(page: int, per_page: int) -> tuple[int, int]:
    page = page or 1
    per_page = per_page or 20
    if page < 1:
        raise InvalidArgument("page starts at 1", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidArgument(f"per_page must be 1..{MAX_PER_PAGE}", field="per_page")
    return page, per_page


class Authenticator:
    """Sign-in, token rotation and profile use cases, over the repository."""

    def __init__(self, settings: Settings, repo: Repository, keyring: KeyRing, *,
                 contract_verifier: ContractSignatureVerifier | None = None, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.repo = repo
        self.keyring = keyring
        self.contract_verifier = contract_verifier
        self.clock = clock

    async def create_nonce(self, address: str) -> NonceChallenge:
        checksummed = normalize_address(address)
        now = self.clock()
        nonce = new_nonce()
        expires = now + timedelta(seconds=self.settings.nonce_ttl_seconds)
        msg = siwe.SiweMessage(
            domain=self.settings.siwe_domain, address=checksummed, uri=self.settings.siwe_uri, version="1",
            chain_id=self.settings.siwe_chain_id, nonce=nonce, issued_at=siwe.format_datetime(now),
            scheme=None, statement=self.settings.siwe_statement or None,
            expiration_time=siwe.format_datetime(expires),
        )
        await run_db(self.repo.create_nonce, nonce, checksummed, expires)
        return NonceChallenge(nonce=nonce, address=checksummed, message=msg, text=msg.to_text())

    async def login(self, message: str, signature: str) -> tuple[IssuedTokens, User, bool]:
        try:
            msg = siwe.parse_message(message)
        except siwe.SiweParseError as exc:
            raise InvalidArgument(f"not a valid EIP-4361 message: {exc}", field="message") from None
        sig = parse_signature(signature)
        now = self.clock()
        verify_siwe_fields(msg, self.settings, now)
        address = siwe.checksum(msg.address)
        await self._verify_signature(address, message, sig)
        result = await run_db(self.repo.login, msg.nonce, address, default_username(address))
        if result is None:
            raise Unauthenticated(await self._nonce_failure_reason(msg.nonce, address))
        user, created = result
        issued = await self._issue(user, family_id=uuid.uuid4())
        return issued, user, created

    async def _verify_signature(self, address: str, message: str, sig: bytes) -> None:
        signer = recover_signer(message, sig)
        if signer == address:
            return
        # Not this EOA's signature: the address may be a contract wallet (EIP-1271),
        # which only the chain can judge. An EOA never passes that check.
        if self.contract_verifier is not None:
            try:
                if await self.contract_verifier(address, message, sig):
                    return
            except Unavailable:
                if signer is None:  # only the chain could have accepted this signature
                    raise
        if signer is None:
            raise Unauthenticated("signature is not a valid EIP-191 signature for this address")
        raise Unauthenticated(f"signature was made by {signer}, not by {address}")

    async def _nonce_failure_reason(self, nonce: str, address: str) -> str:
        state = await run_db(self.repo.nonce_state, nonce)
        if state is None:
            return "unknown nonce (request one from /auth/nonce)"
        owner, expires_at, used_at = state
        if used_at is not None:
            return "nonce already used (replayed sign-in message)"
        if owner != address:
            return "nonce was issued for another address"
        if expires_at <= self.clock():
            return "nonce has expired"
        return "nonce is not valid"

    async def _issue(self, user: User, family_id: uuid.UUID) -> IssuedTokens:
        access, refresh, refresh_exp = self._mint(user)
        await run_db(self.repo.store_refresh_token, user.id, family_id, tokens.hash_refresh_token(refresh), refresh_exp)
        return IssuedTokens(access, refresh, self.settings.access_token_ttl_seconds, refresh_exp)

    def _mint(self, user: User) -> tuple[str, str, datetime]:
        now = self.clock()
        access, _ = tokens.issue_access_token(
            self.keyring, user_id=user.id, wallet=user.wallet_address, issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience, ttl_seconds=self.settings.access_token_ttl_seconds, now=now)
        refresh, _ = tokens.new_refresh_token()
        return access, refresh, now + timedelta(seconds=self.settings.refresh_token_ttl_seconds)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        if not refresh_token or not refresh_token.startswith(tokens.REFRESH_PREFIX) or len(refresh_token) > 200:
            raise Unauthenticated("malformed refresh token")
        now = self.clock()
        new_token, new_hash = tokens.new_refresh_token()
        new_exp = now + timedelta(seconds=self.settings.refresh_token_ttl_seconds)
        outcome = await run_db(self.repo.rotate_refresh_token, tokens.hash_refresh_token(refresh_token),
                               new_hash, new_exp)
        if outcome.failure == "reused":
            raise Unauthenticated("refresh token was already used; all sessions of this sign-in are revoked")
        if outcome.failure == "revoked":
            raise Unauthenticated("refresh token has been revoked")
        if outcome.failure == "expired":
            raise Unauthenticated("refresh token has expired")
        if outcome.user is None:
            raise Unauthenticated("unknown refresh token")
        access, _ = tokens.issue_access_token(
            self.keyring, user_id=outcome.user.id, wallet=outcome.user.wallet_address,
            issuer=self.settings.jwt_issuer, audience=self.settings.jwt_audience,
            ttl_seconds=self.settings.access_token_ttl_seconds, now=now)
        return IssuedTokens(access, new_token, self.settings.access_token_ttl_seconds, new_exp)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the session family; unknown tokens are ignored (logout is idempotent)."""
        if refresh_token:
            await run_db(self.repo.revoke_family_of, tokens.hash_refresh_token(refresh_token))

    async def get_user(self, user_id: str) -> User:
        return await run_db(self.repo.get_user, user_id)

    async def get_user_by_wallet(self, address: str) -> User:
        return await run_db(self.repo.get_user_by_wallet, normalize_address(address, "wallet_address"))

    async def list_users(self, skill: str, region: str, page: int, per_page: int) -> tuple[list[User], int, int, int]:
        page, per_page = page_bounds(page, per_page)
        items, total = await run_db(self.repo.list_users, skill.strip() or None, region.strip() or None, page, per_page)
        return items, total, page, per_page

    async def update_profile(self, user_id: str, changes: dict[str, Any]) -> User:
        if not user_id:
            raise Unauthenticated("no user")
        return await run_db(self.repo.update_profile, user_id, validate_profile_changes(changes))

    async def record_sale(self, user_id: str, amount: str, operation_id: str) -> tuple[User, bool]:
        return await run_db(self.repo.apply_operation, user_id, check_operation_id(operation_id), "sale",
                            parse_amount(amount))

    async def increment_assets_created(self, user_id: str, operation_id: str) -> tuple[User, bool]:
        return await run_db(self.repo.apply_operation, user_id, check_operation_id(operation_id), "asset_created", None)

