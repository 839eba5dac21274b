"""The rules of the assets service: what a valid asset is, who may change it,
how a risk score turns into a status, and the purchase saga's states.
No gRPC and no SQL here."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import orjson
from ipheron_libs.errors import InvalidArgument
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from assets_service.cid import InvalidCid, parse_cid

ASSET_TYPES = ("art", "music", "video", "literature", "software", "design", "patent", "trademark", "other")

# Asset statuses.
PENDING = "pending"
PENDING_REVIEW = "pending_review"
ACTIVE = "active"
ARCHIVED = "archived"
FAILED = "failed"
STATUSES = (PENDING, PENDING_REVIEW, ACTIVE, ARCHIVED, FAILED)

# Saga kinds and states. A mint saga: assessing -> (held | minting) -> minted -> completed.
# A purchase saga: reserved -> buying -> bought -> recorded -> completed, or -> failed (compensated).
MINT, PURCHASE = "mint", "purchase"
ASSESSING, HELD, MINTING, MINTED = "assessing", "held", "minting", "minted"
RESERVED, BUYING, BOUGHT, RECORDED = "reserved", "buying", "bought", "recorded"
COMPLETED, SAGA_FAILED = "completed", "failed"
TERMINAL_STATES = (COMPLETED, SAGA_FAILED, HELD)

WEI_PER_ETH = Decimal(10) ** 18
MAX_PRICE = Decimal(1000000)  # ETH; a sanity bound, far above any real listing
MAX_ROYALTY = Decimal(50)
DEFAULT_ROYALTY = Decimal(10)
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 6
MAX_METADATA_KEYS = 200
MAX_FEATURES = 20
MAX_FEATURE_LENGTH = 100
MAX_CREATORS = 10
MAX_NAME = 200
MAX_REGION = 100
MAX_IDEMPOTENCY_KEY = 200

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"<[^>]*>")
_WALLET = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SPACES = re.compile(r"\s+")


def sanitize_text(value: str, *, single_line: bool = True) -> str:
    """NFC-normalise, drop control and bidi-override characters and HTML tags.

    Text is shown in browsers and notifications; stripping tags here means no
    consumer has to remember to escape a name. Entities are unescaped first so
    that `&lt;script&gt;` cannot smuggle a tag past the filter.
    """
    text = unicodedata.normalize("NFC", value)
    text = html.unescape(text)
    text = _CONTROL.sub("", text)
    text = _TAG.sub("", text).replace("<", "").replace(">", "")
    if single_line:
        text = _SPACES.sub(" ", text)
    return text.strip()


def parse_decimal(value: str | Decimal, field: str, *, max_places: int) -> Decimal:
    """A finite decimal with at most `max_places` fractional digits."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidArgument(f"{field} must be a decimal number", field=field) from None
    if not number.is_finite():
        raise InvalidArgument(f"{field} must be a finite decimal", field=field)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places and number != number.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_DOWN):
        raise InvalidArgument(f"{field} has more than {max_places} decimal places", field=field)
    return number


def check_price(value: str | Decimal, field: str = "price") -> Decimal:
    """Price rule: ETH, > 0, at most MAX_PRICE, at most 18 decimals."""
    price = parse_decimal(value, field, max_places=18)
    if price <= 0:
        raise InvalidArgument(f"{field} must be greater than 0", field=field)
    if price > MAX_PRICE:
        raise InvalidArgument(f"{field} must be at most {MAX_PRICE} ETH", field=field)
    return price


def check_wallet(value: str, field: str = "wallet") -> str:
    """A 20-byte hex address, returned lower-case (our canonical stored form)."""
    if not _WALLET.match(value or ""):
        raise InvalidArgument(f"{field} must be a 0x-prefixed 20-byte hex address", field=field)
    return value.lower()


def to_wei(eth: Decimal) -> int:
    """ETH decimal to integer wei (exact: prices have at most 18 decimals)."""
    return int(eth * WEI_PER_ETH)


def format_eth(value: Decimal) -> str:
    """Canonical decimal string without exponent or trailing zeros ("1.5", "2")."""
    text = format(value.normalize(), "f")
    return text


def check_metadata(metadata: Any) -> dict[str, Any]:
    """Metadata is a JSON object, bounded in size, depth and key count, with clean strings."""
    if not isinstance(metadata, dict):
        raise InvalidArgument("metadata must be a JSON object", field="metadata")
    keys = 0

    def clean(node: Any, depth: int) -> Any:
        nonlocal keys
        if depth > MAX_METADATA_DEPTH:
            raise InvalidArgument(f"metadata nests deeper than {MAX_METADATA_DEPTH} levels", field="metadata")
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                keys += 1
                if keys > MAX_METADATA_KEYS:
                    raise InvalidArgument(f"metadata has more than {MAX_METADATA_KEYS} keys", field="metadata")
                out[sanitize_text(str(k))[:100]] = clean(v, depth + 1)
            return out
        if isinstance(node, list):
            return [clean(v, depth + 1) for v in node]
        if isinstance(node, str):
            return sanitize_text(node, single_line=False)
        if isinstance(node, float) and not math.isfinite(node):  # NaN/Infinity are not JSON
            raise InvalidArgument("metadata numbers must be finite", field="metadata")
        return node

    cleaned = clean(metadata, 1)
    if len(orjson.dumps(cleaned)) > MAX_METADATA_BYTES:
        raise InvalidArgument(f"metadata is larger than {MAX_METADATA_BYTES} bytes", field="metadata")
    return cleaned


def parse_metadata_json(text: str) -> dict[str, Any]:
    """Parse the wire form (a JSON string) and apply the metadata rules."""
    if not text:
        return {}
    if len(text) > 4 * MAX_METADATA_BYTES:
        raise InvalidArgument(f"metadata is larger than {MAX_METADATA_BYTES} bytes", field="metadata")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidArgument("metadata must be valid JSON", field="metadata") from None
    return check_metadata(value)


class CreatorInput(BaseModel):
    """One co-creator as given by the client: a user id or a wallet, and a share."""

    model_config = ConfigDict(extra="forbid")
    user_id: str = ""
    wallet: str = ""
    share_percent: Decimal

    @model_validator(mode="after")
    def _identified(self) -> CreatorInput:
        if not self.user_id and not self.wallet:
            raise ValueError("each creator needs a user_id or a wallet")
        if self.wallet:
            self.wallet = check_wallet(self.wallet, "creators.wallet")
        if len(self.user_id) > 64:
            raise ValueError("creator user_id is too long")
        share = parse_decimal(self.share_percent, "creators.share_percent", max_places=2)
        if share <= 0 or share > 100:
            raise ValueError("each share_percent must be > 0 and <= 100")
        self.share_percent = share
        return self


class NewAsset(BaseModel):
    """The schema layer of CreateAsset (the gateway validates the same shape first)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=4 * MAX_NAME)
    asset_type: str
    price: Decimal
    royalty_rate: Decimal = DEFAULT_ROYALTY
    # Any, so a non-object gets our clear message rather than pydantic's.
    metadata: Any = Field(default_factory=dict)
    utility_features: list[str] = Field(default_factory=list)
    region: str = "Global"
    creators: list[CreatorInput]
    ipfs_hash: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        name = sanitize_text(v)
        if not 1 <= len(name) <= MAX_NAME:
            raise ValueError(f"name must be 1..{MAX_NAME} characters after cleaning")
        return name

    @field_validator("asset_type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in ASSET_TYPES:
            raise ValueError(f"asset_type must be one of {', '.join(ASSET_TYPES)}")
        return v

    @field_validator("price")
    @classmethod
    def _price(cls, v: Decimal) -> Decimal:
        return check_price(v)

    @field_validator("royalty_rate")
    @classmethod
    def _royalty(cls, v: Decimal) -> Decimal:
        rate = parse_decimal(v, "royalty_rate", max_places=2)
        if rate < 0 or rate > MAX_ROYALTY:
            raise ValueError("royalty_rate must be between 0 and 50")
        return rate

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: Any) -> dict[str, Any]:
        return check_metadata(v)

    @field_validator("utility_features")
    @classmethod
    def _features(cls, v: list[str]) -> list[str]:
        if len(v) > MAX_FEATURES:
            raise ValueError(f"at most {MAX_FEATURES} utility_features")
        out = []
        for item in v:
            feature = sanitize_text(item)
            if not 1 <= len(feature) <= MAX_FEATURE_LENGTH:
                raise ValueError(f"each utility feature must be 1..{MAX_FEATURE_LENGTH} characters")
            out.append(feature)
        return out

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        region = sanitize_text(v) or "Global"
        if len(region) > MAX_REGION:
            raise ValueError(f"region must be at most {MAX_REGION} characters")
        return region

    @field_validator("ipfs_hash")
    @classmethod
    def _cid(cls, v: str) -> str:
        try:
            parse_cid(v.strip())
        except InvalidCid as exc:
            raise ValueError(f"ipfs_hash is not a valid CID: {exc}") from None
        return v.strip()

    @model_validator(mode="after")
    def _splits(self) -> NewAsset:
        check_splits([c.share_percent for c in self.creators])
        seen: set[str] = set()
        for c in self.creators:
            key = c.user_id or c.wallet
            if key in seen:
                raise ValueError("a creator is listed twice")
            seen.add(key)
        return self

    @property
    def content_key(self) -> str:
        """The content identity used for duplicate detection (multihash hex)."""
        return parse_cid(self.ipfs_hash).content_key


def check_splits(shares: list[Decimal]) -> None:
    """Creators: 1..MAX_CREATORS shares that sum to exactly 100."""
    if not shares:
        raise ValueError("at least one creator is required")
    if len(shares) > MAX_CREATORS:
        raise ValueError(f"at most {MAX_CREATORS} creators")
    total = sum(shares, Decimal(0))
    if total != 100:
        raise ValueError(f"creator shares must sum to exactly 100, got {format_eth(total)}")


def validate_new_asset(data: dict[str, Any]) -> NewAsset:
    """Run the schema layer, turning pydantic errors into one clear InvalidArgument."""
    try:
        return NewAsset.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidArgument(f"{field}: {message}" if field else message, field=field) from None


# Fields an owner may change, by their wire names.
WRITABLE_FIELDS = ("price", "listed", "metadata_json")


def check_update_mask(paths: list[str]) -> list[str]:
    """Only price, listed and metadata are client-writable; anything else is refused."""
    if not paths:
        raise InvalidArgument("update_mask must name at least one field", field="update_mask")
    normalised = ["metadata_json" if p == "metadata" else p for p in paths]
    for p in normalised:
        if p not in WRITABLE_FIELDS:
            raise InvalidArgument(f"field {p!r} is not writable (writable: price, listed, metadata)", field="update_mask")
    return sorted(set(normalised))


def risk_blocks(score: int, high: bool, threshold: int) -> bool:
    """True when a risk assessment holds an asset for review (or refuses a purchase)."""
    return high or score >= threshold


def creator_attribution(price: Decimal, shares: list[Decimal]) -> list[Decimal]:
    """Each creator's share of a sale's value, rounded down to 6 decimals.

    This is what we add to each creator's total_sales in auth: their attributed
    sales volume, proportional to their share. Auth keeps totals at 6 decimals.
    """
    quantum = Decimal(1).scaleb(-6)
    return [(price * s / 100).quantize(quantum, rounding=ROUND_DOWN) for s in shares]


MAX_FILE_BYTES = 4 * 1024 * 1024
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


def check_file(content: bytes, content_type: str, filename: str) -> tuple[str, str]:
    """An upload: 1 byte .. 4 MiB, a plain MIME type, a clean file name. Returns (type, name)."""
    if not content:
        raise InvalidArgument("the file is empty", field="content")
    if len(content) > MAX_FILE_BYTES:
        raise InvalidArgument(f"the file is larger than {MAX_FILE_BYTES} bytes", field="content")
    mime = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if not _MIME.match(mime):
        raise InvalidArgument("content_type must be a MIME type such as image/png", field="content_type")
    name = sanitize_text(filename or "").replace("/", "_").replace("\\", "_")[:255]
    return mime, name
