"""Staking use cases: one database transaction each, joining the rules in
domain.py, the tables in repository.py and the outbox (ipheron_libs.events).

Everything here is synchronous; the async servicer calls it through
`ipheron_libs.db.run_db` so the event loop never blocks on PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ipheron_libs import events
from ipheron_libs.errors import InvalidArgument, NotFound, PermissionDenied
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from staking_service import domain, repository
from staking_service.domain import Stake, StakeStatus, StakeView, fmt

log = logging.getLogger("staking_service")

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class OpenResult:
    view: StakeView
    components: tuple[domain.AprComponent, ...]
    replayed: bool


@dataclass(frozen=True)
class ClaimOutcome:
    view: StakeView
    claimed: Decimal
    replayed: bool


@dataclass(frozen=True)
class UnstakeOutcome:
    view: StakeView
    early: bool
    principal_returned: Decimal
    rewards_paid: Decimal
    rewards_forfeited: Decimal
    penalty: Decimal
    payout: Decimal
    replayed: bool


def _stake_payload(stake: Stake) -> dict[str, Any]:
    return {
        "stake_id": stake.id,
        "user_id": stake.user_id,
        "asset_id": stake.asset_id,
        "amount": fmt(stake.amount),
        "duration_days": stake.duration_days,
        "apr": fmt(stake.apr),
        "start_time": stake.start_time.isoformat(),
        "end_time": stake.end_time.isoformat(),
        "status": stake.status.value,
    }


def _view_to_json(v: StakeView) -> dict[str, Any]:
    return {"stake": domain.stake_to_json(v.stake), "as_of": v.as_of.isoformat()}


def _view_from_json(data: dict[str, Any]) -> StakeView:
    stake = domain.stake_from_json(data["stake"])
    return domain.view(stake, datetime.fromisoformat(data["as_of"]))


class StakingService:
    """The staking use cases over one engine; `clock` is injectable for tests."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = domain.utcnow) -> None:
        self.engine = engine
        self.clock = clock

    # -- reads ------------------------------------------------------------

    def quote(self, asset_id: str, amount: str, duration_days: int) -> domain.Quote:
        domain.check_id(asset_id, "asset_id")
        value = domain.parse_amount(amount)
        domain.check_duration(duration_days)
        return domain.quote(value, duration_days, self.clock())

    def get(self, stake_id: str, user_id: str = "") -> StakeView:
        with self.engine.connect() as conn:
            stake = repository.get_stake(conn, stake_id)
        if stake is None:
            raise NotFound(f"stake {stake_id!r} not found")
        if user_id and stake.user_id != user_id:
            raise PermissionDenied("only the owner of this stake may see it")
        return domain.view(stake, self.clock())

    def list(
        self,
        *,
        user_id: str = "",
        status: StakeStatus | None = None,
        asset_id: str = "",
        page: int = 1,
        per_page: int = 20,
    ) -> tuple[list[StakeView], int, int, int]:
        """(views, total, page, per_page); page defaults to 1 and per_page to 20."""
        page = page or 1
        per_page = per_page or 20
        if page < 1:
            raise InvalidArgument("page must be >= 1", field="page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise InvalidArgument(f"per_page must be between 1 and {MAX_PER_PAGE}", field="per_page")
        now = self.clock()
        with self.engine.connect() as conn:
            found, total = repository.list_stakes(
                conn,
                user_id=user_id or None,
                status=status,
                asset_id=asset_id or None,
                now=now,
                page=page,
                per_page=per_page,
            )
        return [domain.view(s, now) for s in found], total, page, per_page

    # -- writes -----------------------------------------------------------

    def validate_open(
        self, user_id: str, asset_id: str, amount: str, duration_days: int, idempotency_key: str
    ) -> tuple[str, str, Decimal, str]:
        """Check an open request's fields (before any other service is asked about the asset)."""
        user = domain.check_id(user_id, "user_id")
        asset = domain.check_id(asset_id, "asset_id")
        value = domain.parse_amount(amount)
        domain.check_duration(duration_days)
        key = domain.check_idempotency_key(idempotency_key, required=True)
        assert key is not None
        return user, asset, value, key

    def open(self, user_id: str, asset_id: str, amount: str, duration_days: int, idempotency_key: str) -> OpenResult:
        user, asset, value, key = self.validate_open(user_id, asset_id, amount, duration_days, idempotency_key)
        fingerprint = domain.request_fingerprint("open", asset_id=asset, amount=value, duration_days=duration_days)
        with self.engine.begin() as conn:
            stored = repository.reserve_idempotency_key(conn, user, key, "open", fingerprint, self.clock())
            if stored is not None:
                view = _view_from_json(stored)
                _, parts = domain.apr_for(view.stake.amount, view.stake.duration_days)
                return OpenResult(view=view, components=parts, replayed=True)
            now = self.clock()
            q = domain.quote(value, duration_days, now)
            stake = domain.new_stake(str(uuid.uuid4()), user, asset, q)
            repository.insert_stake(conn, stake, now)
            events.emit(conn, "stake.opened", user, _stake_payload(stake))
            view = domain.view(stake, now)
            repository.store_idempotent_response(conn, user, key, _view_to_json(view))
        log.info("stake %s opened by %s on %s", stake.id, user, asset)
        return OpenResult(view=view, components=q.components, replayed=False)

    def _load_for_write(self, conn: Connection, stake_id: str) -> Stake:
        stake = repository.get_stake(conn, stake_id, for_update=True)
        if stake is None:
            raise NotFound(f"stake {stake_id!r} not found")
        return stake

    def _emit_matured(self, conn: Connection, stake: Stake) -> None:
        events.emit(conn, "stake.matured", stake.user_id, _stake_payload(stake))

    def claim(self, stake_id: str, user_id: str, idempotency_key: str = "") -> ClaimOutcome:
        user = domain.check_id(user_id, "user_id")
        key = domain.check_idempotency_key(idempotency_key, required=False)
        with self.engine.begin() as conn:
            if key:
                fingerprint = domain.request_fingerprint("claim", stake_id=stake_id)
                stored = repository.reserve_idempotency_key(conn, user, key, "claim", fingerprint, self.clock())
                if stored is not None:
                    return ClaimOutcome(view=_view_from_json(stored), claimed=Decimal(stored["claimed"]), replayed=True)
            stake = self._load_for_write(conn, stake_id)
            now = self.clock()
            result = domain.claim(stake, user, now)
            repository.update_stake(conn, result.stake, now)
            if result.matured_now:
                self._emit_matured(conn, result.stake)
            if result.claimed > 0:
                events.emit(
                    conn,
                    "stake.claimed",
                    user,
                    {
                        **_stake_payload(result.stake),
                        "claimed": fmt(result.claimed),
                        "rewards_claimed": fmt(result.stake.rewards_claimed),
                    },
                )
            view = domain.view(result.stake, now)
            if key:
                repository.store_idempotent_response(
                    conn, user, key, {**_view_to_json(view), "claimed": fmt(result.claimed)}
                )
        return ClaimOutcome(view=view, claimed=result.claimed, replayed=False)

    def unstake(self, stake_id: str, user_id: str, idempotency_key: str = "") -> UnstakeOutcome:
        user = domain.check_id(user_id, "user_id")
        key = domain.check_idempotency_key(idempotency_key, required=False)
        with self.engine.begin() as conn:
            if key:
                fingerprint = domain.request_fingerprint("unstake", stake_id=stake_id)
                stored = repository.reserve_idempotency_key(conn, user, key, "unstake", fingerprint, self.clock())
                if stored is not None:
                    return UnstakeOutcome(
                        view=_view_from_json(stored),
                        early=bool(stored["early"]),
                        principal_returned=Decimal(stored["principal_returned"]),
                        rewards_paid=Decimal(stored["rewards_paid"]),
                        rewards_forfeited=Decimal(stored["rewards_forfeited"]),
                        penalty=Decimal(stored["penalty"]),
                        payout=Decimal(stored["payout"]),
                        replayed=True,
                    )
            stake = self._load_for_write(conn, stake_id)
            now = self.clock()
            r = domain.unstake(stake, user, now)
            repository.update_stake(conn, r.stake, now)
            if r.matured_now:
                self._emit_matured(conn, domain.mature(stake, now))
            events.emit(
                conn,
                "stake.closed",
                user,
                {
                    **_stake_payload(r.stake),
                    "early": r.early,
                    "principal_returned": fmt(r.principal_returned),
                    "rewards_paid": fmt(r.rewards_paid),
                    "rewards_forfeited": fmt(r.rewards_forfeited),
                    "penalty": fmt(r.penalty),
                    "payout": fmt(r.payout),
                },
            )
            view = domain.view(r.stake, now)
            if key:
                repository.store_idempotent_response(
                    conn,
                    user,
                    key,
                    {
                        **_view_to_json(view),
                        "early": r.early,
                        "principal_returned": fmt(r.principal_returned),
                        "rewards_paid": fmt(r.rewards_paid),
                        "rewards_forfeited": fmt(r.rewards_forfeited),
                        "penalty": fmt(r.penalty),
                        "payout": fmt(r.payout),
                    },
                )
        log.info("stake %s closed by %s (early=%s)", stake_id, user, r.early)
        return UnstakeOutcome(
            view=view,
            early=r.early,
            principal_returned=r.principal_returned,
            rewards_paid=r.rewards_paid,
            rewards_forfeited=r.rewards_forfeited,
            penalty=r.penalty,
            payout=r.payout,
            replayed=False,
        )

    def purge_idempotency_keys(self, retention: timedelta, limit: int = 1000) -> int:
        """Drop answered idempotency keys older than `retention`; a retry after that is a new request."""
        with self.engine.begin() as conn:
            return repository.purge_idempotency_keys(conn, self.clock() - retention, limit)

    def mature_due(self, limit: int = 200) -> int:
        """Record maturity of stakes past their end time, emitting stake.matured; returns the count."""
        now = self.clock()
        with self.engine.begin() as conn:
            due = repository.due_for_maturity(conn, now, limit)
            for stake in due:
                matured = domain.mature(stake, now)
                repository.update_stake(conn, matured, now)
                self._emit_matured(conn, matured)
        return len(due)
