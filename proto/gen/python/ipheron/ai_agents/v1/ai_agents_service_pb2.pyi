import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ipheron.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RiskLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_LEVEL_UNSPECIFIED: _ClassVar[RiskLevel]
    RISK_LEVEL_LOW: _ClassVar[RiskLevel]
    RISK_LEVEL_MEDIUM: _ClassVar[RiskLevel]
    RISK_LEVEL_HIGH: _ClassVar[RiskLevel]

class Sentiment(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENTIMENT_UNSPECIFIED: _ClassVar[Sentiment]
    SENTIMENT_BULLISH: _ClassVar[Sentiment]
    SENTIMENT_NEUTRAL: _ClassVar[Sentiment]
    SENTIMENT_BEARISH: _ClassVar[Sentiment]
RISK_LEVEL_UNSPECIFIED: RiskLevel
RISK_LEVEL_LOW: RiskLevel
RISK_LEVEL_MEDIUM: RiskLevel
RISK_LEVEL_HIGH: RiskLevel
SENTIMENT_UNSPECIFIED: Sentiment
SENTIMENT_BULLISH: Sentiment
SENTIMENT_NEUTRAL: Sentiment
SENTIMENT_BEARISH: Sentiment

class FiredRule(_message.Message):
    __slots__ = ("name", "module", "value", "contribution", "explanation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    module: str
    value: str
    contribution: str
    explanation: str
    def __init__(self, name: _Optional[str] = ..., module: _Optional[str] = ..., value: _Optional[str] = ..., contribution: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class AssetFeatures(_message.Message):
    __slots__ = ("asset_id", "name", "asset_type", "region", "utility_features", "co_creators", "creator_reputation", "asking_price", "content_hash", "description", "creator_wallet", "wallet_age_days", "creator_user_id")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    UTILITY_FEATURES_FIELD_NUMBER: _ClassVar[int]
    CO_CREATORS_FIELD_NUMBER: _ClassVar[int]
    CREATOR_REPUTATION_FIELD_NUMBER: _ClassVar[int]
    ASKING_PRICE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATOR_WALLET_FIELD_NUMBER: _ClassVar[int]
    WALLET_AGE_DAYS_FIELD_NUMBER: _ClassVar[int]
    CREATOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    name: str
    asset_type: str
    region: str
    utility_features: _containers.RepeatedScalarFieldContainer[str]
    co_creators: int
    creator_reputation: int
    asking_price: str
    content_hash: str
    description: str
    creator_wallet: str
    wallet_age_days: int
    creator_user_id: str
    def __init__(self, asset_id: _Optional[str] = ..., name: _Optional[str] = ..., asset_type: _Optional[str] = ..., region: _Optional[str] = ..., utility_features: _Optional[_Iterable[str]] = ..., co_creators: _Optional[int] = ..., creator_reputation: _Optional[int] = ..., asking_price: _Optional[str] = ..., content_hash: _Optional[str] = ..., description: _Optional[str] = ..., creator_wallet: _Optional[str] = ..., wallet_age_days: _Optional[int] = ..., creator_user_id: _Optional[str] = ...) -> None: ...

class SuggestPriceRequest(_message.Message):
    __slots__ = ("asset", "currency")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    asset: AssetFeatures
    currency: str
    def __init__(self, asset: _Optional[_Union[AssetFeatures, _Mapping]] = ..., currency: _Optional[str] = ...) -> None: ...

class SuggestPriceResponse(_message.Message):
    __slots__ = ("suggested", "low", "high", "rules", "market_source", "kb_version", "confidence", "basis", "comparables", "asking_percentile", "asking_position", "interval_method")
    SUGGESTED_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    MARKET_SOURCE_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    COMPARABLES_FIELD_NUMBER: _ClassVar[int]
    ASKING_PERCENTILE_FIELD_NUMBER: _ClassVar[int]
    ASKING_POSITION_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_METHOD_FIELD_NUMBER: _ClassVar[int]
    suggested: _common_pb2.Money
    low: _common_pb2.Money
    high: _common_pb2.Money
    rules: _containers.RepeatedCompositeFieldContainer[FiredRule]
    market_source: str
    kb_version: str
    confidence: str
    basis: str
    comparables: _containers.RepeatedCompositeFieldContainer[ComparableSale]
    asking_percentile: str
    asking_position: str
    interval_method: str
    def __init__(self, suggested: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., low: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., high: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., rules: _Optional[_Iterable[_Union[FiredRule, _Mapping]]] = ..., market_source: _Optional[str] = ..., kb_version: _Optional[str] = ..., confidence: _Optional[str] = ..., basis: _Optional[str] = ..., comparables: _Optional[_Iterable[_Union[ComparableSale, _Mapping]]] = ..., asking_percentile: _Optional[str] = ..., asking_position: _Optional[str] = ..., interval_method: _Optional[str] = ...) -> None: ...

class ComparableSale(_message.Message):
    __slots__ = ("asset_id", "price", "sold_at", "similarity", "weight")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    price: _common_pb2.Money
    sold_at: _timestamp_pb2.Timestamp
    similarity: str
    weight: str
    def __init__(self, asset_id: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., similarity: _Optional[str] = ..., weight: _Optional[str] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("user_id", "username", "region", "skills", "reputation", "total_sales", "wallet")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    REPUTATION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SALES_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    username: str
    region: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    reputation: int
    total_sales: str
    wallet: str
    def __init__(self, user_id: _Optional[str] = ..., username: _Optional[str] = ..., region: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., reputation: _Optional[int] = ..., total_sales: _Optional[str] = ..., wallet: _Optional[str] = ...) -> None: ...

class FindCollaboratorsRequest(_message.Message):
    __slots__ = ("user_id", "skills", "requester", "candidates", "limit")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    requester: Candidate
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    limit: int
    def __init__(self, user_id: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., requester: _Optional[_Union[Candidate, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., limit: _Optional[int] = ...) -> None: ...

class Collaborator(_message.Message):
    __slots__ = ("candidate", "score", "rules")
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    candidate: Candidate
    score: str
    rules: _containers.RepeatedCompositeFieldContainer[FiredRule]
    def __init__(self, candidate: _Optional[_Union[Candidate, _Mapping]] = ..., score: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[FiredRule, _Mapping]]] = ...) -> None: ...

class FindCollaboratorsResponse(_message.Message):
    __slots__ = ("collaborators",)
    COLLABORATORS_FIELD_NUMBER: _ClassVar[int]
    collaborators: _containers.RepeatedCompositeFieldContainer[Collaborator]
    def __init__(self, collaborators: _Optional[_Iterable[_Union[Collaborator, _Mapping]]] = ...) -> None: ...

class Contributor(_message.Message):
    __slots__ = ("user_id", "role", "effort", "owns_original_ip", "reputation")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    EFFORT_FIELD_NUMBER: _ClassVar[int]
    OWNS_ORIGINAL_IP_FIELD_NUMBER: _ClassVar[int]
    REPUTATION_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    role: str
    effort: str
    owns_original_ip: bool
    reputation: int
    def __init__(self, user_id: _Optional[str] = ..., role: _Optional[str] = ..., effort: _Optional[str] = ..., owns_original_ip: _Optional[bool] = ..., reputation: _Optional[int] = ...) -> None: ...

class ProposeSplitRequest(_message.Message):
    __slots__ = ("contributors",)
    CONTRIBUTORS_FIELD_NUMBER: _ClassVar[int]
    contributors: _containers.RepeatedCompositeFieldContainer[Contributor]
    def __init__(self, contributors: _Optional[_Iterable[_Union[Contributor, _Mapping]]] = ...) -> None: ...

class Share(_message.Message):
    __slots__ = ("user_id", "share_percent", "rules")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SHARE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    share_percent: str
    rules: _containers.RepeatedCompositeFieldContainer[FiredRule]
    def __init__(self, user_id: _Optional[str] = ..., share_percent: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[FiredRule, _Mapping]]] = ...) -> None: ...

class ProposeSplitResponse(_message.Message):
    __slots__ = ("shares",)
    SHARES_FIELD_NUMBER: _ClassVar[int]
    shares: _containers.RepeatedCompositeFieldContainer[Share]
    def __init__(self, shares: _Optional[_Iterable[_Union[Share, _Mapping]]] = ...) -> None: ...

class RiskAssessment(_message.Message):
    __slots__ = ("score", "level", "flags", "explanation", "rules")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    score: int
    level: RiskLevel
    flags: _containers.RepeatedScalarFieldContainer[str]
    explanation: str
    rules: _containers.RepeatedCompositeFieldContainer[FiredRule]
    def __init__(self, score: _Optional[int] = ..., level: _Optional[_Union[RiskLevel, str]] = ..., flags: _Optional[_Iterable[str]] = ..., explanation: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[FiredRule, _Mapping]]] = ...) -> None: ...

class AssessAssetRiskRequest(_message.Message):
    __slots__ = ("asset", "known_assets")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    KNOWN_ASSETS_FIELD_NUMBER: _ClassVar[int]
    asset: AssetFeatures
    known_assets: _containers.RepeatedCompositeFieldContainer[AssetFeatures]
    def __init__(self, asset: _Optional[_Union[AssetFeatures, _Mapping]] = ..., known_assets: _Optional[_Iterable[_Union[AssetFeatures, _Mapping]]] = ...) -> None: ...

class AssessAssetRiskResponse(_message.Message):
    __slots__ = ("assessment",)
    ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    assessment: RiskAssessment
    def __init__(self, assessment: _Optional[_Union[RiskAssessment, _Mapping]] = ...) -> None: ...

class Trade(_message.Message):
    __slots__ = ("asset_id", "seller_wallet", "buyer_wallet", "price", "at")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_WALLET_FIELD_NUMBER: _ClassVar[int]
    BUYER_WALLET_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    seller_wallet: str
    buyer_wallet: str
    price: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, asset_id: _Optional[str] = ..., seller_wallet: _Optional[str] = ..., buyer_wallet: _Optional[str] = ..., price: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AssessPurchaseRiskRequest(_message.Message):
    __slots__ = ("purchase", "history")
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    purchase: Trade
    history: _containers.RepeatedCompositeFieldContainer[Trade]
    def __init__(self, purchase: _Optional[_Union[Trade, _Mapping]] = ..., history: _Optional[_Iterable[_Union[Trade, _Mapping]]] = ...) -> None: ...

class AssessPurchaseRiskResponse(_message.Message):
    __slots__ = ("assessment",)
    ASSESSMENT_FIELD_NUMBER: _ClassVar[int]
    assessment: RiskAssessment
    def __init__(self, assessment: _Optional[_Union[RiskAssessment, _Mapping]] = ...) -> None: ...

class ForecastMarketRequest(_message.Message):
    __slots__ = ("asset_type", "days")
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    asset_type: str
    days: int
    def __init__(self, asset_type: _Optional[str] = ..., days: _Optional[int] = ...) -> None: ...

class ForecastPoint(_message.Message):
    __slots__ = ("date", "volume", "volume_low", "volume_high", "avg_price", "avg_price_low", "avg_price_high")
    DATE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    VOLUME_LOW_FIELD_NUMBER: _ClassVar[int]
    VOLUME_HIGH_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_LOW_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_HIGH_FIELD_NUMBER: _ClassVar[int]
    date: str
    volume: str
    volume_low: str
    volume_high: str
    avg_price: str
    avg_price_low: str
    avg_price_high: str
    def __init__(self, date: _Optional[str] = ..., volume: _Optional[str] = ..., volume_low: _Optional[str] = ..., volume_high: _Optional[str] = ..., avg_price: _Optional[str] = ..., avg_price_low: _Optional[str] = ..., avg_price_high: _Optional[str] = ...) -> None: ...

class ForecastMarketResponse(_message.Message):
    __slots__ = ("asset_type", "points", "sentiment", "rules", "model_version", "validation_mae_volume", "baseline_mae_volume", "validation_mae_price", "baseline_mae_price", "trained_at", "market_source", "insufficient_history", "history_days", "interval_method")
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_MAE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    BASELINE_MAE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_MAE_PRICE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_MAE_PRICE_FIELD_NUMBER: _ClassVar[int]
    TRAINED_AT_FIELD_NUMBER: _ClassVar[int]
    MARKET_SOURCE_FIELD_NUMBER: _ClassVar[int]
    INSUFFICIENT_HISTORY_FIELD_NUMBER: _ClassVar[int]
    HISTORY_DAYS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_METHOD_FIELD_NUMBER: _ClassVar[int]
    asset_type: str
    points: _containers.RepeatedCompositeFieldContainer[ForecastPoint]
    sentiment: Sentiment
    rules: _containers.RepeatedCompositeFieldContainer[FiredRule]
    model_version: str
    validation_mae_volume: str
    baseline_mae_volume: str
    validation_mae_price: str
    baseline_mae_price: str
    trained_at: _timestamp_pb2.Timestamp
    market_source: str
    insufficient_history: bool
    history_days: int
    interval_method: str
    def __init__(self, asset_type: _Optional[str] = ..., points: _Optional[_Iterable[_Union[ForecastPoint, _Mapping]]] = ..., sentiment: _Optional[_Union[Sentiment, str]] = ..., rules: _Optional[_Iterable[_Union[FiredRule, _Mapping]]] = ..., model_version: _Optional[str] = ..., validation_mae_volume: _Optional[str] = ..., baseline_mae_volume: _Optional[str] = ..., validation_mae_price: _Optional[str] = ..., baseline_mae_price: _Optional[str] = ..., trained_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., market_source: _Optional[str] = ..., insufficient_history: _Optional[bool] = ..., history_days: _Optional[int] = ..., interval_method: _Optional[str] = ...) -> None: ...

class AnalyzeRequest(_message.Message):
    __slots__ = ("asset", "days")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    asset: AssetFeatures
    days: int
    def __init__(self, asset: _Optional[_Union[AssetFeatures, _Mapping]] = ..., days: _Optional[int] = ...) -> None: ...

class AgentFailure(_message.Message):
    __slots__ = ("agent", "reason", "detail")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    agent: str
    reason: str
    detail: str
    def __init__(self, agent: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("pricing", "risk", "market", "failures", "complete")
    PRICING_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    MARKET_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    pricing: SuggestPriceResponse
    risk: RiskAssessment
    market: ForecastMarketResponse
    failures: _containers.RepeatedCompositeFieldContainer[AgentFailure]
    complete: bool
    def __init__(self, pricing: _Optional[_Union[SuggestPriceResponse, _Mapping]] = ..., risk: _Optional[_Union[RiskAssessment, _Mapping]] = ..., market: _Optional[_Union[ForecastMarketResponse, _Mapping]] = ..., failures: _Optional[_Iterable[_Union[AgentFailure, _Mapping]]] = ..., complete: _Optional[bool] = ...) -> None: ...

class StoredAnalysis(_message.Message):
    __slots__ = ("asset_id", "analyzed_at", "trigger", "analysis")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ANALYZED_AT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    analyzed_at: _timestamp_pb2.Timestamp
    trigger: str
    analysis: AnalyzeResponse
    def __init__(self, asset_id: _Optional[str] = ..., analyzed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trigger: _Optional[str] = ..., analysis: _Optional[_Union[AnalyzeResponse, _Mapping]] = ...) -> None: ...

class GetAssetAnalysisRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class GetAssetAnalysisResponse(_message.Message):
    __slots__ = ("analysis", "runs", "sale_flags")
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    SALE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    analysis: StoredAnalysis
    runs: int
    sale_flags: _containers.RepeatedCompositeFieldContainer[SaleFlag]
    def __init__(self, analysis: _Optional[_Union[StoredAnalysis, _Mapping]] = ..., runs: _Optional[int] = ..., sale_flags: _Optional[_Iterable[_Union[SaleFlag, _Mapping]]] = ...) -> None: ...

class SaleFlag(_message.Message):
    __slots__ = ("sale_id", "seller_wallet", "buyer_wallet", "price", "sold_at", "rule", "points", "explanation", "retroactive", "revealed_by_sale_id", "decided_at", "cycle_wallets", "kb_version")
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_WALLET_FIELD_NUMBER: _ClassVar[int]
    BUYER_WALLET_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    RETROACTIVE_FIELD_NUMBER: _ClassVar[int]
    REVEALED_BY_SALE_ID_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    CYCLE_WALLETS_FIELD_NUMBER: _ClassVar[int]
    KB_VERSION_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    seller_wallet: str
    buyer_wallet: str
    price: str
    sold_at: _timestamp_pb2.Timestamp
    rule: str
    points: int
    explanation: str
    retroactive: bool
    revealed_by_sale_id: str
    decided_at: _timestamp_pb2.Timestamp
    cycle_wallets: _containers.RepeatedScalarFieldContainer[str]
    kb_version: str
    def __init__(self, sale_id: _Optional[str] = ..., seller_wallet: _Optional[str] = ..., buyer_wallet: _Optional[str] = ..., price: _Optional[str] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rule: _Optional[str] = ..., points: _Optional[int] = ..., explanation: _Optional[str] = ..., retroactive: _Optional[bool] = ..., revealed_by_sale_id: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cycle_wallets: _Optional[_Iterable[str]] = ..., kb_version: _Optional[str] = ...) -> None: ...

class ReanalyzeAssetRequest(_message.Message):
    __slots__ = ("asset_id", "requester_user_id", "days")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    requester_user_id: str
    days: int
    def __init__(self, asset_id: _Optional[str] = ..., requester_user_id: _Optional[str] = ..., days: _Optional[int] = ...) -> None: ...

class ReanalyzeAssetResponse(_message.Message):
    __slots__ = ("analysis",)
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    analysis: StoredAnalysis
    def __init__(self, analysis: _Optional[_Union[StoredAnalysis, _Mapping]] = ...) -> None: ...
