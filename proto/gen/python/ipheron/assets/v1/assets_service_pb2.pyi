import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ipheron.chain.v1 import chain_service_pb2 as _chain_service_pb2
from ipheron.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssetType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_TYPE_UNSPECIFIED: _ClassVar[AssetType]
    ASSET_TYPE_ART: _ClassVar[AssetType]
    ASSET_TYPE_MUSIC: _ClassVar[AssetType]
    ASSET_TYPE_VIDEO: _ClassVar[AssetType]
    ASSET_TYPE_LITERATURE: _ClassVar[AssetType]
    ASSET_TYPE_SOFTWARE: _ClassVar[AssetType]
    ASSET_TYPE_DESIGN: _ClassVar[AssetType]
    ASSET_TYPE_PATENT: _ClassVar[AssetType]
    ASSET_TYPE_TRADEMARK: _ClassVar[AssetType]
    ASSET_TYPE_OTHER: _ClassVar[AssetType]

class AssetStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_STATUS_UNSPECIFIED: _ClassVar[AssetStatus]
    ASSET_STATUS_PENDING: _ClassVar[AssetStatus]
    ASSET_STATUS_PENDING_REVIEW: _ClassVar[AssetStatus]
    ASSET_STATUS_ACTIVE: _ClassVar[AssetStatus]
    ASSET_STATUS_ARCHIVED: _ClassVar[AssetStatus]
    ASSET_STATUS_FAILED: _ClassVar[AssetStatus]

class AssetSortField(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_SORT_FIELD_UNSPECIFIED: _ClassVar[AssetSortField]
    ASSET_SORT_FIELD_CREATED: _ClassVar[AssetSortField]
    ASSET_SORT_FIELD_PRICE: _ClassVar[AssetSortField]
    ASSET_SORT_FIELD_NAME: _ClassVar[AssetSortField]

class SortDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SORT_DIRECTION_UNSPECIFIED: _ClassVar[SortDirection]
    SORT_DIRECTION_ASC: _ClassVar[SortDirection]
    SORT_DIRECTION_DESC: _ClassVar[SortDirection]

class PurchaseState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURCHASE_STATE_UNSPECIFIED: _ClassVar[PurchaseState]
    PURCHASE_STATE_RESERVED: _ClassVar[PurchaseState]
    PURCHASE_STATE_BUYING: _ClassVar[PurchaseState]
    PURCHASE_STATE_BOUGHT: _ClassVar[PurchaseState]
    PURCHASE_STATE_COMPLETED: _ClassVar[PurchaseState]
    PURCHASE_STATE_FAILED: _ClassVar[PurchaseState]
    PURCHASE_STATE_AWAITING_PAYMENT: _ClassVar[PurchaseState]
    PURCHASE_STATE_SUBMITTED: _ClassVar[PurchaseState]

class ProvenanceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROVENANCE_KIND_UNSPECIFIED: _ClassVar[ProvenanceKind]
    PROVENANCE_KIND_MINT: _ClassVar[ProvenanceKind]
    PROVENANCE_KIND_SALE: _ClassVar[ProvenanceKind]
    PROVENANCE_KIND_TRANSFER: _ClassVar[ProvenanceKind]

class ListingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LISTING_STATE_UNSPECIFIED: _ClassVar[ListingState]
    LISTING_STATE_ACTIVE: _ClassVar[ListingState]
    LISTING_STATE_CANCELLED: _ClassVar[ListingState]
    LISTING_STATE_SUPERSEDED: _ClassVar[ListingState]
    LISTING_STATE_FILLED: _ClassVar[ListingState]
    LISTING_STATE_INVALID: _ClassVar[ListingState]
ASSET_TYPE_UNSPECIFIED: AssetType
ASSET_TYPE_ART: AssetType
ASSET_TYPE_MUSIC: AssetType
ASSET_TYPE_VIDEO: AssetType
ASSET_TYPE_LITERATURE: AssetType
ASSET_TYPE_SOFTWARE: AssetType
ASSET_TYPE_DESIGN: AssetType
ASSET_TYPE_PATENT: AssetType
ASSET_TYPE_TRADEMARK: AssetType
ASSET_TYPE_OTHER: AssetType
ASSET_STATUS_UNSPECIFIED: AssetStatus
ASSET_STATUS_PENDING: AssetStatus
ASSET_STATUS_PENDING_REVIEW: AssetStatus
ASSET_STATUS_ACTIVE: AssetStatus
ASSET_STATUS_ARCHIVED: AssetStatus
ASSET_STATUS_FAILED: AssetStatus
ASSET_SORT_FIELD_UNSPECIFIED: AssetSortField
ASSET_SORT_FIELD_CREATED: AssetSortField
ASSET_SORT_FIELD_PRICE: AssetSortField
ASSET_SORT_FIELD_NAME: AssetSortField
SORT_DIRECTION_UNSPECIFIED: SortDirection
SORT_DIRECTION_ASC: SortDirection
SORT_DIRECTION_DESC: SortDirection
PURCHASE_STATE_UNSPECIFIED: PurchaseState
PURCHASE_STATE_RESERVED: PurchaseState
PURCHASE_STATE_BUYING: PurchaseState
PURCHASE_STATE_BOUGHT: PurchaseState
PURCHASE_STATE_COMPLETED: PurchaseState
PURCHASE_STATE_FAILED: PurchaseState
PURCHASE_STATE_AWAITING_PAYMENT: PurchaseState
PURCHASE_STATE_SUBMITTED: PurchaseState
PROVENANCE_KIND_UNSPECIFIED: ProvenanceKind
PROVENANCE_KIND_MINT: ProvenanceKind
PROVENANCE_KIND_SALE: ProvenanceKind
PROVENANCE_KIND_TRANSFER: ProvenanceKind
LISTING_STATE_UNSPECIFIED: ListingState
LISTING_STATE_ACTIVE: ListingState
LISTING_STATE_CANCELLED: ListingState
LISTING_STATE_SUPERSEDED: ListingState
LISTING_STATE_FILLED: ListingState
LISTING_STATE_INVALID: ListingState

class Actor(_message.Message):
    __slots__ = ("user_id", "wallet")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    wallet: str
    def __init__(self, user_id: _Optional[str] = ..., wallet: _Optional[str] = ...) -> None: ...

class CreatorShare(_message.Message):
    __slots__ = ("user_id", "wallet", "share_percent")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    SHARE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    wallet: str
    share_percent: str
    def __init__(self, user_id: _Optional[str] = ..., wallet: _Optional[str] = ..., share_percent: _Optional[str] = ...) -> None: ...

class Asset(_message.Message):
    __slots__ = ("id", "name", "asset_type", "price", "royalty_rate", "status", "listed", "metadata_json", "utility_features", "region", "creators", "owner_user_id", "owner_wallet", "ipfs_hash", "token_id", "contract_address", "mint_tx_hash", "review_reasons", "risk_score", "reserved", "version", "created_at", "updated_at", "file_cids", "listing")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    ROYALTY_RATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    UTILITY_FEATURES_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CREATORS_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_WALLET_FIELD_NUMBER: _ClassVar[int]
    IPFS_HASH_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MINT_TX_HASH_FIELD_NUMBER: _ClassVar[int]
    REVIEW_REASONS_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    FILE_CIDS_FIELD_NUMBER: _ClassVar[int]
    LISTING_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    asset_type: AssetType
    price: _common_pb2.Money
    royalty_rate: str
    status: AssetStatus
    listed: bool
    metadata_json: str
    utility_features: _containers.RepeatedScalarFieldContainer[str]
    region: str
    creators: _containers.RepeatedCompositeFieldContainer[CreatorShare]
    owner_user_id: str
    owner_wallet: str
    ipfs_hash: str
    token_id: str
    contract_address: str
    mint_tx_hash: str
    review_reasons: _containers.RepeatedScalarFieldContainer[str]
    risk_score: int
    reserved: bool
    version: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    file_cids: _containers.RepeatedScalarFieldContainer[str]
    listing: Listing
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., asset_type: _Optional[_Union[AssetType, str]] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., royalty_rate: _Optional[str] = ..., status: _Optional[_Union[AssetStatus, str]] = ..., listed: _Optional[bool] = ..., metadata_json: _Optional[str] = ..., utility_features: _Optional[_Iterable[str]] = ..., region: _Optional[str] = ..., creators: _Optional[_Iterable[_Union[CreatorShare, _Mapping]]] = ..., owner_user_id: _Optional[str] = ..., owner_wallet: _Optional[str] = ..., ipfs_hash: _Optional[str] = ..., token_id: _Optional[str] = ..., contract_address: _Optional[str] = ..., mint_tx_hash: _Optional[str] = ..., review_reasons: _Optional[_Iterable[str]] = ..., risk_score: _Optional[int] = ..., reserved: _Optional[bool] = ..., version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., file_cids: _Optional[_Iterable[str]] = ..., listing: _Optional[_Union[Listing, _Mapping]] = ...) -> None: ...

class CreateAssetRequest(_message.Message):
    __slots__ = ("actor", "name", "asset_type", "price", "royalty_rate", "metadata_json", "utility_features", "region", "creators", "ipfs_hash")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    ROYALTY_RATE_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    UTILITY_FEATURES_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CREATORS_FIELD_NUMBER: _ClassVar[int]
    IPFS_HASH_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    name: str
    asset_type: AssetType
    price: str
    royalty_rate: str
    metadata_json: str
    utility_features: _containers.RepeatedScalarFieldContainer[str]
    region: str
    creators: _containers.RepeatedCompositeFieldContainer[CreatorShare]
    ipfs_hash: str
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., name: _Optional[str] = ..., asset_type: _Optional[_Union[AssetType, str]] = ..., price: _Optional[str] = ..., royalty_rate: _Optional[str] = ..., metadata_json: _Optional[str] = ..., utility_features: _Optional[_Iterable[str]] = ..., region: _Optional[str] = ..., creators: _Optional[_Iterable[_Union[CreatorShare, _Mapping]]] = ..., ipfs_hash: _Optional[str] = ...) -> None: ...

class CreateAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class GetAssetRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class GetAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class ListAssetsRequest(_message.Message):
    __slots__ = ("asset_type", "status", "region", "creator", "owner", "min_price", "max_price", "q", "sort_field", "sort_direction", "page", "for_sale", "cursor")
    ASSET_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    MIN_PRICE_FIELD_NUMBER: _ClassVar[int]
    MAX_PRICE_FIELD_NUMBER: _ClassVar[int]
    Q_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_FIELD_NUMBER: _ClassVar[int]
    SORT_DIRECTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    FOR_SALE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    asset_type: AssetType
    status: AssetStatus
    region: str
    creator: str
    owner: str
    min_price: str
    max_price: str
    q: str
    sort_field: AssetSortField
    sort_direction: SortDirection
    page: _common_pb2.PageRequest
    for_sale: bool
    cursor: str
    def __init__(self, asset_type: _Optional[_Union[AssetType, str]] = ..., status: _Optional[_Union[AssetStatus, str]] = ..., region: _Optional[str] = ..., creator: _Optional[str] = ..., owner: _Optional[str] = ..., min_price: _Optional[str] = ..., max_price: _Optional[str] = ..., q: _Optional[str] = ..., sort_field: _Optional[_Union[AssetSortField, str]] = ..., sort_direction: _Optional[_Union[SortDirection, str]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., for_sale: _Optional[bool] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListAssetsResponse(_message.Message):
    __slots__ = ("assets", "page", "next_cursor", "total_estimated")
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ESTIMATED_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    page: _common_pb2.PageInfo
    next_cursor: str
    total_estimated: bool
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., page: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ..., next_cursor: _Optional[str] = ..., total_estimated: _Optional[bool] = ...) -> None: ...

class UpdateAssetRequest(_message.Message):
    __slots__ = ("actor", "asset_id", "price", "listed", "metadata_json", "update_mask")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    asset_id: str
    price: str
    listed: bool
    metadata_json: str
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., asset_id: _Optional[str] = ..., price: _Optional[str] = ..., listed: _Optional[bool] = ..., metadata_json: _Optional[str] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class ArchiveAssetRequest(_message.Message):
    __slots__ = ("actor", "asset_id")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    asset_id: str
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., asset_id: _Optional[str] = ...) -> None: ...

class ArchiveAssetResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class Purchase(_message.Message):
    __slots__ = ("id", "asset_id", "buyer_user_id", "buyer_wallet", "seller_user_id", "seller_wallet", "price", "state", "tx_hash", "block_number", "failure_reason", "created_at", "updated_at", "transaction", "expires_at", "order_hash", "failure_code", "price_wei")
    ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    BUYER_WALLET_FIELD_NUMBER: _ClassVar[int]
    SELLER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_WALLET_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ORDER_HASH_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    id: str
    asset_id: str
    buyer_user_id: str
    buyer_wallet: str
    seller_user_id: str
    seller_wallet: str
    price: _common_pb2.Money
    state: PurchaseState
    tx_hash: str
    block_number: int
    failure_reason: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    transaction: _chain_service_pb2.PreparedTransaction
    expires_at: _timestamp_pb2.Timestamp
    order_hash: str
    failure_code: str
    price_wei: str
    def __init__(self, id: _Optional[str] = ..., asset_id: _Optional[str] = ..., buyer_user_id: _Optional[str] = ..., buyer_wallet: _Optional[str] = ..., seller_user_id: _Optional[str] = ..., seller_wallet: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., state: _Optional[_Union[PurchaseState, str]] = ..., tx_hash: _Optional[str] = ..., block_number: _Optional[int] = ..., failure_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transaction: _Optional[_Union[_chain_service_pb2.PreparedTransaction, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order_hash: _Optional[str] = ..., failure_code: _Optional[str] = ..., price_wei: _Optional[str] = ...) -> None: ...

class PurchaseAssetRequest(_message.Message):
    __slots__ = ("actor", "asset_id", "idempotency_key", "max_price")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_PRICE_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    asset_id: str
    idempotency_key: str
    max_price: str
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., asset_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., max_price: _Optional[str] = ...) -> None: ...

class PurchaseAssetResponse(_message.Message):
    __slots__ = ("purchase", "replayed", "insufficient_funds")
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    INSUFFICIENT_FUNDS_FIELD_NUMBER: _ClassVar[int]
    purchase: Purchase
    replayed: bool
    insufficient_funds: InsufficientFunds
    def __init__(self, purchase: _Optional[_Union[Purchase, _Mapping]] = ..., replayed: _Optional[bool] = ..., insufficient_funds: _Optional[_Union[InsufficientFunds, _Mapping]] = ...) -> None: ...

class InsufficientFunds(_message.Message):
    __slots__ = ("required_wei", "available_wei", "shortfall_wei", "price_wei")
    REQUIRED_WEI_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_WEI_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_WEI_FIELD_NUMBER: _ClassVar[int]
    PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    required_wei: str
    available_wei: str
    shortfall_wei: str
    price_wei: str
    def __init__(self, required_wei: _Optional[str] = ..., available_wei: _Optional[str] = ..., shortfall_wei: _Optional[str] = ..., price_wei: _Optional[str] = ...) -> None: ...

class GetPurchaseRequest(_message.Message):
    __slots__ = ("purchase_id", "actor")
    PURCHASE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    purchase_id: str
    actor: Actor
    def __init__(self, purchase_id: _Optional[str] = ..., actor: _Optional[_Union[Actor, _Mapping]] = ...) -> None: ...

class GetPurchaseResponse(_message.Message):
    __slots__ = ("purchase",)
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    purchase: Purchase
    def __init__(self, purchase: _Optional[_Union[Purchase, _Mapping]] = ...) -> None: ...

class ProvenanceEntry(_message.Message):
    __slots__ = ("kind", "tx_hash", "block_number", "from_wallet", "to_wallet", "price", "purchase_id", "occurred_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FROM_WALLET_FIELD_NUMBER: _ClassVar[int]
    TO_WALLET_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    kind: ProvenanceKind
    tx_hash: str
    block_number: int
    from_wallet: str
    to_wallet: str
    price: _common_pb2.Money
    purchase_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[ProvenanceKind, str]] = ..., tx_hash: _Optional[str] = ..., block_number: _Optional[int] = ..., from_wallet: _Optional[str] = ..., to_wallet: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., purchase_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetProvenanceRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class GetProvenanceResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ProvenanceEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[ProvenanceEntry, _Mapping]]] = ...) -> None: ...

class StoredFile(_message.Message):
    __slots__ = ("cid", "size", "content_type", "filename", "sha256", "uploader_user_id", "created_at")
    CID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    cid: str
    size: int
    content_type: str
    filename: str
    sha256: str
    uploader_user_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, cid: _Optional[str] = ..., size: _Optional[int] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ..., sha256: _Optional[str] = ..., uploader_user_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UploadFileRequest(_message.Message):
    __slots__ = ("actor", "filename", "content_type", "content")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    filename: str
    content_type: str
    content: bytes
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., filename: _Optional[str] = ..., content_type: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class UploadFileResponse(_message.Message):
    __slots__ = ("file", "created")
    FILE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    file: StoredFile
    created: bool
    def __init__(self, file: _Optional[_Union[StoredFile, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetFileRequest(_message.Message):
    __slots__ = ("cid", "include_content")
    CID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CONTENT_FIELD_NUMBER: _ClassVar[int]
    cid: str
    include_content: bool
    def __init__(self, cid: _Optional[str] = ..., include_content: _Optional[bool] = ...) -> None: ...

class GetFileResponse(_message.Message):
    __slots__ = ("file", "content")
    FILE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    file: StoredFile
    content: bytes
    def __init__(self, file: _Optional[_Union[StoredFile, _Mapping]] = ..., content: _Optional[bytes] = ...) -> None: ...

class AttachFileRequest(_message.Message):
    __slots__ = ("actor", "asset_id", "cid")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    CID_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    asset_id: str
    cid: str
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., asset_id: _Optional[str] = ..., cid: _Optional[str] = ...) -> None: ...

class AttachFileResponse(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ...) -> None: ...

class Listing(_message.Message):
    __slots__ = ("asset_id", "state", "order_json", "signature", "order_hash", "seller_wallet", "price", "price_wei", "start_time", "end_time", "created_at", "reason")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ORDER_HASH_FIELD_NUMBER: _ClassVar[int]
    SELLER_WALLET_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    state: ListingState
    order_json: str
    signature: str
    order_hash: str
    seller_wallet: str
    price: _common_pb2.Money
    price_wei: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, asset_id: _Optional[str] = ..., state: _Optional[_Union[ListingState, str]] = ..., order_json: _Optional[str] = ..., signature: _Optional[str] = ..., order_hash: _Optional[str] = ..., seller_wallet: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., price_wei: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class GetListingTypedDataRequest(_message.Message):
    __slots__ = ("actor", "asset_id", "price", "duration_seconds")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    asset_id: str
    price: str
    duration_seconds: int
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., asset_id: _Optional[str] = ..., price: _Optional[str] = ..., duration_seconds: _Optional[int] = ...) -> None: ...

class GetListingTypedDataResponse(_message.Message):
    __slots__ = ("typed_data_json",)
    TYPED_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    typed_data_json: str
    def __init__(self, typed_data_json: _Optional[str] = ...) -> None: ...

class PutListingRequest(_message.Message):
    __slots__ = ("actor", "asset_id", "order_json", "signature")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    asset_id: str
    order_json: str
    signature: str
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., asset_id: _Optional[str] = ..., order_json: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class PutListingResponse(_message.Message):
    __slots__ = ("listing", "cancel_transaction")
    LISTING_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    listing: Listing
    cancel_transaction: _chain_service_pb2.PreparedTransaction
    def __init__(self, listing: _Optional[_Union[Listing, _Mapping]] = ..., cancel_transaction: _Optional[_Union[_chain_service_pb2.PreparedTransaction, _Mapping]] = ...) -> None: ...

class GetListingRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class GetListingResponse(_message.Message):
    __slots__ = ("listing",)
    LISTING_FIELD_NUMBER: _ClassVar[int]
    listing: Listing
    def __init__(self, listing: _Optional[_Union[Listing, _Mapping]] = ...) -> None: ...

class CancelListingRequest(_message.Message):
    __slots__ = ("actor", "asset_id")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    asset_id: str
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., asset_id: _Optional[str] = ...) -> None: ...

class CancelListingResponse(_message.Message):
    __slots__ = ("listing", "cancel_transaction")
    LISTING_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    listing: Listing
    cancel_transaction: _chain_service_pb2.PreparedTransaction
    def __init__(self, listing: _Optional[_Union[Listing, _Mapping]] = ..., cancel_transaction: _Optional[_Union[_chain_service_pb2.PreparedTransaction, _Mapping]] = ...) -> None: ...

class SubmitPurchaseTransactionRequest(_message.Message):
    __slots__ = ("actor", "purchase_id", "raw_transaction", "tx_hash", "asset_id")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_ID_FIELD_NUMBER: _ClassVar[int]
    RAW_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    actor: Actor
    purchase_id: str
    raw_transaction: str
    tx_hash: str
    asset_id: str
    def __init__(self, actor: _Optional[_Union[Actor, _Mapping]] = ..., purchase_id: _Optional[str] = ..., raw_transaction: _Optional[str] = ..., tx_hash: _Optional[str] = ..., asset_id: _Optional[str] = ...) -> None: ...

class SubmitPurchaseTransactionResponse(_message.Message):
    __slots__ = ("purchase",)
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    purchase: Purchase
    def __init__(self, purchase: _Optional[_Union[Purchase, _Mapping]] = ...) -> None: ...
