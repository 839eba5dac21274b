"""Staking use cases: the service is the quoting authority of the StakingVault and a read
model of its events.

A stake opens only on chain, with the staker's own ether: `open` prices it (domain.py),
signs the quote (quotes.py), has the chain prepare `stake(quote, signature)` for the
staker's wallet and stores the PENDING stake with that transaction (nothing when the
wallet cannot pay, 402, or the pool cannot cover the reservation, 409). The staker hands
the signed transaction in (`submit`); the vault's events (consumer group "staking") make
the stake ACTIVE, add claims and close it. Claims and unstakes are prepared the same way
and change nothing until the vault's event arrives. A periodic job follows handed-in
transactions (a revert fails the pending stake with its reason) and fails pending stakes
whose quote lapsed unpaid; the maturity sweep records MATURED once across replicas.

    stake:  pending ──▶ active ──▶ matured ──▶ closed
               └──▶ failed (reverted, or the quote expired)
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

from eth_utils import keccak
from ipheron_libs import events
from ipheron_libs.db import run_db
from ipheron_libs.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from ipheron_libs.wire import Transient, UpstreamFailure

from staking_service import domain
from staking_service.clients import AssetsClient, ChainClient
from staking_service.domain import (
    ActionKind,
    ActionOutcome,
    OpenOutcome,
    PreparedAction,
    Quote,
    RequestKey,
    SignedQuote,
    StakeStatus,
    StakeView,
)
from staking_service.quotes import QuoteSigner
from staking_service.repository import StakingRepository

log = logging.getLogger("staking_service")

MATURITY_BATCH = 200
PURGE_BATCH = 1000
FOLLOW_BATCH = 50


def _unavailable(what: str) -> Callable[[Transient], Unavailable]:
    return lambda exc: Unavailable(f"the {exc.service} service is unavailable; {what}")


class StakingService:
    """The staking use cases; `clock` is injectable for tests."""

    def __init__(
        self,
        repo: StakingRepository,
        clock: Callable[[], datetime] = domain.utcnow,
        assets: AssetsClient | None = None,
        chain: ChainClient | None = None,
        signer: QuoteSigner | None = None,
        quote_ttl_s: int = 600,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.assets = assets
        self.chain = chain
        self.signer = signer
        self.quote_ttl_s = quote_ttl_s
        self._event_handlers: dict[str, Callable[[events.Event], Awaitable[None]]] = {
            "chain.stake.opened": self._on_opened,
            "chain.stake.claimed": self._on_claimed,
            "chain.stake.closed": self._on_closed,
            "chain.event.reverted": self._on_reverted,
        }

    async def _token_of(self, asset_id: str) -> int:
        if self.assets is None:
            raise FailedPrecondition("stakes need the assets service (ASSETS_ADDR) to find the asset's token")
        return await self.assets.require_stakeable(asset_id)

    def _chain(self) -> ChainClient:
        if self.chain is None or self.signer is None:
            raise FailedPrecondition("stakes need the chain service (CHAIN_ADDR) and a quote key")
        return self.chain

    async def _sign(self, staker: str, token_id: int, q: Quote, nonce: int, now: datetime) -> SignedQuote:
        chain = self._chain()
        assert self.signer is not None
        try:
            vault = await chain.vault()
        except Transient as exc:
            raise _unavailable("no quote was signed, retry")(exc) from exc
        expires = domain.from_unix(domain.unix(now) + self.quote_ttl_s)
        return self.signer.sign(vault, staker=staker, token_id=token_id, q=q, expires_at=expires, nonce=nonce)

    # -- reads ------------------------------------------------------------

    async def quote(self, asset_id: str, amount: str, duration_days: int,
                    staker: str = "") -> tuple[Quote, SignedQuote | None]:
        """What a stake would earn; with a staker, the quote signed for its wallet."""
        asset = domain.check_id(asset_id, "asset_id")
        value = domain.parse_amount(amount)
        domain.check_duration(duration_days)
        wallet = domain.check_wallet(staker, "staker") if staker else ""
        now = self.clock()
        q = domain.quote(value, duration_days, now)
        if not wallet:
            if self.assets is not None:
                await self.assets.require_stakeable(asset)
            return q, None
        token_id = await self._token_of(asset)
        return q, await self._sign(wallet, token_id, q, uuid.uuid4().int, now)

    async def get(self, stake_id: str, user_id: str = "", wallet: str = "") -> StakeView:
        """One stake as of now; with `user_id`, only its owner may see it."""
        stake = await run_db(self.repo.get, stake_id)
        if stake is None:
            raise NotFound(f"stake {stake_id!r} not found")
        domain.check_viewer(stake, user_id, wallet.lower())
        return domain.view(stake, self.clock())

    async def list(self, *, user_id: str = "", wallet: str = "", status: StakeStatus | None = None,
                   asset_id: str = "", page: int = 1, per_page: int = 20) -> tuple[list[StakeView], int, int, int]:
        """(views, total, page, per_page); page defaults to 1 and per_page to 20."""
        page, per_page = domain.check_page(page, per_page)
        now = self.clock()
        found, total = await run_db(self.repo.list, user_id=user_id or None, wallet=wallet or None, status=status,
                                    asset_id=asset_id or None, now=now, page=page, per_page=per_page)
        return [domain.view(s, now) for s in found], total, page, per_page

    # -- open -------------------------------------------------------------

    async def open(self, user_id: str, asset_id: str, amount: str, duration_days: int, idempotency_key: str,
                   wallet: str = "") -> OpenOutcome:
        """Prepare a stake once per Idempotency-Key: the signed quote and the staker's stake()
        transaction, stored PENDING; nothing is stored when the wallet or the pool cannot cover it."""
        user = domain.check_id(user_id, "user_id")
        asset = domain.check_id(asset_id, "asset_id")
        value = domain.parse_amount(amount)
        domain.check_duration(duration_days)
        key = domain.check_idempotency_key(idempotency_key, required=True) or ""
        staker = domain.check_wallet(wallet)
        fingerprint = domain.request_fingerprint("open", asset_id=asset, amount=value, duration_days=duration_days,
                                                 wallet=staker)
        request = RequestKey(user, key, "open", fingerprint)
        stored = await run_db(self.repo.stored_answer, request)
        if stored is not None:
            return await self._open_replay(str(stored["stake_id"]))
        # Every field is checked before another service is asked about anything.
        token_id = await self._token_of(asset)
        now = self.clock()
        q = domain.quote(value, duration_days, now)
        stake_id = str(uuid.uuid4())
        sq = await self._sign(staker, token_id, q, domain.nonce_of(stake_id), now)
        try:
            prepared = await self._chain().prepare_stake(json.dumps(sq.message), sq.signature, staker)
        except Transient as exc:
            raise _unavailable("nothing was prepared, retry")(exc) from exc
        if prepared.quote_hash and prepared.quote_hash != sq.quote_hash:
            log.error("the vault hashes quote %s as %s; recording the vault's digest", sq.quote_hash,
                      prepared.quote_hash)
            sq = replace(sq, quote_hash=prepared.quote_hash)
        if not prepared.pool_can_cover:
            return OpenOutcome(view=None, components=q.components, replayed=False, signed_quote=sq,
                               pool_capacity=(prepared.reservation_wei or sq.reservation_wei, prepared.pool_free_wei))
        if not prepared.prepared.funds.can_pay:
            return OpenOutcome(view=None, components=q.components, replayed=False, signed_quote=sq,
                               shortfall=prepared.prepared.funds)
        stake = domain.pending_stake(stake_id, user, asset, staker, q, sq, prepared.prepared.tx, now)
        answer, replayed = await run_db(self.repo.open, request, stake, now)
        if replayed:
            return await self._open_replay(str(answer["stake_id"]))
        log.info("stake %s prepared for %s on %s (quote %s)", stake_id, user, asset, sq.quote_hash)
        return OpenOutcome(view=domain.view(stake, now), components=q.components, replayed=False, signed_quote=sq)

    async def _open_replay(self, stake_id: str) -> OpenOutcome:
        stake = await run_db(self.repo.get, stake_id)
        if stake is None:
            raise NotFound(f"stake {stake_id!r} not found")
        _, parts = domain.apr_for(stake.amount, stake.duration_days)
        return OpenOutcome(view=domain.view(stake, self.clock()), components=parts, replayed=True,
                           signed_quote=stake.signed_quote)

    # -- claim / unstake ----------------------------------------------------

    async def prepare_action(self, kind: ActionKind, stake_id: str, user_id: str, wallet: str,
                             idempotency_key: str = "") -> ActionOutcome:
        """The staker's own claim(stakeId) or unstake(stakeId), with what it pays if mined now.
        Nothing in the stake changes until the vault's event arrives."""
        user = domain.check_id(user_id, "user_id")
        staker = domain.check_wallet(wallet)
        key = domain.check_idempotency_key(idempotency_key, required=False)
        request = RequestKey(user, key, kind.value, domain.request_fingerprint(kind.value, stake_id=stake_id)) \
            if key else None
        if request is not None:
            stored = await run_db(self.repo.stored_answer, request)
            if stored is not None:
                return await self._action_replay(str(stored["action_id"]))
        stake = domain.check_actor(await run_db(self.repo.get, stake_id), stake_id, user, staker)
        vault_stake_id = domain.check_actionable(stake, kind)
        try:
            prep = await self._chain().prepare_action(vault_stake_id, staker, kind)
        except Transient as exc:
            raise _unavailable("nothing was prepared, retry")(exc) from exc
        now = self.clock()
        view = domain.view(stake, now)
        if not prep.prepared.funds.can_pay:
            return ActionOutcome(view=view, action=None, shortfall=prep.prepared.funds, replayed=False,
                                 principal_wei=stake.amount_wei)
        action = PreparedAction(id=str(uuid.uuid4()), stake_id=stake.id, kind=kind, transaction=prep.prepared.tx,
                                payout_wei=prep.payout_wei, penalty_wei=prep.penalty_wei, early=prep.early,
                                created_at=now)
        action_id, replayed = await run_db(self.repo.put_action, request, action, now)
        if replayed:
            return await self._action_replay(action_id)
        return ActionOutcome(view=view, action=action, shortfall=None, replayed=False, principal_wei=stake.amount_wei)

    async def _action_replay(self, action_id: str) -> ActionOutcome:
        action = await run_db(self.repo.action_by_id, action_id)
        stake = await run_db(self.repo.get, action.stake_id) if action is not None else None
        if action is None or stake is None:  # superseded by a later preparation of the same kind
            raise FailedPrecondition("the prepared transaction of this key was replaced; prepare it again")
        return ActionOutcome(view=domain.view(stake, self.clock()), action=action, shortfall=None, replayed=True,
                             principal_wei=stake.amount_wei)

    # -- hand-in ------------------------------------------------------------

    async def submit(self, stake_id: str, user_id: str, wallet: str, kind: ActionKind, *, raw_transaction: str = "",
                     tx_hash: str = "") -> tuple[StakeView, str, bool]:
        """The staker hands in the signed transaction (checked by the chain to be exactly the
        prepared call, then broadcast) or the hash of one it broadcast: (stake, tx hash,
        already_submitted). The outcome is recorded when the vault's event arrives."""
        user = domain.check_id(user_id, "user_id")
        staker = domain.check_wallet(wallet)
        if bool(raw_transaction) == bool(tx_hash):
            raise InvalidArgument("give exactly one of raw_transaction and tx_hash", field="raw_transaction")
        raw = domain.check_raw_transaction(raw_transaction) if raw_transaction else ""
        given = domain.check_tx_hash(tx_hash) if tx_hash else "0x" + keccak(hexstr=raw).hex().removeprefix("0x")
        stake = domain.check_actor(await run_db(self.repo.get, stake_id), stake_id, user, staker)
        now = self.clock()
        action: PreparedAction | None = None
        if kind is ActionKind.OPEN:
            if stake.tx_hash == given:
                return domain.view(stake, now), given, True
            if stake.status is not StakeStatus.PENDING or stake.transaction is None:
                raise FailedPrecondition(f"the stake is {stake.status.value}; there is no stake() to hand in")
            if not stake.tx_hash and stake.expires_at is not None and stake.expires_at <= now:
                await run_db(self.repo.fail_pending, stake.id, domain.QUOTE_EXPIRED, now)
                raise FailedPrecondition("the quote expired before its transaction was handed in; open a new stake")
            expected = stake.transaction
        else:
            action = await run_db(self.repo.action, stake.id, kind)
            if action is None:
                raise FailedPrecondition(f"no {kind.value} was prepared for this stake; prepare one first")
            if action.tx_hash == given:
                return domain.view(stake, now), given, True
            domain.check_actionable(stake, kind)
            expected = action.transaction
        chain = self._chain()
        try:
            if raw:
                sent = await chain.submit_raw(raw, expected, kind, stake.token_id)
            else:
                sent = await chain.track(given, expected, kind, stake.token_id)
        except Transient as exc:
            raise _unavailable("hand the transaction in again")(exc) from exc
        if action is None:
            await run_db(self.repo.mark_open_submitted, stake.id, sent, self.clock())
        else:
            await run_db(self.repo.mark_action_submitted, action.id, sent)
        log.info("%s transaction %s of stake %s handed in", kind.value, sent, stake.id)
        fresh = await run_db(self.repo.get, stake.id)
        return domain.view(fresh or stake, self.clock()), sent, False

    # -- background -------------------------------------------------------

    async def follow_pending(self, limit: int = FOLLOW_BATCH) -> int:
        """Pending stakes whose transaction reverted (or was replaced) FAILED with the reason, and
        those whose quote lapsed unpaid FAILED ("the quote expired"); handed-in claims/unstakes
        settled the same way. Returns how many changed."""
        now = self.clock()
        changed = 0
        waiting: list[str] = []
        for stake in await run_db(self.repo.due_pending, now, limit):
            if not stake.tx_hash:
                changed += await run_db(self.repo.fail_pending, stake.id, domain.QUOTE_EXPIRED, now)
                continue
            reason = await self._revert_reason(stake.tx_hash)
            if reason:
                log.info("stake %s failed: %s", stake.id, reason)
                changed += await run_db(self.repo.fail_pending, stake.id, reason, now, tx_hash=stake.tx_hash)
            else:
                waiting.append(stake.id)
        await run_db(self.repo.touch, waiting, now)
        for action in await run_db(self.repo.submitted_actions, limit):
            reason = await self._revert_reason(action.tx_hash)
            if reason:
                await run_db(self.repo.settle_action, action.id, action.tx_hash, "failed", reason)
                changed += 1
            elif reason == "" and await self._confirmed(action.tx_hash):
                await run_db(self.repo.settle_action, action.id, action.tx_hash, "confirmed")
                changed += 1
        return changed

    async def _revert_reason(self, tx_hash: str) -> str | None:
        """Why a transaction failed ("" while pending or confirmed, None when unknown now)."""
        assert self.chain is not None
        try:
            tx = await self.chain.transaction(tx_hash)
        except (Transient, UpstreamFailure, NotFound):
            return None
        except DomainError as exc:
            return f"the transaction cannot be followed: {exc.message}"
        if tx.status == "FAILED":
            return f"the transaction reverted: {tx.error or 'no reason given'}"
        if tx.status == "REPLACED":
            return "the transaction was replaced by another one"
        return ""

    async def _confirmed(self, tx_hash: str) -> bool:
        assert self.chain is not None
        try:
            return (await self.chain.transaction(tx_hash)).status == "CONFIRMED"
        except (Transient, DomainError):
            return False

    async def mature_due(self, limit: int = MATURITY_BATCH) -> int:
        """Record maturity of stakes past their end time, emitting stake.matured; returns the count."""
        n = await run_db(self.repo.mature_due, self.clock(), limit)
        if n:
            log.info("recorded %d matured stakes", n)
        return n

    async def purge_idempotency_keys(self, retention: timedelta, limit: int = PURGE_BATCH) -> int:
        """Drop answered idempotency keys older than `retention`; a retry after that is a new request."""
        n = await run_db(self.repo.purge_idempotency_keys, self.clock() - retention, limit)
        if n:
            log.info("forgot %d expired idempotency keys", n)
        return n

    # -- the vault's events (the record) --------------------------------------

    @property
    def event_types(self) -> frozenset[str]:
        """The event types `on_chain_event` applies (its consumer group reads only these)."""
        return frozenset(self._event_handlers)

    async def on_chain_event(self, event: events.Event) -> None:
        """The consumer of the chain's events (group "staking"): each applied once, in the
        transaction of its effect; what it cannot read is dead-lettered."""
        handler = self._event_handlers.get(event.type)
        if handler is None:
            return
        try:
            await handler(event)
        except (KeyError, ValueError, TypeError) as exc:
            raise events.UnreadableEvent(f"{event.type} {event.id}: {exc!r}") from exc

    async def _on_opened(self, event: events.Event) -> None:
        ev = domain.opened_of(event.id, event.payload)
        pending = await run_db(self.repo.by_quote_hash, ev.quote_hash)
        if pending is not None:
            asset_id = pending.asset_id
        else:
            asset_id = str(event.payload.get("asset_id") or "") or await self._asset_of_token(ev.token_id)
        stake_id = await run_db(self.repo.apply_opened, ev, str(uuid.uuid4()), asset_id, self.clock())
        if stake_id:
            log.info("vault stake %d recorded as stake %s", ev.vault_stake_id, stake_id)

    async def _on_claimed(self, event: events.Event) -> None:
        await run_db(self.repo.apply_claimed, domain.claimed_of(event.id, event.payload), self.clock())

    async def _on_closed(self, event: events.Event) -> None:
        await run_db(self.repo.apply_closed, domain.closed_of(event.id, event.payload), self.clock())

    async def _on_reverted(self, event: events.Event) -> None:
        undone = event.payload.get("event_id")
        if undone and str(event.payload.get("event_type", "")).startswith("chain.stake."):
            await run_db(self.repo.revert, event.id, str(undone), self.clock())

    async def _asset_of_token(self, token_id: int) -> str:
        """The asset of a stake opened on the vault directly ("token:<id>" when the chain cannot say:
        the record must not wait for it)."""
        asset_id = ""
        if self.chain is not None:
            try:
                asset_id = await self.chain.asset_of_token(token_id)
            except (Transient, DomainError) as exc:
                log.warning("could not look up the asset of token %d: %s", token_id, exc)
        return asset_id or f"token:{token_id}"

