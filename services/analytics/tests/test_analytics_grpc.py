"""AnalyticsService over a real gRPC channel (port 0) on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import grpc
import pytest
from analytics_service.config import Settings
from analytics_service.consumer import apply_event
from analytics_service.server import FULL_NAME, AnalyticsApp
from conftest import NOW, created, days_ago, event, sold
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron.analytics.v1 import analytics_service_pb2 as pb
from ipheron.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from ipheron_libs.errors import FIELD_METADATA_KEY
from ipheron_libs.wire import to_timestamp
from sqlalchemy import Engine

D = Decimal


@dataclass
class Running:
    stub: pb_grpc.AnalyticsServiceStub
    channel: grpc.aio.Channel


@asynccontextmanager
async def running(url: str) -> AsyncIterator[Running]:
    app = AnalyticsApp(Settings(consume_events=False, db_pool_size=4), url, clock=lambda: NOW)
    port = await app.start(host="127.0.0.1", port=0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(pb_grpc.AnalyticsServiceStub(channel), channel)
    finally:
        await channel.close()
        await app.stop(grace=0.5)


def _field(err: grpc.aio.AioRpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get(FIELD_METADATA_KEY)


def _seed(engine: Engine) -> None:
    """Two weeks of a small market: art rising, music flat, one stake."""
    evs = [
        created("a1", "art", days_ago(20), creators=[("c1", "60"), ("c2", "40")]),
        created("a2", "art", days_ago(20), creators=[("c2", "100")]),
        created("m1", "music", days_ago(20), creators=[("c3", "100")]),
        sold("a1", "1", days_ago(12), buyer="b1"),
        sold("m1", "2", days_ago(11), buyer="b2"),
        sold("a1", "2", days_ago(5), buyer="b2"),
        sold("a2", "3", days_ago(3), buyer="b3"),
        sold("a1", "4", days_ago(0, hours=2), buyer="b1"),
        sold("m1", "1", days_ago(2), buyer="b3"),
        event("asset.transferred", {"asset_id": "a1", "to_user_id": "b1"}, days_ago(0, hours=2)),
        event("stake.opened", {"stake_id": "s1", "user_id": "u1", "asset_id": "a1", "amount": "10"}, days_ago(1)),
    ]
    with engine.begin() as conn:
        for ev in evs:
            apply_event(conn, ev, NOW)


async def test_market_series_is_daily_and_zero_filled(analytics_url: str, clean_engine: Engine) -> None:
    _seed(clean_engine)
    async with running(analytics_url) as r:
        health = await health_pb2_grpc.HealthStub(r.channel).Check(health_pb2.HealthCheckRequest(service=FULL_NAME))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        first, last = days_ago(6).date(), NOW.date()
        res = await r.stub.GetMarket(
            pb.GetMarketRequest(from_date=first.isoformat(), to_date=last.isoformat(), asset_type="art")
        )
        assert [d.date for d in res.days] == [(first + timedelta(days=i)).isoformat() for i in range(7)]
        by_day = {d.date: d for d in res.days}
        assert by_day[days_ago(5).date().isoformat()].total_volume == "2"
        assert by_day[days_ago(4).date().isoformat()].total_volume == "0"
        assert by_day[days_ago(4).date().isoformat()].market_sentiment == pb.SENTIMENT_NEUTRAL
        assert res.total_volume == "9" and res.total_transactions == 3
        default = await r.stub.GetMarket(pb.GetMarketRequest())
        assert len(default.days) == 30 and default.asset_type == "all" and default.total_volume == "13"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.GetMarketRequest(from_date="2026-02-30"), "from_date"),
        (pb.GetMarketRequest(to_date="soon"), "to_date"),
        (pb.GetMarketRequest(from_date="2026-03-10", to_date="2026-03-01"), "from_date"),
        (pb.GetMarketRequest(from_date="2020-01-01", to_date="2026-01-01"), "from_date"),
        (pb.GetMarketRequest(asset_type="Art!"), "asset_type"),
    ],
)
async def test_bad_market_requests_name_the_field(
    analytics_url: str, clean_engine: Engine, request_: pb.GetMarketRequest, field: str
) -> None:
    async with running(analytics_url) as r:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.GetMarket(request_)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(exc.value) == field


async def test_overview_sums_the_market(analytics_url: str, clean_engine: Engine) -> None:
    _seed(clean_engine)
    async with running(analytics_url) as r:
        o = await r.stub.GetOverview(pb.GetOverviewRequest())
        assert o.total_volume == "13" and o.total_sales == 6
        assert o.total_assets == 3 and o.total_creators == 3
        assert o.volume_24h == "4" and o.sales_24h == 1
        assert o.volume_7d == "10"  # 2 + 3 + 4 + 1
        assert o.volume_change_7d_pct == "233.33"  # vs 3 in the week before
        assert o.avg_price_7d == "2.5"
        assert o.top_asset_type_7d == "art"
        assert o.total_value_staked == "10" and o.active_stakes == 1
        assert o.market_sentiment == pb.SENTIMENT_BULLISH


async def test_asset_performance_and_unknown_asset(analytics_url: str, clean_engine: Engine) -> None:
    _seed(clean_engine)
    async with running(analytics_url) as r:
        a = await r.stub.GetAssetPerformance(pb.GetAssetPerformanceRequest(asset_id="a1"))
        assert (a.asset_type, a.total_sales, a.total_volume) == ("art", 3, "7")
        assert (a.first_price, a.last_price, a.min_price, a.max_price) == ("1", "4", "1", "4")
        assert a.price_change_pct == "300" and a.unique_buyers == 2 and a.transfers == 1
        assert a.total_staked == "10" and a.active_stakes == 1
        assert [s.price for s in a.recent_sales] == ["4", "2", "1"]
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.GetAssetPerformance(pb.GetAssetPerformanceRequest(asset_id="nope"))
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.GetAssetPerformance(pb.GetAssetPerformanceRequest(asset_id=""))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(exc.value) == "asset_id"


async def test_creator_performance_weighs_sales_by_share(analytics_url: str, clean_engine: Engine) -> None:
    _seed(clean_engine)
    async with running(analytics_url) as r:
        c = await r.stub.GetCreatorPerformance(pb.GetCreatorPerformanceRequest(creator_id="c2"))
        assert c.assets_created == 2 and c.assets_sold == 2 and c.total_sales == 4
        assert c.total_volume == "10"  # a1: 7, a2: 3
        assert c.attributed_volume == "5.8"  # 40 % of 7 + 100 % of 3
        assert c.top_asset_id == "a1" and c.avg_sale_price == "2.5"
        assert [(x.asset_id, x.share_percent) for x in c.assets] == [("a1", "40"), ("a2", "100")]
        nobody = await r.stub.GetCreatorPerformance(pb.GetCreatorPerformanceRequest(creator_id="new-creator"))
        assert nobody.assets_created == 0 and nobody.total_volume == "0"


async def test_top_ranks_by_volume_sales_and_price_within_the_period(analytics_url: str, clean_engine: Engine) -> None:
    _seed(clean_engine)
    async with running(analytics_url) as r:
        vol = await r.stub.GetTop(pb.GetTopRequest(by=pb.TOP_BY_VOLUME, period=pb.PERIOD_ALL))
        assert [(t.rank, t.asset_id, t.value) for t in vol.assets] == [
            (1, "a1", "7"),
            (2, "a2", "3"),
            (3, "m1", "3"),
        ]  # ties by id
        week = await r.stub.GetTop(pb.GetTopRequest(by=pb.TOP_BY_SALES, period=pb.PERIOD_7D))
        assert [(t.asset_id, t.sales) for t in week.assets] == [("a1", 2), ("a2", 1), ("m1", 1)]
        price = await r.stub.GetTop(pb.GetTopRequest(by=pb.TOP_BY_PRICE, period=pb.PERIOD_30D, limit=2))
        assert [(t.asset_id, t.last_price) for t in price.assets] == [("a1", "4"), ("a2", "3")]
        day = await r.stub.GetTop(pb.GetTopRequest(by=pb.TOP_BY_VOLUME, period=pb.PERIOD_24H, asset_type="music"))
        assert list(day.assets) == []
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.GetTop(pb.GetTopRequest(limit=1000))
        assert _field(exc.value) == "limit"
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.GetTop(pb.GetTopRequest(by=42))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(exc.value) == "by"


async def test_insights_are_explained(analytics_url: str, clean_engine: Engine) -> None:
    async with running(analytics_url) as r:
        empty = await r.stub.GetInsights(pb.GetInsightsRequest())
        assert [i.kind for i in empty.insights] == ["no_data"]
        _seed(clean_engine)
        res = await r.stub.GetInsights(pb.GetInsightsRequest())
        kinds = {i.kind: i for i in res.insights}
        assert {"volume_trend", "leading_asset_type", "staking", "sentiment"} <= set(kinds)
        assert kinds["volume_trend"].metrics["change_pct"] == "233.33"
        assert kinds["leading_asset_type"].metrics["asset_type"] == "art"
        assert all(i.rule and i.explanation and i.severity in {"info", "notice", "warning"} for i in res.insights)


async def test_market_history_gives_each_type_a_full_daily_series(analytics_url: str, clean_engine: Engine) -> None:
    _seed(clean_engine)
    async with running(analytics_url) as r:
        res = await r.stub.GetMarketHistory(pb.GetMarketHistoryRequest(days=14))
        series = {s.asset_type: s.points for s in res.series}
        assert set(series) == {"all", "art", "music"}
        assert all(len(points) == 14 for points in series.values())
        assert series["music"][0].date == days_ago(13).date().isoformat()
        music = {p.date: p for p in series["music"]}
        assert music[days_ago(11).date().isoformat()].volume == "2"
        assert music[days_ago(2).date().isoformat()].avg_price == "1"
        only = await r.stub.GetMarketHistory(pb.GetMarketHistoryRequest(days=3, asset_type="art"))
        assert [s.asset_type for s in only.series] == ["art"] and len(only.series[0].points) == 3
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.GetMarketHistory(pb.GetMarketHistoryRequest(days=5000))
        assert _field(exc.value) == "days"


async def test_record_sales_is_idempotent_and_validates_each_sale(analytics_url: str, clean_engine: Engine) -> None:
    async with running(analytics_url) as r:
        batch = [
            pb.SaleRecord(
                sale_id=f"syn-{i}",
                asset_id=f"syn-asset-{i % 3}",
                asset_type="patent",
                price=f"{i}.5",
                occurred_at=to_timestamp(days_ago(i)),
                creator_ids=["cx", "cy"],
            )
            for i in range(6)
        ]
        first = await r.stub.RecordSales(pb.RecordSalesRequest(sales=batch))
        again = await r.stub.RecordSales(pb.RecordSalesRequest(sales=batch))
        assert (first.recorded, first.duplicates) == (6, 0)
        assert (again.recorded, again.duplicates) == (0, 6)
        hist = await r.stub.GetMarketHistory(pb.GetMarketHistoryRequest(days=7, asset_type="patent"))
        assert sum(D(p.volume) for p in hist.series[0].points) == D("18")  # 0.5 + 1.5 + ... + 5.5
        creator = await r.stub.GetCreatorPerformance(pb.GetCreatorPerformanceRequest(creator_id="cx"))
        assert creator.assets_created == 3 and creator.attributed_volume == "9"
        bad = [*batch[:1], pb.SaleRecord(sale_id="syn-bad", asset_id="z", price="-1")]
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.RecordSales(pb.RecordSalesRequest(sales=bad))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(exc.value) == "sales[1].price"


async def test_list_sales_pages_newest_first_with_region_and_creators(analytics_url: str,
                                                                      clean_engine: Engine) -> None:
    _seed(clean_engine)
    async with running(analytics_url) as r:
        first = await r.stub.ListSales(pb.ListSalesRequest(limit=4))
        assert [(x.sale.asset_id, x.sale.price) for x in first.sales] == [
            ("a1", "4"), ("m1", "1"), ("a2", "3"), ("a1", "2")]
        assert first.sales[0].creators == 2 and first.sales[2].creators == 1
        assert first.sales[0].region == "Global" and first.sales[0].sale.asset_type == "art"
        assert first.next_cursor
        rest = await r.stub.ListSales(pb.ListSalesRequest(limit=4, cursor=first.next_cursor))
        assert [(x.sale.asset_id, x.sale.price) for x in rest.sales] == [("m1", "2"), ("a1", "1")]
        assert rest.next_cursor == ""
        art = await r.stub.ListSales(pb.ListSalesRequest(asset_type="art", since=to_timestamp(days_ago(6))))
        assert [x.sale.price for x in art.sales] == ["4", "3", "2"] and art.next_cursor == ""
        for bad, field in ((pb.ListSalesRequest(limit=5000), "limit"), (pb.ListSalesRequest(cursor="%%"), "cursor"),
                           (pb.ListSalesRequest(asset_type="Art!"), "asset_type")):
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await r.stub.ListSales(bad)
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(exc.value) == field
