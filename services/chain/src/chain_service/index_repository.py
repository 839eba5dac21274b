"""The event indexer's tables: its checkpoint, the blocks it indexed (with their hashes, to see
a reorg) and every contract event it indexed, with the domain event each one published.

SQL only. Sync SQLAlchemy 2.0, one transaction per method, called through `run_db`. The
domain events go to the chain schema's outbox (`ipheron_libs.events.emit`) in the same
transaction as the rows they describe, so an event is published exactly when it is indexed
(and a compensating one exactly when it is undone).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from ipheron_libs import events
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Index,
    String,
    Table,
    UniqueConstraint,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from chain_service.index_rules import (
    ACTOR,
    EVENT_REVERTED,
    BlockHeader,
    BlockRef,
    Checkpoint,
    EventKey,
    IndexedEvent,
    StoredEvent,
    Undo,
)
from chain_service.repository import Base


class IndexCheckpoint(Base):
    """Per chain: the last block the indexer indexed and the block it began at."""

    __tablename__ = "index_checkpoints"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    start_block: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IndexedBlock(Base):
    """A block the indexer read: every block holding an event, and the last of each range."""

    __tablename__ = "indexed_blocks"
    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(66))
    parent_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    has_events: Mapped[bool] = mapped_column(Boolean, default=False)
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IndexedEventRow(Base):
    """One contract log, once per (block hash, tx hash, log index); `removed` once a reorg undid it."""

    __tablename__ = "indexed_events"
    __table_args__ = (
        UniqueConstraint("chain_id", "block_hash", "tx_hash", "log_index", name="uq_indexed_events_position"),
        Index("ix_indexed_events_block", "chain_id", "block_number"),
        Index("ix_indexed_events_tx_hash", "tx_hash"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    event: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JSONB)
    domain_type: Mapped[str] = mapped_column(String(64))
    domain_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reverted_event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


_EVENTS = cast(Table, IndexedEventRow.__table__)
_INSERT_EVENTS = (insert(_EVENTS).on_conflict_do_nothing(constraint="uq_indexed_events_position")
                  .returning(_EVENTS.c.block_hash, _EVENTS.c.tx_hash, _EVENTS.c.log_index))


@dataclass(frozen=True)
class Applied:
    """What one range write did: whether the checkpoint moved, and the events it published."""

    advanced: bool
    published: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndexedRecord:
    """An indexed event as stored (for reads and tests)."""

    event: StoredEvent
    removed: bool
    reverted_event_id: str | None


def _checkpoint(row: IndexCheckpoint) -> Checkpoint:
    return Checkpoint(row.block_number, row.block_hash, row.start_block)


def _lower(key: EventKey) -> EventKey:
    """A position as stored (hashes in lower case)."""
    return EventKey(key.block_hash.lower(), key.tx_hash.lower(), key.log_index)


def _stored(row: IndexedEventRow) -> StoredEvent:
    return StoredEvent(key=EventKey(row.block_hash, row.tx_hash, row.log_index), block_number=row.block_number,
                       contract=row.contract, event=row.event, domain_type=row.domain_type,
                       domain_event_id=str(row.domain_event_id) if row.domain_event_id else None,
                       payload=row.payload)


class IndexRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- reads ----------------------------------------------------------------------
    def checkpoint(self, chain_id: int) -> Checkpoint | None:
        with Session(self.engine) as s:
            row = s.get(IndexCheckpoint, chain_id)
            return _checkpoint(row) if row is not None else None

    def deployment_block(self, addresses: Sequence[str]) -> int | None:
        """The first block holding one of our deployments of these contracts (None: not ours)."""
        from chain_service.repository import TxRecord

        with Session(self.engine) as s:
            found = s.execute(select(func.min(TxRecord.block_number)).where(
                TxRecord.type == "deploy", TxRecord.status == "confirmed",
                func.lower(TxRecord.to_address).in_([a.lower() for a in addresses]))).scalar_one_or_none()
            return int(found) if found is not None else None

    def stored_blocks(self, chain_id: int, at_or_below: int, limit: int) -> list[BlockRef]:
        """Stored blocks at or below a height, newest first (the walk back of a reorg)."""
        with Session(self.engine) as s:
            rows = s.execute(select(IndexedBlock.number, IndexedBlock.hash)
                             .where(IndexedBlock.chain_id == chain_id, IndexedBlock.number <= at_or_below)
                             .order_by(IndexedBlock.number.desc()).limit(limit)).all()
            return [BlockRef(int(r.number), r.hash) for r in rows]

    def events(self, chain_id: int, *, tx_hash: str | None = None, include_removed: bool = True) -> list[IndexedRecord]:
        """Indexed events in chain order (by transaction when given)."""
        with Session(self.engine) as s:
            q = select(IndexedEventRow).where(IndexedEventRow.chain_id == chain_id)
            if tx_hash is not None:
                q = q.where(IndexedEventRow.tx_hash == tx_hash.lower())
            if not include_removed:
                q = q.where(IndexedEventRow.removed.is_(False))
            rows = s.execute(q.order_by(IndexedEventRow.block_number, IndexedEventRow.log_index,
                                        IndexedEventRow.id)).scalars().all()
            return [IndexedRecord(_stored(r), r.removed, str(r.reverted_event_id) if r.reverted_event_id else None)
                    for r in rows]

    def page_events(self, chain_id: int, *, domain_type: str | None, token_id: int | None, offset: int,
                    limit: int) -> tuple[list[tuple[StoredEvent, str]], int]:
        """Indexed events not undone by a reorg, oldest first, with their tx hash; and the total."""
        with Session(self.engine) as s:
            where = [IndexedEventRow.chain_id == chain_id, IndexedEventRow.removed.is_(False)]
            if domain_type:
                where.append(IndexedEventRow.domain_type == domain_type)
            if token_id:
                where.append(IndexedEventRow.payload["token_id"].astext == str(token_id))
            total = s.execute(select(func.count()).select_from(IndexedEventRow).where(*where)).scalar_one()
            rows = s.execute(select(IndexedEventRow).where(*where)
                             .order_by(IndexedEventRow.block_number, IndexedEventRow.log_index, IndexedEventRow.id)
                             .offset(offset).limit(limit)).scalars().all()
            return [(_stored(r), r.tx_hash) for r in rows], int(total)

    def recorded_state(self, chain_id: int, at_or_below: int) -> tuple[dict[int, str], list[tuple[str, int]],
                                                                        list[tuple[str, int]]]:
        """What the indexer recorded up to a block: the last owner of each token (its last
        transfer), every credit and every successful withdrawal (payee, wei)."""
        with Session(self.engine) as s:
            rows = s.execute(select(IndexedEventRow.domain_type, IndexedEventRow.payload)
                             .where(IndexedEventRow.chain_id == chain_id, IndexedEventRow.removed.is_(False),
                                    IndexedEventRow.block_number <= at_or_below,
                                    IndexedEventRow.domain_type.in_(["chain.transfer", "chain.credit",
                                                                     "chain.withdrawal"]))
                             .order_by(IndexedEventRow.block_number, IndexedEventRow.log_index)).all()
        owners: dict[int, str] = {}
        credits: list[tuple[str, int]] = []
        withdrawals: list[tuple[str, int]] = []
        for domain_type, payload in rows:
            if domain_type == "chain.transfer":
                owners[int(payload["token_id"])] = str(payload["to"])
            elif domain_type == "chain.credit":
                credits.append((str(payload["payee"]), int(payload["amount_wei"])))
            elif payload.get("succeeded"):
                withdrawals.append((str(payload["payee"]), int(payload["amount_wei"])))
        return owners, credits, withdrawals

    def recorded_stakes(self, chain_id: int, at_or_below: int) -> dict[int, tuple[str, int, int, bool]]:
        """Each vault stake as the indexer recorded it up to a block: (staker, principal, rewards
        paid so far (claims and the unstake's), closed)."""
        with Session(self.engine) as s:
            rows = s.execute(select(IndexedEventRow.domain_type, IndexedEventRow.payload)
                             .where(IndexedEventRow.chain_id == chain_id, IndexedEventRow.removed.is_(False),
                                    IndexedEventRow.block_number <= at_or_below,
                                    IndexedEventRow.domain_type.in_(["chain.stake.opened", "chain.stake.claimed",
                                                                     "chain.stake.closed"]))
                             .order_by(IndexedEventRow.block_number, IndexedEventRow.log_index)).all()
        out: dict[int, tuple[str, int, int, bool]] = {}
        for domain_type, payload in rows:
            stake_id = int(payload["stake_id"])
            if domain_type == "chain.stake.opened":
                out[stake_id] = (str(payload["staker"]), int(payload["amount_wei"]), 0, False)
                continue
            staker, amount, paid, closed = out.get(stake_id, (str(payload["staker"]), 0, 0, False))
            if domain_type == "chain.stake.claimed":
                out[stake_id] = (staker, amount, paid + int(payload["amount_wei"]), closed)
            else:
                out[stake_id] = (staker, amount, paid + int(payload["rewards_paid_wei"]), True)
        return out

    # --- writes ---------------------------------------------------------------------
    @staticmethod
    def _lock(s: Session, chain_id: int, expected: Checkpoint | None, start_block: int) -> IndexCheckpoint | None:
        """The checkpoint row, locked, when it is still `expected` (another indexer may have moved it)."""
        if expected is None:
            created = s.execute(insert(IndexCheckpoint).values(
                chain_id=chain_id, block_number=start_block - 1, block_hash=None, start_block=start_block)
                .on_conflict_do_nothing().returning(IndexCheckpoint.chain_id)).first()
            if created is None:
                return None
        row = s.execute(select(IndexCheckpoint).where(IndexCheckpoint.chain_id == chain_id)
                        .with_for_update()).scalar_one_or_none()
        if row is None or (expected is not None and (row.block_number, row.block_hash) != (expected.number,
                                                                                             expected.hash)):
            return None
        return row

    def apply_range(self, chain_id: int, expected: Checkpoint | None, start_block: int,
                    blocks: Sequence[BlockHeader], items: Sequence[IndexedEvent], tip: BlockHeader,
                    keep_from: int) -> Applied:
        """Store a confirmed range: its events (each once: a key seen before is skipped), the
        domain event of each new one, the blocks and the new checkpoint, in one transaction."""
        with Session(self.engine) as s, s.begin():
            row = self._lock(s, chain_id, expected, start_block)
            if row is None:
                return Applied(advanced=False)
            # One statement for the range's events and one for their domain events: each event's
            # domain event id is chosen up front, and only the rows that were new get one. The
            # rows go as the parameters of one fixed statement (SQLAlchemy's insertmanyvalues
            # sends them as one multi-row INSERT), whose compilation is cached: a VALUES clause
            # built from the rows was compiled anew for every range.
            published: list[str] = []
            if items:
                ids = {item.key: str(uuid.uuid4()) for item in items}
                new = {EventKey(r.block_hash, r.tx_hash, r.log_index) for r in s.execute(_INSERT_EVENTS, [dict(
                    chain_id=chain_id, block_number=item.block_number, block_hash=item.key.block_hash.lower(),
                    tx_hash=item.key.tx_hash.lower(), log_index=item.key.log_index, contract=item.contract,
                    event=item.event, args=dict(item.args), domain_type=item.domain_type,
                    payload=dict(item.payload), removed=False, domain_event_id=uuid.UUID(ids[item.key]))
                    for item in items])}
                fresh = []
                for item in items:  # in order, each new position once
                    key = _lower(item.key)
                    if key in new:
                        new.discard(key)
                        fresh.append(item)
                published = [ev.id for ev in events.emit_many(
                    s, [(item.domain_type, ACTOR, dict(item.payload), ids[item.key]) for item in fresh])]
            with_events = {i.block_number for i in items}
            for b in {b.number: b for b in [*blocks, tip]}.values():
                values = {"hash": b.hash.lower(), "parent_hash": b.parent_hash.lower(),
                          "block_time": datetime.fromtimestamp(b.timestamp, UTC),
                          "has_events": b.number in with_events}
                s.execute(insert(IndexedBlock).values(chain_id=chain_id, number=b.number, **values)
                          .on_conflict_do_update(index_elements=["chain_id", "number"], set_=values))
            s.execute(delete(IndexedBlock).where(IndexedBlock.chain_id == chain_id, IndexedBlock.number < keep_from,
                                                 IndexedBlock.has_events.is_(False)))
            row.block_number, row.block_hash, row.updated_at = tip.number, tip.hash.lower(), datetime.now(UTC)
            return Applied(advanced=True, published=tuple(published))

    def rewind(self, chain_id: int, expected: Checkpoint, ancestor: BlockRef | None,
               decide: Callable[[Sequence[StoredEvent], int], Sequence[Undo]]) -> list[Undo]:
        """Undo a reorg: lock the checkpoint, mark removed the events `decide` names (those above
        the common ancestor) with a compensating event each, forget the orphaned blocks and
        move the checkpoint back to the ancestor (None: to before the start block)."""
        with Session(self.engine) as s, s.begin():
            row = self._lock(s, chain_id, expected, expected.start_block)
            if row is None:
                return []
            number = ancestor.number if ancestor is not None else row.start_block - 1
            rows = s.execute(select(IndexedEventRow).where(
                IndexedEventRow.chain_id == chain_id, IndexedEventRow.block_number > number,
                IndexedEventRow.removed.is_(False)).with_for_update()).scalars().all()
            by_key = {EventKey(r.block_hash, r.tx_hash, r.log_index): r for r in rows}
            undos = list(decide([_stored(r) for r in rows], number))
            now = datetime.now(UTC)
            for undo in undos:
                target = by_key[undo.key]
                ev = events.emit(s, EVENT_REVERTED, ACTOR, dict(undo.payload))
                target.removed, target.removed_at, target.reverted_event_id = True, now, uuid.UUID(ev.id)
            s.execute(delete(IndexedBlock).where(IndexedBlock.chain_id == chain_id, IndexedBlock.number > number))
            row.block_number = number
            row.block_hash = ancestor.hash.lower() if ancestor is not None else None
            row.updated_at = now
            return undos
