"""Pricing agent: a suggested price from comparable sales, adjusted and explained by
the rules in kb/pricing.metta, with a range from validated errors.

1. Comparables (comparables.py): recent sales of the same type, weighted by
   feature similarity and a one-month half-life.
2. With at least the KB's minimum of comparables (`(level-bounds comparables some N)`),
   the basis is the weighted median of their prices, each moved to today by the
   type's fitted log-price trend. The KB's region, reputation, utility and
   co-creator factors then adjust it by the ratio of the asset's factor to the
   comparables' weighted geometric-mean factor (the sales-comparison method).
3. With fewer, the basis is the KB's prior `(base-price <type>)`, every factor
   (demand included) applies in full, the confidence is low and the range is the
   wide prior spread.
4. The range: each type's last BACKTEST_SALES sales before the pricing day are
   priced from the sales before each of them; the 10th and 90th percentiles of the
   log errors give an 80 % interval around the suggestion (never narrower than
   +/-MIN_HALF_WIDTH). Fewer than MIN_BACKTEST errors: the prior spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
from ipheron_libs.errors import InvalidArgument
from ipheron_libs.wire import money_fixed

from ai_agents_service.comparables import (
    MAX_COMPARABLES,
    SECONDS_PER_DAY,
    Comparable,
    SalesArrays,
    Subject,
    log_trend_per_day,
    ordinal,
    percentile_of,
    select,
    weighted_quantile,
)
from ai_agents_service.domain import PRICE_PLACES, AssetInput, FiredRule, clamp_reputation, factor
from ai_agents_service.engine import RulePool
from ai_agents_service.kb import KbInfo
from ai_agents_service.market_data import Indicators, MarketData

MODULE = "pricing"
CURRENCY = "ETH"
BACKTEST_SALES = 80
MIN_BACKTEST = 20
MIN_HALF_WIDTH = 0.02
INTERVAL = (0.1, 0.9)
_Q = Decimal("0.000001")
# The factor dimensions the rules adjust by: (KB query head, level dimension or None for region).
DIMENSIONS = (("region-factor", None), ("reputation-factor", "reputation"), ("utility-factor", "utility"),
              ("cocreator-factor", "cocreators"))


@dataclass(frozen=True)
class ComparableOut:
    """A comparable sale as the answer lists it."""

    asset_id: str
    price: Decimal
    sold_at: datetime
    similarity: Decimal
    weight: Decimal


@dataclass
class PriceSuggestion:
    suggested: Decimal
    low: Decimal
    high: Decimal
    currency: str
    rules: list[FiredRule] = field(default_factory=list)
    market_source: str = ""
    kb_version: str = ""
    basis: str = "prior"  # "comparables" | "prior"
    confidence: str = "low"
    comparables: list[ComparableOut] = field(default_factory=list)
    asking_percentile: Decimal | None = None
    asking_position: str = ""
    interval_method: str = ""


@dataclass(frozen=True)
class FactorTable:
    """Every factor rule's answer for every level, from one (cached) interpreter pass."""

    rules: dict[tuple[str, str], tuple[str, Decimal, str]]  # (head, level) -> (rule name, factor, raw value)

    def get(self, head: str, level: str) -> tuple[str, Decimal, str]:
        return self.rules[(head, level)]


@dataclass(frozen=True)
class Estimate:
    """The comparables estimate before the rules' range: basis, per-dimension ratios and result."""

    comparables: list[Comparable]
    basis: float
    ratios: list[tuple[str, str, str, float, float, float]]  # (head, level, rule, subject f, comps f, ratio)
    price: float
    dispersion_pct: float
    trend_per_day: float


def _level(kb: KbInfo, head: str, dimension: str | None, value: str | int) -> str:
    if dimension is None:
        return str(value or "other")
    if dimension == "reputation":
        return kb.level(dimension, clamp_reputation(int(value)))
    if dimension == "cocreators":
        return kb.level(dimension, max(1, int(value)))
    return kb.level(dimension, int(value))


def subject_of(asset: AssetInput) -> Subject:
    return Subject(asset.region or "other", len(set(asset.utility_features)), max(1, asset.co_creators),
                   clamp_reputation(asset.creator_reputation))


def estimate(subject: Subject, sales: SalesArrays, at: datetime, kb: KbInfo, table: FactorTable,
             exclude_asset: str = "") -> Estimate | None:
    """The comparables price of `subject` at `at` (pure; None without any comparable)."""
    comps = select(subject, sales, at, exclude_asset=exclude_asset)
    if not comps:
        return None
    now = at.timestamp() / SECONDS_PER_DAY
    trend = log_trend_per_day(sales.t, sales.price, now)
    weights = np.array([c.weight for c in comps])
    moved = np.array([float(c.sale.price) * math.exp(trend * c.age_days) for c in comps])
    basis = weighted_quantile(moved, weights, 0.5)
    subject_values: dict[str | None, str | int] = {
        None: subject.region, "reputation": subject.creator_reputation, "utility": subject.utility_count,
        "cocreators": subject.co_creators}
    ratios = []
    price = basis
    for head, dimension in DIMENSIONS:
        mine = _level(kb, head, dimension, subject_values[dimension])
        rule_name, f_exact, _ = table.get(head, mine)
        f_subject = float(f_exact)
        logs = []
        for c in comps:
            value: str | int = (c.sale.region if dimension is None else c.sale.creator_reputation
                                if dimension == "reputation" else c.sale.utility_count if dimension == "utility"
                                else c.sale.co_creators)
            logs.append(math.log(float(table.get(head, _level(kb, head, dimension, value))[1])))
        f_comps = math.exp(float(np.average(logs, weights=weights)))
        ratio = f_subject / f_comps
        price *= ratio
        ratios.append((head, mine, rule_name, f_subject, f_comps, ratio))
    q1, q3 = weighted_quantile(moved, weights, 0.25), weighted_quantile(moved, weights, 0.75)
    dispersion = (q3 - q1) / basis * 100 if basis > 0 else 100.0
    return Estimate(comps, basis, ratios, price, dispersion, trend)


class PricingAgent:
    """Prices assets from comparable sales, adjusted and explained by the pricing rules."""

    def __init__(self, pool: RulePool, market: MarketData) -> None:
        self.pool = pool
        self.market = market
        # (asset type, sales count, newest sale, kb version, day) -> (q10, q90, n) of back-tested log errors
        self._errors: dict[tuple[str, int, float, str, date], tuple[float, float, int]] = {}

    async def factor_table(self) -> FactorTable:
        """Every level's factor for each dimension the comparables are adjusted on."""
        kb = self.pool.kb
        assert kb is not None
        keys: list[tuple[str, str]] = [("region-factor", r) for r in (
            "north-america", "europe", "asia", "oceania", "middle-east", "latin-america", "africa", "other")]
        for head, dimension in DIMENSIONS[1:]:
            assert dimension is not None
            keys += [(head, level) for _, level in kb.bounds[dimension]]
        results = await self.pool.evaluate(tuple(f"({h} {lv})" for h, lv in keys))
        return FactorTable({k: (r.name, factor(r.value), str(r.value)) for k, r in zip(keys, results, strict=True)})

    def backtest_errors(self, asset_type: str, sales: SalesArrays, at: datetime, kb: KbInfo,
                        table: FactorTable) -> tuple[float, float, int]:
        """(q10, q90, n) of log(actual / estimate) over the type's last sales before `at`'s day.

        Each is priced only from the sales before it (a time-ordered holdout); cached per day.
        """
        # Keyed on the type's sales (count, newest), not the facts generation: an asset.created
        # or another type's sale must not redo this type's backtest.
        key = (asset_type, len(sales), float(sales.t[-1]) if len(sales) else 0.0, kb.version, at.date())
        cached = self._errors.get(key)
        if cached is not None:
            return cached
        day_start = datetime.combine(at.date(), datetime.min.time(), tzinfo=UTC).timestamp() / SECONDS_PER_DAY
        hi = int(np.searchsorted(sales.t, day_start, side="left"))
        errors = []
        for i in range(max(0, hi - BACKTEST_SALES), hi):
            sale = sales.sales[i]
            subject = Subject(sale.region, sale.utility_count, sale.co_creators, sale.creator_reputation)
            est = estimate(subject, sales, sale.at, kb, table)
            if est is not None and len(est.comparables) >= self.min_comparables(kb) and est.price > 0:
                errors.append(math.log(float(sale.price) / est.price))
        if len(errors) >= MIN_BACKTEST:
            result = (float(np.quantile(errors, INTERVAL[0])), float(np.quantile(errors, INTERVAL[1])), len(errors))
        else:
            result = (0.0, 0.0, len(errors))
        if len(self._errors) > 256:
            self._errors.clear()
        self._errors[key] = result
        return result

    @staticmethod
    def min_comparables(kb: KbInfo) -> int:
        """The KB's documented minimum: the lower bound of the `some` comparables level."""
        return int(next(bound for bound, name in kb.bounds["comparables"] if name == "some"))

    async def suggest(self, asset: AssetInput, currency: str = "", at: datetime | None = None) -> PriceSuggestion:
        """Suggest a price for `asset` as of `at` (default now) from the sales before it."""
        if currency and currency.upper() != CURRENCY:
            raise InvalidArgument(f"prices are in {CURRENCY}; got currency {currency!r}", field="currency")
        kb = self.pool.kb
        assert kb is not None
        at = at or datetime.now(UTC)
        sales = self.market.sales_arrays(asset.asset_type)
        table = await self.factor_table()
        subject = subject_of(asset)
        est = estimate(subject, sales, at, kb, table)
        count = len(est.comparables) if est else 0
        count_level = kb.level("comparables", count)
        dispersion = est.dispersion_pct if est else 100.0
        basis_rule, confidence = await self.pool.evaluate((
            f"(price-basis {count_level})",
            f"(pricing-confidence {count_level} {kb.level('dispersion', Decimal(repr(round(dispersion, 2))))})",
        ))
        if est is not None and count >= self.min_comparables(kb):
            out = self._from_comparables(asset, est, basis_rule.name, str(basis_rule.value))
        else:
            out = await self._from_prior(asset, count, basis_rule.name, str(basis_rule.value))
        out.rules.append(FiredRule(confidence.name, MODULE, str(confidence.value), "",
                                   f"{count} comparable sale(s), price dispersion {dispersion:.1f}%: "
                                   f"{confidence.value} confidence"))
        out.confidence = str(confidence.value)
        await self._range(out, asset.asset_type, sales, at, kb, table)
        if est is not None:
            out.comparables = [ComparableOut(c.sale.asset_id, c.sale.price.quantize(_Q), c.sale.at,
                                             Decimal(repr(round(c.similarity, 4))), Decimal(repr(round(c.weight, 6))))
                               for c in est.comparables[:MAX_COMPARABLES]]
        if asset.asking_price is not None and out.comparables:
            pct = percentile_of(asset.asking_price, [c.price for c in out.comparables])
            out.asking_percentile = pct
            out.asking_position = (f"asking {asset.asking_price.normalize():f} {CURRENCY} is at the "
                                   f"{ordinal(int(pct))} percentile of {len(out.comparables)} comparable sales")
        out.market_source = self.market.source
        out.kb_version = kb.version
        return out

    def _from_comparables(self, asset: AssetInput, est: Estimate, basis_name: str, basis_value: str
                          ) -> PriceSuggestion:
        price = Decimal(repr(est.basis)).quantize(_Q)
        newest = min(c.age_days for c in est.comparables)
        rules = [FiredRule(basis_name, MODULE, basis_value, money_fixed(price, PRICE_PLACES),
                           f"weighted median of {len(est.comparables)} comparable {asset.asset_type} sales "
                           f"(newest {newest:.0f} days old, half-life 30 days), moved to today by the type's "
                           f"price trend {est.trend_per_day * 100:+.3f}%/day: {money_fixed(price, PRICE_PLACES)} "
                           f"{CURRENCY}")]
        for (head, level, name, f_subject, f_comps, ratio) in est.ratios:
            delta = (price * Decimal(repr(ratio)) - price).quantize(_Q)
            price += delta
            sign = "+" if delta >= 0 else ""
            rules.append(FiredRule(name, MODULE, repr(f_subject), f"{sign}{delta}",
                                   f"{self._what(head, asset)} ({level}) x{f_subject:g} against the comparables' "
                                   f"x{f_comps:.4f}: x{ratio:.4f}"))
        return PriceSuggestion(price.quantize(_Q), price, price, CURRENCY, rules, basis="comparables")

    @staticmethod
    def _what(head: str, asset: AssetInput) -> str:
        return {"region-factor": f"region {asset.region or 'other'}",
                "reputation-factor": f"creator reputation {asset.creator_reputation}",
                "utility-factor": f"{len(set(asset.utility_features))} utility feature(s)",
                "cocreator-factor": f"{max(1, asset.co_creators)} co-creator(s)"}[head]

    async def _from_prior(self, asset: AssetInput, count: int, basis_name: str, basis_value: str
                          ) -> PriceSuggestion:
        """Too few comparables: the KB's prior for the type, every factor in full (the old path)."""
        kb = self.pool.kb
        assert kb is not None
        ind = self.market.indicators(asset.asset_type)
        levels = {
            "reputation": kb.level("reputation", clamp_reputation(asset.creator_reputation)),
            "utility": kb.level("utility", len(set(asset.utility_features))),
            "cocreators": kb.level("cocreators", max(1, asset.co_creators)),
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
        )
        base, *factors = await self.pool.evaluate(queries, data)
        price = factor(base.value)
        minimum = self.min_comparables(kb)
        rules = [
            FiredRule(basis_name, MODULE, basis_value, "",
                      f"insufficient comparables: {count} {asset.asset_type} sale(s) in 180 days, fewer than "
                      f"{minimum}; the price rests on the knowledge base's prior"),
            FiredRule(base.name, MODULE, str(base.value), money_fixed(price, PRICE_PLACES),
                      f"prior price for {asset.asset_type} is {money_fixed(price, PRICE_PLACES)} {CURRENCY}"),
        ]
        for rule, reason in zip(factors, self._reasons(asset, ind, levels, data), strict=True):
            f = factor(rule.value)
            delta = (price * f - price).quantize(_Q)
            price += delta
            sign = "+" if delta >= 0 else ""
            rules.append(FiredRule(rule.name, MODULE, str(rule.value), f"{sign}{delta}", f"{reason}: x{f}"))
        price = price.quantize(_Q)
        return PriceSuggestion(price, price, price, CURRENCY, rules, basis="prior")

    async def _range(self, out: PriceSuggestion, asset_type: str, sales: SalesArrays, at: datetime, kb: KbInfo,
                     table: FactorTable) -> None:
        """The 80 % range from back-tested errors, or the wide prior spread; never zero width."""
        price = out.suggested
        q10, q90, n = (0.0, 0.0, 0)
        if out.basis == "comparables":
            q10, q90, n = self.backtest_errors(asset_type, sales, at, kb, table)
        if n >= MIN_BACKTEST:
            (rule,) = await self.pool.evaluate(("(validated-spread)",))
            # Exact decimal multipliers of the suggestion; the floor keeps the range from closing.
            low_f = Decimal(repr(min(math.exp(q10), 1 - MIN_HALF_WIDTH))).quantize(_Q)
            high_f = Decimal(repr(max(math.exp(q90), 1 + MIN_HALF_WIDTH))).quantize(_Q)
            out.interval_method = (f"80% interval from the 10th/90th percentiles of {n} back-tested "
                                   f"{asset_type} sales' errors")
            out.rules.append(FiredRule(rule.name, MODULE, str(rule.value), "",
                                       f"{out.interval_method}: {math.exp(q10) - 1:+.1%} / {math.exp(q90) - 1:+.1%}"))
        else:
            (rule,) = await self.pool.evaluate(("(prior-spread)",))
            half = factor(rule.value)
            low_f, high_f = 1 - half, 1 + half
            out.interval_method = f"prior spread +/-{half:.0%} ({n} back-tested sales, fewer than {MIN_BACKTEST})"
            out.rules.append(FiredRule(rule.name, MODULE, str(rule.value), "",
                                       f"no validated errors for {asset_type} yet ({n} back-tested sales): "
                                       f"the range is +/-{half:.0%}"))
        out.low, out.high = (price * low_f).quantize(_Q), (price * high_f).quantize(_Q)

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
