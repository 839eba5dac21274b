"""gRPC servicer: protobuf <-> the application's plain values, nothing else."""

from __future__ import annotations

import datetime as dt
from typing import Any

import grpc
import orjson
from google.protobuf.timestamp_pb2 import Timestamp
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.assets.v1 import assets_service_pb2_grpc as pb_grpc
from ipheron.common.v1 import common_pb2
from ipheron_libs.errors import (
    Aborted,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
)

from assets_service import domain
from assets_service.repository import Actor, AssetFilter, Saga
from assets_service.service import AssetsApp

_TYPE_TO_PB = {name: getattr(pb, f"ASSET_TYPE_{name.upper()}") for name in domain.ASSET_TYPES}
_TYPE_FROM_PB = {v: k for k, v in _TYPE_TO_PB.items()}
_STATUS_TO_PB = {name: getattr(pb, f"ASSET_STATUS_{name.upper()}") for name in domain.STATUSES}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}
_SAGA_TO_PB = {
    domain.RESERVED: pb.PURCHASE_STATE_RESERVED,
    domain.BUYING: pb.PURCHASE_STATE_BUYING,
    domain.BOUGHT: pb.PURCHASE_STATE_BOUGHT,
    # The sale is recorded (ownership moved); only the creators' counters may still be catching up.
    domain.RECORDED: pb.PURCHASE_STATE_COMPLETED,
    domain.COMPLETED: pb.PURCHASE_STATE_COMPLETED,
    domain.SAGA_FAILED: pb.PURCHASE_STATE_FAILED,
}
_SORT = {pb.ASSET_SORT_FIELD_PRICE: "price", pb.ASSET_SORT_FIELD_NAME: "name", pb.ASSET_SORT_FIELD_CREATED: "created"}
_FAILURES: dict[str, type[DomainError]] = {
    "UNAVAILABLE": Unavailable,
    "PERMISSION_DENIED": PermissionDenied,
    "ABORTED": Aborted,
    "INVALID_ARGUMENT": InvalidArgument,
}


def _ts(value: str | dt.datetime | None) -> Timestamp:
    ts = Timestamp()
    if value:
        ts.FromDatetime(dt.datetime.fromisoformat(value) if isinstance(value, str) else value)
    return ts


def _actor(a: pb.Actor) -> Actor:
    return Actor(user_id=a.user_id, wallet=a.wallet.lower())


def asset_pb(a: dict[str, Any]) -> pb.Asset:
    """The wire form of an asset dict (as cached)."""
    return pb.Asset(
        id=a["id"], name=a["name"], asset_type=_TYPE_TO_PB[a["asset_type"]],
        price=common_pb2.Money(amount=a["price"], currency="ETH"), royalty_rate=a["royalty_rate"],
        status=_STATUS_TO_PB[a["status"]], listed=a["listed"], metadata_json=orjson.dumps(a["metadata"]).decode(),
        utility_features=a["utility_features"], region=a["region"],
        creators=[pb.CreatorShare(**c) for c in a["creators"]], owner_user_id=a["owner_user_id"],
        owner_wallet=a["owner_wallet"], ipfs_hash=a["ipfs_hash"], token_id=a["token_id"],
        contract_address=a["contract_address"], mint_tx_hash=a["mint_tx_hash"], review_reasons=a["review_reasons"],
        risk_score=a["risk_score"], reserved=a["reserved"], version=a["version"], created_at=_ts(a["created_at"]),
        updated_at=_ts(a["updated_at"]), file_cids=a.get("file_cids", []),
    )


def file_pb(f: dict[str, Any]) -> pb.StoredFile:
    return pb.StoredFile(cid=f["cid"], size=f["size"], content_type=f["content_type"], filename=f["filename"],
                         sha256=f["sha256"], uploader_user_id=f["uploader_user_id"], created_at=_ts(f["created_at"]))


def purchase_pb(s: Saga) -> pb.Purchase:
    d = s.data
    return pb.Purchase(
        id=s.id, asset_id=s.asset_id, buyer_user_id=s.actor_user_id, buyer_wallet=s.actor_wallet,
        seller_user_id=d.get("seller_user_id", ""), seller_wallet=d.get("seller_wallet", ""),
        price=common_pb2.Money(amount=d.get("price", ""), currency="ETH"), state=_SAGA_TO_PB[s.state],
        tx_hash=d.get("tx_hash", ""), block_number=int(d.get("block_number") or 0),
        failure_reason=(s.error or "") if s.state == domain.SAGA_FAILED else "",
        created_at=_ts(s.created_at), updated_at=_ts(s.updated_at),
    )


class AssetsServicer(pb_grpc.AssetsServiceServicer):
    """AssetsService over gRPC."""

    def __init__(self, app: AssetsApp) -> None:
        self.app = app

    async def CreateAsset(self, request: pb.CreateAssetRequest, context: grpc.aio.ServicerContext) -> pb.CreateAssetResponse:
        if not request.actor.user_id:
            raise InvalidArgument("actor.user_id is required", field="actor")
        if request.asset_type not in _TYPE_FROM_PB:
            raise InvalidArgument("asset_type is required", field="asset_type")
        try:
            metadata = orjson.loads(request.metadata_json) if request.metadata_json else {}
        except orjson.JSONDecodeError:
            raise InvalidArgument("metadata must be valid JSON", field="metadata") from None
        data: dict[str, Any] = {
            "name": request.name, "asset_type": _TYPE_FROM_PB[request.asset_type], "price": request.price or "0",
            "metadata": metadata, "utility_features": list(request.utility_features),
            "region": request.region or "Global", "ipfs_hash": request.ipfs_hash,
            "creators": [{"user_id": c.user_id, "wallet": c.wallet, "share_percent": c.share_percent or "0"}
                         for c in request.creators],
        }
        if request.royalty_rate:
            data["royalty_rate"] = request.royalty_rate
        asset = await self.app.create_asset(_actor(request.actor), data)
        return pb.CreateAssetResponse(asset=asset_pb(asset))

    async def GetAsset(self, request: pb.GetAssetRequest, context: grpc.aio.ServicerContext) -> pb.GetAssetResponse:
        return pb.GetAssetResponse(asset=asset_pb(await self.app.get_asset(request.asset_id)))

    async def ListAssets(self, request: pb.ListAssetsRequest, context: grpc.aio.ServicerContext) -> pb.ListAssetsResponse:
        page = request.page.page or 1
        per_page = request.page.per_page or 20
        if page < 1 or not 1 <= per_page <= 100:
            raise InvalidArgument("page must be >= 1 and per_page 1..100", field="page")
        sort = _SORT.get(request.sort_field, "created")
        if request.sort_direction == pb.SORT_DIRECTION_UNSPECIFIED:
            descending = sort == "created"
        else:
            descending = request.sort_direction == pb.SORT_DIRECTION_DESC
        q = domain.sanitize_text(request.q)[:200] if request.q else None
        f = AssetFilter(
            asset_type=_TYPE_FROM_PB.get(request.asset_type), status=_STATUS_FROM_PB.get(request.status),
            region=request.region or None, creator=request.creator or None, owner=request.owner or None,
            min_price=domain.parse_decimal(request.min_price, "min_price", max_places=18) if request.min_price else None,
            max_price=domain.parse_decimal(request.max_price, "max_price", max_places=18) if request.max_price else None,
            q=q or None, sort=sort, descending=descending, page=page, per_page=per_page,
        )
        assets, total = await self.app.list_assets(f)
        return pb.ListAssetsResponse(assets=[asset_pb(a) for a in assets],
                                     page=common_pb2.PageInfo(page=page, per_page=per_page, total=total))

    async def UpdateAsset(self, request: pb.UpdateAssetRequest, context: grpc.aio.ServicerContext) -> pb.UpdateAssetResponse:
        if not request.actor.user_id:
            raise InvalidArgument("actor.user_id is required", field="actor")
        asset = await self.app.update_asset(
            _actor(request.actor), request.asset_id, list(request.update_mask.paths),
            {"price": request.price, "listed": request.listed, "metadata_json": request.metadata_json})
        return pb.UpdateAssetResponse(asset=asset_pb(asset))

    async def ArchiveAsset(self, request: pb.ArchiveAssetRequest, context: grpc.aio.ServicerContext) -> pb.ArchiveAssetResponse:
        if not request.actor.user_id:
            raise InvalidArgument("actor.user_id is required", field="actor")
        asset = await self.app.archive_asset(_actor(request.actor), request.asset_id)
        return pb.ArchiveAssetResponse(asset=asset_pb(asset))

    async def PurchaseAsset(self, request: pb.PurchaseAssetRequest, context: grpc.aio.ServicerContext) -> pb.PurchaseAssetResponse:
        saga, replayed = await self.app.purchase(_actor(request.actor), request.asset_id, request.idempotency_key,
                                                 request.max_price)
        if saga.state == domain.SAGA_FAILED:
            # A failed purchase is an error, and the same key replays the same error.
            raise _FAILURES.get(saga.error_code or "", FailedPrecondition)(saga.error or "purchase failed")
        return pb.PurchaseAssetResponse(purchase=purchase_pb(saga), replayed=replayed)

    async def GetPurchase(self, request: pb.GetPurchaseRequest, context: grpc.aio.ServicerContext) -> pb.GetPurchaseResponse:
        return pb.GetPurchaseResponse(purchase=purchase_pb(await self.app.get_purchase(request.purchase_id)))

    async def GetProvenance(self, request: pb.GetProvenanceRequest, context: grpc.aio.ServicerContext) -> pb.GetProvenanceResponse:
        kinds = {"mint": pb.PROVENANCE_KIND_MINT, "sale": pb.PROVENANCE_KIND_SALE, "transfer": pb.PROVENANCE_KIND_TRANSFER}
        entries = [
            pb.ProvenanceEntry(
                kind=kinds[e["kind"]], tx_hash=e["tx_hash"], block_number=e["block_number"] or 0,
                from_wallet=e["from_wallet"] or "", to_wallet=e["to_wallet"] or "",
                price=common_pb2.Money(amount=domain.format_eth(e["price"]), currency="ETH") if e["price"] is not None else None,
                purchase_id=str(e["purchase_id"]) if e["purchase_id"] else "", occurred_at=_ts(e["occurred_at"]))
            for e in await self.app.provenance(request.asset_id)
        ]
        return pb.GetProvenanceResponse(entries=entries)

    async def UploadFile(self, request: pb.UploadFileRequest, context: grpc.aio.ServicerContext) -> pb.UploadFileResponse:
        f, created = await self.app.upload_file(_actor(request.actor), request.content, request.content_type,
                                                request.filename)
        return pb.UploadFileResponse(file=file_pb(f), created=created)

    async def GetFile(self, request: pb.GetFileRequest, context: grpc.aio.ServicerContext) -> pb.GetFileResponse:
        f, content = await self.app.get_file(request.cid, with_content=request.include_content)
        return pb.GetFileResponse(file=file_pb(f), content=content)

    async def AttachFile(self, request: pb.AttachFileRequest, context: grpc.aio.ServicerContext) -> pb.AttachFileResponse:
        if not request.actor.user_id:
            raise InvalidArgument("actor.user_id is required", field="actor")
        return pb.AttachFileResponse(asset=asset_pb(await self.app.attach_file(_actor(request.actor), request.asset_id,
                                                                                request.cid)))
