"""AuthService: the auth use cases (sign in with Ethereum, rotate and revoke tokens,
read and edit profiles, apply idempotent totals). Each loads, lets `domain` decide,
and saves through the repository (`run_db`, one transaction per call)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ipheron_libs.db import run_db
from ipheron_libs.errors import Unauthenticated, Unavailable

from auth_service import domain, siwe, tokens
from auth_service.config import Settings
from auth_service.domain import (
    IssuedTokens,
    NonceChallenge,
    Operation,
    OperationKind,
    ProfileEdit,
    SiwePolicy,
    User,
    UserPage,
)
from auth_service.keys import KeyRing
from auth_service.repository import Repository

# (address, message text, signature bytes) -> True when the contract wallet accepts it.
ContractSignatureVerifier = Callable[[str, str, bytes], Awaitable[bool]]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def siwe_policy(settings: Settings) -> SiwePolicy:
    return SiwePolicy(domain=settings.siwe_domain, uri=settings.siwe_uri, chain_id=settings.siwe_chain_id,
                      statement=settings.siwe_statement or None,
                      nonce_ttl=timedelta(seconds=settings.nonce_ttl_seconds),
                      clock_skew=timedelta(seconds=settings.clock_skew_seconds))


class AuthService:
    """Sign-in, token rotation and profile use cases."""

    def __init__(self, settings: Settings, repo: Repository, keyring: KeyRing, *,
                 contract_verifier: ContractSignatureVerifier | None = None, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.policy = siwe_policy(settings)
        self.repo = repo
        self.keyring = keyring
        self.contract_verifier = contract_verifier
        self.clock = clock

    # ------------------------------------------------------------ sign-in

    async def create_nonce(self, address: str) -> NonceChallenge:
        checksummed = domain.normalize_address(address)
        now = self.clock()
        nonce = siwe.new_nonce()
        msg = domain.challenge_message(self.policy, checksummed, nonce, now)
        await run_db(self.repo.create_nonce, nonce, checksummed, now + self.policy.nonce_ttl)
        return NonceChallenge(nonce=nonce, address=checksummed, message=msg, text=msg.to_text())

    async def login(self, message: str, signature: str) -> tuple[IssuedTokens, User, bool]:
        msg = domain.parse_sign_in(message)
        sig = domain.parse_signature(signature)
        now = self.clock()
        domain.verify_siwe_fields(msg, self.policy, now)
        address = siwe.checksum(msg.address)
        await self._verify_signature(address, message, sig)
        result = await run_db(self.repo.login, msg.nonce, address, domain.username_candidates(address))
        if result is None:
            state = await run_db(self.repo.nonce_state, msg.nonce)
            raise Unauthenticated(domain.nonce_failure_reason(state, address, self.clock()))
        user, created = result
        issued = await self._issue(user, family_id=uuid.uuid4())
        return issued, user, created

    async def _verify_signature(self, address: str, message: str, sig: bytes) -> None:
        signer = siwe.recover_signer(message, sig)
        if not domain.needs_contract_check(signer, address):
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
        raise domain.signature_refusal(signer, address)

    # ------------------------------------------------------------ tokens

    async def _issue(self, user: User, family_id: uuid.UUID) -> IssuedTokens:
        now = self.clock()
        access = self._access_token(user, now)
        refresh, refresh_hash = tokens.new_refresh_token()
        refresh_exp = now + timedelta(seconds=self.settings.refresh_token_ttl_seconds)
        await run_db(self.repo.store_refresh_token, user.id, family_id, refresh_hash, refresh_exp)
        return IssuedTokens(access, refresh, self.settings.access_token_ttl_seconds, refresh_exp)

    def _access_token(self, user: User, now: datetime) -> str:
        access, _ = tokens.issue_access_token(
            self.keyring, user_id=user.id, wallet=user.wallet_address, issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience, ttl_seconds=self.settings.access_token_ttl_seconds, now=now)
        return access

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        domain.check_refresh_token_shape(refresh_token, tokens.REFRESH_PREFIX)
        now = self.clock()
        new_token, new_hash = tokens.new_refresh_token()
        new_exp = now + timedelta(seconds=self.settings.refresh_token_ttl_seconds)
        outcome = await run_db(self.repo.rotate_refresh_token, tokens.hash_refresh_token(refresh_token),
                               new_hash, new_exp, domain.refresh_verdict)
        refusal = domain.refresh_refusal(outcome)
        if refusal is not None or outcome.user is None:
            raise refusal or Unauthenticated("unknown refresh token")
        return IssuedTokens(self._access_token(outcome.user, now), new_token,
                            self.settings.access_token_ttl_seconds, new_exp)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the session family; unknown tokens are ignored (logout is idempotent)."""
        if refresh_token:
            await run_db(self.repo.revoke_family_of, tokens.hash_refresh_token(refresh_token))

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys that verify access tokens."""
        return self.keyring.jwks()

    # ------------------------------------------------------------ users

    async def get_user(self, user_id: str) -> User:
        return await run_db(self.repo.get_user, user_id)

    async def get_user_by_wallet(self, address: str) -> User:
        return await run_db(self.repo.get_user_by_wallet, domain.normalize_address(address, "wallet_address"))

    async def list_users(self, skill: str, region: str, page: int, per_page: int) -> UserPage:
        bounds = domain.page_bounds(page, per_page)
        items, total = await run_db(self.repo.list_users, skill.strip() or None, region.strip() or None, bounds)
        return UserPage(tuple(items), total, bounds)

    async def update_profile(self, user_id: str, edit: ProfileEdit) -> User:
        if not user_id:
            raise Unauthenticated("no user")
        return await run_db(self.repo.update_profile, user_id, domain.validate_profile_edit(edit))

    async def record_sale(self, user_id: str, amount: str, operation_id: str) -> tuple[User, bool]:
        op = Operation(domain.check_operation_id(operation_id), OperationKind.SALE, domain.parse_amount(amount))
        return await run_db(self.repo.apply_operation, user_id, op, domain.check_replay)

    async def increment_assets_created(self, user_id: str, operation_id: str) -> tuple[User, bool]:
        op = Operation(domain.check_operation_id(operation_id), OperationKind.ASSET_CREATED)
        return await run_db(self.repo.apply_operation, user_id, op, domain.check_replay)
