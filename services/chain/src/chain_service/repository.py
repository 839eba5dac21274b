"""The chain schema: contract deployments, every transaction the signer sent (the
provenance source), the embedded chain's journal, and small key/value metadata.

Sync SQLAlchemy 2.0; async callers go through `ipheron_libs.db.run_db`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

SCHEMA = "chain"
WEI = Numeric(78, 0)  # uint256 fits in 78 decimal digits


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)


class Meta(Base):
    """Small facts that must survive restarts (e.g. the embedded chain's genesis time)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Deployment(Base):
    """A contract the service deployed (or was told to use) on one chain."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("chain_id", "name", "code_hash"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(42))
    code_hash: Mapped[str] = mapped_column(String(64))
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TxRecord(Base):
    """One transaction sent by the platform signer, with its outcome."""

    __tablename__ = "transactions"
    __table_args__ = (
        Index("ix_transactions_asset_id", "asset_id"),
        Index("ix_transactions_token_id", "token_id"),
        Index("ix_transactions_status", "status"),
        Index("ix_transactions_from_nonce", "from_address", "nonce"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    from_address: Mapped[str] = mapped_column(String(42))
    to_address: Mapped[str | None] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    asset_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    token_id: Mapped[int | None] = mapped_column(BigInteger)
    counterparty: Mapped[str | None] = mapped_column(String(42))
    amount_wei: Mapped[Decimal] = mapped_column(WEI, default=0)
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[Decimal] = mapped_column(WEI)
    max_priority_fee_per_gas: Mapped[Decimal] = mapped_column(WEI)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    gas_price_wei: Mapped[Decimal | None] = mapped_column(WEI)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    block_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    replaced_by: Mapped[str | None] = mapped_column(String(66))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class JournalEntry(Base):
    """A signed raw transaction applied to the embedded chain, in order, with its block time."""

    __tablename__ = "journal"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Snapshot(Base):
    """The embedded EVM's whole database after journal entry `journal_seq` (zlib-compressed),
    so a restart replays only the journal tail."""

    __tablename__ = "snapshots"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    journal_seq: Mapped[int] = mapped_column(BigInteger)
    head_block: Mapped[int] = mapped_column(BigInteger)
    state_root: Mapped[str] = mapped_column(String(66))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass(frozen=True)
class Page:
    items: list[TxRecord]
    total: int


class ChainRepository:
    """All SQL of the chain service (sync; one short transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- metadata -------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with Session(self.engine) as s:
            row = s.get(Meta, key)
            return row.value if row else None

    def set_meta_if_absent(self, key: str, value: str) -> str:
        """Store a value once; return whichever value is stored (first writer wins)."""
        from sqlalchemy.dialects.postgresql import insert

        with Session(self.engine) as s, s.begin():
            s.execute(insert(Meta).values(key=key, value=value).on_conflict_do_nothing())
            return s.execute(select(Meta.value).where(Meta.key == key)).scalar_one()

    # --- deployments ----------------------------------------------------------------
    def find_deployment(self, chain_id: int, name: str, code_hash: str) -> Deployment | None:
        with Session(self.engine) as s:
            return s.execute(
                select(Deployment)
                .where(Deployment.chain_id == chain_id, Deployment.name == name, Deployment.code_hash == code_hash)
                .order_by(Deployment.id.desc())
            ).scalars().first()

    def save_deployment(self, chain_id: int, name: str, address: str, code_hash: str, tx_hash: str | None) -> None:
        from sqlalchemy.dialects.postgresql import insert

        stmt = insert(Deployment).values(
            chain_id=chain_id, name=name, address=address, code_hash=code_hash, tx_hash=tx_hash
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["chain_id", "name", "code_hash"], set_={"address": address, "tx_hash": tx_hash}
        )
        with Session(self.engine) as s, s.begin():
            s.execute(stmt)

    # --- transactions ---------------------------------------------------------------
    def insert_tx(self, **fields: Any) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(TxRecord(**fields))

    def update_tx(self, tx_hash: str, **fields: Any) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(update(TxRecord).where(TxRecord.tx_hash == tx_hash).values(**fields))

    def get_tx(self, tx_hash: str) -> TxRecord | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.execute(select(TxRecord).where(TxRecord.tx_hash == tx_hash.lower())).scalar_one_or_none()

    def get_by_idempotency_key(self, key: str) -> TxRecord | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.execute(select(TxRecord).where(TxRecord.idempotency_key == key)).scalar_one_or_none()

    def find_asset_tx(self, asset_id: uuid.UUID, type_: str) -> TxRecord | None:
        """The confirmed transaction of a type for an asset (e.g. its mint)."""
        with Session(self.engine, expire_on_commit=False) as s:
            return s.execute(
                select(TxRecord)
                .where(TxRecord.asset_id == asset_id, TxRecord.type == type_, TxRecord.status == "confirmed")
                .order_by(TxRecord.id)
            ).scalars().first()

    def pending_txs(self) -> list[TxRecord]:
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.execute(select(TxRecord).where(TxRecord.status == "pending").order_by(TxRecord.id)).scalars())

    def list_txs(self, *, asset_id: uuid.UUID | None, token_id: int | None, address: str | None,
                 offset: int, limit: int) -> Page:
        """Transactions oldest first (provenance order). Left out: replaced ones, and failed ones
        that never reached a block (rejected by the node or dropped), which never happened on chain."""
        cond = [TxRecord.status != "replaced",
                or_(TxRecord.status != "failed", TxRecord.block_number.is_not(None))]
        if asset_id is not None:
            cond.append(TxRecord.asset_id == asset_id)
        if token_id is not None:
            cond.append(TxRecord.token_id == token_id)
        if address is not None:
            cond.append(or_(TxRecord.from_address == address, TxRecord.to_address == address,
                            TxRecord.counterparty == address))
        with Session(self.engine, expire_on_commit=False) as s:
            total = s.execute(select(func.count()).select_from(TxRecord).where(*cond)).scalar_one()
            rows = s.execute(
                select(TxRecord).where(*cond)
                .order_by(TxRecord.block_number.asc().nulls_last(), TxRecord.id.asc())
                .offset(offset).limit(limit)
            ).scalars()
            return Page(items=list(rows), total=int(total))

    # --- journal --------------------------------------------------------------------
    def journal_append(self, tx_hash: str, raw_tx: bytes, block_timestamp: int) -> int:
        with Session(self.engine) as s, s.begin():
            entry = JournalEntry(tx_hash=tx_hash, raw_tx=raw_tx, block_timestamp=block_timestamp)
            s.add(entry)
            s.flush()
            return entry.seq

    def journal_discard(self, seq: int) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(delete(JournalEntry).where(JournalEntry.seq == seq))

    def journal_entries(self, after_seq: int = 0, batch: int = 500) -> list[tuple[int, bytes, int]]:
        with self.engine.connect() as c:
            rows = c.execute(
                select(JournalEntry.seq, JournalEntry.raw_tx, JournalEntry.block_timestamp)
                .where(JournalEntry.seq > after_seq).order_by(JournalEntry.seq).limit(batch)
            ).all()
            return [(int(r[0]), bytes(r[1]), int(r[2])) for r in rows]

    def save_snapshot(self, journal_seq: int, head_block: int, state_root: str, data: bytes) -> None:
        """Keep only the newest snapshot (each one holds the whole chain)."""
        with Session(self.engine) as s, s.begin():
            s.add(Snapshot(journal_seq=journal_seq, head_block=head_block, state_root=state_root, data=data))
            s.flush()
            s.execute(delete(Snapshot).where(Snapshot.journal_seq < journal_seq))

    def latest_snapshot(self) -> Snapshot | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.execute(select(Snapshot).order_by(Snapshot.journal_seq.desc(), Snapshot.id.desc())).scalars().first()

    def latest_snapshot_seq(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.coalesce(func.max(Snapshot.journal_seq), 0))).scalar_one())

    def journal_count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(JournalEntry)).scalar_one())


def utc_from_timestamp(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
