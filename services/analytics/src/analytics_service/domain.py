"""Analytics rules: input checks, windows, market sentiment and explained insights.

No gRPC and no SQL: the repository hands plain numbers in, these functions say
what they mean. Amounts are Decimals throughout; percentages are rounded to two
decimals only for display.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum

from ipheron_libs.errors import InvalidArgument

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
    BEARISH = "bearish"
    NEUTRAL = "neutral"
    BULLISH = "bullish"


class TopBy(StrEnum):
    VOLUME = "volume"
    SALES = "sales"
    PRICE = "price"


class Period(StrEnum):
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


def fmt(value: Decimal | int | None) -> str:
    """Plain decimal string without exponent or trailing zeros; "" for None."""
    if value is None:
        return ""
    d = Decimal(value)
    if d == 0:
        return "0"
    return format(d.normalize(), "f")


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
                f"{label} was 0 in the previous 7 days and {fmt(new)} in the last 7.",
                "notice",
                "previous_7d == 0 and last_7d > 0",
                metrics,
            )
        return None
    metrics = {**metrics, "change_pct": fmt(change)}
    if change >= TREND_THRESHOLD_PCT:
        return Insight(
            kind,
            f"{label} up {fmt(change)} % week over week",
            f"{label} rose from {fmt(old)} to {fmt(new)} over the last 7 days compared with the 7 before.",
            "notice",
            f"last_7d >= previous_7d * (1 + {fmt(TREND_THRESHOLD_PCT)} %)",
            metrics,
        )
    if change <= -TREND_THRESHOLD_PCT:
        return Insight(
            kind,
            f"{label} down {fmt(-change)} % week over week",
            f"{label} fell from {fmt(old)} to {fmt(new)} over the last 7 days compared with the 7 before.",
            "warning",
            f"last_7d <= previous_7d * (1 - {fmt(TREND_THRESHOLD_PCT)} %)",
            metrics,
        )
    return Insight(
        kind,
        f"{label} steady week over week",
        f"{label} moved {fmt(change)} %, within ±{fmt(TREND_THRESHOLD_PCT)} %: no clear trend.",
        "info",
        f"|change| < {fmt(TREND_THRESHOLD_PCT)} %",
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
        {"volume_7d": fmt(f.volume_7d), "volume_prev_7d": fmt(f.volume_prev_7d)},
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
            {"avg_price_7d": fmt(avg_new), "avg_price_prev_7d": fmt(avg_old)},
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
                f"{top_type} made {fmt(share)} % of the last 7 days' volume ({fmt(top_volume)}).",
                "info",
                "asset type with the largest 7-day volume",
                {"asset_type": top_type, "volume_7d": fmt(top_volume), "share_pct": fmt(share)},
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
                    f"Asset {asset_id} made {fmt(share)} % of the last 30 days' volume; "
                    "prices in this scope may move with that one asset.",
                    "warning",
                    f"top asset share of 30-day volume >= {fmt(CONCENTRATION_SHARE_PCT)} %",
                    {"asset_id": asset_id, "share_pct": fmt(share), "volume_30d": fmt(f.volume_30d)},
                )
            )
    if f.active_stakes:
        ratio = share_pct(f.total_staked, f.volume_30d) if f.volume_30d else None
        explanation = f"{f.active_stakes} active stakes hold {fmt(f.total_staked)}"
        if ratio is not None:
            explanation += f", {fmt(ratio)} % of the last 30 days' sales volume"
        out.append(
            Insight(
                "staking",
                "Holders are staking",
                explanation + ".",
                "info",
                "active_stakes > 0",
                {"total_staked": fmt(f.total_staked), "active_stakes": str(f.active_stakes)},
            )
        )
    out.append(
        Insight(
            "sentiment",
            f"Market sentiment now: {f.today_sentiment.value}",
            f"The last 24 hours' volume against the daily average of the {SENTIMENT_WINDOW_DAYS} days before: "
            f">= {fmt(BULLISH_RATIO)}x is bullish, <= {fmt(BEARISH_RATIO)}x bearish.",
            "info",
            "volume_24h / avg(daily volume, 7 days before)",
            {"sentiment": f.today_sentiment.value},
        )
    )
    return out
