"""Measured quality of the agents on the synthetic market (whose generating process is
documented in synthetic.py), with a time-ordered split: the first 75 % of the days
are the past, the agents are scored on the last 25 %.

- Pricing: every honest test sale is priced from the sales before it (rolling
  origin, the way the service prices) with the sold asset's features. Median
  absolute percentage error (MdAPE) of the suggestion against the realised price,
  beside two baselines: the type's median training price and the asset's last sale
  before it (the type median when it never sold). Also the 80 % range's coverage.
- Forecast: per type, origins every 7 days in the test period; a model validated
  and fitted only on the days before each origin forecasts 7 days. MASE against a
  benchmark = MAE of the model / MAE of the benchmark forecast over the same days,
  for the naive (last value) and seasonal-naive (same weekday last week)
  forecasts, averaged over types; the classic in-sample-scaled MASE is shown too.
  Coverage of the 80 % interval over every forecast day.
- Risk: every test sale is recorded in time order the way the asset.sold consumer
  records it (`RiskAgent.assess_sales`, trades before it only): its own flags, and,
  when it closes a wash cycle, retroactive flags on the cycle's earlier sales, all
  stored in a real `ai_agents.sale_flags` table (an embedded PostgreSQL). A sale
  counts as flagged when the table holds a wash-trading flag on it at the end of
  the test period (at purchase or later); precision and recall against the planted
  ring sales, ring-level recall (a ring is caught when any of its sales is), and
  the false-flag rate on honest sales and honest traders. The purchase-time scores
  (each sale scored as a purchase, nothing revised later) are their own rows.
- Collaboration: for each planted pair the requester's needs are the wanted skills;
  NDCG@10 of the ranking of every user, relevance = needs a candidate covers (0-2),
  and the planted partner's hit rate in the top 10.

    python -m ai_agents_service.evaluation --out bench/AGENTS.md      # make eval-agents
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from ipheron_libs.db import run_db

from ai_agents_service import synthetic
from ai_agents_service.collaboration import CollaborationAgent, Profile
from ai_agents_service.config import SCHEMA
from ai_agents_service.domain import AssetInput, Trade
from ai_agents_service.engine import RulePool
from ai_agents_service.market import TARGETS, forecast, interval, validate_and_fit
from ai_agents_service.market_data import MarketData, TradeFact
from ai_agents_service.pricing import PricingAgent
from ai_agents_service.repository import Repository
from ai_agents_service.risk import RiskAgent

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

log = logging.getLogger(__name__)

HORIZON = 7
TRAIN_SHARE = 0.75
NOTES = """Notes:

- At purchase time a ring's first sales (A->B, B->C, C->A) show no cycle among <= 3 wallets
  yet, so 6 of each ring's 9 sales can be flagged then. When the 4th sale closes the cycle,
  the risk agent stores `wash-cycle-closed-later` flags on the earlier sales of the cycle
  inside the 14-day window (the `(wash-retro ...)` rules of kb/risk.metta decide); the
  stored recall counts those. A ring whose closing sale falls after the test period would
  stay unflagged; none does here. `--seed 8` and `--seed 9` gave the same risk rows (stored
  recall 1.000 at precision 1.000, purchase-time recall 0.667, no honest sale flagged) when
  the stored flags were added.
- The synthetic honest traders never buy back what they just sold (no honest A->B->A), so the
  round-trip rule and its first-leg flag (`wash-round-trip-closed-later`) meet no honest
  round trips here; the honest false-flag rates test the ring rule's window and wallet bound
  against chance cycles among 80 traders, not deliberate honest round trips.
- The forecast interval's coverage is near the low end of the target (volume under-covers
  slightly: the market grows through the test period); `--seed 8` and `--seed 9` gave
  0.790 and 0.780 overall when this harness was written.
- MASE vs a benchmark is MAE(model) / MAE(benchmark forecast) on the same test days; the
  classic MASE (scaled by the in-sample one-step naive / seasonal-naive MAE) is shown beside it.
- The synthetic market's value multipliers are close to (not equal to) the KB's factors, which
  helps the adjustment step; the similarity weighting and the adjustment were not measured apart.
"""


@dataclass(frozen=True)
class EvalConfig:
    """The synthetic market evaluated and how much of it."""

    seed: int = 7
    days: int = 180
    n_users: int = 80
    n_assets: int = 360
    wash_rings: int = 6
    collab_pairs: int = 12
    max_test_sales: int = 2000

    @classmethod
    def small(cls) -> EvalConfig:
        """The small market the test suite runs (seconds, not minutes)."""
        return cls(seed=11, days=90, n_users=40, n_assets=90, wash_rings=2, collab_pairs=3, max_test_sales=150)


@dataclass(frozen=True)
class Metric:
    area: str
    name: str
    value: float
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Report:
    config: EvalConfig
    metrics: list[Metric] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def value(self, name: str) -> float:
        return next(m.value for m in self.metrics if m.name == name)

    def markdown(self, command: str) -> str:
        c = self.config
        lines = [
            "# Agent quality (measured)",
            "",
            f"Command: `{command}` (the `make eval-agents` target). Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
            f"in {self.seconds:.0f} s on this machine.",
            "",
            f"Market: `synthetic.generate(seed={c.seed}, days={c.days}, n_users={c.n_users}, "
            f"n_assets={c.n_assets}, wash_rings={c.wash_rings}, collab_pairs={c.collab_pairs})`; its generating "
            "process is in the docstring of `services/ai-agents/src/ai_agents_service/synthetic.py` (asset value from "
            "region, utility features, co-creators and creator reputation; Poisson daily sales with a weekly "
            "rhythm and a trend; log-normal price noise of 12 %; planted wash rings and collaboration pairs).",
            f"Split: time-ordered, the first {TRAIN_SHARE:.0%} of the days are the past, scores are on the rest. "
            "How each area is scored: the docstring of `ai_agents_service/evaluation.py`.",
            "",
            "Real history: not evaluated. The analytics service holds no sales from real trading in this "
            "environment; run the forecast part against its history once it has 56+ days.",
            "",
            "| area | measure | value | target | met |",
            "|---|---|---|---|---|",
        ]
        for m in self.metrics:
            met = "" if m.met is None else ("yes" if m.met else "**no**")
            note = f" ({m.note})" if m.note else ""
            lines.append(f"| {m.area} | {m.name}{note} | {m.value:.3f} | {m.target} | {met} |")
        lines += ["", "Counts: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()), "", NOTES]
        return "\n".join(lines)


def _mdape(predicted: Sequence[float], actual: Sequence[float]) -> float:
    return float(np.median([abs(p - a) / a for p, a in zip(predicted, actual, strict=True) if a > 0]))


async def eval_pricing(market: synthetic.Market, data: MarketData, pool: RulePool, report: Report,
                       split: datetime, max_sales: int) -> None:
    agent = PricingAgent(pool, data)
    reputation = {u.id: u.reputation for u in market.users}
    assets = {a.id: a for a in market.assets}
    train_prices: dict[str, list[float]] = {}
    for s in market.sales:
        if s.at < split:
            train_prices.setdefault(s.asset_type, []).append(float(s.price))
    type_median = {t: statistics.median(v) for t, v in train_prices.items()}
    last: dict[str, float] = {}
    tests: list[tuple[synthetic.Sale, float]] = []
    for s in market.sales:  # time order: the last sale before each test sale
        if s.at >= split and not s.wash:
            tests.append((s, last.get(s.asset_id, type_median.get(s.asset_type, float(s.price)))))
        last[s.asset_id] = float(s.price)
    step = max(1, math.ceil(len(tests) / max_sales))
    tests = tests[::step]
    ours, by_median, by_last, actual, covered, prior = [], [], [], [], 0, 0
    for sale, last_price in tests:
        a = assets[sale.asset_id]
        suggestion = await agent.suggest(AssetInput(
            asset_type=a.asset_type, region=a.region, asset_id=a.id, utility_features=a.utility_features,
            co_creators=a.co_creators, creator_reputation=reputation.get(a.creator_id, 50)), at=sale.at)
        ours.append(float(suggestion.suggested))
        by_median.append(type_median[sale.asset_type])
        by_last.append(last_price)
        actual.append(float(sale.price))
        covered += int(suggestion.low <= sale.price <= suggestion.high)
        prior += int(suggestion.basis == "prior")
    mdape, median_mdape, last_mdape = _mdape(ours, actual), _mdape(by_median, actual), _mdape(by_last, actual)
    gain = 1 - mdape / median_mdape
    report.metrics += [
        Metric("pricing", "MdAPE, comparables agent", mdape),
        Metric("pricing", "MdAPE, baseline type median", median_mdape),
        Metric("pricing", "MdAPE, baseline last sale", last_mdape),
        Metric("pricing", "error reduction vs type median", gain, ">= 0.20", gain >= 0.20),
        Metric("pricing", "error reduction vs last sale", 1 - mdape / last_mdape),
        Metric("pricing", "80% range coverage", covered / len(tests), "0.75-0.85",
               0.75 <= covered / len(tests) <= 0.85),
    ]
    report.counts["priced test sales"] = len(tests)
    report.counts["of them from the KB prior (thin market)"] = prior


def eval_forecast(data: MarketData, report: Report) -> None:
    ratios: dict[tuple[str, str], list[float]] = {}
    inside = {t: 0 for t in TARGETS}
    total = {t: 0 for t in TARGETS}
    origins_used = 0
    for asset_type in data.asset_types():
        history = data.history(asset_type)
        n = len(history)
        split = int(n * TRAIN_SHARE)
        for target in TARGETS:
            values = history[target].astype(float).to_numpy()
            train = values[:split]
            scale1 = float(np.mean(np.abs(np.diff(train))))
            scale7 = float(np.mean(np.abs(train[7:] - train[:-7])))
            errs: dict[str, list[float]] = {"model": [], "naive": [], "seasonal": []}
            for origin in range(split, n - HORIZON + 1, 7):
                model = validate_and_fit(asset_type, history.iloc[:origin])
                fitted = model.targets[target]
                past = values[:origin]
                actual = values[origin:origin + HORIZON]
                predicted = forecast(fitted.model, past, history.index[:origin], HORIZON)
                errs["model"] += list(np.abs(predicted - actual))
                errs["naive"] += list(np.abs(past[-1] - actual))
                errs["seasonal"] += [abs(past[-7 + h % 7] - actual[h]) for h in range(HORIZON)]
                for h in range(HORIZON):
                    lo, hi = interval(float(predicted[h]), h + 1, fitted.q10, fitted.q90, target)
                    inside[target] += int(lo <= actual[h] <= hi)
                    total[target] += 1
                origins_used += target == TARGETS[0]
            mae = float(np.mean(errs["model"]))
            ratios.setdefault(("naive", target), []).append(mae / float(np.mean(errs["naive"])))
            ratios.setdefault(("seasonal", target), []).append(mae / float(np.mean(errs["seasonal"])))
            ratios.setdefault(("classic1", target), []).append(mae / scale1)
            ratios.setdefault(("classic7", target), []).append(mae / scale7)
    for target, label in (("sales", "volume"), ("avg_price", "avg price")):
        naive = float(np.mean(ratios[("naive", target)]))
        seasonal = float(np.mean(ratios[("seasonal", target)]))
        report.metrics += [
            Metric("forecast", f"MASE vs naive forecast, {label}", naive, "< 1", naive < 1),
            Metric("forecast", f"MASE vs seasonal-naive forecast, {label}", seasonal, "< 1", seasonal < 1),
            Metric("forecast", f"classic MASE (in-sample naive scale), {label}",
                   float(np.mean(ratios[("classic1", target)]))),
            Metric("forecast", f"classic MASE (in-sample seasonal scale), {label}",
                   float(np.mean(ratios[("classic7", target)]))),
        ]
    coverage = sum(inside.values()) / sum(total.values())
    report.metrics.append(Metric("forecast", "80% interval coverage (volume and price, days 1-7)", coverage,
                                 "0.75-0.85", 0.75 <= coverage <= 0.85))
    for target, label in (("sales", "volume"), ("avg_price", "avg price")):
        report.metrics.append(Metric("forecast", f"80% interval coverage, {label}", inside[target] / total[target]))
    report.counts["forecast origins (type x week)"] = origins_used
    report.counts["forecast days scored (per target)"] = total[TARGETS[0]]


def _flag_rates(tests: Sequence[synthetic.Sale], flagged: Sequence[bool], market: synthetic.Market
                ) -> dict[str, float]:
    """Precision, recall and false-flag rates of wash flags over the test sales."""
    tp = sum(1 for s, f in zip(tests, flagged, strict=True) if f and s.wash)
    fp = sum(1 for s, f in zip(tests, flagged, strict=True) if f and not s.wash)
    positives = sum(1 for s in tests if s.wash)
    honest = len(tests) - positives
    ring_wallets = {w for r in market.wash_rings for w in r.wallets}
    honest_wallets = {w for s in tests if not s.wash for w in (s.buyer_wallet, s.seller_wallet)} - ring_wallets
    flagged_wallets = {w for s, f in zip(tests, flagged, strict=True) if f and not s.wash
                       for w in (s.buyer_wallet, s.seller_wallet)} - ring_wallets
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / positives if positives else 1.0,
        "false sales": fp / honest if honest else 0.0,
        "false traders": len(flagged_wallets) / len(honest_wallets) if honest_wallets else 0.0,
    }


async def eval_risk(market: synthetic.Market, data: MarketData, pool: RulePool, report: Report,
                    split: datetime, repo: Repository) -> None:
    agent = RiskAgent(pool, data, PricingAgent(pool, data))
    tests = [s for s in market.sales if s.at >= split]
    # At purchase time: each test sale scored from the trades before it.
    results = []
    for start in range(0, len(tests), 250):
        batch = tests[start:start + 250]
        results += await agent.assess_purchases(
            [(Trade(s.asset_id, s.seller_wallet, s.buyer_wallet, s.price, s.at), []) for s in batch])
    at_purchase = [any(f.startswith("wash") for f in r.flags) for r in results]
    # What the system stores: every test sale recorded in time order, the way the asset.sold
    # consumer records it (its own flags, and the earlier sales it reveals), into the real
    # ai_agents.sale_flags table; scored on what the table holds at the end of the test period.
    for start in range(0, len(tests), 250):
        batch = tests[start:start + 250]
        recorded = [TradeFact(s.asset_id, s.seller_wallet, s.buyer_wallet, s.price, s.at, s.id) for s in batch]
        assessed = await agent.assess_sales(recorded)
        await run_db(repo.record_sales, recorded, [f for a in assessed for f in (*a.flags, *a.retroactive)])
    stored = await run_db(repo.all_sale_flags)
    wash_ids = {f.sale_id for f in stored if f.rule.startswith("wash")}
    later_ids = {f.sale_id for f in stored if f.rule.startswith("wash") and f.retroactive}
    persisted = [s.id in wash_ids for s in tests]
    now, then = _flag_rates(tests, persisted, market), _flag_rates(tests, at_purchase, market)
    caught = {s.asset_id for s, f in zip(tests, persisted, strict=True) if f and s.wash}
    rings = [r for r in market.wash_rings if any(s.asset_id == r.asset_id and s.at >= split for s in tests)]
    ring_recall = sum(1 for r in rings if r.asset_id in caught) / len(rings) if rings else 1.0
    elevated = sum(1 for s, r in zip(tests, results, strict=True) if not s.wash and r.level != "low")
    honest = sum(1 for s in tests if not s.wash)
    report.metrics += [
        Metric("risk", "precision of wash flags (sales, stored by the end of the test period)", now["precision"],
               ">= 0.80", now["precision"] >= 0.8),
        Metric("risk", "recall of wash flags (sales, stored by the end of the test period)", now["recall"],
               ">= 0.90", now["recall"] >= 0.9, "flagged at purchase or later, when the ring closed"),
        Metric("risk", "recall of wash flags at purchase time (sales)", then["recall"], note=(
            "a ring's first three sales cannot show a cycle yet")),
        Metric("risk", "precision of wash flags at purchase time (sales)", then["precision"]),
        Metric("risk", "recall of planted rings (any sale flagged)", ring_recall, ">= 0.90", ring_recall >= 0.9),
        Metric("risk", "false-flag rate, honest sales (stored)", now["false sales"]),
        Metric("risk", "false-flag rate, honest traders (stored)", now["false traders"]),
        Metric("risk", "false-flag rate, honest sales at purchase time", then["false sales"]),
        Metric("risk", "honest sales scored medium/high risk at purchase time", elevated / honest if honest else 0.0),
    ]
    report.counts["risk-scored test sales"] = len(tests)
    report.counts["planted wash sales in the test period"] = sum(1 for s in tests if s.wash)
    report.counts["test sales flagged only later (retroactive)"] = sum(
        1 for s in tests if s.id in later_ids and s.id in wash_ids)
    report.counts["stored sale flags (all rules, both periods)"] = len(stored)


def _dcg(relevances: Sequence[int]) -> float:
    return sum((2 ** r - 1) / math.log2(i + 2) for i, r in enumerate(relevances))


async def eval_collaboration(market: synthetic.Market, pool: RulePool, report: Report) -> None:
    agent = CollaborationAgent(pool)
    sold: dict[str, Decimal] = {}
    for s in market.sales:
        sold[s.seller_wallet] = sold.get(s.seller_wallet, Decimal(0)) + s.price
    profiles = {u.id: Profile(u.id, u.username, u.region, u.skills, u.reputation, sold.get(u.wallet, Decimal(0)),
                              u.wallet) for u in market.users}
    ndcgs, hits = [], 0
    for pair in market.collab_pairs:
        requester = profiles[pair.requester_id]
        candidates = [p for p in profiles.values() if p.user_id != requester.user_id]
        ranked = await agent.rank(requester, candidates, list(pair.needs), 10)
        needs = set(pair.needs)
        rel = {p.user_id: len(needs & set(p.skills)) for p in candidates}
        got = [rel[r.profile.user_id] for r in ranked[:10]]
        ideal = sorted(rel.values(), reverse=True)[:10]
        ndcgs.append(_dcg(got) / _dcg(ideal) if _dcg(ideal) > 0 else 1.0)
        hits += int(any(r.profile.user_id == pair.partner_id for r in ranked[:10]))
    ndcg = float(np.mean(ndcgs)) if ndcgs else 0.0
    report.metrics += [
        Metric("collaboration", "NDCG@10 (relevance = needed skills covered)", ndcg, ">= 0.80", ndcg >= 0.8),
        Metric("collaboration", "planted partner in the top 10", hits / len(market.collab_pairs)
               if market.collab_pairs else 0.0),
    ]
    report.counts["collaboration queries"] = len(market.collab_pairs)


async def evaluate(config: EvalConfig, pool: RulePool, repo: Repository) -> Report:
    """Score every agent on one synthetic market (see the module docstring); the risk agent's
    flags are stored through `repo` (an empty, migrated ai_agents schema) and scored from there."""
    started = time.perf_counter()
    end = synthetic.DEFAULT_END
    market = synthetic.generate(config.seed, config.days, config.n_users, config.n_assets, end=end,
                                wash_rings=config.wash_rings, collab_pairs=config.collab_pairs)
    data = MarketData()
    data.load_synthetic(market)
    split_day = market.start + timedelta(days=int(config.days * TRAIN_SHARE))
    split = datetime.combine(split_day, datetime.min.time(), tzinfo=UTC)
    report = Report(config)
    await eval_pricing(market, data, pool, report, split, config.max_test_sales)
    eval_forecast(data, report)
    await eval_risk(market, data, pool, report, split, repo)
    await eval_collaboration(market, pool, report)
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def flag_store(admin_url: str | None = None) -> Iterator[Repository]:
    """A Repository on an empty, migrated ai_agents schema: at `admin_url` (the superuser URL
    of a scratch database made for this; its ai_agents schema is dropped first), else on an
    embedded PostgreSQL of its own, removed afterwards."""
    from ipheron_libs import db, embedded

    tmp = None
    pg = None
    if admin_url is None:
        tmp = Path(tempfile.mkdtemp(prefix="ipheron-eval-"))
        pg = embedded.start_postgres(tmp / "pg", delete_on_stop=True)
        admin_url = pg.admin_url
    engine = None
    try:
        db.drop_schema(admin_url, SCHEMA)
        url = db.provision(admin_url, SCHEMA)
        db.migrate(url, SCHEMA, MIGRATIONS_DIR)
        engine = db.make_engine(url, SCHEMA, pool_size=2, max_overflow=2)
        yield Repository(engine)
    finally:
        if engine is not None:
            engine.dispose()
        if pg is not None:
            pg.stop()
        if tmp is not None:
            embedded.remove_tree(tmp)


async def _main(args: argparse.Namespace) -> None:
    config = EvalConfig.small() if args.small else EvalConfig(seed=args.seed)
    with flag_store() as repo:
        async with RulePool(size=1) as pool:
            report = await evaluate(config, pool, repo)
    command = "make eval-agents" + ("" if not args.small else " (small)")
    text = report.markdown(f"{command}  # python -m ai_agents_service.evaluation --out {args.out}")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        log.info("wrote %s", args.out)
    else:
        log.info("%s", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--out", default="", help="write the Markdown report here (bench/AGENTS.md)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--small", action="store_true", help="the small market of the test suite")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("pgserver", "alembic"):  # the scratch database's start-up and migration chatter
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
