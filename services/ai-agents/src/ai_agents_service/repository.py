"""SQL of the ai_agents schema: trained market models and orchestrated analyses. Every
method is sync, runs one transaction (or one read) and is called through `run_db`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from ipheron_libs import db, events
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    bindparam,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ai_agents_service.config import SCHEMA
from ai_agents_service.domain import AssetInput, SaleFlag, asset_from_json, asset_to_json
from ai_agents_service.market_data import TradeFact

if TYPE_CHECKING:
    from ai_agents_service.market import TypeModel

MAE = Numeric(30, 9)


class Base(DeclarativeBase):
    pass


class ModelVersion(Base):
    """One trained market model (per asset type) and how it validated on held-out days."""

    __tablename__ = "model_versions"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    asset_type: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[str] = mapped_column(String(96), unique=True)
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rows: Mapped[int] = mapped_column(Integer)
    holdout_days: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))
    mae_volume: Mapped[Decimal] = mapped_column(MAE)
    baseline_mae_volume: Mapped[Decimal] = mapped_column(MAE)
    mae_price: Mapped[Decimal] = mapped_column(MAE)
    baseline_mae_price: Mapped[Decimal] = mapped_column(MAE)


class AnalysisRow(Base):
    """The orchestrator's answer for an asset (from asset.created or a request)."""

    __tablename__ = "analyses"
    __table_args__ = {"schema": SCHEMA}

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    asset_id: Mapped[str] = mapped_column(String(128), index=True)
    event_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    suggested_price: Mapped[Decimal | None] = mapped_column(Numeric(36, 18), nullable=True)
    risk_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sentiment: Mapped[str] = mapped_column(String(16), default="")
    failures: Mapped[Any] = mapped_column(JSON, default=list)
    # The AnalyzeResponse as protobuf JSON (convert.analysis_document): what the API reads back.
    detail: Mapped[Any] = mapped_column(JSON, nullable=True)
    # The asset as analysed (domain.asset_to_json), to re-run it.
    features: Mapped[Any] = mapped_column(JSON, nullable=True)
    owner_user_id: Mapped[str] = mapped_column(String(128), default="")
    trigger: Mapped[str] = mapped_column(String(32), default="asset.created")


class SaleFlagRow(Base):
    """A risk flag on one recorded sale: its own (at recording) or a later sale's retroactive one."""

    __tablename__ = "sale_flags"
    __table_args__ = (UniqueConstraint("sale_id", "rule", name="uq_sale_flags_sale_rule"), {"schema": SCHEMA})

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    sale_id: Mapped[str] = mapped_column(String(200))
    asset_id: Mapped[str] = mapped_column(String(128))
    seller_wallet: Mapped[str] = mapped_column(String(64))
    buyer_wallet: Mapped[str] = mapped_column(String(64))
    price: Mapped[Decimal] = mapped_column(Numeric(36, 18))
    sold_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rule: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    retroactive: Mapped[bool] = mapped_column(Boolean)
    revealed_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cycle_wallets: Mapped[Any] = mapped_column(JSON)
    kb_version: Mapped[str] = mapped_column(String(64), default="")


class TradeRow(Base):
    """A recorded sale (asset.sold) as the wash-trading and velocity rules see it."""

    __tablename__ = "trades"
    __table_args__ = {"schema": SCHEMA}

    sale_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(128))
    seller_wallet: Mapped[str] = mapped_column(String(64))
    buyer_wallet: Mapped[str] = mapped_column(String(64))
    price: Mapped[Decimal] = mapped_column(Numeric(36, 18))
    sold_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class StoredAnalysis:
    """One stored orchestrator run on a registered asset."""

    asset_id: str
    created_at: datetime
    trigger: str
    owner_user_id: str
    asset: AssetInput | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class StoredModel:
    """A stored model version and its validation errors (MAE) against the naive forecast."""

    asset_type: str
    version: str
    trained_at: datetime
    rows: int
    holdout_days: int
    source: str
    mae_volume: Decimal
    baseline_mae_volume: Decimal
    mae_price: Decimal
    baseline_mae_price: Decimal


def _dec(value: float) -> Decimal:
    return Decimal(str(round(value, 9)))


class Repository:
    """Sync SQLAlchemy Core on the service's engine; call through run_db from async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Single-statement writes need no BEGIN/COMMIT round trips (one statement is atomic).
        self.autocommit = db.autocommit(engine)

    def record_models(self, models: Sequence[TypeModel], source: str, holdout_days: int) -> int:
        if not models:
            return 0
        rows = [{
            "id": uuid.uuid4(), "asset_type": m.asset_type, "version": m.version, "trained_at": m.trained_at,
            "rows": m.rows, "holdout_days": holdout_days, "source": source,
            "mae_volume": _dec(m.targets["sales"].mae), "baseline_mae_volume": _dec(m.targets["sales"].baseline_mae),
            "mae_price": _dec(m.targets["avg_price"].mae),
            "baseline_mae_price": _dec(m.targets["avg_price"].baseline_mae),
        } for m in models]
        with self.engine.begin() as conn:
            conn.execute(insert(ModelVersion), rows)
        return len(rows)

    def latest_models(self) -> dict[str, StoredModel]:
        """The newest stored model per asset type."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(ModelVersion.__table__).order_by(ModelVersion.trained_at)).mappings().all()
        return {r["asset_type"]: StoredModel(
            asset_type=r["asset_type"], version=r["version"], trained_at=r["trained_at"], rows=r["rows"],
            holdout_days=r["holdout_days"], source=r["source"], mae_volume=r["mae_volume"],
            baseline_mae_volume=r["baseline_mae_volume"], mae_price=r["mae_price"],
            baseline_mae_price=r["baseline_mae_price"]) for r in rows}

    def record_analysis(self, asset_id: str, event_id: str, at: datetime, suggested: Decimal | None,
                        risk_score: int | None, sentiment: str, failures: list[dict[str, str]],
                        consumer: str | None = None, *, detail: dict[str, Any] | None = None,
                        asset: AssetInput | None = None, owner_user_id: str = "",
                        trigger: str = "asset.created") -> bool:
        """Store one analysis; with `consumer`, only on the event's first delivery (same transaction)."""
        with self.engine.begin() as conn:
            if consumer is not None and not events.first_delivery(conn, consumer, event_id):
                return False
            conn.execute(insert(AnalysisRow).values(
                id=uuid.uuid4(), asset_id=asset_id, event_id=event_id, created_at=at, suggested_price=suggested,
                risk_score=risk_score, sentiment=sentiment, failures=failures, detail=detail,
                features=asset_to_json(asset) if asset is not None else None, owner_user_id=owner_user_id,
                trigger=trigger))
        return True

    def latest_analysis(self, asset_id: str) -> tuple[StoredAnalysis | None, int]:
        """The newest stored analysis of an asset with its full answer, and how many runs are stored."""
        table = AnalysisRow.__table__
        with self.engine.connect() as conn:
            runs = conn.execute(select(func.count()).select_from(table)
                                .where(AnalysisRow.asset_id == asset_id)).scalar_one()
            row = conn.execute(select(table).where(AnalysisRow.asset_id == asset_id, AnalysisRow.detail.is_not(None))
                               .order_by(AnalysisRow.created_at.desc()).limit(1)).mappings().first()
        if row is None:
            return None, int(runs)
        asset = asset_from_json(row["features"]) if row["features"] else None
        return StoredAnalysis(row["asset_id"], row["created_at"], row["trigger"], row["owner_user_id"], asset,
                              row["detail"]), int(runs)

    def features_of(self, asset_ids: Sequence[str]) -> dict[str, AssetInput]:
        """The asset as last analysed, for each of the ids that has a stored analysis."""
        out: dict[str, AssetInput] = {}
        ids = sorted(set(asset_ids))
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 1000):
                rows = conn.execute(select(AnalysisRow.asset_id, AnalysisRow.features)
                                    .where(AnalysisRow.asset_id.in_(ids[start:start + 1000]),
                                           AnalysisRow.features.is_not(None))
                                    .order_by(AnalysisRow.asset_id, AnalysisRow.created_at.desc())
                                    .distinct(AnalysisRow.asset_id)).all()
                out.update({r.asset_id: asset_from_json(r.features) for r in rows})
        return out

    def set_owner(self, asset_id: str, owner_user_id: str) -> int:
        """Record a new owner (asset.sold, asset.transferred) on the asset's stored analyses; returns
        the rows changed (a sale's two events name the same owner: the second writes nothing)."""
        with self.autocommit.connect() as conn:
            result = conn.execute(_SET_OWNER, {"b_asset_id": asset_id, "owner": owner_user_id})
        return int(result.rowcount)

    def analyses_of(self, asset_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(AnalysisRow.__table__).where(AnalysisRow.asset_id == asset_id)
                                .order_by(AnalysisRow.created_at)).mappings().all()
        return [dict(r) for r in rows]

    # -- sale flags

    def record_sales(self, trades: Sequence[TradeFact], flags: Sequence[SaleFlag]) -> list[SaleFlag]:
        """Store recorded sales (once per sale id) and their flags in one transaction; returns
        the flags newly stored (see `record_sale_flags`)."""
        rows = [{"sale_id": t.key, "asset_id": t.asset_id, "seller_wallet": t.seller, "buyer_wallet": t.buyer,
                 "price": t.price, "sold_at": t.at} for t in trades if t.at is not None]
        # Without flags it is one statement, atomic by itself (most sales carry none).
        with (self.engine.begin() if flags else self.autocommit.connect()) as conn:
            if rows:
                conn.execute(_INSERT_TRADES, rows)
            return _record_flags(conn, flags)

    def record_sale_flags(self, flags: Sequence[SaleFlag]) -> list[SaleFlag]:
        """Store flags once (idempotent per sale and rule); returns the ones newly stored.

        A retroactive wash flag is not added to a sale that already holds a wash flag (its
        own from when it was recorded, or an earlier retroactive one): the ring was already
        seen on that sale.
        """
        with self.engine.begin() as conn:
            return _record_flags(conn, flags)

    def recent_trades(self, since: datetime, limit: int) -> list[TradeFact]:
        """The recorded sales since `since`, oldest first (the newest `limit` of them)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(TradeRow.__table__).where(TradeRow.sold_at >= since)
                                .order_by(TradeRow.sold_at.desc(), TradeRow.sale_id.desc()).limit(limit)).all()
        return [TradeFact(r.asset_id, r.seller_wallet, r.buyer_wallet, Decimal(r.price), r.sold_at, r.sale_id)
                for r in reversed(rows)]

    def sale_flags_of(self, asset_id: str, limit: int = 200) -> list[SaleFlag]:
        """The flags stored on an asset's sales, oldest sale first (at most `limit`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(SaleFlagRow.__table__).where(SaleFlagRow.asset_id == asset_id)
                                .order_by(SaleFlagRow.sold_at, SaleFlagRow.rule).limit(limit)).mappings().all()
        return [_sale_flag(r) for r in rows]

    def all_sale_flags(self) -> list[SaleFlag]:
        """Every stored flag (the evaluation reads what the system persisted)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(SaleFlagRow.__table__).order_by(SaleFlagRow.sold_at)).mappings().all()
        return [_sale_flag(r) for r in rows]


def _sale_flag(r: Any) -> SaleFlag:
    return SaleFlag(r["sale_id"], r["asset_id"], r["seller_wallet"], r["buyer_wallet"], Decimal(r["price"]),
                    r["sold_at"], r["rule"], r["points"], r["explanation"], r["retroactive"], r["revealed_by"],
                    r["decided_at"], tuple(r["cycle_wallets"] or ()), r["kb_version"])


_analyses, _trades = cast(Table, AnalysisRow.__table__), cast(Table, TradeRow.__table__)
# Built once (statement construction and cache keys are a share of a sale's handling).
_SET_OWNER = (update(_analyses)
              .where(_analyses.c.asset_id == bindparam("b_asset_id"),
                     _analyses.c.owner_user_id.is_distinct_from(bindparam("owner")))
              .values(owner_user_id=bindparam("owner")))
_INSERT_TRADES = pg_insert(_trades).on_conflict_do_nothing(index_elements=["sale_id"])


def _record_flags(conn: Connection, flags: Sequence[SaleFlag]) -> list[SaleFlag]:
    """Insert flags not stored yet (see `Repository.record_sale_flags`); returns the new ones."""
    stored: list[SaleFlag] = []
    for f in flags:
        if f.retroactive and f.rule.startswith("wash") and conn.execute(select(exists().where(and_(
                SaleFlagRow.sale_id == f.sale_id, SaleFlagRow.rule.like("wash%"))))).scalar_one():
            continue
        inserted = conn.execute(pg_insert(SaleFlagRow).values(
            id=uuid.uuid4(), sale_id=f.sale_id, asset_id=f.asset_id, seller_wallet=f.seller, buyer_wallet=f.buyer,
            price=f.price, sold_at=f.sold_at, rule=f.rule, points=f.points, explanation=f.explanation,
            retroactive=f.retroactive, revealed_by=f.revealed_by, decided_at=f.decided_at,
            cycle_wallets=list(f.wallets), kb_version=f.kb_version,
        ).on_conflict_do_nothing(constraint="uq_sale_flags_sale_rule").returning(SaleFlagRow.id)).first()
        if inserted is not None:
            stored.append(f)
    return stored
