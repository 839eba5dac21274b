"""AiAgentsService gRPC servicer: protobuf <-> domain records only; the use cases are
`AiAgentsService`'s, the rules the agents' own modules'."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import grpc
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as pb
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as pb_grpc
from ipheron.common.v1 import common_pb2
from ipheron_libs.errors import InvalidArgument
from ipheron_libs.metrics import AI_PREDICTIONS
from ipheron_libs.vocab import DEFAULT_REPUTATION, MAX_REPUTATION, MIN_REPUTATION
from ipheron_libs.wire import from_timestamp, money_fixed, to_timestamp

from ai_agents_service.collaboration import ContributorInput, Profile
from ai_agents_service.domain import (
    PRICE_PLACES,
    AssetInput,
    FiredRule,
    RiskResult,
    Trade,
    asset_type_of,
    clamp_reputation,
    decimal_of,
    region_of,
)
from ai_agents_service.market import MarketForecast
from ai_agents_service.pricing import PriceSuggestion
from ai_agents_service.service import AiAgentsService

RISK_LEVELS = {"low": pb.RISK_LEVEL_LOW, "medium": pb.RISK_LEVEL_MEDIUM, "high": pb.RISK_LEVEL_HIGH}
SENTIMENTS = {"bullish": pb.SENTIMENT_BULLISH, "neutral": pb.SENTIMENT_NEUTRAL, "bearish": pb.SENTIMENT_BEARISH}
MAX_LIST = 500


# ---------------------------------------------------------------- to domain


def asset_from_pb(msg: pb.AssetFeatures) -> AssetInput:
    if not msg.asset_type:
        raise InvalidArgument("asset.asset_type is required", field="asset.asset_type")
    if len(msg.utility_features) > 50:
        raise InvalidArgument("at most 50 utility features", field="asset.utility_features")
    if msg.co_creators < 0 or not MIN_REPUTATION <= msg.creator_reputation <= MAX_REPUTATION:
        raise InvalidArgument(f"co_creators >= 0 and creator_reputation {MIN_REPUTATION}..{MAX_REPUTATION}",
                              field="asset")
    return AssetInput(
        asset_type=asset_type_of(msg.asset_type),
        region=region_of(msg.region) if msg.region else "other",
        name=msg.name[:300],
        asset_id=msg.asset_id,
        utility_features=tuple(f.strip().lower() for f in msg.utility_features if f.strip()),
        co_creators=max(1, msg.co_creators),
        creator_reputation=msg.creator_reputation if msg.HasField("creator_reputation") else DEFAULT_REPUTATION,
        asking_price=decimal_of(msg.asking_price, "asset.asking_price"),
        content_hash=msg.content_hash.strip(),
        description=msg.description[:5000],
        creator_wallet=msg.creator_wallet.lower(),
        wallet_age_days=msg.wallet_age_days if msg.HasField("wallet_age_days") else -1,
        creator_user_id=msg.creator_user_id,
    )


def trade_from_pb(msg: pb.Trade, field_name: str) -> Trade:
    if not msg.asset_id:
        raise InvalidArgument(f"{field_name}.asset_id is required", field=f"{field_name}.asset_id")
    price = decimal_of(msg.price, f"{field_name}.price", allow_empty=False)
    assert price is not None
    return Trade(msg.asset_id, msg.seller_wallet.lower(), msg.buyer_wallet.lower(), price, from_timestamp(msg.at))


def profile_from_pb(msg: pb.Candidate) -> Profile:
    sales = decimal_of(msg.total_sales, "candidate.total_sales") or Decimal(0)
    return Profile(msg.user_id, msg.username, msg.region, tuple(msg.skills), clamp_reputation(msg.reputation),
                   sales, msg.wallet)


# ---------------------------------------------------------------- to protobuf


def rules_pb(rules: list[FiredRule]) -> list[pb.FiredRule]:
    return [pb.FiredRule(name=r.name, module=r.module, value=r.value, contribution=r.contribution,
                         explanation=r.explanation) for r in rules]


def price_pb(s: PriceSuggestion) -> pb.SuggestPriceResponse:
    return pb.SuggestPriceResponse(
        suggested=common_pb2.Money(amount=money_fixed(s.suggested, PRICE_PLACES), currency=s.currency),
        low=common_pb2.Money(amount=money_fixed(s.low, PRICE_PLACES), currency=s.currency),
        high=common_pb2.Money(amount=money_fixed(s.high, PRICE_PLACES), currency=s.currency),
        rules=rules_pb(s.rules), market_source=s.market_source, kb_version=s.kb_version,
    )


def risk_pb(r: RiskResult) -> pb.RiskAssessment:
    return pb.RiskAssessment(score=r.score, level=RISK_LEVELS.get(r.level, pb.RISK_LEVEL_UNSPECIFIED),
                             flags=r.flags, explanation=r.explanation, rules=rules_pb(r.rules))


def forecast_pb(f: MarketForecast) -> pb.ForecastMarketResponse:
    t = f.model.targets
    return pb.ForecastMarketResponse(
        asset_type=f.asset_type,
        points=[pb.ForecastPoint(date=p.date.isoformat(), volume=str(p.volume), volume_low=str(p.volume_low),
                                 volume_high=str(p.volume_high), avg_price=str(p.avg_price),
                                 avg_price_low=str(p.avg_price_low), avg_price_high=str(p.avg_price_high))
                for p in f.points],
        sentiment=SENTIMENTS.get(f.sentiment, pb.SENTIMENT_UNSPECIFIED),
        rules=rules_pb(f.rules),
        model_version=f.model.version,
        validation_mae_volume=f"{t['sales'].mae:.4f}", baseline_mae_volume=f"{t['sales'].baseline_mae:.4f}",
        validation_mae_price=f"{t['avg_price'].mae:.6f}", baseline_mae_price=f"{t['avg_price'].baseline_mae:.6f}",
        trained_at=to_timestamp(f.model.trained_at), market_source=f.market_source,
    )


class AiAgentsServicer(pb_grpc.AiAgentsServiceServicer):
    """Thin adapter from the wire to `AiAgentsService`."""

    def __init__(self, service: AiAgentsService) -> None:
        self.service = service

    async def SuggestPrice(self, request: pb.SuggestPriceRequest,
                           context: grpc.aio.ServicerContext) -> pb.SuggestPriceResponse:
        AI_PREDICTIONS.labels(agent="pricing").inc()
        return price_pb(await self.service.suggest_price(asset_from_pb(request.asset), request.currency))

    async def FindCollaborators(self, request: pb.FindCollaboratorsRequest,
                                context: grpc.aio.ServicerContext) -> pb.FindCollaboratorsResponse:
        AI_PREDICTIONS.labels(agent="collaboration").inc()
        if len(request.candidates) > MAX_LIST or len(request.skills) > 50:
            raise InvalidArgument(f"at most {MAX_LIST} candidates and 50 skills", field="candidates")
        if not 0 <= request.limit <= 50:
            raise InvalidArgument("limit must be 1..50", field="limit")
        requester = profile_from_pb(request.requester) if request.requester.user_id else None
        ranked = await self.service.find_collaborators(request.user_id, requester,
                                                       [profile_from_pb(c) for c in request.candidates],
                                                       list(request.skills), request.limit)
        return pb.FindCollaboratorsResponse(collaborators=[
            pb.Collaborator(
                candidate=pb.Candidate(user_id=r.profile.user_id, username=r.profile.username,
                                       region=r.profile.region, skills=list(r.profile.skills),
                                       reputation=r.profile.reputation, total_sales=str(r.profile.total_sales),
                                       wallet=r.profile.wallet),
                score=str(r.score), rules=rules_pb(r.rules))
            for r in ranked
        ])

    async def ProposeSplit(self, request: pb.ProposeSplitRequest,
                           context: grpc.aio.ServicerContext) -> pb.ProposeSplitResponse:
        AI_PREDICTIONS.labels(agent="collaboration").inc()
        contributors = []
        for c in request.contributors[:MAX_LIST]:
            effort = decimal_of(c.effort, "contributors.effort") or Decimal(0)
            contributors.append(ContributorInput(c.user_id, c.role.strip().lower(), effort, c.owns_original_ip,
                                                 c.reputation))
        shares = await self.service.propose_split(contributors)
        return pb.ProposeSplitResponse(shares=[
            pb.Share(user_id=s.user_id, share_percent=str(s.share_percent), rules=rules_pb(s.rules)) for s in shares
        ])

    async def AssessAssetRisk(self, request: pb.AssessAssetRiskRequest,
                              context: grpc.aio.ServicerContext) -> pb.AssessAssetRiskResponse:
        AI_PREDICTIONS.labels(agent="risk").inc()
        if len(request.known_assets) > MAX_LIST:
            raise InvalidArgument(f"at most {MAX_LIST} known assets", field="known_assets")
        asset = asset_from_pb(request.asset)
        known = [AssetInput(asset_type=asset.asset_type, name=k.name, asset_id=k.asset_id,
                            content_hash=k.content_hash) for k in request.known_assets]
        return pb.AssessAssetRiskResponse(assessment=risk_pb(await self.service.assess_asset_risk(asset, known)))

    async def AssessPurchaseRisk(self, request: pb.AssessPurchaseRiskRequest,
                                 context: grpc.aio.ServicerContext) -> pb.AssessPurchaseRiskResponse:
        AI_PREDICTIONS.labels(agent="risk").inc()
        if len(request.history) > MAX_LIST:
            raise InvalidArgument(f"at most {MAX_LIST} history trades", field="history")
        purchase = trade_from_pb(request.purchase, "purchase")
        if purchase.at is None:
            purchase = replace(purchase, at=datetime.now(UTC))
        history = [trade_from_pb(t, "history") for t in request.history]
        assessment = await self.service.assess_purchase_risk(purchase, history)
        return pb.AssessPurchaseRiskResponse(assessment=risk_pb(assessment))

    async def ForecastMarket(self, request: pb.ForecastMarketRequest,
                             context: grpc.aio.ServicerContext) -> pb.ForecastMarketResponse:
        AI_PREDICTIONS.labels(agent="market").inc()
        asset_type = asset_type_of(request.asset_type)
        return forecast_pb(await self.service.forecast_market(asset_type, request.days or 7))

    async def Analyze(self, request: pb.AnalyzeRequest, context: grpc.aio.ServicerContext) -> pb.AnalyzeResponse:
        AI_PREDICTIONS.labels(agent="orchestrator").inc()
        analysis = await self.service.analyze(asset_from_pb(request.asset), request.days or 7)
        response = pb.AnalyzeResponse(
            failures=[pb.AgentFailure(agent=f.agent, reason=f.reason, detail=f.detail) for f in analysis.failures],
            complete=analysis.complete,
        )
        if analysis.pricing is not None:
            response.pricing.CopyFrom(price_pb(analysis.pricing))
        if analysis.risk is not None:
            response.risk.CopyFrom(risk_pb(analysis.risk))
        if analysis.market is not None:
            response.market.CopyFrom(forecast_pb(analysis.market))
        return response
