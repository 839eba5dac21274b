"""AI routes: /api/v1/ai/pricing, /ai/collaborators, /ai/collaboration/split,
/ai/risk and /ai/market/forecast, answered by the ai-agents service.

Every decision comes back with the rules that fired (name, value, contribution,
explanation). Money and effort are decimal strings in and out (a JSON number is
refused, never rounded). Risk scoring needs a signed-in caller, so anonymous
clients cannot probe the fraud rules; the other routes are open.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as pb
from ipheron_libs.vocab import DEFAULT_REPUTATION, MAX_REPUTATION, MIN_REPUTATION
from pydantic import BaseModel, ConfigDict, Field

from ipheron_gateway.bounds import UUID_PATTERN
from ipheron_gateway.deps import CurrentUser, OptionalUser, Stubs
from ipheron_gateway.problems import UPSTREAM, Problem, problem_responses

router = APIRouter(prefix="/ai", tags=["ai"])

DecimalStr = Annotated[str, Field(pattern=r"^\d{1,18}(\.\d{1,18})?$", max_length=37, examples=["0.25"],
                                  description='decimal string, e.g. "0.25": up to 18 digits and 18 decimals')]
# A wallet cannot be older than Ethereum; the bound keeps the value inside the contract's int32.
MAX_WALLET_AGE_DAYS = 36_500
_RISK_LEVEL = {pb.RISK_LEVEL_LOW: "low", pb.RISK_LEVEL_MEDIUM: "medium", pb.RISK_LEVEL_HIGH: "high"}
_SENTIMENT = {pb.SENTIMENT_BULLISH: "bullish", pb.SENTIMENT_NEUTRAL: "neutral", pb.SENTIMENT_BEARISH: "bearish"}


class RuleOut(BaseModel):
    name: str
    module: str
    value: str
    contribution: str
    explanation: str


class PricingAssetIn(BaseModel):
    """An asset as the agents see it: the features they price and vet."""

    model_config = ConfigDict(extra="forbid")
    asset_type: str = Field(min_length=1, max_length=32, examples=["art"])
    region: str = Field("", max_length=64)
    name: str = Field("", max_length=300)
    asset_id: str = Field("", max_length=128)
    utility_features: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    co_creators: int = Field(1, ge=1, le=100)
    creator_reputation: int = Field(DEFAULT_REPUTATION, ge=MIN_REPUTATION, le=MAX_REPUTATION)
    asking_price: DecimalStr | None = None
    content_hash: str = Field("", max_length=200)
    description: str = Field("", max_length=5000)
    creator_wallet: str = Field("", max_length=64)
    wallet_age_days: int | None = Field(None, ge=0, le=MAX_WALLET_AGE_DAYS,
                                        description="days since the wallet's first transaction, "
                                                    f"0..{MAX_WALLET_AGE_DAYS}")

    def to_pb(self) -> pb.AssetFeatures:
        msg = pb.AssetFeatures(
            asset_id=self.asset_id, name=self.name, asset_type=self.asset_type, region=self.region,
            utility_features=self.utility_features, co_creators=self.co_creators,
            creator_reputation=self.creator_reputation, asking_price=self.asking_price or "",
            content_hash=self.content_hash, description=self.description, creator_wallet=self.creator_wallet)
        if self.wallet_age_days is not None:
            msg.wallet_age_days = self.wallet_age_days
        return msg


class PricingIn(PricingAssetIn):
    currency: Literal["ETH"] = "ETH"


class ComparableOut(BaseModel):
    asset_id: str
    price: str = Field(description="decimal string, ETH")
    sold_at: str = Field(description="RFC 3339 time of the sale")
    similarity: str = Field(description="feature similarity 0..1 to the priced asset")
    weight: str = Field(description="similarity x time decay: its say in the weighted median")


class PricingOut(BaseModel):
    suggested: str
    low: str = Field(description="80% range from validated errors (or the wide prior spread in a thin market)")
    high: str
    currency: str
    rules: list[RuleOut]
    market_source: str
    kb_version: str
    basis: str = Field(description='"comparables", or "prior" when too few comparable sales exist')
    confidence: str = Field(description="high, medium or low")
    comparables: list[ComparableOut]
    asking_percentile: str | None = Field(description="mid-rank percentile 0..100 of the asking price among "
                                                      "the comparables' prices; null without either")
    asking_position: str
    interval_method: str


class CandidateOut(BaseModel):
    user_id: str
    username: str
    region: str
    skills: list[str]
    reputation: int
    total_sales: str


class CollaboratorOut(BaseModel):
    candidate: CandidateOut
    score: str
    rules: list[RuleOut]


class CollaboratorsOut(BaseModel):
    user_id: str
    collaborators: list[CollaboratorOut]


class ContributorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=128)
    role: Literal["lead", "creator", "contributor", "advisor"]
    effort: DecimalStr = "0"
    owns_original_ip: bool = False


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contributors: list[ContributorIn] = Field(min_length=1, max_length=20)


class ShareOut(BaseModel):
    user_id: str
    share_percent: str
    rules: list[RuleOut]


class SplitOut(BaseModel):
    shares: list[ShareOut]


class TradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset_id: str = Field(min_length=1, max_length=128)
    seller_wallet: str = Field(max_length=64)
    buyer_wallet: str = Field(max_length=64)
    price: DecimalStr


class RiskIn(BaseModel):
    """Either an asset to vet, or a purchase (with optional recent history, oldest first)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["asset", "purchase"]
    asset: PricingAssetIn | None = None
    purchase: TradeIn | None = None
    history: list[TradeIn] = Field(default_factory=list, max_length=500)


class RiskOut(BaseModel):
    kind: str
    score: int = Field(description="0..100")
    level: str
    flags: list[str]
    explanation: str
    rules: list[RuleOut]


class ForecastPointOut(BaseModel):
    date: str
    volume: str
    volume_low: str
    volume_high: str
    avg_price: str
    avg_price_low: str
    avg_price_high: str


class ForecastOut(BaseModel):
    asset_type: str
    points: list[ForecastPointOut]
    sentiment: str
    rules: list[RuleOut]
    model_version: str
    validation_mae_volume: str
    baseline_mae_volume: str
    validation_mae_price: str
    baseline_mae_price: str
    market_source: str
    insufficient_history: bool = Field(description="too few days for a model: the recent mean, a wide interval")
    history_days: int
    interval_method: str


def _rules(rules: Any) -> list[dict[str, str]]:
    return [{"name": r.name, "module": r.module, "value": r.value, "contribution": r.contribution,
             "explanation": r.explanation} for r in rules]


def pricing_out(r: pb.SuggestPriceResponse) -> dict[str, Any]:
    """A SuggestPriceResponse as the API answers it (also inside a stored asset analysis)."""
    return {"suggested": r.suggested.amount, "low": r.low.amount, "high": r.high.amount,
            "currency": r.suggested.currency, "rules": _rules(r.rules), "market_source": r.market_source,
            "kb_version": r.kb_version, "basis": r.basis, "confidence": r.confidence,
            "comparables": [{"asset_id": c.asset_id, "price": c.price.amount,
                             "sold_at": c.sold_at.ToDatetime(tzinfo=UTC).isoformat(), "similarity": c.similarity,
                             "weight": c.weight} for c in r.comparables],
            "asking_percentile": r.asking_percentile or None, "asking_position": r.asking_position,
            "interval_method": r.interval_method}


def risk_out(kind: str, a: pb.RiskAssessment) -> dict[str, Any]:
    return {"kind": kind, "score": a.score, "level": _RISK_LEVEL.get(a.level, "unknown"), "flags": list(a.flags),
            "explanation": a.explanation, "rules": _rules(a.rules)}


def forecast_out(r: pb.ForecastMarketResponse) -> dict[str, Any]:
    return {"asset_type": r.asset_type, "points": [
        {"date": p.date, "volume": p.volume, "volume_low": p.volume_low, "volume_high": p.volume_high,
         "avg_price": p.avg_price, "avg_price_low": p.avg_price_low, "avg_price_high": p.avg_price_high}
        for p in r.points],
        "sentiment": _SENTIMENT.get(r.sentiment, "unknown"), "rules": _rules(r.rules),
        "model_version": r.model_version, "validation_mae_volume": r.validation_mae_volume,
        "baseline_mae_volume": r.baseline_mae_volume, "validation_mae_price": r.validation_mae_price,
        "baseline_mae_price": r.baseline_mae_price, "market_source": r.market_source,
        "insufficient_history": r.insufficient_history, "history_days": r.history_days,
        "interval_method": r.interval_method}


@router.post("/pricing", response_model=PricingOut, responses=problem_responses(400, 413, 422, *UPSTREAM),
             summary="Suggested price and range, with the rules that fired")
async def pricing(body: PricingIn, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.ai_agents.SuggestPrice(pb.SuggestPriceRequest(asset=body.to_pb(), currency=body.currency))
    return pricing_out(r)


@router.get("/collaborators", response_model=CollaboratorsOut,
            responses=problem_responses(400, 401, 404, 422, *UPSTREAM),
            summary="Creators to work with (from the user directory), best first, with reasons")
async def collaborators(
    stubs: Stubs,
    user: OptionalUser,
    user_id: Annotated[str | None, Query(pattern=UUID_PATTERN, max_length=36,
                                         description="a user id (UUID); defaults to you when signed in")] = None,
    skills: Annotated[str, Query(max_length=500, description="comma-separated wanted skills")] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    who = user_id or (user.id if user else None)
    if not who:
        raise Problem(400, "user_id is required (or sign in)", errors=[{"field": "user_id", "message": "required"}])
    wanted = [s.strip() for s in skills.split(",") if s.strip()][:50]
    r = await stubs.ai_agents.FindCollaborators(pb.FindCollaboratorsRequest(user_id=who, skills=wanted, limit=limit))
    return {"user_id": who, "collaborators": [
        {"candidate": {"user_id": c.candidate.user_id, "username": c.candidate.username, "region": c.candidate.region,
                       "skills": list(c.candidate.skills), "reputation": c.candidate.reputation,
                       "total_sales": c.candidate.total_sales or "0"},
         "score": c.score, "rules": _rules(c.rules)} for c in r.collaborators]}


@router.post("/collaboration/split", response_model=SplitOut,
             responses=problem_responses(400, 413, 422, *UPSTREAM),
             summary="Revenue split by contribution; shares sum to exactly 100.00")
async def split(body: SplitIn, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.ai_agents.ProposeSplit(pb.ProposeSplitRequest(contributors=[
        pb.Contributor(user_id=c.user_id, role=c.role, effort=c.effort, owns_original_ip=c.owns_original_ip)
        for c in body.contributors]))
    return {"shares": [{"user_id": s.user_id, "share_percent": s.share_percent, "rules": _rules(s.rules)}
                       for s in r.shares]}


@router.post("/risk", response_model=RiskOut, responses=problem_responses(400, 401, 413, 422, *UPSTREAM),
             summary="Risk score 0-100 with flags for an asset or a purchase")
async def risk(body: RiskIn, stubs: Stubs, user: CurrentUser) -> dict[str, Any]:
    if body.kind == "asset":
        if body.asset is None:
            raise Problem(400, "an asset is required for kind=asset",
                          errors=[{"field": "asset", "message": "required"}])
        a = (await stubs.ai_agents.AssessAssetRisk(pb.AssessAssetRiskRequest(asset=body.asset.to_pb()))).assessment
    else:
        if body.purchase is None:
            raise Problem(400, "a purchase is required for kind=purchase",
                          errors=[{"field": "purchase", "message": "required"}])

        def trade(t: TradeIn) -> pb.Trade:
            return pb.Trade(asset_id=t.asset_id, seller_wallet=t.seller_wallet, buyer_wallet=t.buyer_wallet,
                            price=t.price)

        a = (await stubs.ai_agents.AssessPurchaseRisk(pb.AssessPurchaseRiskRequest(
            purchase=trade(body.purchase), history=[trade(t) for t in body.history]))).assessment
    return risk_out(body.kind, a)


@router.get("/market/forecast", response_model=ForecastOut, responses=problem_responses(400, 422, *UPSTREAM),
            summary="Daily volume and average price forecast with intervals, and market sentiment")
async def forecast(
    stubs: Stubs,
    asset_type: Annotated[str, Query(min_length=1, max_length=32)],
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> dict[str, Any]:
    r = await stubs.ai_agents.ForecastMarket(pb.ForecastMarketRequest(asset_type=asset_type, days=days))
    return forecast_out(r)
