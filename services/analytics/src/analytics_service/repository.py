"""The "analytics" schema: facts fed by domain events and the daily roll-up.

* `assets`, `asset_creators` — what the analytics need to know about each asset
  (type, creators and their shares), from asset.created / asset.updated / asset.sold.
* `sales` — one row per sale (the fact table), `transfers`, `stakes`.
* `market_analytics` — one row per (date, asset_type or 'all'), recomputed from the
  facts for every day an event touches, so replays and late events converge to the
  same numbers (no incremental drift).
* `processed_events` (from ipheron_libs.events) makes consumption idempotent.

SQL only. `AnalyticsRepository`'s methods are synchronous and each run one
transaction (the service calls them with `ipheron_libs.db.run_db`) and return typed
records from domain.py. The module-level functions taking a `Connection` are the
statements those transactions are made of; the event consumer (consumer.py) runs
them inside its own one-transaction-per-event.

Tables are unqualified: the connection's search_path is the service's schema.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    case,
    delete,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.schema import Table

from analytics_service import domain
from analytics_service.domain import (
    ALL,
    UNKNOWN_TYPE,
    AssetFacts,
    AssetInfo,
    CreatorAsset,
    Creators,
    Day,
    HistoryPoint,
    OverviewTotals,
    Sale,
    SalesSummary,
    ScopeTotals,
    Sentiment,
    TopRow,
    Totals,
)

log = logging.getLogger("analytics_service")
AMOUNT = Numeric(36, 18)


class Base(DeclarativeBase):
    """Declarative base for the analytics schema."""


class AssetRow(Base):
    __tablename__ = "assets"
    __table_args__ = (Index("idx_assets_type", "asset_type"), Index("idx_assets_created_day", "created_day"))

    asset_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    asset_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    list_price: Mapped[Decimal | None] = mapped_column(AMOUNT, nullable=True)
    status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    region: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_day: Mapped[date | None] = mapped_column(Date, nullable=True)


class AssetCreatorRow(Base):
    __tablename__ = "asset_creators"
    __table_args__ = (Index("idx_asset_creators_creator", "creator_id"),)

    asset_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    creator_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    share_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))


class SaleRow(Base):
    __tablename__ = "sales"
    __table_args__ = (
        Index("idx_sales_day_type", "day", "asset_type"),
        Index("idx_sales_asset_time", "asset_id", "occurred_at"),
        Index("idx_sales_time", "occurred_at"),
    )

    sale_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(128))
    asset_type: Mapped[str] = mapped_column(String(32))
    price: Mapped[Decimal] = mapped_column(AMOUNT)
    currency: Mapped[str] = mapped_column(String(16))
    buyer_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    seller_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[date] = mapped_column(Date)


class TransferRow(Base):
    __tablename__ = "transfers"
    __table_args__ = (Index("idx_transfers_asset", "asset_id"),)

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StakeRow(Base):
    __tablename__ = "stakes"
    __table_args__ = (Index("idx_stakes_asset", "asset_id"), Index("idx_stakes_status", "status"))

    stake_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class MarketAnalyticsRow(Base):
    """The seed's daily market table, one row per day and asset type (or 'all')."""

    __tablename__ = "market_analytics"
    __table_args__ = (
        UniqueConstraint("date", "asset_type", name="uq_market_analytics_date_type"),
        Index("idx_analytics_date", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    date: Mapped[date] = mapped_column(Date)
    asset_type: Mapped[str] = mapped_column(String(32))
    total_volume: Mapped[Decimal] = mapped_column(AMOUNT)
    total_transactions: Mapped[int] = mapped_column(BigInteger)
    active_assets: Mapped[int] = mapped_column(BigInteger)
    active_creators: Mapped[int] = mapped_column(BigInteger)
    avg_asset_price: Mapped[Decimal] = mapped_column(AMOUNT)
    market_sentiment: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


assets = cast(Table, AssetRow.__table__)
asset_creators = cast(Table, AssetCreatorRow.__table__)
sales = cast(Table, SaleRow.__table__)
transfers = cast(Table, TransferRow.__table__)
stakes = cast(Table, StakeRow.__table__)
market = cast(Table, MarketAnalyticsRow.__table__)


class RollupPendingRow(Base):
    """A day whose market rows the roll-up job rebuilds next (queued by the stream consumer)."""

    __tablename__ = "rollup_pending"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


rollup_pending = cast(Table, RollupPendingRow.__table__)


# -- writes ---------------------------------------------------------------------


def upsert_asset(
    conn: Connection,
    asset_id: str,
    asset_type: str,
    *,
    name: str | None = None,
    list_price: Decimal | None = None,
    status: str | None = None,
    region: str | None = None,
    created_at: datetime | None = None,
) -> list[date]:
    """Record an asset's facts; returns the days whose roll-up this changes.

    Sales seen before the asset (events can arrive out of order) were filed under
    'unknown'; they move to the real type here.
    """
    created_day = created_at.date() if created_at else None
    values = {
        "asset_type": asset_type,
        "name": name,
        "list_price": list_price,
        "status": status,
        "region": region,
        "created_at": created_at,
        "created_day": created_day,
    }
    stmt = insert(assets).values(asset_id=asset_id, **values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[assets.c.asset_id],
            set_={k: func.coalesce(stmt.excluded[k], assets.c[k]) for k in values},
        )
    )
    moved = (
        conn.execute(
            update(sales)
            .where(sales.c.asset_id == asset_id, sales.c.asset_type != asset_type)
            .values(asset_type=asset_type)
            .returning(sales.c.day)
        )
        .scalars()
        .all()
    )
    days = set(moved)
    if created_day:
        days.add(created_day)
    return sorted(days)


def set_creators(conn: Connection, asset_id: str, creators: Iterable[tuple[str, Decimal]]) -> None:
    """Record creators and shares for an asset (first writer wins per creator)."""
    rows = [{"asset_id": asset_id, "creator_id": cid, "share_percent": share} for cid, share in creators]
    if rows:
        conn.execute(insert(asset_creators).values(rows).on_conflict_do_nothing())


# Built once, like the statements below: the consumer runs them for every sale, and building
# a statement (and its cache key) cost more than executing it.
_UPDATE_ASSET_STATUS = text(
    "UPDATE assets SET status = COALESCE(:status, status), list_price = COALESCE(CAST(:price AS numeric), list_price) "
    "WHERE asset_id = :asset_id")


def update_asset_status(conn: Connection, asset_id: str, status: str | None, price: Decimal | None) -> None:
    """Record what an asset.updated changed: a status and/or a list price (what is not given stays)."""
    if status or price is not None:
        conn.execute(_UPDATE_ASSET_STATUS, {"asset_id": asset_id, "status": status or None, "price": price})


# A sale takes its asset's known type; for an asset not seen yet (or still 'unknown') the sale's
# own type, recorded as a placeholder asset row. One statement: the asset row, the creators it
# names (as `set_creators`: first writer wins per creator) and the sale.
_INSERT_SALE = text("""
    WITH known AS (SELECT asset_type FROM assets WHERE asset_id = :asset_id),
    placed AS (
        INSERT INTO assets (asset_id, asset_type)
        SELECT :asset_id, :chosen WHERE NOT EXISTS (SELECT 1 FROM known WHERE asset_type <> :unknown)
        ON CONFLICT (asset_id) DO UPDATE SET asset_type = excluded.asset_type
        RETURNING asset_type
    ),
    named AS (
        INSERT INTO asset_creators (asset_id, creator_id, share_percent)
        SELECT :asset_id, c.id, c.share FROM jsonb_to_recordset(CAST(:creators AS jsonb)) AS c(id text, share numeric)
        ON CONFLICT DO NOTHING
    )
    INSERT INTO sales (sale_id, asset_id, asset_type, price, currency, buyer_id, seller_id, occurred_at, day)
    SELECT :sale_id, :asset_id, COALESCE((SELECT asset_type FROM placed), (SELECT asset_type FROM known)),
           CAST(:price AS numeric), :currency, :buyer_id, :seller_id, CAST(:occurred_at AS timestamptz),
           CAST(:day AS date)
    ON CONFLICT DO NOTHING
    RETURNING day
""")


def insert_sale(conn: Connection, sale: Sale, creators: Sequence[tuple[str, Decimal]] = ()) -> date | None:
    """Record a sale once (by sale_id), typed as `_INSERT_SALE` says, and the asset's `creators`;
    returns its day, or None for a duplicate."""
    day = sale.occurred_at.date()
    row = conn.execute(_INSERT_SALE, {
        # As JSON text (shares as decimal strings, exact): cheaper to bind than two arrays.
        "creators": json.dumps([{"id": c, "share": str(share)} for c, share in creators]),
        "asset_id": sale.asset_id, "chosen": sale.asset_type or UNKNOWN_TYPE, "unknown": UNKNOWN_TYPE,
        "sale_id": sale.sale_id, "price": sale.price, "currency": sale.currency, "buyer_id": sale.buyer_id,
        "seller_id": sale.seller_id, "occurred_at": sale.occurred_at, "day": day,
    }).first()
    return row.day if row else None


def insert_sales(conn: Connection, batch: Sequence[Sale], creators: Creators) -> list[date]:
    """Record many sales at once (idempotent by sale_id); returns the day of each new one.

    Set-based so bootstrapping thousands of sales costs a few statements, not a few per sale.
    """
    if not batch:
        return []
    ids = sorted({s.asset_id for s in batch})
    known = dict(conn.execute(select(assets.c.asset_id, assets.c.asset_type).where(assets.c.asset_id.in_(ids))).all())
    wanted: dict[str, str] = {}
    for sale in batch:
        if known.get(sale.asset_id) in (None, UNKNOWN_TYPE) and sale.asset_id not in wanted:
            wanted[sale.asset_id] = sale.asset_type or UNKNOWN_TYPE
    if wanted:
        stmt = insert(assets)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[assets.c.asset_id], set_={"asset_type": stmt.excluded.asset_type}
            ),
            [{"asset_id": a, "asset_type": t} for a, t in wanted.items()],
        )
        known.update(wanted)
    shares = [{"asset_id": a, "creator_id": c, "share_percent": p} for a, cs in creators.items() for c, p in cs]
    if shares:
        conn.execute(insert(asset_creators).on_conflict_do_nothing(), shares)
    rows = [
        {
            "sale_id": s.sale_id,
            "asset_id": s.asset_id,
            "asset_type": known[s.asset_id],
            "price": s.price,
            "currency": s.currency,
            "buyer_id": s.buyer_id,
            "seller_id": s.seller_id,
            "occurred_at": s.occurred_at,
            "day": s.occurred_at.date(),
        }
        for s in batch
    ]
    return list(conn.execute(insert(sales).values(rows).on_conflict_do_nothing().returning(sales.c.day)).scalars())


_INSERT_TRANSFERS = text("""
    INSERT INTO transfers (event_id, asset_id, occurred_at)
    SELECT event_id, asset_id, occurred_at
    FROM jsonb_to_recordset(CAST(:moved AS jsonb)) AS t(event_id text, asset_id text, occurred_at timestamptz)
    ON CONFLICT DO NOTHING
""")


def insert_transfers(conn: Connection, moved: Sequence[tuple[str, str, datetime]]) -> None:
    """Record transfers once each, (event id, asset id, when), in one statement."""
    if moved:
        conn.execute(_INSERT_TRANSFERS, {"moved": json.dumps(
            [{"event_id": e, "asset_id": a, "occurred_at": at.isoformat()} for e, a, at in moved])})


def upsert_stake(
    conn: Connection,
    stake_id: str,
    asset_id: str,
    user_id: str,
    amount: Decimal,
    status: str,
    opened_at: datetime,
    closed_at: datetime | None = None,
) -> None:
    """Record a stake's latest known state; a stake only moves forward (active -> matured -> closed)."""
    stmt = insert(stakes).values(
        stake_id=stake_id,
        asset_id=asset_id,
        user_id=user_id,
        amount=amount,
        status=status,
        opened_at=opened_at,
        closed_at=closed_at,
    )
    rank = {"active": 1, "matured": 2, "closed": 3}
    old = case(*((stakes.c.status == k, v) for k, v in rank.items()), else_=0)
    new = case(*((stmt.excluded.status == k, v) for k, v in rank.items()), else_=0)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[stakes.c.stake_id],
            set_={
                "status": case((new > old, stmt.excluded.status), else_=stakes.c.status),
                "closed_at": func.coalesce(stakes.c.closed_at, stmt.excluded.closed_at),
            },
        )
    )


# -- the daily roll-up ---------------------------------------------------------

# Facts for every (day, asset type) and (day, 'all') of the touched days, in one
# pass each: GROUPING SETS gives the per-type rows and the market-wide row together.
# "Active" means an asset created or sold that day; its creators are the active creators.
_ACTIVE = """
    WITH active AS (
        SELECT day, asset_type, asset_id FROM sales WHERE day = ANY(:days)
        UNION
        SELECT created_day, asset_type, asset_id FROM assets WHERE created_day = ANY(:days)
    )
"""
_SALES_FACTS = text("""
    SELECT day, COALESCE(asset_type, 'all') AS asset_type, SUM(price) AS volume, COUNT(*) AS n
    FROM sales WHERE day = ANY(:days)
    GROUP BY GROUPING SETS ((day, asset_type), (day))
""")
_ASSET_FACTS = text(
    _ACTIVE
    + """
    SELECT day, COALESCE(asset_type, 'all') AS asset_type, COUNT(DISTINCT asset_id) AS n
    FROM active GROUP BY GROUPING SETS ((day, asset_type), (day))
"""
)
_CREATOR_FACTS = text(
    _ACTIVE
    + """
    SELECT a.day, COALESCE(a.asset_type, 'all') AS asset_type, COUNT(DISTINCT c.creator_id) AS n
    FROM active a JOIN asset_creators c ON c.asset_id = a.asset_id
    GROUP BY GROUPING SETS ((a.day, a.asset_type), (a.day))
"""
)


_QUEUE_ROLL_UP = text("INSERT INTO rollup_pending (day) SELECT CAST(d AS date) "
                      "FROM jsonb_array_elements_text(CAST(:days AS jsonb)) AS d ON CONFLICT (day) DO NOTHING")


def queue_roll_up(conn: Connection, days: Iterable[date]) -> None:
    """Queue days for the roll-up job, in the caller's transaction (each day once)."""
    touched = sorted(set(days))
    if touched:
        conn.execute(_QUEUE_ROLL_UP, {"days": json.dumps([d.isoformat() for d in touched])})


def roll_up_queued(conn: Connection, now: datetime, limit: int = 366) -> int:
    """Rebuild the queued days (taken with SKIP LOCKED, so replicas share the queue) and
    dequeue them, in the caller's transaction; returns how many days were rebuilt."""
    days = [r.day for r in conn.execute(select(rollup_pending.c.day).order_by(rollup_pending.c.day)
                                        .limit(limit).with_for_update(skip_locked=True))]
    if days:
        roll_up(conn, days, [], now)
        conn.execute(delete(rollup_pending).where(rollup_pending.c.day.in_(days)))
    return len(days)


def roll_up(conn: Connection, days: Iterable[date], asset_ids: Iterable[str], now: datetime) -> None:
    """Rebuild the market_analytics rows of the touched days from the facts (idempotent).

    Every (day, type) with facts is written, and so is every existing row of those
    days (a type whose sales moved away drops to zero). Then sentiment is re-rated
    for those days and the week after them, whose baseline they are.
    """
    del asset_ids  # the touched days already cover every asset the change involved
    touched = sorted(set(days))
    if not touched:
        return
    params = {"days": touched}
    rows: dict[tuple[date, str], dict[str, Any]] = {}

    def row(day: date, asset_type: str) -> dict[str, Any]:
        return rows.setdefault(
            (day, asset_type),
            {
                "date": day,
                "asset_type": asset_type,
                "total_volume": Decimal(0),
                "total_transactions": 0,
                "active_assets": 0,
                "active_creators": 0,
            },
        )

    for day in touched:
        row(day, ALL)
    for r in conn.execute(select(market.c.date, market.c.asset_type).where(market.c.date.in_(touched))):
        row(r.date, r.asset_type)
    for r in conn.execute(_SALES_FACTS, params):
        entry = row(r.day, r.asset_type)
        entry["total_volume"], entry["total_transactions"] = Decimal(r.volume), int(r.n)
    for r in conn.execute(_ASSET_FACTS, params):
        row(r.day, r.asset_type)["active_assets"] = int(r.n)
    for r in conn.execute(_CREATOR_FACTS, params):
        row(r.day, r.asset_type)["active_creators"] = int(r.n)
    values = [
        {
            **v,
            "avg_asset_price": domain.divide(v["total_volume"], v["total_transactions"]),
            "market_sentiment": Sentiment.NEUTRAL.value,
            "created_at": now,
            "updated_at": now,
        }
        for v in rows.values()
    ]
    stmt = insert(market)
    conn.execute(
        stmt.on_conflict_do_update(
            constraint="uq_market_analytics_date_type",
            set_={
                c: stmt.excluded[c]
                for c in (
                    "total_volume",
                    "total_transactions",
                    "active_assets",
                    "active_creators",
                    "avg_asset_price",
                    "updated_at",
                )
            },
        ),
        values,
    )
    _rate_sentiment(conn, touched, {t for _, t in rows})


def _rate_sentiment(conn: Connection, touched: list[date], types: set[str]) -> None:
    """Set each row's sentiment from its volume and the 7 days before it (missing days are 0)."""
    window = timedelta(days=domain.SENTIMENT_WINDOW_DAYS)
    first, last = touched[0] - window, touched[-1] + window
    vols: dict[str, dict[date, Decimal]] = defaultdict(dict)
    current: dict[tuple[date, str], str] = {}
    for r in conn.execute(
        select(market.c.date, market.c.asset_type, market.c.total_volume, market.c.market_sentiment).where(
            market.c.asset_type.in_(types), market.c.date >= first, market.c.date <= last
        )
    ):
        vols[r.asset_type][r.date] = Decimal(r.total_volume)
        current[(r.date, r.asset_type)] = r.market_sentiment
    affected = {d + timedelta(days=i) for d in touched for i in range(domain.SENTIMENT_WINDOW_DAYS + 1)}
    changes = []
    for (day, asset_type), old in current.items():
        if day not in affected:
            continue
        by_day = vols[asset_type]
        previous = [by_day.get(day - timedelta(days=i), Decimal(0)) for i in range(1, domain.SENTIMENT_WINDOW_DAYS + 1)]
        mood = domain.sentiment(by_day[day], previous).value
        if mood != old:
            changes.append({"d": day, "t": asset_type, "s": mood})
    if changes:
        conn.execute(
            text("UPDATE market_analytics SET market_sentiment = :s WHERE date = :d AND asset_type = :t"), changes
        )


# -- reads (statements) -------------------------------------------------------------


def _sales_scope(asset_type: str) -> list[Any]:
    return [] if asset_type == ALL else [sales.c.asset_type == asset_type]


def _sales_totals(conn: Connection, asset_type: str, since: datetime | None, until: datetime | None = None) -> Totals:
    conds = _sales_scope(asset_type)
    if since is not None:
        conds.append(sales.c.occurred_at >= since)
    if until is not None:
        conds.append(sales.c.occurred_at < until)
    volume, count = conn.execute(select(func.coalesce(func.sum(sales.c.price), 0), func.count()).where(*conds)).one()
    return Totals(Decimal(volume), int(count))


def _week_before_24h(conn: Connection, asset_type: str, now: datetime) -> Totals:
    """The 7 days before the last 24 hours (the baseline of the current sentiment)."""
    start = now - timedelta(days=domain.SENTIMENT_WINDOW_DAYS + 1)
    return _sales_totals(conn, asset_type, start, now - timedelta(hours=24))


def _type_volumes(conn: Connection, since: datetime) -> dict[str, Decimal]:
    rows = conn.execute(
        select(sales.c.asset_type, func.sum(sales.c.price))
        .where(sales.c.occurred_at >= since)
        .group_by(sales.c.asset_type)
    ).all()
    return {r[0]: Decimal(r[1]) for r in rows}


def _staking_totals(conn: Connection, asset_type: str = ALL, asset_id: str | None = None) -> tuple[Decimal, int]:
    """(value staked, stakes) over stakes not yet closed."""
    conds = [stakes.c.status != "closed"]
    if asset_id:
        conds.append(stakes.c.asset_id == asset_id)
    if asset_type != ALL:
        conds.append(stakes.c.asset_id.in_(select(assets.c.asset_id).where(assets.c.asset_type == asset_type)))
    total, n = conn.execute(select(func.coalesce(func.sum(stakes.c.amount), 0), func.count()).where(*conds)).one()
    return Decimal(total), int(n)


def _top_asset_share(conn: Connection, asset_type: str, since: datetime) -> tuple[str, Decimal] | None:
    row = conn.execute(
        select(sales.c.asset_id, func.sum(sales.c.price).label("v"))
        .where(sales.c.occurred_at >= since, *_sales_scope(asset_type))
        .group_by(sales.c.asset_id)
        .order_by(func.sum(sales.c.price).desc(), sales.c.asset_id)
        .limit(1)
    ).first()
    return (row.asset_id, Decimal(row.v)) if row else None


def _sale(row: Any) -> Sale:
    return Sale(
        sale_id=row.sale_id,
        asset_id=row.asset_id,
        asset_type=row.asset_type,
        price=Decimal(row.price),
        currency=row.currency,
        buyer_id=row.buyer_id,
        seller_id=row.seller_id,
        occurred_at=row.occurred_at,
    )


def _asset_sales(conn: Connection, asset_id: str, *, newest_first: bool, limit: int) -> tuple[Sale, ...]:
    order = (
        (sales.c.occurred_at.desc(), sales.c.sale_id.desc()) if newest_first else (sales.c.occurred_at, sales.c.sale_id)
    )
    rows = conn.execute(select(sales).where(sales.c.asset_id == asset_id).order_by(*order).limit(limit)).all()
    return tuple(_sale(r) for r in rows)


# -- the repository -------------------------------------------------------------------


class AnalyticsRepository:
    """The analytics tables; every method is one transaction returning typed records."""

    RECENT_SALES = 20

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def market_days(self, asset_type: str, first: date, last: date) -> dict[date, Day]:
        """The stored market_analytics rows of one type (or "all") between two days."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(market)
                .where(market.c.asset_type == asset_type, market.c.date >= first, market.c.date <= last)
                .order_by(market.c.date)
            ).all()
        return {
            r.date: Day(
                r.date,
                asset_type,
                Decimal(r.total_volume),
                r.total_transactions,
                r.active_assets,
                r.active_creators,
                Decimal(r.avg_asset_price),
                Sentiment(r.market_sentiment),
            )
            for r in rows
        }

    def history(self, asset_type: str | None, first: date, last: date) -> dict[str, dict[date, HistoryPoint]]:
        """Stored daily points per asset type (every type seen in the window when none given)."""
        q = select(
            market.c.asset_type,
            market.c.date,
            market.c.total_volume,
            market.c.total_transactions,
            market.c.avg_asset_price,
        ).where(market.c.date >= first, market.c.date <= last)
        if asset_type:
            q = q.where(market.c.asset_type == asset_type)
        out: dict[str, dict[date, HistoryPoint]] = defaultdict(dict)
        with self.engine.connect() as conn:
            for r in conn.execute(q.order_by(market.c.asset_type, market.c.date)):
                out[r.asset_type][r.date] = HistoryPoint(
                    r.date, Decimal(r.total_volume), r.total_transactions, Decimal(r.avg_asset_price)
                )
        return dict(out)

    def overview_totals(self, now: datetime) -> OverviewTotals:
        """The market's totals over the overview's windows, in one transaction."""
        with self.engine.begin() as conn:
            n_assets = conn.execute(select(func.count()).select_from(assets)).scalar_one()
            n_creators = conn.execute(select(func.count(func.distinct(asset_creators.c.creator_id)))).scalar_one()
            staked, n_stakes = _staking_totals(conn)
            return OverviewTotals(
                all_time=_sales_totals(conn, ALL, None),
                last_24h=_sales_totals(conn, ALL, now - timedelta(hours=24)),
                last_7d=_sales_totals(conn, ALL, now - timedelta(days=7)),
                prev_7d=_sales_totals(conn, ALL, now - timedelta(days=14), now - timedelta(days=7)),
                week_before_24h=_week_before_24h(conn, ALL, now),
                assets=int(n_assets),
                creators=int(n_creators),
                type_volumes_7d=_type_volumes(conn, now - timedelta(days=7)),
                total_staked=staked,
                active_stakes=n_stakes,
            )

    def scope_totals(self, asset_type: str, now: datetime) -> ScopeTotals:
        """A scope's totals over the insights' windows, in one transaction."""
        with self.engine.begin() as conn:
            staked, n_stakes = _staking_totals(conn, asset_type)
            return ScopeTotals(
                scope=asset_type,
                last_24h=_sales_totals(conn, asset_type, now - timedelta(hours=24)),
                week_before_24h=_week_before_24h(conn, asset_type, now),
                last_7d=_sales_totals(conn, asset_type, now - timedelta(days=7)),
                prev_7d=_sales_totals(conn, asset_type, now - timedelta(days=14), now - timedelta(days=7)),
                last_30d=_sales_totals(conn, asset_type, now - timedelta(days=30)),
                top_asset_30d=_top_asset_share(conn, asset_type, now - timedelta(days=30)),
                type_volumes_7d=_type_volumes(conn, now - timedelta(days=7)) if asset_type == ALL else {},
                total_staked=staked,
                active_stakes=n_stakes,
            )

    def asset_facts(self, asset_id: str) -> AssetFacts:
        """What analytics holds about one asset, in one transaction."""
        with self.engine.begin() as conn:
            known = conn.execute(
                select(assets.c.asset_type, assets.c.created_at).where(assets.c.asset_id == asset_id)
            ).first()
            s = conn.execute(
                select(
                    func.count().label("n"),
                    func.coalesce(func.sum(sales.c.price), 0).label("volume"),
                    func.min(sales.c.price).label("min_price"),
                    func.max(sales.c.price).label("max_price"),
                    func.count(func.distinct(sales.c.buyer_id)).label("buyers"),
                    func.max(sales.c.occurred_at).label("last_at"),
                ).where(sales.c.asset_id == asset_id)
            ).one()
            staked, n_stakes = _staking_totals(conn, asset_id=asset_id)
            ever_staked = conn.execute(
                select(stakes.c.stake_id).where(stakes.c.asset_id == asset_id).limit(1)
            ).first() is not None
            first = _asset_sales(conn, asset_id, newest_first=False, limit=1)
            recent = _asset_sales(conn, asset_id, newest_first=True, limit=self.RECENT_SALES)
            n_transfers = conn.execute(select(func.count()).where(transfers.c.asset_id == asset_id)).scalar_one()
        return AssetFacts(
            info=AssetInfo(known.asset_type, known.created_at) if known is not None else None,
            summary=SalesSummary(
                sales=int(s.n),
                volume=Decimal(s.volume),
                min_price=Decimal(s.min_price) if s.min_price is not None else None,
                max_price=Decimal(s.max_price) if s.max_price is not None else None,
                buyers=int(s.buyers),
                last_at=s.last_at,
            ),
            first_sale=first[0] if first else None,
            recent_sales=recent,
            transfers=int(n_transfers),
            total_staked=staked,
            active_stakes=n_stakes,
            ever_staked=ever_staked,
        )

    def creator_assets(self, creator_id: str) -> list[CreatorAsset]:
        """Each asset of a creator with its share, sales, volume and last sale; largest volume first."""
        per_asset = (
            select(
                sales.c.asset_id,
                func.count().label("n"),
                func.sum(sales.c.price).label("volume"),
                func.max(sales.c.occurred_at).label("last_at"),
            )
            .group_by(sales.c.asset_id)
            .subquery()
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    asset_creators.c.asset_id,
                    asset_creators.c.share_percent,
                    assets.c.asset_type,
                    func.coalesce(per_asset.c.n, 0).label("n"),
                    func.coalesce(per_asset.c.volume, 0).label("volume"),
                    per_asset.c.last_at,
                )
                .select_from(
                    asset_creators.join(assets, assets.c.asset_id == asset_creators.c.asset_id, isouter=True).join(
                        per_asset, per_asset.c.asset_id == asset_creators.c.asset_id, isouter=True
                    )
                )
                .where(asset_creators.c.creator_id == creator_id)
                .order_by(func.coalesce(per_asset.c.volume, 0).desc(), asset_creators.c.asset_id)
            ).all()
        return [
            CreatorAsset(r.asset_id, r.asset_type or "", Decimal(r.share_percent), int(r.n), Decimal(r.volume),
                         r.last_at)
            for r in rows
        ]

    def top_assets(self, by: domain.TopBy, since: datetime | None, asset_type: str, limit: int) -> list[TopRow]:
        """Assets ranked by volume, sales count, or latest sale price within the window."""
        conds = _sales_scope(asset_type)
        if since is not None:
            conds.append(sales.c.occurred_at >= since)
        ranked = (
            select(
                sales.c.asset_id,
                sales.c.asset_type,
                sales.c.price,
                sales.c.occurred_at,
                func.sum(sales.c.price).over(partition_by=sales.c.asset_id).label("volume"),
                func.count().over(partition_by=sales.c.asset_id).label("n"),
                func.row_number()
                .over(partition_by=sales.c.asset_id, order_by=(sales.c.occurred_at.desc(), sales.c.sale_id.desc()))
                .label("rn"),
            )
            .where(*conds)
            .subquery()
        )
        order = {
            domain.TopBy.VOLUME: ranked.c.volume.desc(),
            domain.TopBy.SALES: ranked.c.n.desc(),
            domain.TopBy.PRICE: ranked.c.price.desc(),
        }[by]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ranked.c.asset_id, ranked.c.asset_type, ranked.c.volume, ranked.c.n,
                       ranked.c.price.label("last_price"))
                .where(ranked.c.rn == 1)
                .order_by(order, ranked.c.volume.desc(), ranked.c.asset_id)
                .limit(limit)
            ).all()
        return [TopRow(r.asset_id, r.asset_type, Decimal(r.volume), int(r.n), Decimal(r.last_price)) for r in rows]

    def record_sales(self, batch: Sequence[Sale], creators: Creators, now: datetime) -> int:
        """Insert new sales (idempotent by sale_id) and re-roll their days; returns how many were new."""
        with self.engine.begin() as conn:
            days = insert_sales(conn, batch, creators)
            roll_up(conn, days, [], now)
        return len(days)

    def list_sales(self, asset_type: str | None, since: datetime, after: tuple[datetime, str] | None,
                   limit: int) -> list[domain.ListedSale]:
        """Sales at or after `since`, newest first, after the cursor's (time, id); with the
        asset's region and creator count (one statement, idx_sales_time)."""
        creators = (select(func.count()).select_from(asset_creators)
                    .where(asset_creators.c.asset_id == sales.c.asset_id).scalar_subquery())
        q = (select(sales, assets.c.region, creators.label("creators"))
             .select_from(sales.outerjoin(assets, assets.c.asset_id == sales.c.asset_id))
             .where(sales.c.occurred_at >= since))
        if asset_type:
            q = q.where(sales.c.asset_type == asset_type)
        if after is not None:
            q = q.where(tuple_(sales.c.occurred_at, sales.c.sale_id) < tuple_(after[0], after[1]))
        q = q.order_by(sales.c.occurred_at.desc(), sales.c.sale_id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [domain.ListedSale(_sale(r), r.region or "", int(r.creators or 0)) for r in rows]
