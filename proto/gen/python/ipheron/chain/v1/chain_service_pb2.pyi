import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ipheron.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TransactionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_TYPE_UNSPECIFIED: _ClassVar[TransactionType]
    TRANSACTION_TYPE_DEPLOY: _ClassVar[TransactionType]
    TRANSACTION_TYPE_ADMIN: _ClassVar[TransactionType]
    TRANSACTION_TYPE_MINT: _ClassVar[TransactionType]
    TRANSACTION_TYPE_LIST: _ClassVar[TransactionType]
    TRANSACTION_TYPE_UNLIST: _ClassVar[TransactionType]
    TRANSACTION_TYPE_BUY: _ClassVar[TransactionType]
    TRANSACTION_TYPE_TRANSFER: _ClassVar[TransactionType]
    TRANSACTION_TYPE_WITHDRAW: _ClassVar[TransactionType]
    TRANSACTION_TYPE_NATIVE_TRANSFER: _ClassVar[TransactionType]
    TRANSACTION_TYPE_USER_CALL: _ClassVar[TransactionType]
    TRANSACTION_TYPE_FAUCET: _ClassVar[TransactionType]
    TRANSACTION_TYPE_CANCEL: _ClassVar[TransactionType]
    TRANSACTION_TYPE_STAKE: _ClassVar[TransactionType]
    TRANSACTION_TYPE_STAKE_CLAIM: _ClassVar[TransactionType]
    TRANSACTION_TYPE_UNSTAKE: _ClassVar[TransactionType]
    TRANSACTION_TYPE_VAULT_FUND: _ClassVar[TransactionType]

class TransactionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_STATUS_UNSPECIFIED: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_PENDING: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_CONFIRMED: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_FAILED: _ClassVar[TransactionStatus]
    TRANSACTION_STATUS_REPLACED: _ClassVar[TransactionStatus]

class PayoutKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYOUT_KIND_UNSPECIFIED: _ClassVar[PayoutKind]
    PAYOUT_KIND_SELLER: _ClassVar[PayoutKind]
    PAYOUT_KIND_ROYALTY: _ClassVar[PayoutKind]

class OrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATE_UNSPECIFIED: _ClassVar[OrderState]
    ORDER_STATE_FILLABLE: _ClassVar[OrderState]
    ORDER_STATE_INVALID_SIGNATURE: _ClassVar[OrderState]
    ORDER_STATE_NOT_STARTED: _ClassVar[OrderState]
    ORDER_STATE_EXPIRED: _ClassVar[OrderState]
    ORDER_STATE_COUNTER_INVALID: _ClassVar[OrderState]
    ORDER_STATE_FILLED: _ClassVar[OrderState]
    ORDER_STATE_CANCELLED: _ClassVar[OrderState]
    ORDER_STATE_STALE: _ClassVar[OrderState]
    ORDER_STATE_NOT_APPROVED: _ClassVar[OrderState]

class StakeAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAKE_ACTION_UNSPECIFIED: _ClassVar[StakeAction]
    STAKE_ACTION_CLAIM: _ClassVar[StakeAction]
    STAKE_ACTION_UNSTAKE: _ClassVar[StakeAction]
TRANSACTION_TYPE_UNSPECIFIED: TransactionType
TRANSACTION_TYPE_DEPLOY: TransactionType
TRANSACTION_TYPE_ADMIN: TransactionType
TRANSACTION_TYPE_MINT: TransactionType
TRANSACTION_TYPE_LIST: TransactionType
TRANSACTION_TYPE_UNLIST: TransactionType
TRANSACTION_TYPE_BUY: TransactionType
TRANSACTION_TYPE_TRANSFER: TransactionType
TRANSACTION_TYPE_WITHDRAW: TransactionType
TRANSACTION_TYPE_NATIVE_TRANSFER: TransactionType
TRANSACTION_TYPE_USER_CALL: TransactionType
TRANSACTION_TYPE_FAUCET: TransactionType
TRANSACTION_TYPE_CANCEL: TransactionType
TRANSACTION_TYPE_STAKE: TransactionType
TRANSACTION_TYPE_STAKE_CLAIM: TransactionType
TRANSACTION_TYPE_UNSTAKE: TransactionType
TRANSACTION_TYPE_VAULT_FUND: TransactionType
TRANSACTION_STATUS_UNSPECIFIED: TransactionStatus
TRANSACTION_STATUS_PENDING: TransactionStatus
TRANSACTION_STATUS_CONFIRMED: TransactionStatus
TRANSACTION_STATUS_FAILED: TransactionStatus
TRANSACTION_STATUS_REPLACED: TransactionStatus
PAYOUT_KIND_UNSPECIFIED: PayoutKind
PAYOUT_KIND_SELLER: PayoutKind
PAYOUT_KIND_ROYALTY: PayoutKind
ORDER_STATE_UNSPECIFIED: OrderState
ORDER_STATE_FILLABLE: OrderState
ORDER_STATE_INVALID_SIGNATURE: OrderState
ORDER_STATE_NOT_STARTED: OrderState
ORDER_STATE_EXPIRED: OrderState
ORDER_STATE_COUNTER_INVALID: OrderState
ORDER_STATE_FILLED: OrderState
ORDER_STATE_CANCELLED: OrderState
ORDER_STATE_STALE: OrderState
ORDER_STATE_NOT_APPROVED: OrderState
STAKE_ACTION_UNSPECIFIED: StakeAction
STAKE_ACTION_CLAIM: StakeAction
STAKE_ACTION_UNSTAKE: StakeAction

class CoCreator(_message.Message):
    __slots__ = ("address", "share_bps")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SHARE_BPS_FIELD_NUMBER: _ClassVar[int]
    address: str
    share_bps: int
    def __init__(self, address: _Optional[str] = ..., share_bps: _Optional[int] = ...) -> None: ...

class ChainEvent(_message.Message):
    __slots__ = ("name", "contract_address", "args_json", "log_index")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    name: str
    contract_address: str
    args_json: str
    log_index: int
    def __init__(self, name: _Optional[str] = ..., contract_address: _Optional[str] = ..., args_json: _Optional[str] = ..., log_index: _Optional[int] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("succeeded", "block_hash", "block_number", "gas_used", "effective_gas_price_wei", "confirmations", "contract_address", "events")
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    GAS_USED_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_GAS_PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    CONFIRMATIONS_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    succeeded: bool
    block_hash: str
    block_number: int
    gas_used: int
    effective_gas_price_wei: str
    confirmations: int
    contract_address: str
    events: _containers.RepeatedCompositeFieldContainer[ChainEvent]
    def __init__(self, succeeded: _Optional[bool] = ..., block_hash: _Optional[str] = ..., block_number: _Optional[int] = ..., gas_used: _Optional[int] = ..., effective_gas_price_wei: _Optional[str] = ..., confirmations: _Optional[int] = ..., contract_address: _Optional[str] = ..., events: _Optional[_Iterable[_Union[ChainEvent, _Mapping]]] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("tx_hash", "from_address", "to_address", "asset_id", "token_id", "amount_wei", "type", "status", "gas_used", "gas_price_wei", "block_number", "block_time", "nonce", "replaced_by", "error", "created_at", "counterparty", "receipt")
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    FROM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TO_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GAS_USED_FIELD_NUMBER: _ClassVar[int]
    GAS_PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_TIME_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    REPLACED_BY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    tx_hash: str
    from_address: str
    to_address: str
    asset_id: str
    token_id: int
    amount_wei: str
    type: TransactionType
    status: TransactionStatus
    gas_used: int
    gas_price_wei: str
    block_number: int
    block_time: _timestamp_pb2.Timestamp
    nonce: int
    replaced_by: str
    error: str
    created_at: _timestamp_pb2.Timestamp
    counterparty: str
    receipt: Receipt
    def __init__(self, tx_hash: _Optional[str] = ..., from_address: _Optional[str] = ..., to_address: _Optional[str] = ..., asset_id: _Optional[str] = ..., token_id: _Optional[int] = ..., amount_wei: _Optional[str] = ..., type: _Optional[_Union[TransactionType, str]] = ..., status: _Optional[_Union[TransactionStatus, str]] = ..., gas_used: _Optional[int] = ..., gas_price_wei: _Optional[str] = ..., block_number: _Optional[int] = ..., block_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nonce: _Optional[int] = ..., replaced_by: _Optional[str] = ..., error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., counterparty: _Optional[str] = ..., receipt: _Optional[_Union[Receipt, _Mapping]] = ...) -> None: ...

class Payout(_message.Message):
    __slots__ = ("address", "amount_wei", "kind")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    address: str
    amount_wei: str
    kind: PayoutKind
    def __init__(self, address: _Optional[str] = ..., amount_wei: _Optional[str] = ..., kind: _Optional[_Union[PayoutKind, str]] = ...) -> None: ...

class Listing(_message.Message):
    __slots__ = ("listed", "seller", "price_wei")
    LISTED_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    listed: bool
    seller: str
    price_wei: str
    def __init__(self, listed: _Optional[bool] = ..., seller: _Optional[str] = ..., price_wei: _Optional[str] = ...) -> None: ...

class MintAssetRequest(_message.Message):
    __slots__ = ("asset_id", "owner_address", "token_uri", "co_creators", "royalty_bps")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_URI_FIELD_NUMBER: _ClassVar[int]
    CO_CREATORS_FIELD_NUMBER: _ClassVar[int]
    ROYALTY_BPS_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    owner_address: str
    token_uri: str
    co_creators: _containers.RepeatedCompositeFieldContainer[CoCreator]
    royalty_bps: int
    def __init__(self, asset_id: _Optional[str] = ..., owner_address: _Optional[str] = ..., token_uri: _Optional[str] = ..., co_creators: _Optional[_Iterable[_Union[CoCreator, _Mapping]]] = ..., royalty_bps: _Optional[int] = ...) -> None: ...

class MintAssetResponse(_message.Message):
    __slots__ = ("token_id", "contract_address", "transaction", "already_minted")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    ALREADY_MINTED_FIELD_NUMBER: _ClassVar[int]
    token_id: int
    contract_address: str
    transaction: Transaction
    already_minted: bool
    def __init__(self, token_id: _Optional[int] = ..., contract_address: _Optional[str] = ..., transaction: _Optional[_Union[Transaction, _Mapping]] = ..., already_minted: _Optional[bool] = ...) -> None: ...

class GetTokenRequest(_message.Message):
    __slots__ = ("token_id", "asset_id")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: int
    asset_id: str
    def __init__(self, token_id: _Optional[int] = ..., asset_id: _Optional[str] = ...) -> None: ...

class GetTokenResponse(_message.Message):
    __slots__ = ("token_id", "asset_id", "owner_address", "token_uri", "co_creators", "royalty_bps", "listing", "contract_address")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_URI_FIELD_NUMBER: _ClassVar[int]
    CO_CREATORS_FIELD_NUMBER: _ClassVar[int]
    ROYALTY_BPS_FIELD_NUMBER: _ClassVar[int]
    LISTING_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    token_id: int
    asset_id: str
    owner_address: str
    token_uri: str
    co_creators: _containers.RepeatedCompositeFieldContainer[CoCreator]
    royalty_bps: int
    listing: Listing
    contract_address: str
    def __init__(self, token_id: _Optional[int] = ..., asset_id: _Optional[str] = ..., owner_address: _Optional[str] = ..., token_uri: _Optional[str] = ..., co_creators: _Optional[_Iterable[_Union[CoCreator, _Mapping]]] = ..., royalty_bps: _Optional[int] = ..., listing: _Optional[_Union[Listing, _Mapping]] = ..., contract_address: _Optional[str] = ...) -> None: ...

class GetRoyaltyInfoRequest(_message.Message):
    __slots__ = ("token_id", "sale_price_wei")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SALE_PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    token_id: int
    sale_price_wei: str
    def __init__(self, token_id: _Optional[int] = ..., sale_price_wei: _Optional[str] = ...) -> None: ...

class GetRoyaltyInfoResponse(_message.Message):
    __slots__ = ("receiver", "royalty_wei", "split", "seller_proceeds_wei")
    RECEIVER_FIELD_NUMBER: _ClassVar[int]
    ROYALTY_WEI_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    SELLER_PROCEEDS_WEI_FIELD_NUMBER: _ClassVar[int]
    receiver: str
    royalty_wei: str
    split: _containers.RepeatedCompositeFieldContainer[Payout]
    seller_proceeds_wei: str
    def __init__(self, receiver: _Optional[str] = ..., royalty_wei: _Optional[str] = ..., split: _Optional[_Iterable[_Union[Payout, _Mapping]]] = ..., seller_proceeds_wei: _Optional[str] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: str
    def __init__(self, address: _Optional[str] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("address", "pending_withdrawal_wei", "native_balance_wei", "pending_withdrawal", "native_balance")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PENDING_WITHDRAWAL_WEI_FIELD_NUMBER: _ClassVar[int]
    NATIVE_BALANCE_WEI_FIELD_NUMBER: _ClassVar[int]
    PENDING_WITHDRAWAL_FIELD_NUMBER: _ClassVar[int]
    NATIVE_BALANCE_FIELD_NUMBER: _ClassVar[int]
    address: str
    pending_withdrawal_wei: str
    native_balance_wei: str
    pending_withdrawal: _common_pb2.Money
    native_balance: _common_pb2.Money
    def __init__(self, address: _Optional[str] = ..., pending_withdrawal_wei: _Optional[str] = ..., native_balance_wei: _Optional[str] = ..., pending_withdrawal: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., native_balance: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class WithdrawRequest(_message.Message):
    __slots__ = ("payees", "idempotency_key")
    PAYEES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    payees: _containers.RepeatedScalarFieldContainer[str]
    idempotency_key: str
    def __init__(self, payees: _Optional[_Iterable[str]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class WithdrawalResult(_message.Message):
    __slots__ = ("address", "amount_wei", "succeeded")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    address: str
    amount_wei: str
    succeeded: bool
    def __init__(self, address: _Optional[str] = ..., amount_wei: _Optional[str] = ..., succeeded: _Optional[bool] = ...) -> None: ...

class WithdrawResponse(_message.Message):
    __slots__ = ("transaction", "results")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    results: _containers.RepeatedCompositeFieldContainer[WithdrawalResult]
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., results: _Optional[_Iterable[_Union[WithdrawalResult, _Mapping]]] = ...) -> None: ...

class GetTransactionRequest(_message.Message):
    __slots__ = ("tx_hash",)
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    tx_hash: str
    def __init__(self, tx_hash: _Optional[str] = ...) -> None: ...

class GetTransactionResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ...) -> None: ...

class ListTransactionsRequest(_message.Message):
    __slots__ = ("asset_id", "token_id", "address", "page")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    token_id: int
    address: str
    page: _common_pb2.PageRequest
    def __init__(self, asset_id: _Optional[str] = ..., token_id: _Optional[int] = ..., address: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListTransactionsResponse(_message.Message):
    __slots__ = ("transactions", "page_info")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    PAGE_INFO_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[Transaction]
    page_info: _common_pb2.PageInfo
    def __init__(self, transactions: _Optional[_Iterable[_Union[Transaction, _Mapping]]] = ..., page_info: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class GetNetworkStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNetworkStatusResponse(_message.Message):
    __slots__ = ("chain_id", "latest_block", "gas_price_wei", "base_fee_wei", "token_address", "marketplace_address", "signer_address", "signer_balance_wei", "network", "healthy", "journaled_transactions")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    LATEST_BLOCK_FIELD_NUMBER: _ClassVar[int]
    GAS_PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    BASE_FEE_WEI_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MARKETPLACE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SIGNER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SIGNER_BALANCE_WEI_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    JOURNALED_TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    latest_block: int
    gas_price_wei: str
    base_fee_wei: str
    token_address: str
    marketplace_address: str
    signer_address: str
    signer_balance_wei: str
    network: str
    healthy: bool
    journaled_transactions: int
    def __init__(self, chain_id: _Optional[int] = ..., latest_block: _Optional[int] = ..., gas_price_wei: _Optional[str] = ..., base_fee_wei: _Optional[str] = ..., token_address: _Optional[str] = ..., marketplace_address: _Optional[str] = ..., signer_address: _Optional[str] = ..., signer_balance_wei: _Optional[str] = ..., network: _Optional[str] = ..., healthy: _Optional[bool] = ..., journaled_transactions: _Optional[int] = ...) -> None: ...

class VerifySignatureRequest(_message.Message):
    __slots__ = ("address", "message", "digest", "signature")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    address: str
    message: bytes
    digest: bytes
    signature: bytes
    def __init__(self, address: _Optional[str] = ..., message: _Optional[bytes] = ..., digest: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class VerifySignatureResponse(_message.Message):
    __slots__ = ("valid", "method", "recovered_address")
    VALID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    method: str
    recovered_address: str
    def __init__(self, valid: _Optional[bool] = ..., method: _Optional[str] = ..., recovered_address: _Optional[str] = ...) -> None: ...

class PreparedTransaction(_message.Message):
    __slots__ = ("from_address", "to", "data", "value_wei", "chain_id", "gas", "max_fee_per_gas_wei", "max_priority_fee_per_gas_wei", "nonce")
    FROM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    VALUE_WEI_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    GAS_FIELD_NUMBER: _ClassVar[int]
    MAX_FEE_PER_GAS_WEI_FIELD_NUMBER: _ClassVar[int]
    MAX_PRIORITY_FEE_PER_GAS_WEI_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    from_address: str
    to: str
    data: str
    value_wei: str
    chain_id: int
    gas: int
    max_fee_per_gas_wei: str
    max_priority_fee_per_gas_wei: str
    nonce: int
    def __init__(self, from_address: _Optional[str] = ..., to: _Optional[str] = ..., data: _Optional[str] = ..., value_wei: _Optional[str] = ..., chain_id: _Optional[int] = ..., gas: _Optional[int] = ..., max_fee_per_gas_wei: _Optional[str] = ..., max_priority_fee_per_gas_wei: _Optional[str] = ..., nonce: _Optional[int] = ...) -> None: ...

class PrepareTransactionRequest(_message.Message):
    __slots__ = ("from_address", "to_address", "data", "value_wei")
    FROM_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TO_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    VALUE_WEI_FIELD_NUMBER: _ClassVar[int]
    from_address: str
    to_address: str
    data: str
    value_wei: str
    def __init__(self, from_address: _Optional[str] = ..., to_address: _Optional[str] = ..., data: _Optional[str] = ..., value_wei: _Optional[str] = ...) -> None: ...

class PrepareTransactionResponse(_message.Message):
    __slots__ = ("transaction", "balance_wei", "required_wei", "can_pay", "shortfall_wei", "gas_estimated_without_funds")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    BALANCE_WEI_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_WEI_FIELD_NUMBER: _ClassVar[int]
    CAN_PAY_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_WEI_FIELD_NUMBER: _ClassVar[int]
    GAS_ESTIMATED_WITHOUT_FUNDS_FIELD_NUMBER: _ClassVar[int]
    transaction: PreparedTransaction
    balance_wei: str
    required_wei: str
    can_pay: bool
    shortfall_wei: str
    gas_estimated_without_funds: bool
    def __init__(self, transaction: _Optional[_Union[PreparedTransaction, _Mapping]] = ..., balance_wei: _Optional[str] = ..., required_wei: _Optional[str] = ..., can_pay: _Optional[bool] = ..., shortfall_wei: _Optional[str] = ..., gas_estimated_without_funds: _Optional[bool] = ...) -> None: ...

class SubmitRawTransactionRequest(_message.Message):
    __slots__ = ("raw_transaction", "expected", "type", "asset_id", "token_id", "match_call_only")
    RAW_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    MATCH_CALL_ONLY_FIELD_NUMBER: _ClassVar[int]
    raw_transaction: str
    expected: PreparedTransaction
    type: TransactionType
    asset_id: str
    token_id: int
    match_call_only: bool
    def __init__(self, raw_transaction: _Optional[str] = ..., expected: _Optional[_Union[PreparedTransaction, _Mapping]] = ..., type: _Optional[_Union[TransactionType, str]] = ..., asset_id: _Optional[str] = ..., token_id: _Optional[int] = ..., match_call_only: _Optional[bool] = ...) -> None: ...

class SubmitRawTransactionResponse(_message.Message):
    __slots__ = ("tx_hash", "transaction", "already_submitted")
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    ALREADY_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    tx_hash: str
    transaction: Transaction
    already_submitted: bool
    def __init__(self, tx_hash: _Optional[str] = ..., transaction: _Optional[_Union[Transaction, _Mapping]] = ..., already_submitted: _Optional[bool] = ...) -> None: ...

class FaucetRequest(_message.Message):
    __slots__ = ("address", "amount_wei")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    address: str
    amount_wei: str
    def __init__(self, address: _Optional[str] = ..., amount_wei: _Optional[str] = ...) -> None: ...

class FaucetResponse(_message.Message):
    __slots__ = ("transaction", "balance_wei")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    BALANCE_WEI_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    balance_wei: str
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., balance_wei: _Optional[str] = ...) -> None: ...

class BuildOrderRequest(_message.Message):
    __slots__ = ("token_id", "seller", "price_wei", "duration_seconds")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    token_id: int
    seller: str
    price_wei: str
    duration_seconds: int
    def __init__(self, token_id: _Optional[int] = ..., seller: _Optional[str] = ..., price_wei: _Optional[str] = ..., duration_seconds: _Optional[int] = ...) -> None: ...

class BuildOrderResponse(_message.Message):
    __slots__ = ("typed_data_json", "order_json", "order_hash")
    TYPED_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    ORDER_JSON_FIELD_NUMBER: _ClassVar[int]
    ORDER_HASH_FIELD_NUMBER: _ClassVar[int]
    typed_data_json: str
    order_json: str
    order_hash: str
    def __init__(self, typed_data_json: _Optional[str] = ..., order_json: _Optional[str] = ..., order_hash: _Optional[str] = ...) -> None: ...

class VerifyOrderRequest(_message.Message):
    __slots__ = ("order_json", "signature")
    ORDER_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    order_json: str
    signature: str
    def __init__(self, order_json: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class VerifyOrderResponse(_message.Message):
    __slots__ = ("order_hash", "state", "reason", "method", "owner", "token_id", "seller", "price_wei", "start_time", "end_time", "order_json")
    ORDER_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    PRICE_WEI_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ORDER_JSON_FIELD_NUMBER: _ClassVar[int]
    order_hash: str
    state: OrderState
    reason: str
    method: str
    owner: str
    token_id: int
    seller: str
    price_wei: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    order_json: str
    def __init__(self, order_hash: _Optional[str] = ..., state: _Optional[_Union[OrderState, str]] = ..., reason: _Optional[str] = ..., method: _Optional[str] = ..., owner: _Optional[str] = ..., token_id: _Optional[int] = ..., seller: _Optional[str] = ..., price_wei: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order_json: _Optional[str] = ...) -> None: ...

class PrepareFulfillRequest(_message.Message):
    __slots__ = ("order_json", "signature", "buyer", "recipient")
    ORDER_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    BUYER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    order_json: str
    signature: str
    buyer: str
    recipient: str
    def __init__(self, order_json: _Optional[str] = ..., signature: _Optional[str] = ..., buyer: _Optional[str] = ..., recipient: _Optional[str] = ...) -> None: ...

class PrepareFulfillResponse(_message.Message):
    __slots__ = ("prepared", "order_hash")
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    ORDER_HASH_FIELD_NUMBER: _ClassVar[int]
    prepared: PrepareTransactionResponse
    order_hash: str
    def __init__(self, prepared: _Optional[_Union[PrepareTransactionResponse, _Mapping]] = ..., order_hash: _Optional[str] = ...) -> None: ...

class PrepareCancelRequest(_message.Message):
    __slots__ = ("order_json", "seller")
    ORDER_JSON_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    order_json: _containers.RepeatedScalarFieldContainer[str]
    seller: str
    def __init__(self, order_json: _Optional[_Iterable[str]] = ..., seller: _Optional[str] = ...) -> None: ...

class PrepareCancelResponse(_message.Message):
    __slots__ = ("prepared", "order_hashes")
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    ORDER_HASHES_FIELD_NUMBER: _ClassVar[int]
    prepared: PrepareTransactionResponse
    order_hashes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, prepared: _Optional[_Union[PrepareTransactionResponse, _Mapping]] = ..., order_hashes: _Optional[_Iterable[str]] = ...) -> None: ...

class PrepareWithdrawRequest(_message.Message):
    __slots__ = ("payee",)
    PAYEE_FIELD_NUMBER: _ClassVar[int]
    payee: str
    def __init__(self, payee: _Optional[str] = ...) -> None: ...

class PrepareWithdrawResponse(_message.Message):
    __slots__ = ("prepared", "pending_withdrawal_wei")
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    PENDING_WITHDRAWAL_WEI_FIELD_NUMBER: _ClassVar[int]
    prepared: PrepareTransactionResponse
    pending_withdrawal_wei: str
    def __init__(self, prepared: _Optional[_Union[PrepareTransactionResponse, _Mapping]] = ..., pending_withdrawal_wei: _Optional[str] = ...) -> None: ...

class TrackTransactionRequest(_message.Message):
    __slots__ = ("tx_hash", "expected", "type", "asset_id", "token_id")
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    tx_hash: str
    expected: PreparedTransaction
    type: TransactionType
    asset_id: str
    token_id: int
    def __init__(self, tx_hash: _Optional[str] = ..., expected: _Optional[_Union[PreparedTransaction, _Mapping]] = ..., type: _Optional[_Union[TransactionType, str]] = ..., asset_id: _Optional[str] = ..., token_id: _Optional[int] = ...) -> None: ...

class TrackTransactionResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ...) -> None: ...

class IndexedEvent(_message.Message):
    __slots__ = ("type", "payload_json", "block_number", "tx_hash", "log_index", "event_id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    type: str
    payload_json: str
    block_number: int
    tx_hash: str
    log_index: int
    event_id: str
    def __init__(self, type: _Optional[str] = ..., payload_json: _Optional[str] = ..., block_number: _Optional[int] = ..., tx_hash: _Optional[str] = ..., log_index: _Optional[int] = ..., event_id: _Optional[str] = ...) -> None: ...

class ListChainEventsRequest(_message.Message):
    __slots__ = ("type", "token_id", "page")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    type: str
    token_id: int
    page: _common_pb2.PageRequest
    def __init__(self, type: _Optional[str] = ..., token_id: _Optional[int] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListChainEventsResponse(_message.Message):
    __slots__ = ("events", "page_info")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_INFO_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[IndexedEvent]
    page_info: _common_pb2.PageInfo
    def __init__(self, events: _Optional[_Iterable[_Union[IndexedEvent, _Mapping]]] = ..., page_info: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Difference(_message.Message):
    __slots__ = ("kind", "subject", "on_chain", "recorded")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ON_CHAIN_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    kind: str
    subject: str
    on_chain: str
    recorded: str
    def __init__(self, kind: _Optional[str] = ..., subject: _Optional[str] = ..., on_chain: _Optional[str] = ..., recorded: _Optional[str] = ...) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ("differences", "tokens_checked", "payees_checked", "indexed_block", "stakes_checked")
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    TOKENS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    PAYEES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    INDEXED_BLOCK_FIELD_NUMBER: _ClassVar[int]
    STAKES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    differences: _containers.RepeatedCompositeFieldContainer[Difference]
    tokens_checked: int
    payees_checked: int
    indexed_block: int
    stakes_checked: int
    def __init__(self, differences: _Optional[_Iterable[_Union[Difference, _Mapping]]] = ..., tokens_checked: _Optional[int] = ..., payees_checked: _Optional[int] = ..., indexed_block: _Optional[int] = ..., stakes_checked: _Optional[int] = ...) -> None: ...

class GetVaultRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetVaultResponse(_message.Message):
    __slots__ = ("address", "chain_id", "domain_name", "domain_version", "quote_signer", "early_exit_penalty_bps", "pool_free_wei", "pool_reserved_wei", "total_principal_wei", "balance_wei", "block_number")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_VERSION_FIELD_NUMBER: _ClassVar[int]
    QUOTE_SIGNER_FIELD_NUMBER: _ClassVar[int]
    EARLY_EXIT_PENALTY_BPS_FIELD_NUMBER: _ClassVar[int]
    POOL_FREE_WEI_FIELD_NUMBER: _ClassVar[int]
    POOL_RESERVED_WEI_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PRINCIPAL_WEI_FIELD_NUMBER: _ClassVar[int]
    BALANCE_WEI_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    address: str
    chain_id: int
    domain_name: str
    domain_version: str
    quote_signer: str
    early_exit_penalty_bps: int
    pool_free_wei: str
    pool_reserved_wei: str
    total_principal_wei: str
    balance_wei: str
    block_number: int
    def __init__(self, address: _Optional[str] = ..., chain_id: _Optional[int] = ..., domain_name: _Optional[str] = ..., domain_version: _Optional[str] = ..., quote_signer: _Optional[str] = ..., early_exit_penalty_bps: _Optional[int] = ..., pool_free_wei: _Optional[str] = ..., pool_reserved_wei: _Optional[str] = ..., total_principal_wei: _Optional[str] = ..., balance_wei: _Optional[str] = ..., block_number: _Optional[int] = ...) -> None: ...

class PrepareStakeRequest(_message.Message):
    __slots__ = ("quote_json", "signature", "staker")
    QUOTE_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    STAKER_FIELD_NUMBER: _ClassVar[int]
    quote_json: str
    signature: str
    staker: str
    def __init__(self, quote_json: _Optional[str] = ..., signature: _Optional[str] = ..., staker: _Optional[str] = ...) -> None: ...

class PrepareStakeResponse(_message.Message):
    __slots__ = ("prepared", "quote_hash", "reservation_wei", "pool_free_wei", "pool_can_cover")
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    QUOTE_HASH_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_WEI_FIELD_NUMBER: _ClassVar[int]
    POOL_FREE_WEI_FIELD_NUMBER: _ClassVar[int]
    POOL_CAN_COVER_FIELD_NUMBER: _ClassVar[int]
    prepared: PrepareTransactionResponse
    quote_hash: str
    reservation_wei: str
    pool_free_wei: str
    pool_can_cover: bool
    def __init__(self, prepared: _Optional[_Union[PrepareTransactionResponse, _Mapping]] = ..., quote_hash: _Optional[str] = ..., reservation_wei: _Optional[str] = ..., pool_free_wei: _Optional[str] = ..., pool_can_cover: _Optional[bool] = ...) -> None: ...

class PrepareStakeActionRequest(_message.Message):
    __slots__ = ("stake_id", "staker", "action")
    STAKE_ID_FIELD_NUMBER: _ClassVar[int]
    STAKER_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    stake_id: int
    staker: str
    action: StakeAction
    def __init__(self, stake_id: _Optional[int] = ..., staker: _Optional[str] = ..., action: _Optional[_Union[StakeAction, str]] = ...) -> None: ...

class PrepareStakeActionResponse(_message.Message):
    __slots__ = ("prepared", "stake", "payout_wei", "early", "penalty_wei")
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    STAKE_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_WEI_FIELD_NUMBER: _ClassVar[int]
    EARLY_FIELD_NUMBER: _ClassVar[int]
    PENALTY_WEI_FIELD_NUMBER: _ClassVar[int]
    prepared: PrepareTransactionResponse
    stake: VaultStake
    payout_wei: str
    early: bool
    penalty_wei: str
    def __init__(self, prepared: _Optional[_Union[PrepareTransactionResponse, _Mapping]] = ..., stake: _Optional[_Union[VaultStake, _Mapping]] = ..., payout_wei: _Optional[str] = ..., early: _Optional[bool] = ..., penalty_wei: _Optional[str] = ...) -> None: ...

class GetVaultStakeRequest(_message.Message):
    __slots__ = ("stake_id",)
    STAKE_ID_FIELD_NUMBER: _ClassVar[int]
    stake_id: int
    def __init__(self, stake_id: _Optional[int] = ...) -> None: ...

class VaultStake(_message.Message):
    __slots__ = ("stake_id", "staker", "token_id", "amount_wei", "apr_bps", "start_time", "end_time", "reward_wei", "claimed_wei", "closed", "accrued_wei", "quote_nonce", "quote_hash")
    STAKE_ID_FIELD_NUMBER: _ClassVar[int]
    STAKER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    APR_BPS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    REWARD_WEI_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_WEI_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    ACCRUED_WEI_FIELD_NUMBER: _ClassVar[int]
    QUOTE_NONCE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_HASH_FIELD_NUMBER: _ClassVar[int]
    stake_id: int
    staker: str
    token_id: int
    amount_wei: str
    apr_bps: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    reward_wei: str
    claimed_wei: str
    closed: bool
    accrued_wei: str
    quote_nonce: str
    quote_hash: str
    def __init__(self, stake_id: _Optional[int] = ..., staker: _Optional[str] = ..., token_id: _Optional[int] = ..., amount_wei: _Optional[str] = ..., apr_bps: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reward_wei: _Optional[str] = ..., claimed_wei: _Optional[str] = ..., closed: _Optional[bool] = ..., accrued_wei: _Optional[str] = ..., quote_nonce: _Optional[str] = ..., quote_hash: _Optional[str] = ...) -> None: ...

class GetVaultStakeResponse(_message.Message):
    __slots__ = ("stake",)
    STAKE_FIELD_NUMBER: _ClassVar[int]
    stake: VaultStake
    def __init__(self, stake: _Optional[_Union[VaultStake, _Mapping]] = ...) -> None: ...

class FundVaultRequest(_message.Message):
    __slots__ = ("amount_wei", "idempotency_key")
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    amount_wei: str
    idempotency_key: str
    def __init__(self, amount_wei: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class FundVaultResponse(_message.Message):
    __slots__ = ("transaction", "vault")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    VAULT_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    vault: GetVaultResponse
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., vault: _Optional[_Union[GetVaultResponse, _Mapping]] = ...) -> None: ...

class PrepareFundVaultRequest(_message.Message):
    __slots__ = ("funder", "amount_wei")
    FUNDER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    funder: str
    amount_wei: str
    def __init__(self, funder: _Optional[str] = ..., amount_wei: _Optional[str] = ...) -> None: ...

class PrepareFundVaultResponse(_message.Message):
    __slots__ = ("prepared",)
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    prepared: PrepareTransactionResponse
    def __init__(self, prepared: _Optional[_Union[PrepareTransactionResponse, _Mapping]] = ...) -> None: ...
