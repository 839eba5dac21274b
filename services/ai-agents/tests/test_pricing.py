"""Pricing agent: comparables-based prices with their comparables, confidence and the asking
price's position; the KB prior only in a thin market, then low confidence and a wide range."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from ai_agents_service.comparables import SaleRecord
from ai_agents_service.domain import AssetInput, HistoryPoint
from ai_agents_service.engine import RulePool
from ai_agents_service.market_data import MarketData
from ai_agents_service.pricing import MIN_BACKTEST, PricingAgent
from ipheron_libs.errors import InvalidArgument

AT = datetime(2026, 11, 1, tzinfo=UTC)


def _steady_then_busier_market() -> MarketData:
    """28 days of art history (no individual sales): 10 sales/day at 1.0, then 14/day at 1.1.

    volume ratio = 98 / (308/28 * 7) = 127 % -> high; price trend +10 % -> rising.
    """
    start = date(2026, 10, 1)
    rows = []
    for d in range(28):
        busy = d >= 21
        rows.append(HistoryPoint(date=(start + timedelta(days=d)).isoformat(), asset_type="art",
                     sales=14 if busy else 10, volume="0", avg_price="1.1" if busy else "1.0"))
    data = MarketData()
    data.set_history(rows, "synthetic")
    return data


def _music_sales_around_2_eth(n: int = 60) -> tuple[MarketData, list[SaleRecord]]:
    """n music sales over the last 60 days at 2 ETH +/- 10 %, from assets much like the one priced."""
    rng = random.Random(5)
    sales = [SaleRecord(f"ast-{i:03d}", "music", Decimal(str(round(2 * rng.uniform(0.9, 1.1), 6))),
                        AT - timedelta(days=60 * (n - i) / n), rng.choice(("europe", "asia")), rng.randint(0, 2),
                        rng.randint(1, 2), rng.randint(40, 70)) for i in range(n)]
    data = MarketData()
    data.add_sales(sales)
    return data, sales


async def test_a_market_of_sales_at_about_2_eth_prices_within_their_range_with_the_comparables(
        pool: RulePool) -> None:
    data, sales = _music_sales_around_2_eth()
    agent = PricingAgent(pool, data)
    asset = AssetInput(asset_type="music", region="europe", creator_reputation=55, utility_features=("remix",),
                       asking_price=Decimal("2"))
    price = await agent.suggest(asset, at=AT)
    lowest, highest = min(s.price for s in sales), max(s.price for s in sales)
    assert lowest <= price.suggested <= highest
    assert price.basis == "comparables" and price.rules[0].name == "basis-comparables"
    assert len(price.comparables) == 25 and {c.asset_id for c in price.comparables} <= {s.asset_id for s in sales}
    assert all(lowest <= c.price <= highest and 0 < c.similarity <= 1 and c.sold_at < AT for c in price.comparables)
    assert price.confidence == "high"
    assert price.asking_percentile is not None and Decimal(0) <= price.asking_percentile <= Decimal(100)
    assert price.asking_position == (f"asking 2 ETH is at the {int(price.asking_percentile)}th percentile of 25 "
                                     "comparable sales") or "percentile of 25 comparable sales" in price.asking_position
    # the range comes from back-tested errors and holds the suggestion, never zero width
    assert price.low < price.suggested < price.high
    assert "back-tested" in price.interval_method and price.rules[-1].name == "spread-validated"


async def test_a_thin_market_falls_back_to_the_prior_with_low_confidence_and_a_wide_range(pool: RulePool) -> None:
    data = _steady_then_busier_market()
    data.add_sales([SaleRecord(f"a{i}", "art", Decimal("3"), AT - timedelta(days=i + 1)) for i in range(3)])
    agent = PricingAgent(pool, data)
    asset = AssetInput(asset_type="art", region="europe", creator_reputation=75,
                       utility_features=("commercial-license", "source-files"), co_creators=2)
    price = await agent.suggest(asset, at=AT)
    names = [(r.name, r.contribution) for r in price.rules]
    # 0.5 prior x1.1 europe x1.25 hot demand x1.15 renowned x1.1 two utilities x1.05 duo
    assert names == [
        ("basis-kb-prior", ""),
        ("base-art", "0.500000"),
        ("region-europe", "+0.050000"),
        ("demand-hot", "+0.137500"),
        ("reputation-renowned", "+0.103125"),
        ("utility-useful", "+0.079062"),
        ("cocreators-duo", "+0.043484"),
        ("confidence-low-thin-market", ""),
        ("spread-prior", ""),
    ]
    assert "insufficient comparables: 3 art sale(s)" in price.rules[0].explanation and "fewer than 5" in \
        price.rules[0].explanation
    assert price.basis == "prior" and price.confidence == "low"
    assert price.suggested == Decimal("0.913171")
    assert (price.low, price.high) == (Decimal("0.456586"), Decimal("1.369756"))  # +/-50 %: wide on purpose
    assert len(price.comparables) == 3  # still listed, so the creator sees how little there is


async def test_fewer_back_tested_sales_than_needed_give_the_prior_spread(pool: RulePool) -> None:
    data, _ = _music_sales_around_2_eth(n=MIN_BACKTEST)  # enough comparables, too few validated errors
    price = await PricingAgent(pool, data).suggest(AssetInput(asset_type="music", region="asia"), at=AT)
    assert price.basis == "comparables" and price.rules[-1].name == "spread-prior"
    assert (price.low, price.high) == ((price.suggested * Decimal("0.5")).quantize(Decimal("0.000001")),
                                       (price.suggested * Decimal("1.5")).quantize(Decimal("0.000001")))


async def test_every_asset_type_and_region_has_a_price(pricing: PricingAgent) -> None:
    for asset_type in ("art", "music", "video", "literature", "software", "design", "patent", "trademark", "other"):
        for region in ("north-america", "europe", "asia", "other"):
            price = await pricing.suggest(AssetInput(asset_type=asset_type, region=region), at=AT)
            assert price.low < price.suggested < price.high and price.basis == "comparables"


async def test_other_currencies_are_refused(pricing: PricingAgent) -> None:
    with pytest.raises(InvalidArgument, match="ETH"):
        await pricing.suggest(AssetInput(asset_type="art"), currency="USD")
