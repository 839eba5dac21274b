"""Domain results -> protobuf, shared by the servicer (answers) and the stored analyses
(the service stores an analysis as its AnalyzeResponse in JSON, so what the API reads
back is exactly what Analyze answers)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as pb
from ipheron.common.v1 import common_pb2
from ipheron_libs.wire import money_fixed, money_str, to_timestamp

from ai_agents_service.domain import PRICE_PLACES, FiredRule, RiskResult, SaleFlag
from ai_agents_service.market import MarketForecast
from ai_agents_service.orchestrator import Analysis
from ai_agents_service.pricing import PriceSuggestion

RISK_LEVELS = {"low": pb.RISK_LEVEL_LOW, "medium": pb.RISK_LEVEL_MEDIUM, "high": pb.RISK_LEVEL_HIGH}
SENTIMENTS = {"bullish": pb.SENTIMENT_BULLISH, "neutral": pb.SENTIMENT_NEUTRAL, "bearish": pb.SENTIMENT_BEARISH}


def rules_pb(rules: list[FiredRule]) -> list[pb.FiredRule]:
    return [pb.FiredRule(name=r.name, module=r.module, value=r.value, contribution=r.contribution,
                         explanation=r.explanation) for r in rules]


def price_pb(s: PriceSuggestion) -> pb.SuggestPriceResponse:
    return pb.SuggestPriceResponse(
        suggested=common_pb2.Money(amount=money_fixed(s.suggested, PRICE_PLACES), currency=s.currency),
        low=common_pb2.Money(amount=money_fixed(s.low, PRICE_PLACES), currency=s.currency),
        high=common_pb2.Money(amount=money_fixed(s.high, PRICE_PLACES), currency=s.currency),
        rules=rules_pb(s.rules), market_source=s.market_source, kb_version=s.kb_version,
        confidence=s.confidence, basis=s.basis, interval_method=s.interval_method,
        comparables=[pb.ComparableSale(asset_id=c.asset_id,
                                       price=common_pb2.Money(amount=money_fixed(c.price, PRICE_PLACES),
                                                              currency=s.currency),
                                       sold_at=to_timestamp(c.sold_at), similarity=str(c.similarity),
                                       weight=str(c.weight)) for c in s.comparables],
        asking_percentile=str(s.asking_percentile) if s.asking_percentile is not None else "",
        asking_position=s.asking_position,
    )


def risk_pb(r: RiskResult) -> pb.RiskAssessment:
    return pb.RiskAssessment(score=r.score, level=RISK_LEVELS.get(r.level, pb.RISK_LEVEL_UNSPECIFIED),
                             flags=r.flags, explanation=r.explanation, rules=rules_pb(r.rules))


def sale_flag_pb(f: SaleFlag) -> pb.SaleFlag:
    return pb.SaleFlag(sale_id=f.sale_id, seller_wallet=f.seller, buyer_wallet=f.buyer, price=money_str(f.price),
                       sold_at=to_timestamp(f.sold_at), rule=f.rule, points=f.points, explanation=f.explanation,
                       retroactive=f.retroactive, revealed_by_sale_id=f.revealed_by,
                       decided_at=to_timestamp(f.decided_at), cycle_wallets=list(f.wallets), kb_version=f.kb_version)


def forecast_pb(f: MarketForecast) -> pb.ForecastMarketResponse:
    points = [pb.ForecastPoint(date=p.date.isoformat(), volume=str(p.volume), volume_low=str(p.volume_low),
                               volume_high=str(p.volume_high), avg_price=str(p.avg_price),
                               avg_price_low=str(p.avg_price_low), avg_price_high=str(p.avg_price_high))
              for p in f.points]
    if f.model is None:
        return pb.ForecastMarketResponse(
            asset_type=f.asset_type, points=points, sentiment=SENTIMENTS.get(f.sentiment, pb.SENTIMENT_UNSPECIFIED),
            rules=rules_pb(f.rules), market_source=f.market_source, insufficient_history=True,
            history_days=f.history_days, interval_method=f.interval_method)
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
        insufficient_history=f.insufficient_history, history_days=f.history_days, interval_method=f.interval_method,
    )


def analyze_pb(analysis: Analysis) -> pb.AnalyzeResponse:
    """The orchestrator's answer on the wire (and as stored)."""
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


def analysis_document(analysis: Analysis) -> dict[str, Any]:
    """The analysis as stored: its AnalyzeResponse in protobuf's JSON mapping."""
    return json_format.MessageToDict(analyze_pb(analysis), preserving_proto_field_name=True)


def analysis_from_document(document: dict[str, Any]) -> pb.AnalyzeResponse:
    """A stored analysis back as the AnalyzeResponse it was (unknown fields of newer versions ignored)."""
    return json_format.ParseDict(document, pb.AnalyzeResponse(), ignore_unknown_fields=True)


