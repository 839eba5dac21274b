"""The service over a real gRPC channel, with its schema on the real PostgreSQL (the event
handling is proven in test_ai_agents_events.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as pb
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as pb_grpc

Stub = pb_grpc.AiAgentsServiceStub
W = ["0x" + c * 40 for c in "123456"]


def _ts(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


async def test_suggest_price_answers_decimal_strings_and_fired_rules(stub: Stub) -> None:
    resp = await stub.SuggestPrice(pb.SuggestPriceRequest(asset=pb.AssetFeatures(
        asset_type="ASSET_TYPE_SOFTWARE", region="EU", creator_reputation=92, co_creators=3,
        utility_features=["api-access", "updates", "source-files"])))
    assert resp.suggested.currency == "ETH"
    low, mid, high = (Decimal(m.amount) for m in (resp.low, resp.suggested, resp.high))
    assert low < mid < high and mid.as_tuple().exponent == -6
    names = [r.name for r in resp.rules]
    assert names[0] == "basis-comparables" and "region-europe" in names and "reputation-elite" in names
    assert "utility-rich" in names and "cocreators-team" in names and "spread-validated" in names
    assert all(r.module == "pricing" and r.explanation for r in resp.rules)
    assert resp.market_source == "synthetic" and resp.kb_version
    # The bootstrap market's software sales are the comparables, listed with ids, prices and dates.
    assert resp.basis == "comparables" and resp.confidence in ("high", "medium", "low")
    assert 5 <= len(resp.comparables) <= 25 and all(c.asset_id and Decimal(c.price.amount) > 0
                                                    and c.sold_at.seconds > 0 for c in resp.comparables)
    assert 0 < Decimal(resp.comparables[0].similarity) <= 1 and resp.interval_method


@pytest.mark.parametrize("features, field", [
    (pb.AssetFeatures(asset_type="sculpture"), "unknown asset type"),
    (pb.AssetFeatures(), "asset_type is required"),
    (pb.AssetFeatures(asset_type="art", asking_price="twelve"), "asking_price must be a decimal"),
    (pb.AssetFeatures(asset_type="art", creator_reputation=250), "creator_reputation"),
])
async def test_bad_asset_features_are_invalid_argument(stub: Stub, features: pb.AssetFeatures, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SuggestPrice(pb.SuggestPriceRequest(asset=features))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.value.details() or "")


async def test_purchase_risk_over_the_wire_flags_a_ring_from_the_callers_history(stub: Stub) -> None:
    now = datetime.now(UTC)
    ring = [W[0], W[1], W[2]]
    history = [pb.Trade(asset_id="ring-asset", seller_wallet=ring[k % 3], buyer_wallet=ring[(k + 1) % 3],
                        price=str(Decimal("1.0") + k), at=_ts(now - timedelta(hours=7 * (5 - k)))) for k in range(5)]
    resp = await stub.AssessPurchaseRisk(pb.AssessPurchaseRiskRequest(
        purchase=pb.Trade(asset_id="ring-asset", seller_wallet=ring[2], buyer_wallet=ring[0], price="6.0"),
        history=history))
    a = resp.assessment
    assert "wash-trading-ring" in a.flags and a.level == pb.RISK_LEVEL_HIGH and a.score >= 70
    assert any(r.name == "wash-trading-ring" and r.contribution == "+70" for r in a.rules)


async def test_clean_purchase_over_the_wire_is_low_risk(stub: Stub) -> None:
    resp = await stub.AssessPurchaseRisk(pb.AssessPurchaseRiskRequest(
        purchase=pb.Trade(asset_id="fresh-asset", seller_wallet=W[3], buyer_wallet=W[4], price="0.5")))
    assert (resp.assessment.score, resp.assessment.level, list(resp.assessment.flags)) == (0, pb.RISK_LEVEL_LOW, [])


async def test_asset_risk_over_the_wire(stub: Stub) -> None:
    resp = await stub.AssessAssetRisk(pb.AssessAssetRiskRequest(
        asset=pb.AssetFeatures(asset_type="art", name="Counterfeit sneakers art", asking_price="1",
                               wallet_age_days=300, content_hash="QmUniqueHashOfThisTest"),
        known_assets=[pb.AssetFeatures(asset_id="a-1", name="counterfeit sneakers ART", asset_type="art")]))
    a = resp.assessment
    assert set(a.flags) == {"duplicate-name", "prohibited-terms"} and a.score == 80
    assert a.level == pb.RISK_LEVEL_HIGH and "counterfeit" in a.explanation


async def test_collaborators_and_split_over_the_wire(stub: Stub) -> None:
    resp = await stub.FindCollaborators(pb.FindCollaboratorsRequest(
        user_id="u-me", skills=["smart-contracts"],
        requester=pb.Candidate(user_id="u-me", region="asia", skills=["ui-design"], reputation=50),
        candidates=[pb.Candidate(user_id="u-dev", region="asia", skills=["smart-contracts"], reputation=80,
                                 total_sales="12.5"),
                    pb.Candidate(user_id="u-artist", region="asia", skills=["illustration"], reputation=99)]))
    assert [c.candidate.user_id for c in resp.collaborators] == ["u-dev", "u-artist"]
    # skills-partial 20 + same-region 10 + renowned 20 + proven sales 15
    assert resp.collaborators[0].score == "65" and resp.collaborators[0].rules

    split = await stub.ProposeSplit(pb.ProposeSplitRequest(contributors=[
        pb.Contributor(user_id="u-me", role="lead", effort="10", owns_original_ip=True),
        pb.Contributor(user_id="u-dev", role="creator", effort="30")]))
    assert sum(Decimal(s.share_percent) for s in split.shares) == Decimal("100.00")


async def test_collaborators_come_from_the_auth_directory(stub: Stub, creators: dict[str, Any]) -> None:
    anna, _ = creators["anna"]
    resp = await stub.FindCollaborators(pb.FindCollaboratorsRequest(user_id=anna, skills=["music-production"]))
    # Auth lists only users with the wanted skill (dina has none). boris has it in anna's
    # region (20+10+10), chen elsewhere (20+10); all have auth's default reputation 50.
    assert [(c.candidate.username, c.score) for c in resp.collaborators] == [("boris", "40"), ("chen", "30")]
    assert [r.name for r in resp.collaborators[0].rules][:2] == ["skills-partial", "same-region"]
    # Without wanted skills, everyone is a candidate and complementing anna's skills counts.
    everyone = await stub.FindCollaborators(pb.FindCollaboratorsRequest(user_id=anna))
    scores = [(c.candidate.username, c.score) for c in everyone.collaborators]
    assert scores[0] == ("boris", "60") and sorted(scores[1:]) == [("chen", "30"), ("dina", "30")]


async def test_unknown_requester_is_not_found(stub: Stub, creators: dict[str, Any]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.FindCollaborators(pb.FindCollaboratorsRequest(user_id=str(uuid.uuid4())))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_unreachable_auth_service_is_unavailable() -> None:
    from ai_agents_service.clients import Directory
    from ipheron_libs.errors import Unavailable

    directory = Directory("127.0.0.1:1", 0.5)
    try:
        with pytest.raises(Unavailable, match="auth service"):
            await directory.candidates(["writing"])
    finally:
        await directory.close()


async def test_forecast_and_analyze_over_the_wire(stub: Stub) -> None:
    forecast = await stub.ForecastMarket(pb.ForecastMarketRequest(asset_type="music", days=3))
    assert len(forecast.points) == 3 and forecast.model_version and forecast.sentiment != pb.SENTIMENT_UNSPECIFIED
    assert Decimal(forecast.validation_mae_volume) >= 0 and forecast.rules
    analysis = await stub.Analyze(pb.AnalyzeRequest(asset=pb.AssetFeatures(asset_type="music", region="asia"), days=3))
    assert analysis.complete and not analysis.failures
    assert analysis.pricing.suggested.amount and len(analysis.market.points) == 3
    assert analysis.risk.level == pb.RISK_LEVEL_LOW
