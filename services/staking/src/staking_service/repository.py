"""The "staking" schema: stakes, prepared claims/unstakes, applied chain events and
idempotency keys (the outbox comes from ipheron_libs.events). SQL only: every method is
synchronous and runs one transaction (or one autocommit read); the service calls them with
`ipheron_libs.db.run_db`.

Tables are unqualified: each connection's search_path is the service's own schema. Queries
use SQLAlchemy Core on these mapped tables (cheaper than ORM sessions on the hot reads).

The chain is the record: a stake's figures change only when a vault event is applied
(`apply_opened` / `apply_claimed` / `apply_closed`), each once (its id in
`applied_chain_events`, in the transaction of its effect), in any order: a claim or close
that arrives before its stake's opening waits there (`applied` false) and is applied with
the opening. Events of one vault stake serialise on a transaction-scoped advisory lock, so
two replicas never interleave them. A reorg's `chain.event.reverted` undoes one (`revert`)."""

from __future__ import annotations

import builtins
import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from ipheron_libs import events
from ipheron_libs.db import autocommit
from ipheron_libs.wire import from_wei, money_str
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
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
from staking_service.domain import (
    ActionKind,
    PreparedAction,
    PreparedTx,
    RequestKey,
    SignedQuote,
    Stake,
    StakeStatus,
    VaultClaimed,
    VaultClosed,
    VaultOpened,
)

AMOUNT = Numeric(36, 18)
WEI = Numeric(78, 0)
UINT64 = Numeric(20, 0)
# pg_advisory_xact_lock's first key for "events of one vault stake".
_VAULT_STAKE_LOCK = 0x5354414B


class Base(DeclarativeBase):
    """Declarative base for the staking schema."""


class StakeRow(Base):
    """One stake; wei columns are NUMERIC(78,0), ETH columns NUMERIC(36,18), never floats."""

    __tablename__ = "stakes"
    __table_args__ = (
        CheckConstraint("amount > 0", name="ck_stakes_amount_positive"),
        CheckConstraint("status IN ('pending', 'active', 'matured', 'closed', 'failed')", name="ck_stakes_status"),
        CheckConstraint("end_time > start_time", name="ck_stakes_period"),
        CheckConstraint("rewards_claimed <= total_rewards_earned", name="ck_stakes_claimed_le_earned"),
        Index("idx_stakes_user_id", "user_id"),
        Index("idx_stakes_status", "status"),
        Index("idx_stakes_user_created", "user_id", "created_at"),
        Index("idx_stakes_asset_id", "asset_id"),
        Index("idx_stakes_active_end", "end_time", postgresql_where=text("status = 'active'")),
        Index("uq_stakes_vault_stake_id", "vault_stake_id", unique=True),
        Index("uq_stakes_quote_hash", "quote_hash", unique=True),
        Index("idx_stakes_wallet", "wallet"),
        Index("idx_stakes_pending", "expires_at", postgresql_where=text("status = 'pending'")),
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
    wallet: Mapped[str] = mapped_column(String(42), server_default="")
    origin: Mapped[str] = mapped_column(String(8), server_default="api")
    amount_wei: Mapped[Decimal] = mapped_column(WEI)
    apr_bps: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[int] = mapped_column(BigInteger)
    token_id: Mapped[Decimal] = mapped_column(UINT64)
    reward_wei: Mapped[Decimal] = mapped_column(WEI)
    claimed_wei: Mapped[Decimal] = mapped_column(WEI)
    rewards_paid_wei: Mapped[Decimal] = mapped_column(WEI)
    payout_wei: Mapped[Decimal | None] = mapped_column(WEI, nullable=True)
    penalty_wei: Mapped[Decimal | None] = mapped_column(WEI, nullable=True)
    early: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    vault_stake_id: Mapped[Decimal | None] = mapped_column(UINT64, nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    quote_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failure_reason: Mapped[str] = mapped_column(Text, server_default="")
    transaction: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    signed_quote: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)


class PreparedActionRow(Base):
    """The latest claim or unstake prepared for a stake (one per kind), and its hand-in."""

    __tablename__ = "prepared_actions"
    __table_args__ = (
        CheckConstraint("kind IN ('claim', 'unstake')", name="ck_prepared_actions_kind"),
        CheckConstraint("state IN ('prepared', 'submitted', 'confirmed', 'failed')", name="ck_prepared_actions_state"),
        Index("uq_prepared_actions_stake_kind", "stake_id", "kind", unique=True),
        Index("idx_prepared_actions_submitted", "created_at", postgresql_where=text("state = 'submitted'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    stake_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("stakes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    transaction: Mapped[dict[str, Any]] = mapped_column(JSONB)
    payout_wei: Mapped[Decimal] = mapped_column(WEI)
    penalty_wei: Mapped[Decimal] = mapped_column(WEI, server_default="0")
    early: Mapped[bool] = mapped_column(Boolean, server_default="false")
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    state: Mapped[str] = mapped_column(String(12), server_default="prepared")
    failure_reason: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AppliedChainEventRow(Base):
    """A vault event seen once: applied (with what it changed) or waiting for its stake."""

    __tablename__ = "applied_chain_events"
    __table_args__ = (
        Index("idx_applied_chain_events_deferred", "vault_stake_id",
              postgresql_where=text("NOT applied AND NOT reverted")),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    vault_stake_id: Mapped[Decimal | None] = mapped_column(UINT64, nullable=True)
    block_number: Mapped[int] = mapped_column(BigInteger, server_default="0")
    log_index: Mapped[int] = mapped_column(Integer, server_default="0")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    effect: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    applied: Mapped[bool] = mapped_column(Boolean, server_default="false")
    reverted: Mapped[bool] = mapped_column(Boolean, server_default="false")
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
actions = cast(Table, PreparedActionRow.__table__)
applied = cast(Table, AppliedChainEventRow.__table__)
idempotency_keys = cast(Table, IdempotencyKeyRow.__table__)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _to_domain(row: Any) -> Stake:
    m = row._mapping
    return Stake(
        id=str(m["id"]), user_id=m["user_id"], asset_id=m["asset_id"], wallet=m["wallet"],
        status=StakeStatus(m["status"]), amount_wei=int(m["amount_wei"]), apr_bps=int(m["apr_bps"]),
        duration_days=int(m["duration_days"]), duration_seconds=int(m["duration_seconds"]),
        token_id=int(m["token_id"]), start_time=m["start_time"], end_time=m["end_time"],
        reward_wei=int(m["reward_wei"]), created_at=m["created_at"], claimed_wei=int(m["claimed_wei"]),
        rewards_paid_wei=int(m["rewards_paid_wei"]), payout_wei=_opt_int(m["payout_wei"]),
        penalty_wei=_opt_int(m["penalty_wei"]), early=m["early"], closed_at=m["closed_at"],
        vault_stake_id=_opt_int(m["vault_stake_id"]), tx_hash=m["tx_hash"] or "", quote_hash=m["quote_hash"] or "",
        expires_at=m["expires_at"], failure_reason=m["failure_reason"] or "", origin=m["origin"],
        transaction=PreparedTx.from_json(m["transaction"]) if m["transaction"] else None,
        signed_quote=SignedQuote.from_json(m["signed_quote"]) if m["signed_quote"] else None,
    )


def _values(stake: Stake, now: datetime) -> dict[str, Any]:
    """The columns an insert or update writes (all but id and created_at); ETH from wei."""
    return {
        "user_id": stake.user_id, "asset_id": stake.asset_id, "wallet": stake.wallet, "status": stake.status.value,
        "amount": from_wei(stake.amount_wei), "apr": stake.apr, "duration_days": stake.duration_days,
        "start_time": stake.start_time, "end_time": stake.end_time,
        "total_rewards_earned": from_wei(stake.claimed_wei + stake.rewards_paid_wei),
        "rewards_claimed": from_wei(stake.claimed_wei), "last_reward_calculation": now,
        "closed_at": stake.closed_at,
        "penalty": None if stake.penalty_wei is None else from_wei(stake.penalty_wei),
        "payout": None if stake.payout_wei is None else from_wei(stake.payout_wei),
        "origin": stake.origin, "amount_wei": stake.amount_wei, "apr_bps": stake.apr_bps,
        "duration_seconds": stake.duration_seconds, "token_id": stake.token_id, "reward_wei": stake.reward_wei,
        "claimed_wei": stake.claimed_wei, "rewards_paid_wei": stake.rewards_paid_wei,
        "payout_wei": stake.payout_wei, "penalty_wei": stake.penalty_wei, "early": stake.early,
        "vault_stake_id": stake.vault_stake_id, "tx_hash": stake.tx_hash or None,
        "quote_hash": stake.quote_hash or None, "expires_at": stake.expires_at,
        "failure_reason": stake.failure_reason,
        "transaction": stake.transaction.to_json() if stake.transaction else None,
        "signed_quote": stake.signed_quote.to_json() if stake.signed_quote else None,
        "updated_at": now,
    }


def _action(row: Any) -> PreparedAction:
    m = row._mapping
    return PreparedAction(id=str(m["id"]), stake_id=str(m["stake_id"]), kind=ActionKind(m["kind"]),
                          transaction=PreparedTx.from_json(m["transaction"]), payout_wei=int(m["payout_wei"]),
                          penalty_wei=int(m["penalty_wei"]), early=bool(m["early"]), created_at=m["created_at"],
                          tx_hash=m["tx_hash"] or "", state=m["state"],
                          failure_reason=m["failure_reason"] or "")


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
    return stakes.c.status == status.value


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

    def by_quote_hash(self, quote_hash: str) -> Stake | None:
        with self._reads.connect() as conn:
            row = conn.execute(select(stakes).where(stakes.c.quote_hash == quote_hash)).first()
        return _to_domain(row) if row else None

    def list(self, *, user_id: str | None, wallet: str | None, status: StakeStatus | None, asset_id: str | None,
             now: datetime, page: int, per_page: int) -> tuple[list[Stake], int]:
        """One page of stakes, newest first, and the total matching (one snapshot). With a user
        and a wallet, stakes that wallet opened on the vault directly are the user's too."""
        conditions = []
        if user_id and wallet:
            conditions.append(or_(stakes.c.user_id == user_id,
                                  and_(stakes.c.user_id == "", stakes.c.wallet == wallet.lower())))
        elif user_id:
            conditions.append(stakes.c.user_id == user_id)
        if asset_id:
            conditions.append(stakes.c.asset_id == asset_id)
        if status is not None:
            conditions.append(_status_filter(status, now))
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(stakes).where(*conditions)).scalar_one()
            rows = conn.execute(
                select(stakes).where(*conditions)
                .order_by(stakes.c.created_at.desc(), stakes.c.id.desc())
                .limit(per_page).offset((page - 1) * per_page)
            ).all()
        return [_to_domain(r) for r in rows], int(total)

    def stored_answer(self, request: RequestKey) -> dict[str, Any] | None:
        """The answer kept under the request's key (Conflict for another request), or None."""
        with self._reads.connect() as conn:
            row = conn.execute(select(idempotency_keys).where(
                idempotency_keys.c.user_id == request.user_id, idempotency_keys.c.key == request.key)).first()
        if row is None or row.response is None:
            return None
        domain.check_replay(request, row.operation, row.request_hash)
        return dict(row.response)

    def action(self, stake_id: str, kind: ActionKind) -> PreparedAction | None:
        sid = parse_stake_id(stake_id)
        if sid is None:
            return None
        with self._reads.connect() as conn:
            row = conn.execute(select(actions).where(actions.c.stake_id == sid, actions.c.kind == kind.value)).first()
        return _action(row) if row else None

    def action_by_id(self, action_id: str) -> PreparedAction | None:
        with self._reads.connect() as conn:
            row = conn.execute(select(actions).where(actions.c.id == uuid.UUID(action_id))).first()
        return _action(row) if row else None

    # -- writes -----------------------------------------------------------

    def open(self, request: RequestKey, stake: Stake, now: datetime) -> tuple[dict[str, Any], bool]:
        """Store the PENDING stake under the request's key: (answer, replayed). A concurrent first
        use of the key blocks on its primary key until the other transaction ends, so every
        caller sees the one stake."""
        with self.engine.begin() as conn:
            stored = _reserve(conn, request, now)
            if stored is not None:
                return stored, True
            conn.execute(stakes.insert().values(id=uuid.UUID(stake.id), created_at=stake.created_at,
                                                **_values(stake, now)))
            answer = {"stake_id": stake.id}
            _answer(conn, request, answer)
        return answer, False

    def put_action(self, request: RequestKey | None, action: PreparedAction, now: datetime) -> tuple[str, bool]:
        """Store a prepared claim/unstake (the latest of its kind wins): (action id, replayed)."""
        with self.engine.begin() as conn:
            if request is not None:
                stored = _reserve(conn, request, now)
                if stored is not None:
                    return str(stored["action_id"]), True
            values = {"id": uuid.UUID(action.id), "transaction": action.transaction.to_json(),
                      "payout_wei": action.payout_wei, "penalty_wei": action.penalty_wei, "early": action.early,
                      "tx_hash": None, "state": "prepared", "failure_reason": "", "created_at": now}
            conn.execute(insert(actions).values(stake_id=uuid.UUID(action.stake_id), kind=action.kind.value,
                                                **values)
                         .on_conflict_do_update(index_elements=["stake_id", "kind"], set_=values))
            if request is not None:
                _answer(conn, request, {"stake_id": action.stake_id, "action_id": action.id})
        return action.id, False

    def mark_open_submitted(self, stake_id: str, tx_hash: str, now: datetime) -> None:
        """The staker's stake() is on its way (or already opened: then nothing changes)."""
        with self.engine.begin() as conn:
            conn.execute(update(stakes).where(stakes.c.id == uuid.UUID(stake_id),
                                              stakes.c.status.in_(("pending", "failed")),
                                              stakes.c.vault_stake_id.is_(None))
                         .values(tx_hash=tx_hash, status="pending", failure_reason="", updated_at=now))

    def mark_action_submitted(self, action_id: str, tx_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(actions).where(actions.c.id == uuid.UUID(action_id))
                         .values(tx_hash=tx_hash, state="submitted", failure_reason=""))

    def fail_pending(self, stake_id: str, reason: str, now: datetime, *, tx_hash: str | None = None) -> bool:
        """A pending stake FAILED with the reason (only if still pending and, when named, still
        waiting on that transaction)."""
        conds = [stakes.c.id == uuid.UUID(stake_id), stakes.c.status == "pending"]
        if tx_hash is not None:
            conds.append(stakes.c.tx_hash == tx_hash)
        with self.engine.begin() as conn:
            done = conn.execute(update(stakes).where(*conds).values(
                status="failed", failure_reason=reason, updated_at=now).returning(stakes.c.id)).first()
        return done is not None

    def settle_action(self, action_id: str, tx_hash: str, state: str, reason: str = "") -> None:
        """A handed-in claim/unstake was mined ("confirmed") or reverted ("failed", with why)."""
        with self.engine.begin() as conn:
            conn.execute(update(actions).where(actions.c.id == uuid.UUID(action_id), actions.c.tx_hash == tx_hash)
                         .values(state=state, failure_reason=reason))

    def due_pending(self, now: datetime, limit: int) -> builtins.list[Stake]:
        """Pending stakes to follow: handed in (their transaction), or lapsed unpaid."""
        with self._reads.connect() as conn:
            rows = conn.execute(select(stakes).where(
                stakes.c.status == "pending", or_(stakes.c.tx_hash.is_not(None), stakes.c.expires_at <= now))
                .order_by(stakes.c.updated_at).limit(limit)).all()
        return [_to_domain(r) for r in rows]

    def touch(self, stake_ids: builtins.list[str], now: datetime) -> None:
        """Pending stakes just followed go to the back of the queue (no stake starves the rest)."""
        if stake_ids:
            with self.engine.begin() as conn:
                conn.execute(update(stakes).where(stakes.c.id.in_([uuid.UUID(i) for i in stake_ids]),
                                                  stakes.c.status == "pending").values(updated_at=now))

    def submitted_actions(self, limit: int) -> builtins.list[PreparedAction]:
        """Handed-in claims/unstakes of stakes still open (a revert is recorded on the action)."""
        with self._reads.connect() as conn:
            rows = conn.execute(select(actions).join(stakes, stakes.c.id == actions.c.stake_id).where(
                actions.c.state == "submitted")
                .order_by(actions.c.created_at).limit(limit)).all()
        return [_action(r) for r in rows]

    def mature_due(self, now: datetime, limit: int) -> int:
        """Record maturity of active stakes past their end time (locked, skipping rows another
        replica holds), each with stake.matured; returns how many."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(stakes).where(stakes.c.status == "active", stakes.c.end_time <= now)
                .order_by(stakes.c.end_time).limit(limit).with_for_update(skip_locked=True)).all()
            for row in rows:
                stake = _to_domain(row)
                conn.execute(update(stakes).where(stakes.c.id == row.id).values(status="matured", updated_at=now))
                events.emit(conn, "stake.matured", domain.actor_of(stake),
                            domain.stake_payload(stake, StakeStatus.MATURED))
        return len(rows)

    def purge_idempotency_keys(self, older_than: datetime, limit: int) -> int:
        """Forget answered keys older than the retention window (a bounded batch per call)."""
        old = (
            select(idempotency_keys.c.user_id, idempotency_keys.c.key)
            .where(idempotency_keys.c.created_at < older_than)
            .limit(limit).with_for_update(skip_locked=True).subquery()
        )
        with self.engine.begin() as conn:
            result = conn.execute(delete(idempotency_keys).where(
                tuple_(idempotency_keys.c.user_id, idempotency_keys.c.key).in_(select(old.c.user_id, old.c.key))))
        return int(result.rowcount or 0)

    # -- the vault's events -------------------------------------------------

    def apply_opened(self, ev: VaultOpened, new_id: str, asset_id: str, now: datetime) -> str | None:
        """The vault opened a stake: the pending stake of its quote becomes ACTIVE with the vault's
        figures, or (opened on the vault directly) a stake of origin "chain" is recorded; then the
        claims/closes that arrived before it are applied; stake.opened. Returns the stake id
        (None when the event was applied before)."""
        with self.engine.begin() as conn:
            _lock_vault_stake(conn, ev.vault_stake_id)
            if not _first(conn, ev.ref, ev.vault_stake_id, ev.__dict__):
                return None
            existing = conn.execute(select(stakes).where(stakes.c.vault_stake_id == ev.vault_stake_id)).first()
            if existing is not None:  # the same opening under another event id: nothing new
                _applied(conn, ev.ref.event_id, {"stake_id": str(existing.id), "noop": True})
                return str(existing.id)
            row = conn.execute(select(stakes).where(stakes.c.quote_hash == ev.quote_hash,
                                                    stakes.c.vault_stake_id.is_(None)).with_for_update()).first()
            if row is not None:
                prev = _to_domain(row)
                stake = domain.activate(prev, ev)
                conn.execute(update(stakes).where(stakes.c.id == row.id).values(**_values(stake, now)))
                effect: dict[str, Any] = {"stake_id": stake.id, "created": False, "prev_status": prev.status.value,
                                          "prev_failure_reason": prev.failure_reason}
            else:
                stake = domain.chain_stake(new_id, asset_id, ev, now)
                conn.execute(stakes.insert().values(id=uuid.UUID(stake.id), created_at=now, **_values(stake, now)))
                effect = {"stake_id": stake.id, "created": True}
            events.emit(conn, "stake.opened", domain.actor_of(stake), domain.stake_payload(stake))
            _applied(conn, ev.ref.event_id, effect)
            waiting = conn.execute(select(applied).where(
                applied.c.vault_stake_id == ev.vault_stake_id, applied.c.applied.is_(False),
                applied.c.reverted.is_(False)).order_by(applied.c.block_number, applied.c.log_index)).all()
            for w in waiting:
                if w.event_type == "chain.stake.claimed":
                    _claim(conn, domain.claimed_of(str(w.event_id), w.payload), now)
                elif w.event_type == "chain.stake.closed":
                    _close(conn, domain.closed_of(str(w.event_id), w.payload), now)
            return stake.id

    def apply_claimed(self, ev: VaultClaimed, now: datetime) -> None:
        """The vault paid a claim: claimed_wei grows by exactly what it paid; stake.claimed."""
        with self.engine.begin() as conn:
            _lock_vault_stake(conn, ev.vault_stake_id)
            if _first(conn, ev.ref, ev.vault_stake_id, ev.__dict__):
                _claim(conn, ev, now)

    def apply_closed(self, ev: VaultClosed, now: datetime) -> None:
        """The vault closed a stake: CLOSED with its payout and penalty; stake.closed."""
        with self.engine.begin() as conn:
            _lock_vault_stake(conn, ev.vault_stake_id)
            if _first(conn, ev.ref, ev.vault_stake_id, ev.__dict__):
                _close(conn, ev, now)

    def revert(self, event_id: str, undone_id: str, now: datetime) -> None:
        """A reorg took an event's block away: undo exactly what it changed (an opening: the
        pending stake is pending again, a chain-origin one failed; a claim: claimed_wei back; a
        close: the stake open again). An event not yet seen is marked so it never applies."""
        with self.engine.begin() as conn:
            if conn.execute(insert(applied).values(
                    event_id=uuid.UUID(event_id), event_type="chain.event.reverted", payload={"undone": undone_id},
                    applied=True).on_conflict_do_nothing().returning(applied.c.event_id)).first() is None:
                return
            row = conn.execute(select(applied).where(applied.c.event_id == uuid.UUID(undone_id))
                               .with_for_update()).first()
            if row is None:
                conn.execute(insert(applied).values(event_id=uuid.UUID(undone_id), event_type="unknown", payload={},
                                                    reverted=True))
                return
            if row.reverted:
                return
            conn.execute(update(applied).where(applied.c.event_id == row.event_id).values(reverted=True))
            if not row.applied or row.event_type == "chain.event.reverted":
                return
            effect = row.effect or {}
            if effect.get("noop") or not effect.get("stake_id"):
                return
            sid = uuid.UUID(effect["stake_id"])
            if row.event_type == "chain.stake.opened":
                if effect.get("created"):
                    values: dict[str, Any] = {"status": "failed", "vault_stake_id": None, "quote_hash": None,
                                              "failure_reason": "the opening was undone by a chain reorganisation"}
                else:
                    values = {"status": "pending", "vault_stake_id": None,
                              "failure_reason": effect.get("prev_failure_reason", "")}
                conn.execute(update(stakes).where(stakes.c.id == sid).values(updated_at=now, **values))
            elif row.event_type == "chain.stake.claimed":
                amount = int(row.payload["amount_wei"])
                conn.execute(update(stakes).where(stakes.c.id == sid).values(
                    claimed_wei=stakes.c.claimed_wei - amount,
                    rewards_claimed=stakes.c.rewards_claimed - from_wei(amount),
                    total_rewards_earned=stakes.c.total_rewards_earned - from_wei(amount), updated_at=now))
            elif row.event_type == "chain.stake.closed":
                paid = int(row.payload["rewards_paid_wei"])
                conn.execute(update(stakes).where(stakes.c.id == sid).values(
                    status=effect.get("prev_status", "active"), payout_wei=None, penalty_wei=None, early=None,
                    payout=None, penalty=None, closed_at=None, rewards_paid_wei=0,
                    total_rewards_earned=stakes.c.total_rewards_earned - from_wei(paid), updated_at=now))


def _lock_vault_stake(conn: Connection, vault_stake_id: int) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(:k, :id)"),
                 {"k": _VAULT_STAKE_LOCK, "id": vault_stake_id % (2**31)})


def _first(conn: Connection, ref: domain.ChainEventRef, vault_stake_id: int, fields: dict[str, Any]) -> bool:
    """Record the event once (not yet applied); False when it was seen before."""
    payload = {k: (v if isinstance(v, str | bool) or v is None else str(v)) for k, v in fields.items() if k != "ref"}
    payload.update({"stake_id": str(vault_stake_id), "tx_hash": ref.tx_hash})
    return conn.execute(insert(applied).values(
        event_id=uuid.UUID(ref.event_id), event_type=ref.event_type, vault_stake_id=vault_stake_id,
        block_number=ref.block_number, log_index=ref.log_index, payload=payload, applied=False)
        .on_conflict_do_nothing().returning(applied.c.event_id)).first() is not None


def _applied(conn: Connection, event_id: str, effect: dict[str, Any]) -> None:
    conn.execute(update(applied).where(applied.c.event_id == uuid.UUID(event_id)).values(applied=True,
                                                                                         effect=effect))


def _stake_of_vault(conn: Connection, vault_stake_id: int) -> Stake | None:
    row = conn.execute(select(stakes).where(stakes.c.vault_stake_id == vault_stake_id).with_for_update()).first()
    return _to_domain(row) if row else None


def _claim(conn: Connection, ev: VaultClaimed, now: datetime) -> None:
    stake = _stake_of_vault(conn, ev.vault_stake_id)
    if stake is None:
        return  # waits for its stake's opening
    claimed = stake.claimed_wei + ev.amount_wei
    after = replace(stake, claimed_wei=claimed)
    conn.execute(update(stakes).where(stakes.c.id == uuid.UUID(stake.id)).values(
        claimed_wei=claimed, rewards_claimed=from_wei(claimed),
        total_rewards_earned=from_wei(claimed + stake.rewards_paid_wei), last_reward_calculation=now,
        updated_at=now))
    events.emit(conn, "stake.claimed", domain.actor_of(stake), {
        **domain.stake_payload(after), "claimed": money_str(from_wei(ev.amount_wei)),
        "rewards_claimed": money_str(from_wei(claimed)), "claimed_wei": str(ev.amount_wei),
        "tx_hash": ev.ref.tx_hash})
    _applied(conn, ev.ref.event_id, {"stake_id": stake.id})


def _close(conn: Connection, ev: VaultClosed, now: datetime) -> None:
    stake = _stake_of_vault(conn, ev.vault_stake_id)
    if stake is None:
        return  # waits for its stake's opening
    if stake.status is StakeStatus.ACTIVE and not ev.early:
        events.emit(conn, "stake.matured", domain.actor_of(stake), domain.stake_payload(stake, StakeStatus.MATURED))
    closed_at = ev.ref.block_time or now
    after = replace(stake, status=StakeStatus.CLOSED, payout_wei=ev.paid_wei, penalty_wei=ev.penalty_wei,
                    early=ev.early, rewards_paid_wei=ev.rewards_paid_wei, closed_at=closed_at)
    conn.execute(update(stakes).where(stakes.c.id == uuid.UUID(stake.id)).values(**_values(after, now)))
    principal_returned = ev.paid_wei - ev.rewards_paid_wei
    events.emit(conn, "stake.closed", domain.actor_of(stake), {
        **domain.stake_payload(after), "early": ev.early,
        "principal_returned": money_str(from_wei(principal_returned)),
        "rewards_paid": money_str(from_wei(ev.rewards_paid_wei)), "rewards_forfeited": "0",
        "penalty": money_str(from_wei(ev.penalty_wei)), "payout": money_str(from_wei(ev.paid_wei)),
        "payout_wei": str(ev.paid_wei), "penalty_wei": str(ev.penalty_wei), "tx_hash": ev.ref.tx_hash})
    _applied(conn, ev.ref.event_id, {"stake_id": stake.id, "prev_status": stake.status.value})


def _answer(conn: Connection, request: RequestKey, answer: dict[str, Any]) -> None:
    conn.execute(update(idempotency_keys).where(
        idempotency_keys.c.user_id == request.user_id, idempotency_keys.c.key == request.key).values(response=answer))


def _reserve(conn: Connection, request: RequestKey, now: datetime) -> dict[str, Any] | None:
    """Claim the request's key in this transaction: None when new, else the earlier answer."""
    inserted = conn.execute(
        insert(idempotency_keys)
        .values(user_id=request.user_id, key=request.key, operation=request.operation,
                request_hash=request.fingerprint, created_at=now)
        .on_conflict_do_nothing().returning(idempotency_keys.c.key)
    ).first()
    if inserted is not None:
        return None
    row = conn.execute(
        select(idempotency_keys.c.operation, idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
            idempotency_keys.c.user_id == request.user_id, idempotency_keys.c.key == request.key)).one()
    domain.check_replay(request, row.operation, row.request_hash)
    return dict(row.response or {})

