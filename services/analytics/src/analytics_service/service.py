"""Analytics use cases: read models over the facts and the daily roll-up, plus direct
ingestion of sales for bootstrapping. Each checks its input, loads typed facts with
one repository call (one transaction, run in the DB thread pool with `run_db`) and
lets domain.py say what they mean."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from ipheron_libs.db import run_db

from analytics_service import domain
from analytics_service.domain import (
    ALL,
    AssetPerformance,
    CreatorPerformance,
    Day,
    HistoryPoint,
    Insight,
    Overview,
    Period,
    SaleInput,
    TopBy,
    TopEntry,
)
from analytics_service.repository import AnalyticsRepository


class AnalyticsService:
    """Read models and ingestion; `clock` is injectable for tests."""

    def __init__(self, repo: AnalyticsRepository, clock: Callable[[], datetime] = domain.utcnow) -> None:
        self.repo = repo
        self.clock = clock

    async def market(self, from_raw: str, to_raw: str, asset_type_raw: str) -> tuple[str, list[Day]]:
        """The daily market of one type (or all) over a date range, every day present."""
        asset_type = domain.check_asset_type(asset_type_raw)
        first, last = domain.day_range(from_raw, to_raw, self.clock().date())
        stored = await run_db(self.repo.market_days, asset_type, first, last)
        return asset_type, domain.market_series(asset_type, first, last, stored)

    async def overview(self) -> Overview:
        """The market at a glance, as of now."""
        now = self.clock()
        return domain.overview(await run_db(self.repo.overview_totals, now), now)

    async def asset_performance(self, asset_id_raw: str) -> AssetPerformance:
        """One asset's sales, prices, transfers and stakes."""
        asset_id = domain.check_id(asset_id_raw, "asset_id")
        return domain.asset_performance(asset_id, await run_db(self.repo.asset_facts, asset_id))

    async def creator_performance(self, creator_id_raw: str) -> CreatorPerformance:
        """A creator's assets and the volume attributed to them."""
        creator_id = domain.check_id(creator_id_raw, "creator_id")
        return domain.creator_performance(creator_id, await run_db(self.repo.creator_assets, creator_id))

    async def top(self, by: TopBy, period: Period, asset_type_raw: str, limit_raw: int) -> list[TopEntry]:
        """The leading assets by volume, sales or price within a period."""
        asset_type = domain.check_asset_type(asset_type_raw)
        limit = domain.check_limit(limit_raw)
        since = domain.period_start(period, self.clock())
        return domain.rank(by, await run_db(self.repo.top_assets, by, since, asset_type, limit))

    async def insights(self, asset_type_raw: str) -> tuple[list[Insight], datetime]:
        """Explained findings about the market (or one type), as of now."""
        asset_type = domain.check_asset_type(asset_type_raw)
        now = self.clock()
        totals = await run_db(self.repo.scope_totals, asset_type, now)
        return domain.insights(domain.market_facts(totals)), now

    async def market_history(self, days_raw: int, asset_type_raw: str) -> dict[str, list[HistoryPoint]]:
        """A full daily series per asset type over the last `days` days."""
        days = domain.check_history_days(days_raw)
        asset_type = domain.check_asset_type(asset_type_raw)
        last = self.clock().date()
        first = last - timedelta(days=days - 1)
        stored = await run_db(self.repo.history, None if asset_type == ALL else asset_type, first, last)
        return domain.history_series(asset_type, first, last, stored)

    async def list_sales(self, asset_type_raw: str, since: datetime | None, limit_raw: int,
                         cursor: str) -> tuple[list[domain.ListedSale], str]:
        """Recorded sales newest first (of one type or all) since a time (default 180 days ago),
        one page; returns the page and the cursor of the next ("" on the last page)."""
        asset_type = domain.check_asset_type(asset_type_raw)
        limit = domain.check_sales_page(limit_raw)
        after = domain.parse_sales_cursor(cursor)
        start = since if since is not None else self.clock() - timedelta(days=domain.DEFAULT_SALES_DAYS)
        page = await run_db(self.repo.list_sales, None if asset_type == ALL else asset_type, start, after, limit)
        return page, domain.sales_cursor(page[-1].sale) if len(page) == limit else ""

    async def record_sales(self, items: Sequence[SaleInput]) -> tuple[int, int]:
        """Ingest sales directly, idempotent by sale_id; the whole batch or nothing: (recorded, duplicates)."""
        now = self.clock()
        batch, creators, given = domain.sales_batch(items, now)
        recorded = await run_db(self.repo.record_sales, batch, creators, now)
        return recorded, given - recorded
