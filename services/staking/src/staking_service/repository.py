"""The "staking" schema: stakes and idempotency keys (the outbox comes from
ipheron_libs.events). SQL only: `StakingRepository`'s methods are synchronous and
each runs one transaction (or one autocommit read); the service calls them with
`ipheron_libs.db.run_db`. A write that must read, lock, decide and write at once
takes the decision (a pure function from domain.py) as an argument.

Tables are unqualified: each connection's search_path is the service's own
schema, so the same code serves any provisioned schema name. Queries use
SQLAlchemy Core on these mapped tables: the hot read paths are measured and Core
costs less CPU than ORM sessions here (see design.md)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from ipheron_libs import events
from ipheron_libs.db import autocommit
from ipheron_libs.errors import NotFound
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    and_,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.schema import Table

from staking_service import domain
from staking_service.domain import Change, Json, RequestKey, Stake, StakeStatus

AMOUNT = Numeric(36, 18)


class Base(DeclarativeBase):
    """Declarative base for the staking schema."""


class StakeRow(Base):
    """One stake; money columns are NUMERIC(36,18), never floats."""

    __tablename__ = "stakes"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_stakes_amount_positive"),
        CheckConstraint("status IN ('active', 'matured', 'closed')", name="ck_stakes_status"),
        CheckConstraint("end_time > start_time", name="ck_stakes_period"),
        CheckConstraint("rewards_claimed <= total_rewards_earned", name="ck_stakes_claimed_le_earned"),
        Index("idx_stakes_user_id", "user_id"),
        Index("idx_stakes_status", "status"),
        Index("idx_stakes_user_created", "user_id", "created_at"),
        Index("idx_stakes_asset_id", "asset_id"),
        # The maturity sweep looks only at active stakes by end time.
        Index("idx_stakes_active_end", "end_time", postgresql_where=text("status = 'active'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128))
    asset_id: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    duration_days: Mapped[int] = mapped_column(Integer)
    apr: Mapped[Decimal] = mapped_column(Numeric(9, 4))
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    total_rewards_earned: Mapped[Decimal] = mapped_column(AMOUNT)
    rewards_claimed: Mapped[Decimal] = mapped_column(AMOUNT)
    last_reward_calculation: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    penalty: Mapped[Decimal | None] = mapped_column(AMOUNT, nullable=True)
    payout: Mapped[Decimal | None] = mapped_column(AMOUNT, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyKeyRow(Base):
    """A value-moving request already answered: (user, key) -> request hash + answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("idx_idempotency_keys_created", "created_at"),)

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    operation: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


stakes = cast(Table, StakeRow.__table__)
idempotency_keys = cast(Table, IdempotencyKeyRow.__table__)


# Columns that mirror a Stake field one to one (the id and the status need converting;
# created_at is written once, on insert).
_COPIED = tuple(f.name for f in dataclasses.fields(Stake) if f.name not in ("id", "status", "created_at"))


def _to_domain(row: Any) -> Stake:
    m = row._mapping
    return Stake(id=str(m["id"]), status=StakeStatus(m["status"]), created_at=m["created_at"],
                 **{name: m[name] for name in _COPIED})


def _values(stake: Stake) -> dict[str, Any]:
    """The columns an insert or update writes (all but id and created_at)."""
    return {"status": stake.status.value, **{name: getattr(stake, name) for name in _COPIED}}


def parse_stake_id(stake_id: str) -> uuid.UUID | None:
    """A stake id is a UUID; anything else cannot name a stake."""
    try:
        return uuid.UUID(stake_id)
    except (ValueError, AttributeError, TypeError):
        return None


def _status_filter(status: StakeStatus, now: datetime) -> Any:
    # "matured" includes active stakes past their end time that the sweep has not
    # recorded yet, so a list agrees with what GetStake reports.
    if status is StakeStatus.ACTIVE:
        return and_(stakes.c.status == "active", stakes.c.end_time > now)
    if status is StakeStatus.MATURED:
        return or_(stakes.c.status == "matured", and_(stakes.c.status == "active", stakes.c.end_time <= now))
    return stakes.c.status == "closed"


class StakingRepository:
    """The staking tables; every method is one transaction (or one autocommit read)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = autocommit(engine)

    # -- reads ------------------------------------------------------------

    def get(self, stake_id: str) -> Stake | None:
        """The stake, or None (also for an id that is not a UUID)."""
        sid = parse_stake_id(stake_id)
        if sid is None:
            return None
        with self._reads.connect() as conn:
            row = conn.execute(select(stakes).where(stakes.c.id == sid)).first()
        return _to_domain(row) if row else None

    def list(
        self,
        *,
        user_id: str | None,
        status: StakeStatus | None,
        asset_id: str | None,
        now: datetime,
        page: int,
        per_page: int,
    ) -> tuple[list[Stake], int]:
        """One page of stakes, newest first, and the total matching (one snapshot)."""
        conditions = []
        if user_id:
            conditions.append(stakes.c.user_id == user_id)
        if asset_id:
            conditions.append(stakes.c.asset_id == asset_id)
        if status is not None:
            conditions.append(_status_filter(status, now))
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(stakes).where(*conditions)).scalar_one()
            rows = conn.execute(
                select(stakes)
                .where(*conditions)
                .order_by(stakes.c.created_at.desc(), stakes.c.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            ).all()
        return [_to_domain(r) for r in rows], int(total)

    # -- writes -----------------------------------------------------------

    def open(self, request: RequestKey, now: datetime, decide: Callable[[], Change]) -> tuple[Json, bool]:
        """Open a stake once per Idempotency-Key: (answer, replayed).

        A concurrent first use of the key blocks on its primary key until the other
        transaction ends, so every caller sees the one answer.
        """
        with self.engine.begin() as conn:
            stored = _reserve(conn, request, now)
            if stored is not None:
                return stored, True
            change = decide()
            conn.execute(stakes.insert().values(
                id=uuid.UUID(change.stake.id), created_at=change.stake.created_at, updated_at=now,
                **_values(change.stake)))
            _record(conn, change, request, now)
        return change.answer, False

    def change_locked(self, stake_id: str, request: RequestKey | None, now: datetime,
                      decide: Callable[[Stake], Change]) -> tuple[Json, bool]:
        """Lock the stake, apply `decide` to it, store the result and its events: (answer, replayed).

        With a `request` key, a repeated request gets the first answer instead; a
        request that fails (NotFound, a refused decision) leaves no key behind.
        """
        with self.engine.begin() as conn:
            if request is not None:
                stored = _reserve(conn, request, now)
                if stored is not None:
                    return stored, True
            sid = parse_stake_id(stake_id)
            row = None if sid is None else conn.execute(
                select(stakes).where(stakes.c.id == sid).with_for_update()).first()
            if row is None:
                raise NotFound(f"stake {stake_id!r} not found")
            change = decide(_to_domain(row))
            _update(conn, change.stake, now)
            _record(conn, change, request, now)
        return change.answer, False

    def mature_due(self, now: datetime, limit: int, decide: Callable[[Stake], Change]) -> int:
        """Apply `decide` to active stakes past their end time (locked, skipping rows another
        replica holds); returns how many."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(stakes)
                .where(stakes.c.status == "active", stakes.c.end_time <= now)
                .order_by(stakes.c.end_time)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                change = decide(_to_domain(row))
                _update(conn, change.stake, now)
                _record(conn, change, None, now)
        return len(rows)

    def purge_idempotency_keys(self, older_than: datetime, limit: int) -> int:
        """Forget answered keys older than the retention window (a bounded batch per call)."""
        old = (
            select(idempotency_keys.c.user_id, idempotency_keys.c.key)
            .where(idempotency_keys.c.created_at < older_than)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .subquery()
        )
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(idempotency_keys).where(
                    tuple_(idempotency_keys.c.user_id, idempotency_keys.c.key).in_(select(old.c.user_id, old.c.key))
                )
            )
        return int(result.rowcount or 0)


def _update(conn: Connection, stake: Stake, now: datetime) -> None:
    conn.execute(update(stakes).where(stakes.c.id == uuid.UUID(stake.id)).values(updated_at=now, **_values(stake)))


def _record(conn: Connection, change: Change, request: RequestKey | None, now: datetime) -> None:
    """The change's events into the outbox, and its answer under the request's key."""
    for ev in change.events:
        events.emit(conn, ev.type, ev.actor, ev.payload)
    if request is not None:
        conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.user_id == request.user_id, idempotency_keys.c.key == request.key)
            .values(response=change.answer)
        )


def _reserve(conn: Connection, request: RequestKey, now: datetime) -> Json | None:
    """Claim the request's key in this transaction: None when new, else the earlier answer."""
    inserted = conn.execute(
        insert(idempotency_keys)
        .values(user_id=request.user_id, key=request.key, operation=request.operation,
                request_hash=request.fingerprint, created_at=now)
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    ).first()
    if inserted is not None:
        return None
    row = conn.execute(
        select(idempotency_keys.c.operation, idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
            idempotency_keys.c.user_id == request.user_id, idempotency_keys.c.key == request.key
        )
    ).one()
    domain.check_replay(request, row.operation, row.request_hash)
    return dict(row.response or {})
