"""Bootstrapping from synthetic-market files through RecordSales on a real server."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from analytics_service.config import Settings
from analytics_service.import_demo import import_folder
from analytics_service.server import AnalyticsApp
from conftest import NOW
from ipheron.analytics.v1 import analytics_service_pb2 as pb
from ipheron.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from ipheron_libs.grpc_client import channel
from sqlalchemy import Engine


def _write_market(folder: Path) -> None:
    """Files shaped like the ai-agents synthetic generator's output."""
    assets = [
        {
            "id": f"syn-a{i}",
            "name": f"n{i}",
            "asset_type": "music" if i % 2 else "art",
            "creator_id": f"syn-c{i % 3}",
            "price": "1.0",
        }
        for i in range(6)
    ]
    sales = [
        {
            "id": f"syn-s{i}",
            "asset_id": f"syn-a{i % 6}",
            "asset_type": "music" if i % 6 % 2 else "art",
            "seller_wallet": "0x" + "1" * 40,
            "buyer_wallet": "0x" + "2" * 40,
            "price": f"{1 + i % 4}.25",
            "at": (NOW - timedelta(days=i % 10, hours=1)).isoformat(),
            "wash": False,
        }
        for i in range(40)
    ]
    (folder / "assets.json").write_text(json.dumps(assets))
    (folder / "sales.json").write_text(json.dumps(sales))


async def test_import_records_every_sale_once(analytics_url: str, clean_engine: Engine, tmp_path: Path) -> None:
    _write_market(tmp_path)
    app = AnalyticsApp(Settings(consume_events=False, db_pool_size=2), analytics_url, clock=lambda: NOW)
    port = await app.start(host="127.0.0.1", port=0)
    try:
        addr = f"127.0.0.1:{port}"
        assert await import_folder(tmp_path, addr) == (40, 0)
        assert await import_folder(tmp_path, addr) == (0, 40)
        async with channel(addr) as ch:
            stub = pb_grpc.AnalyticsServiceStub(ch)
            hist = await stub.GetMarketHistory(pb.GetMarketHistoryRequest(days=10))
            overview = await stub.GetOverview(pb.GetOverviewRequest())
            creator = await stub.GetCreatorPerformance(pb.GetCreatorPerformanceRequest(creator_id="syn-c0"))
    finally:
        await app.stop(grace=0.2)
    series = {s.asset_type: s for s in hist.series}
    assert set(series) == {"all", "art", "music"}
    expected = sum(Decimal(f"{1 + i % 4}.25") for i in range(40))
    assert sum(Decimal(p.volume) for p in series["all"].points) == expected
    assert overview.total_sales == 40 and Decimal(overview.total_volume) == expected
    assert creator.assets_created == 2  # syn-a0, syn-a3
