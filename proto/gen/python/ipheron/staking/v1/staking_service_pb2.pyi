import datetime

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

class StakeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAKE_STATUS_UNSPECIFIED: _ClassVar[StakeStatus]
    STAKE_STATUS_ACTIVE: _ClassVar[StakeStatus]
    STAKE_STATUS_MATURED: _ClassVar[StakeStatus]
    STAKE_STATUS_CLOSED: _ClassVar[StakeStatus]
    STAKE_STATUS_PENDING: _ClassVar[StakeStatus]
    STAKE_STATUS_FAILED: _ClassVar[StakeStatus]

class StakeTransactionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAKE_TRANSACTION_KIND_UNSPECIFIED: _ClassVar[StakeTransactionKind]
    STAKE_TRANSACTION_KIND_OPEN: _ClassVar[StakeTransactionKind]
    STAKE_TRANSACTION_KIND_CLAIM: _ClassVar[StakeTransactionKind]
    STAKE_TRANSACTION_KIND_UNSTAKE: _ClassVar[StakeTransactionKind]
STAKE_STATUS_UNSPECIFIED: StakeStatus
STAKE_STATUS_ACTIVE: StakeStatus
STAKE_STATUS_MATURED: StakeStatus
STAKE_STATUS_CLOSED: StakeStatus
STAKE_STATUS_PENDING: StakeStatus
STAKE_STATUS_FAILED: StakeStatus
STAKE_TRANSACTION_KIND_UNSPECIFIED: StakeTransactionKind
STAKE_TRANSACTION_KIND_OPEN: StakeTransactionKind
STAKE_TRANSACTION_KIND_CLAIM: StakeTransactionKind
STAKE_TRANSACTION_KIND_UNSTAKE: StakeTransactionKind

class SignedQuote(_message.Message):
    __slots__ = ("quote_json", "typed_data_json", "signature", "quote_hash", "amount_wei", "apr_bps", "duration_seconds", "expires_at", "token_id", "reservation_wei", "quote_signer", "vault_address")
    QUOTE_JSON_FIELD_NUMBER: _ClassVar[int]
    TYPED_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_HASH_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    APR_BPS_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_WEI_FIELD_NUMBER: _ClassVar[int]
    QUOTE_SIGNER_FIELD_NUMBER: _ClassVar[int]
    VAULT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    quote_json: str
    typed_data_json: str
    signature: str
    quote_hash: str
    amount_wei: str
    apr_bps: int
    duration_seconds: int
    expires_at: _timestamp_pb2.Timestamp
    token_id: int
    reservation_wei: str
    quote_signer: str
    vault_address: str
    def __init__(self, quote_json: _Optional[str] = ..., typed_data_json: _Optional[str] = ..., signature: _Optional[str] = ..., quote_hash: _Optional[str] = ..., amount_wei: _Optional[str] = ..., apr_bps: _Optional[int] = ..., duration_seconds: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., token_id: _Optional[int] = ..., reservation_wei: _Optional[str] = ..., quote_signer: _Optional[str] = ..., vault_address: _Optional[str] = ...) -> None: ...

class FundsShortfall(_message.Message):
    __slots__ = ("required_wei", "available_wei", "shortfall_wei")
    REQUIRED_WEI_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_WEI_FIELD_NUMBER: _ClassVar[int]
    SHORTFALL_WEI_FIELD_NUMBER: _ClassVar[int]
    required_wei: str
    available_wei: str
    shortfall_wei: str
    def __init__(self, required_wei: _Optional[str] = ..., available_wei: _Optional[str] = ..., shortfall_wei: _Optional[str] = ...) -> None: ...

class PoolCapacity(_message.Message):
    __slots__ = ("reservation_wei", "pool_free_wei")
    RESERVATION_WEI_FIELD_NUMBER: _ClassVar[int]
    POOL_FREE_WEI_FIELD_NUMBER: _ClassVar[int]
    reservation_wei: str
    pool_free_wei: str
    def __init__(self, reservation_wei: _Optional[str] = ..., pool_free_wei: _Optional[str] = ...) -> None: ...

class AprComponent(_message.Message):
    __slots__ = ("rule", "rate", "explanation")
    RULE_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    rule: str
    rate: str
    explanation: str
    def __init__(self, rule: _Optional[str] = ..., rate: _Optional[str] = ..., explanation: _Optional[str] = ...) -> None: ...

class Stake(_message.Message):
    __slots__ = ("id", "user_id", "asset_id", "amount", "duration_days", "apr", "start_time", "end_time", "status", "total_rewards_earned", "rewards_claimed", "claimable_rewards", "expected_total_rewards", "last_reward_calculation", "as_of", "closed_at", "penalty", "payout", "created_at", "wallet", "vault_stake_id", "token_id", "amount_wei", "apr_bps", "reward_wei", "claimed_wei", "tx_hash", "transaction", "expires_at", "quote_hash", "failure_reason", "origin")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    APR_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REWARDS_EARNED_FIELD_NUMBER: _ClassVar[int]
    REWARDS_CLAIMED_FIELD_NUMBER: _ClassVar[int]
    CLAIMABLE_REWARDS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_TOTAL_REWARDS_FIELD_NUMBER: _ClassVar[int]
    LAST_REWARD_CALCULATION_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    PENALTY_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    VAULT_STAKE_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_WEI_FIELD_NUMBER: _ClassVar[int]
    APR_BPS_FIELD_NUMBER: _ClassVar[int]
    REWARD_WEI_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_WEI_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    QUOTE_HASH_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    asset_id: str
    amount: _common_pb2.Money
    duration_days: int
    apr: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    status: StakeStatus
    total_rewards_earned: str
    rewards_claimed: str
    claimable_rewards: str
    expected_total_rewards: str
    last_reward_calculation: _timestamp_pb2.Timestamp
    as_of: _timestamp_pb2.Timestamp
    closed_at: _timestamp_pb2.Timestamp
    penalty: str
    payout: str
    created_at: _timestamp_pb2.Timestamp
    wallet: str
    vault_stake_id: int
    token_id: int
    amount_wei: str
    apr_bps: int
    reward_wei: str
    claimed_wei: str
    tx_hash: str
    transaction: _chain_service_pb2.PreparedTransaction
    expires_at: _timestamp_pb2.Timestamp
    quote_hash: str
    failure_reason: str
    origin: str
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., duration_days: _Optional[int] = ..., apr: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[StakeStatus, str]] = ..., total_rewards_earned: _Optional[str] = ..., rewards_claimed: _Optional[str] = ..., claimable_rewards: _Optional[str] = ..., expected_total_rewards: _Optional[str] = ..., last_reward_calculation: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., penalty: _Optional[str] = ..., payout: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., wallet: _Optional[str] = ..., vault_stake_id: _Optional[int] = ..., token_id: _Optional[int] = ..., amount_wei: _Optional[str] = ..., apr_bps: _Optional[int] = ..., reward_wei: _Optional[str] = ..., claimed_wei: _Optional[str] = ..., tx_hash: _Optional[str] = ..., transaction: _Optional[_Union[_chain_service_pb2.PreparedTransaction, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quote_hash: _Optional[str] = ..., failure_reason: _Optional[str] = ..., origin: _Optional[str] = ...) -> None: ...

class GetQuoteRequest(_message.Message):
    __slots__ = ("asset_id", "amount", "duration_days", "staker")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    STAKER_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    amount: str
    duration_days: int
    staker: str
    def __init__(self, asset_id: _Optional[str] = ..., amount: _Optional[str] = ..., duration_days: _Optional[int] = ..., staker: _Optional[str] = ...) -> None: ...

class GetQuoteResponse(_message.Message):
    __slots__ = ("asset_id", "amount", "duration_days", "apr", "apr_components", "expected_rewards", "early_unstake_penalty_rate", "start_time", "end_time", "allowed_durations", "signed_quote")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    APR_FIELD_NUMBER: _ClassVar[int]
    APR_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REWARDS_FIELD_NUMBER: _ClassVar[int]
    EARLY_UNSTAKE_PENALTY_RATE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_DURATIONS_FIELD_NUMBER: _ClassVar[int]
    SIGNED_QUOTE_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    amount: _common_pb2.Money
    duration_days: int
    apr: str
    apr_components: _containers.RepeatedCompositeFieldContainer[AprComponent]
    expected_rewards: str
    early_unstake_penalty_rate: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    allowed_durations: _containers.RepeatedScalarFieldContainer[int]
    signed_quote: SignedQuote
    def __init__(self, asset_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., duration_days: _Optional[int] = ..., apr: _Optional[str] = ..., apr_components: _Optional[_Iterable[_Union[AprComponent, _Mapping]]] = ..., expected_rewards: _Optional[str] = ..., early_unstake_penalty_rate: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., allowed_durations: _Optional[_Iterable[int]] = ..., signed_quote: _Optional[_Union[SignedQuote, _Mapping]] = ...) -> None: ...

class OpenStakeRequest(_message.Message):
    __slots__ = ("user_id", "asset_id", "amount", "duration_days", "idempotency_key", "wallet")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    asset_id: str
    amount: str
    duration_days: int
    idempotency_key: str
    wallet: str
    def __init__(self, user_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., amount: _Optional[str] = ..., duration_days: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., wallet: _Optional[str] = ...) -> None: ...

class OpenStakeResponse(_message.Message):
    __slots__ = ("stake", "apr_components", "replayed", "insufficient_funds", "pool_capacity", "signed_quote")
    STAKE_FIELD_NUMBER: _ClassVar[int]
    APR_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    INSUFFICIENT_FUNDS_FIELD_NUMBER: _ClassVar[int]
    POOL_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    SIGNED_QUOTE_FIELD_NUMBER: _ClassVar[int]
    stake: Stake
    apr_components: _containers.RepeatedCompositeFieldContainer[AprComponent]
    replayed: bool
    insufficient_funds: FundsShortfall
    pool_capacity: PoolCapacity
    signed_quote: SignedQuote
    def __init__(self, stake: _Optional[_Union[Stake, _Mapping]] = ..., apr_components: _Optional[_Iterable[_Union[AprComponent, _Mapping]]] = ..., replayed: _Optional[bool] = ..., insufficient_funds: _Optional[_Union[FundsShortfall, _Mapping]] = ..., pool_capacity: _Optional[_Union[PoolCapacity, _Mapping]] = ..., signed_quote: _Optional[_Union[SignedQuote, _Mapping]] = ...) -> None: ...

class GetStakeRequest(_message.Message):
    __slots__ = ("stake_id", "user_id", "wallet")
    STAKE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    stake_id: str
    user_id: str
    wallet: str
    def __init__(self, stake_id: _Optional[str] = ..., user_id: _Optional[str] = ..., wallet: _Optional[str] = ...) -> None: ...

class GetStakeResponse(_message.Message):
    __slots__ = ("stake",)
    STAKE_FIELD_NUMBER: _ClassVar[int]
    stake: Stake
    def __init__(self, stake: _Optional[_Union[Stake, _Mapping]] = ...) -> None: ...

class ListStakesRequest(_message.Message):
    __slots__ = ("user_id", "status", "asset_id", "page", "wallet")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    status: StakeStatus
    asset_id: str
    page: _common_pb2.PageRequest
    wallet: str
    def __init__(self, user_id: _Optional[str] = ..., status: _Optional[_Union[StakeStatus, str]] = ..., asset_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., wallet: _Optional[str] = ...) -> None: ...

class ListStakesResponse(_message.Message):
    __slots__ = ("stakes", "page_info")
    STAKES_FIELD_NUMBER: _ClassVar[int]
    PAGE_INFO_FIELD_NUMBER: _ClassVar[int]
    stakes: _containers.RepeatedCompositeFieldContainer[Stake]
    page_info: _common_pb2.PageInfo
    def __init__(self, stakes: _Optional[_Iterable[_Union[Stake, _Mapping]]] = ..., page_info: _Optional[_Union[_common_pb2.PageInfo, _Mapping]] = ...) -> None: ...

class ClaimRewardsRequest(_message.Message):
    __slots__ = ("stake_id", "user_id", "idempotency_key", "wallet")
    STAKE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    stake_id: str
    user_id: str
    idempotency_key: str
    wallet: str
    def __init__(self, stake_id: _Optional[str] = ..., user_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., wallet: _Optional[str] = ...) -> None: ...

class ClaimRewardsResponse(_message.Message):
    __slots__ = ("stake", "claimed", "replayed", "transaction", "insufficient_funds", "claimed_wei")
    STAKE_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    INSUFFICIENT_FUNDS_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_WEI_FIELD_NUMBER: _ClassVar[int]
    stake: Stake
    claimed: str
    replayed: bool
    transaction: _chain_service_pb2.PreparedTransaction
    insufficient_funds: FundsShortfall
    claimed_wei: str
    def __init__(self, stake: _Optional[_Union[Stake, _Mapping]] = ..., claimed: _Optional[str] = ..., replayed: _Optional[bool] = ..., transaction: _Optional[_Union[_chain_service_pb2.PreparedTransaction, _Mapping]] = ..., insufficient_funds: _Optional[_Union[FundsShortfall, _Mapping]] = ..., claimed_wei: _Optional[str] = ...) -> None: ...

class UnstakeRequest(_message.Message):
    __slots__ = ("stake_id", "user_id", "idempotency_key", "wallet")
    STAKE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    stake_id: str
    user_id: str
    idempotency_key: str
    wallet: str
    def __init__(self, stake_id: _Optional[str] = ..., user_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., wallet: _Optional[str] = ...) -> None: ...

class UnstakeResponse(_message.Message):
    __slots__ = ("stake", "early", "principal_returned", "rewards_paid", "rewards_forfeited", "penalty", "payout", "replayed", "transaction", "insufficient_funds", "payout_wei", "penalty_wei")
    STAKE_FIELD_NUMBER: _ClassVar[int]
    EARLY_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_RETURNED_FIELD_NUMBER: _ClassVar[int]
    REWARDS_PAID_FIELD_NUMBER: _ClassVar[int]
    REWARDS_FORFEITED_FIELD_NUMBER: _ClassVar[int]
    PENALTY_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    INSUFFICIENT_FUNDS_FIELD_NUMBER: _ClassVar[int]
    PAYOUT_WEI_FIELD_NUMBER: _ClassVar[int]
    PENALTY_WEI_FIELD_NUMBER: _ClassVar[int]
    stake: Stake
    early: bool
    principal_returned: str
    rewards_paid: str
    rewards_forfeited: str
    penalty: str
    payout: str
    replayed: bool
    transaction: _chain_service_pb2.PreparedTransaction
    insufficient_funds: FundsShortfall
    payout_wei: str
    penalty_wei: str
    def __init__(self, stake: _Optional[_Union[Stake, _Mapping]] = ..., early: _Optional[bool] = ..., principal_returned: _Optional[str] = ..., rewards_paid: _Optional[str] = ..., rewards_forfeited: _Optional[str] = ..., penalty: _Optional[str] = ..., payout: _Optional[str] = ..., replayed: _Optional[bool] = ..., transaction: _Optional[_Union[_chain_service_pb2.PreparedTransaction, _Mapping]] = ..., insufficient_funds: _Optional[_Union[FundsShortfall, _Mapping]] = ..., payout_wei: _Optional[str] = ..., penalty_wei: _Optional[str] = ...) -> None: ...

class SubmitStakeTransactionRequest(_message.Message):
    __slots__ = ("stake_id", "user_id", "wallet", "kind", "raw_transaction", "tx_hash")
    STAKE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RAW_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    stake_id: str
    user_id: str
    wallet: str
    kind: StakeTransactionKind
    raw_transaction: str
    tx_hash: str
    def __init__(self, stake_id: _Optional[str] = ..., user_id: _Optional[str] = ..., wallet: _Optional[str] = ..., kind: _Optional[_Union[StakeTransactionKind, str]] = ..., raw_transaction: _Optional[str] = ..., tx_hash: _Optional[str] = ...) -> None: ...

class SubmitStakeTransactionResponse(_message.Message):
    __slots__ = ("stake", "tx_hash", "already_submitted")
    STAKE_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    ALREADY_SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    stake: Stake
    tx_hash: str
    already_submitted: bool
    def __init__(self, stake: _Optional[_Union[Stake, _Mapping]] = ..., tx_hash: _Optional[str] = ..., already_submitted: _Optional[bool] = ...) -> None: ...
