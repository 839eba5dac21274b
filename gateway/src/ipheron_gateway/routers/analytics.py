"""Market analytics routes: /api/v1/analytics/{market, overview, assets/{id}/performance,
creators/{id}/performance, top, insights, history}. Public reads; amounts are decimal
strings, days ISO dates (UTC)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import grpc
from fastapi import APIRouter, Query
from ipheron.analytics.v1 import analytics_service_pb2 as pb
from ipheron_libs.errors import FIELD_METADATA_KEY
from pydantic import BaseModel, Field

from ipheron_gateway.bounds import PathId
from ipheron_gateway.deps import Stubs
from ipheron_gateway.problems import UPSTREAM, Problem, problem_responses
from ipheron_gateway.responses import opt_stamp, stamp

router = APIRouter(prefix="/analytics", tags=["analytics"])

_SENTIMENT = {
    pb.SENTIMENT_BEARISH: "bearish",
    pb.SENTIMENT_NEUTRAL: "neutral",
    pb.SENTIMENT_BULLISH: "bullish",
    pb.SENTIMENT_UNSPECIFIED: "neutral",
}
_TOP_BY = {"volume": pb.TOP_BY_VOLUME, "sales": pb.TOP_BY_SALES, "price": pb.TOP_BY_PRICE}
_PERIOD = {"24h": pb.PERIOD_24H, "7d": pb.PERIOD_7D, "30d": pb.PERIOD_30D, "all": pb.PERIOD_ALL}
# The contract names the range fields from_date/to_date; this surface calls them from/to.
_QUERY_NAMES = {"from_date": "from", "to_date": "to"}
Decimal = Annotated[str, Field(description="decimal string")]
Sentiment = Literal["bearish", "neutral", "bullish"]
AssetType = Annotated[str | None, Query(max_length=32, description="an asset type such as art; omitted means all")]


class MarketDayOut(BaseModel):
    date: str
    asset_type: str
    total_volume: Decimal
    total_transactions: int
    active_assets: int = Field(description="distinct assets created or sold that day")
    active_creators: int = Field(description="distinct creators of those assets")
    avg_asset_price: Decimal
    market_sentiment: Sentiment


class MarketOut(BaseModel):
    asset_type: str
    total_volume: Decimal
    total_transactions: int
    days: list[MarketDayOut]


class OverviewOut(BaseModel):
    total_volume: Decimal
    total_sales: int
    total_assets: int
    total_creators: int
    volume_24h: Decimal
    sales_24h: int
    volume_7d: Decimal
    volume_change_7d_pct: Decimal | None = Field(description="null when the week before had no volume")
    avg_price_7d: Decimal
    top_asset_type_7d: str | None
    total_value_staked: Decimal
    active_stakes: int
    market_sentiment: Sentiment
    as_of: str


class SaleOut(BaseModel):
    sale_id: str
    price: Decimal
    currency: str
    buyer_id: str | None
    seller_id: str | None
    occurred_at: str


class AssetPerformanceOut(BaseModel):
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
    created_at: str | None
    last_sale_at: str | None
    recent_sales: list[SaleOut]


class CreatorAssetOut(BaseModel):
    asset_id: str
    asset_type: str
    share_percent: Decimal
    sales: int
    volume: Decimal


class CreatorPerformanceOut(BaseModel):
    creator_id: str
    assets_created: int
    assets_sold: int
    total_sales: int
    total_volume: Decimal
    attributed_volume: Decimal = Field(description="each sale weighted by the creator's share percent")
    avg_sale_price: Decimal
    top_asset_id: str | None
    last_sale_at: str | None
    assets: list[CreatorAssetOut]


class TopAssetOut(BaseModel):
    rank: int
    asset_id: str
    asset_type: str
    volume: Decimal
    sales: int
    last_price: Decimal
    value: Decimal = Field(description="the figure ranked on")


class TopOut(BaseModel):
    by: str
    period: str
    items: list[TopAssetOut]


class InsightOut(BaseModel):
    kind: str
    title: str
    explanation: str
    severity: Literal["info", "notice", "warning"]
    rule: str
    metrics: dict[str, str]


class InsightsOut(BaseModel):
    insights: list[InsightOut]
    as_of: str


class HistoryPointOut(BaseModel):
    date: str
    volume: Decimal
    sales: int
    avg_price: Decimal


class HistoryOut(BaseModel):
    series: dict[str, list[HistoryPointOut]]


_READ = problem_responses(400, 422, *UPSTREAM)
IsoDate = Annotated[str | None, Query(max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$",
                                      description="ISO date (YYYY-MM-DD), inclusive")]


@router.get("/market", response_model=MarketOut, responses=_READ,
            summary="Daily market series (default: the last 30 days)")
async def market(
    stubs: Stubs,
    from_: Annotated[IsoDate, Query(alias="from")] = None,
    to: IsoDate = None,
    asset_type: AssetType = None,
) -> dict[str, Any]:
    try:
        r = await stubs.analytics.GetMarket(
            pb.GetMarketRequest(from_date=from_ or "", to_date=to or "", asset_type=asset_type or "")
        )
    except grpc.aio.AioRpcError as exc:
        _rename_field(exc)
        raise
    return {
        "asset_type": r.asset_type,
        "total_volume": r.total_volume,
        "total_transactions": r.total_transactions,
        "days": [
            {
                "date": d.date,
                "asset_type": d.asset_type,
                "total_volume": d.total_volume,
                "total_transactions": d.total_transactions,
                "active_assets": d.active_assets,
                "active_creators": d.active_creators,
                "avg_asset_price": d.avg_asset_price,
                "market_sentiment": _SENTIMENT[d.market_sentiment],
            }
            for d in r.days
        ],
    }


def _rename_field(exc: grpc.aio.AioRpcError) -> None:
    """Report an invalid range under the query parameter names this surface uses."""
    if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
        return
    field = dict(exc.trailing_metadata() or ()).get(FIELD_METADATA_KEY)
    if field in _QUERY_NAMES:
        detail = (exc.details() or "").replace("from_date", "from").replace("to_date", "to")
        raise Problem(400, detail, errors=[{"field": _QUERY_NAMES[field], "message": detail}]) from None


@router.get("/overview", response_model=OverviewOut, responses=_READ, summary="The whole market at a glance")
async def overview(stubs: Stubs) -> dict[str, Any]:
    o = await stubs.analytics.GetOverview(pb.GetOverviewRequest())
    return {
        "total_volume": o.total_volume,
        "total_sales": o.total_sales,
        "total_assets": o.total_assets,
        "total_creators": o.total_creators,
        "volume_24h": o.volume_24h,
        "sales_24h": o.sales_24h,
        "volume_7d": o.volume_7d,
        "volume_change_7d_pct": o.volume_change_7d_pct or None,
        "avg_price_7d": o.avg_price_7d,
        "top_asset_type_7d": o.top_asset_type_7d or None,
        "total_value_staked": o.total_value_staked,
        "active_stakes": o.active_stakes,
        "market_sentiment": _SENTIMENT[o.market_sentiment],
        "as_of": stamp(o.as_of),
    }


@router.get(
    "/assets/{asset_id}/performance",
    response_model=AssetPerformanceOut,
    responses=problem_responses(400, 404, 422, *UPSTREAM),
    summary="Sales, prices, buyers and stakes of one asset",
)
async def asset_performance(asset_id: PathId, stubs: Stubs) -> dict[str, Any]:
    a = await stubs.analytics.GetAssetPerformance(pb.GetAssetPerformanceRequest(asset_id=asset_id))
    return {
        "asset_id": a.asset_id,
        "asset_type": a.asset_type,
        "total_sales": a.total_sales,
        "total_volume": a.total_volume,
        "first_price": a.first_price or None,
        "last_price": a.last_price or None,
        "min_price": a.min_price or None,
        "max_price": a.max_price or None,
        "avg_price": a.avg_price or None,
        "price_change_pct": a.price_change_pct or None,
        "unique_buyers": a.unique_buyers,
        "transfers": a.transfers,
        "total_staked": a.total_staked,
        "active_stakes": a.active_stakes,
        "created_at": opt_stamp(a, "created_at"),
        "last_sale_at": opt_stamp(a, "last_sale_at"),
        "recent_sales": [
            {
                "sale_id": s.sale_id,
                "price": s.price,
                "currency": s.currency,
                "buyer_id": s.buyer_id or None,
                "seller_id": s.seller_id or None,
                "occurred_at": stamp(s.occurred_at),
            }
            for s in a.recent_sales
        ],
    }


@router.get(
    "/creators/{creator_id}/performance",
    response_model=CreatorPerformanceOut,
    responses=problem_responses(400, 404, 422, *UPSTREAM),
    summary="Sales of one creator's assets, weighted by their share",
)
async def creator_performance(creator_id: PathId, stubs: Stubs) -> dict[str, Any]:
    c = await stubs.analytics.GetCreatorPerformance(pb.GetCreatorPerformanceRequest(creator_id=creator_id))
    return {
        "creator_id": c.creator_id,
        "assets_created": c.assets_created,
        "assets_sold": c.assets_sold,
        "total_sales": c.total_sales,
        "total_volume": c.total_volume,
        "attributed_volume": c.attributed_volume,
        "avg_sale_price": c.avg_sale_price,
        "top_asset_id": c.top_asset_id or None,
        "last_sale_at": opt_stamp(c, "last_sale_at"),
        "assets": [
            {
                "asset_id": x.asset_id,
                "asset_type": x.asset_type,
                "share_percent": x.share_percent,
                "sales": x.sales,
                "volume": x.volume,
            }
            for x in c.assets
        ],
    }


@router.get("/top", response_model=TopOut, responses=_READ,
            summary="Top assets by volume, number of sales or latest price")
async def top(
    stubs: Stubs,
    by: Literal["volume", "sales", "price"] = "volume",
    period: Literal["24h", "7d", "30d", "all"] = "7d",
    asset_type: AssetType = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    r = await stubs.analytics.GetTop(
        pb.GetTopRequest(by=_TOP_BY[by], period=_PERIOD[period], asset_type=asset_type or "", limit=limit)
    )
    return {
        "by": by,
        "period": period,
        "items": [
            {
                "rank": t.rank,
                "asset_id": t.asset_id,
                "asset_type": t.asset_type,
                "volume": t.volume,
                "sales": t.sales,
                "last_price": t.last_price,
                "value": t.value,
            }
            for t in r.assets
        ],
    }


@router.get("/insights", response_model=InsightsOut, responses=_READ,
            summary="Short findings, each with its rule and numbers")
async def insights(stubs: Stubs, asset_type: AssetType = None) -> dict[str, Any]:
    r = await stubs.analytics.GetInsights(pb.GetInsightsRequest(asset_type=asset_type or ""))
    return {
        "insights": [
            {
                "kind": i.kind,
                "title": i.title,
                "explanation": i.explanation,
                "severity": i.severity,
                "rule": i.rule,
                "metrics": dict(i.metrics),
            }
            for i in r.insights
        ],
        "as_of": stamp(r.as_of),
    }


@router.get(
    "/history", response_model=HistoryOut, responses=_READ,
    summary="Daily volume and average price per asset type over the last N days",
)
async def history(
    stubs: Stubs, days: Annotated[int, Query(ge=1, le=730)] = 90, asset_type: AssetType = None
) -> dict[str, Any]:
    r = await stubs.analytics.GetMarketHistory(pb.GetMarketHistoryRequest(days=days, asset_type=asset_type or ""))
    return {
        "series": {
            s.asset_type: [
                {"date": p.date, "volume": p.volume, "sales": p.sales, "avg_price": p.avg_price} for p in s.points
            ]
            for s in r.series
        }
    }
