"""Risk agent: a 0..100 score with flags and an explanation, from kb/risk.metta.

The service turns the facts into levels (is the content hash known? did the
buyer sell this asset before? how many trades in 24 h?), the rules turn levels
into points. Levels take few values, so the interpreter's answers are cached per
level combination and a purchase scoring costs mostly the feature work in
Python; the batch form scores many purchases with at most one worker round trip.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ai_agents_service.domain import AssetInput, FiredRule, RiskResult, Trade
from ai_agents_service.engine import RulePool, RuleResult
from ai_agents_service.market_data import MarketData, TradeFact, normalize_name
from ai_agents_service.pricing import PricingAgent

MODULE = "risk"
RING_WINDOW = timedelta(days=14)
ROUND_TRIP_WINDOW = timedelta(hours=72)
RECENT_TRADES = 10


class RiskAgent:
    """Scores assets before they are accepted and purchases before they run."""

    def __init__(self, pool: RulePool, market: MarketData, pricing: PricingAgent) -> None:
        self.pool = pool
        self.market = market
        self.pricing = pricing
        self._terms_cache: tuple[tuple[str, ...], re.Pattern[str]] | None = None

    # -- assets

    def _terms_pattern(self) -> re.Pattern[str]:
        kb = self.pool.kb
        assert kb is not None
        if self._terms_cache is None or self._terms_cache[0] != kb.prohibited_terms:
            words = "|".join(re.escape(normalize_name(t)) for t in kb.prohibited_terms if normalize_name(t))
            self._terms_cache = (kb.prohibited_terms, re.compile(rf"\b({words})\b" if words else r"(?!x)x"))
        return self._terms_cache[1]

    async def assess_asset(self, asset: AssetInput, known: Sequence[AssetInput] = ()) -> RiskResult:
        kb = self.pool.kb
        assert kb is not None
        content, content_match = self.market.find_content(asset.content_hash, exclude=asset.asset_id)
        name, name_match = self.market.find_name(asset.name, exclude=asset.asset_id)
        norm = normalize_name(asset.name)
        for other in known:  # candidates the caller passed (e.g. the creator's own catalog)
            if other.asset_id and other.asset_id == asset.asset_id:
                continue
            if content != "exact" and asset.content_hash and other.content_hash.lower() == asset.content_hash.lower():
                content, content_match = "exact", other.asset_id or other.name
            if name != "exact" and norm and normalize_name(other.name) == norm:
                name, name_match = "exact", other.asset_id or other.name
        ratio_pct = Decimal(0)
        if asset.asking_price is not None:
            suggestion = await self.pricing.suggest(asset)
            if suggestion.suggested > 0:
                ratio_pct = (asset.asking_price / suggestion.suggested * 100).quantize(Decimal("0.01"))
        age = kb.level("wallet-age", asset.wallet_age_days) if asset.wallet_age_days >= 0 else "established"
        terms = sorted(set(self._terms_pattern().findall(normalize_name(f"{asset.name} {asset.description}"))))
        queries = (
            f"(content-risk {content})",
            f"(name-risk {name})",
            f"(price-risk {age} {kb.level('price-ratio', ratio_pct)})",
            f"(terms-risk {'found' if terms else 'none'})",
        )
        details = [
            f"matches asset {content_match}" if content_match else "",
            f"matches asset {name_match}" if name_match else "",
            f"asking {ratio_pct}% of the rule price, wallet age {asset.wallet_age_days} days"
            if asset.asking_price is not None else "no asking price",
            f"terms: {', '.join(terms)}" if terms else "",
        ]
        return self._score(await self.pool.evaluate(queries), details)

    # -- purchases

    def purchase_levels(self, purchase: Trade, history: Sequence[Trade] = ()) -> tuple[tuple[str, ...], list[str]]:
        """The rule queries for one purchase and the facts behind each (pure Python, no MeTTa)."""
        kb = self.pool.kb
        assert kb is not None
        if purchase.at is None:
            purchase = replace(purchase, at=datetime.now(UTC))
        assert purchase.at is not None
        logged = self.market.trades_of(purchase.asset_id)
        keys = {(t.seller, t.buyer, t.at) for t in logged}
        loose = {(t.seller, t.buyer, t.price) for t in logged}
        untimed = [TradeFact(t.asset_id, t.seller, t.buyer, t.price, None) for t in history
                   if t.at is None and (t.seller, t.buyer, t.price) not in loose]
        timed = [TradeFact(t.asset_id, t.seller, t.buyer, t.price, t.at) for t in history
                 if t.at is not None and (t.seller, t.buyer, t.at) not in keys]
        # History without times is the caller's ordered list (oldest first): it counts
        # for order-based checks, never for time windows.
        before = untimed + sorted((t for t in timed + logged if t.at is not None and t.at < purchase.at),
                                  key=lambda t: t.at)  # type: ignore[arg-type, return-value]

        wash, wash_detail = "none", ""
        back = [t for t in before if (t.at is None or t.at >= purchase.at - ROUND_TRIP_WINDOW)
                and t.seller == purchase.buyer and t.buyer == purchase.seller]
        recent = [t for t in before if t.at is None or t.at >= purchase.at - RING_WINDOW][-RECENT_TRADES:]
        wallets = {w for t in recent for w in (t.seller, t.buyer)}
        bought_back = any(t.seller == purchase.buyer for t in recent)
        if len(recent) >= 3 and bought_back and len(wallets | {purchase.buyer, purchase.seller}) <= 3:
            wash, wash_detail = "ring", f"{len(recent) + 1} trades in 14 days among {len(wallets)} wallets"
        elif back:
            when = f" on {back[-1].at:%Y-%m-%d}" if back[-1].at else ""
            wash, wash_detail = "round-trip", f"{purchase.buyer} sold it to {purchase.seller}{when}"

        jump_pct = Decimal(0)
        prices = [t.price for t in before[-RECENT_TRADES:]]
        if prices:
            median = Decimal(statistics.median(prices))
            if median > 0:
                jump_pct = (purchase.price / median * 100).quantize(Decimal("0.01"))
        day_ago = purchase.at - timedelta(hours=24)
        velocity = max(sum(1 for t in before if t.at is not None and t.at >= day_ago),
                       self.market.buys_between(purchase.buyer, day_ago, purchase.at) if purchase.buyer else 0)
        queries = (
            f"(wash-risk {wash})",
            f"(jump-risk {kb.level('jump', jump_pct)})",
            f"(velocity-risk {kb.level('velocity', velocity)})",
        )
        details = [wash_detail, f"price at {jump_pct}% of the recent median" if prices else "",
                   f"{velocity} trade(s) in 24 hours"]
        return queries, details

    async def assess_purchase(self, purchase: Trade, history: Sequence[Trade] = ()) -> RiskResult:
        queries, details = self.purchase_levels(purchase, history)
        return self._score(await self.pool.evaluate(queries), details)

    async def assess_purchases(self, purchases: Sequence[tuple[Trade, Sequence[Trade]]]) -> list[RiskResult]:
        """Score many purchases: features in Python, one worker round trip for uncached levels."""
        prepared = [self.purchase_levels(p, h) for p, h in purchases]
        answers = await self.pool.evaluate_many([(q, None) for q, _ in prepared])
        return [self._score(a, d) for a, (_, d) in zip(answers, prepared, strict=True)]

    # -- scoring

    def _score(self, results: list[RuleResult], details: list[str]) -> RiskResult:
        kb = self.pool.kb
        assert kb is not None
        total = 0
        rules: list[FiredRule] = []
        flags: list[str] = []
        reasons: list[str] = []
        for rule, detail in zip(results, details, strict=True):
            points = int(Decimal(str(rule.value)))
            total += points
            text = kb.explanations.get(rule.name, rule.name.replace("-", " "))
            if detail:
                text = f"{text} ({detail})" if points > 0 else detail
            rules.append(FiredRule(rule.name, MODULE, str(rule.value), f"+{points}", text))
            if points > 0:
                flags.append(rule.name)
                reasons.append(text)
        score = max(0, min(100, total))
        level = kb.level("risk", score)
        explanation = "; ".join(reasons) if reasons else "no risk signals"
        return RiskResult(score=score, level=level, flags=flags,
                          explanation=f"{level} risk ({score}/100): {explanation}", rules=rules)
