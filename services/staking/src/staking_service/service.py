"""Staking use cases: check the request, ask the assets service when needed, let
domain.py decide and the repository apply it (one transaction per repository call,
run in the DB thread pool with `run_db`, so the event loop never blocks on PostgreSQL)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from ipheron_libs.db import run_db
from ipheron_libs.errors import NotFound

from staking_service import domain
from staking_service.clients import AssetsClient
from staking_service.domain import (
    ClaimOutcome,
    OpenOutcome,
    RequestKey,
    Stake,
    StakeStatus,
    StakeView,
    UnstakeOutcome,
)
from staking_service.repository import StakingRepository

log = logging.getLogger("staking_service")

MATURITY_BATCH = 200
PURGE_BATCH = 1000


class StakingService:
    """The staking use cases; `clock` is injectable for tests. Without an assets
    client (staking tested alone) assets are not verified."""

    def __init__(
        self,
        repo: StakingRepository,
        clock: Callable[[], datetime] = domain.utcnow,
        assets: AssetsClient | None = None,
    ) -> None:
        self.repo = repo
        self.clock = clock
        self.assets = assets

    async def _check_asset(self, asset_id: str) -> None:
        if self.assets is not None:
            await self.assets.require_stakeable(asset_id)

    # -- reads ------------------------------------------------------------

    async def quote(self, asset_id: str, amount: str, duration_days: int) -> domain.Quote:
        """What a stake would earn; the asset must be stakeable."""
        asset = domain.check_id(asset_id, "asset_id")
        value = domain.parse_amount(amount)
        domain.check_duration(duration_days)
        q = domain.quote(value, duration_days, self.clock())
        await self._check_asset(asset)
        return q

    async def get(self, stake_id: str, user_id: str = "") -> StakeView:
        """One stake as of now; with `user_id`, only its owner may see it."""
        stake = await run_db(self.repo.get, stake_id)
        if stake is None:
            raise NotFound(f"stake {stake_id!r} not found")
        domain.check_viewer(stake, user_id)
        return domain.view(stake, self.clock())

    async def list(
        self,
        *,
        user_id: str = "",
        status: StakeStatus | None = None,
        asset_id: str = "",
        page: int = 1,
        per_page: int = 20,
    ) -> tuple[list[StakeView], int, int, int]:
        """(views, total, page, per_page); page defaults to 1 and per_page to 20."""
        page, per_page = domain.check_page(page, per_page)
        now = self.clock()
        found, total = await run_db(
            self.repo.list,
            user_id=user_id or None,
            status=status,
            asset_id=asset_id or None,
            now=now,
            page=page,
            per_page=per_page,
        )
        return [domain.view(s, now) for s in found], total, page, per_page

    # -- writes -----------------------------------------------------------

    async def open(
        self, user_id: str, asset_id: str, amount: str, duration_days: int, idempotency_key: str
    ) -> OpenOutcome:
        """Open a stake once per Idempotency-Key, on a stakeable asset."""
        user = domain.check_id(user_id, "user_id")
        asset = domain.check_id(asset_id, "asset_id")
        value = domain.parse_amount(amount)
        domain.check_duration(duration_days)
        key = domain.check_idempotency_key(idempotency_key, required=True) or ""
        # Every field is checked before another service is asked about the asset.
        await self._check_asset(asset)
        fingerprint = domain.request_fingerprint("open", asset_id=asset, amount=value, duration_days=duration_days)
        request = RequestKey(user, key, "open", fingerprint)
        now = self.clock()
        stake_id = str(uuid.uuid4())

        def decide() -> domain.Change:
            return domain.open_change(stake_id, user, asset, value, duration_days, now)

        answer, replayed = await run_db(self.repo.open, request, now, decide)
        outcome = domain.open_outcome(answer, replayed=replayed)
        if not replayed:
            log.info("stake %s opened by %s on %s", outcome.view.stake.id, user, asset)
        return outcome

    async def claim(self, stake_id: str, user_id: str, idempotency_key: str = "") -> ClaimOutcome:
        """Pay the owner what has accrued and not been claimed."""
        user = domain.check_id(user_id, "user_id")
        key = domain.check_idempotency_key(idempotency_key, required=False)
        request = (
            RequestKey(user, key, "claim", domain.request_fingerprint("claim", stake_id=stake_id)) if key else None
        )
        now = self.clock()

        def decide(stake: Stake) -> domain.Change:
            return domain.claim_change(stake, user, now)

        answer, replayed = await run_db(self.repo.change_locked, stake_id, request, now, decide)
        return domain.claim_outcome(answer, replayed=replayed)

    async def unstake(self, stake_id: str, user_id: str, idempotency_key: str = "") -> UnstakeOutcome:
        """Close the owner's stake and pay it out (less the penalty when early)."""
        user = domain.check_id(user_id, "user_id")
        key = domain.check_idempotency_key(idempotency_key, required=False)
        request = (
            RequestKey(user, key, "unstake", domain.request_fingerprint("unstake", stake_id=stake_id)) if key else None
        )
        now = self.clock()

        def decide(stake: Stake) -> domain.Change:
            return domain.unstake_change(stake, user, now)

        answer, replayed = await run_db(self.repo.change_locked, stake_id, request, now, decide)
        outcome = domain.unstake_outcome(answer, replayed=replayed)
        if not replayed:
            log.info("stake %s closed by %s (early=%s)", stake_id, user, outcome.early)
        return outcome

    # -- background -------------------------------------------------------

    async def mature_due(self, limit: int = MATURITY_BATCH) -> int:
        """Record maturity of stakes past their end time, emitting stake.matured; returns the count."""
        now = self.clock()

        def decide(stake: Stake) -> domain.Change:
            return domain.maturity_change(stake, now)

        n = await run_db(self.repo.mature_due, now, limit, decide)
        if n:
            log.info("recorded %d matured stakes", n)
        return n

    async def purge_idempotency_keys(self, retention: timedelta, limit: int = PURGE_BATCH) -> int:
        """Drop answered idempotency keys older than `retention`; a retry after that is a new request."""
        n = await run_db(self.repo.purge_idempotency_keys, self.clock() - retention, limit)
        if n:
            log.info("forgot %d expired idempotency keys", n)
        return n
