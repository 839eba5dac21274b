"""The chain schema: contract deployments, every transaction the signer sent (the
provenance source), the embedded chain's journal and snapshots, and small key/value metadata.

SQL only. Sync SQLAlchemy 2.0, one transaction (or one autocommit read) per method; async
callers go through `ipheron_libs.db.run_db`. Rows leave as the domain's frozen records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from ipheron_libs import db
from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from chain_service.domain import FAILED, PENDING, REPLACED, ChainSnapshot, JournalItem, Mined, Transaction

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
    """One transaction sent by the platform signer, with its outcome (read as `domain.Transaction`)."""

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
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class WithdrawRelay(Base):
    """When the platform last paid the gas of a payee's withdrawal (the cooldown's clock)."""

    __tablename__ = "withdraw_relays"
    payee: Mapped[str] = mapped_column(String(42), primary_key=True)
    last_relay_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JournalEntry(Base):
    """A signed raw transaction applied to the embedded chain, in order, with its block time."""

    __tablename__ = "journal"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    # The block the transaction went into (NULL: an older entry, mined alone in its block).
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
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


def _wei(value: Decimal | None) -> int | None:
    return None if value is None else int(value)


def transaction_of(row: TxRecord) -> Transaction:
    """A row as the domain's record (wei as int)."""
    return Transaction(
        tx_hash=row.tx_hash, chain_id=row.chain_id, from_address=row.from_address, to_address=row.to_address,
        nonce=row.nonce, type=row.type, gas_limit=row.gas_limit, max_fee_per_gas=int(row.max_fee_per_gas),
        max_priority_fee_per_gas=int(row.max_priority_fee_per_gas), status=row.status, asset_id=row.asset_id,
        token_id=row.token_id, counterparty=row.counterparty, amount_wei=int(row.amount_wei or 0),
        gas_used=row.gas_used, gas_price_wei=_wei(row.gas_price_wei), block_number=row.block_number,
        block_hash=row.block_hash, block_time=row.block_time, error=row.error, replaced_by=row.replaced_by,
        idempotency_key=row.idempotency_key, request_hash=row.request_hash, details=dict(row.details or {}),
        created_at=row.created_at,
    )


# On-chain history (domain.is_provenance) in SQL: no replaced records, no failed ones outside a block.
_TX_TABLE = cast(Table, TxRecord.__table__)
_INSERT_TX = insert(_TX_TABLE).returning(_TX_TABLE.c.created_at)
_INSERT_TX_UNLESS_KNOWN = insert(_TX_TABLE).on_conflict_do_nothing(index_elements=[_TX_TABLE.c.tx_hash]).returning(
    _TX_TABLE.c.created_at)
_PROVENANCE = (TxRecord.status != REPLACED, or_(TxRecord.status != FAILED, TxRecord.block_number.is_not(None)))


class ChainRepository:
    """All SQL of the chain service (sync; one short transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Read-only methods read through the same pool in autocommit: at READ COMMITTED each
        # statement takes its own snapshot inside a transaction too, so a read-only transaction
        # only added its BEGIN and ROLLBACK round trips.
        self.reader = db.autocommit(engine)

    # --- metadata -------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with Session(self.reader) as s:
            row = s.get(Meta, key)
            return row.value if row else None

    def set_meta_if_absent(self, key: str, value: str) -> str:
        """Store a value once; return whichever value is stored (first writer wins)."""
        with Session(self.engine) as s, s.begin():
            s.execute(insert(Meta).values(key=key, value=value).on_conflict_do_nothing())
            return s.execute(select(Meta.value).where(Meta.key == key)).scalar_one()

    # --- deployments ----------------------------------------------------------------
    def find_deployment(self, chain_id: int, name: str, code_hash: str) -> str | None:
        """The address of the newest deployment of this code on this chain."""
        with Session(self.reader) as s:
            return s.execute(
                select(Deployment.address)
                .where(Deployment.chain_id == chain_id, Deployment.name == name, Deployment.code_hash == code_hash)
                .order_by(Deployment.id.desc())
            ).scalars().first()

    def save_deployment(self, chain_id: int, name: str, address: str, code_hash: str, tx_hash: str | None) -> None:
        stmt = insert(Deployment).values(
            chain_id=chain_id, name=name, address=address, code_hash=code_hash, tx_hash=tx_hash
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["chain_id", "name", "code_hash"], set_={"address": address, "tx_hash": tx_hash}
        )
        with Session(self.engine) as s, s.begin():
            s.execute(stmt)

    # --- withdraw relays (the platform pays a payee's withdrawal gas, once per cooldown) ----
    def claim_withdraw_relay(self, payees: Sequence[str], decide: Callable[[dict[str, datetime | None], datetime],
                                                                           None]) -> datetime:
        """Lock the payees' relay rows, let `decide(last relay per payee, now)` refuse (it
        raises), then stamp them all with now (the database clock). Returns now."""
        with Session(self.engine) as s, s.begin():
            now = s.execute(select(func.now())).scalar_one()
            s.execute(insert(WithdrawRelay).values([{"payee": p, "last_relay_at": datetime.fromtimestamp(0, now.tzinfo)}
                                                    for p in payees]).on_conflict_do_nothing())
            rows = s.execute(select(WithdrawRelay).where(WithdrawRelay.payee.in_(list(payees)))
                             .order_by(WithdrawRelay.payee).with_for_update()).scalars().all()
            last = {r.payee: (r.last_relay_at if r.last_relay_at.timestamp() > 0 else None) for r in rows}
            decide(last, now)
            for r in rows:
                r.last_relay_at = now
            return now

    def release_withdraw_relay(self, payees: Sequence[str], stamped: datetime) -> None:
        """Undo a claim whose withdrawal was never sent (only rows still holding that stamp)."""
        with Session(self.engine) as s, s.begin():
            s.execute(delete(WithdrawRelay).where(WithdrawRelay.payee.in_(list(payees)),
                                                  WithdrawRelay.last_relay_at == stamped))

    # --- transactions: writes -------------------------------------------------------
    def insert_tx(self, tx: Transaction) -> Transaction:
        """Record a transaction (before it is sent); the record as stored, its `created_at` from the
        INSERT's RETURNING (no read after it; returning the whole row cost more than the insert)."""
        stored = self._insert_tx(tx, unless_known=False)
        assert stored is not None
        return stored

    def insert_tx_unless_known(self, tx: Transaction) -> Transaction | None:
        """`insert_tx`, or None (nothing written) when a record of the same hash exists: a user's
        transaction handed in again costs the one statement, and a new one no read before it."""
        return self._insert_tx(tx, unless_known=True)

    def _insert_tx(self, tx: Transaction, *, unless_known: bool) -> Transaction | None:
        row = dict(
            tx_hash=tx.tx_hash, chain_id=tx.chain_id, from_address=tx.from_address, to_address=tx.to_address,
            nonce=tx.nonce, type=tx.type, status=tx.status, asset_id=tx.asset_id, token_id=tx.token_id,
            counterparty=tx.counterparty, amount_wei=Decimal(tx.amount_wei), gas_limit=tx.gas_limit,
            max_fee_per_gas=Decimal(tx.max_fee_per_gas), max_priority_fee_per_gas=Decimal(tx.max_priority_fee_per_gas),
            gas_used=tx.gas_used, gas_price_wei=None if tx.gas_price_wei is None else Decimal(tx.gas_price_wei),
            block_number=tx.block_number, block_hash=tx.block_hash, block_time=tx.block_time, error=tx.error,
            replaced_by=tx.replaced_by, idempotency_key=tx.idempotency_key, request_hash=tx.request_hash,
            details=dict(tx.details),
        )
        # One statement in autocommit (no BEGIN/COMMIT round trips), prebuilt: building an INSERT
        # of 25 values for each call cost more than sending it.
        with self.reader.connect() as conn:
            created = conn.execute(_INSERT_TX_UNLESS_KNOWN if unless_known else _INSERT_TX, row).scalar_one_or_none()
        return None if created is None else replace(tx, created_at=created)

    def _update(self, tx_hash: str, **values: object) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(update(TxRecord).where(TxRecord.tx_hash == tx_hash).values(**values))

    def record_mined(self, tx_hash: str, mined: Mined) -> None:
        """Store a receipt's outcome."""
        self._update(tx_hash, status=mined.status, gas_used=mined.gas_used,
                     gas_price_wei=Decimal(mined.gas_price_wei), block_number=mined.block_number,
                     block_hash=mined.block_hash, block_time=mined.block_time, error=mined.error)

    def mark_failed(self, tx_hash: str, error: str) -> None:
        """A transaction that will never be mined (rejected by the node, or dropped)."""
        self._update(tx_hash, status=FAILED, error=error)

    def mark_replaced(self, tx_hash: str, replaced_by: str) -> None:
        self._update(tx_hash, status=REPLACED, replaced_by=replaced_by)

    def set_to_address(self, tx_hash: str, address: str) -> None:
        """A deployment's contract address."""
        self._update(tx_hash, to_address=address)

    def set_token_id(self, tx_hash: str, token_id: int) -> None:
        self._update(tx_hash, token_id=token_id)

    def set_amount(self, tx_hash: str, amount_wei: int) -> None:
        self._update(tx_hash, amount_wei=Decimal(amount_wei))

    def release_idempotency_key(self, tx_hash: str) -> None:
        """Free the key of an attempt that moved no money; the record stays for audit."""
        self._update(tx_hash, idempotency_key=None)

    # --- transactions: reads --------------------------------------------------------
    def get_tx(self, tx_hash: str) -> Transaction | None:
        with Session(self.reader) as s:
            row = s.execute(select(TxRecord).where(TxRecord.tx_hash == tx_hash.lower())).scalar_one_or_none()
            return None if row is None else transaction_of(row)

    def get_by_idempotency_key(self, key: str) -> Transaction | None:
        with Session(self.reader) as s:
            row = s.execute(select(TxRecord).where(TxRecord.idempotency_key == key)).scalar_one_or_none()
            return None if row is None else transaction_of(row)

    def find_asset_tx(self, asset_id: uuid.UUID, type_: str) -> Transaction | None:
        """The confirmed transaction of a type for an asset (e.g. its mint)."""
        with Session(self.reader) as s:
            row = s.execute(
                select(TxRecord)
                .where(TxRecord.asset_id == asset_id, TxRecord.type == type_, TxRecord.status == "confirmed")
                .order_by(TxRecord.id)
            ).scalars().first()
            return None if row is None else transaction_of(row)

    def pending_txs(self) -> list[Transaction]:
        with Session(self.engine) as s:
            rows = s.execute(select(TxRecord).where(TxRecord.status == PENDING).order_by(TxRecord.id)).scalars()
            return [transaction_of(r) for r in rows]

    def list_txs(self, *, asset_id: uuid.UUID | None, token_id: int | None, address: str | None,
                 offset: int, limit: int) -> tuple[list[Transaction], int]:
        """On-chain history (see `domain.is_provenance`) oldest first, one page, and the total."""
        cond = list(_PROVENANCE)
        if asset_id is not None:
            cond.append(TxRecord.asset_id == asset_id)
        if token_id is not None:
            cond.append(TxRecord.token_id == token_id)
        if address is not None:
            cond.append(or_(TxRecord.from_address == address, TxRecord.to_address == address,
                            TxRecord.counterparty == address))
        with Session(self.reader) as s:
            total = s.execute(select(func.count()).select_from(TxRecord).where(*cond)).scalar_one()
            rows = s.execute(
                select(TxRecord).where(*cond)
                .order_by(TxRecord.block_number.asc().nulls_last(), TxRecord.id.asc())
                .offset(offset).limit(limit)
            ).scalars()
            return [transaction_of(r) for r in rows], int(total)

    # --- journal and snapshots (embedded chain) -------------------------------------
    def journal_append(self, tx_hash: str, raw_tx: bytes, block_timestamp: int, block_number: int | None = None) -> int:
        with Session(self.engine) as s, s.begin():
            entry = JournalEntry(tx_hash=tx_hash, raw_tx=raw_tx, block_timestamp=block_timestamp,
                                 block_number=block_number)
            s.add(entry)
            s.flush()
            return entry.seq

    def journal_append_many(self, entries: Sequence[tuple[str, bytes, int, int]]) -> int:
        """One block's entries (tx hash, raw tx, block time, block number) in one transaction,
        in order; returns the last seq."""
        with Session(self.engine) as s, s.begin():
            rows = [JournalEntry(tx_hash=h, raw_tx=raw, block_timestamp=ts, block_number=n)
                    for h, raw, ts, n in entries]
            s.add_all(rows)
            s.flush()
            return max(int(r.seq) for r in rows)

    def journal_discard(self, seq: int) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(delete(JournalEntry).where(JournalEntry.seq == seq))

    def journal_entries(self, after_seq: int = 0, batch: int = 500) -> list[JournalItem]:
        with self.engine.connect() as c:
            rows = c.execute(
                select(JournalEntry.seq, JournalEntry.raw_tx, JournalEntry.block_timestamp, JournalEntry.block_number)
                .where(JournalEntry.seq > after_seq).order_by(JournalEntry.seq).limit(batch)
            ).all()
            return [JournalItem(int(r[0]), bytes(r[1]), int(r[2]), None if r[3] is None else int(r[3])) for r in rows]

    def save_snapshot(self, journal_seq: int, head_block: int, state_root: str, data: bytes) -> None:
        """Keep only the newest snapshot (each one holds the whole chain)."""
        with Session(self.engine) as s, s.begin():
            s.add(Snapshot(journal_seq=journal_seq, head_block=head_block, state_root=state_root, data=data))
            s.flush()
            s.execute(delete(Snapshot).where(Snapshot.journal_seq < journal_seq))

    def latest_snapshot(self) -> ChainSnapshot | None:
        with Session(self.engine) as s:
            row = s.execute(
                select(Snapshot).order_by(Snapshot.journal_seq.desc(), Snapshot.id.desc())
            ).scalars().first()
            if row is None:
                return None
            return ChainSnapshot(row.id, row.journal_seq, row.head_block, row.state_root, bytes(row.data))

    def latest_snapshot_seq(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.coalesce(func.max(Snapshot.journal_seq), 0))).scalar_one())

    def journal_count(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(JournalEntry)).scalar_one())
