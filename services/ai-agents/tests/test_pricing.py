"""Pricing agent: known inputs give a known price, range and fired rules."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from ai_agents_service.domain import AssetInput, HistoryPoint
from ai_agents_service.engine import RulePool
from ai_agents_service.market_data import MarketData
from ai_agents_service.pricing import PricingAgent
from ipheron_libs.errors import InvalidArgument


def _steady_then_busier_market() -> MarketData:
    """28 days of art: 10 sales/day at 1.0, then the last 7 days 14/day at 1.1.

    volume ratio = 98 / (308/28 * 7) = 127 % -> high; price trend +10 % -> rising;
    volatility (CV of daily price) ~4.2 % -> calm.
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


async def test_known_inputs_give_the_expected_price_range_and_rules(pool: RulePool) -> None:
    agent = PricingAgent(pool, _steady_then_busier_market())
    asset = AssetInput(asset_type="art", region="europe", creator_reputation=75,
                       utility_features=("commercial-license", "source-files"), co_creators=2)
    price = await agent.suggest(asset)
    # 0.5 base x1.1 europe x1.25 hot demand x1.15 renowned x1.1 two utilities x1.05 duo
    assert [(r.name, r.contribution) for r in price.rules] == [
        ("base-art", "0.500000"),
        ("region-europe", "+0.050000"),
        ("demand-hot", "+0.137500"),
        ("reputation-renowned", "+0.103125"),
        ("utility-useful", "+0.079062"),
        ("cocreators-duo", "+0.043484"),
        ("spread-calm", ""),
    ]
    assert price.suggested == Decimal("0.913171")
    assert (price.low, price.high) == (Decimal("0.821854"), Decimal("1.004488"))
    assert price.currency == "ETH" and price.kb_version == pool.kb.version  # type: ignore[union-attr]
    assert "127.27%" in price.rules[2].explanation and "rising" in price.rules[2].explanation


async def test_fading_market_and_novice_creator_price_lower(pool: RulePool, pricing: PricingAgent) -> None:
    rows = []
    start = date(2026, 10, 1)
    for d in range(28):
        late = d >= 21
        rows.append(HistoryPoint(date=(start + timedelta(days=d)).isoformat(), asset_type="music",
                     sales=3 if late else 10, volume="0", avg_price="0.8" if late else "1.0"))
    fading = MarketData()
    fading.set_history(rows, "synthetic")
    cold = await PricingAgent(pool, fading).suggest(AssetInput(asset_type="music", region="africa",
                                                               creator_reputation=10))
    names = [r.name for r in cold.rules]
    assert names[:4] == ["base-music", "region-africa", "demand-cold", "reputation-novice"]
    assert cold.suggested < Decimal("0.2") * Decimal("0.85")
    assert cold.low < cold.suggested < cold.high


async def test_every_asset_type_and_region_has_a_price(pricing: PricingAgent) -> None:
    for asset_type in ("art", "music", "video", "literature", "software", "design", "patent", "trademark", "other"):
        for region in ("north-america", "europe", "asia", "other"):
            price = await pricing.suggest(AssetInput(asset_type=asset_type, region=region))
            assert price.suggested > 0 and len(price.rules) == 7


async def test_other_currencies_are_refused(pricing: PricingAgent) -> None:
    with pytest.raises(InvalidArgument, match="ETH"):
        await pricing.suggest(AssetInput(asset_type="art"), currency="USD")
