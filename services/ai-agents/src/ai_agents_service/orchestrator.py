"""Orchestrator: runs the pricing, risk and market agents on one asset concurrently,
each under its own timeout, and returns what arrived in time with the failed or
slow agents named. Used by the Analyze RPC and by the asset.created consumer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ipheron_libs.errors import DomainError

from ai_agents_service.domain import AssetInput, RiskResult
from ai_agents_service.market import MarketForecast
from ai_agents_service.pricing import PriceSuggestion

log = logging.getLogger(__name__)

AgentCall = Callable[[AssetInput, int], Awaitable[Any]]
AGENTS = ("pricing", "risk", "market")


@dataclass(frozen=True)
class AgentFailure:
    agent: str
    reason: str  # "timeout" | "error"
    detail: str


@dataclass
class Analysis:
    results: dict[str, Any] = field(default_factory=dict)
    failures: list[AgentFailure] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failures

    @property
    def pricing(self) -> PriceSuggestion | None:
        value = self.results.get("pricing")
        return value if isinstance(value, PriceSuggestion) else None

    @property
    def risk(self) -> RiskResult | None:
        value = self.results.get("risk")
        return value if isinstance(value, RiskResult) else None

    @property
    def market(self) -> MarketForecast | None:
        value = self.results.get("market")
        return value if isinstance(value, MarketForecast) else None


class Orchestrator:
    """Fans one asset out to the agents; `agents` maps a name to `call(asset, days)`."""

    def __init__(self, agents: dict[str, AgentCall], timeouts: dict[str, float]) -> None:
        self.agents = agents
        self.timeouts = timeouts

    async def _one(self, name: str, asset: AssetInput, days: int) -> tuple[str, Any, AgentFailure | None]:
        timeout = self.timeouts.get(name, 2.0)
        try:
            return name, await asyncio.wait_for(self.agents[name](asset, days), timeout), None
        except TimeoutError:
            log.warning("agent %s timed out after %ss", name, timeout)
            return name, None, AgentFailure(name, "timeout", f"no answer within {timeout}s")
        except DomainError as exc:
            return name, None, AgentFailure(name, "error", exc.message)
        except Exception as exc:  # one agent's fault must not sink the others
            log.exception("agent %s failed", name)
            return name, None, AgentFailure(name, "error", type(exc).__name__)

    async def analyze(self, asset: AssetInput, days: int = 7) -> Analysis:
        outcomes = await asyncio.gather(*(self._one(n, asset, days) for n in self.agents))
        analysis = Analysis()
        for name, result, failure in outcomes:
            if failure is None:
                analysis.results[name] = result
            else:
                analysis.failures.append(failure)
        return analysis
