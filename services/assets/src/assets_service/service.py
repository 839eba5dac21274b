"""The assets use cases (`AssetsService`): each one a method; the mint saga as a table of
steps; signed listings; buyer-paid purchases whose record is driven by the chain's events.

Nobody's money moves but the buyer's, from the buyer's own wallet: a purchase prepares the
`fulfill(order, signature)` transaction for the buyer to sign and stores it AWAITING_PAYMENT;
the buyer hands in the signed transaction (or the hash of one it broadcast); the chain's
`chain.sale.recorded` event records the sale (owner, provenance, listing, purchase), and the
creators' totals follow. The worker expires unpaid offers and polls submitted transactions
(a revert fails the purchase with its reason).

    mint:      assessing ──▶ minting ──▶ minted ──▶ completed
                   └──▶ held (for review)
    purchase:  awaiting_payment ──▶ submitted ──▶ recorded ──▶ completed (creators credited)
                   └───────────────────┴──▶ failed (expired, reverted, or another buyer won)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import os
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from eth_utils import keccak
from ipheron_libs import events
from ipheron_libs.db import run_db
from ipheron_libs.errors import (
    Aborted,
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
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
    AssetPage,
    Creator,
    InsufficientFunds,
    Listing,
    PreparedTx,
    ProvenanceEntry,
    Purchase,
    Saga,
    StoredFile,
)
from assets_service.repository import BUYER_NEEDED, AppliedSale, Repository

log = logging.getLogger("assets.service")
# eth_utils picks and imports its keccak backend on the first hash: at import, not in the first hand-in.
keccak(b"")
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
        # Creators' credits of recorded sales, run beside the event consumer so it is never held up
        # by auth (each saga is leased to this replica; a crash leaves it to recovery).
        self._background: set[asyncio.Task[None]] = set()
        # The creators of purchases being credited right after their sale was recorded (by saga id).
        self._sale_creators: dict[str, Sequence[Creator]] = {}
        # The sagas as tables: (kind, state) -> the step that leaves that state.
        self._steps: dict[tuple[str, str], Step] = {
            (domain.MINT, domain.ASSESSING): self._assess,
            (domain.MINT, domain.MINTING): self._mint,
            (domain.MINT, domain.MINTED): self._count_creations,
            (domain.PURCHASE, domain.AWAITING_PAYMENT): self._expire_offer,
            (domain.PURCHASE, domain.SUBMITTED): self._poll_payment,
            (domain.PURCHASE, domain.RECORDED): self._credit_sales,
        }
        self._event_handlers: dict[str, Callable[[events.Event], Awaitable[None]]] = {
            "chain.sale.recorded": self._on_sale,
            "chain.transfer": self._on_transfer,
            "chain.order.cancelled": self._on_order_cancelled,
            "chain.order.counter_incremented": self._on_counter,
            "chain.event.reverted": self._on_reverted,
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
        await self.cache.invalidate(asset.id)  # a new asset is on catalog pages: their caches drop them
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

    async def list_assets(self, f: AssetFilter) -> AssetPage:
        """One page of the catalog (see Repository.list_assets)."""
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

    # ------------------------------------------------------------ listings

    async def listing_typed_data(self, actor: Actor, asset_id: str, price: str, duration_seconds: int) -> str:
        """The EIP-712 document the owner signs to list the asset at `price` ETH (owner only)."""
        asset = await self.get_asset(asset_id, fresh=True)
        domain.require_listable(asset, actor)
        price_wei = domain.to_wei(domain.check_price(price))
        duration = domain.check_duration(duration_seconds)
        try:
            return await self.chain.build_order(token_id=asset.token_id, seller=asset.owner_wallet,
                                                price_wei=price_wei, duration_seconds=duration)
        except Transient as exc:
            raise Unavailable("the chain is unavailable; retry") from exc
        except FailedPrecondition as exc:
            raise Aborted(f"the asset cannot be listed now: {exc.message}") from exc

    async def put_listing(self, actor: Actor, asset_id: str, order_json: str,
                          signature: str) -> tuple[Listing, PreparedTx | None]:
        """Store a signed order the chain verified; the asset is then for sale at its price. The
        listing it supersedes is answered with the seller's own cancel transaction for it."""
        asset = await self.get_asset(asset_id, fresh=True)
        domain.require_listable(asset, actor)
        domain.check_order_json(order_json)
        signature = domain.check_signature(signature)
        try:
            verified = await self.chain.verify_order(order_json, signature)
        except Transient as exc:
            raise Unavailable("the chain is unavailable; nothing was listed, retry") from exc
        listing = domain.listing_of(asset, verified, signature, listing_id=str(uuid.uuid4()), now=_now())
        stored, superseded = await run_db(self.repo.put_listing, listing, actor,
                                          functools.partial(domain.require_listable, actor=actor))
        await self.cache.invalidate(asset_id)
        cancel = await self._cancel_tx(superseded) if superseded is not None else None
        return stored, cancel

    async def get_listing(self, asset_id: str) -> Listing:
        """The active listing, or after a sale the listing it filled (state "filled")."""
        listing = await run_db(self.repo.current_listing, asset_id)
        if listing is None:
            raise NotFound(f"asset {asset_id} has no active listing")
        return listing

    async def cancel_listing(self, actor: Actor, asset_id: str) -> tuple[Listing, PreparedTx | None]:
        """Off sale at once; answers the seller's own on-chain cancel (which makes the signed order
        unfillable for good once mined: until then the order itself could still be filled)."""
        asset = await self.get_asset(asset_id, fresh=True)
        domain.require_owner(asset, actor, "cancel the listing of")
        active = await run_db(self.repo.active_listing, asset_id)
        if active is None:
            raise NotFound(f"asset {asset_id} has no active listing")
        cancel = await self._cancel_tx(active)
        listing = await run_db(self.repo.cancel_listing, asset_id, active.id, actor,
                               functools.partial(domain.require_owner, actor=actor, action="cancel the listing of"))
        await self.cache.invalidate(asset_id)
        return listing, cancel

    async def _cancel_tx(self, listing: Listing) -> PreparedTx | None:
        """The seller's cancel(orders) for a listing taken off sale here (best effort: the listing is
        off sale either way, and the seller can also cancel by counter)."""
        try:
            return await self.chain.prepare_cancel([listing.order_json], listing.seller_wallet)
        except (Transient, DomainError) as exc:
            log.warning("could not prepare the on-chain cancel of order %s: %s", listing.order_hash, exc)
            return None

    # ------------------------------------------------------------ purchase

    async def purchase(self, actor: Actor, asset_id: str, key: str,
                       max_price: str = "") -> tuple[Purchase | None, bool, InsufficientFunds | None]:
        """Prepare (or replay) the buyer's purchase of the asset's active listing.

        Returns (purchase, replayed, None), or (None, False, shortfall) when the buyer's wallet
        cannot pay price + gas: then nothing is stored. Several buyers may hold an offer for the
        same order at once; the chain fills it for exactly one (the others end failed, ABORTED).
        """
        key = key.strip()
        if not 1 <= len(key) <= domain.MAX_IDEMPOTENCY_KEY:
            raise InvalidArgument("an idempotency key of 1..200 characters is required", field="idempotency_key")
        if not actor.user_id or not actor.wallet:
            raise InvalidArgument("the buyer's user id and wallet are required", field="actor")
        buyer = Actor(actor.user_id, domain.check_wallet(actor.wallet, "actor.wallet"))
        limit = domain.check_price(max_price, "max_price") if max_price else None
        # The replayed purchase, the asset and its sales history: one read.
        context = await run_db(self.repo.purchase_context, asset_id, buyer.user_id, key, history=RISK_HISTORY)
        existing, asset = context.existing, context.asset
        if existing is not None:
            replayed = asset if existing.asset_id == asset_id else None
            return domain.purchase_of(domain.check_replay(existing, asset_id, replayed)), True, None
        if asset is None:
            raise NotFound(f"asset {asset_id} not found")
        listing = domain.decide_purchase(asset, buyer, limit, _now())
        risk_score = await self._purchase_risk(asset, listing, buyer, context.sales)
        try:
            prepared = await self.chain.prepare_fulfill(listing.order_json, listing.signature, buyer.wallet)
        except Transient as exc:
            raise Unavailable("the chain is unavailable; nothing was prepared, retry") from exc
        except FailedPrecondition as exc:
            raise Aborted(f"asset is not for sale: {exc.message}") from exc
        if not prepared.can_pay:
            return None, False, InsufficientFunds(required_wei=prepared.required_wei,
                                                  available_wei=prepared.balance_wei,
                                                  shortfall_wei=prepared.shortfall_wei, price_wei=listing.price_wei)
        expires = _now() + dt.timedelta(seconds=self.settings.payment_window_s)
        data = domain.purchase_data(asset, listing, prepared.tx, expires_at=expires, risk_score=risk_score)
        saga, created = await run_db(self.repo.start_purchase, asset_id, buyer, key, data)
        return domain.purchase_of(domain.check_replay(saga, asset_id)), not created, None

    async def _purchase_risk(self, asset: Asset, listing: Listing, buyer: Actor,
                             history: Sequence[ProvenanceEntry]) -> int:
        """The AI check before any money is asked for, given the asset's latest sales: refused
        (PERMISSION_DENIED) when risky, UNAVAILABLE (retry) when the agent cannot answer —
        money never moves unchecked."""
        try:
            risk = await self.risk.assess_purchase(asset_id=asset.id, seller=asset.owner_wallet, buyer=buyer.wallet,
                                                   price=listing.price, history=history)
        except (Transient, DomainError) as exc:
            raise Unavailable(f"the purchase risk check is unavailable ({exc}); nothing was prepared, retry") \
                from exc
        if domain.risk_blocks(risk.score, risk.high, self.settings.purchase_block_threshold):
            raise PermissionDenied("purchase refused by the risk check: " + "; ".join(risk.reasons or ["high risk"]))
        return risk.score

    async def submit_transaction(self, actor: Actor, purchase_id: str, *, raw_transaction: str = "",
                                 tx_hash: str = "", asset_id: str = "") -> Purchase:
        """The buyer hands in the signed `fulfill` (the chain checks it is exactly the prepared call
        and broadcasts it) or the hash of one it broadcast itself; the purchase is then SUBMITTED
        and completes when the chain records the sale. The same transaction again answers the
        purchase as it is. Anyone but its buyer or seller, or a purchase of another asset than
        `asset_id` (when given), is NotFound before anything else is looked at."""
        if bool(raw_transaction) == bool(tx_hash):
            raise InvalidArgument("give exactly one of raw_transaction and tx_hash", field="payment")
        saga = await self._purchase_saga(purchase_id)
        if not domain.purchase_visible(saga, actor.user_id, asset_id):
            raise NotFound(f"purchase {purchase_id} not found")
        raw = domain.check_raw_transaction(raw_transaction) if raw_transaction else ""
        given_hash = domain.check_tx_hash(tx_hash) if tx_hash else "0x" + keccak(hexstr=raw).hex().removeprefix("0x")
        if domain.expired(saga, _now()):
            await self._fail(saga, *domain.OFFER_EXPIRED)
            saga = await self._purchase_saga(purchase_id)
        if not domain.decide_submit(saga, actor, given_hash, _now()):
            return domain.purchase_of(saga)
        d = saga.purchase
        assert d.transaction is not None
        try:
            if raw:
                sent = await self.chain.submit_raw(raw, d.transaction, asset_id=saga.asset_id, token_id=d.token_id)
            else:
                sent = await self.chain.track(given_hash, d.transaction, asset_id=saga.asset_id, token_id=d.token_id)
        except Transient as exc:
            raise Unavailable("the chain is unavailable; hand the transaction in again") from exc
        except FailedPrecondition as exc:
            raise Aborted(f"the transaction was not accepted: {exc.message}") from exc
        self._crash_point("purchase.after_broadcast")
        submitted = await run_db(self.repo.mark_submitted, saga.id, sent, self.settings.submitted_poll_s)
        # The row as the update left it; read again only when the purchase had moved on meanwhile.
        return domain.purchase_of(submitted if submitted is not None else await self._purchase_saga(purchase_id))

    async def get_purchase(self, purchase_id: str, user_id: str = "") -> Purchase:
        """A purchase; when `user_id` names who asks, only to its buyer or seller (NotFound to anyone else)."""
        saga = await self._purchase_saga(purchase_id)
        if user_id and not domain.purchase_visible(saga, user_id):
            raise NotFound(f"purchase {purchase_id} not found")
        return domain.purchase_of(saga)

    async def _purchase_saga(self, purchase_id: str) -> Saga:
        saga = await run_db(self.repo.get_saga, purchase_id)
        if saga is None or saga.kind != domain.PURCHASE:
            raise NotFound(f"purchase {purchase_id} not found")
        return saga

    # ------------------------------------------------------------ chain events (the record)

    @property
    def event_types(self) -> frozenset[str]:
        """The event types `on_chain_event` applies (its consumer group reads only these)."""
        return frozenset(self._event_handlers)

    async def on_chain_event(self, event: events.Event) -> None:
        """The consumer of the chain's events (group "assets"): each applied once, in the
        transaction of its effect. Events of tokens this catalog does not hold change nothing."""
        handler = self._event_handlers.get(event.type)
        if handler is not None:
            await handler(event)

    async def _on_sale(self, event: events.Event) -> None:
        sale = domain.sale_of(event.id, event.payload)
        applied = await run_db(self.repo.apply_sale, sale)
        if applied == BUYER_NEEDED:  # a sale straight on the contract: its buyer's user, if any
            applied = await run_db(self.repo.apply_sale, sale, await self._user_of_wallet(sale.buyer))
        if not isinstance(applied, AppliedSale):
            return
        await self.cache.invalidate(applied.asset_id)
        # The creators credited are those read with the sale (an asset's creators never change).
        task = asyncio.get_running_loop().create_task(self._credit_recorded(applied.saga, applied.creators),
                                                      name=f"credit-sale:{applied.saga.id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _credit_recorded(self, saga: Saga, creators: Sequence[Creator]) -> None:
        """Drive a just-recorded purchase, its creators already known (no read again)."""
        self._sale_creators[saga.id] = creators
        try:
            await self.drive(saga)
        finally:
            self._sale_creators.pop(saga.id, None)

    async def idle(self) -> None:
        """Wait for the background work started so far (the creators' credits of recorded sales)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the background work; a saga cut short stays leased and is finished by recovery."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _on_transfer(self, event: events.Event) -> None:
        transfer = domain.transfer_of(event.id, event.payload)
        if transfer.kind != "transfer":
            return  # mints are the mint saga's; burns do not happen on this token
        # A sale's own Transfer (it follows the Sold log) is claimed in one statement: the sale
        # recorded it, so it needs no user lookup and changes nothing more.
        if await run_db(self.repo.record_sold_transfer, transfer.event_id, transfer.tx_hash):
            return
        asset_id = await run_db(self.repo.apply_transfer, transfer, await self._user_of_wallet(transfer.to_wallet))
        if asset_id:
            await self.cache.invalidate(asset_id)

    async def _on_order_cancelled(self, event: events.Event) -> None:
        p = event.payload
        asset_id = await run_db(self.repo.apply_order_cancelled, event.id, str(p["order_hash"]).lower(),
                                str(p["tx_hash"]).lower())
        if asset_id:
            await self.cache.invalidate(asset_id)

    async def _on_counter(self, event: events.Event) -> None:
        p = event.payload
        for asset_id in await run_db(self.repo.apply_counter_incremented, event.id, str(p["seller"]).lower(),
                                     int(p["counter"]), str(p["tx_hash"]).lower()):
            await self.cache.invalidate(asset_id)

    async def _on_reverted(self, event: events.Event) -> None:
        undone = event.payload.get("event_id")
        if not undone:
            return
        for asset_id in await run_db(self.repo.revert_event, event.id, str(undone)):
            await self.cache.invalidate(asset_id)
        if event.payload.get("event_type") == "chain.sale.recorded":
            # Creators' totals in auth have no reversal RPC: they keep the undone sale (logged).
            log.warning("a reorg undid sale event %s; creators' total_sales in auth are not reversed", undone)

    async def _user_of_wallet(self, wallet: str) -> str:
        """The platform user of a wallet, or "" (unknown, or the user directory is unreachable:
        the record must not wait for it)."""
        try:
            user = await self.auth.get_user_by_wallet(wallet)
        except (Transient, DomainError) as exc:
            log.warning("could not look up the user of wallet %s: %s", wallet, exc)
            return ""
        return user.id if user is not None else ""

    async def expire_listings(self) -> None:
        """Active listings past their window are no longer for sale."""
        for asset_id in await run_db(self.repo.expire_listings):
            await self.cache.invalidate(asset_id)

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

    async def _expire_offer(self, saga: Saga) -> None:
        """Due at its deadline: an offer never paid is FAILED ("the offer expired")."""
        if domain.expired(saga, _now()):
            await self._fail(saga, *domain.OFFER_EXPIRED)
            return
        d = saga.purchase
        wait = (d.expires_at - _now()).total_seconds() if d.expires_at else self.settings.payment_window_s
        await run_db(self.repo.retry_later, saga.id, max(wait, 0.1), "awaiting payment")

    async def _poll_payment(self, saga: Saga) -> None:
        """The buyer's transaction is out: a revert fails the purchase with its reason (ABORTED
        when another buyer filled the order first); confirmed, it waits for the chain's sale
        event, which records it."""
        d = saga.purchase
        try:
            tx = await self.chain.transaction(d.tx_hash)
        except (Transient, UpstreamFailure, NotFound) as exc:
            await run_db(self.repo.retry_later, saga.id, self._poll_backoff(saga), str(exc))
            return
        except DomainError as exc:
            await self._fail(saga, exc.code.name, f"the purchase transaction cannot be followed: {exc.message}")
            return
        if tx.status == "FAILED":
            await self._fail(saga, *domain.failure_of(tx.error))
        elif tx.status == "REPLACED":
            await self._fail(saga, "ABORTED", "the purchase transaction was replaced by another one")
        elif tx.status == "CONFIRMED":
            # Mined: its sale event is on its way and records it; the poll stays only as the rare
            # fallback (a reorg that drops or replaces it), at the longest interval.
            await run_db(self.repo.retry_later, saga.id, self.settings.submitted_poll_max_s, "transaction confirmed")
        else:
            await run_db(self.repo.retry_later, saga.id, self._poll_backoff(saga), f"transaction {tx.status.lower()}")

    def _poll_backoff(self, saga: Saga) -> float:
        return min(self.settings.submitted_poll_max_s, self.settings.submitted_poll_s * 1.5 ** min(saga.attempts, 12))

    async def _fail(self, saga: Saga, code: str, reason: str) -> None:
        log.info("purchase %s failed: %s", saga.id, reason)
        await run_db(self.repo.fail_purchase, saga.id, domain.OPEN_PURCHASE_STATES, code, reason)

    async def _credit_sales(self, saga: Saga) -> None:
        """Each creator's share of the sale added to their total in auth, keyed by the sale event."""
        creators = self._sale_creators.get(saga.id)
        if creators is None:  # resumed by recovery or the worker
            creators = await run_db(self.repo.asset_creators, saga.asset_id)
        amounts = domain.creator_attribution(saga.purchase.price, [c.share_percent for c in creators])
        key = saga.purchase.sale_event_id or saga.id
        await self._credit_creators(saga, "creator sales", [
            functools.partial(self.auth.record_sale, c.user_id, amount, f"sale:{key}:{c.user_id}")
            for c, amount in zip(creators, amounts, strict=True) if amount > 0])

    # ------------------------------------------------------------ recovery

    async def _resume(self, saga: Saga) -> None:
        """Recovery of a saga found unfinished (crash, a postponed step, or a due offer)."""
        await self.drive(saga)

    async def recover_once(self, *, own_leftovers: bool = False) -> int:
        """One pass of the recovery loop; returns how many sagas it resumed."""
        claim = self.repo.claim_own_leftovers if own_leftovers else self.repo.claim_due
        sagas = [s for s in await run_db(claim, RECOVERY_BATCH) if s.id not in self._running]
        for saga in sagas:
            log.info("resuming %s saga %s in state %s", saga.kind, saga.id, saga.state)
            await self._resume(saga)
        if not own_leftovers:
            await self.expire_listings()
        return len(sagas)

    async def recover_all(self) -> int:
        """Start-up recovery: our own dead claims first, then everything due, until none is left."""
        total = 0
        while (n := await self.recover_once(own_leftovers=True)) > 0 and total < 10_000:
            total += n
        while (n := await self.recover_once()) > 0 and total < 10_000:
            total += n
        return total


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


