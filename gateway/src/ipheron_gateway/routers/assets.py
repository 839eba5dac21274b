"""Asset routes: register, browse, read, edit, archive, signed listings, purchase, provenance,
price suggestion.

The body is validated here first (shape, sizes, enums; the assets service checks
everything again, plus the CID, the creators in auth and the duplicates). Money is
a decimal string in and out: a JSON number is refused, never rounded. The caller's
identity comes from the verified token only.

An asset is for sale only under an order its owner signed (EIP-712, MarketplaceV2):
GET .../listing/typed-data answers the document to sign, PUT .../listing hands in the
signature. A purchase answers the transaction the buyer's own wallet signs and pays
(402 when the wallet cannot); POST .../purchases/{id}/transaction hands it back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

import grpc
import orjson
from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.routing import APIRoute
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as ai_pb
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.common.v1 import common_pb2
from ipheron_libs.vocab import ASSET_TYPES, DEFAULT_REPUTATION
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ipheron_gateway import catalog_cache, live
from ipheron_gateway.bounds import METADATA_DESCRIPTION, Page, PathId, PerPage, check_metadata
from ipheron_gateway.deps import CurrentUser, IdempotencyKey, Stubs, User
from ipheron_gateway.prepared import Tx, eth, opt_tx_out
from ipheron_gateway.problems import UPSTREAM, Problem, precondition_as, problem_responses
from ipheron_gateway.responses import fast_json, opt_stamp, stamp
from ipheron_gateway.routers.ai import RuleOut

MAX_OFFSET = 1_000  # the assets service's bound on page x per_page (assets_service.domain.MAX_OFFSET)
TOTAL_CAP = 1_000  # exact totals up to this many matches (assets_service.domain.TOTAL_CAP)


class CatalogCachedRoute(APIRoute):
    """A GET route answered from the catalog cache before FastAPI validates its parameters
    (14 query parameters cost ~40 % of a cached page's CPU in the profile): a body is stored
    under the raw query only after that very query was validated and answered, so a hit is
    a query known valid. A miss runs the route as usual."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            cache = catalog_cache.of(request.app.state)
            if cache is not None:
                asset_id = request.scope.get("path_params", {}).get("asset_id")
                body = cache.detail(asset_id) if asset_id is not None else cache.page(_raw_key(request))
                if body is not None:
                    return Response(body, media_type="application/json")
            return await handler(request)

        return route


def _raw_key(request: Request) -> tuple[str, bytes]:
    return ("raw", request.scope.get("query_string", b""))


router = APIRouter(prefix="/assets", tags=["assets"])


def _cached_get(path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`@router.get(path, ...)`, the route answered from the catalog cache first (CatalogCachedRoute)."""
    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(path, endpoint, methods=["GET"], route_class_override=CatalogCachedRoute, **kwargs)
        return endpoint
    return register

AssetType = StrEnum("AssetType", [(t.upper(), t) for t in ASSET_TYPES])  # type: ignore[misc]
AssetStatus = Literal["pending", "pending_review", "active", "archived", "failed"]
_TYPE_PB = {t: getattr(pb, f"ASSET_TYPE_{t.upper()}") for t in ASSET_TYPES}
_TYPE_NAME = {v: k for k, v in _TYPE_PB.items()}
_STATUS_PB = {s: getattr(pb, f"ASSET_STATUS_{s.upper()}") for s in AssetStatus.__args__}  # type: ignore[attr-defined]
_STATUS_NAME = {v: k for k, v in _STATUS_PB.items()}
PurchaseState = Literal["awaiting_payment", "submitted", "completed", "failed"]
# The platform-paid saga's states (before issue 10) read as the buyer-paid ones they match:
# reserved = not paid yet, buying/bought = paid, the sale not yet recorded.
_PURCHASE_STATE: dict[int, PurchaseState] = {
    pb.PURCHASE_STATE_AWAITING_PAYMENT: "awaiting_payment", pb.PURCHASE_STATE_SUBMITTED: "submitted",
    pb.PURCHASE_STATE_COMPLETED: "completed", pb.PURCHASE_STATE_FAILED: "failed",
    pb.PURCHASE_STATE_RESERVED: "awaiting_payment", pb.PURCHASE_STATE_BUYING: "submitted",
    pb.PURCHASE_STATE_BOUGHT: "submitted"}
_OPEN_PURCHASE = frozenset({"awaiting_payment", "submitted"})  # what `Prefer: wait` waits out
ListingState = Literal["active", "cancelled", "superseded", "filled", "invalid"]
_LISTING_STATE: dict[int, ListingState] = {
    pb.LISTING_STATE_ACTIVE: "active", pb.LISTING_STATE_CANCELLED: "cancelled",
    pb.LISTING_STATE_SUPERSEDED: "superseded", pb.LISTING_STATE_FILLED: "filled",
    pb.LISTING_STATE_INVALID: "invalid"}
_PROVENANCE_KIND = {pb.PROVENANCE_KIND_MINT: "mint", pb.PROVENANCE_KIND_SALE: "sale",
                    pb.PROVENANCE_KIND_TRANSFER: "transfer"}
_SORT = {"created": pb.ASSET_SORT_FIELD_CREATED, "price": pb.ASSET_SORT_FIELD_PRICE, "name": pb.ASSET_SORT_FIELD_NAME}

ETH_PATTERN = r"^\d{1,7}(\.\d{1,18})?$"
ETH_DESCRIPTION = 'ETH decimal string, e.g. "1.5": up to 7 integer digits and 18 decimals'
EthAmount = Annotated[str, Field(pattern=ETH_PATTERN, max_length=26, examples=["1.5"], description=ETH_DESCRIPTION)]
Percent = Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,2})?$", max_length=6,
                               description='percent decimal string, e.g. "33.33": up to 3 digits and 2 decimals')]
Wallet = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class CreatorIn(BaseModel):
    """A co-creator: a user id or a wallet, and a share of the royalty."""

    model_config = ConfigDict(extra="forbid")
    user_id: str | None = Field(default=None, max_length=64)
    wallet: Wallet | None = None
    share_percent: Percent

    @model_validator(mode="after")
    def _identified(self) -> CreatorIn:
        if not self.user_id and not self.wallet:
            raise ValueError("each creator needs a user_id or a wallet")
        return self


class AssetCreate(BaseModel):
    """A new asset. The creators' shares sum to exactly 100 and include you; each creator once."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    asset_type: AssetType
    price: EthAmount
    royalty_rate: Percent = Field(default="10", description="percent paid to the co-creators on each sale, 0..50")
    metadata: dict[str, Any] = Field(default_factory=dict, description=METADATA_DESCRIPTION)
    utility_features: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list,
                                                                                        max_length=20)
    region: str = Field(default="Global", min_length=1, max_length=100)
    creators: list[CreatorIn] = Field(min_length=1, max_length=10,
                                      description="1..10 distinct creators, each share in (0, 100], summing to 100")
    ipfs_hash: str = Field(min_length=46, max_length=200, pattern=r"^[A-Za-z0-9]+$", description="IPFS CID v0 or v1")

    # Field validators (not one model validator) so a 422 names the field in errors[].field.
    @field_validator("price")
    @classmethod
    def _positive_price(cls, v: str) -> str:
        if Decimal(v) <= 0:
            raise ValueError("price must be greater than 0")
        return v

    @field_validator("royalty_rate")
    @classmethod
    def _royalty_range(cls, v: str) -> str:
        if not Decimal(0) <= Decimal(v) <= Decimal(50):
            raise ValueError("royalty_rate must be between 0 and 50")
        return v

    @field_validator("creators")
    @classmethod
    def _shares_sum_to_100(cls, v: list[CreatorIn]) -> list[CreatorIn]:
        if any(not 0 < Decimal(c.share_percent) <= 100 for c in v):
            raise ValueError("each creator's share must be greater than 0 and at most 100")
        if sum(Decimal(c.share_percent) for c in v) != 100:
            raise ValueError("creator shares must sum to exactly 100")
        ids = [c.user_id for c in v if c.user_id]
        wallets = [c.wallet.lower() for c in v if c.wallet]
        if len(set(ids)) != len(ids) or len(set(wallets)) != len(wallets):
            raise ValueError("each creator may be listed only once")
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata_bounds(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_metadata(v)


class AssetPatch(BaseModel):
    """Owner-only edit of the asking price (shown while not listed) or the metadata; anything else is
    refused. "listed" is not writable: an asset is put on sale only by its owner's signed order
    (PUT /api/v1/assets/{id}/listing) and taken off by DELETE of that listing."""

    model_config = ConfigDict(extra="forbid")
    price: EthAmount | None = Field(default=None, description="the asking price shown while the asset is not listed")
    metadata: dict[str, Any] | None = Field(default=None, description=METADATA_DESCRIPTION)

    @field_validator("metadata")
    @classmethod
    def _metadata_bounds(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else check_metadata(v)


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_price: EthAmount | None = Field(default=None, description="refuse if the current price is above this")


UINT256_MAX = 2**256 - 1
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="0x-prefixed 20-byte address")]
# Each below 2^256 (checked exactly by the validator: a JSON-schema maximum would be a float).
Uint256 = Annotated[str, Field(pattern=r"^[0-9]{1,78}$", description="a uint256 as a decimal string")] | Annotated[
    int, Field(ge=0, description="a uint256 as a JSON integer")]


class OrderMessageIn(BaseModel):
    """The EIP-712 "message" of GET .../listing/typed-data, as signed (numbers as decimal strings
    or integers, each a uint256)."""

    model_config = ConfigDict(extra="forbid")
    token: Address
    tokenId: Uint256
    seller: Address
    price: Uint256 = Field(description="wei")
    currency: Address = Field(description="the zero address: native ETH")
    counter: Uint256
    salt: Uint256
    startTime: Uint256 = Field(description="unix seconds")
    endTime: Uint256 = Field(description="unix seconds")

    @field_validator("tokenId", "price", "counter", "salt", "startTime", "endTime")
    @classmethod
    def _uint256(cls, v: str | int) -> str:
        if int(v) > UINT256_MAX:
            raise ValueError("must fit in a uint256")
        return str(int(v))  # canonical decimal string, as the typed data carries it


class ListingIn(BaseModel):
    """A signed listing: the order message unchanged and the owner's signature of the typed data."""

    model_config = ConfigDict(extra="forbid")
    order: OrderMessageIn
    signature: str = Field(pattern=r"^0x(?:[0-9a-fA-F]{2})+$", max_length=2 + 2 * 4096,
                           description="0x-prefixed hex: 65 bytes r|s|v for a wallet key, or an EIP-1271 "
                                       "contract wallet's signature (at most 4 KiB)")


HexTx = Annotated[str, Field(pattern=r"^0x(?:[0-9a-fA-F]{2})+$", max_length=2 + 2 * 8192,
                             description="0x-prefixed signed raw EIP-1559 transaction, an even number of hex "
                                         "digits, at most 8 KiB")]
TxHashIn = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="0x-prefixed 32-byte transaction hash")]


class PaymentIn(BaseModel):
    """Exactly one of: the signed raw transaction (the service checks it is the prepared call and
    broadcasts it) or the hash of one your wallet broadcast itself."""

    model_config = ConfigDict(extra="forbid")
    raw_transaction: HexTx | None = None
    tx_hash: TxHashIn | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PaymentIn:
        if (self.raw_transaction is None) == (self.tx_hash is None):
            raise ValueError("send exactly one of raw_transaction or tx_hash")
        return self


class OrderMessage(BaseModel):
    """A MarketplaceV2 order as signed (EIP-712 message; numbers as decimal strings)."""

    token: str
    tokenId: str
    seller: str
    price: str = Field(description="wei")
    currency: str
    counter: str
    salt: str
    startTime: str
    endTime: str


class TypedDataField(BaseModel):
    name: str
    type: str


class TypedData(BaseModel):
    """An EIP-712 document in eth_signTypedData_v4 form, to be signed unchanged."""

    types: dict[str, list[TypedDataField]]
    primaryType: str
    domain: dict[str, Any]
    message: OrderMessage


class TypedDataOut(BaseModel):
    typed_data: TypedData


class ListingOut(BaseModel):
    """A signed order for an asset (for sale while state is active)."""

    asset_id: str
    state: ListingState
    order: OrderMessage
    signature: str
    order_hash: str
    seller_wallet: str
    price: str = Field(description="ETH decimal")
    price_wei: str
    start_time: str
    end_time: str
    created_at: str
    reason: str | None = Field(description="why it is no longer active")


class ListingEnvelope(BaseModel):
    listing: ListingOut


class ListingWriteOut(BaseModel):
    """The stored listing, and the seller's own cancel transaction for the order it replaced or
    cancelled (sign and send it to make that order unfillable on chain for good)."""

    listing: ListingOut
    cancel_transaction: Tx | None


class CreatorOut(BaseModel):
    user_id: str
    wallet: str
    share_percent: str


class AssetOut(BaseModel):
    id: str
    name: str
    asset_type: AssetType
    price: str
    currency: str
    royalty_rate: str
    status: AssetStatus
    listed: bool = Field(description="for sale: under an active listing its owner signed (see `listing`)")
    metadata: dict[str, Any]
    utility_features: list[str]
    region: str
    creators: list[CreatorOut]
    owner_user_id: str
    owner_wallet: str
    ipfs_hash: str
    token_id: str | None
    contract_address: str | None
    mint_tx_hash: str | None
    review_reasons: list[str]
    risk_score: int | None
    reserved: bool
    version: int
    file_cids: list[str] = Field(default_factory=list, description="attached files (GET /files/{cid})")
    listing: ListingOut | None = Field(default=None, description="the active signed listing, when for sale")
    created_at: str
    updated_at: str


class AssetPage(BaseModel):
    items: list[AssetOut]
    page: int
    per_page: int
    total: int = Field(description=f"matching assets: exact up to {TOTAL_CAP:,}; above that, or when the "
                                   "database expects far more, its planner's estimate, and total_estimated is true")
    total_estimated: bool = Field(default=False, description="true when total is an estimate")
    next_cursor: str | None = Field(default=None, description="pass as `cursor` for the next page (same filters "
                                                              "and sort); null on the last page")


class PurchaseOut(BaseModel):
    """A purchase: awaiting_payment (sign and hand in `transaction` before `expires_at`) ->
    submitted (on its way) -> completed (the chain recorded the sale) | failed."""

    id: str
    asset_id: str
    state: PurchaseState
    buyer_user_id: str
    buyer_wallet: str
    seller_user_id: str
    seller_wallet: str
    price: str
    price_wei: str | None
    currency: str
    order_hash: str | None = Field(description="the signed order being filled")
    transaction: Tx | None = Field(description="what the buyer's wallet signs and pays (value = the price)")
    expires_at: str | None = Field(description="the prepared offer lapses then unless handed in")
    tx_hash: str | None
    block_number: int | None
    failure_reason: str | None
    failure_code: str | None = Field(description='e.g. "ABORTED" when another buyer filled the order first')
    replayed: bool
    created_at: str
    updated_at: str


class ProvenanceEntryOut(BaseModel):
    kind: Literal["mint", "sale", "transfer"]
    tx_hash: str
    block_number: int
    from_wallet: str
    to_wallet: str
    price: str | None
    purchase_id: str | None
    occurred_at: str


class ProvenanceOut(BaseModel):
    asset_id: str
    entries: list[ProvenanceEntryOut]


class PriceSuggestionOut(BaseModel):
    asset_id: str
    current_price: str
    suggested: str
    low: str
    high: str
    currency: str
    rules: list[RuleOut]
    market_source: str


def _actor(user: User) -> pb.Actor:
    return pb.Actor(user_id=user.id, wallet=(user.wallet or "").lower())


def _wallet_actor(user: User, action: str) -> pb.Actor:
    if not user.wallet:
        raise Problem(400, f"your token carries no wallet; sign in with your wallet to {action}")
    return _actor(user)


def listing_out(x: pb.Listing) -> dict[str, Any]:
    """Wire listing -> JSON (the order's numbers as decimal strings, as signed)."""
    order = orjson.loads(x.order_json or "{}")
    return {
        "asset_id": x.asset_id, "state": _LISTING_STATE.get(x.state, "invalid"),
        "order": {k: str(v) for k, v in order.items()} if isinstance(order, dict) else {},
        "signature": x.signature, "order_hash": x.order_hash, "seller_wallet": x.seller_wallet,
        "price": x.price.amount, "price_wei": x.price_wei, "start_time": stamp(x.start_time),
        "end_time": stamp(x.end_time), "created_at": stamp(x.created_at), "reason": x.reason or None,
    }


def asset_out(a: pb.Asset) -> dict[str, Any]:
    """Wire asset -> JSON."""
    return {
        "id": a.id, "name": a.name, "asset_type": _TYPE_NAME[a.asset_type], "price": a.price.amount,
        "currency": a.price.currency, "royalty_rate": a.royalty_rate, "status": _STATUS_NAME[a.status],
        "listed": a.listed, "metadata": orjson.loads(a.metadata_json or "{}"),
        "utility_features": list(a.utility_features), "region": a.region,
        "creators": [{"user_id": c.user_id, "wallet": c.wallet, "share_percent": c.share_percent} for c in a.creators],
        "owner_user_id": a.owner_user_id, "owner_wallet": a.owner_wallet, "ipfs_hash": a.ipfs_hash,
        "token_id": a.token_id or None, "contract_address": a.contract_address or None,
        "mint_tx_hash": a.mint_tx_hash or None, "review_reasons": list(a.review_reasons),
        "risk_score": a.risk_score if a.risk_score >= 0 else None, "reserved": a.reserved, "version": a.version,
        "file_cids": list(a.file_cids),
        "listing": listing_out(a.listing) if a.HasField("listing") else None,
        "created_at": stamp(a.created_at), "updated_at": stamp(a.updated_at),
    }


def purchase_out(p: pb.Purchase, replayed: bool = False) -> dict[str, Any]:
    return {
        "id": p.id, "asset_id": p.asset_id, "state": _PURCHASE_STATE.get(p.state, "failed"),
        "buyer_user_id": p.buyer_user_id, "buyer_wallet": p.buyer_wallet, "seller_user_id": p.seller_user_id,
        "seller_wallet": p.seller_wallet, "price": p.price.amount, "price_wei": p.price_wei or None,
        "currency": p.price.currency or "ETH", "order_hash": p.order_hash or None,
        "transaction": opt_tx_out(p, "transaction"), "expires_at": opt_stamp(p, "expires_at"),
        "tx_hash": p.tx_hash or None, "block_number": p.block_number or None,
        "failure_reason": p.failure_reason or None, "failure_code": p.failure_code or None, "replayed": replayed,
        "created_at": stamp(p.created_at), "updated_at": stamp(p.updated_at),
    }


@router.post("", response_model=AssetOut, status_code=status.HTTP_201_CREATED,
             responses=problem_responses(400, 401, 409, 413, 422, *UPSTREAM),
             summary="Register an asset; it is minted on chain (status pending -> active, or pending_review)")
async def create_asset(body: AssetCreate, user: CurrentUser, stubs: Stubs, request: Request) -> dict[str, Any]:
    r = await stubs.assets.CreateAsset(pb.CreateAssetRequest(
        actor=_actor(user), name=body.name, asset_type=_TYPE_PB[body.asset_type], price=body.price,
        royalty_rate=body.royalty_rate, metadata_json=orjson.dumps(body.metadata).decode(),
        utility_features=body.utility_features, region=body.region, ipfs_hash=body.ipfs_hash,
        creators=[pb.CreatorShare(user_id=c.user_id or "", wallet=c.wallet or "", share_percent=c.share_percent)
                  for c in body.creators]))
    _changed(request, r.asset.id)
    return asset_out(r.asset)


@_cached_get("", response_model=AssetPage, responses=problem_responses(400, 422, *UPSTREAM),
             summary="Browse and search the catalog",
             description=f"Pages: `page`/`per_page` reach at most {MAX_OFFSET:,} rows deep (400 beyond); deeper, "
                         "follow `next_cursor` (keyset paging: any depth costs one page). `total` is exact "
                         f"up to {TOTAL_CAP:,} matches, an estimate above (`total_estimated`). Responses may "
                         "be served from a cache that every change of the catalog invalidates.")
async def list_assets(
    request: Request,
    stubs: Stubs,
    asset_type: AssetType | None = None,
    status_: Annotated[AssetStatus | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    creator: Annotated[str | None, Query(max_length=64, description="a creator's user id or wallet")] = None,
    owner: Annotated[str | None, Query(max_length=64, description="the owner's user id or wallet")] = None,
    min_price: Annotated[str | None, Query(pattern=r"^\d{1,7}(\.\d{1,18})?$")] = None,
    max_price: Annotated[str | None, Query(pattern=r"^\d{1,7}(\.\d{1,18})?$")] = None,
    q: Annotated[str | None, Query(max_length=200, description="full text over name and metadata")] = None,
    for_sale: Annotated[bool | None, Query(description="true: only assets under an active signed listing; "
                                                       "false: only those not for sale; absent: both")] = None,
    sort: Annotated[Literal["created", "-created", "price", "-price", "name", "-name"],
                    Query(description="field, '-' prefix for descending; default newest first")] = "-created",
    page: Page = 1,
    per_page: PerPage = 20,
    cursor: Annotated[str | None, Query(max_length=1024, pattern=r"^[A-Za-z0-9_-]+$",
                                        description="the next_cursor of the previous page")] = None,
) -> Response:
    cache = catalog_cache.of(request.app.state)
    # The normalised query: equal decimals are one key ("1.50" = "1.5"), wallets any case.
    key = (asset_type, status_, region, _who(creator), _who(owner), _dec(min_price), _dec(max_price),
           " ".join(q.split()) if q else None, for_sale, sort, page, per_page, cursor)
    if cache is not None:
        body = cache.page(key)
        if body is not None:
            return Response(body, media_type="application/json")
        generation = cache.generation
    field = sort.lstrip("-")
    r = await stubs.assets.ListAssets(pb.ListAssetsRequest(
        asset_type=_TYPE_PB[asset_type] if asset_type else pb.ASSET_TYPE_UNSPECIFIED,
        status=_STATUS_PB[status_] if status_ else pb.ASSET_STATUS_UNSPECIFIED,
        region=region or "", creator=creator or "", owner=owner or "", min_price=min_price or "",
        max_price=max_price or "", q=q or "", sort_field=_SORT[field],
        sort_direction=pb.SORT_DIRECTION_DESC if sort.startswith("-") else pb.SORT_DIRECTION_ASC,
        page=common_pb2.PageRequest(page=page, per_page=per_page), for_sale=for_sale, cursor=cursor or ""))
    body = orjson.dumps({"items": [asset_out(a) for a in r.assets], "page": r.page.page,
                         "per_page": r.page.per_page, "total": r.page.total, "total_estimated": r.total_estimated,
                         "next_cursor": r.next_cursor or None})
    if cache is not None:
        cache.put_page(key, body, generation)
        cache.put_page(_raw_key(request), body, generation)
    return Response(body, media_type="application/json")


def _changed(request: Request, asset_id: str) -> None:
    """A write through this process: drop its cached copies now (read-your-writes here; the
    assets service's invalidation message reaches every other gateway process)."""
    cache = catalog_cache.of(request.app.state)
    if cache is not None:
        cache.invalidate(asset_id)


def _who(value: str | None) -> str | None:
    return value.lower() if value and value.lower().startswith("0x") else value


def _dec(value: str | None) -> str | None:
    return None if value is None else str(Decimal(value).normalize())


@_cached_get("/{asset_id}", response_model=AssetOut, responses=problem_responses(404, 422, *UPSTREAM),
             summary="One asset")
async def get_asset(asset_id: PathId, request: Request, stubs: Stubs) -> Response:
    cache = catalog_cache.of(request.app.state)
    if cache is not None:
        body = cache.detail(asset_id)
        if body is not None:
            return Response(body, media_type="application/json")
        generation = cache.generation
    body = orjson.dumps(asset_out((await stubs.assets.GetAsset(pb.GetAssetRequest(asset_id=asset_id))).asset))
    if cache is not None:
        cache.put_detail(asset_id, body, generation)
    return Response(body, media_type="application/json")


@router.patch("/{asset_id}", response_model=AssetOut,
              responses=problem_responses(400, 401, 403, 404, 409, 413, 422, *UPSTREAM),
              summary="Edit the asking price or the metadata (owner only); listing is by signed order only "
                      "(PUT /assets/{id}/listing), so \"listed\" is not writable")
async def update_asset(asset_id: PathId, body: AssetPatch, user: CurrentUser, stubs: Stubs,
                       request: Request) -> dict[str, Any]:
    fields = body.model_fields_set
    if not fields:
        raise Problem(400, "nothing to change: send price or metadata")
    if any(getattr(body, f) is None for f in fields):
        raise Problem(400, "price and metadata cannot be null")
    paths = ["metadata_json" if f == "metadata" else f for f in sorted(fields)]
    r = await stubs.assets.UpdateAsset(pb.UpdateAssetRequest(
        actor=_actor(user), asset_id=asset_id, price=body.price or "",
        metadata_json=orjson.dumps(body.metadata).decode() if body.metadata is not None else "",
        update_mask={"paths": paths}))
    _changed(request, asset_id)
    return asset_out(r.asset)


@router.delete("/{asset_id}", response_model=AssetOut,
               responses=problem_responses(400, 401, 403, 404, 409, 422, *UPSTREAM),
               summary="Archive an asset (owner only); assets are never deleted, their history stays")
async def archive_asset(asset_id: PathId, user: CurrentUser, stubs: Stubs, request: Request) -> dict[str, Any]:
    r = await stubs.assets.ArchiveAsset(pb.ArchiveAssetRequest(actor=_actor(user), asset_id=asset_id))
    _changed(request, asset_id)
    return asset_out(r.asset)


@router.get("/{asset_id}/listing/typed-data", response_model=TypedDataOut,
            responses=problem_responses(400, 401, 403, 404, 409, 422, *UPSTREAM),
            summary="The EIP-712 order to sign (eth_signTypedData_v4, unchanged) to list your asset at a price "
                    "(owner only; 409 unless the asset is active and minted)")
async def listing_typed_data(
    asset_id: PathId, user: CurrentUser, stubs: Stubs,
    price: Annotated[str, Query(pattern=ETH_PATTERN, max_length=26, description=ETH_DESCRIPTION + ", more than 0")],
    duration_seconds: Annotated[int | None, Query(ge=60, le=31_536_000,
                                                  description="how long the order is valid, 60..31536000 "
                                                              "(one year); default 30 days")] = None,
) -> Response:
    if Decimal(price) <= 0:
        raise Problem(422, "invalid request: price", title="Unprocessable Content",
                      errors=[{"field": "price", "message": "price must be greater than 0"}])
    with precondition_as(409):
        r = await stubs.assets.GetListingTypedData(pb.GetListingTypedDataRequest(
            actor=_wallet_actor(user, "list"), asset_id=asset_id, price=price, duration_seconds=duration_seconds or 0))
    return fast_json({"typed_data": orjson.loads(r.typed_data_json)})


@router.put("/{asset_id}/listing", response_model=ListingWriteOut,
            responses=problem_responses(400, 401, 403, 404, 409, 413, 422, *UPSTREAM),
            summary="List your asset under the order you signed (400 bad signature; 403 not the owner's order; "
                    "409 not fillable); it replaces an active listing, whose cancel transaction is answered")
async def put_listing(asset_id: PathId, body: ListingIn, user: CurrentUser, stubs: Stubs,
                      request: Request) -> dict[str, Any]:
    with precondition_as(409):
        r = await stubs.assets.PutListing(pb.PutListingRequest(
            actor=_wallet_actor(user, "list"), asset_id=asset_id,
            order_json=orjson.dumps(body.order.model_dump()).decode(), signature=body.signature))
    _changed(request, asset_id)
    return {"listing": listing_out(r.listing), "cancel_transaction": opt_tx_out(r, "cancel_transaction")}


@router.get("/{asset_id}/listing", response_model=ListingEnvelope, responses=problem_responses(404, 422, *UPSTREAM),
            summary="The asset's current listing: the active one, or after a sale the one it filled (404 when neither)")
async def get_listing(asset_id: PathId, stubs: Stubs) -> Response:
    r = await stubs.assets.GetListing(pb.GetListingRequest(asset_id=asset_id))
    return fast_json({"listing": listing_out(r.listing)})


@router.delete("/{asset_id}/listing", response_model=ListingWriteOut,
               responses=problem_responses(400, 401, 403, 404, 409, 422, *UPSTREAM),
               summary="Take your asset off sale at once (owner only); sign and send the answered cancel "
                       "transaction to make the order unfillable on chain for good")
async def cancel_listing(asset_id: PathId, user: CurrentUser, stubs: Stubs, request: Request) -> dict[str, Any]:
    with precondition_as(409):
        r = await stubs.assets.CancelListing(pb.CancelListingRequest(actor=_wallet_actor(user, "cancel a listing"),
                                                                     asset_id=asset_id))
    _changed(request, asset_id)
    return {"listing": listing_out(r.listing), "cancel_transaction": opt_tx_out(r, "cancel_transaction")}


def _payment_required(short: pb.InsufficientFunds) -> Problem:
    required, available = eth(short.required_wei), eth(short.available_wei)
    return Problem(402, f"your wallet holds {available} ETH; this purchase needs {required} ETH (the price plus "
                        "the most its gas can cost); nothing was reserved",
                   required_wei=short.required_wei, available_wei=short.available_wei,
                   shortfall_wei=short.shortfall_wei, price_wei=short.price_wei or None,
                   required=required, available=available, shortfall=eth(short.shortfall_wei))


@router.post("/{asset_id}/purchase", response_model=PurchaseOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": PurchaseOut, "description": "A replay of an earlier purchase "
                                                                   "(Idempotent-Replayed: true)"},
                        **problem_responses(400, 401, 402, 403, 404, 409, 413, 422, *UPSTREAM)},
             summary="Buy a listed asset from your own wallet (Idempotency-Key required): answers the transaction "
                     "to sign and pay (awaiting_payment); 402 when your wallet cannot pay; a replay answers 200")
async def purchase_asset(asset_id: PathId, user: CurrentUser, key: IdempotencyKey, stubs: Stubs, response: Response,
                         body: PurchaseIn | None = None) -> dict[str, Any]:
    with precondition_as(409):
        r = await stubs.assets.PurchaseAsset(pb.PurchaseAssetRequest(
            actor=_wallet_actor(user, "buy"), asset_id=asset_id, idempotency_key=key,
            max_price=(body.max_price if body else None) or ""))
    if r.HasField("insufficient_funds"):
        raise _payment_required(r.insufficient_funds)
    if r.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return purchase_out(r.purchase, r.replayed)


@router.post("/{asset_id}/purchases/{purchase_id}/transaction", response_model=PurchaseOut,
             status_code=status.HTTP_202_ACCEPTED,
             responses=problem_responses(400, 401, 403, 404, 409, 413, 422, *UPSTREAM),
             summary="Hand in your payment: the signed raw transaction (checked to be exactly the prepared call, "
                     "then broadcast) or the hash of one you broadcast; poll the purchase until completed")
async def submit_purchase_transaction(asset_id: PathId, purchase_id: PathId, body: PaymentIn, user: CurrentUser,
                                      stubs: Stubs) -> dict[str, Any]:
    actor = _wallet_actor(user, "pay")
    payment = {"raw_transaction": body.raw_transaction} if body.raw_transaction else {"tx_hash": body.tx_hash}
    # The path names the asset too: the assets service answers a purchase of another asset (or
    # one of somebody else's) NOT_FOUND, and nothing is sent.
    with precondition_as(409):
        r = await stubs.assets.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
            actor=actor, purchase_id=purchase_id, asset_id=asset_id, **payment))
    return purchase_out(r.purchase)


PreferHeader = Annotated[str | None, Header(
    description="`wait=N` (RFC 7240): while the purchase is awaiting payment or submitted, answer when it "
                "changes (an event of the asset) or after N seconds (at most "
                f"{live.MAX_WAIT_S}); `Preference-Applied` then echoes it. Other preferences are ignored.")]


@router.get("/{asset_id}/purchases/{purchase_id}", response_model=PurchaseOut,
            responses=problem_responses(401, 404, 422, *UPSTREAM),
            summary="A purchase's state (its buyer or seller only): awaiting_payment, submitted, completed "
                    "or failed; with `Prefer: wait=N`, answered once it is settled or N seconds passed")
async def get_purchase(asset_id: PathId, purchase_id: PathId, user: CurrentUser, stubs: Stubs, request: Request,
                       response: Response, prefer: PreferHeader = None) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        # The assets service answers only the buyer or seller the actor names (and the token proves).
        p = (await stubs.assets.GetPurchase(pb.GetPurchaseRequest(purchase_id=purchase_id,
                                                                  actor=_actor(user)))).purchase
        if p.asset_id != asset_id or user.id not in (p.buyer_user_id, p.seller_user_id):
            raise Problem(404, f"purchase {purchase_id} not found")
        return purchase_out(p)

    wait = live.preferred_wait(prefer)
    if not wait:
        return await read()
    # Long polling: every change of a purchase comes with an event of its asset (the sale, the
    # token's transfer, the listing's end), which the gateway's event tail already receives; a
    # state no event announces is still seen by a re-read every RECHECK_S.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    with request.app.state.hub.watching(f"asset:{asset_id}") as waiter:
        out = await read()
        while out["state"] in _OPEN_PURCHASE and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.woken.wait(), timeout=min(left, live.RECHECK_S))
            waiter.woken.clear()
            out = await read()
    response.headers["Preference-Applied"] = f"wait={wait}"
    return out


@router.get("/{asset_id}/provenance", response_model=ProvenanceOut,
            responses=problem_responses(404, 422, *UPSTREAM),
            summary="Mint, sales and transfers in order, each with its transaction hash")
async def provenance(asset_id: PathId, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.assets.GetProvenance(pb.GetProvenanceRequest(asset_id=asset_id))
    return {"asset_id": asset_id, "entries": [{
        "kind": _PROVENANCE_KIND[e.kind], "tx_hash": e.tx_hash, "block_number": e.block_number,
        "from_wallet": e.from_wallet, "to_wallet": e.to_wallet,
        "price": e.price.amount if e.HasField("price") else None, "purchase_id": e.purchase_id or None,
        "occurred_at": stamp(e.occurred_at)} for e in r.entries]}


@router.get("/{asset_id}/price-suggestion", response_model=PriceSuggestionOut,
            responses=problem_responses(400, 404, 422, *UPSTREAM),
            summary="The pricing agent's suggested price for this asset, with the rules that fired")
async def price_suggestion(asset_id: PathId, stubs: Stubs) -> dict[str, Any]:
    a = (await stubs.assets.GetAsset(pb.GetAssetRequest(asset_id=asset_id))).asset
    metadata = orjson.loads(a.metadata_json or "{}")
    reputation = DEFAULT_REPUTATION  # auth's default for a new user, if the profile cannot be read
    try:
        reputation = (await stubs.auth.GetUser(auth_pb.GetUserRequest(id=a.owner_user_id))).user.reputation_score
    except grpc.aio.AioRpcError:
        pass  # the suggestion is still useful with the default reputation
    r = await stubs.ai_agents.SuggestPrice(ai_pb.SuggestPriceRequest(asset=ai_pb.AssetFeatures(
        asset_id=a.id, name=a.name, asset_type=_TYPE_NAME[a.asset_type], region=a.region,
        utility_features=list(a.utility_features), co_creators=len(a.creators), asking_price=a.price.amount,
        creator_reputation=reputation, content_hash=a.ipfs_hash,
        description=str(metadata.get("description", ""))[:2000],
        creator_wallet=a.owner_wallet, creator_user_id=a.owner_user_id, wallet_age_days=-1)))
    return {"asset_id": a.id, "current_price": a.price.amount, "suggested": r.suggested.amount, "low": r.low.amount,
            "high": r.high.amount, "currency": r.suggested.currency or "ETH",
            "rules": [{"name": x.name, "module": x.module, "value": x.value, "contribution": x.contribution,
                       "explanation": x.explanation} for x in r.rules], "market_source": r.market_source}
