"""Domain records shared by the agents and the input rules (asset types, regions,
decimal inputs). Pure: no gRPC, no SQL, no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ipheron_libs.errors import InvalidArgument
from ipheron_libs.vocab import ASSET_TYPES, DEFAULT_REPUTATION, MAX_REPUTATION, MIN_REPUTATION

REGIONS = ("north-america", "europe", "asia", "latin-america", "africa", "oceania", "middle-east")
_REGION_ALIASES = {
    "na": "north-america", "us": "north-america", "usa": "north-america", "ca": "north-america",
    "canada": "north-america", "north america": "north-america",
    "eu": "europe", "uk": "europe", "emea": "europe", "de": "europe", "fr": "europe",
    "apac": "asia", "jp": "asia", "cn": "asia", "in": "asia", "kr": "asia",
    "latam": "latin-america", "south america": "latin-america", "br": "latin-america", "mx": "latin-america",
    "au": "oceania", "nz": "oceania", "me": "middle-east", "middle east": "middle-east",
}
# Prices in answers have exactly this many decimals (wire.money_fixed).
PRICE_PLACES = 6
MAX_PRICE = Decimal("1000000000")


@dataclass(frozen=True)
class FiredRule:
    """A rule that contributed to a decision, with its effect and a readable reason."""

    name: str
    module: str
    value: str
    contribution: str = ""
    explanation: str = ""


@dataclass(frozen=True)
class AssetInput:
    """An asset as the agents see it (registered or not)."""

    asset_type: str
    region: str = ""
    name: str = ""
    asset_id: str = ""
    utility_features: tuple[str, ...] = ()
    co_creators: int = 1
    # What the agents assume when the caller does not know the creator: a new user's score.
    creator_reputation: int = DEFAULT_REPUTATION
    asking_price: Decimal | None = None
    content_hash: str = ""
    description: str = ""
    creator_wallet: str = ""
    wallet_age_days: int = -1
    creator_user_id: str = ""


@dataclass(frozen=True)
class Trade:
    """A past or proposed sale."""

    asset_id: str
    seller: str
    buyer: str
    price: Decimal
    at: datetime | None  # None: the caller did not say when (order still counts)


@dataclass
class RiskResult:
    score: int
    level: str
    flags: list[str] = field(default_factory=list)
    explanation: str = ""
    rules: list[FiredRule] = field(default_factory=list)


@dataclass(frozen=True)
class SaleFlag:
    """A risk flag on one recorded sale, as stored: decided when the sale was recorded, or
    later (`retroactive`) when the recording of another sale revealed the pattern it is part of."""

    sale_id: str
    asset_id: str
    seller: str
    buyer: str
    price: Decimal
    sold_at: datetime
    rule: str
    points: int
    explanation: str
    retroactive: bool
    # The sale whose recording decided the flag (the sale itself unless retroactive).
    revealed_by: str
    decided_at: datetime
    # The wallets of the cycle (ring or round trip) the rule saw; empty for other rules.
    wallets: tuple[str, ...] = ()
    kb_version: str = ""


def asset_type_of(value: str) -> str:
    """Normalise an asset type ("ART", "ASSET_TYPE_ART", "art"); InvalidArgument if unknown."""
    key = value.strip().lower().removeprefix("asset_type_")
    if key not in ASSET_TYPES:
        raise InvalidArgument(f"unknown asset type {value!r}; one of {', '.join(ASSET_TYPES)}", field="asset_type")
    return key


def region_of(value: str) -> str:
    """Normalise a free-form region to one the rules know; anything else is "other"."""
    key = value.strip().lower().replace("_", "-")
    if key in REGIONS:
        return key
    key = key.replace("-", " ")
    return _REGION_ALIASES.get(key, key.replace(" ", "-") if key.replace(" ", "-") in REGIONS else "other")


def decimal_of(value: str, field_name: str, *, minimum: Decimal = Decimal(0),
               allow_empty: bool = True) -> Decimal | None:
    """Parse a decimal string (money, effort); InvalidArgument naming the field when bad."""
    if value is None or value.strip() == "":
        if allow_empty:
            return None
        raise InvalidArgument(f"{field_name} is required", field=field_name)
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise InvalidArgument(f"{field_name} must be a decimal string, got {value!r}", field=field_name) from None
    if not number.is_finite() or number < minimum or number > MAX_PRICE:
        raise InvalidArgument(f"{field_name} must be between {minimum} and {MAX_PRICE}", field=field_name)
    return number


def clamp_reputation(value: int) -> int:
    """A reputation score within the shared 0..100 scale."""
    return max(MIN_REPUTATION, min(MAX_REPUTATION, value))


@dataclass(frozen=True)
class HistoryPoint:
    """One day of one asset type's market: sales count, volume and average price (ETH)."""

    date: str  # ISO date
    asset_type: str
    sales: int
    volume: str
    avg_price: str


def asset_to_json(asset: AssetInput) -> dict[str, Any]:
    """An asset as stored with its analysis (money as a decimal string)."""
    out: dict[str, Any] = {k: v for k, v in asdict(asset).items() if k != "asking_price"}
    out["utility_features"] = list(asset.utility_features)
    out["asking_price"] = str(asset.asking_price) if asset.asking_price is not None else None
    return out


def asset_from_json(data: dict[str, Any]) -> AssetInput:
    """The stored asset back (fields of newer versions ignored)."""
    known = {f.name for f in fields(AssetInput)}
    values = {k: v for k, v in data.items() if k in known}
    values["utility_features"] = tuple(values.get("utility_features") or ())
    price = values.get("asking_price")
    values["asking_price"] = Decimal(price) if price else None
    return AssetInput(**values)


def factor(value: float | str) -> Decimal:
    """A rule's numeric value as an exact decimal (its shortest float repr, so 1.1 stays 1.1)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
