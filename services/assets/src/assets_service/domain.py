"""The rules of the assets service over frozen records: what a valid asset is, who may
buy, edit, archive or attach to it, which status an assessed asset gets, how a sale's
value is attributed, and the sagas' states. No gRPC, no SQL, no I/O here.

The repository loads and locks a row, then calls one of the `decide_*` functions
with the record; whatever the function raises aborts the transaction, whatever it
returns is written. So the rule lives here and the SQL in repository.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import orjson
from ipheron_libs import vocab, wire
from ipheron_libs.errors import Aborted, Conflict, FailedPrecondition, InvalidArgument, PermissionDenied
from ipheron_libs.prepared import PreparedTx as PreparedTx  # re-exported: the records of this domain hold it
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from assets_service.cid import InvalidCid, parse_cid

ASSET_TYPES = vocab.ASSET_TYPES

# Asset statuses.
PENDING = "pending"
PENDING_REVIEW = "pending_review"
ACTIVE = "active"
ARCHIVED = "archived"
FAILED = "failed"
STATUSES = (PENDING, PENDING_REVIEW, ACTIVE, ARCHIVED, FAILED)

# Saga kinds and states. A mint saga: assessing -> (held | minting) -> minted -> completed.
# A purchase saga: awaiting_payment -> submitted -> recorded (the chain's sale event) ->
# completed (creators credited), or -> failed (expired, reverted, or another buyer won).
# A sale made directly on the contract gets a purchase row in `recorded` (no idempotency key).
MINT, PURCHASE = "mint", "purchase"
ASSESSING, HELD, MINTING, MINTED = "assessing", "held", "minting", "minted"
AWAITING_PAYMENT, SUBMITTED, RECORDED = "awaiting_payment", "submitted", "recorded"
COMPLETED, SAGA_FAILED = "completed", "failed"
TERMINAL_STATES = (COMPLETED, SAGA_FAILED, HELD)
OPEN_PURCHASE_STATES = (AWAITING_PAYMENT, SUBMITTED)

# Listing states (a signed order's life cycle).
LISTING_ACTIVE, LISTING_CANCELLED, LISTING_SUPERSEDED = "active", "cancelled", "superseded"
LISTING_FILLED, LISTING_INVALID = "filled", "invalid"
LISTING_STATES = (LISTING_ACTIVE, LISTING_CANCELLED, LISTING_SUPERSEDED, LISTING_FILLED, LISTING_INVALID)
MAX_LISTING_SECONDS = 365 * 24 * 3600
MAX_ORDER_JSON = 4096
MAX_SIGNATURE_HEX = 2 + 2 * 1024

# How a failed purchase is recorded: the gRPC status name and the reason its client reads.
LOST_RACE = ("ABORTED", "another buyer bought it first")
# An offer not paid in time: DEADLINE_EXCEEDED is what happened (a deadline passed); the
# submit call answers it as ABORTED (HTTP 409), never as a gateway timeout.
OFFER_EXPIRED = ("DEADLINE_EXCEEDED", "the offer expired")

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
DEFAULT_REPUTATION = vocab.DEFAULT_REPUTATION
# Held back on a failed risk check, so it reads as a reason on the asset.
RISK_UNAVAILABLE = "risk assessment unavailable; the asset is held and the check is retried"

JsonObject = dict[str, Any]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"<[^>]*>")
_WALLET = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Actor:
    """The verified end user making a call."""

    user_id: str
    wallet: str


@dataclass(frozen=True)
class Creator:
    """A resolved co-creator: both identities known, and their share of 100."""

    user_id: str
    wallet: str
    share_percent: Decimal


@dataclass(frozen=True)
class Asset:
    """One catalog entry with its creators and attached files, as stored."""

    id: str
    name: str
    asset_type: str
    price: Decimal
    royalty_rate: Decimal
    status: str
    listed: bool
    metadata: JsonObject
    utility_features: tuple[str, ...]
    region: str
    ipfs_hash: str
    creator_user_id: str
    owner_user_id: str
    owner_wallet: str
    token_id: str = ""
    contract_address: str = ""
    mint_tx_hash: str = ""
    risk_score: int | None = None
    review_reasons: tuple[str, ...] = ()
    reserved_by: str | None = None
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    creators: tuple[Creator, ...] = ()
    file_cids: tuple[str, ...] = ()
    # The active signed listing (the asset is for sale under it), if any.
    listing: Listing | None = None

    @property
    def reserved(self) -> bool:
        """A purchase holds the asset right now."""
        return self.reserved_by is not None

    @property
    def description(self) -> str:
        """The free-text description in the metadata, if any (bounded)."""
        return str(self.metadata.get("description", ""))[:2000]


@dataclass(frozen=True)
class Listing:
    """One signed order for an asset (the EIP-712 message as the chain canonicalised it)."""

    id: str
    asset_id: str
    state: str
    order: JsonObject
    signature: str
    order_hash: str
    seller_wallet: str
    price: Decimal
    price_wei: int
    start_time: dt.datetime
    end_time: dt.datetime
    counter: int
    reason: str = ""
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def order_json(self) -> str:
        """The order as the JSON text the chain service takes."""
        return orjson.dumps(self.order).decode()

    def open_at(self, now: dt.datetime) -> bool:
        """Within its time window (the chain checks the same)."""
        return self.start_time <= now < self.end_time


@dataclass(frozen=True)
class VerifiedOrder:
    """What the chain says of a signed order (VerifyOrder)."""

    order_hash: str
    state: str  # the OrderState name without its prefix: "FILLABLE", "EXPIRED", ...
    reason: str
    owner: str
    token_id: str
    seller: str
    price_wei: int
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    order_json: str


@dataclass(frozen=True)
class InsufficientFunds:
    """The buyer's wallet cannot pay price + gas × maxFeePerGas (nothing is stored)."""

    required_wei: int
    available_wei: int
    shortfall_wei: int
    price_wei: int


@dataclass(frozen=True)
class ProvenanceEntry:
    """A mint, sale or transfer of an asset, with its chain transaction."""

    kind: str
    tx_hash: str
    block_number: int | None
    from_wallet: str | None
    to_wallet: str | None
    price: Decimal | None
    purchase_id: str | None
    occurred_at: dt.datetime | None


@dataclass(frozen=True)
class StoredFile:
    """An uploaded file's description (the content travels separately)."""

    cid: str
    size: int
    content_type: str
    filename: str
    sha256: str
    uploader_user_id: str
    created_at: dt.datetime | None


@dataclass(frozen=True)
class MintData:
    """What a mint saga has learned so far (its JSON column, typed)."""

    risk_score: int | None = None
    reasons: tuple[str, ...] = ()
    token_id: str = ""
    contract_address: str = ""
    tx_hash: str = ""
    block_number: int = 0
    auth_error: str = ""


@dataclass(frozen=True)
class PurchaseData:
    """What a purchase saga prepared and has learned so far (its JSON column, typed)."""

    price: Decimal
    seller_user_id: str
    seller_wallet: str
    token_id: str
    asset_type: str
    asset_version: int
    risk_score: int | None = None
    tx_hash: str = ""
    block_number: int = 0
    auth_error: str = ""
    price_wei: int = 0
    order_hash: str = ""
    listing_id: str = ""
    transaction: PreparedTx | None = None
    expires_at: dt.datetime | None = None
    # The chain.sale.recorded event that completed it (creators' credits are keyed by it).
    sale_event_id: str = ""


SagaData = MintData | PurchaseData


@dataclass(frozen=True)
class Saga:
    """One saga row: a resumable mint or purchase."""

    id: str
    kind: str
    asset_id: str
    actor_user_id: str
    actor_wallet: str
    idempotency_key: str | None
    state: str
    data: SagaData
    # The gRPC status name of the failure (the callee's, when a callee refused).
    error_code: str | None = None
    error: str | None = None
    retryable: bool = False
    attempts: int = 0
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def mint(self) -> MintData:
        """The typed data of a mint saga."""
        if not isinstance(self.data, MintData):
            raise TypeError(f"saga {self.id} is a {self.kind} saga, not a mint")
        return self.data

    @property
    def purchase(self) -> PurchaseData:
        """The typed data of a purchase saga."""
        if not isinstance(self.data, PurchaseData):
            raise TypeError(f"saga {self.id} is a {self.kind} saga, not a purchase")
        return self.data


@dataclass(frozen=True)
class PurchaseContext:
    """What a purchase request is decided on: the buyer's purchase under its key (a replay), the
    asset (None when unknown) and the asset's latest sales (the risk check's history)."""

    existing: Saga | None
    asset: Asset | None
    sales: tuple[ProvenanceEntry, ...]


@dataclass(frozen=True)
class Purchase:
    """A purchase as its buyer and seller see it."""

    id: str
    asset_id: str
    buyer_user_id: str
    buyer_wallet: str
    seller_user_id: str
    seller_wallet: str
    price: Decimal
    state: str
    tx_hash: str
    block_number: int
    failure_reason: str
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    transaction: PreparedTx | None = None
    expires_at: dt.datetime | None = None
    order_hash: str = ""
    failure_code: str = ""
    price_wei: int = 0


def purchase_of(saga: Saga) -> Purchase:
    """The purchase view of a purchase saga."""
    d = saga.purchase
    failed = saga.state == SAGA_FAILED
    return Purchase(
        id=saga.id, asset_id=saga.asset_id, buyer_user_id=saga.actor_user_id, buyer_wallet=saga.actor_wallet,
        seller_user_id=d.seller_user_id, seller_wallet=d.seller_wallet, price=d.price, state=saga.state,
        tx_hash=d.tx_hash, block_number=d.block_number, failure_reason=(saga.error or "") if failed else "",
        created_at=saga.created_at, updated_at=saga.updated_at, transaction=d.transaction, expires_at=d.expires_at,
        order_hash=d.order_hash, failure_code=(saga.error_code or "") if failed else "",
        price_wei=d.price_wei or to_wei(d.price))


@dataclass(frozen=True)
class AssetFilter:
    """ListAssets filters, sort and page."""

    asset_type: str | None = None
    status: str | None = None
    region: str | None = None
    creator: str | None = None
    owner: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    q: str | None = None
    # True: only assets under an active signed listing; False: only those not; None: both.
    for_sale: bool | None = None
    sort: str = "created"
    descending: bool = True
    page: int = 1
    per_page: int = 20
    # Keyset position (the last row of the previous page: its sort value and id); when set,
    # the page starts after it and `page` is not used for an offset.
    after: tuple[Any, str] | None = None


# Browsing at a million assets: an OFFSET costs a walk over every skipped row, and an exact
# count over a broad filter a walk over every match, on each page (measured at 1,000,000:
# offset 10,000 ~46 ms, counting 10,001 text matches ~100 ms). So offsets stop at
# MAX_OFFSET rows (deeper pages follow `next_cursor`, a keyset position, at the cost of one
# page whatever the depth), and totals are exact up to TOTAL_CAP; above it, or when the
# planner expects more than ESTIMATE_ONLY_ABOVE matches (then nothing is counted), they are
# the planner's estimate, flagged as estimated.
MAX_OFFSET = 1_000
TOTAL_CAP = 1_000
ESTIMATE_ONLY_ABOVE = 4 * TOTAL_CAP
SORT_FIELDS = ("created", "price", "name")


@dataclass(frozen=True)
class AssetPage:
    """One page of ListAssets: the assets, the total (exact, or estimated above TOTAL_CAP),
    and the cursor of the next page ("" on the last one)."""

    assets: list[Asset]
    total: int
    total_estimated: bool = False
    next_cursor: str = ""


def check_offset(page: int, per_page: int) -> None:
    """Refuse a page whose offset would pass MAX_OFFSET rows (follow next_cursor instead)."""
    if (page - 1) * per_page > MAX_OFFSET:
        raise InvalidArgument(f"page x per_page reaches past row {MAX_OFFSET}: follow next_cursor for deeper pages",
                              field="page")


def encode_cursor(sort: str, descending: bool, value: Any, row_id: str) -> str:
    """An opaque keyset cursor: the sort it belongs to and the last row's (value, id)."""
    if isinstance(value, dt.datetime):
        raw = value.isoformat()
    elif isinstance(value, Decimal):
        raw = wire.money_str(value)
    else:
        raw = str(value)
    doc = orjson.dumps([sort, "d" if descending else "a", raw, row_id])
    return base64.urlsafe_b64encode(doc).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[Any, str]:
    """The (sort value, id) a cursor of this sort and direction carries; InvalidArgument otherwise."""
    bad = InvalidArgument("cursor is not a next_cursor of this sort and direction", field="cursor")
    if len(cursor) > 1024:
        raise bad
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        c_sort, c_dir, raw, row_id = doc
        if c_sort != sort or c_dir != ("d" if descending else "a") or not isinstance(raw, str):
            raise bad
        row_id = str(uuid.UUID(row_id))
        value: Any
        if sort == "created":
            value = dt.datetime.fromisoformat(raw)
            if value.tzinfo is None:
                raise bad
        elif sort == "price":
            value = Decimal(raw)
            if not value.is_finite():
                raise bad
        else:
            value = raw
    except (ValueError, TypeError, InvalidOperation, orjson.JSONDecodeError, AttributeError) as exc:
        raise bad from exc
    return value, row_id


@dataclass(frozen=True)
class Edit:
    """An owner's change of an asset: only the fields that are not None change."""

    price: Decimal | None = None
    listed: bool | None = None
    metadata: JsonObject | None = None
    changed: tuple[str, ...] = ()


# ---------------------------------------------------------------- validation


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


def refuse_nul(value: str, field: str) -> str:
    """Text the service keeps as given (ids, keys, filters, CIDs) cannot hold a NUL
    character: PostgreSQL text refuses it. (Free text is cleaned by `sanitize_text` instead.)"""
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain a NUL character", field=field)
    return value


def parse_decimal(value: str | Decimal, field: str, *, max_places: int) -> Decimal:
    """A finite decimal with at most `max_places` fractional digits."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidArgument(f"{field} must be a decimal number", field=field) from None
    if not number.is_finite():
        raise InvalidArgument(f"{field} must be a finite decimal", field=field)
    exponent = number.as_tuple().exponent
    too_fine = isinstance(exponent, int) and -exponent > max_places
    if too_fine and number != number.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_DOWN):
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
    """ETH decimal to integer wei, exactly (`ipheron_libs.wire.to_wei`)."""
    return wire.to_wei(eth)


def format_eth(value: Decimal) -> str:
    """Canonical decimal string without exponent or trailing zeros ("1.5", "2")."""
    return wire.money_str(value)


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
        if isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**64:
            # JSON readers (ours included) hold integers in 64 bits.
            raise InvalidArgument("metadata integers must fit in 64 bits", field="metadata")
        return node

    cleaned: dict[str, Any] = clean(metadata, 1)
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
            raise InvalidArgument(f"field {p!r} is not writable (writable: price, listed, metadata)",
                                  field="update_mask")
    return sorted(set(normalised))


def parse_edit(paths: list[str], price: str, listed: bool, metadata_json: str) -> Edit:
    """The requested change from a field mask and the wire values (each one checked)."""
    fields = check_update_mask(paths)
    return Edit(
        price=check_price(price) if "price" in fields else None,
        listed=bool(listed) if "listed" in fields else None,
        metadata=parse_metadata_json(metadata_json or "{}") if "metadata_json" in fields else None,
        changed=tuple(sorted("metadata" if f == "metadata_json" else f for f in fields)))


# ---------------------------------------------------------------- who may do what


def require_owner(asset: Asset, actor: Actor, action: str = "change") -> None:
    """Only the asset's owner may `action` it."""
    if asset.owner_user_id != actor.user_id:
        raise PermissionDenied(f"only the owner can {action} this asset")


def require_editable(asset: Asset, actor: Actor, action: str = "change") -> None:
    """The one check before any owner change: the owner, and the asset not archived."""
    require_owner(asset, actor, action)
    if asset.status == ARCHIVED:
        raise FailedPrecondition("an archived asset cannot be changed")


LIST_BY_SIGNING = ("list by signing an order: GET /api/v1/assets/{id}/listing/typed-data?price=…, "
                   "sign it, then PUT /api/v1/assets/{id}/listing")


def decide_edit(asset: Asset, actor: Actor, edit: Edit) -> Edit:
    """An owner edit. Listing is by signature only, so "listed" is refused; the asking price
    may change only while the asset is not listed (a listed asset's price is its signed order's)."""
    require_editable(asset, actor)
    if edit.listed is not None:
        raise FailedPrecondition(LIST_BY_SIGNING)
    if edit.price is not None and asset.listed:
        raise FailedPrecondition("the asset is listed at its signed order's price; to change it, sign a new "
                                 "order (GET …/listing/typed-data then PUT …/listing)")
    return edit


def decide_archive(asset: Asset, actor: Actor) -> bool:
    """Whether archiving changes anything (archiving twice is a no-op); its listing is cancelled with it."""
    require_owner(asset, actor, "archive")
    return asset.status != ARCHIVED


def decide_attach(asset: Asset, actor: Actor) -> None:
    """Only the owner attaches files, and not to an archived asset."""
    require_editable(asset, actor, "attach files to")


def require_listable(asset: Asset, actor: Actor) -> None:
    """Only the owner lists, and only an active, minted asset (409 otherwise: the asset's state,
    not the request, is what is wrong)."""
    require_owner(asset, actor, "list")
    if asset.status != ACTIVE or not asset.token_id:
        raise Aborted(f"asset is {asset.status}{'' if asset.token_id else ' and not minted'}; "
                      "only an active, minted asset can be listed")


def check_duration(seconds: int) -> int:
    """A listing lasts 0 (the default, 30 days) .. 365 days."""
    if not 0 <= seconds <= MAX_LISTING_SECONDS:
        raise InvalidArgument(f"duration_seconds must be 0..{MAX_LISTING_SECONDS}", field="duration_seconds")
    return seconds


def check_order_json(text: str) -> JsonObject:
    """A signed order as given: a bounded JSON object."""
    if not text or len(text) > MAX_ORDER_JSON:
        raise InvalidArgument(f"order must be a JSON object of at most {MAX_ORDER_JSON} bytes", field="order")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidArgument("order must be valid JSON", field="order") from None
    if not isinstance(value, dict):
        raise InvalidArgument("order must be a JSON object (the typed data's message)", field="order")
    return value


_HEX = re.compile(r"^0x[0-9a-fA-F]*$")
_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


def check_signature(value: str) -> str:
    """A 0x-hex signature (65 bytes for a wallet key; any length for a contract wallet)."""
    if not _HEX.match(value or "") or len(value) < 4 or len(value) > MAX_SIGNATURE_HEX or len(value) % 2:
        raise InvalidArgument("signature must be 0x-prefixed hex bytes", field="signature")
    return value.lower()


def check_tx_hash(value: str) -> str:
    if not _TX_HASH.match(value or ""):
        raise InvalidArgument("tx_hash must be a 0x-prefixed 32-byte hex hash", field="tx_hash")
    return value.lower()


def check_raw_transaction(value: str) -> str:
    if not _HEX.match(value or "") or len(value) < 4 or len(value) % 2 or len(value) > 2 + 2 * 128 * 1024:
        raise InvalidArgument("raw_transaction must be 0x-prefixed hex bytes", field="raw_transaction")
    return value.lower()


def listing_of(asset: Asset, v: VerifiedOrder, signature: str, *, listing_id: str, now: dt.datetime) -> Listing:
    """The listing a verified order makes, or why it cannot be one: the order must be for this
    asset's token and signed by its owner's wallet (PERMISSION_DENIED), with a valid signature
    (INVALID_ARGUMENT) and fillable now (409 with the chain's reason)."""
    if v.token_id != asset.token_id:
        raise PermissionDenied(f"the order is for token {v.token_id}, not this asset's token {asset.token_id}")
    if v.seller.lower() != asset.owner_wallet.lower():
        raise PermissionDenied("the order's seller is not the asset's owner")
    if v.state == "INVALID_SIGNATURE":
        raise InvalidArgument(f"the order's signature is not valid: {v.reason or 'not signed by the seller'}",
                              field="signature")
    if v.state != "FILLABLE":
        raise Conflict(f"the order cannot be filled: {v.reason or v.state.lower()}")
    order = orjson.loads(v.order_json)
    if v.start_time is None or v.end_time is None or v.price_wei <= 0:
        raise InvalidArgument("the order lacks a price or time window", field="order")
    price = wire.from_wei(v.price_wei)
    if price > MAX_PRICE:
        raise InvalidArgument(f"price must be at most {MAX_PRICE} ETH", field="order")
    return Listing(id=listing_id, asset_id=asset.id, state=LISTING_ACTIVE, order=order, signature=signature,
                   order_hash=v.order_hash.lower(), seller_wallet=v.seller.lower(), price=price,
                   price_wei=v.price_wei, start_time=v.start_time, end_time=v.end_time,
                   counter=int(str(order.get("counter", "0"))), created_at=now, updated_at=now)


def decide_purchase(asset: Asset, buyer: Actor, max_price: Decimal | None, now: dt.datetime) -> Listing:
    """Who may buy: not the owner; only an active asset under an active signed listing in its
    window; at most at the buyer's `max_price`. Returns the listing to fill. Every refusal is
    409 (the asset's state, not the request, is wrong) except the price bound (400)."""
    if asset.status != ACTIVE:
        raise Aborted(f"asset is {asset.status}, not for sale")
    listing = asset.listing
    if listing is None or listing.state != LISTING_ACTIVE:
        raise Aborted("asset is not for sale (no active signed listing)")
    if asset.owner_user_id == buyer.user_id or asset.owner_wallet.lower() == buyer.wallet.lower():
        raise Aborted("you already own this asset")
    if not listing.open_at(now):
        raise Aborted("asset is not for sale: its listing is " + ("not open yet" if now < listing.start_time
                                                                  else "expired"))
    if max_price is not None and listing.price > max_price:
        raise FailedPrecondition(f"the price is {format_eth(listing.price)} ETH, above your max_price")
    return listing


def purchase_data(asset: Asset, listing: Listing, prepared: PreparedTx, *, expires_at: dt.datetime,
                  risk_score: int | None) -> PurchaseData:
    """What a prepared purchase stores: the order it fills and the transaction the buyer signs."""
    return PurchaseData(price=listing.price, seller_user_id=asset.owner_user_id, seller_wallet=asset.owner_wallet,
                        token_id=asset.token_id, asset_type=asset.asset_type, asset_version=asset.version,
                        risk_score=risk_score, price_wei=listing.price_wei, order_hash=listing.order_hash,
                        listing_id=listing.id, transaction=prepared, expires_at=expires_at)


def check_replay(saga: Saga, asset_id: str, asset: Asset | None = None) -> Saga:
    """A replayed Idempotency-Key must name the asset it was first used for, and an archived
    asset is not for sale however the request is keyed: the replay is refused like a new
    purchase (its earlier purchase stays readable through GetPurchase)."""
    if saga.asset_id != asset_id:
        raise InvalidArgument("this Idempotency-Key was already used for another asset", field="idempotency_key")
    if asset is not None and asset.status == ARCHIVED:
        raise Aborted(f"asset is archived, not for sale (purchase {saga.id} stays readable)")
    return saga


def expired(saga: Saga, now: dt.datetime) -> bool:
    """An offer still awaiting payment after its deadline."""
    d = saga.purchase
    return saga.state == AWAITING_PAYMENT and d.expires_at is not None and now >= d.expires_at


def purchase_visible(saga: Saga, user_id: str, asset_id: str = "") -> bool:
    """Whether `user_id` may see the purchase: only its buyer or seller; and, when `asset_id` is
    given (the path it was asked under), only as a purchase of that asset."""
    if asset_id and saga.asset_id != asset_id:
        return False
    return user_id in (saga.actor_user_id, saga.purchase.seller_user_id)


def decide_submit(saga: Saga, actor: Actor, tx_hash: str, now: dt.datetime) -> bool:
    """Whether a handed-in transaction should be sent on (True) or the purchase answered as it is
    (False: the same transaction was handed in before). Only the buyer submits; a failed or
    expired purchase is 409 with its reason; another transaction for a submitted one is 409."""
    if saga.actor_user_id != actor.user_id:
        raise PermissionDenied("this is not your purchase")
    d = saga.purchase
    if saga.state == SAGA_FAILED:
        raise Aborted(f"the purchase failed: {saga.error or 'failed'}")
    if saga.state == AWAITING_PAYMENT:
        if expired(saga, now):
            raise Aborted(OFFER_EXPIRED[1])
        return True
    if tx_hash and d.tx_hash and tx_hash.lower() == d.tx_hash.lower():
        return False
    raise Aborted(f"the purchase is already {saga.state} with transaction {d.tx_hash or '(recorded by the chain)'}")


def failure_of(error: str) -> tuple[str, str]:
    """How a reverted purchase transaction is recorded: the buyer who lost the race is ABORTED."""
    if "OrderAlreadyFilled" in error or "AlreadyFilled" in error:
        return LOST_RACE
    return "FAILED_PRECONDITION", f"the purchase transaction failed: {error or 'reverted'}"


# ---------------------------------------------------------------- risk


def risk_blocks(score: int, high: bool, threshold: int) -> bool:
    """True when a risk assessment holds an asset for review (or refuses a purchase)."""
    return high or score >= threshold


@dataclass(frozen=True)
class Assessment:
    """What an asset's risk check decides: its status, the mint saga's next state, and why."""

    score: int | None
    reasons: tuple[str, ...]
    status: str
    next_state: str

    @property
    def flagged(self) -> bool:
        """The asset is held for review (a high score, or no answer yet)."""
        return self.status == PENDING_REVIEW


def assess(score: int | None, high: bool, reasons: tuple[str, ...], threshold: int) -> Assessment:
    """Which status an assessed asset gets. No answer (`score` None): held for review and
    the check retried; a high score: held with the reasons; otherwise on to minting."""
    if score is None:
        return Assessment(None, (RISK_UNAVAILABLE,), PENDING_REVIEW, ASSESSING)
    if risk_blocks(score, high, threshold):
        return Assessment(score, reasons, PENDING_REVIEW, HELD)
    return Assessment(score, (), PENDING, MINTING)


def creator_attribution(price: Decimal, shares: list[Decimal]) -> list[Decimal]:
    """Each creator's share of a sale's value, rounded down to 6 decimals.

    This is what we add to each creator's total_sales in auth: their attributed
    sales volume, proportional to their share. Auth keeps totals at 6 decimals.
    """
    quantum = Decimal(1).scaleb(-6)
    return [(price * s / 100).quantize(quantum, rounding=ROUND_DOWN) for s in shares]


def wallet_age_days(created_at: dt.datetime | None, now: dt.datetime) -> int:
    """Days since the user registered (-1 when unknown)."""
    if created_at is None:
        return -1
    return max(0, (now - created_at).days)


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


# ---------------------------------------------------------------- chain events


@dataclass(frozen=True)
class ChainSale:
    """A `chain.sale.recorded` event: the marketplace sold a token (MarketplaceV2 Sold)."""

    event_id: str
    asset_id: str | None
    token_id: str
    seller: str
    buyer: str
    price_wei: int
    order_hash: str | None
    tx_hash: str
    block_number: int

    @property
    def price(self) -> Decimal:
        return wire.from_wei(self.price_wei)


@dataclass(frozen=True)
class ChainTransfer:
    """A `chain.transfer` event (ERC-721 Transfer)."""

    event_id: str
    asset_id: str | None
    token_id: str
    from_wallet: str
    to_wallet: str
    kind: str
    tx_hash: str
    block_number: int


def sale_purchase(open_purchases: Sequence[Saga], sale: ChainSale) -> Saga | None:
    """The open purchase a sale completes: the one of its transaction, else the buyer's offer of
    the order (a submitted one before one still awaiting payment, then the oldest)."""
    mine = [s for s in open_purchases
            if s.purchase.tx_hash == sale.tx_hash or (sale.order_hash and s.purchase.order_hash == sale.order_hash
                                                       and s.actor_wallet.lower() == sale.buyer)]
    if not mine:
        return None
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return min(mine, key=lambda s: (s.purchase.tx_hash != sale.tx_hash, s.state != SUBMITTED,
                                    s.created_at or oldest))


def sale_of(event_id: str, p: JsonObject) -> ChainSale:
    """The typed sale from a (schema-checked) payload; addresses lower-case."""
    return ChainSale(event_id=event_id, asset_id=p.get("asset_id"), token_id=str(p["token_id"]),
                     seller=str(p["seller"]).lower(), buyer=str(p["buyer"]).lower(), price_wei=int(p["price_wei"]),
                     order_hash=str(p["order_hash"]).lower() if p.get("order_hash") else None,
                     tx_hash=str(p["tx_hash"]).lower(), block_number=int(p["block_number"]))


def transfer_of(event_id: str, p: JsonObject) -> ChainTransfer:
    return ChainTransfer(event_id=event_id, asset_id=p.get("asset_id"), token_id=str(p["token_id"]),
                         from_wallet=str(p["from"]).lower(), to_wallet=str(p["to"]).lower(), kind=str(p["kind"]),
                         tx_hash=str(p["tx_hash"]).lower(), block_number=int(p["block_number"]))


def event_user_id(user_id: str, wallet: str) -> str:
    """The user id an event names: the user's, or (someone who never signed in here, e.g. a buyer
    straight on the contract) the wallet address itself, so the event stays readable."""
    return user_id or wallet.lower()
