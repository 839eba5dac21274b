"""Asset routes: register, browse, read, edit, archive, purchase, provenance, price suggestion.

The body is validated here first (shape, sizes, enums; the assets service checks
everything again, plus the CID, the creators in auth and the duplicates). Money is
a decimal string in and out: a JSON number is refused, never rounded. The caller's
identity comes from the verified token only.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

import grpc
import orjson
from fastapi import APIRouter, Query, Response, status
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as ai_pb
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.common.v1 import common_pb2
from ipheron_libs.vocab import ASSET_TYPES, DEFAULT_REPUTATION
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ipheron_gateway.bounds import METADATA_DESCRIPTION, Page, PathId, PerPage, check_metadata
from ipheron_gateway.deps import CurrentUser, IdempotencyKey, Stubs, User
from ipheron_gateway.problems import UPSTREAM, Problem, problem_responses
from ipheron_gateway.responses import fast_json, stamp
from ipheron_gateway.routers.ai import RuleOut

router = APIRouter(prefix="/assets", tags=["assets"])

AssetType = StrEnum("AssetType", [(t.upper(), t) for t in ASSET_TYPES])  # type: ignore[misc]
AssetStatus = Literal["pending", "pending_review", "active", "archived", "failed"]
_TYPE_PB = {t: getattr(pb, f"ASSET_TYPE_{t.upper()}") for t in ASSET_TYPES}
_TYPE_NAME = {v: k for k, v in _TYPE_PB.items()}
_STATUS_PB = {s: getattr(pb, f"ASSET_STATUS_{s.upper()}") for s in AssetStatus.__args__}  # type: ignore[attr-defined]
_STATUS_NAME = {v: k for k, v in _STATUS_PB.items()}
_PURCHASE_STATE = {pb.PURCHASE_STATE_RESERVED: "reserved", pb.PURCHASE_STATE_BUYING: "buying",
                   pb.PURCHASE_STATE_BOUGHT: "bought", pb.PURCHASE_STATE_COMPLETED: "completed",
                   pb.PURCHASE_STATE_FAILED: "failed"}
_PROVENANCE_KIND = {pb.PROVENANCE_KIND_MINT: "mint", pb.PROVENANCE_KIND_SALE: "sale",
                    pb.PROVENANCE_KIND_TRANSFER: "transfer"}
_SORT = {"created": pb.ASSET_SORT_FIELD_CREATED, "price": pb.ASSET_SORT_FIELD_PRICE, "name": pb.ASSET_SORT_FIELD_NAME}

EthAmount = Annotated[str, Field(pattern=r"^\d{1,7}(\.\d{1,18})?$", max_length=26, examples=["1.5"],
                                 description='ETH decimal string, e.g. "1.5": up to 7 integer digits and 18 decimals')]
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
    """Owner-only edit. Only these fields are writable; anything else is refused."""

    model_config = ConfigDict(extra="forbid")
    price: EthAmount | None = None
    listed: bool | None = None
    metadata: dict[str, Any] | None = Field(default=None, description=METADATA_DESCRIPTION)

    @field_validator("metadata")
    @classmethod
    def _metadata_bounds(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else check_metadata(v)


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_price: EthAmount | None = Field(default=None, description="refuse if the current price is above this")


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
    listed: bool
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
    created_at: str
    updated_at: str


class AssetPage(BaseModel):
    items: list[AssetOut]
    page: int
    per_page: int
    total: int


class PurchaseOut(BaseModel):
    id: str
    asset_id: str
    state: Literal["reserved", "buying", "bought", "completed", "failed"]
    buyer_user_id: str
    buyer_wallet: str
    seller_user_id: str
    seller_wallet: str
    price: str
    currency: str
    tx_hash: str | None
    block_number: int | None
    failure_reason: str | None
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
        "created_at": stamp(a.created_at), "updated_at": stamp(a.updated_at),
    }


def purchase_out(p: pb.Purchase, replayed: bool = False) -> dict[str, Any]:
    return {
        "id": p.id, "asset_id": p.asset_id, "state": _PURCHASE_STATE[p.state], "buyer_user_id": p.buyer_user_id,
        "buyer_wallet": p.buyer_wallet, "seller_user_id": p.seller_user_id, "seller_wallet": p.seller_wallet,
        "price": p.price.amount, "currency": p.price.currency or "ETH", "tx_hash": p.tx_hash or None,
        "block_number": p.block_number or None, "failure_reason": p.failure_reason or None, "replayed": replayed,
        "created_at": stamp(p.created_at), "updated_at": stamp(p.updated_at),
    }


@router.post("", response_model=AssetOut, status_code=status.HTTP_201_CREATED,
             responses=problem_responses(400, 401, 409, 413, 422, *UPSTREAM),
             summary="Register an asset; it is minted on chain (status pending -> active, or pending_review)")
async def create_asset(body: AssetCreate, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.assets.CreateAsset(pb.CreateAssetRequest(
        actor=_actor(user), name=body.name, asset_type=_TYPE_PB[body.asset_type], price=body.price,
        royalty_rate=body.royalty_rate, metadata_json=orjson.dumps(body.metadata).decode(),
        utility_features=body.utility_features, region=body.region, ipfs_hash=body.ipfs_hash,
        creators=[pb.CreatorShare(user_id=c.user_id or "", wallet=c.wallet or "", share_percent=c.share_percent)
                  for c in body.creators]))
    return asset_out(r.asset)


@router.get("", response_model=AssetPage, responses=problem_responses(400, 422, *UPSTREAM),
            summary="Browse and search the catalog")
async def list_assets(
    stubs: Stubs,
    asset_type: AssetType | None = None,
    status_: Annotated[AssetStatus | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    creator: Annotated[str | None, Query(max_length=64, description="a creator's user id or wallet")] = None,
    owner: Annotated[str | None, Query(max_length=64, description="the owner's user id or wallet")] = None,
    min_price: Annotated[str | None, Query(pattern=r"^\d{1,7}(\.\d{1,18})?$")] = None,
    max_price: Annotated[str | None, Query(pattern=r"^\d{1,7}(\.\d{1,18})?$")] = None,
    q: Annotated[str | None, Query(max_length=200, description="full text over name and metadata")] = None,
    sort: Annotated[Literal["created", "-created", "price", "-price", "name", "-name"],
                    Query(description="field, '-' prefix for descending; default newest first")] = "-created",
    page: Page = 1,
    per_page: PerPage = 20,
) -> dict[str, Any]:
    field = sort.lstrip("-")
    r = await stubs.assets.ListAssets(pb.ListAssetsRequest(
        asset_type=_TYPE_PB[asset_type] if asset_type else pb.ASSET_TYPE_UNSPECIFIED,
        status=_STATUS_PB[status_] if status_ else pb.ASSET_STATUS_UNSPECIFIED,
        region=region or "", creator=creator or "", owner=owner or "", min_price=min_price or "",
        max_price=max_price or "", q=q or "", sort_field=_SORT[field],
        sort_direction=pb.SORT_DIRECTION_DESC if sort.startswith("-") else pb.SORT_DIRECTION_ASC,
        page=common_pb2.PageRequest(page=page, per_page=per_page)))
    return {"items": [asset_out(a) for a in r.assets], "page": r.page.page, "per_page": r.page.per_page,
            "total": r.page.total}


@router.get("/{asset_id}", response_model=AssetOut, responses=problem_responses(404, 422, *UPSTREAM),
            summary="One asset")
async def get_asset(asset_id: PathId, stubs: Stubs) -> Response:
    return fast_json(asset_out((await stubs.assets.GetAsset(pb.GetAssetRequest(asset_id=asset_id))).asset))


@router.patch("/{asset_id}", response_model=AssetOut,
              responses=problem_responses(400, 401, 403, 404, 409, 413, 422, *UPSTREAM),
              summary="Edit price, listing or metadata (owner only)")
async def update_asset(asset_id: PathId, body: AssetPatch, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    fields = body.model_fields_set
    if not fields:
        raise Problem(400, "nothing to change: send price, listed or metadata")
    if any(getattr(body, f) is None for f in fields):
        raise Problem(400, "price, listed and metadata cannot be null")
    paths = ["metadata_json" if f == "metadata" else f for f in sorted(fields)]
    r = await stubs.assets.UpdateAsset(pb.UpdateAssetRequest(
        actor=_actor(user), asset_id=asset_id, price=body.price or "", listed=bool(body.listed),
        metadata_json=orjson.dumps(body.metadata).decode() if body.metadata is not None else "",
        update_mask={"paths": paths}))
    return asset_out(r.asset)


@router.delete("/{asset_id}", response_model=AssetOut,
               responses=problem_responses(400, 401, 403, 404, 409, 422, *UPSTREAM),
               summary="Archive an asset (owner only); assets are never deleted, their history stays")
async def archive_asset(asset_id: PathId, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.assets.ArchiveAsset(pb.ArchiveAssetRequest(actor=_actor(user), asset_id=asset_id))
    return asset_out(r.asset)


@router.post("/{asset_id}/purchase", response_model=PurchaseOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": PurchaseOut, "description": "A replay of an earlier purchase"},
                        202: {"model": PurchaseOut, "description": "Accepted; the chain outcome is being confirmed"},
                        **problem_responses(400, 401, 403, 404, 409, 413, 422, *UPSTREAM)},
             summary="Buy an asset at its price (Idempotency-Key required; a replay answers 200 with the same "
                     "purchase; 202 while the chain outcome is being confirmed)")
async def purchase_asset(asset_id: PathId, user: CurrentUser, key: IdempotencyKey, stubs: Stubs, response: Response,
                         body: PurchaseIn | None = None) -> dict[str, Any]:
    if not user.wallet:
        raise Problem(400, "your token carries no wallet; sign in with your wallet to buy")
    r = await stubs.assets.PurchaseAsset(pb.PurchaseAssetRequest(
        actor=_actor(user), asset_id=asset_id, idempotency_key=key, max_price=(body.max_price if body else None) or ""))
    if r.purchase.state != pb.PURCHASE_STATE_COMPLETED:
        response.status_code = status.HTTP_202_ACCEPTED
    elif r.replayed:
        response.status_code = status.HTTP_200_OK
    if r.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return purchase_out(r.purchase, r.replayed)


@router.get("/{asset_id}/purchases/{purchase_id}", response_model=PurchaseOut,
            responses=problem_responses(401, 404, 422, *UPSTREAM),
            summary="A purchase's state (its buyer or seller only); poll it after a 202")
async def get_purchase(asset_id: PathId, purchase_id: PathId, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    p = (await stubs.assets.GetPurchase(pb.GetPurchaseRequest(purchase_id=purchase_id))).purchase
    if p.asset_id != asset_id or user.id not in (p.buyer_user_id, p.seller_user_id):
        raise Problem(404, f"purchase {purchase_id} not found")
    return purchase_out(p)


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
