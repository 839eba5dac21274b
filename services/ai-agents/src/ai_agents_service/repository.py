"""SQL of the ai_agents schema: trained market models and orchestrated analyses. Every
method is sync, runs one transaction (or one read) and is called through `run_db`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ipheron_libs import events
from sqlalchemy import JSON, DateTime, Engine, Integer, Numeric, String, Uuid, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ai_agents_service.config import SCHEMA

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
                        consumer: str | None = None) -> bool:
        """Store one analysis; with `consumer`, only on the event's first delivery (same transaction)."""
        with self.engine.begin() as conn:
            if consumer is not None and not events.first_delivery(conn, consumer, event_id):
                return False
            conn.execute(insert(AnalysisRow).values(
                id=uuid.uuid4(), asset_id=asset_id, event_id=event_id, created_at=at, suggested_price=suggested,
                risk_score=risk_score, sentiment=sentiment, failures=failures))
        return True

    def analyses_of(self, asset_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(AnalysisRow.__table__).where(AnalysisRow.asset_id == asset_id)
                                .order_by(AnalysisRow.created_at)).mappings().all()
        return [dict(r) for r in rows]
