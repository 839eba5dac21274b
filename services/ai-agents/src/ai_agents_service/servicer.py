"""AiAgentsService gRPC servicer: protobuf <-> domain records only; the use cases are
`AiAgentsService`'s, the rules the agents' own modules'."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import grpc
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as pb
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as pb_grpc
from ipheron_libs.errors import InvalidArgument
from ipheron_libs.metrics import AI_PREDICTIONS
from ipheron_libs.vocab import DEFAULT_REPUTATION, MAX_REPUTATION, MIN_REPUTATION
from ipheron_libs.wire import from_timestamp, to_timestamp

from ai_agents_service.collaboration import ContributorInput, Profile
from ai_agents_service.convert import (
    analysis_from_document,
    analyze_pb,
    forecast_pb,
    price_pb,
    risk_pb,
    rules_pb,
    sale_flag_pb,
)
from ai_agents_service.domain import (
    AssetInput,
    Trade,
    asset_type_of,
    clamp_reputation,
    decimal_of,
    region_of,
)
from ai_agents_service.repository import StoredAnalysis
from ai_agents_service.service import AiAgentsService

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
        return analyze_pb(await self.service.analyze(asset_from_pb(request.asset), request.days or 7))

    async def GetAssetAnalysis(self, request: pb.GetAssetAnalysisRequest,
                               context: grpc.aio.ServicerContext) -> pb.GetAssetAnalysisResponse:
        if not request.asset_id:
            raise InvalidArgument("asset_id is required", field="asset_id")
        stored, runs = await self.service.asset_analysis(request.asset_id)
        flags = await self.service.sale_flags(request.asset_id)
        return pb.GetAssetAnalysisResponse(analysis=stored_pb(stored), runs=runs,
                                           sale_flags=[sale_flag_pb(f) for f in flags])

    async def ReanalyzeAsset(self, request: pb.ReanalyzeAssetRequest,
                             context: grpc.aio.ServicerContext) -> pb.ReanalyzeAssetResponse:
        AI_PREDICTIONS.labels(agent="orchestrator").inc()
        if not request.asset_id:
            raise InvalidArgument("asset_id is required", field="asset_id")
        if not 0 <= request.days <= 90:
            raise InvalidArgument("days must be 1..90", field="days")
        stored = await self.service.reanalyze(request.asset_id, request.requester_user_id, request.days or 7)
        return pb.ReanalyzeAssetResponse(analysis=stored_pb(stored))


def stored_pb(stored: StoredAnalysis) -> pb.StoredAnalysis:
    return pb.StoredAnalysis(asset_id=stored.asset_id, analyzed_at=to_timestamp(stored.created_at),
                             trigger=stored.trigger, analysis=analysis_from_document(stored.detail))
