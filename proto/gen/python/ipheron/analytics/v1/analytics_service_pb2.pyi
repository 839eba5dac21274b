import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sentiment(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENTIMENT_UNSPECIFIED: _ClassVar[Sentiment]
    SENTIMENT_BEARISH: _ClassVar[Sentiment]
    SENTIMENT_NEUTRAL: _ClassVar[Sentiment]
    SENTIMENT_BULLISH: _ClassVar[Sentiment]

class TopBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOP_BY_UNSPECIFIED: _ClassVar[TopBy]
    TOP_BY_VOLUME: _ClassVar[TopBy]
    TOP_BY_SALES: _ClassVar[TopBy]
    TOP_BY_PRICE: _ClassVar[TopBy]

class Period(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERIOD_UNSPECIFIED: _ClassVar[Period]
    PERIOD_24H: _ClassVar[Period]
    PERIOD_7D: _ClassVar[Period]
    PERIOD_30D: _ClassVar[Period]
    PERIOD_ALL: _ClassVar[Period]
SENTIMENT_UNSPECIFIED: Sentiment
SENTIMENT_BEARISH: Sentiment
SENTIMENT_NEUTRAL: Sentiment
SENTIMENT_BULLISH: Sentiment
TOP_BY_UNSPECIFIED: TopBy
TOP_BY_VOLUME: TopBy
TOP_BY_SALES: TopBy
TOP_BY_PRICE: TopBy
PERIOD_UNSPECIFIED: Period
PERIOD_24H: Period
PERIOD_7D: Period
PERIOD_30D: Period
PERIOD_ALL: Period

class MarketDay(_message.Message):
    __slots__ = ("date", "asset_type", "total_volume", "total_transactions", "active_assets", "active_creators", "avg_asset_price", "market_sentiment")
    DATE_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VOLUME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ASSETS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_CREATORS_FIELD_NUMBER: _ClassVar[int]
    AVG_ASSET_PRICE_FIELD_NUMBER: _ClassVar[int]
    MARKET_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    date: str
    asset_type: str
    total_volume: str
    total_transactions: int
    active_assets: int
    active_creators: int
    avg_asset_price: str
    market_sentiment: Sentiment
    def __init__(self, date: _Optional[str] = ..., asset_type: _Optional[str] = ..., total_volume: _Optional[str] = ..., total_transactions: _Optional[int] = ..., active_assets: _Optional[int] = ..., active_creators: _Optional[int] = ..., avg_asset_price: _Optional[str] = ..., market_sentiment: _Optional[_Union[Sentiment, str]] = ...) -> None: ...

class GetMarketRequest(_message.Message):
    __slots__ = ("from_date", "to_date", "asset_type")
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    from_date: str
    to_date: str
    asset_type: str
    def __init__(self, from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., asset_type: _Optional[str] = ...) -> None: ...

class GetMarketResponse(_message.Message):
    __slots__ = ("days", "asset_type", "total_volume", "total_transactions")
    DAYS_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VOLUME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    days: _containers.RepeatedCompositeFieldContainer[MarketDay]
    asset_type: str
    total_volume: str
    total_transactions: int
    def __init__(self, days: _Optional[_Iterable[_Union[MarketDay, _Mapping]]] = ..., asset_type: _Optional[str] = ..., total_volume: _Optional[str] = ..., total_transactions: _Optional[int] = ...) -> None: ...

class GetOverviewRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetOverviewResponse(_message.Message):
    __slots__ = ("total_volume", "total_sales", "total_assets", "total_creators", "volume_24h", "sales_24h", "volume_7d", "volume_change_7d_pct", "avg_price_7d", "top_asset_type_7d", "total_value_staked", "active_stakes", "market_sentiment", "as_of")
    TOTAL_VOLUME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SALES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ASSETS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CREATORS_FIELD_NUMBER: _ClassVar[int]
    VOLUME_24H_FIELD_NUMBER: _ClassVar[int]
    SALES_24H_FIELD_NUMBER: _ClassVar[int]
    VOLUME_7D_FIELD_NUMBER: _ClassVar[int]
    VOLUME_CHANGE_7D_PCT_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_7D_FIELD_NUMBER: _ClassVar[int]
    TOP_ASSET_TYPE_7D_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VALUE_STAKED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_STAKES_FIELD_NUMBER: _ClassVar[int]
    MARKET_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    total_volume: str
    total_sales: int
    total_assets: int
    total_creators: int
    volume_24h: str
    sales_24h: int
    volume_7d: str
    volume_change_7d_pct: str
    avg_price_7d: str
    top_asset_type_7d: str
    total_value_staked: str
    active_stakes: int
    market_sentiment: Sentiment
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, total_volume: _Optional[str] = ..., total_sales: _Optional[int] = ..., total_assets: _Optional[int] = ..., total_creators: _Optional[int] = ..., volume_24h: _Optional[str] = ..., sales_24h: _Optional[int] = ..., volume_7d: _Optional[str] = ..., volume_change_7d_pct: _Optional[str] = ..., avg_price_7d: _Optional[str] = ..., top_asset_type_7d: _Optional[str] = ..., total_value_staked: _Optional[str] = ..., active_stakes: _Optional[int] = ..., market_sentiment: _Optional[_Union[Sentiment, str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SaleRecord(_message.Message):
    __slots__ = ("sale_id", "asset_id", "asset_type", "price", "currency", "buyer_id", "seller_id", "occurred_at", "creator_ids")
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    BUYER_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATOR_IDS_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    asset_id: str
    asset_type: str
    price: str
    currency: str
    buyer_id: str
    seller_id: str
    occurred_at: _timestamp_pb2.Timestamp
    creator_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sale_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., asset_type: _Optional[str] = ..., price: _Optional[str] = ..., currency: _Optional[str] = ..., buyer_id: _Optional[str] = ..., seller_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., creator_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetAssetPerformanceRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class GetAssetPerformanceResponse(_message.Message):
    __slots__ = ("asset_id", "asset_type", "total_sales", "total_volume", "first_price", "last_price", "min_price", "max_price", "avg_price", "price_change_pct", "unique_buyers", "transfers", "total_staked", "active_stakes", "created_at", "last_sale_at", "recent_sales")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SALES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VOLUME_FIELD_NUMBER: _ClassVar[int]
    FIRST_PRICE_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    MIN_PRICE_FIELD_NUMBER: _ClassVar[int]
    MAX_PRICE_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICE_CHANGE_PCT_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_BUYERS_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STAKED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_STAKES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SALE_AT_FIELD_NUMBER: _ClassVar[int]
    RECENT_SALES_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    asset_type: str
    total_sales: int
    total_volume: str
    first_price: str
    last_price: str
    min_price: str
    max_price: str
    avg_price: str
    price_change_pct: str
    unique_buyers: int
    transfers: int
    total_staked: str
    active_stakes: int
    created_at: _timestamp_pb2.Timestamp
    last_sale_at: _timestamp_pb2.Timestamp
    recent_sales: _containers.RepeatedCompositeFieldContainer[SaleRecord]
    def __init__(self, asset_id: _Optional[str] = ..., asset_type: _Optional[str] = ..., total_sales: _Optional[int] = ..., total_volume: _Optional[str] = ..., first_price: _Optional[str] = ..., last_price: _Optional[str] = ..., min_price: _Optional[str] = ..., max_price: _Optional[str] = ..., avg_price: _Optional[str] = ..., price_change_pct: _Optional[str] = ..., unique_buyers: _Optional[int] = ..., transfers: _Optional[int] = ..., total_staked: _Optional[str] = ..., active_stakes: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_sale_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recent_sales: _Optional[_Iterable[_Union[SaleRecord, _Mapping]]] = ...) -> None: ...

class GetCreatorPerformanceRequest(_message.Message):
    __slots__ = ("creator_id",)
    CREATOR_ID_FIELD_NUMBER: _ClassVar[int]
    creator_id: str
    def __init__(self, creator_id: _Optional[str] = ...) -> None: ...

class CreatorAsset(_message.Message):
    __slots__ = ("asset_id", "asset_type", "share_percent", "sales", "volume")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHARE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    SALES_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    asset_type: str
    share_percent: str
    sales: int
    volume: str
    def __init__(self, asset_id: _Optional[str] = ..., asset_type: _Optional[str] = ..., share_percent: _Optional[str] = ..., sales: _Optional[int] = ..., volume: _Optional[str] = ...) -> None: ...

class GetCreatorPerformanceResponse(_message.Message):
    __slots__ = ("creator_id", "assets_created", "assets_sold", "total_sales", "total_volume", "attributed_volume", "avg_sale_price", "top_asset_id", "assets", "last_sale_at")
    CREATOR_ID_FIELD_NUMBER: _ClassVar[int]
    ASSETS_CREATED_FIELD_NUMBER: _ClassVar[int]
    ASSETS_SOLD_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SALES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VOLUME_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTED_VOLUME_FIELD_NUMBER: _ClassVar[int]
    AVG_SALE_PRICE_FIELD_NUMBER: _ClassVar[int]
    TOP_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    LAST_SALE_AT_FIELD_NUMBER: _ClassVar[int]
    creator_id: str
    assets_created: int
    assets_sold: int
    total_sales: int
    total_volume: str
    attributed_volume: str
    avg_sale_price: str
    top_asset_id: str
    assets: _containers.RepeatedCompositeFieldContainer[CreatorAsset]
    last_sale_at: _timestamp_pb2.Timestamp
    def __init__(self, creator_id: _Optional[str] = ..., assets_created: _Optional[int] = ..., assets_sold: _Optional[int] = ..., total_sales: _Optional[int] = ..., total_volume: _Optional[str] = ..., attributed_volume: _Optional[str] = ..., avg_sale_price: _Optional[str] = ..., top_asset_id: _Optional[str] = ..., assets: _Optional[_Iterable[_Union[CreatorAsset, _Mapping]]] = ..., last_sale_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTopRequest(_message.Message):
    __slots__ = ("by", "period", "asset_type", "limit")
    BY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    by: TopBy
    period: Period
    asset_type: str
    limit: int
    def __init__(self, by: _Optional[_Union[TopBy, str]] = ..., period: _Optional[_Union[Period, str]] = ..., asset_type: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class TopAsset(_message.Message):
    __slots__ = ("rank", "asset_id", "asset_type", "volume", "sales", "last_price", "value")
    RANK_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    SALES_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    rank: int
    asset_id: str
    asset_type: str
    volume: str
    sales: int
    last_price: str
    value: str
    def __init__(self, rank: _Optional[int] = ..., asset_id: _Optional[str] = ..., asset_type: _Optional[str] = ..., volume: _Optional[str] = ..., sales: _Optional[int] = ..., last_price: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class GetTopResponse(_message.Message):
    __slots__ = ("by", "period", "assets")
    BY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    by: TopBy
    period: Period
    assets: _containers.RepeatedCompositeFieldContainer[TopAsset]
    def __init__(self, by: _Optional[_Union[TopBy, str]] = ..., period: _Optional[_Union[Period, str]] = ..., assets: _Optional[_Iterable[_Union[TopAsset, _Mapping]]] = ...) -> None: ...

class GetInsightsRequest(_message.Message):
    __slots__ = ("asset_type",)
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    asset_type: str
    def __init__(self, asset_type: _Optional[str] = ...) -> None: ...

class Insight(_message.Message):
    __slots__ = ("kind", "title", "explanation", "severity", "rule", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    title: str
    explanation: str
    severity: str
    rule: str
    metrics: _containers.ScalarMap[str, str]
    def __init__(self, kind: _Optional[str] = ..., title: _Optional[str] = ..., explanation: _Optional[str] = ..., severity: _Optional[str] = ..., rule: _Optional[str] = ..., metrics: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetInsightsResponse(_message.Message):
    __slots__ = ("insights", "as_of")
    INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    insights: _containers.RepeatedCompositeFieldContainer[Insight]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, insights: _Optional[_Iterable[_Union[Insight, _Mapping]]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetMarketHistoryRequest(_message.Message):
    __slots__ = ("days", "asset_type")
    DAYS_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    days: int
    asset_type: str
    def __init__(self, days: _Optional[int] = ..., asset_type: _Optional[str] = ...) -> None: ...

class HistoryPoint(_message.Message):
    __slots__ = ("date", "volume", "sales", "avg_price")
    DATE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    SALES_FIELD_NUMBER: _ClassVar[int]
    AVG_PRICE_FIELD_NUMBER: _ClassVar[int]
    date: str
    volume: str
    sales: int
    avg_price: str
    def __init__(self, date: _Optional[str] = ..., volume: _Optional[str] = ..., sales: _Optional[int] = ..., avg_price: _Optional[str] = ...) -> None: ...

class AssetTypeHistory(_message.Message):
    __slots__ = ("asset_type", "points")
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    asset_type: str
    points: _containers.RepeatedCompositeFieldContainer[HistoryPoint]
    def __init__(self, asset_type: _Optional[str] = ..., points: _Optional[_Iterable[_Union[HistoryPoint, _Mapping]]] = ...) -> None: ...

class GetMarketHistoryResponse(_message.Message):
    __slots__ = ("series",)
    SERIES_FIELD_NUMBER: _ClassVar[int]
    series: _containers.RepeatedCompositeFieldContainer[AssetTypeHistory]
    def __init__(self, series: _Optional[_Iterable[_Union[AssetTypeHistory, _Mapping]]] = ...) -> None: ...

class RecordSalesRequest(_message.Message):
    __slots__ = ("sales",)
    SALES_FIELD_NUMBER: _ClassVar[int]
    sales: _containers.RepeatedCompositeFieldContainer[SaleRecord]
    def __init__(self, sales: _Optional[_Iterable[_Union[SaleRecord, _Mapping]]] = ...) -> None: ...

class RecordSalesResponse(_message.Message):
    __slots__ = ("recorded", "duplicates")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    duplicates: int
    def __init__(self, recorded: _Optional[int] = ..., duplicates: _Optional[int] = ...) -> None: ...

class ListSalesRequest(_message.Message):
    __slots__ = ("asset_type", "since", "limit", "cursor")
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    asset_type: str
    since: _timestamp_pb2.Timestamp
    limit: int
    cursor: str
    def __init__(self, asset_type: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListedSale(_message.Message):
    __slots__ = ("sale", "region", "creators")
    SALE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CREATORS_FIELD_NUMBER: _ClassVar[int]
    sale: SaleRecord
    region: str
    creators: int
    def __init__(self, sale: _Optional[_Union[SaleRecord, _Mapping]] = ..., region: _Optional[str] = ..., creators: _Optional[int] = ...) -> None: ...

class ListSalesResponse(_message.Message):
    __slots__ = ("sales", "next_cursor")
    SALES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    sales: _containers.RepeatedCompositeFieldContainer[ListedSale]
    next_cursor: str
    def __init__(self, sales: _Optional[_Iterable[_Union[ListedSale, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...
