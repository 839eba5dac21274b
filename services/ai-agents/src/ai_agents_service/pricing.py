"""Pricing agent: a suggested price and range from the rules in kb/pricing.metta.

The service computes levels from the data (reputation, utility count, co-creator
count, price volatility) with the KB's own `level-bounds`; the demand rule reads
the market's volume and trend levels through grounded functions. The price starts
at the base for the asset type and each factor rule changes it in turn, so every
fired rule carries its exact contribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ipheron_libs.errors import InvalidArgument
from ipheron_libs.wire import money_fixed

from ai_agents_service.domain import PRICE_PLACES, AssetInput, FiredRule, clamp_reputation, factor
from ai_agents_service.engine import RulePool
from ai_agents_service.market_data import Indicators, MarketData

MODULE = "pricing"
CURRENCY = "ETH"


@dataclass
class PriceSuggestion:
    suggested: Decimal
    low: Decimal
    high: Decimal
    currency: str
    rules: list[FiredRule] = field(default_factory=list)
    market_source: str = ""
    kb_version: str = ""


class PricingAgent:
    """Prices assets from the pricing rules and the market's recent demand."""

    def __init__(self, pool: RulePool, market: MarketData) -> None:
        self.pool = pool
        self.market = market

    async def suggest(self, asset: AssetInput, currency: str = "") -> PriceSuggestion:
        if currency and currency.upper() != CURRENCY:
            raise InvalidArgument(f"prices are in {CURRENCY}; got currency {currency!r}", field="currency")
        kb = self.pool.kb
        assert kb is not None, "pool not started"
        ind = self.market.indicators(asset.asset_type)
        levels = {
            "reputation": kb.level("reputation", clamp_reputation(asset.creator_reputation)),
            "utility": kb.level("utility", len(set(asset.utility_features))),
            "cocreators": kb.level("cocreators", max(1, asset.co_creators)),
            "volatility": kb.level("volatility", ind.volatility_pct),
        }
        data = {
            "volume_level": kb.level("volume", ind.volume_ratio_pct),
            "trend_level": kb.level("trend", ind.price_trend_pct),
        }
        queries = (
            f"(base-price {asset.asset_type})",
            f"(region-factor {asset.region or 'other'})",
            "(demand-factor)",
            f"(reputation-factor {levels['reputation']})",
            f"(utility-factor {levels['utility']})",
            f"(cocreator-factor {levels['cocreators']})",
            f"(price-spread {levels['volatility']})",
        )
        results = await self.pool.evaluate(queries, data)
        base, *factors, spread = results
        price = factor(base.value)
        rules = [FiredRule(base.name, MODULE, str(base.value), money_fixed(price, PRICE_PLACES),
                           f"base price for {asset.asset_type} is {money_fixed(price, PRICE_PLACES)} {CURRENCY}")]
        reasons = self._reasons(asset, ind, levels, data)
        for rule, reason in zip(factors, reasons, strict=True):
            f = factor(rule.value)
            delta = (price * f - price).quantize(Decimal("0.000001"))
            price += delta
            sign = "+" if delta >= 0 else ""
            rules.append(FiredRule(rule.name, MODULE, str(rule.value), f"{sign}{delta}", f"{reason}: x{f}"))
        half = factor(spread.value)
        rules.append(FiredRule(spread.name, MODULE, str(spread.value), "",
                               f"price volatility {ind.volatility_pct}% sets the range to +/-{half * 100}%"))
        price = price.quantize(Decimal("0.000001"))
        return PriceSuggestion(
            suggested=price,
            low=(price * (1 - half)).quantize(Decimal("0.000001")),
            high=(price * (1 + half)).quantize(Decimal("0.000001")),
            currency=CURRENCY,
            rules=rules,
            market_source=self.market.source,
            kb_version=kb.version,
        )

    @staticmethod
    def _reasons(asset: AssetInput, ind: Indicators, levels: dict[str, str], data: dict[str, str]) -> list[str]:
        return [
            f"region {asset.region or 'other'}",
            (f"demand: 7-day sales at {ind.volume_ratio_pct}% of the 28-day norm ({data['volume_level']}), "
             f"price trend {ind.price_trend_pct}% ({data['trend_level']})"),
            f"creator reputation {asset.creator_reputation} ({levels['reputation']})",
            f"{len(set(asset.utility_features))} utility feature(s) ({levels['utility']})",
            f"{max(1, asset.co_creators)} co-creator(s) ({levels['cocreators']})",
        ]
