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
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ai_agents_service.domain import AssetInput, FiredRule, RiskResult, SaleFlag, Trade
from ai_agents_service.engine import RulePool, RuleResult
from ai_agents_service.market_data import MarketData, TradeFact, normalize_name
from ai_agents_service.pricing import PricingAgent

MODULE = "risk"
RING_WINDOW = timedelta(days=14)
ROUND_TRIP_WINDOW = timedelta(hours=72)
RECENT_TRADES = 10


@dataclass(frozen=True)
class Wash:
    """What the wash-trading check saw in one purchase: the level for the rules, the facts,
    and the cycle it closes (its wallets and look-back window; empty with level none)."""

    level: str  # ring | round-trip | none
    detail: str
    wallets: tuple[str, ...]
    window: timedelta


@dataclass(frozen=True)
class SaleAssessment:
    """A recorded sale's risk, its own flags to store, and the earlier sales it flags."""

    sale: TradeFact
    result: RiskResult
    flags: list[SaleFlag]
    retroactive: list[SaleFlag]


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

    def _wash(self, purchase: Trade, before: Sequence[TradeFact]) -> Wash:
        """The wash-trading level of a purchase from the trades before it, and the cycle it closes."""
        assert purchase.at is not None
        back = [t for t in before if (t.at is None or t.at >= purchase.at - ROUND_TRIP_WINDOW)
                and t.seller == purchase.buyer and t.buyer == purchase.seller]
        recent = [t for t in before if t.at is None or t.at >= purchase.at - RING_WINDOW][-RECENT_TRADES:]
        wallets = {w for t in recent for w in (t.seller, t.buyer)}
        bought_back = any(t.seller == purchase.buyer for t in recent)
        cycle = wallets | {purchase.buyer, purchase.seller}
        if len(recent) >= 3 and bought_back and len(cycle) <= 3:
            return Wash("ring", f"{len(recent) + 1} trades in 14 days among {len(wallets)} wallets",
                        tuple(sorted(cycle)), RING_WINDOW)
        if back:
            when = f" on {back[-1].at:%Y-%m-%d}" if back[-1].at else ""
            return Wash("round-trip", f"{purchase.buyer} sold it to {purchase.seller}{when}",
                        tuple(sorted({purchase.buyer, purchase.seller})), ROUND_TRIP_WINDOW)
        return Wash("none", "", (), timedelta(0))

    def _before(self, purchase: Trade, history: Sequence[Trade]) -> list[TradeFact]:
        """The trades before a purchase: the service's log plus the caller's history (oldest first)."""
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
        return untimed + sorted((t for t in timed + logged if t.at is not None and t.at < purchase.at),
                                key=lambda t: t.at)  # type: ignore[arg-type, return-value]

    def _levels(self, purchase: Trade, before: Sequence[TradeFact]) -> tuple[tuple[str, ...], list[str], Wash]:
        kb = self.pool.kb
        assert kb is not None and purchase.at is not None
        wash = self._wash(purchase, before)
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
            f"(wash-risk {wash.level})",
            f"(jump-risk {kb.level('jump', jump_pct)})",
            f"(velocity-risk {kb.level('velocity', velocity)})",
        )
        details = [wash.detail, f"price at {jump_pct}% of the recent median" if prices else "",
                   f"{velocity} trade(s) in 24 hours"]
        return queries, details, wash

    def purchase_levels(self, purchase: Trade, history: Sequence[Trade] = ()) -> tuple[tuple[str, ...], list[str]]:
        """The rule queries for one purchase and the facts behind each (pure Python, no MeTTa)."""
        if purchase.at is None:
            purchase = replace(purchase, at=datetime.now(UTC))
        queries, details, _ = self._levels(purchase, self._before(purchase, history))
        return queries, details

    async def assess_purchase(self, purchase: Trade, history: Sequence[Trade] = ()) -> RiskResult:
        queries, details = self.purchase_levels(purchase, history)
        return self._score(await self.pool.evaluate(queries), details)

    async def assess_purchases(self, purchases: Sequence[tuple[Trade, Sequence[Trade]]]) -> list[RiskResult]:
        """Score many purchases: features in Python, one worker round trip for uncached levels."""
        prepared = [self.purchase_levels(p, h) for p, h in purchases]
        answers = await self.pool.evaluate_many([(q, None) for q, _ in prepared])
        return [self._score(a, d) for a, (_, d) in zip(answers, prepared, strict=True)]

    # -- recorded sales (what is stored, and what a later sale reveals about earlier ones)

    async def assess_sales(self, sales: Sequence[TradeFact]) -> list[SaleAssessment]:
        """Score recorded sales (from the service's trade log only, never a caller's history)
        and decide the flags to store: the sale's own, and, when its wash rule fires, the
        earlier sales of the asset it reveals as part of the same cycle.

        Each earlier sale of the asset inside the fired rule's look-back window (14 days for
        a ring, 72 hours for a round trip) is placed on or off the cycle (both of its wallets
        among the cycle's); the `(wash-retro <pattern> <place>)` rules of kb/risk.metta
        decide which are flagged, and with what.
        """
        prepared = []
        for sale in sales:
            assert sale.at is not None, "a recorded sale has a time"
            purchase = Trade(sale.asset_id, sale.seller, sale.buyer, sale.price, sale.at)
            before = self._before(purchase, ())
            queries, details, wash = self._levels(purchase, before)
            earlier = [t for t in before if wash.level != "none" and t.at is not None
                       and t.at >= sale.at - wash.window]
            places = [("on-cycle" if {t.seller, t.buyer} <= set(wash.wallets) else "off-cycle") for t in earlier]
            prepared.append((sale, queries, details, wash, earlier, places))
        requests: list[tuple[Sequence[str], dict[str, str] | None]] = []
        for _, queries, _, wash, _, places in prepared:
            requests.append((queries, None))
            requests.append((tuple(f"(wash-retro {wash.level} {place})" for place in places), None))
        answers = await self.pool.evaluate_many(requests) if requests else []
        out = []
        for i, (sale, _, details, wash, earlier, _) in enumerate(prepared):
            result = self._score(answers[2 * i], details)
            own = [self._flag(sale, rule.name, int(Decimal(rule.value)), rule.explanation, sale, wash)
                   for rule in result.rules if Decimal(rule.value) > 0]
            retro = [self._flag(t, rule.name, int(Decimal(str(rule.value))), self._retro_text(rule.name, sale, wash),
                                sale, wash)
                     for t, rule in zip(earlier, answers[2 * i + 1], strict=True) if Decimal(str(rule.value)) > 0]
            out.append(SaleAssessment(sale, result, own, retro))
        return out

    def _retro_text(self, rule: str, revealer: TradeFact, wash: Wash) -> str:
        kb = self.pool.kb
        assert kb is not None and revealer.at is not None
        text = kb.explanations.get(rule, rule.replace("-", " "))
        return (f"{text} (revealed by sale {revealer.key} on {revealer.at:%Y-%m-%d %H:%M} UTC, "
                f"{revealer.seller} to {revealer.buyer}; cycle wallets {', '.join(wash.wallets)})")

    def _flag(self, sale: TradeFact, rule: str, points: int, explanation: str, revealer: TradeFact,
              wash: Wash) -> SaleFlag:
        assert sale.at is not None and revealer.at is not None and self.pool.kb is not None
        retro = sale.key != revealer.key
        return SaleFlag(sale.key, sale.asset_id, sale.seller, sale.buyer, sale.price, sale.at, rule, points,
                        explanation, retro, revealer.key, revealer.at,
                        wash.wallets if retro or rule.startswith("wash") else (), self.pool.kb.version)

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
