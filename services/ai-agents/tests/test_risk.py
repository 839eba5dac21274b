"""Risk agent: planted wash trading is flagged, clean trades are not; asset checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ai_agents_service import synthetic
from ai_agents_service.domain import AssetInput, Trade
from ai_agents_service.market_data import MarketData
from ai_agents_service.risk import RiskAgent

W = ["0x" + c * 40 for c in "abcdef"]


def _trade(s: synthetic.Sale) -> Trade:
    return Trade(s.asset_id, s.seller_wallet, s.buyer_wallet, s.price, s.at)


async def test_planted_wash_trading_rings_are_flagged_once_they_cycle(
        risk: RiskAgent, market: synthetic.Market) -> None:
    assert len(market.wash_rings) == 2
    by_id = {s.id: s for s in market.sales}
    for ring in market.wash_rings:
        sales = [by_id[i] for i in ring.sale_ids]
        results = [await risk.assess_purchase(_trade(s)) for s in sales]
        # From the 4th sale on, the asset has come back round the same three wallets.
        for result in results[3:]:
            assert "wash-trading-ring" in result.flags
            assert result.level == "high" and result.score >= 70
            assert "cycling among the same few wallets" in result.explanation
        assert all(r.rules[0].name == "wash-trading-ring" for r in results[3:])


async def test_clean_trades_are_not_flagged(risk: RiskAgent, market: synthetic.Market,
                                            report: dict[str, str]) -> None:
    cutoff = market.sales[-1].at - timedelta(days=30)
    clean = [s for s in market.sales if not s.wash and s.at >= cutoff]
    assert len(clean) > 1000  # a realistic month of trading, not a toy sample
    results = await risk.assess_purchases([(_trade(s), ()) for s in clean])
    wash_flags = [r for r in results if {"wash-trading-ring", "wash-round-trip"} & set(r.flags)]
    assert wash_flags == []
    assert all(r.level == "low" for r in results)
    report["clean trades scored (30 days)"] = f"{len(results)}, flagged medium/high: 0"


async def test_round_trip_in_caller_history_without_times_is_flagged(risk: RiskAgent) -> None:
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    history = [Trade("asset-rt", W[0], W[1], Decimal("1.0"), None)]
    result = await risk.assess_purchase(Trade("asset-rt", W[1], W[0], Decimal("1.1"), now), history)
    assert result.flags == ["wash-round-trip"] and result.level == "medium"


async def test_sudden_price_jump_and_velocity_are_scored(risk: RiskAgent) -> None:
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    history = [Trade("asset-jump", W[i % 6], W[(i + 1) % 6], Decimal("1.0"), now - timedelta(hours=2 * (9 - i)))
               for i in range(9)]
    result = await risk.assess_purchase(Trade("asset-jump", W[3], "0x" + "9" * 40, Decimal("7.5"), now), history)
    assert "price-jump-extreme" in result.flags and "velocity-burst" in result.flags
    assert result.score == 55 and result.level == "medium"


async def test_batch_scoring_matches_single_scoring(risk: RiskAgent, market: synthetic.Market) -> None:
    sample = [_trade(s) for s in market.sales[-50:]]
    batch = await risk.assess_purchases([(t, ()) for t in sample])
    single = [await risk.assess_purchase(t) for t in sample]
    assert [(b.score, b.flags) for b in batch] == [(s.score, s.flags) for s in single]


async def test_duplicate_content_and_name_are_flagged(risk: RiskAgent, market: synthetic.Market) -> None:
    original = market.assets[0]
    copy = AssetInput(asset_type=original.asset_type, region="europe", name=original.name.upper() + "!",
                      content_hash=original.content_hash)
    result = await risk.assess_asset(copy)
    assert result.flags == ["duplicate-content", "duplicate-name"] and result.level == "high"
    assert original.id in result.explanation


async def test_near_duplicate_perceptual_hash_and_similar_name(risk: RiskAgent, market_data: MarketData) -> None:
    market_data.add_assets([("ast-phash", "Midnight Harbour Lights", "f0f0f0f0a5a5a5a5")])
    near = AssetInput(asset_type="art", name="Midnight Harbor Lights", content_hash="f0f0f0f0a5a5a5a4")
    result = await risk.assess_asset(near)
    assert set(result.flags) == {"near-duplicate-content", "similar-name"}
    assert result.score == 55


async def test_new_wallet_asking_an_extreme_price_with_prohibited_terms(risk: RiskAgent) -> None:
    asset = AssetInput(asset_type="music", region="asia", name="Cracked plugin bundle", asking_price=Decimal("80"),
                       wallet_age_days=2, description="")
    result = await risk.assess_asset(asset)
    assert set(result.flags) == {"new-wallet-extreme-price", "prohibited-terms"}
    assert result.score == 95 and result.level == "high"
    assert "cracked" in result.explanation


async def test_original_asset_from_an_established_wallet_is_low_risk(risk: RiskAgent) -> None:
    asset = AssetInput(asset_type="design", region="europe", name="Brand kit for a bakery",
                       content_hash="bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                       asking_price=Decimal("0.3"), wallet_age_days=400)
    result = await risk.assess_asset(asset)
    assert (result.score, result.level, result.flags) == (0, "low", [])
    assert result.explanation == "low risk (0/100): no risk signals"
