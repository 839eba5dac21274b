"""AnalyticsService gRPC servicer: protobuf <-> domain, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from ipheron.analytics.v1 import analytics_service_pb2 as pb
from ipheron.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from ipheron_libs.db import run_db
from ipheron_libs.errors import InvalidArgument

from analytics_service.domain import Period, Sentiment, TopBy, fmt
from analytics_service.service import AnalyticsService, Day, SaleInput

_SENTIMENT = {
    Sentiment.BEARISH: pb.SENTIMENT_BEARISH,
    Sentiment.NEUTRAL: pb.SENTIMENT_NEUTRAL,
    Sentiment.BULLISH: pb.SENTIMENT_BULLISH,
}
_TOP_BY = {pb.TOP_BY_VOLUME: TopBy.VOLUME, pb.TOP_BY_SALES: TopBy.SALES, pb.TOP_BY_PRICE: TopBy.PRICE}
_PERIOD = {pb.PERIOD_24H: Period.H24, pb.PERIOD_7D: Period.D7, pb.PERIOD_30D: Period.D30, pb.PERIOD_ALL: Period.ALL}


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _day(d: Day) -> pb.MarketDay:
    return pb.MarketDay(
        date=d.date.isoformat(),
        asset_type=d.asset_type,
        total_volume=fmt(d.total_volume),
        total_transactions=d.total_transactions,
        active_assets=d.active_assets,
        active_creators=d.active_creators,
        avg_asset_price=fmt(d.avg_asset_price),
        market_sentiment=_SENTIMENT[d.sentiment],
    )


class AnalyticsServicer(pb_grpc.AnalyticsServiceServicer):
    """Translates each RPC to one AnalyticsService call run in the DB thread pool."""

    def __init__(self, service: AnalyticsService) -> None:
        self.service = service

    async def GetMarket(self, request: pb.GetMarketRequest, context: grpc.aio.ServicerContext) -> pb.GetMarketResponse:
        asset_type, days = await run_db(self.service.market, request.from_date, request.to_date, request.asset_type)
        return pb.GetMarketResponse(
            days=[_day(d) for d in days],
            asset_type=asset_type,
            total_volume=fmt(sum((d.total_volume for d in days), start=Decimal(0))),
            total_transactions=sum(d.total_transactions for d in days),
        )

    async def GetOverview(
        self, request: pb.GetOverviewRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOverviewResponse:
        o = await run_db(self.service.overview)
        return pb.GetOverviewResponse(
            total_volume=fmt(o.total_volume),
            total_sales=o.total_sales,
            total_assets=o.total_assets,
            total_creators=o.total_creators,
            volume_24h=fmt(o.volume_24h),
            sales_24h=o.sales_24h,
            volume_7d=fmt(o.volume_7d),
            volume_change_7d_pct=fmt(o.volume_change_7d_pct),
            avg_price_7d=fmt(o.avg_price_7d),
            top_asset_type_7d=o.top_asset_type_7d,
            total_value_staked=fmt(o.total_value_staked),
            active_stakes=o.active_stakes,
            market_sentiment=_SENTIMENT[o.sentiment],
            as_of=_ts(o.as_of),
        )

    async def GetAssetPerformance(
        self, request: pb.GetAssetPerformanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAssetPerformanceResponse:
        a = await run_db(self.service.asset_performance, request.asset_id)
        return pb.GetAssetPerformanceResponse(
            asset_id=a.asset_id,
            asset_type=a.asset_type,
            total_sales=a.total_sales,
            total_volume=fmt(a.total_volume),
            first_price=fmt(a.first_price),
            last_price=fmt(a.last_price),
            min_price=fmt(a.min_price),
            max_price=fmt(a.max_price),
            avg_price=fmt(a.avg_price),
            price_change_pct=fmt(a.price_change_pct),
            unique_buyers=a.unique_buyers,
            transfers=a.transfers,
            total_staked=fmt(a.total_staked),
            active_stakes=a.active_stakes,
            created_at=_ts(a.created_at),
            last_sale_at=_ts(a.last_sale_at),
            recent_sales=[
                pb.SaleRecord(
                    sale_id=s.sale_id,
                    asset_id=s.asset_id,
                    asset_type=s.asset_type,
                    price=fmt(s.price),
                    currency=s.currency,
                    buyer_id=s.buyer_id or "",
                    seller_id=s.seller_id or "",
                    occurred_at=_ts(s.occurred_at),
                )
                for s in a.recent_sales
            ],
        )

    async def GetCreatorPerformance(
        self, request: pb.GetCreatorPerformanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCreatorPerformanceResponse:
        c = await run_db(self.service.creator_performance, request.creator_id)
        return pb.GetCreatorPerformanceResponse(
            creator_id=c.creator_id,
            assets_created=c.assets_created,
            assets_sold=c.assets_sold,
            total_sales=c.total_sales,
            total_volume=fmt(c.total_volume),
            attributed_volume=fmt(c.attributed_volume),
            avg_sale_price=fmt(c.avg_sale_price),
            top_asset_id=c.top_asset_id,
            last_sale_at=_ts(c.last_sale_at),
            assets=[
                pb.CreatorAsset(
                    asset_id=a.asset_id,
                    asset_type=a.asset_type,
                    share_percent=fmt(a.share_percent),
                    sales=a.sales,
                    volume=fmt(a.volume),
                )
                for a in c.assets
            ],
        )

    async def GetTop(self, request: pb.GetTopRequest, context: grpc.aio.ServicerContext) -> pb.GetTopResponse:
        by = _TOP_BY.get(request.by) if request.by else TopBy.VOLUME
        period = _PERIOD.get(request.period) if request.period else Period.D7
        if by is None:
            raise InvalidArgument("by must be volume, sales or price", field="by")
        if period is None:
            raise InvalidArgument("period must be 24h, 7d, 30d or all", field="period")
        entries = await run_db(self.service.top, by, period, request.asset_type, request.limit)
        return pb.GetTopResponse(
            by=next(k for k, v in _TOP_BY.items() if v is by),
            period=next(k for k, v in _PERIOD.items() if v is period),
            assets=[
                pb.TopAsset(
                    rank=e.rank,
                    asset_id=e.asset_id,
                    asset_type=e.asset_type,
                    volume=fmt(e.volume),
                    sales=e.sales,
                    last_price=fmt(e.last_price),
                    value=fmt(e.value),
                )
                for e in entries
            ],
        )

    async def GetInsights(
        self, request: pb.GetInsightsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetInsightsResponse:
        found, as_of = await run_db(self.service.insights, request.asset_type)
        return pb.GetInsightsResponse(
            insights=[
                pb.Insight(
                    kind=i.kind,
                    title=i.title,
                    explanation=i.explanation,
                    severity=i.severity,
                    rule=i.rule,
                    metrics=i.metrics,
                )
                for i in found
            ],
            as_of=_ts(as_of),
        )

    async def GetMarketHistory(
        self, request: pb.GetMarketHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMarketHistoryResponse:
        series = await run_db(self.service.market_history, request.days, request.asset_type)
        return pb.GetMarketHistoryResponse(
            series=[
                pb.AssetTypeHistory(
                    asset_type=t,
                    points=[
                        pb.HistoryPoint(
                            date=p.date.isoformat(), volume=fmt(p.volume), sales=p.sales, avg_price=fmt(p.avg_price)
                        )
                        for p in points
                    ],
                )
                for t, points in series.items()
            ]
        )

    async def RecordSales(
        self, request: pb.RecordSalesRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordSalesResponse:
        items = [
            SaleInput(
                sale_id=s.sale_id,
                asset_id=s.asset_id,
                asset_type=s.asset_type,
                price=s.price,
                currency=s.currency,
                buyer_id=s.buyer_id,
                seller_id=s.seller_id,
                occurred_at=s.occurred_at.ToDatetime(tzinfo=UTC) if s.HasField("occurred_at") else None,
                creator_ids=list(s.creator_ids),
            )
            for s in request.sales
        ]
        recorded, duplicates = await run_db(self.service.record_sales, items)
        return pb.RecordSalesResponse(recorded=recorded, duplicates=duplicates)
