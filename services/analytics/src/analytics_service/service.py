"""Analytics use cases: read models over the facts and the daily roll-up, plus
direct ingestion of sales for bootstrapping. Synchronous; the servicer runs them
in the DB thread pool."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ipheron_libs.errors import InvalidArgument, NotFound
from sqlalchemy import Engine

from analytics_service import domain, repository
from analytics_service.domain import ALL, Sentiment

MAX_RECORD_BATCH = 5000


@dataclass(frozen=True)
class Day:
    date: date
    asset_type: str
    total_volume: Decimal
    total_transactions: int
    active_assets: int
    active_creators: int
    avg_asset_price: Decimal
    sentiment: Sentiment


@dataclass(frozen=True)
class Overview:
    total_volume: Decimal
    total_sales: int
    total_assets: int
    total_creators: int
    volume_24h: Decimal
    sales_24h: int
    volume_7d: Decimal
    volume_change_7d_pct: Decimal | None
    avg_price_7d: Decimal
    top_asset_type_7d: str
    total_value_staked: Decimal
    active_stakes: int
    sentiment: Sentiment
    as_of: datetime


@dataclass(frozen=True)
class AssetPerformance:
    asset_id: str
    asset_type: str
    total_sales: int
    total_volume: Decimal
    first_price: Decimal | None
    last_price: Decimal | None
    min_price: Decimal | None
    max_price: Decimal | None
    avg_price: Decimal | None
    price_change_pct: Decimal | None
    unique_buyers: int
    transfers: int
    total_staked: Decimal
    active_stakes: int
    created_at: datetime | None
    last_sale_at: datetime | None
    recent_sales: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class CreatorAsset:
    asset_id: str
    asset_type: str
    share_percent: Decimal
    sales: int
    volume: Decimal


@dataclass(frozen=True)
class CreatorPerformance:
    creator_id: str
    assets_created: int
    assets_sold: int
    total_sales: int
    total_volume: Decimal
    attributed_volume: Decimal
    avg_sale_price: Decimal
    top_asset_id: str
    assets: list[CreatorAsset]
    last_sale_at: datetime | None


@dataclass(frozen=True)
class TopEntry:
    rank: int
    asset_id: str
    asset_type: str
    volume: Decimal
    sales: int
    last_price: Decimal
    value: Decimal


@dataclass(frozen=True)
class HistoryPoint:
    date: date
    volume: Decimal
    sales: int
    avg_price: Decimal


@dataclass(frozen=True)
class SaleInput:
    """A sale given directly (RecordSales); strings as on the wire."""

    sale_id: str
    asset_id: str
    asset_type: str
    price: str
    currency: str
    buyer_id: str
    seller_id: str
    occurred_at: datetime | None
    creator_ids: Sequence[str] = ()


def _empty_day(d: date, asset_type: str) -> Day:
    return Day(d, asset_type, Decimal(0), 0, 0, 0, Decimal(0), Sentiment.NEUTRAL)


class AnalyticsService:
    """Read models and ingestion over one engine; `clock` is injectable for tests."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = domain.utcnow) -> None:
        self.engine = engine
        self.clock = clock

    def market(self, from_raw: str, to_raw: str, asset_type_raw: str) -> tuple[str, list[Day]]:
        asset_type = domain.check_asset_type(asset_type_raw)
        first, last = domain.day_range(from_raw, to_raw, self.clock().date())
        with self.engine.connect() as conn:
            rows = repository.market_rows(conn, asset_type, first, last)
        out = []
        for d in domain.days_between(first, last):
            r = rows.get(d)
            out.append(
                _empty_day(d, asset_type)
                if r is None
                else Day(
                    d,
                    asset_type,
                    Decimal(r.total_volume),
                    r.total_transactions,
                    r.active_assets,
                    r.active_creators,
                    Decimal(r.avg_asset_price),
                    Sentiment(r.market_sentiment),
                )
            )
        return asset_type, out

    def _current_sentiment(self, conn: Any, asset_type: str, now: datetime) -> Sentiment:
        """The last 24 hours against the daily average of the 7 days before.

        A rolling window rather than the calendar day, so early in a UTC day the
        mood is not read as bearish only because the day has just begun.
        """
        volume, _ = repository.sales_totals(conn, asset_type, now - timedelta(hours=24))
        window = domain.SENTIMENT_WINDOW_DAYS
        before, _ = repository.sales_totals(
            conn, asset_type, now - timedelta(days=window + 1), now - timedelta(hours=24)
        )
        return domain.sentiment_against(volume, domain.divide(before, window))

    def overview(self) -> Overview:
        now = self.clock()
        with self.engine.connect() as conn:
            total_volume, total_sales = repository.sales_totals(conn, ALL, None)
            n_assets, n_creators = repository.counts(conn)
            v24, s24 = repository.sales_totals(conn, ALL, now - timedelta(hours=24))
            v7, s7 = repository.sales_totals(conn, ALL, now - timedelta(days=7))
            vp7, _ = repository.sales_totals(conn, ALL, now - timedelta(days=14), now - timedelta(days=7))
            by_type = repository.type_volumes(conn, now - timedelta(days=7))
            staked, n_stakes = repository.staking_totals(conn)
            mood = self._current_sentiment(conn, ALL, now)
        top_type = max(by_type.items(), key=lambda kv: (kv[1], kv[0]))[0] if by_type else ""
        return Overview(
            total_volume,
            total_sales,
            n_assets,
            n_creators,
            v24,
            s24,
            v7,
            domain.pct_change(v7, vp7),
            domain.divide(v7, s7),
            top_type,
            staked,
            n_stakes,
            mood,
            now,
        )

    def asset_performance(self, asset_id_raw: str) -> AssetPerformance:
        asset_id = domain.check_id(asset_id_raw, "asset_id")
        with self.engine.connect() as conn:
            known = repository.asset(conn, asset_id)
            summary = repository.asset_sales_summary(conn, asset_id)
            staked, n_stakes = repository.staking_totals(conn, asset_id=asset_id)
            if known is None and summary.n == 0 and not repository.has_stakes(conn, asset_id):
                raise NotFound(f"no analytics for asset {asset_id!r}")
            first = repository.asset_sales(conn, asset_id, newest_first=False, limit=1)
            recent = repository.asset_sales(conn, asset_id, newest_first=True, limit=20)
            n_transfers = repository.transfer_count(conn, asset_id)
        first_price = Decimal(first[0].price) if first else None
        last_price = Decimal(recent[0].price) if recent else None
        change = (
            domain.pct_change(last_price, first_price)
            if summary.n >= 2 and first_price is not None and last_price is not None
            else None
        )
        return AssetPerformance(
            asset_id=asset_id,
            asset_type=known.asset_type if known is not None else (recent[0].asset_type if recent else ""),
            total_sales=summary.n,
            total_volume=Decimal(summary.volume),
            first_price=first_price,
            last_price=last_price,
            min_price=Decimal(summary.min_price) if summary.min_price is not None else None,
            max_price=Decimal(summary.max_price) if summary.max_price is not None else None,
            avg_price=domain.divide(Decimal(summary.volume), summary.n) if summary.n else None,
            price_change_pct=change,
            unique_buyers=summary.buyers,
            transfers=n_transfers,
            total_staked=staked,
            active_stakes=n_stakes,
            created_at=known.created_at if known is not None else None,
            last_sale_at=summary.last_at,
            recent_sales=list(recent),
        )

    def creator_performance(self, creator_id_raw: str) -> CreatorPerformance:
        creator_id = domain.check_id(creator_id_raw, "creator_id")
        with self.engine.connect() as conn:
            rows = repository.creator_assets(conn, creator_id)
        items = [
            CreatorAsset(r.asset_id, r.asset_type or "", Decimal(r.share_percent), int(r.n), Decimal(r.volume))
            for r in rows
        ]
        total_sales = sum(a.sales for a in items)
        total_volume = sum((a.volume for a in items), Decimal(0))
        attributed = domain.quantize(sum((a.volume * a.share_percent / 100 for a in items), Decimal(0)))
        last = max((r.last_at for r in rows if r.last_at is not None), default=None)
        top = items[0].asset_id if items and items[0].sales else ""
        return CreatorPerformance(
            creator_id,
            len(items),
            sum(1 for a in items if a.sales),
            total_sales,
            total_volume,
            attributed,
            domain.divide(total_volume, total_sales),
            top,
            items,
            last,
        )

    def top(self, by: domain.TopBy, period: domain.Period, asset_type_raw: str, limit_raw: int) -> list[TopEntry]:
        asset_type = domain.check_asset_type(asset_type_raw)
        limit = domain.check_limit(limit_raw)
        since = domain.period_start(period, self.clock())
        with self.engine.connect() as conn:
            rows = repository.top_assets(conn, by, since, asset_type, limit)
        out = []
        for i, r in enumerate(rows, start=1):
            value = {
                domain.TopBy.VOLUME: Decimal(r.volume),
                domain.TopBy.SALES: Decimal(r.n),
                domain.TopBy.PRICE: Decimal(r.last_price),
            }[by]
            out.append(TopEntry(i, r.asset_id, r.asset_type, Decimal(r.volume), int(r.n), Decimal(r.last_price), value))
        return out

    def insights(self, asset_type_raw: str) -> tuple[list[domain.Insight], datetime]:
        asset_type = domain.check_asset_type(asset_type_raw)
        now = self.clock()
        with self.engine.connect() as conn:
            v7, s7 = repository.sales_totals(conn, asset_type, now - timedelta(days=7))
            vp7, sp7 = repository.sales_totals(conn, asset_type, now - timedelta(days=14), now - timedelta(days=7))
            v30, _ = repository.sales_totals(conn, asset_type, now - timedelta(days=30))
            top = repository.top_asset_share(conn, asset_type, now - timedelta(days=30))
            by_type = repository.type_volumes(conn, now - timedelta(days=7)) if asset_type == ALL else {}
            staked, n_stakes = repository.staking_totals(conn, asset_type)
            mood = self._current_sentiment(conn, asset_type, now)
        facts = domain.MarketFacts(asset_type, v7, vp7, s7, sp7, v30, top, by_type, staked, n_stakes, mood)
        return domain.insights(facts), now

    def market_history(self, days_raw: int, asset_type_raw: str) -> dict[str, list[HistoryPoint]]:
        days = domain.check_history_days(days_raw)
        asset_type = domain.check_asset_type(asset_type_raw)
        last = self.clock().date()
        first = last - timedelta(days=days - 1)
        with self.engine.connect() as conn:
            per_type = repository.history(conn, None if asset_type == ALL else asset_type, first, last)
        wanted = sorted(per_type) if asset_type == ALL else [asset_type]
        if ALL not in wanted and asset_type == ALL:
            wanted.append(ALL)
        out: dict[str, list[HistoryPoint]] = {}
        for t in wanted:
            rows = per_type.get(t, {})
            out[t] = [
                HistoryPoint(
                    d, Decimal(rows[d].total_volume), rows[d].total_transactions, Decimal(rows[d].avg_asset_price)
                )
                if d in rows
                else HistoryPoint(d, Decimal(0), 0, Decimal(0))
                for d in domain.days_between(first, last)
            ]
        return out

    def record_sales(self, items: Sequence[SaleInput]) -> tuple[int, int]:
        """Ingest sales directly, idempotent by sale_id; the whole batch or nothing."""
        if len(items) > MAX_RECORD_BATCH:
            raise InvalidArgument(f"at most {MAX_RECORD_BATCH} sales per call", field="sales")
        now = self.clock()
        parsed: list[tuple[repository.Sale, Sequence[str]]] = []
        for i, s in enumerate(items):
            where = f"sales[{i}]"
            try:
                sale = repository.Sale(
                    sale_id=domain.check_id(s.sale_id, "sale_id"),
                    asset_id=domain.check_id(s.asset_id, "asset_id"),
                    asset_type=domain.check_asset_type(s.asset_type) if s.asset_type else None,
                    price=domain.parse_price(s.price),
                    currency=(s.currency or "ETH")[:16],
                    buyer_id=s.buyer_id or None,
                    seller_id=s.seller_id or None,
                    occurred_at=s.occurred_at or now,
                )
                creator_ids = [domain.check_id(c, "creator_ids") for c in s.creator_ids]
            except InvalidArgument as exc:
                raise InvalidArgument(f"{where}.{exc.field}: {exc.message}", field=f"{where}.{exc.field}") from None
            if sale.asset_type == ALL:
                raise InvalidArgument(f"{where}.asset_type must be a concrete type", field=f"{where}.asset_type")
            parsed.append((sale, creator_ids))
        creators: dict[str, list[tuple[str, Decimal]]] = {}
        for sale, ids in parsed:
            if ids and sale.asset_id not in creators:
                share = (Decimal(100) / len(ids)).quantize(Decimal("0.0001"))
                creators[sale.asset_id] = [(c, share) for c in dict.fromkeys(ids)]
        unique = list({sale.sale_id: sale for sale, _ in parsed}.values())
        with self.engine.begin() as conn:
            days = repository.insert_sales(conn, unique, creators)
            repository.roll_up(conn, days, [], now)
        recorded = len(days)
        return recorded, len(parsed) - recorded
