"""Analytics rules: input checks, windows, market sentiment and explained insights.

No gRPC and no SQL: the repository hands plain numbers in, these functions say
what they mean. Amounts are Decimals throughout; percentages are rounded to two
decimals only for display.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum

from ipheron_libs.errors import InvalidArgument, NotFound
from ipheron_libs.wire import money_str

ALL = "all"
UNKNOWN_TYPE = "unknown"
SCALE = Decimal("1E-18")
MAX_RANGE_DAYS = 366
MAX_HISTORY_DAYS = 730
DEFAULT_RANGE_DAYS = 30
DEFAULT_HISTORY_DAYS = 90
MAX_TOP = 100
SENTIMENT_WINDOW_DAYS = 7
# Sentiment thresholds: a day's volume against the average of the 7 days before it.
BULLISH_RATIO = Decimal("1.2")
BEARISH_RATIO = Decimal("0.8")
# Insight thresholds.
TREND_THRESHOLD_PCT = Decimal("20")
CONCENTRATION_SHARE_PCT = Decimal("50")

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_DECIMAL_RE = re.compile(r"^\d{1,18}(\.\d{1,18})?$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")


class Sentiment(StrEnum):
    """A day's market mood (see `sentiment`)."""

    BEARISH = "bearish"
    NEUTRAL = "neutral"
    BULLISH = "bullish"


class TopBy(StrEnum):
    """What a top list ranks by."""

    VOLUME = "volume"
    SALES = "sales"
    PRICE = "price"


class Period(StrEnum):
    """The window a top list covers."""

    H24 = "24h"
    D7 = "7d"
    D30 = "30d"
    ALL = "all"


PERIOD_LENGTH: dict[Period, timedelta | None] = {
    Period.H24: timedelta(hours=24),
    Period.D7: timedelta(days=7),
    Period.D30: timedelta(days=30),
    Period.ALL: None,
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def quantize(value: Decimal) -> Decimal:
    """Round down to 18 decimals (the NUMERIC(36,18) scale)."""
    with localcontext() as ctx:
        ctx.prec = 60
        return value.quantize(SCALE, rounding=ROUND_DOWN)


def divide(numerator: Decimal, denominator: Decimal | int) -> Decimal:
    """numerator / denominator at 18 decimals, 0 when the denominator is 0."""
    if not denominator:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        return quantize(Decimal(numerator) / Decimal(denominator))


def pct_change(new: Decimal, old: Decimal) -> Decimal | None:
    """Percentage change from old to new, two decimals; None when old is 0."""
    if not old:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return ((Decimal(new) - Decimal(old)) * 100 / Decimal(old)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def share_pct(part: Decimal, whole: Decimal) -> Decimal:
    if not whole:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


# -- input checks --------------------------------------------------------------


def parse_price(raw: object, field_name: str = "price") -> Decimal:
    """A sale price: decimal string (or a Money-like {"amount": ...}) >= 0, <= 18+18 digits."""
    if isinstance(raw, dict):
        raw = raw.get("amount")
    text = str(raw).strip() if raw is not None else ""
    if not _DECIMAL_RE.match(text):
        raise InvalidArgument(f"{field_name} must be a non-negative decimal string such as '12.5'", field=field_name)
    return Decimal(text)


def parse_day(raw: str, field_name: str) -> date | None:
    """An ISO date ("2026-01-31"); empty means "not given"."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"{field_name} must be an ISO date such as 2026-01-31", field=field_name) from None


def day_range(from_raw: str, to_raw: str, today: date) -> tuple[date, date]:
    """Inclusive range, defaulting to the last 30 days, at most MAX_RANGE_DAYS long."""
    to_day = parse_day(to_raw, "to_date") or today
    from_day = parse_day(from_raw, "from_date") or (to_day - timedelta(days=DEFAULT_RANGE_DAYS - 1))
    if from_day > to_day:
        raise InvalidArgument("from_date must not be after to_date", field="from_date")
    if (to_day - from_day).days + 1 > MAX_RANGE_DAYS:
        raise InvalidArgument(f"the range may cover at most {MAX_RANGE_DAYS} days", field="from_date")
    return from_day, to_day


def check_asset_type(raw: str, *, allow_all: bool = True) -> str:
    """Asset types are lower-case words; empty (or "all") means the whole market."""
    text = (raw or "").strip().lower()
    if not text or text == ALL:
        if not allow_all:
            raise InvalidArgument("asset_type is required", field="asset_type")
        return ALL
    if not _TYPE_RE.match(text):
        raise InvalidArgument("asset_type must be a lower-case word such as 'art'", field="asset_type")
    return text


def check_id(raw: str, field_name: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidArgument(f"{field_name} is required", field=field_name)
    if not _ID_RE.match(text):
        raise InvalidArgument(f"{field_name} is not a valid id", field=field_name)
    return text


def check_limit(limit: int, default: int = 10) -> int:
    if limit == 0:
        return default
    if not 1 <= limit <= MAX_TOP:
        raise InvalidArgument(f"limit must be between 1 and {MAX_TOP}", field="limit")
    return limit


def check_history_days(days: int) -> int:
    if days == 0:
        return DEFAULT_HISTORY_DAYS
    if not 1 <= days <= MAX_HISTORY_DAYS:
        raise InvalidArgument(f"days must be between 1 and {MAX_HISTORY_DAYS}", field="days")
    return days


def period_start(period: Period, now: datetime) -> datetime | None:
    length = PERIOD_LENGTH[period]
    return None if length is None else now - length


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def parse_time(raw: object) -> datetime:
    """An event's ISO timestamp as an aware UTC datetime (naive is taken as UTC)."""
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument("occurred_at must be an ISO timestamp", field="occurred_at") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- sentiment -----------------------------------------------------------------


def sentiment(volume: Decimal, previous: Sequence[Decimal]) -> Sentiment:
    """A day's mood: its volume against the average daily volume of the days before.

    `previous` holds the volumes of the SENTIMENT_WINDOW_DAYS days before (missing
    days count as 0). >= 1.2x the average is bullish, <= 0.8x bearish; the first
    volume after a quiet week is bullish; two quiet periods are neutral.
    """
    return sentiment_against(volume, divide(sum(previous, Decimal(0)), SENTIMENT_WINDOW_DAYS))


def sentiment_against(volume: Decimal, average: Decimal) -> Sentiment:
    """Volume against a baseline daily average: >= 1.2x bullish, <= 0.8x bearish."""
    if average == 0:
        return Sentiment.BULLISH if volume > 0 else Sentiment.NEUTRAL
    ratio = Decimal(volume) / average
    if ratio >= BULLISH_RATIO:
        return Sentiment.BULLISH
    if ratio <= BEARISH_RATIO:
        return Sentiment.BEARISH
    return Sentiment.NEUTRAL


# -- insights ------------------------------------------------------------------


@dataclass(frozen=True)
class Insight:
    kind: str
    title: str
    explanation: str
    severity: str
    rule: str
    metrics: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MarketFacts:
    """The numbers insights are drawn from (all for one scope: the market or one type)."""

    scope: str
    volume_7d: Decimal
    volume_prev_7d: Decimal
    sales_7d: int
    sales_prev_7d: int
    volume_30d: Decimal
    top_asset_30d: tuple[str, Decimal] | None
    type_volumes_7d: dict[str, Decimal]
    total_staked: Decimal
    active_stakes: int
    today_sentiment: Sentiment


def _trend(kind: str, label: str, new: Decimal, old: Decimal, metrics: dict[str, str]) -> Insight | None:
    change = pct_change(new, old)
    if change is None:
        if new > 0:
            return Insight(
                kind,
                f"{label} picked up from nothing",
                f"{label} was 0 in the previous 7 days and {money_str(new)} in the last 7.",
                "notice",
                "previous_7d == 0 and last_7d > 0",
                metrics,
            )
        return None
    metrics = {**metrics, "change_pct": money_str(change)}
    if change >= TREND_THRESHOLD_PCT:
        return Insight(
            kind,
            f"{label} up {money_str(change)} % week over week",
            f"{label} rose from {money_str(old)} to {money_str(new)} over the last 7 days compared with the 7 before.",
            "notice",
            f"last_7d >= previous_7d * (1 + {money_str(TREND_THRESHOLD_PCT)} %)",
            metrics,
        )
    if change <= -TREND_THRESHOLD_PCT:
        return Insight(
            kind,
            f"{label} down {money_str(-change)} % week over week",
            f"{label} fell from {money_str(old)} to {money_str(new)} over the last 7 days compared with the 7 before.",
            "warning",
            f"last_7d <= previous_7d * (1 - {money_str(TREND_THRESHOLD_PCT)} %)",
            metrics,
        )
    return Insight(
        kind,
        f"{label} steady week over week",
        f"{label} moved {money_str(change)} %, within ±{money_str(TREND_THRESHOLD_PCT)} %: no clear trend.",
        "info",
        f"|change| < {money_str(TREND_THRESHOLD_PCT)} %",
        metrics,
    )


def insights(f: MarketFacts) -> list[Insight]:
    """Short findings, each with the rule that fired and its numbers."""
    out: list[Insight] = []
    if f.sales_7d == 0 and f.sales_prev_7d == 0 and f.volume_30d == 0 and f.active_stakes == 0:
        return [
            Insight(
                "no_data",
                "No recent market activity",
                f"No sales in the last 30 days and no active stakes ({f.scope}).",
                "info",
                "sales_30d == 0 and active_stakes == 0",
                {"scope": f.scope},
            )
        ]
    vol = _trend(
        "volume_trend",
        "Volume",
        f.volume_7d,
        f.volume_prev_7d,
        {"volume_7d": money_str(f.volume_7d), "volume_prev_7d": money_str(f.volume_prev_7d)},
    )
    if vol:
        out.append(vol)
    avg_new = divide(f.volume_7d, f.sales_7d)
    avg_old = divide(f.volume_prev_7d, f.sales_prev_7d)
    if f.sales_7d and f.sales_prev_7d:
        price = _trend(
            "price_trend",
            "Average sale price",
            avg_new,
            avg_old,
            {"avg_price_7d": money_str(avg_new), "avg_price_prev_7d": money_str(avg_old)},
        )
        if price:
            out.append(price)
    if f.type_volumes_7d and f.scope == ALL:
        top_type, top_volume = max(f.type_volumes_7d.items(), key=lambda kv: (kv[1], kv[0]))
        share = share_pct(top_volume, f.volume_7d)
        out.append(
            Insight(
                "leading_asset_type",
                f"{top_type} leads the market",
                f"{top_type} made {money_str(share)} % of the last 7 days' volume ({money_str(top_volume)}).",
                "info",
                "asset type with the largest 7-day volume",
                {"asset_type": top_type, "volume_7d": money_str(top_volume), "share_pct": money_str(share)},
            )
        )
    if f.top_asset_30d and f.volume_30d:
        asset_id, asset_volume = f.top_asset_30d
        share = share_pct(asset_volume, f.volume_30d)
        if share >= CONCENTRATION_SHARE_PCT:
            out.append(
                Insight(
                    "concentration",
                    "Volume concentrated in one asset",
                    f"Asset {asset_id} made {money_str(share)} % of the last 30 days' volume; "
                    "prices in this scope may move with that one asset.",
                    "warning",
                    f"top asset share of 30-day volume >= {money_str(CONCENTRATION_SHARE_PCT)} %",
                    {"asset_id": asset_id, "share_pct": money_str(share), "volume_30d": money_str(f.volume_30d)},
                )
            )
    if f.active_stakes:
        ratio = share_pct(f.total_staked, f.volume_30d) if f.volume_30d else None
        explanation = f"{f.active_stakes} active stakes hold {money_str(f.total_staked)}"
        if ratio is not None:
            explanation += f", {money_str(ratio)} % of the last 30 days' sales volume"
        out.append(
            Insight(
                "staking",
                "Holders are staking",
                explanation + ".",
                "info",
                "active_stakes > 0",
                {"total_staked": money_str(f.total_staked), "active_stakes": str(f.active_stakes)},
            )
        )
    out.append(
        Insight(
            "sentiment",
            f"Market sentiment now: {f.today_sentiment.value}",
            f"The last 24 hours' volume against the daily average of the {SENTIMENT_WINDOW_DAYS} days before: "
            f">= {money_str(BULLISH_RATIO)}x is bullish, <= {money_str(BEARISH_RATIO)}x bearish.",
            "info",
            "volume_24h / avg(daily volume, 7 days before)",
            {"sentiment": f.today_sentiment.value},
        )
    )
    return out


# -- records --------------------------------------------------------------------


@dataclass(frozen=True)
class Sale:
    """One sale as analytics keeps it (asset_type None: not known yet)."""

    sale_id: str
    asset_id: str
    asset_type: str | None
    price: Decimal
    currency: str
    buyer_id: str | None
    seller_id: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class SaleInput:
    """A sale given directly (RecordSales); strings as on the wire."""

    sale_id: str
    asset_id: str
    asset_type: str
    price: str
    currency: str
    buyer_id: str
    seller_id: str
    occurred_at: datetime | None
    creator_ids: Sequence[str] = ()


@dataclass(frozen=True)
class Day:
    """One day of the market (one asset type or "all")."""

    date: date
    asset_type: str
    total_volume: Decimal
    total_transactions: int
    active_assets: int
    active_creators: int
    avg_asset_price: Decimal
    sentiment: Sentiment


@dataclass(frozen=True)
class HistoryPoint:
    """One day of an asset type's history."""

    date: date
    volume: Decimal
    sales: int
    avg_price: Decimal


@dataclass(frozen=True)
class Totals:
    """Volume and number of sales over a window."""

    volume: Decimal
    sales: int


@dataclass(frozen=True)
class OverviewTotals:
    """What the overview is computed from (the whole market, windows ending now)."""

    all_time: Totals
    last_24h: Totals
    last_7d: Totals
    prev_7d: Totals
    week_before_24h: Totals
    assets: int
    creators: int
    type_volumes_7d: dict[str, Decimal]
    total_staked: Decimal
    active_stakes: int


@dataclass(frozen=True)
class Overview:
    """The market at a glance."""

    total_volume: Decimal
    total_sales: int
    total_assets: int
    total_creators: int
    volume_24h: Decimal
    sales_24h: int
    volume_7d: Decimal
    volume_change_7d_pct: Decimal | None
    avg_price_7d: Decimal
    top_asset_type_7d: str
    total_value_staked: Decimal
    active_stakes: int
    sentiment: Sentiment
    as_of: datetime


@dataclass(frozen=True)
class ScopeTotals:
    """What insights are drawn from, for one scope (the market or one type)."""

    scope: str
    last_24h: Totals
    week_before_24h: Totals
    last_7d: Totals
    prev_7d: Totals
    last_30d: Totals
    top_asset_30d: tuple[str, Decimal] | None
    type_volumes_7d: dict[str, Decimal]
    total_staked: Decimal
    active_stakes: int


@dataclass(frozen=True)
class AssetInfo:
    """What analytics knows about an asset itself."""

    asset_type: str
    created_at: datetime | None


@dataclass(frozen=True)
class SalesSummary:
    """An asset's sales in aggregate."""

    sales: int
    volume: Decimal
    min_price: Decimal | None
    max_price: Decimal | None
    buyers: int
    last_at: datetime | None


@dataclass(frozen=True)
class AssetFacts:
    """Everything an asset's performance is computed from."""

    info: AssetInfo | None
    summary: SalesSummary
    first_sale: Sale | None
    recent_sales: tuple[Sale, ...]
    transfers: int
    total_staked: Decimal
    active_stakes: int
    ever_staked: bool


@dataclass(frozen=True)
class AssetPerformance:
    """One asset's sales, prices, transfers and stakes."""

    asset_id: str
    asset_type: str
    total_sales: int
    total_volume: Decimal
    first_price: Decimal | None
    last_price: Decimal | None
    min_price: Decimal | None
    max_price: Decimal | None
    avg_price: Decimal | None
    price_change_pct: Decimal | None
    unique_buyers: int
    transfers: int
    total_staked: Decimal
    active_stakes: int
    created_at: datetime | None
    last_sale_at: datetime | None
    recent_sales: tuple[Sale, ...] = ()


@dataclass(frozen=True)
class CreatorAsset:
    """One asset of a creator, with the creator's share and the asset's sales."""

    asset_id: str
    asset_type: str
    share_percent: Decimal
    sales: int
    volume: Decimal
    last_sale_at: datetime | None = None


@dataclass(frozen=True)
class CreatorPerformance:
    """A creator's assets and the sales volume attributed to them by share."""

    creator_id: str
    assets_created: int
    assets_sold: int
    total_sales: int
    total_volume: Decimal
    attributed_volume: Decimal
    avg_sale_price: Decimal
    top_asset_id: str
    assets: tuple[CreatorAsset, ...]
    last_sale_at: datetime | None


@dataclass(frozen=True)
class TopRow:
    """An asset's figures within a top list's window."""

    asset_id: str
    asset_type: str
    volume: Decimal
    sales: int
    last_price: Decimal


@dataclass(frozen=True)
class TopEntry:
    """A ranked asset and the value it was ranked by."""

    rank: int
    asset_id: str
    asset_type: str
    volume: Decimal
    sales: int
    last_price: Decimal
    value: Decimal


# -- read models ----------------------------------------------------------------


def current_sentiment(last_24h: Decimal, week_before: Decimal) -> Sentiment:
    """The last 24 hours against the daily average of the 7 days before.

    A rolling window rather than the calendar day, so early in a UTC day the
    mood is not read as bearish only because the day has just begun.
    """
    return sentiment_against(last_24h, divide(week_before, SENTIMENT_WINDOW_DAYS))


def market_series(asset_type: str, first: date, last: date, stored: Mapping[date, Day]) -> list[Day]:
    """Every day from `first` to `last`; a day without a stored row is an empty, neutral day."""
    empty = Decimal(0)
    return [
        stored.get(d) or Day(d, asset_type, empty, 0, 0, 0, empty, Sentiment.NEUTRAL)
        for d in days_between(first, last)
    ]


def history_series(
    asset_type: str, first: date, last: date, stored: Mapping[str, Mapping[date, HistoryPoint]]
) -> dict[str, list[HistoryPoint]]:
    """A full daily series per asset type (every type seen, plus "all", for the whole market)."""
    wanted = sorted(stored) if asset_type == ALL else [asset_type]
    if asset_type == ALL and ALL not in wanted:
        wanted.append(ALL)
    out: dict[str, list[HistoryPoint]] = {}
    for t in wanted:
        points = stored.get(t, {})
        out[t] = [points.get(d) or HistoryPoint(d, Decimal(0), 0, Decimal(0)) for d in days_between(first, last)]
    return out


def overview(t: OverviewTotals, now: datetime) -> Overview:
    """The overview as of `now`; the leading type is the one with the largest 7-day volume."""
    by_type = t.type_volumes_7d
    top_type = max(by_type.items(), key=lambda kv: (kv[1], kv[0]))[0] if by_type else ""
    return Overview(
        total_volume=t.all_time.volume,
        total_sales=t.all_time.sales,
        total_assets=t.assets,
        total_creators=t.creators,
        volume_24h=t.last_24h.volume,
        sales_24h=t.last_24h.sales,
        volume_7d=t.last_7d.volume,
        volume_change_7d_pct=pct_change(t.last_7d.volume, t.prev_7d.volume),
        avg_price_7d=divide(t.last_7d.volume, t.last_7d.sales),
        top_asset_type_7d=top_type,
        total_value_staked=t.total_staked,
        active_stakes=t.active_stakes,
        sentiment=current_sentiment(t.last_24h.volume, t.week_before_24h.volume),
        as_of=now,
    )


def market_facts(t: ScopeTotals) -> MarketFacts:
    """The numbers `insights` reads, from a scope's totals."""
    return MarketFacts(
        scope=t.scope,
        volume_7d=t.last_7d.volume,
        volume_prev_7d=t.prev_7d.volume,
        sales_7d=t.last_7d.sales,
        sales_prev_7d=t.prev_7d.sales,
        volume_30d=t.last_30d.volume,
        top_asset_30d=t.top_asset_30d,
        type_volumes_7d=t.type_volumes_7d,
        total_staked=t.total_staked,
        active_stakes=t.active_stakes,
        today_sentiment=current_sentiment(t.last_24h.volume, t.week_before_24h.volume),
    )


def asset_performance(asset_id: str, f: AssetFacts) -> AssetPerformance:
    """An asset's performance; NotFound when analytics has never heard of it."""
    s = f.summary
    if f.info is None and s.sales == 0 and not f.ever_staked:
        raise NotFound(f"no analytics for asset {asset_id!r}")
    first_price = f.first_sale.price if f.first_sale is not None else None
    last_price = f.recent_sales[0].price if f.recent_sales else None
    change = (
        pct_change(last_price, first_price)
        if s.sales >= 2 and first_price is not None and last_price is not None
        else None
    )
    if f.info is not None:
        asset_type = f.info.asset_type
    else:
        asset_type = (f.recent_sales[0].asset_type or "") if f.recent_sales else ""
    return AssetPerformance(
        asset_id=asset_id,
        asset_type=asset_type,
        total_sales=s.sales,
        total_volume=s.volume,
        first_price=first_price,
        last_price=last_price,
        min_price=s.min_price,
        max_price=s.max_price,
        avg_price=divide(s.volume, s.sales) if s.sales else None,
        price_change_pct=change,
        unique_buyers=s.buyers,
        transfers=f.transfers,
        total_staked=f.total_staked,
        active_stakes=f.active_stakes,
        created_at=f.info.created_at if f.info is not None else None,
        last_sale_at=s.last_at,
        recent_sales=f.recent_sales,
    )


def creator_performance(creator_id: str, assets: Sequence[CreatorAsset]) -> CreatorPerformance:
    """A creator's figures; `assets` come largest volume first. The attributed volume
    weighs each asset's volume by the creator's share."""
    total_sales = sum(a.sales for a in assets)
    total_volume = sum((a.volume for a in assets), Decimal(0))
    attributed = quantize(sum((a.volume * a.share_percent / 100 for a in assets), Decimal(0)))
    last = max((a.last_sale_at for a in assets if a.last_sale_at is not None), default=None)
    return CreatorPerformance(
        creator_id=creator_id,
        assets_created=len(assets),
        assets_sold=sum(1 for a in assets if a.sales),
        total_sales=total_sales,
        total_volume=total_volume,
        attributed_volume=attributed,
        avg_sale_price=divide(total_volume, total_sales),
        top_asset_id=assets[0].asset_id if assets and assets[0].sales else "",
        assets=tuple(assets),
        last_sale_at=last,
    )


def rank(by: TopBy, rows: Sequence[TopRow]) -> list[TopEntry]:
    """Number the rows (already in order) and give each the value it was ranked by."""
    def value(r: TopRow) -> Decimal:
        if by is TopBy.SALES:
            return Decimal(r.sales)
        if by is TopBy.PRICE:
            return r.last_price
        return r.volume

    return [
        TopEntry(i, r.asset_id, r.asset_type, r.volume, r.sales, r.last_price, value(r))
        for i, r in enumerate(rows, start=1)
    ]


# -- direct ingestion -------------------------------------------------------------

MAX_RECORD_BATCH = 5000
Creators = dict[str, list[tuple[str, Decimal]]]


def sales_batch(items: Sequence[SaleInput], now: datetime) -> tuple[list[Sale], Creators, int]:
    """Check a RecordSales batch: (unique sales, creators with equal shares per asset,
    number of sales given). An invalid sale names its place ("sales[3].price")."""
    if len(items) > MAX_RECORD_BATCH:
        raise InvalidArgument(f"at most {MAX_RECORD_BATCH} sales per call", field="sales")
    parsed: list[tuple[Sale, list[str]]] = []
    for i, s in enumerate(items):
        where = f"sales[{i}]"
        try:
            sale = Sale(
                sale_id=check_id(s.sale_id, "sale_id"),
                asset_id=check_id(s.asset_id, "asset_id"),
                asset_type=check_asset_type(s.asset_type) if s.asset_type else None,
                price=parse_price(s.price),
                currency=(s.currency or "ETH")[:16],
                buyer_id=s.buyer_id or None,
                seller_id=s.seller_id or None,
                occurred_at=s.occurred_at or now,
            )
            creator_ids = [check_id(c, "creator_ids") for c in s.creator_ids]
        except InvalidArgument as exc:
            raise InvalidArgument(f"{where}.{exc.field}: {exc.message}", field=f"{where}.{exc.field}") from None
        if sale.asset_type == ALL:
            raise InvalidArgument(f"{where}.asset_type must be a concrete type", field=f"{where}.asset_type")
        parsed.append((sale, creator_ids))
    creators: Creators = {}
    for sale, ids in parsed:
        if ids and sale.asset_id not in creators:
            share = (Decimal(100) / len(ids)).quantize(Decimal("0.0001"))
            creators[sale.asset_id] = [(c, share) for c in dict.fromkeys(ids)]
    unique = list({sale.sale_id: sale for sale, _ in parsed}.values())
    return unique, creators, len(parsed)


# -- ListSales: recorded sales, newest first, keyset-paged ----------------------------

MAX_SALES_PAGE = 1000
DEFAULT_SALES_PAGE = 500
DEFAULT_SALES_DAYS = 180


@dataclass(frozen=True)
class ListedSale:
    """A recorded sale with what analytics knows of the sold asset (its region, its creators)."""

    sale: Sale
    region: str
    creators: int


def check_sales_page(limit: int) -> int:
    if limit == 0:
        return DEFAULT_SALES_PAGE
    if not 1 <= limit <= MAX_SALES_PAGE:
        raise InvalidArgument(f"limit must be between 1 and {MAX_SALES_PAGE}", field="limit")
    return limit


def sales_cursor(sale: Sale) -> str:
    """The cursor of the page after `sale` (opaque to callers: time and id of the last sale)."""
    raw = f"{sale.occurred_at.astimezone(UTC).isoformat()}|{sale.sale_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_sales_cursor(cursor: str) -> tuple[datetime, str] | None:
    """The (time, sale id) a cursor continues after; None for the first page; InvalidArgument if forged."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, sale_id = raw.split("|", 1)
        when = datetime.fromisoformat(at)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("cursor is not one this service returned", field="cursor") from None
    if when.tzinfo is None or not _ID_RE.match(sale_id):
        raise InvalidArgument("cursor is not one this service returned", field="cursor")
    return when, sale_id
