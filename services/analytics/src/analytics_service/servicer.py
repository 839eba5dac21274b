"""AnalyticsService gRPC servicer: protobuf <-> domain, nothing else."""

from __future__ import annotations

from decimal import Decimal

import grpc
from ipheron.analytics.v1 import analytics_service_pb2 as pb
from ipheron.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from ipheron_libs.errors import InvalidArgument
from ipheron_libs.wire import from_timestamp, money_str, to_timestamp

from analytics_service.domain import Day, Period, SaleInput, Sentiment, TopBy
from analytics_service.service import AnalyticsService

_SENTIMENT = {
    Sentiment.BEARISH: pb.SENTIMENT_BEARISH,
    Sentiment.NEUTRAL: pb.SENTIMENT_NEUTRAL,
    Sentiment.BULLISH: pb.SENTIMENT_BULLISH,
}
_TOP_BY = {pb.TOP_BY_VOLUME: TopBy.VOLUME, pb.TOP_BY_SALES: TopBy.SALES, pb.TOP_BY_PRICE: TopBy.PRICE}
_PERIOD = {pb.PERIOD_24H: Period.H24, pb.PERIOD_7D: Period.D7, pb.PERIOD_30D: Period.D30, pb.PERIOD_ALL: Period.ALL}


def _or_empty(value: Decimal | None) -> str:
    """An optional figure (e.g. a price before any sale): "" on the wire when it does not exist."""
    return "" if value is None else money_str(value)


def _day(d: Day) -> pb.MarketDay:
    return pb.MarketDay(
        date=d.date.isoformat(),
        asset_type=d.asset_type,
        total_volume=money_str(d.total_volume),
        total_transactions=d.total_transactions,
        active_assets=d.active_assets,
        active_creators=d.active_creators,
        avg_asset_price=money_str(d.avg_asset_price),
        market_sentiment=_SENTIMENT[d.sentiment],
    )


class AnalyticsServicer(pb_grpc.AnalyticsServiceServicer):
    """Translates each RPC to one AnalyticsService use case."""

    def __init__(self, service: AnalyticsService) -> None:
        self.service = service

    async def GetMarket(self, request: pb.GetMarketRequest, context: grpc.aio.ServicerContext) -> pb.GetMarketResponse:
        asset_type, days = await self.service.market(request.from_date, request.to_date, request.asset_type)
        return pb.GetMarketResponse(
            days=[_day(d) for d in days],
            asset_type=asset_type,
            total_volume=money_str(sum((d.total_volume for d in days), start=Decimal(0))),
            total_transactions=sum(d.total_transactions for d in days),
        )

    async def GetOverview(
        self, request: pb.GetOverviewRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOverviewResponse:
        o = await self.service.overview()
        return pb.GetOverviewResponse(
            total_volume=money_str(o.total_volume),
            total_sales=o.total_sales,
            total_assets=o.total_assets,
            total_creators=o.total_creators,
            volume_24h=money_str(o.volume_24h),
            sales_24h=o.sales_24h,
            volume_7d=money_str(o.volume_7d),
            volume_change_7d_pct=_or_empty(o.volume_change_7d_pct),
            avg_price_7d=money_str(o.avg_price_7d),
            top_asset_type_7d=o.top_asset_type_7d,
            total_value_staked=money_str(o.total_value_staked),
            active_stakes=o.active_stakes,
            market_sentiment=_SENTIMENT[o.sentiment],
            as_of=to_timestamp(o.as_of),
        )

    async def GetAssetPerformance(
        self, request: pb.GetAssetPerformanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAssetPerformanceResponse:
        a = await self.service.asset_performance(request.asset_id)
        return pb.GetAssetPerformanceResponse(
            asset_id=a.asset_id,
            asset_type=a.asset_type,
            total_sales=a.total_sales,
            total_volume=money_str(a.total_volume),
            first_price=_or_empty(a.first_price),
            last_price=_or_empty(a.last_price),
            min_price=_or_empty(a.min_price),
            max_price=_or_empty(a.max_price),
            avg_price=_or_empty(a.avg_price),
            price_change_pct=_or_empty(a.price_change_pct),
            unique_buyers=a.unique_buyers,
            transfers=a.transfers,
            total_staked=money_str(a.total_staked),
            active_stakes=a.active_stakes,
            created_at=to_timestamp(a.created_at) if a.created_at else None,
            last_sale_at=to_timestamp(a.last_sale_at) if a.last_sale_at else None,
            recent_sales=[
                pb.SaleRecord(
                    sale_id=s.sale_id,
                    asset_id=s.asset_id,
                    asset_type=s.asset_type or "",
                    price=money_str(s.price),
                    currency=s.currency,
                    buyer_id=s.buyer_id or "",
                    seller_id=s.seller_id or "",
                    occurred_at=to_timestamp(s.occurred_at),
                )
                for s in a.recent_sales
            ],
        )

    async def GetCreatorPerformance(
        self, request: pb.GetCreatorPerformanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCreatorPerformanceResponse:
        c = await self.service.creator_performance(request.creator_id)
        return pb.GetCreatorPerformanceResponse(
            creator_id=c.creator_id,
            assets_created=c.assets_created,
            assets_sold=c.assets_sold,
            total_sales=c.total_sales,
            total_volume=money_str(c.total_volume),
            attributed_volume=money_str(c.attributed_volume),
            avg_sale_price=money_str(c.avg_sale_price),
            top_asset_id=c.top_asset_id,
            last_sale_at=to_timestamp(c.last_sale_at) if c.last_sale_at else None,
            assets=[
                pb.CreatorAsset(
                    asset_id=a.asset_id,
                    asset_type=a.asset_type,
                    share_percent=money_str(a.share_percent),
                    sales=a.sales,
                    volume=money_str(a.volume),
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
        entries = await self.service.top(by, period, request.asset_type, request.limit)
        return pb.GetTopResponse(
            by=next(k for k, v in _TOP_BY.items() if v is by),
            period=next(k for k, v in _PERIOD.items() if v is period),
            assets=[
                pb.TopAsset(
                    rank=e.rank,
                    asset_id=e.asset_id,
                    asset_type=e.asset_type,
                    volume=money_str(e.volume),
                    sales=e.sales,
                    last_price=money_str(e.last_price),
                    value=money_str(e.value),
                )
                for e in entries
            ],
        )

    async def GetInsights(
        self, request: pb.GetInsightsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetInsightsResponse:
        found, as_of = await self.service.insights(request.asset_type)
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
            as_of=to_timestamp(as_of),
        )

    async def GetMarketHistory(
        self, request: pb.GetMarketHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMarketHistoryResponse:
        series = await self.service.market_history(request.days, request.asset_type)
        return pb.GetMarketHistoryResponse(
            series=[
                pb.AssetTypeHistory(
                    asset_type=t,
                    points=[
                        pb.HistoryPoint(
                            date=p.date.isoformat(),
                            volume=money_str(p.volume),
                            sales=p.sales,
                            avg_price=money_str(p.avg_price),
                        )
                        for p in points
                    ],
                )
                for t, points in series.items()
            ]
        )

    async def ListSales(self, request: pb.ListSalesRequest, context: grpc.aio.ServicerContext) -> pb.ListSalesResponse:
        since = from_timestamp(request.since) if request.HasField("since") else None
        page, cursor = await self.service.list_sales(request.asset_type, since, request.limit, request.cursor)
        return pb.ListSalesResponse(
            sales=[
                pb.ListedSale(
                    sale=pb.SaleRecord(
                        sale_id=x.sale.sale_id,
                        asset_id=x.sale.asset_id,
                        asset_type=x.sale.asset_type or "",
                        price=money_str(x.sale.price),
                        currency=x.sale.currency,
                        buyer_id=x.sale.buyer_id or "",
                        seller_id=x.sale.seller_id or "",
                        occurred_at=to_timestamp(x.sale.occurred_at),
                    ),
                    region=x.region,
                    creators=x.creators,
                )
                for x in page
            ],
            next_cursor=cursor,
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
                occurred_at=from_timestamp(s.occurred_at) if s.HasField("occurred_at") else None,
                creator_ids=list(s.creator_ids),
            )
            for s in request.sales
        ]
        recorded, duplicates = await self.service.record_sales(items)
        return pb.RecordSalesResponse(recorded=recorded, duplicates=duplicates)
