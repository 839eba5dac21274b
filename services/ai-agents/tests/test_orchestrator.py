"""Orchestrator: agents run concurrently, each under its own timeout; a slow or
failing agent yields a partial result naming it."""

from __future__ import annotations

import asyncio
from typing import Any

from ai_agents_service.domain import AssetInput
from ai_agents_service.market import MarketAgent
from ai_agents_service.orchestrator import Orchestrator
from ai_agents_service.pricing import PricingAgent
from ai_agents_service.risk import RiskAgent
from ipheron_libs.errors import FailedPrecondition

ASSET = AssetInput(asset_type="art", region="europe", name="Orchestrated piece", creator_reputation=80)


def _agents(pricing: PricingAgent, risk: RiskAgent, market_agent: MarketAgent) -> dict[str, Any]:
    return {
        "pricing": lambda asset, days: pricing.suggest(asset),
        "risk": lambda asset, days: risk.assess_asset(asset),
        "market": lambda asset, days: market_agent.forecast(asset.asset_type, days),
    }


async def test_all_agents_answer_in_time(pricing: PricingAgent, risk: RiskAgent, market_agent: MarketAgent) -> None:
    orchestrator = Orchestrator(_agents(pricing, risk, market_agent), {"pricing": 5, "risk": 5, "market": 5})
    analysis = await orchestrator.analyze(ASSET, 5)
    assert analysis.complete and set(analysis.results) == {"pricing", "risk", "market"}
    assert len(analysis.results["market"].points) == 5


async def test_slow_agent_times_out_and_the_others_still_answer(
        pricing: PricingAgent, risk: RiskAgent, market_agent: MarketAgent) -> None:
    agents = _agents(pricing, risk, market_agent)
    real_market = agents["market"]

    async def slow_market(asset: AssetInput, days: int) -> Any:
        await asyncio.sleep(5)  # a market agent stuck behind a slow dependency
        return await real_market(asset, days)

    agents["market"] = slow_market
    orchestrator = Orchestrator(agents, {"pricing": 5, "risk": 5, "market": 0.2})
    analysis = await orchestrator.analyze(ASSET)
    assert not analysis.complete
    assert [(f.agent, f.reason) for f in analysis.failures] == [("market", "timeout")]
    assert "0.2s" in analysis.failures[0].detail
    assert set(analysis.results) == {"pricing", "risk"}
    assert analysis.results["pricing"].suggested > 0


async def test_failing_agent_is_named_with_its_reason(
        pricing: PricingAgent, risk: RiskAgent, market_agent: MarketAgent) -> None:
    orchestrator = Orchestrator(_agents(pricing, risk, market_agent), {"pricing": 5, "risk": 5, "market": 5})
    analysis = await orchestrator.analyze(AssetInput(asset_type="art"), 500)  # beyond the forecast horizon
    assert [(f.agent, f.reason) for f in analysis.failures] == [("market", "error")]
    assert "days must be" in analysis.failures[0].detail

    async def broken(asset: AssetInput, days: int) -> Any:
        raise FailedPrecondition("no market model yet")

    agents = _agents(pricing, risk, market_agent) | {"risk": broken}
    analysis = await Orchestrator(agents, {}).analyze(ASSET)
    assert [(f.agent, f.detail) for f in analysis.failures] == [("risk", "no market model yet")]
    assert {"pricing", "market"} <= set(analysis.results)
