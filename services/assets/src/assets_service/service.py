"""The assets use cases (`AssetsService`): each one a method, and the two sagas
(mint, purchase) as tables of steps, driven inline by the request and finished by
the recovery worker after a crash or a transient failure.

Every step first persists the state it is about to leave, so a crash at any point
is resumed from the database: a saga in `buying` re-sends BuyToken with the same
idempotency key (the chain returns the original purchase if it happened), a saga
in `reserved` never reached the chain and is rolled back.

    mint:      assessing ──▶ minting ──▶ minted ──▶ completed
                   └──▶ held (for review)
    purchase:  reserved ──▶ buying ──▶ bought ──▶ recorded ──▶ completed
                   └──────────┴──▶ failed (compensated: reservation released)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from decimal import Decimal

import grpc
from ipheron_libs import wire
from ipheron_libs.db import run_db
from ipheron_libs.errors import Aborted, Conflict, DomainError, InvalidArgument, NotFound, PermissionDenied, Unavailable
from ipheron_libs.wire import Transient, UpstreamFailure

from assets_service import domain
from assets_service.cache import AssetCache
from assets_service.cid import b32_cid_v1_raw
from assets_service.clients import AuthClient, ChainClient, RiskClient, UserInfo
from assets_service.config import Settings
from assets_service.domain import (
    Actor,
    Asset,
    AssetFilter,
    Creator,
    ProvenanceEntry,
    Purchase,
    Saga,
    StoredFile,
)
from assets_service.repository import Repository

log = logging.getLogger("assets.service")
RECOVERY_BATCH = 20
# How many earlier sales the purchase risk check sees.
RISK_HISTORY = 20

# A step runs one state of a saga; it returns the saga in its next state to go on,
# or None when the saga finished, waits (retry scheduled) or was taken elsewhere.
Step = Callable[[Saga], Awaitable[Saga | None]]
Credit = Callable[[], Awaitable[None]]


class AssetsService:
    """Use cases of the assets service; no protobuf here (see servicer.py)."""

    def __init__(self, settings: Settings, repo: Repository, cache: AssetCache, auth: AuthClient,
                 chain: ChainClient, risk: RiskClient) -> None:
        self.settings = settings
        self.repo = repo
        self.cache = cache
        self.auth = auth
        self.chain = chain
        self.risk = risk
        # Sagas this process is driving right now (inline or by the worker), so the worker skips them.
        self._running: set[str] = set()
        # The sagas as tables: (kind, state) -> the step that leaves that state.
        self._steps: dict[tuple[str, str], Step] = {
            (domain.MINT, domain.ASSESSING): self._assess,
            (domain.MINT, domain.MINTING): self._mint,
            (domain.MINT, domain.MINTED): self._count_creations,
            (domain.PURCHASE, domain.RESERVED): self._prepare_buy,
            (domain.PURCHASE, domain.BUYING): self._buy,
            (domain.PURCHASE, domain.BOUGHT): self._record_sale,
            (domain.PURCHASE, domain.RECORDED): self._credit_sales,
        }

    # ------------------------------------------------------------ register

    async def create_asset(self, actor: Actor, new: domain.NewAsset) -> Asset:
        """Validated in four layers (1, the schema, is `new` itself: `domain.validate_new_asset`),
        store the asset with its mint saga, then run the saga."""
        # Layer 3 early: a duplicate is refused before any call to another service.
        existing = await run_db(self.repo.content_owner, new.content_key)
        if existing:
            raise Conflict(f"this content is already registered as asset {existing}", field="ipfs_hash")
        creators, lead = await self._resolve_creators(actor, new)  # layer 2: business rules
        asset, saga = await run_db(self.repo.create_asset, new, creators, Actor(lead.id, lead.wallet))
        await self.drive(saga)  # layer 4 (AI risk) and the mint
        return await self.get_asset(asset.id, fresh=True)

    async def _resolve_creators(self, actor: Actor, new: domain.NewAsset) -> tuple[list[Creator], UserInfo]:
        """Every creator must be a registered user, and the caller must be one of them."""
        try:
            users = await asyncio.gather(*[
                self.auth.get_user(c.user_id) if c.user_id else self.auth.get_user_by_wallet(c.wallet)
                for c in new.creators
            ])
        except Transient as exc:
            raise Unavailable("the user directory is unavailable; nothing was registered, retry") from exc
        except UpstreamFailure:
            raise
        except DomainError as exc:
            raise InvalidArgument(f"creators: {exc.message}", field="creators") from exc
        creators: list[Creator] = []
        lead: UserInfo | None = None
        seen: set[str] = set()
        for given, user in zip(new.creators, users, strict=True):
            if user is None:
                who = given.user_id or given.wallet
                raise InvalidArgument(f"creator {who} is not a registered user", field="creators")
            if given.user_id and given.wallet and given.wallet != user.wallet:
                raise InvalidArgument(f"creator {given.user_id} does not own wallet {given.wallet}", field="creators")
            if user.id in seen:
                raise InvalidArgument("a creator is listed twice", field="creators")
            seen.add(user.id)
            creators.append(Creator(user.id, user.wallet, given.share_percent))
            if user.id == actor.user_id:
                lead = user
        if lead is None:
            raise InvalidArgument("the caller must be one of the creators", field="creators")
        if actor.wallet and actor.wallet.lower() != lead.wallet:
            raise PermissionDenied("the token's wallet does not belong to the calling user")
        return creators, lead

    # ------------------------------------------------------------ browse

    async def get_asset(self, asset_id: str, *, fresh: bool = False) -> Asset:
        """One asset through the two-level cache (or straight from the database when `fresh`)."""
        if fresh:
            asset = await run_db(self.repo.get_asset, asset_id)
        else:
            asset = await self.cache.get(asset_id, lambda: run_db(self.repo.get_asset, asset_id))
        if asset is None:
            raise NotFound(f"asset {asset_id} not found")
        return asset

    async def list_assets(self, f: AssetFilter) -> tuple[list[Asset], int]:
        return await run_db(self.repo.list_assets, f)

    async def provenance(self, asset_id: str) -> list[ProvenanceEntry]:
        return await run_db(self.repo.provenance, asset_id)

    # ------------------------------------------------------------ edit

    async def update_asset(self, actor: Actor, asset_id: str, edit: domain.Edit) -> Asset:
        """Owner-only change of price, listed and metadata (field-mask style)."""
        asset = await run_db(self.repo.update_asset, asset_id, actor,
                             functools.partial(domain.decide_edit, actor=actor, edit=edit))
        await self.cache.invalidate(asset_id)
        return asset

    async def archive_asset(self, actor: Actor, asset_id: str) -> Asset:
        """Owner hides the asset for good; it stays readable with its history."""
        asset = await run_db(self.repo.archive_asset, asset_id, actor,
                             functools.partial(domain.decide_archive, actor=actor))
        await self.cache.invalidate(asset_id)
        return asset

    # ------------------------------------------------------------ purchase

    async def purchase(self, actor: Actor, asset_id: str, key: str, max_price: str = "") -> tuple[Purchase, bool]:
        """Start (or replay) the purchase saga for (buyer, key) and drive it as far as it goes.

        Returns the purchase and whether this call was a replay of an earlier one. A
        failed purchase raises its recorded error (the callee's status when a callee
        refused), and the same key replays the same error.
        """
        key = key.strip()
        if not 1 <= len(key) <= domain.MAX_IDEMPOTENCY_KEY:
            raise InvalidArgument("an idempotency key of 1..200 characters is required", field="idempotency_key")
        if not actor.user_id or not actor.wallet:
            raise InvalidArgument("the buyer's user id and wallet are required", field="actor")
        buyer = Actor(actor.user_id, domain.check_wallet(actor.wallet, "actor.wallet"))
        limit = domain.check_price(max_price, "max_price") if max_price else None
        saga, created = await self.reserve(buyer, asset_id, key, limit)
        if created:
            self._crash_point("purchase.after_reserve")
            await self.cache.invalidate(asset_id)
            await self.drive(saga)
        saga = await self._purchase_saga(saga.id)
        if saga.state == domain.SAGA_FAILED:
            raise _recorded_failure(saga)
        return domain.purchase_of(saga), not created

    async def reserve(self, buyer: Actor, asset_id: str, key: str, max_price: Decimal | None) -> tuple[Saga, bool]:
        """The purchase saga for (buyer, key): the earlier one, or a new reservation (not driven yet)."""
        saga, created = await run_db(self.repo.reserve, asset_id, buyer, key,
                                     functools.partial(domain.decide_reserve, buyer=buyer, max_price=max_price))
        if created:
            return saga, True
        replayed = await run_db(self.repo.get_asset, asset_id) if saga.asset_id == asset_id else None
        return domain.check_replay(saga, asset_id, replayed), False

    async def get_purchase(self, purchase_id: str) -> Purchase:
        return domain.purchase_of(await self._purchase_saga(purchase_id))

    async def _purchase_saga(self, purchase_id: str) -> Saga:
        saga = await run_db(self.repo.get_saga, purchase_id)
        if saga is None or saga.kind != domain.PURCHASE:
            raise NotFound(f"purchase {purchase_id} not found")
        return saga

    # ------------------------------------------------------------ files

    async def upload_file(self, actor: Actor, content: bytes, content_type: str,
                          filename: str) -> tuple[StoredFile, bool]:
        """Store content under its CID v1 (raw, sha2-256); the same bytes are stored once."""
        if not actor.user_id:
            raise InvalidArgument("actor.user_id is required", field="actor")
        mime, name = domain.check_file(content, content_type, filename)
        cid = b32_cid_v1_raw(content)
        return await run_db(self.repo.store_file, cid=cid, content=content, content_type=mime, filename=name,
                            sha256=hashlib.sha256(content).hexdigest(), uploader=actor.user_id)

    async def get_file(self, cid: str, *, with_content: bool) -> tuple[StoredFile, bytes]:
        found = await run_db(self.repo.get_file, cid, with_content=with_content)
        if found is None:
            raise NotFound(f"file {cid} not found")
        return found

    async def attach_file(self, actor: Actor, asset_id: str, cid: str) -> Asset:
        """The owner links a stored file to the asset (idempotent)."""
        asset = await run_db(self.repo.attach_file, asset_id, actor, cid,
                             functools.partial(domain.decide_attach, actor=actor))
        await self.cache.invalidate(asset_id)
        return asset

    # ------------------------------------------------------------ saga engine

    async def drive(self, saga: Saga) -> None:
        """Run a leased saga's steps until it finishes, waits, or is taken by someone else."""
        if saga.id in self._running:
            return
        self._running.add(saga.id)
        current: Saga | None = saga
        try:
            while current is not None and (step := self._steps.get((current.kind, current.state))) is not None:
                saga = current
                current = await step(current)
        except Aborted:
            log.info("saga %s moved on elsewhere; leaving it", saga.id)
        except Exception:
            log.exception("saga %s step failed unexpectedly; will retry", saga.id)
            await run_db(self.repo.retry_later, saga.id, self._backoff(saga), "unexpected error")
        finally:
            self._running.discard(saga.id)

    def _crash_point(self, point: str) -> None:
        """Test hook (ASSETS_CRASH_AT): die here like kill -9, leaving the saga mid-way."""
        if self.settings.crash_at == point:
            log.critical("ASSETS_CRASH_AT=%s: exiting abruptly", point)
            os._exit(137)

    def _backoff(self, saga: Saga) -> float:
        base = min(self.settings.saga_max_backoff, 2.0 ** min(saga.attempts, 10))
        return base * (0.5 + random.random() / 2)

    async def _postpone(self, saga: Saga, what: str, exc: BaseException) -> None:
        """Retry the step later (with back-off). A callee failing with INTERNAL/UNKNOWN
        (`UpstreamFailure`) is a bug there, not a passing condition, so it is logged as an
        error; but every write a saga sends is keyed (idempotent), its outcome is unknown,
        and only re-sending the same key can settle it, so it is retried too."""
        if isinstance(exc, UpstreamFailure):
            log.error("%s of saga %s failed in the callee (outcome unknown); retrying with the same key: %s",
                      what, saga.id, exc)
        else:
            log.warning("%s of saga %s postponed: %s", what, saga.id, exc)
        await run_db(self.repo.retry_later, saga.id, self._backoff(saga), str(exc))

    async def _credit_creators(self, saga: Saga, what: str, credits: Sequence[Credit]) -> None:
        """The last step of both sagas: credit each creator in auth (each call keyed, so a
        retry counts once), then complete. A transient failure retries later; a refusal
        cannot be helped by retrying and the asset itself is fine, so the saga completes
        with the reason kept."""
        try:
            for credit in credits:
                await credit()
        except (Transient, UpstreamFailure) as exc:
            await self._postpone(saga, what, exc)
            return
        except DomainError as exc:
            log.error("auth refused %s of saga %s: %s", what, saga.id, exc.message)
            data = replace(saga.data, auth_error=exc.message)
            await run_db(self.repo.advance, saga.id, saga.state, domain.COMPLETED, data)
            return
        await run_db(self.repo.advance, saga.id, saga.state, domain.COMPLETED)

    # ------------------------------------------------------------ mint steps

    async def _assess(self, saga: Saga) -> Saga | None:
        """AI layer: a high score holds the asset for review; an unreachable agent holds it and retries."""
        asset = await self.get_asset(saga.asset_id, fresh=True)
        reputation, age_days = await self._creator_profile(asset.owner_user_id)
        try:
            risk = await self.risk.assess_asset(asset, reputation=reputation, wallet_age_days=age_days)
        except (Transient, DomainError) as exc:
            log.warning("risk check of %s unavailable: %s", saga.asset_id, exc)
            outcome = domain.assess(None, False, (), self.settings.review_threshold)
        else:
            outcome = domain.assess(risk.score, risk.high, risk.reasons, self.settings.review_threshold)
        saga = await run_db(self.repo.record_assessment, saga, outcome, retry_in=self._backoff(saga))
        await self.cache.invalidate(saga.asset_id)
        return saga if saga.state == domain.MINTING else None

    async def _creator_profile(self, user_id: str) -> tuple[int, int]:
        """(reputation, wallet age in days) of the creator; the defaults when auth cannot say."""
        try:
            user = await self.auth.get_user(user_id)
        except (Transient, DomainError):
            user = None
        if user is None:
            return domain.DEFAULT_REPUTATION, -1
        return user.reputation, domain.wallet_age_days(user.created_at, dt.datetime.now(dt.UTC))

    async def _mint(self, saga: Saga) -> Saga | None:
        asset = await self.get_asset(saga.asset_id, fresh=True)
        try:
            minted = await self.chain.mint(
                asset_id=saga.asset_id, owner=asset.owner_wallet, token_uri=f"ipfs://{asset.ipfs_hash}",
                co_creators=[(c.wallet, int(c.share_percent * 100)) for c in asset.creators],
                royalty_bps=int(asset.royalty_rate * 100))
        except (Transient, UpstreamFailure) as exc:  # MintAsset is idempotent per asset id
            await self._postpone(saga, "mint", exc)
            return None
        except DomainError as exc:
            log.error("chain refused mint of %s: %s", saga.asset_id, exc.message)
            await self._fail_mint(saga, f"mint refused: {exc.message}")
            return None
        if not minted.tx.succeeded:
            await self._fail_mint(saga, f"mint transaction failed: {minted.tx.error}")
            return None
        self._crash_point("mint.after_chain_mint")
        saga = await run_db(self.repo.mark_minted, saga, replace(
            saga.mint, token_id=minted.token_id, contract_address=minted.contract_address, tx_hash=minted.tx.tx_hash,
            block_number=minted.tx.block_number))
        await self.cache.invalidate(saga.asset_id)
        return saga

    async def _fail_mint(self, saga: Saga, reason: str) -> None:
        await run_db(self.repo.fail_mint, saga, reason)
        await self.cache.invalidate(saga.asset_id)

    async def _count_creations(self, saga: Saga) -> None:
        creators = await run_db(self.repo.asset_creators, saga.asset_id)
        # The operation id makes auth count each creator once per asset, however often we retry.
        await self._credit_creators(saga, "creator counters", [
            functools.partial(self.auth.increment_assets_created, c.user_id,
                              f"asset-created:{saga.asset_id}:{c.user_id}")
            for c in creators])

    # ------------------------------------------------------------ purchase steps

    async def _prepare_buy(self, saga: Saga) -> Saga | None:
        """Risk check, then make the on-chain listing match the reserved price; then `buying`."""
        d = saga.purchase
        history = [e for e in await run_db(self.repo.provenance, saga.asset_id) if e.kind == "sale"][-RISK_HISTORY:]
        try:
            risk = await self.risk.assess_purchase(asset_id=saga.asset_id, seller=d.seller_wallet,
                                                   buyer=saga.actor_wallet, price=d.price, history=history)
        except (Transient, DomainError) as exc:
            # Money must not move unchecked: roll back, and let the client retry with the same key.
            await self._compensate(saga, grpc.StatusCode.UNAVAILABLE,
                                   f"the purchase risk check is unavailable ({exc}); retry later", retryable=True)
            return None
        if domain.risk_blocks(risk.score, risk.high, self.settings.purchase_block_threshold):
            await self._compensate(saga, grpc.StatusCode.PERMISSION_DENIED,
                                   "purchase refused by the risk check: " + "; ".join(risk.reasons or ["high risk"]))
            return None
        price_wei = domain.to_wei(d.price)
        try:
            token = await self.chain.token(d.token_id)
            if not token.listed or token.price_wei != price_wei:
                listed = await self.chain.list_token(d.token_id, price_wei)
                if not listed.succeeded:
                    await self._compensate(saga, grpc.StatusCode.FAILED_PRECONDITION,
                                           f"the token could not be listed: {listed.error}")
                    return None
        except Transient as exc:
            await self._compensate(saga, grpc.StatusCode.UNAVAILABLE,
                                   f"the chain is unavailable ({exc}); retry later", retryable=True)
            return None
        except DomainError as exc:
            # Nothing has moved yet; a chain-side bug (INTERNAL) leaves the key free for a retry.
            await self._compensate(saga, exc.code, f"the token could not be listed: {exc.message}",
                                   retryable=isinstance(exc, UpstreamFailure))
            return None
        return await run_db(self.repo.advance, saga.id, domain.RESERVED, domain.BUYING,
                            replace(d, risk_score=risk.score))

    async def _buy(self, saga: Saga) -> Saga | None:
        d = saga.purchase
        self._crash_point("purchase.before_chain_buy")
        try:
            bought = await self.chain.buy(
                token_id=d.token_id, recipient=saga.actor_wallet, price_wei=domain.to_wei(d.price),
                idempotency_key=f"ipheron-purchase:{saga.id}", asset_id=saga.asset_id)
        except (Transient, UpstreamFailure) as exc:
            # Outcome unknown (a timeout, or the chain service failing mid-call): keep the
            # reservation; the retry re-sends the same key, so it cannot buy twice.
            await self._postpone(saga, "chain buy", exc)
            return None
        except DomainError as exc:
            await self._compensate(saga, exc.code, f"the chain refused the purchase: {exc.message}")
            await self._withdraw_listing(d.token_id)
            return None
        if not bought.tx.succeeded:
            await self._compensate(saga, grpc.StatusCode.FAILED_PRECONDITION,
                                   f"the purchase transaction failed: {bought.tx.error or 'reverted'}")
            await self._withdraw_listing(d.token_id)
            return None
        self._crash_point("purchase.after_chain_buy")
        return await run_db(self.repo.advance, saga.id, domain.BUYING, domain.BOUGHT, replace(
            d, tx_hash=bought.tx.tx_hash, block_number=bought.tx.block_number, payouts=bought.payouts))

    async def _record_sale(self, saga: Saga) -> Saga:
        self._crash_point("purchase.after_bought")
        saga = await run_db(self.repo.record_sale, saga)
        await self.cache.invalidate(saga.asset_id)
        return saga

    async def _credit_sales(self, saga: Saga) -> None:
        creators = await run_db(self.repo.asset_creators, saga.asset_id)
        amounts = domain.creator_attribution(saga.purchase.price, [c.share_percent for c in creators])
        await self._credit_creators(saga, "creator sales", [
            functools.partial(self.auth.record_sale, c.user_id, amount, f"sale:{saga.id}:{c.user_id}")
            for c, amount in zip(creators, amounts, strict=True) if amount > 0])

    async def _withdraw_listing(self, token_id: str) -> None:
        """Best effort: a listing we made for a buy that failed must not stay open on chain,
        where anyone could buy it outside the catalog (Marketplace.buy is public)."""
        try:
            await self.chain.unlist_token(token_id)
        except (Transient, DomainError) as exc:
            log.warning("could not withdraw the listing of token %s: %s", token_id, exc)

    async def _compensate(self, saga: Saga, code: grpc.StatusCode, reason: str, *, retryable: bool = False) -> Saga:
        """Roll back a purchase that did not buy, recording the status its client will get."""
        log.info("purchase %s rolled back: %s", saga.id, reason)
        saga = await run_db(self.repo.compensate_purchase, saga, expected=saga.state, code=code.name, reason=reason,
                            retryable=retryable)
        await self.cache.invalidate(saga.asset_id)
        return saga

    # ------------------------------------------------------------ recovery

    async def _resume(self, saga: Saga) -> None:
        """Recovery decision for a saga found unfinished (crash, or a postponed step)."""
        if saga.kind == domain.PURCHASE and saga.state == domain.RESERVED:
            # It never reached the chain (`buying` is written before BuyToken is sent): roll back.
            await self._compensate(saga, grpc.StatusCode.ABORTED,
                                   "the purchase was interrupted before payment; retry", retryable=True)
            return
        await self.drive(saga)

    async def recover_once(self, *, own_leftovers: bool = False) -> int:
        """One pass of the recovery loop; returns how many sagas it resumed."""
        claim = self.repo.claim_own_leftovers if own_leftovers else self.repo.claim_due
        sagas = [s for s in await run_db(claim, RECOVERY_BATCH) if s.id not in self._running]
        for saga in sagas:
            log.info("resuming %s saga %s in state %s", saga.kind, saga.id, saga.state)
            await self._resume(saga)
        return len(sagas)

    async def recover_all(self) -> int:
        """Start-up recovery: our own dead claims first, then everything due, until none is left."""
        total = 0
        while (n := await self.recover_once(own_leftovers=True)) > 0 and total < 10_000:
            total += n
        while (n := await self.recover_once()) > 0 and total < 10_000:
            total += n
        return total


def _recorded_failure(saga: Saga) -> DomainError:
    """The error a failed purchase answers with: the recorded status mapped back by the one table."""
    try:
        code = grpc.StatusCode[saga.error_code or "FAILED_PRECONDITION"]
    except KeyError:
        code = grpc.StatusCode.FAILED_PRECONDITION
    return wire.status_error(code, saga.error or "purchase failed")

