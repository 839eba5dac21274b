"""Asset analysis routes: GET and POST /api/v1/assets/{asset_id}/analysis.

The ai-agents orchestrator analyses every new asset when its asset.created event
arrives (price from comparable sales, risk, market view) and stores the answer;
GET reads the newest stored run, with the risk flags stored on the asset's recorded
sales (decided when a sale was recorded, or later when a later sale revealed a wash-
trading cycle it belongs to). POST runs the agents again and stores the run:
only the asset's owner of record may (the ai-agents service checks the owner it
learnt from asset.created and asset.sold), anyone else gets 403. Both need a
signed-in caller, so anonymous clients cannot probe the risk rules.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Query
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as pb
from pydantic import BaseModel, Field

from ipheron_gateway.bounds import PathId
from ipheron_gateway.deps import CurrentUser, Stubs
from ipheron_gateway.problems import UPSTREAM, problem_responses
from ipheron_gateway.routers.ai import ForecastOut, PricingOut, RiskOut, forecast_out, pricing_out, risk_out

router = APIRouter(prefix="/assets", tags=["assets", "ai"])


class AgentFailureOut(BaseModel):
    agent: str
    reason: str
    detail: str


class SaleFlagOut(BaseModel):
    """A risk flag on one recorded sale of the asset."""

    sale_id: str
    seller_wallet: str
    buyer_wallet: str
    price: str
    sold_at: str
    rule: str = Field(description='e.g. "wash-trading-ring", or "wash-cycle-closed-later" when a later sale '
                                  "closed the cycle")
    points: int
    explanation: str
    retroactive: bool = Field(description="decided when a later sale was recorded")
    revealed_by_sale_id: str
    decided_at: str
    cycle_wallets: list[str]


class AnalysisOut(BaseModel):
    """One stored run of the agents on an asset; an agent that failed or was slow is in `failures`."""

    asset_id: str
    analyzed_at: str
    trigger: str
    runs: int
    complete: bool
    pricing: PricingOut | None
    risk: RiskOut | None
    market: ForecastOut | None
    failures: list[AgentFailureOut]
    sale_flags: list[SaleFlagOut] = Field(default_factory=list,
                                          description="risk flags stored on the asset's recorded sales")


def sale_flags_out(flags: Any) -> list[dict[str, Any]]:
    return [{"sale_id": f.sale_id, "seller_wallet": f.seller_wallet, "buyer_wallet": f.buyer_wallet, "price": f.price,
             "sold_at": f.sold_at.ToDatetime(tzinfo=UTC).isoformat(), "rule": f.rule, "points": f.points,
             "explanation": f.explanation, "retroactive": f.retroactive, "revealed_by_sale_id": f.revealed_by_sale_id,
             "decided_at": f.decided_at.ToDatetime(tzinfo=UTC).isoformat(), "cycle_wallets": list(f.cycle_wallets)}
            for f in flags]


def analysis_out(stored: pb.StoredAnalysis, runs: int, flags: Any = ()) -> dict[str, Any]:
    a = stored.analysis
    return {
        "asset_id": stored.asset_id, "analyzed_at": stored.analyzed_at.ToDatetime(tzinfo=UTC).isoformat(),
        "trigger": stored.trigger, "runs": runs, "complete": a.complete,
        "pricing": pricing_out(a.pricing) if a.HasField("pricing") else None,
        "risk": risk_out("asset", a.risk) if a.HasField("risk") else None,
        "market": forecast_out(a.market) if a.HasField("market") else None,
        "failures": [{"agent": f.agent, "reason": f.reason, "detail": f.detail} for f in a.failures],
        "sale_flags": sale_flags_out(flags),
    }


@router.get("/{asset_id}/analysis", response_model=AnalysisOut,
            responses=problem_responses(400, 401, 404, 422, *UPSTREAM),
            summary="The agents' stored analysis of an asset (price from comparables, risk, market view)")
async def get_analysis(asset_id: PathId, stubs: Stubs, user: CurrentUser) -> dict[str, Any]:
    r = await stubs.ai_agents.GetAssetAnalysis(pb.GetAssetAnalysisRequest(asset_id=asset_id))
    return analysis_out(r.analysis, r.runs, r.sale_flags)


@router.post("/{asset_id}/analysis", response_model=AnalysisOut,
             responses=problem_responses(400, 401, 403, 404, 422, *UPSTREAM),
             summary="Re-run the agents on your asset and store the analysis (owner only)")
async def rerun_analysis(asset_id: PathId, stubs: Stubs, user: CurrentUser,
                         days: Annotated[int, Query(ge=1, le=90, description="forecast horizon")] = 7
                         ) -> dict[str, Any]:
    r = await stubs.ai_agents.ReanalyzeAsset(pb.ReanalyzeAssetRequest(asset_id=asset_id,
                                                                      requester_user_id=user.id, days=days))
    got = await stubs.ai_agents.GetAssetAnalysis(pb.GetAssetAnalysisRequest(asset_id=asset_id))
    return analysis_out(r.analysis, got.runs, got.sale_flags)
