"""The assets application: each use case as one method, and the two sagas
(mint, purchase) as resumable step machines driven inline by the request and
finished by the recovery worker after a crash or a transient failure.

Every step first persists the state it is about to leave, so a crash at any point
is resumed from the database: a saga in `buying` re-sends BuyToken with the same
idempotency key (the chain returns the original purchase if it happened), a saga
in `reserved` never reached the chain and is rolled back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import random
from decimal import Decimal
from typing import Any

from ipheron.ai_agents.v1 import ai_agents_service_pb2 as ai_pb
from ipheron_libs.db import run_db
from ipheron_libs.errors import (
    Aborted,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)

from assets_service import domain
from assets_service.cache import AssetCache
from assets_service.cid import b32_cid_v1_raw
from assets_service.clients import (
    AuthClient,
    ChainClient,
    Refused,
    RiskClient,
    Transient,
    UserInfo,
)
from assets_service.config import Settings
from assets_service.repository import Actor, AssetFilter, Creator, Repository, Saga

log = logging.getLogger("assets.service")
RECOVERY_BATCH = 20


class AssetsApp:
    """Use cases of the assets service; no protobuf here (see servicer.py)."""

    def __init__(self, settings: Settings, repo: Repository, cache: AssetCache, auth: AuthClient,
                 chain: ChainClient, risk: RiskClient) -> None:
        self.settings = settings
        self.repo = repo
        self.cache = cache
        self.auth = auth
        self.chain = chain
        self.risk = risk
        self._worker: asyncio.Task[None] | None = None
        # Sagas this process is driving right now (inline or by the worker), so the worker skips them.
        self._running: set[str] = set()

    # ------------------------------------------------------------ register

    async def create_asset(self, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        """Validate in four layers, store the asset with its mint saga, then run the saga."""
        new = domain.validate_new_asset(data)  # layer 1: schema (again, after the gateway)
        # Layer 3 early: a duplicate is refused before any call to another service.
        existing = await run_db(self.repo.content_owner, new.content_key)
        if existing:
            from ipheron_libs.errors import Conflict

            raise Conflict(f"this content is already registered as asset {existing}", field="ipfs_hash")
        creators, lead = await self._resolve_creators(actor, new)  # layer 2: business rules
        asset, saga = await run_db(self.repo.create_asset, new, creators, Actor(lead.id, lead.wallet))
        await self._drive(saga)  # layer 4 (AI risk) and the mint
        return await self.get_asset(asset["id"], fresh=True)

    async def _resolve_creators(self, actor: Actor, new: domain.NewAsset) -> tuple[list[Creator], UserInfo]:
        """Every creator must be a registered user, and the caller must be one of them."""
        try:
            users = await asyncio.gather(*[
                self.auth.get_user(c.user_id) if c.user_id else self.auth.get_user_by_wallet(c.wallet)
                for c in new.creators
            ])
        except Transient as exc:
            raise Unavailable("the user directory is unavailable; nothing was registered, retry") from exc
        except Refused as exc:
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

    async def get_asset(self, asset_id: str, *, fresh: bool = False) -> dict[str, Any]:
        """One asset through the two-level cache (or straight from the database when `fresh`)."""
        if fresh:
            asset = await run_db(self.repo.get_asset, asset_id)
        else:
            asset = await self.cache.get(asset_id, lambda: run_db(self.repo.get_asset, asset_id))
        if asset is None:
            raise NotFound(f"asset {asset_id} not found")
        return asset

    async def list_assets(self, f: AssetFilter) -> tuple[list[dict[str, Any]], int]:
        return await run_db(self.repo.list_assets, f)

    async def provenance(self, asset_id: str) -> list[dict[str, Any]]:
        return await run_db(self.repo.provenance, asset_id)

    # ------------------------------------------------------------ edit

    async def update_asset(self, actor: Actor, asset_id: str, paths: list[str], values: dict[str, Any]) -> dict[str, Any]:
        """Owner-only change of price, listed and metadata (field-mask style)."""
        fields = domain.check_update_mask(paths)
        changes: dict[str, Any] = {}
        if "price" in fields:
            changes["price"] = domain.check_price(values.get("price", ""))
        if "listed" in fields:
            changes["listed"] = bool(values.get("listed"))
        if "metadata_json" in fields:
            changes["metadata"] = domain.parse_metadata_json(values.get("metadata_json", "") or "{}")
        asset = await run_db(self.repo.update_asset, asset_id, actor, changes)
        await self.cache.invalidate(asset_id)
        return asset

    async def archive_asset(self, actor: Actor, asset_id: str) -> dict[str, Any]:
        asset = await run_db(self.repo.archive_asset, asset_id, actor)
        await self.cache.invalidate(asset_id)
        return asset

    # ------------------------------------------------------------ purchase

    async def purchase(self, actor: Actor, asset_id: str, key: str, max_price: str = "") -> tuple[Saga, bool]:
        """Start (or replay) the purchase saga for (buyer, key) and drive it as far as it goes.

        Returns the saga and whether this call was a replay of an earlier one.
        """
        key = key.strip()
        if not 1 <= len(key) <= domain.MAX_IDEMPOTENCY_KEY:
            raise InvalidArgument("an idempotency key of 1..200 characters is required", field="idempotency_key")
        if not actor.user_id or not actor.wallet:
            raise InvalidArgument("the buyer's user id and wallet are required", field="actor")
        buyer = Actor(actor.user_id, domain.check_wallet(actor.wallet, "actor.wallet"))
        limit = domain.check_price(max_price, "max_price") if max_price else None
        saga, created = await run_db(self.repo.reserve, asset_id, buyer, key, limit)
        if created:
            self._crash_point("purchase.after_reserve")
            await self.cache.invalidate(asset_id)
            await self._drive(saga)
        return await self.get_purchase(saga.id), not created

    async def get_purchase(self, purchase_id: str) -> Saga:
        saga = await run_db(self.repo.get_saga, purchase_id)
        if saga is None or saga.kind != domain.PURCHASE:
            raise NotFound(f"purchase {purchase_id} not found")
        return saga

    # ------------------------------------------------------------ files

    async def upload_file(self, actor: Actor, content: bytes, content_type: str, filename: str) -> tuple[dict[str, Any], bool]:
        """Store content under its CID v1 (raw, sha2-256); the same bytes are stored once."""
        if not actor.user_id:
            raise InvalidArgument("actor.user_id is required", field="actor")
        mime, name = domain.check_file(content, content_type, filename)
        cid = b32_cid_v1_raw(content)
        return await run_db(self.repo.store_file, cid=cid, content=content, content_type=mime, filename=name,
                            sha256=hashlib.sha256(content).hexdigest(), uploader=actor.user_id)

    async def get_file(self, cid: str, *, with_content: bool) -> tuple[dict[str, Any], bytes]:
        found = await run_db(self.repo.get_file, cid, with_content=with_content)
        if found is None:
            raise NotFound(f"file {cid} not found")
        return found

    async def attach_file(self, actor: Actor, asset_id: str, cid: str) -> dict[str, Any]:
        asset = await run_db(self.repo.attach_file, asset_id, actor, cid)
        await self.cache.invalidate(asset_id)
        return asset

    # ------------------------------------------------------------ saga engine

    async def _drive(self, saga: Saga) -> None:
        """Run a leased saga's steps until it finishes, waits, or is taken by someone else."""
        if saga.id in self._running:
            return
        self._running.add(saga.id)
        try:
            if saga.kind == domain.MINT:
                await self._run_mint(saga)
            else:
                await self._run_purchase(saga)
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

    async def _run_mint(self, saga: Saga) -> None:
        while True:
            if saga.state == domain.ASSESSING:
                saga = await self._assess(saga)
                if saga.state == domain.ASSESSING or saga.state == domain.HELD:
                    return
            elif saga.state == domain.MINTING:
                creators = await run_db(self.repo.asset_creators, saga.asset_id)
                asset = await run_db(self.repo.get_asset, saga.asset_id)
                assert asset is not None
                try:
                    minted = await self.chain.mint(
                        asset_id=saga.asset_id, owner=asset["owner_wallet"], token_uri=f"ipfs://{asset['ipfs_hash']}",
                        co_creators=[(c.wallet, int(c.share_percent * 100)) for c in creators],
                        royalty_bps=int(Decimal(asset["royalty_rate"]) * 100))
                except Transient as exc:
                    log.warning("mint of %s postponed: %s", saga.asset_id, exc)
                    await run_db(self.repo.retry_later, saga.id, self._backoff(saga), str(exc))
                    return
                except Refused as exc:
                    log.error("chain refused mint of %s: %s", saga.asset_id, exc.message)
                    await run_db(self.repo.fail_mint, saga, f"mint refused: {exc.message}")
                    await self.cache.invalidate(saga.asset_id)
                    return
                if not minted.tx.succeeded:
                    await run_db(self.repo.fail_mint, saga, f"mint transaction failed: {minted.tx.error}")
                    await self.cache.invalidate(saga.asset_id)
                    return
                self._crash_point("mint.after_chain_mint")
                _, saga = await run_db(self.repo.mark_minted, saga, token_id=minted.token_id,
                                       contract_address=minted.contract_address, tx_hash=minted.tx.tx_hash,
                                       block_number=minted.tx.block_number)
                await self.cache.invalidate(saga.asset_id)
            elif saga.state == domain.MINTED:
                creators = await run_db(self.repo.asset_creators, saga.asset_id)
                try:
                    for c in creators:
                        # The operation id makes auth count each creator once per asset, however often we retry.
                        await self.auth.increment_assets_created(c.user_id, f"asset-created:{saga.asset_id}:{c.user_id}")
                except Transient as exc:
                    log.warning("creator counters of %s postponed: %s", saga.asset_id, exc)
                    await run_db(self.repo.retry_later, saga.id, self._backoff(saga), str(exc))
                    return
                except Refused as exc:
                    # Retrying a refusal cannot help; the asset itself is fine. Keep the reason.
                    log.error("auth refused creator counters of %s: %s", saga.asset_id, exc.message)
                    await run_db(self.repo.advance, saga.id, domain.MINTED, domain.COMPLETED, {"auth_error": exc.message})
                    return
                await run_db(self.repo.advance, saga.id, domain.MINTED, domain.COMPLETED)
                return
            else:
                return

    async def _assess(self, saga: Saga) -> Saga:
        """AI layer: a high score holds the asset for review; an unreachable agent holds it and retries."""
        asset = await run_db(self.repo.get_asset, saga.asset_id)
        assert asset is not None
        features = await self._features(asset)
        score: int | None = None
        unavailable = False
        try:
            risk = await self.risk.assess_asset(features)
        except (Transient, Refused) as exc:
            log.warning("risk check of %s unavailable: %s", saga.asset_id, exc)
            unavailable = True
            reasons = ["risk assessment unavailable; the asset is held and the check is retried"]
            hold = False
        else:
            score = risk.score
            hold = domain.risk_blocks(risk.score, risk.high, self.settings.review_threshold)
            reasons = risk.reasons if hold else []
        _, saga = await run_db(self.repo.record_assessment, saga, score=score, reasons=reasons, hold=hold,
                               unavailable=unavailable, retry_in=self._backoff(saga))
        await self.cache.invalidate(saga.asset_id)
        return saga

    async def _features(self, asset: dict[str, Any]) -> ai_pb.AssetFeatures:
        reputation, age_days = 50, -1
        try:
            user = await self.auth.get_user(asset["owner_user_id"])
        except (Transient, Refused):
            user = None
        if user is not None:
            reputation = user.reputation
            if user.created_at:
                age_days = max(0, (dt.datetime.now(dt.UTC) - user.created_at).days)
        description = asset["metadata"].get("description", "") if isinstance(asset["metadata"], dict) else ""
        return ai_pb.AssetFeatures(
            asset_id=asset["id"], name=asset["name"], asset_type=asset["asset_type"], region=asset["region"],
            utility_features=asset["utility_features"], co_creators=len(asset["creators"]),
            creator_reputation=reputation, asking_price=asset["price"], content_hash=asset["ipfs_hash"],
            description=str(description)[:2000], creator_wallet=asset["owner_wallet"], wallet_age_days=age_days,
            creator_user_id=asset["owner_user_id"])

    async def _run_purchase(self, saga: Saga) -> None:
        while True:
            if saga.state == domain.RESERVED:
                saga = await self._prepare_buy(saga)
                if saga.state != domain.BUYING:
                    return
            elif saga.state == domain.BUYING:
                d = saga.data
                self._crash_point("purchase.before_chain_buy")
                try:
                    bought = await self.chain.buy(
                        token_id=d["token_id"], recipient=saga.actor_wallet, price_wei=domain.to_wei(Decimal(d["price"])),
                        idempotency_key=f"ipheron-purchase:{saga.id}", asset_id=saga.asset_id)
                except Transient as exc:
                    # Outcome unknown: keep the reservation; the retry re-sends the same key.
                    log.warning("chain buy of purchase %s unconfirmed: %s", saga.id, exc)
                    await run_db(self.repo.retry_later, saga.id, self._backoff(saga), str(exc))
                    return
                except Refused as exc:
                    await self._compensate(saga, domain.BUYING, exc.code.name, f"the chain refused the purchase: {exc.message}")
                    await self._withdraw_listing(d["token_id"])
                    return
                if not bought.tx.succeeded:
                    await self._compensate(saga, domain.BUYING, "FAILED_PRECONDITION",
                                           f"the purchase transaction failed: {bought.tx.error or 'reverted'}")
                    await self._withdraw_listing(d["token_id"])
                    return
                self._crash_point("purchase.after_chain_buy")
                saga = await run_db(self.repo.advance, saga.id, domain.BUYING, domain.BOUGHT, {
                    "tx_hash": bought.tx.tx_hash, "block_number": bought.tx.block_number,
                    "payouts": [[a, str(w)] for a, w in bought.payouts]})
            elif saga.state == domain.BOUGHT:
                self._crash_point("purchase.after_bought")
                saga = await run_db(self.repo.record_sale, saga, tx_hash=saga.data["tx_hash"],
                                    block_number=int(saga.data["block_number"]))
                await self.cache.invalidate(saga.asset_id)
            elif saga.state == domain.RECORDED:
                creators = await run_db(self.repo.asset_creators, saga.asset_id)
                amounts = domain.creator_attribution(Decimal(saga.data["price"]), [c.share_percent for c in creators])
                try:
                    for c, amount in zip(creators, amounts, strict=True):
                        if amount > 0:
                            await self.auth.record_sale(c.user_id, amount, f"sale:{saga.id}:{c.user_id}")
                except Transient as exc:
                    log.warning("creator sales of purchase %s postponed: %s", saga.id, exc)
                    await run_db(self.repo.retry_later, saga.id, self._backoff(saga), str(exc))
                    return
                except Refused as exc:
                    log.error("auth refused creator sales of purchase %s: %s", saga.id, exc.message)
                    await run_db(self.repo.advance, saga.id, domain.RECORDED, domain.COMPLETED, {"auth_error": exc.message})
                    return
                await run_db(self.repo.advance, saga.id, domain.RECORDED, domain.COMPLETED)
                return
            else:
                return

    async def _prepare_buy(self, saga: Saga) -> Saga:
        """Risk check, then make the on-chain listing match the reserved price; then `buying`."""
        d = saga.data
        history = [e for e in await run_db(self.repo.provenance, saga.asset_id) if e["kind"] == "sale"][-20:]
        try:
            risk = await self.risk.assess_purchase(
                asset_id=saga.asset_id, seller=d["seller_wallet"], buyer=saga.actor_wallet, price=d["price"],
                history=[{"from_wallet": h["from_wallet"], "to_wallet": h["to_wallet"],
                          "price": domain.format_eth(h["price"])} for h in history])
        except (Transient, Refused) as exc:
            # Money must not move unchecked: roll back, and let the client retry with the same key.
            return await self._compensate(saga, domain.RESERVED, "UNAVAILABLE",
                                          f"the purchase risk check is unavailable ({exc}); retry later", retryable=True)
        if domain.risk_blocks(risk.score, risk.high, self.settings.purchase_block_threshold):
            return await self._compensate(saga, domain.RESERVED, "PERMISSION_DENIED",
                                          "purchase refused by the risk check: " + "; ".join(risk.reasons or ["high risk"]))
        price_wei = domain.to_wei(Decimal(d["price"]))
        try:
            token = await self.chain.token(d["token_id"])
            if not token.listed or token.price_wei != price_wei:
                listed = await self.chain.list_token(d["token_id"], price_wei)
                if not listed.succeeded:
                    return await self._compensate(saga, domain.RESERVED, "FAILED_PRECONDITION",
                                                  f"the token could not be listed: {listed.error}")
        except Transient as exc:
            return await self._compensate(saga, domain.RESERVED, "UNAVAILABLE",
                                          f"the chain is unavailable ({exc}); retry later", retryable=True)
        except Refused as exc:
            return await self._compensate(saga, domain.RESERVED, "FAILED_PRECONDITION",
                                          f"the token could not be listed: {exc.message}")
        return await run_db(self.repo.advance, saga.id, domain.RESERVED, domain.BUYING, {"risk_score": risk.score})

    async def _withdraw_listing(self, token_id: str) -> None:
        """Best effort: a listing we made for a buy that failed must not stay open on chain,
        where anyone could buy it outside the catalog (Marketplace.buy is public)."""
        try:
            await self.chain.unlist_token(token_id)
        except (Transient, Refused) as exc:
            log.warning("could not withdraw the listing of token %s: %s", token_id, exc)

    async def _compensate(self, saga: Saga, expected: str, code: str, reason: str, *, retryable: bool = False) -> Saga:
        log.info("purchase %s rolled back: %s", saga.id, reason)
        saga = await run_db(self.repo.compensate_purchase, saga, expected=expected, code=code, reason=reason,
                            retryable=retryable)
        await self.cache.invalidate(saga.asset_id)
        return saga

    async def _resume(self, saga: Saga) -> None:
        """Recovery decision for a saga found unfinished (crash, or a postponed step)."""
        if saga.kind == domain.PURCHASE and saga.state == domain.RESERVED:
            # It never reached the chain (`buying` is written before BuyToken is sent): roll back.
            await self._compensate(saga, domain.RESERVED, "ABORTED",
                                   "the purchase was interrupted before payment; retry", retryable=True)
            return
        await self._drive(saga)

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

    async def _worker_loop(self) -> None:
        while True:
            try:
                await self.recover_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("saga recovery pass failed", exc_info=True)
            await asyncio.sleep(self.settings.saga_poll_interval)

    def start_worker(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._worker_loop())

    async def stop_worker(self) -> None:
        if self._worker:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
