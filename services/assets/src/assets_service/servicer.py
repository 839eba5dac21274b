"""gRPC servicer: protobuf <-> the domain records, nothing else."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import grpc
import orjson
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.assets.v1 import assets_service_pb2_grpc as pb_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.common.v1 import common_pb2
from ipheron_libs import access
from ipheron_libs.errors import InvalidArgument
from ipheron_libs.wire import money_str, to_timestamp, wei_str

from assets_service import domain
from assets_service.clients import prepared_pb
from assets_service.domain import Actor, Asset, AssetFilter, Listing, PreparedTx, ProvenanceEntry, Purchase, StoredFile
from assets_service.service import AssetsService

_TYPE_TO_PB = {name: getattr(pb, f"ASSET_TYPE_{name.upper()}") for name in domain.ASSET_TYPES}
_TYPE_FROM_PB = {v: k for k, v in _TYPE_TO_PB.items()}
_STATUS_TO_PB = {name: getattr(pb, f"ASSET_STATUS_{name.upper()}") for name in domain.STATUSES}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}
_SAGA_TO_PB = {
    domain.AWAITING_PAYMENT: pb.PURCHASE_STATE_AWAITING_PAYMENT,
    domain.SUBMITTED: pb.PURCHASE_STATE_SUBMITTED,
    # The sale is recorded (ownership moved); only the creators' counters may still be catching up.
    domain.RECORDED: pb.PURCHASE_STATE_COMPLETED,
    domain.COMPLETED: pb.PURCHASE_STATE_COMPLETED,
    domain.SAGA_FAILED: pb.PURCHASE_STATE_FAILED,
}
_LISTING_TO_PB = {name: getattr(pb, f"LISTING_STATE_{name.upper()}") for name in domain.LISTING_STATES}
_SORT = {pb.ASSET_SORT_FIELD_PRICE: "price", pb.ASSET_SORT_FIELD_NAME: "name", pb.ASSET_SORT_FIELD_CREATED: "created"}
_PROVENANCE = {"mint": pb.PROVENANCE_KIND_MINT, "sale": pb.PROVENANCE_KIND_SALE,
               "transfer": pb.PROVENANCE_KIND_TRANSFER}


def _eth(amount: Decimal) -> common_pb2.Money:
    return common_pb2.Money(amount=money_str(amount), currency="ETH")


def _bound(text: str, field: str) -> Decimal | None:
    return domain.parse_decimal(text, field, max_places=18) if text else None


def _actor(a: pb.Actor) -> Actor:
    return Actor(user_id=domain.refuse_nul(a.user_id, "actor.user_id"),
                 wallet=domain.refuse_nul(a.wallet, "actor.wallet").lower())


def _text(value: str, field: str) -> str | None:
    """An optional filter or key as given (None when empty)."""
    return domain.refuse_nul(value, field) or None


def _require_actor(a: pb.Actor) -> Actor:
    if not a.user_id:
        raise InvalidArgument("actor.user_id is required", field="actor")
    return _actor(a)


def asset_pb(a: Asset) -> pb.Asset:
    """The wire form of an asset."""
    return pb.Asset(
        id=a.id, name=a.name, asset_type=_TYPE_TO_PB[a.asset_type], price=_eth(a.price),
        royalty_rate=money_str(a.royalty_rate), status=_STATUS_TO_PB[a.status], listed=a.listed,
        metadata_json=orjson.dumps(a.metadata).decode(), utility_features=a.utility_features, region=a.region,
        creators=[pb.CreatorShare(user_id=c.user_id, wallet=c.wallet, share_percent=money_str(c.share_percent))
                  for c in a.creators],
        owner_user_id=a.owner_user_id, owner_wallet=a.owner_wallet, ipfs_hash=a.ipfs_hash, token_id=a.token_id,
        contract_address=a.contract_address, mint_tx_hash=a.mint_tx_hash, review_reasons=a.review_reasons,
        risk_score=a.risk_score if a.risk_score is not None else -1, reserved=a.reserved, version=a.version,
        created_at=to_timestamp(a.created_at), updated_at=to_timestamp(a.updated_at), file_cids=a.file_cids,
        listing=listing_pb(a.listing) if a.listing is not None else None,
    )


def listing_pb(x: Listing) -> pb.Listing:
    """The wire form of a signed listing."""
    return pb.Listing(
        asset_id=x.asset_id, state=_LISTING_TO_PB[x.state], order_json=x.order_json, signature=x.signature,
        order_hash=x.order_hash, seller_wallet=x.seller_wallet, price=_eth(x.price), price_wei=wei_str(x.price_wei),
        start_time=to_timestamp(x.start_time), end_time=to_timestamp(x.end_time),
        created_at=to_timestamp(x.created_at), reason=x.reason)


def tx_pb(t: PreparedTx | None) -> chain_pb.PreparedTransaction | None:
    return prepared_pb(t) if t is not None else None


def file_pb(f: StoredFile) -> pb.StoredFile:
    return pb.StoredFile(cid=f.cid, size=f.size, content_type=f.content_type, filename=f.filename, sha256=f.sha256,
                         uploader_user_id=f.uploader_user_id, created_at=to_timestamp(f.created_at))


def purchase_pb(p: Purchase) -> pb.Purchase:
    return pb.Purchase(
        id=p.id, asset_id=p.asset_id, buyer_user_id=p.buyer_user_id, buyer_wallet=p.buyer_wallet,
        seller_user_id=p.seller_user_id, seller_wallet=p.seller_wallet, price=_eth(p.price),
        state=_SAGA_TO_PB[p.state], tx_hash=p.tx_hash, block_number=p.block_number, failure_reason=p.failure_reason,
        created_at=to_timestamp(p.created_at), updated_at=to_timestamp(p.updated_at),
        transaction=tx_pb(p.transaction), expires_at=to_timestamp(p.expires_at), order_hash=p.order_hash,
        failure_code=p.failure_code, price_wei=wei_str(p.price_wei),
    )


def provenance_pb(e: ProvenanceEntry) -> pb.ProvenanceEntry:
    return pb.ProvenanceEntry(
        kind=_PROVENANCE[e.kind], tx_hash=e.tx_hash, block_number=e.block_number or 0,
        from_wallet=e.from_wallet or "", to_wallet=e.to_wallet or "",
        price=_eth(e.price) if e.price is not None else None, purchase_id=e.purchase_id or "",
        occurred_at=to_timestamp(e.occurred_at))


class AssetsServicer(pb_grpc.AssetsServiceServicer):
    """AssetsService over gRPC."""

    def __init__(self, service: AssetsService) -> None:
        self.service = service

    async def CreateAsset(self, request: pb.CreateAssetRequest,
                          context: grpc.aio.ServicerContext) -> pb.CreateAssetResponse:
        actor = _require_actor(request.actor)
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
            "creators": [{"user_id": domain.refuse_nul(c.user_id, f"creators.{i}.user_id"),
                          "wallet": domain.refuse_nul(c.wallet, f"creators.{i}.wallet"),
                          "share_percent": c.share_percent or "0"}
                         for i, c in enumerate(request.creators)],
        }
        if request.royalty_rate:
            data["royalty_rate"] = request.royalty_rate
        # Layer 1 of the four (the schema, again after the gateway): the request becomes a NewAsset.
        asset = await self.service.create_asset(actor, domain.validate_new_asset(data))
        return pb.CreateAssetResponse(asset=asset_pb(asset))

    async def GetAsset(self, request: pb.GetAssetRequest, context: grpc.aio.ServicerContext) -> pb.GetAssetResponse:
        return pb.GetAssetResponse(asset=asset_pb(await self.service.get_asset(request.asset_id)))

    async def ListAssets(self, request: pb.ListAssetsRequest,
                         context: grpc.aio.ServicerContext) -> pb.ListAssetsResponse:
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
        cursor = domain.refuse_nul(request.cursor, "cursor")
        after = domain.decode_cursor(cursor, sort, descending) if cursor else None
        if after is None:
            domain.check_offset(page, per_page)
        f = AssetFilter(
            asset_type=_TYPE_FROM_PB.get(request.asset_type), status=_STATUS_FROM_PB.get(request.status),
            region=_text(request.region, "region"), creator=_text(request.creator, "creator"),
            owner=_text(request.owner, "owner"),
            min_price=_bound(request.min_price, "min_price"), max_price=_bound(request.max_price, "max_price"),
            q=q or None, sort=sort, descending=descending, page=page, per_page=per_page,
            for_sale=request.for_sale if request.HasField("for_sale") else None, after=after,
        )
        found = await self.service.list_assets(f)
        return pb.ListAssetsResponse(assets=[asset_pb(a) for a in found.assets],
                                     page=common_pb2.PageInfo(page=page, per_page=per_page, total=found.total),
                                     next_cursor=found.next_cursor, total_estimated=found.total_estimated)

    async def UpdateAsset(self, request: pb.UpdateAssetRequest,
                          context: grpc.aio.ServicerContext) -> pb.UpdateAssetResponse:
        actor = _require_actor(request.actor)
        edit = domain.parse_edit(list(request.update_mask.paths), request.price, request.listed,
                                 request.metadata_json)
        return pb.UpdateAssetResponse(asset=asset_pb(await self.service.update_asset(actor, request.asset_id, edit)))

    async def ArchiveAsset(self, request: pb.ArchiveAssetRequest,
                           context: grpc.aio.ServicerContext) -> pb.ArchiveAssetResponse:
        actor = _require_actor(request.actor)
        return pb.ArchiveAssetResponse(asset=asset_pb(await self.service.archive_asset(actor, request.asset_id)))

    async def PurchaseAsset(self, request: pb.PurchaseAssetRequest,
                            context: grpc.aio.ServicerContext) -> pb.PurchaseAssetResponse:
        key = domain.refuse_nul(request.idempotency_key, "idempotency_key")
        purchase, replayed, short = await self.service.purchase(_actor(request.actor), request.asset_id, key,
                                                                request.max_price)
        if short is not None:
            return pb.PurchaseAssetResponse(insufficient_funds=pb.InsufficientFunds(
                required_wei=wei_str(short.required_wei), available_wei=wei_str(short.available_wei),
                shortfall_wei=wei_str(short.shortfall_wei), price_wei=wei_str(short.price_wei)))
        assert purchase is not None
        return pb.PurchaseAssetResponse(purchase=purchase_pb(purchase), replayed=replayed)

    async def GetPurchase(self, request: pb.GetPurchaseRequest,
                          context: grpc.aio.ServicerContext) -> pb.GetPurchaseResponse:
        if not request.actor.user_id:
            access.check_unscoped_read(context, "purchases")
        purchase = await self.service.get_purchase(request.purchase_id, request.actor.user_id)
        return pb.GetPurchaseResponse(purchase=purchase_pb(purchase))

    async def GetProvenance(self, request: pb.GetProvenanceRequest,
                            context: grpc.aio.ServicerContext) -> pb.GetProvenanceResponse:
        entries = await self.service.provenance(request.asset_id)
        return pb.GetProvenanceResponse(entries=[provenance_pb(e) for e in entries])

    async def UploadFile(self, request: pb.UploadFileRequest,
                         context: grpc.aio.ServicerContext) -> pb.UploadFileResponse:
        f, created = await self.service.upload_file(_actor(request.actor), request.content, request.content_type,
                                                    request.filename)
        return pb.UploadFileResponse(file=file_pb(f), created=created)

    async def GetFile(self, request: pb.GetFileRequest, context: grpc.aio.ServicerContext) -> pb.GetFileResponse:
        cid = domain.refuse_nul(request.cid, "cid")
        f, content = await self.service.get_file(cid, with_content=request.include_content)
        return pb.GetFileResponse(file=file_pb(f), content=content)

    async def AttachFile(self, request: pb.AttachFileRequest,
                         context: grpc.aio.ServicerContext) -> pb.AttachFileResponse:
        actor = _require_actor(request.actor)
        cid = domain.refuse_nul(request.cid, "cid")
        return pb.AttachFileResponse(asset=asset_pb(await self.service.attach_file(actor, request.asset_id, cid)))

    async def GetListingTypedData(self, request: pb.GetListingTypedDataRequest,
                                  context: grpc.aio.ServicerContext) -> pb.GetListingTypedDataResponse:
        actor = _require_actor(request.actor)
        typed = await self.service.listing_typed_data(actor, request.asset_id, request.price,
                                                      int(request.duration_seconds))
        return pb.GetListingTypedDataResponse(typed_data_json=typed)

    async def PutListing(self, request: pb.PutListingRequest,
                         context: grpc.aio.ServicerContext) -> pb.PutListingResponse:
        actor = _require_actor(request.actor)
        listing, cancel = await self.service.put_listing(actor, request.asset_id, request.order_json,
                                                         request.signature)
        return pb.PutListingResponse(listing=listing_pb(listing), cancel_transaction=tx_pb(cancel))

    async def GetListing(self, request: pb.GetListingRequest,
                         context: grpc.aio.ServicerContext) -> pb.GetListingResponse:
        return pb.GetListingResponse(listing=listing_pb(await self.service.get_listing(request.asset_id)))

    async def CancelListing(self, request: pb.CancelListingRequest,
                            context: grpc.aio.ServicerContext) -> pb.CancelListingResponse:
        actor = _require_actor(request.actor)
        listing, cancel = await self.service.cancel_listing(actor, request.asset_id)
        return pb.CancelListingResponse(listing=listing_pb(listing), cancel_transaction=tx_pb(cancel))

    async def SubmitPurchaseTransaction(self, request: pb.SubmitPurchaseTransactionRequest,
                                        context: grpc.aio.ServicerContext) -> pb.SubmitPurchaseTransactionResponse:
        actor = _require_actor(request.actor)
        purchase = await self.service.submit_transaction(
            actor, request.purchase_id, raw_transaction=domain.refuse_nul(request.raw_transaction, "raw_transaction"),
            tx_hash=domain.refuse_nul(request.tx_hash, "tx_hash"),
            asset_id=domain.refuse_nul(request.asset_id, "asset_id"))
        return pb.SubmitPurchaseTransactionResponse(purchase=purchase_pb(purchase))
