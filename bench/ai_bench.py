"""AI-agents benchmark against the real MeTTa worker pool (two interpreter processes,
the whole knowledge base loaded), on the synthetic market:

  * pricing decision latency p50/p99: cold (answer cache off: every decision runs
    the interpreter) and warm (cache on, after one pass over the same 2,000 assets);
  * purchase risk scorings per second: one at a time, 32 concurrent, and batched,
    with the cache on, plus one-at-a-time with the cache off.

Targets (issue 5): pricing p50 <= 3 ms, risk >= 1,000 scorings/s.

    .venv/bin/python bench/ai_bench.py [--seconds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ai_agents_service import synthetic
from ai_agents_service.domain import REGIONS, AssetInput, Trade
from ai_agents_service.engine import RulePool
from ai_agents_service.market_data import MarketData
from ai_agents_service.pricing import PricingAgent
from ai_agents_service.risk import RiskAgent
from ipheron_libs.vocab import ASSET_TYPES

log = logging.getLogger("ai_bench")


def _assets(n: int, seed: int = 1) -> list[AssetInput]:
    rng = random.Random(seed)
    return [AssetInput(asset_type=rng.choice(ASSET_TYPES), region=rng.choice(REGIONS),
                       creator_reputation=rng.randint(0, 100), co_creators=rng.randint(1, 8),
                       utility_features=tuple(rng.sample(synthetic.UTILITIES, rng.randint(0, 4))))
            for _ in range(n)]


async def _latencies(call: Callable[[Any], Awaitable[Any]], items: list[Any], seconds: float) -> list[float]:
    out: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        await call(items[i % len(items)])
        out.append((time.perf_counter() - t) * 1000)
        i += 1
    return out


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _rate(call: Callable[[Any], Awaitable[Any]], items: list[Any], seconds: float, concurrency: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()

    async def loop(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < deadline:
            await call(items[i % len(items)])
            done += 1
            i += concurrency
    await asyncio.gather(*(loop(k) for k in range(concurrency)))
    return done / (time.perf_counter() - start)


async def run(seconds: float) -> dict[str, Any]:
    market = synthetic.generate(seed=7, days=120)
    data = MarketData()
    data.load_synthetic(market)
    trades = [Trade(s.asset_id, s.seller_wallet, s.buyer_wallet, s.price, s.at) for s in market.sales[-3000:]]
    results: dict[str, Any] = {"trades": len(trades)}
    for label, cache_size in (("cold", 0), ("warm", 8192)):
        async with RulePool(size=2, cache_size=cache_size) as pool:
            kb = pool.kb
            assert kb is not None
            results["kb_forms"] = kb.atom_count
            pricing = PricingAgent(pool, data)
            risk = RiskAgent(pool, data, pricing)
            assets = _assets(2000)
            # Warm up: the interpreters (cold run), or the whole answer cache (warm run:
            # the steady state of a service that has seen these kinds of assets before).
            for a in assets[: 50 if cache_size == 0 else len(assets)]:
                await pricing.suggest(a)
            lat = await _latencies(pricing.suggest, assets, seconds)
            results[f"pricing_{label}_p50_ms"] = round(statistics.median(lat), 3)
            results[f"pricing_{label}_p99_ms"] = round(_pct(lat, 0.99), 3)
            results[f"pricing_{label}_n"] = len(lat)
            results[f"risk_{label}_sequential_per_s"] = round(await _rate(risk.assess_purchase, trades, seconds, 1))
            if label == "warm":
                results["risk_warm_concurrent32_per_s"] = round(await _rate(risk.assess_purchase, trades, seconds, 32))
                batch = [(t, ()) for t in trades[:500]]
                t0 = time.perf_counter()
                rounds = 0
                while time.perf_counter() - t0 < seconds:
                    await risk.assess_purchases(batch)
                    rounds += 1
                results["risk_warm_batch500_per_s"] = round(rounds * len(batch) / (time.perf_counter() - t0))
                results["cache_hit_ratio"] = round(pool.cache.hits / max(1, pool.cache.hits + pool.cache.misses), 3)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement")
    parser.add_argument("--json", default="", help="also write the results to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = asyncio.run(run(args.seconds))
    lines = [
        f"knowledge base: {results['kb_forms']} forms, 2 interpreter workers; {results['trades']} synthetic trades",
        (f"pricing decision, cache off: p50 {results['pricing_cold_p50_ms']} ms, "
         f"p99 {results['pricing_cold_p99_ms']} ms ({results['pricing_cold_n']} decisions)   target p50 <= 3 ms"),
        (f"pricing decision, cache on:  p50 {results['pricing_warm_p50_ms']} ms, "
         f"p99 {results['pricing_warm_p99_ms']} ms"),
        f"purchase risk, cache off, one at a time: {results['risk_cold_sequential_per_s']}/s",
        f"purchase risk, cache on, one at a time:  {results['risk_warm_sequential_per_s']}/s   target >= 1000/s",
        f"purchase risk, cache on, 32 concurrent:  {results['risk_warm_concurrent32_per_s']}/s",
        f"purchase risk, cache on, batches of 500: {results['risk_warm_batch500_per_s']}/s",
        f"rule-answer cache hit ratio (warm run): {results['cache_hit_ratio']}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
