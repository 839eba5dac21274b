"""The chain service's rules over frozen records, with no I/O: what a valid request is
(addresses, hashes, wei, mint shares), how a royalty splits, what an earlier attempt with
the same idempotency key means, what counts as on-chain history, the fee policy, and what
a contract's custom error means to a client.

The ledger (contracts on chain), the transaction manager and the repository do the I/O;
`ChainService` (service.py) loads, asks these rules, acts and saves.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_account.typed_transactions import TypedTransaction
from eth_typing import ChecksumAddress
from eth_utils import keccak
from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes
from ipheron_libs import wire
from ipheron_libs.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)

from chain_service.orders import Order

TOTAL_SHARES_BPS = 10_000
MAX_CO_CREATORS = 20
MAX_ROYALTY_BPS = 5_000
MAX_URI_LENGTH = 2048
MAX_WITHDRAW_BATCH = 100
MAX_IDEMPOTENCY_KEY = 200
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
UINT256_MAX = 2**256 - 1
EIP1271_MAGIC = bytes.fromhex("1626ba7e")
ZERO_ADDRESS = "0x" + "0" * 40

# Transaction types and statuses as stored (the servicer maps them onto the proto enums).
PENDING, CONFIRMED, FAILED, REPLACED = "pending", "confirmed", "failed", "replaced"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Transaction:
    """One transaction the platform signer sent, with its outcome (the provenance source)."""

    tx_hash: str
    chain_id: int
    from_address: str
    to_address: str | None
    nonce: int
    type: str
    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    status: str = PENDING
    asset_id: uuid.UUID | None = None
    token_id: int | None = None
    counterparty: str | None = None
    amount_wei: int = 0
    gas_used: int | None = None
    gas_price_wei: int | None = None
    block_number: int | None = None
    block_hash: str | None = None
    block_time: dt.datetime | None = None
    error: str | None = None
    replaced_by: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class Mined:
    """What a receipt says about a mined transaction, as recorded."""

    succeeded: bool
    gas_used: int
    gas_price_wei: int
    block_number: int
    block_hash: str
    block_time: dt.datetime
    error: str | None = None

    @property
    def status(self) -> str:
        return CONFIRMED if self.succeeded else FAILED


@dataclass(frozen=True)
class DecodedEvent:
    """A platform contract's event in a receipt."""

    name: str
    address: str
    args: Mapping[str, object]
    log_index: int

    def int_arg(self, name: str) -> int:
        value = self.args[name]
        if not isinstance(value, int):
            raise TypeError(f"event {self.name}.{name} is not an integer")
        return value

    def address_arg(self, name: str) -> ChecksumAddress:
        value = self.args[name]
        if not isinstance(value, str):
            raise TypeError(f"event {self.name}.{name} is not an address")
        return to_checksum_address(value)


@dataclass(frozen=True)
class Receipt:
    """A transaction receipt as clients see it."""

    succeeded: bool
    block_hash: str
    block_number: int
    gas_used: int
    effective_gas_price_wei: int
    contract_address: str


@dataclass(frozen=True)
class TxView:
    """A transaction record plus what the chain says about it now."""

    record: Transaction
    events: tuple[DecodedEvent, ...] = ()
    confirmations: int = 0
    receipt: Receipt | None = None


class Share(NamedTuple):
    """A co-creator and its share of the royalty in basis points."""

    address: str
    bps: int


class Credit(NamedTuple):
    """An amount of wei credited to an address."""

    address: str
    amount_wei: int


class Payout(NamedTuple):
    """Who a sale credited, how much, and why ("seller" or "royalty")."""

    address: str
    amount_wei: int
    kind: str


class Listing(NamedTuple):
    seller: str
    price_wei: int


class Balance(NamedTuple):
    address: str
    pending_withdrawal_wei: int
    native_balance_wei: int


class RoyaltyQuote(NamedTuple):
    """EIP-2981 for one sale price, and how the royalty splits among co-creators."""

    receiver: str
    royalty_wei: int
    split: list[Credit]
    seller_proceeds_wei: int


class WithdrawalResult(NamedTuple):
    address: str
    amount_wei: int
    succeeded: bool


class SignatureCheck(NamedTuple):
    valid: bool
    method: str
    recovered_address: str


class TxPage(NamedTuple):
    items: list[TxView]
    total: int
    page: int
    per_page: int


class PageWindow(NamedTuple):
    page: int
    per_page: int
    offset: int


class Fees(NamedTuple):
    """EIP-1559 fees per gas, in wei."""

    max_fee: int
    priority_fee: int


class JournalItem(NamedTuple):
    """A journaled raw transaction of the embedded chain, with the time of its block."""

    seq: int
    raw_tx: bytes
    block_timestamp: int
    # The block it went into; None for entries from before blocks held several transactions.
    block_number: int | None = None


@dataclass(frozen=True)
class ChainSnapshot:
    """The embedded chain's database after journal entry `journal_seq`."""

    id: int
    journal_seq: int
    head_block: int
    state_root: str
    data: bytes


@dataclass(frozen=True)
class MintOrder:
    """A validated mint request."""

    asset_id: uuid.UUID
    owner: ChecksumAddress
    uri: str
    co_creators: tuple[Share, ...]
    royalty_bps: int

    @property
    def details(self) -> dict[str, object]:
        """What the transaction record keeps about the mint."""
        return {"token_uri": self.uri, "royalty_bps": self.royalty_bps,
                "co_creators": [[s.address, s.bps] for s in self.co_creators]}


@dataclass(frozen=True)
class MintResult:
    token_id: int
    contract_address: str
    tx: TxView
    already_minted: bool


@dataclass(frozen=True)
class BuyResult:
    tx: TxView
    payouts: list[Payout]
    seller: str
    royalty: int


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    asset_id: str
    owner: str
    uri: str
    co_creators: list[Share]
    royalty_bps: int
    listing: Listing | None
    contract_address: str


@dataclass(frozen=True)
class NetworkStatus:
    chain_id: int
    latest_block: int
    gas_price: int
    base_fee: int
    token_address: str
    marketplace_address: str
    signer_address: str
    signer_balance: int
    network: str
    healthy: bool
    journaled: int


@dataclass(frozen=True)
class Prepared:
    """A call prepared for a user's own wallet to sign (the JSON-RPC fields)."""

    from_address: ChecksumAddress
    to: ChecksumAddress | None
    data: str
    value: int
    chain_id: int
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    nonce: int

    def as_json_rpc(self) -> dict[str, object]:
        """The transaction object a wallet signs (numbers as integers)."""
        return {"from": self.from_address, "to": self.to, "data": self.data, "value": self.value,
                "chainId": self.chain_id, "gas": self.gas, "maxFeePerGas": self.max_fee_per_gas,
                "maxPriorityFeePerGas": self.max_priority_fee_per_gas, "nonce": self.nonce}


@dataclass(frozen=True)
class Affordability:
    """Whether `from` can pay value + gas × maxFeePerGas."""

    balance: int
    required: int

    @property
    def can_pay(self) -> bool:
        return self.balance >= self.required

    @property
    def shortfall(self) -> int:
        return max(self.required - self.balance, 0)


@dataclass(frozen=True)
class PreparedCall:
    tx: Prepared
    funds: Affordability
    gas_estimated_without_funds: bool = False


@dataclass(frozen=True)
class RawTx:
    """A decoded signed transaction and its recovered sender."""

    tx_hash: str
    sender: ChecksumAddress
    type: int
    chain_id: int
    nonce: int
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    to: ChecksumAddress | None
    value: int
    data: str


@dataclass(frozen=True)
class Submitted:
    tx: TxView
    already_submitted: bool


@dataclass(frozen=True)
class Revert:
    """A decoded revert: a custom error, an Error(string) reason or a panic."""

    name: str
    args: Mapping[str, object]

    def __str__(self) -> str:
        if not self.args:
            return self.name
        inner = ", ".join(f"{k}={_show(v)}" for k, v in self.args.items())
        return f"{self.name}({inner})"


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


# --------------------------------------------------------------------------- validation


def parse_amount_wei(value: str, field_name: str, *, positive: bool = True) -> int:
    """A wei amount from a decimal string of digits; floats, signs and > uint256 are refused."""
    try:
        amount = wire.parse_wei(value, field_name)
    except InvalidArgument:
        raise InvalidArgument(f"{field_name} must be a whole number of wei as a decimal string",
                              field=field_name) from None
    if amount > UINT256_MAX:
        raise InvalidArgument(f"{field_name} exceeds uint256", field=field_name)
    if positive and amount == 0:
        raise InvalidArgument(f"{field_name} must be greater than zero", field=field_name)
    return amount


@functools.lru_cache(maxsize=8192)
def checksum_address(value: str | bytes) -> ChecksumAddress:
    """`to_checksum_address`, remembered: the platform's addresses recur in every purchase's
    logs and calls, and each checksum is a keccak and a pass over the hex digits."""
    return to_checksum_address(value)


def parse_address(value: str, field_name: str) -> ChecksumAddress:
    """A checksummed address; a mixed-case address with a wrong checksum, or zero, is refused."""
    if not value or not is_address(value):
        raise InvalidArgument(f"{field_name} is not a valid address", field=field_name)
    checksummed = to_checksum_address(value)
    digits = value.removeprefix("0x").removeprefix("0X")
    # eth_utils' is_address accepts any mixed case; EIP-55 says mixed case *is* a checksum.
    if digits not in (digits.lower(), digits.upper()) and value != checksummed:
        raise InvalidArgument(f"{field_name} has an invalid EIP-55 checksum", field=field_name)
    if checksummed == ZERO_ADDRESS:
        raise InvalidArgument(f"{field_name} must not be the zero address", field=field_name)
    return checksummed


def parse_asset_id(value: str, field_name: str = "asset_id") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(f"{field_name} must be a UUID", field=field_name) from None


def parse_tx_hash(value: str) -> str:
    """A 0x-prefixed 32-byte hex hash, lower-cased (the stored form)."""
    h = (value or "").strip().lower()
    if len(h) != 66 or not h.startswith("0x"):
        raise InvalidArgument("tx_hash must be a 0x-prefixed 32-byte hex string", field="tx_hash")
    try:
        bytes.fromhex(h[2:])
    except ValueError:
        raise InvalidArgument("tx_hash must be hex", field="tx_hash") from None
    return h


def parse_idempotency_key(value: str, *, required: bool) -> str:
    """A trimmed idempotency key of at most 200 characters ("" when optional and absent)."""
    key = (value or "").strip()
    if required and (not key or len(key) > MAX_IDEMPOTENCY_KEY):
        raise InvalidArgument("idempotency_key is required (1..200 characters)", field="idempotency_key")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument("idempotency_key is at most 200 characters", field="idempotency_key")
    return key


def validate_mint(asset_id: str, owner: str, uri: str, co_creators: Sequence[tuple[str, int]],
                  royalty_bps: int) -> MintOrder:
    """Every mint rule the contract enforces, checked before any transaction is sent."""
    asset = parse_asset_id(asset_id)
    owner_addr = parse_address(owner, "owner_address")
    if len(uri) > MAX_URI_LENGTH:
        raise InvalidArgument(f"token_uri is longer than {MAX_URI_LENGTH} characters", field="token_uri")
    if not co_creators:
        raise InvalidArgument("at least one co-creator is required", field="co_creators")
    if len(co_creators) > MAX_CO_CREATORS:
        raise InvalidArgument(f"at most {MAX_CO_CREATORS} co-creators", field="co_creators")
    creators = tuple(Share(parse_address(a, "co_creators.address"), int(bps)) for a, bps in co_creators)
    if len({s.address for s in creators}) != len(creators):
        raise InvalidArgument("co-creator addresses must be distinct", field="co_creators")
    if any(s.bps <= 0 for s in creators):
        raise InvalidArgument("every co-creator share must be positive", field="co_creators")
    total = sum(s.bps for s in creators)
    if total != TOTAL_SHARES_BPS:
        raise InvalidArgument(f"co-creator shares must sum to 10000 bps, got {total}", field="co_creators")
    if not 0 <= royalty_bps <= MAX_ROYALTY_BPS:
        raise InvalidArgument(f"royalty_bps must be within 0..{MAX_ROYALTY_BPS}", field="royalty_bps")
    return MintOrder(asset, owner_addr, uri, creators, royalty_bps)


def validate_payees(payees: Sequence[str]) -> list[ChecksumAddress]:
    """1..100 valid payee addresses, duplicates dropped (first occurrence kept)."""
    if not payees:
        raise InvalidArgument("at least one payee is required", field="payees")
    if len(payees) > MAX_WITHDRAW_BATCH:
        raise InvalidArgument(f"at most {MAX_WITHDRAW_BATCH} payees per withdrawal", field="payees")
    return list(dict.fromkeys(parse_address(p, "payees") for p in payees))


def check_token_asset(token_id: int, actual: uuid.UUID, claimed: str) -> None:
    """A purchase naming an asset must name the asset the token was minted for."""
    if claimed and parse_asset_id(claimed) != actual:
        raise InvalidArgument(f"token {token_id} belongs to asset {actual}, not {claimed}", field="asset_id")


def withdrawal_amount(pending: Sequence[int]) -> int:
    """What a withdrawal will pay; refused when no payee has anything pending."""
    if not any(pending):
        raise FailedPrecondition("no payee has a pending balance to withdraw")
    return sum(pending)


def page_window(page: int, per_page: int) -> PageWindow:
    """Page 1.. and 1..100 per page (0 means the default); the row offset of that page."""
    page = max(page or 1, 1)
    per_page = min(max(per_page or DEFAULT_PER_PAGE, 1), MAX_PER_PAGE)
    return PageWindow(page, per_page, (page - 1) * per_page)


def signed_hash(message: bytes | None, digest: bytes | None) -> bytes:
    """The 32-byte hash a signature covers: the digest as given, or the EIP-191 hash of the message."""
    if message is None and digest is None:
        raise InvalidArgument("message or digest is required", field="message")
    if digest is not None:
        if len(digest) != 32:
            raise InvalidArgument("digest must be 32 bytes", field="digest")
        return digest
    return bytes(_hash_eip191_message(encode_defunct(primitive=message)))


def ecdsa_check(address: str, hash32: bytes, signature: bytes) -> SignatureCheck:
    """Whether an account's key signed `hash32` (a malformed signature is simply invalid)."""
    try:
        recovered = str(Account._recover_hash(hash32, signature=signature))
    except Exception:  # noqa: BLE001 - malformed signatures are invalid, not errors
        return SignatureCheck(False, "ecdsa", "")
    return SignatureCheck(recovered == address, "ecdsa", recovered)


# --------------------------------------------------------------------------- money


def royalty_split(royalty: int, shares: Sequence[tuple[str, int]]) -> list[Credit]:
    """Split a royalty by basis-point shares exactly as the Marketplace does: floor each
    part, the rounding remainder to the first co-creator."""
    parts = [royalty * bps // TOTAL_SHARES_BPS for _, bps in shares]
    parts[0] += royalty - sum(parts)
    return [Credit(addr, part) for (addr, _), part in zip(shares, parts, strict=True)]


def royalty_quote(sale_price: int, receiver: str, royalty: int, shares: Sequence[tuple[str, int]]) -> RoyaltyQuote:
    """What a sale at `sale_price` pays: the royalty split among co-creators, the rest to the seller."""
    return RoyaltyQuote(receiver, royalty, royalty_split(royalty, shares), sale_price - royalty)


def sale_of(events: Iterable[DecodedEvent]) -> tuple[list[Payout], str, int]:
    """(payouts, seller, royalty) from a sale's events."""
    payouts: list[Payout] = []
    seller, royalty = "", 0
    for e in events:
        if e.name == "SellerCredited":
            seller = e.address_arg("seller")
            payouts.append(Payout(seller, e.int_arg("amount"), "seller"))
        elif e.name == "RoyaltyCredited":
            payouts.append(Payout(e.address_arg("coCreator"), e.int_arg("amount"), "royalty"))
        elif e.name == "Sold":
            royalty = e.int_arg("royalty")
    return payouts, seller, royalty


def withdrawal_results(events: Iterable[DecodedEvent]) -> list[WithdrawalResult]:
    """Each payee of a withdrawal: paid (`Withdrawn`) or kept for later (`WithdrawalFailed`)."""
    return [WithdrawalResult(e.address_arg("payee"), e.int_arg("amount"), e.name == "Withdrawn")
            for e in events if e.name in ("Withdrawn", "WithdrawalFailed")]


def withdrawn_total(results: Iterable[WithdrawalResult]) -> int:
    """The wei a withdrawal actually paid out (failed payees keep theirs)."""
    return sum(r.amount_wei for r in results if r.succeeded)


# --------------------------------------------------------------------------- idempotency


def buy_request_hash(token_id: int, recipient: str, price_wei: int) -> str:
    """What makes two purchases "the same request" under one idempotency key."""
    return hashlib.sha256(f"{token_id}|{recipient}|{price_wei}".encode()).hexdigest()


def withdraw_request_hash(payees: Sequence[str]) -> str:
    return hashlib.sha256(("withdraw|" + ",".join(payees)).encode()).hexdigest()


class PriorAction(enum.Enum):
    """What to do about an earlier transaction recorded under the same idempotency key."""

    PROCEED = "proceed"  # no earlier attempt: send
    RELEASE = "release"  # it never reached a block, so it moved no money: free the key, then send
    AWAIT = "await"  # still in flight: wait for its outcome and answer with it
    ANSWER = "answer"  # mined: answer with it, send nothing


def prior_attempt_action(prior: Transaction | None, request_hash: str, what: str) -> PriorAction:
    """The idempotency rule. An attempt that never reached a block (rejected, or dropped in a
    crash) releases its key; otherwise the same key with a different request is
    ALREADY_EXISTS, one in flight is awaited and a mined one is the answer."""
    if prior is None:
        return PriorAction.PROCEED
    if prior.status == FAILED and prior.block_number is None:
        return PriorAction.RELEASE
    if prior.request_hash != request_hash:
        raise Conflict(f"idempotency_key was already used for a different {what}")
    if prior.status in (PENDING, REPLACED):
        return PriorAction.AWAIT
    return PriorAction.ANSWER


def foreign_mint_error(asset: uuid.UUID, token_id: int) -> DomainError:
    """An asset minted on chain with no confirmed mint of ours: someone else's signer did it."""
    return Conflict(f"asset {asset} is already minted as token {token_id} by another signer")


def failure_error(tx: Transaction, revert: Revert | None = None) -> DomainError | None:
    """The error a failed transaction answers with (its decoded revert when known); None if it did not fail."""
    if tx.status != FAILED:
        return None
    if revert is not None:
        return revert_to_error(revert)
    return FailedPrecondition(f"transaction {tx.tx_hash} failed: {tx.error or 'reverted'}")


# --------------------------------------------------------------------------- provenance


def is_provenance(tx: Transaction) -> bool:
    """Whether a record is part of on-chain history: replaced transactions and attempts that
    never reached a block (rejected or dropped) did not happen on chain. The repository's
    list query applies the same rule in SQL."""
    return tx.status != REPLACED and (tx.status != FAILED or tx.block_number is not None)


# --------------------------------------------------------------------------- fees and gas


def fees_for(base_fee: int, priority_fee: int) -> Fees:
    """EIP-1559: max fee = 2 x base fee + priority fee (survives a few full blocks)."""
    return Fees(2 * base_fee + priority_fee, priority_fee)


def bumped_fees(sent: Fees, now: Fees, bump_percent: int) -> Fees:
    """Fees for replacing a stuck transaction: at least `bump_percent` above what was sent
    (nodes refuse a replacement below +10 %) and never below the current market."""
    bump = 100 + bump_percent
    priority = max(sent.priority_fee * bump // 100 + 1, now.priority_fee)
    return Fees(max(sent.max_fee * bump // 100 + 1, now.max_fee, priority), priority)


def gas_with_margin(estimate: int, margin_percent: int) -> int:
    return estimate * (100 + margin_percent) // 100


def confirmations(latest_block: int, receipt_block: int) -> int:
    """Blocks on top of (and including) the one holding the transaction."""
    return latest_block - receipt_block + 1


def is_nonce_error(message: str) -> bool:
    """Whether a node refused a transaction because of its nonce (then resync and resend)."""
    text = message.lower()
    return "nonce" in text or "already known" in text or "replacement transaction underpriced" in text


def deployment_identity(code_hash: str, *constructor_args: str) -> str:
    """A deployment is reused only for the same code AND the same constructor arguments (the
    marketplace is bound to one token and one timelock, the timelock to a delay and a signer)."""
    return hashlib.sha256("|".join((code_hash, *constructor_args)).encode()).hexdigest()


# --------------------------------------------------------------------------- user-signed transactions

# The faucet (development chain only) pays at most this per call.
MAX_FAUCET_WEI = 100 * 10**18
# Gas offered when the node cannot estimate because the sender cannot pay (the caller then
# answers "cannot pay" anyway; the figure only sizes the shortfall).
UNFUNDED_GAS_ESTIMATE = 300_000


def parse_call_data(value: str, field_name: str = "data") -> str:
    """0x-prefixed hex call data, lower-cased ("" → "0x")."""
    data = (value or "0x").strip()
    if not data.startswith("0x") or len(data) % 2:
        raise InvalidArgument(f"{field_name} must be 0x-prefixed hex of whole bytes", field=field_name)
    try:
        bytes.fromhex(data[2:])
    except ValueError:
        raise InvalidArgument(f"{field_name} must be hex", field=field_name) from None
    return data.lower()


# What a user-submitted transaction may be recorded as.
USER_TX_TYPES = frozenset({"user_call", "buy", "cancel", "withdraw", "list", "unlist", "transfer",
                           "native_transfer", "stake", "stake_claim", "unstake", "vault_fund"})


def parse_prepared(from_address: str, to: str, data: str, value_wei: str, chain_id: int, gas: int,
                   max_fee_wei: str, priority_fee_wei: str, nonce: int, *, call_only: bool = False) -> Prepared:
    """The prepared fields a submission is checked against (as PrepareTransaction answered them).
    With `call_only` (only the call is checked) gas and fees may be left out."""
    if call_only:
        max_fee_wei = max_fee_wei or "0"
    elif gas <= 0:
        raise InvalidArgument("expected.gas is required", field="expected.gas")
    return Prepared(
        from_address=parse_address(from_address, "expected.from_address"),
        to=parse_address(to, "expected.to") if to else None,
        data=parse_call_data(data, "expected.data"),
        value=parse_amount_wei(value_wei or "0", "expected.value_wei", positive=False),
        chain_id=chain_id, gas=gas,
        max_fee_per_gas=parse_amount_wei(max_fee_wei, "expected.max_fee_per_gas_wei", positive=False),
        max_priority_fee_per_gas=parse_amount_wei(priority_fee_wei or "0", "expected.max_priority_fee_per_gas_wei",
                                                  positive=False),
        nonce=nonce)


def user_tx_type(value: str) -> str:
    type_ = value or "user_call"
    if type_ not in USER_TX_TYPES:
        raise InvalidArgument(f"a user-signed transaction cannot be recorded as {type_!r}", field="type")
    return type_


def affordability(balance: int, value: int, gas: int, max_fee_per_gas: int) -> Affordability:
    """A node accepts a transaction only if the sender holds value + gas × maxFeePerGas."""
    return Affordability(balance, value + gas * max_fee_per_gas)


def decode_raw_transaction(raw: str) -> RawTx:
    """A 0x-hex signed EIP-1559 transaction, decoded, with its sender recovered."""
    text = (raw or "").strip()
    try:
        blob = HexBytes(text) if text.startswith("0x") else None
    except ValueError:
        blob = None
    if not blob:
        raise InvalidArgument("raw_transaction must be 0x-prefixed hex", field="raw_transaction")
    if blob[0] != 2:
        raise InvalidArgument("raw_transaction must be an EIP-1559 (type 2) transaction", field="raw_transaction")
    try:
        # Decoded once: `Account.recover_transaction` would decode the same bytes again.
        typed = TypedTransaction.from_bytes(blob)
        fields = typed.as_dict()
        sender = to_checksum_address(Account._recover_hash(typed.hash(), vrs=typed.vrs()))
    except Exception:  # noqa: BLE001 - any decoding failure is the caller's bad input
        raise InvalidArgument("raw_transaction is not a valid signed transaction", field="raw_transaction") from None
    to_raw = fields.get("to") or b""
    return RawTx(
        tx_hash="0x" + bytes(keccak(bytes(blob))).hex(), sender=sender, type=2, chain_id=int(fields["chainId"]),
        nonce=int(fields["nonce"]), gas=int(fields["gas"]), max_fee_per_gas=int(fields["maxFeePerGas"]),
        max_priority_fee_per_gas=int(fields["maxPriorityFeePerGas"]),
        to=to_checksum_address(bytes(to_raw)) if to_raw else None, value=int(fields["value"]),
        data="0x" + bytes(fields.get("data") or b"").hex())


def check_submission(raw: RawTx, expected: Prepared, *, call_only: bool = False) -> None:
    """A user-signed transaction must be exactly the prepared call: same to, data, value and
    chain (INVALID_ARGUMENT), signed by the expected wallet (PERMISSION_DENIED), the prepared
    nonce, and gas and fees no higher than prepared (INVALID_ARGUMENT). With `call_only` the
    nonce, gas and fees are the wallet's own choice (as for a tracked transaction)."""
    if raw.chain_id != expected.chain_id:
        raise InvalidArgument(f"the transaction is for chain {raw.chain_id}, not {expected.chain_id}",
                              field="raw_transaction")
    if raw.to != expected.to:
        raise InvalidArgument(f"the transaction goes to {raw.to}, not the prepared {expected.to}",
                              field="raw_transaction")
    if raw.data.lower() != expected.data.lower():
        raise InvalidArgument("the transaction's data is not the prepared call", field="raw_transaction")
    if raw.value != expected.value:
        raise InvalidArgument(f"the transaction sends {raw.value} wei, not the prepared {expected.value}",
                              field="raw_transaction")
    if raw.sender != expected.from_address:
        raise PermissionDenied(f"the transaction is signed by {raw.sender}, not {expected.from_address}")
    if call_only:
        return
    if raw.nonce != expected.nonce:
        raise InvalidArgument(f"the transaction's nonce {raw.nonce} is not the prepared {expected.nonce}",
                              field="raw_transaction")
    if raw.gas > expected.gas:
        raise InvalidArgument(f"gas {raw.gas} exceeds the prepared {expected.gas}", field="raw_transaction")
    if raw.max_fee_per_gas > expected.max_fee_per_gas or raw.max_priority_fee_per_gas > expected.max_fee_per_gas:
        raise InvalidArgument("the transaction's fees exceed the prepared maxFeePerGas", field="raw_transaction")


def user_tx_record(raw: RawTx, type_: str, asset_id: uuid.UUID | None, token_id: int | None) -> Transaction:
    """How a user-signed transaction is recorded (sent by the user, not the platform signer)."""
    return Transaction(
        tx_hash=raw.tx_hash, chain_id=raw.chain_id, from_address=raw.sender, to_address=raw.to, nonce=raw.nonce,
        type=type_, gas_limit=raw.gas, max_fee_per_gas=raw.max_fee_per_gas,
        max_priority_fee_per_gas=raw.max_priority_fee_per_gas, asset_id=asset_id, token_id=token_id,
        counterparty=raw.sender, amount_wei=raw.value, details={"sent_by": "user"})


def faucet_decision(embedded: bool, env: str, amount: int) -> None:
    """The faucet pays only on the embedded chain outside production, at most MAX_FAUCET_WEI."""
    if env == "production":
        raise PermissionDenied("the faucet does not exist in production")
    if not embedded:
        raise FailedPrecondition("the faucet pays only on the embedded development chain")
    if env not in ("development", "test"):
        raise FailedPrecondition(f"the faucet pays only in development or test (IPHERON_ENV={env})")
    if amount > MAX_FAUCET_WEI:
        raise InvalidArgument(f"amount_wei is at most {MAX_FAUCET_WEI} (100 ETH) per call", field="amount_wei")


# --------------------------------------------------------------------------- node errors


class NodeErrorKind(enum.Enum):
    """What a node's refusal of a call or transaction means."""

    REVERT = "revert"  # the contract refused (custom error, reason string or bare revert)
    EXECUTION = "execution"  # the node could not run the code (invalid opcode, stack error)
    FUNDS = "funds"  # the sender cannot pay value + gas
    NONCE = "nonce"  # the nonce was used or is out of order
    UNAVAILABLE = "unavailable"  # transport, timeout or an answer we cannot read


# How nodes word an execution error: py-evm "Invalid opcode 0xfe", hardhat/ganache
# "VM Exception while processing transaction: invalid opcode", geth "invalid opcode: MCOPY",
# anvil "NotActivated" / "OpcodeNotFound", erigon "stack underflow".
_EXECUTION_MARKERS = ("invalid opcode", "invalid instruction", "bad instruction", "opcodenotfound",
                      "notactivated", "stack underflow", "stack overflow", "invalid jump")


def node_error_kind(message: str) -> NodeErrorKind:
    """Classify a node's error message. An execution error wins over "revert", since nodes
    often wrap it as "execution reverted: … invalid opcode"."""
    text = message.lower()
    if any(m in text for m in _EXECUTION_MARKERS):
        return NodeErrorKind.EXECUTION
    if "revert" in text:
        return NodeErrorKind.REVERT
    if "vm exception" in text:
        return NodeErrorKind.EXECUTION
    if "insufficient funds" in text or "cannot afford" in text:
        return NodeErrorKind.FUNDS
    if is_nonce_error(text):
        return NodeErrorKind.NONCE
    return NodeErrorKind.UNAVAILABLE


def execution_error(message: str, evm_version: str) -> FailedPrecondition:
    """The node could not execute the contracts' code: most often its EVM predates the target
    the contracts were compiled for."""
    return FailedPrecondition(
        f"the chain node could not execute the contract code ({_first_line(message)}); "
        f"it probably runs an EVM older than the contracts' target ({evm_version})")


def _first_line(message: str, limit: int = 200) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "no message"
    return line[:limit]


def code_check_error(contract: str, address: str, call: str, message: str, evm_version: str) -> FailedPrecondition:
    """Start-up refusal: the node holds our contract but cannot run its view call."""
    kind = node_error_kind(message)
    cause = (f"the node's EVM is probably older than the contracts' target ({evm_version}): "
             "use a node with that fork or newer, or compile for an older target")
    if kind is NodeErrorKind.REVERT:
        cause = "the code at that address is not this contract (another deployment or an old version)"
    return FailedPrecondition(
        f"the chain node cannot run {contract} at {address}: {call} failed ({_first_line(message)}); {cause}")


# --------------------------------------------------------------------------- contract errors


def revert_to_error(rev: Revert) -> DomainError:
    """A contract's custom error → the typed error a client sees, with a clear message."""
    a = rev.args
    table: dict[str, Callable[[], DomainError]] = {
        "OrderAlreadyFilled": lambda: FailedPrecondition("the order has already been filled"),
        "OrderIsCancelled": lambda: FailedPrecondition("the seller cancelled the order"),
        "OrderExpired": lambda: FailedPrecondition(f"the order expired at {a.get('endTime')} (unix time)"),
        "OrderNotStarted": lambda: FailedPrecondition(f"the order starts at {a.get('startTime')} (unix time)"),
        "OrderCounterInvalid": lambda: FailedPrecondition(
            f"the order was signed with counter {a.get('orderCounter')}; the seller's counter is now "
            f"{a.get('currentCounter')}"),
        "OrderStale": lambda: FailedPrecondition(f"the seller no longer owns the token (owner {a.get('owner')})"),
        "InvalidSignature": lambda: InvalidArgument("the order's signature is not the seller's", field="signature"),
        "UnsupportedToken": lambda: InvalidArgument("the order is not for the platform's token", field="order.token"),
        "UnsupportedCurrency": lambda: InvalidArgument("the order's currency must be native ETH",
                                                       field="order.currency"),
        "NotSeller": lambda: PermissionDenied(f"{a.get('caller')} is not the order's seller"),
        "WrongPayment": lambda: FailedPrecondition(
            f"price mismatch: the order's price is {a.get('expected')} wei, {a.get('sent')} wei offered"),
        "BuyerIsSeller": lambda: FailedPrecondition("the buyer is the seller: an owner cannot buy its own token"),
        "MarketplaceNotApproved": lambda: FailedPrecondition(
            f"the owner {a.get('owner')} revoked the marketplace's approval for token {a.get('tokenId')}"),
        "InvalidRecipient": lambda: InvalidArgument("recipient must not be the zero address"),
        "NothingToWithdraw": lambda: FailedPrecondition(f"{a.get('payee')} has nothing to withdraw"),
        "TransferFailed": lambda: FailedPrecondition(f"transfer of {a.get('amount')} wei to {a.get('payee')} failed"),
        "AccessControlUnauthorizedAccount": lambda: PermissionDenied(
            f"{a.get('account')} lacks the role required for this call"),
        "ERC721NonexistentToken": lambda: NotFound(f"token {a.get('tokenId')} does not exist"),
        "ERC721InvalidReceiver": lambda: FailedPrecondition(f"{a.get('receiver')} cannot receive ERC-721 tokens"),
        "AssetAlreadyMinted": lambda: Conflict(f"asset already minted as token {a.get('tokenId')}"),
        "UnknownAsset": lambda: NotFound("asset has no token"),
        "SharesMustSumTo10000": lambda: InvalidArgument(
            f"co-creator shares must sum to 10000 bps, got {a.get('sum')}", field="co_creators"),
        "RoyaltyTooHigh": lambda: InvalidArgument(f"royalty_bps must be at most {a.get('maxBps')}",
                                                  field="royalty_bps"),
        # StakingVault
        "WrongStaker": lambda: PermissionDenied(f"the quote names staker {a.get('staker')}, not {a.get('sender')}"),
        "ZeroStake": lambda: InvalidArgument("quote.amount must be greater than zero", field="quote.amount"),
        "WrongStakeValue": lambda: FailedPrecondition(
            f"the stake must send exactly {a.get('expected')} wei, {a.get('sent')} wei sent"),
        "QuoteExpired": lambda: FailedPrecondition(f"the quote expired at {a.get('expiry')} (unix time)"),
        "InvalidDuration": lambda: InvalidArgument(
            f"quote.duration must be between 1 and {a.get('maxDuration')} seconds", field="quote.duration"),
        "QuoteNonceUsed": lambda: FailedPrecondition(
            f"quote nonce {a.get('nonce')} of {a.get('staker')} was already used"),
        "InvalidQuoteSignature": lambda: FailedPrecondition("the quote is not signed by the vault's quote signer"),
        "PoolInsufficient": lambda: FailedPrecondition(
            f"the reward pool cannot cover the reservation: {a.get('needed')} wei needed, {a.get('free')} wei free"),
        "UnknownStake": lambda: NotFound(f"stake {a.get('stakeId')} does not exist"),
        "NotStakeOwner": lambda: PermissionDenied(f"{a.get('caller')} is not the staker of stake {a.get('stakeId')}"),
        "StakeIsClosed": lambda: FailedPrecondition(f"stake {a.get('stakeId')} is closed"),
        "NothingToClaim": lambda: FailedPrecondition(f"stake {a.get('stakeId')} has nothing accrued unclaimed"),
        "ZeroFunding": lambda: InvalidArgument("amount_wei must be greater than zero", field="amount_wei"),
        "NotOwner": lambda: PermissionDenied(f"{a.get('caller')} is not the vault's owner (the timelock)"),
    }
    make = table.get(rev.name)
    return make() if make else FailedPrecondition(f"contract reverted: {rev}")


# --------------------------------------------------------------------------- signed orders (MarketplaceV2)

ZERO32 = b"\x00" * 32
DEFAULT_ORDER_DURATION_S = 30 * 86_400
MAX_ORDER_DURATION_S = 365 * 86_400
# An order starts this long before it is built, so a node whose clock is a little behind ours
# (or a block sealed a moment early) does not see it as not started yet.
ORDER_START_SLACK_S = 60
MAX_CANCEL_ORDERS = 50
# Gas offered for fulfill/fulfillFor on the embedded chain instead of estimating (eth-tester's
# estimate binary-searches, executing the call ~20 times on the one chain thread). The worst
# case (20 co-creators, the maximum royalty, a platform fee, a first sale crediting every payee
# for the first time) used 752,326 gas; the bound leaves a third on top of it
# (tests/test_fulfill_gas_bound.py proves it suffices). Unused gas is not paid.
FULFILL_GAS_BOUND = 1_000_000
MAX_ORDER_JSON = 4096
ORDER_FIELDS = ("token", "tokenId", "seller", "price", "currency", "counter", "salt", "startTime", "endTime")
_ADDRESS_FIELDS = frozenset({"token", "seller", "currency"})


class OrderState(enum.Enum):
    """Whether a signed order can be filled now (the proto's OrderState without the prefix)."""

    FILLABLE = "fillable"
    INVALID_SIGNATURE = "invalid_signature"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    COUNTER_INVALID = "counter_invalid"
    FILLED = "filled"
    CANCELLED = "cancelled"
    STALE = "stale"
    NOT_APPROVED = "not_approved"


@dataclass(frozen=True)
class OrderOnChain:
    """What the chain says about an order: orderStatus (0 none, 1 filled, 2 cancelled), the
    seller's counter, the token's owner (None: no such token), whether the marketplace may move
    it, and the earliest timestamp the next block can have."""

    status: int
    counter: int
    owner: ChecksumAddress | None
    approved: bool
    next_block_time: int


@dataclass(frozen=True)
class OrderVerdict:
    state: OrderState
    reason: str = ""

    @property
    def fillable(self) -> bool:
        return self.state is OrderState.FILLABLE


@dataclass(frozen=True)
class CheckedOrder:
    """A signed order and the verdict on it."""

    order: Order
    order_hash: bytes
    signature: SignatureCheck
    verdict: OrderVerdict
    owner: ChecksumAddress | None


def order_window(now: int, duration_s: int) -> tuple[int, int]:
    """(startTime, endTime) of an order built at `now`: 0 means 30 days; at most 365 days."""
    if duration_s < 0 or duration_s > MAX_ORDER_DURATION_S:
        raise InvalidArgument(f"duration_seconds must be between 0 and {MAX_ORDER_DURATION_S} (365 days)",
                              field="duration_seconds")
    return max(now - ORDER_START_SLACK_S, 0), now + (duration_s or DEFAULT_ORDER_DURATION_S)


def _order_int(message: Mapping[str, object], name: str) -> int:
    value = message[name]
    if isinstance(value, bool):
        raise InvalidArgument(f"order.{name} must be a whole number", field=f"order.{name}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        number = int(value)
    else:
        raise InvalidArgument(f"order.{name} must be a whole number (decimal string or integer)",
                              field=f"order.{name}")
    if not 0 <= number <= UINT256_MAX:
        raise InvalidArgument(f"order.{name} is out of the uint256 range", field=f"order.{name}")
    return number


def _order_address(message: Mapping[str, object], name: str) -> ChecksumAddress:
    value = message[name]
    if not isinstance(value, str) or not is_address(value):
        raise InvalidArgument(f"order.{name} is not an address", field=f"order.{name}")
    digits = value.removeprefix("0x").removeprefix("0X")
    if digits not in (digits.lower(), digits.upper()) and value != to_checksum_address(value):
        raise InvalidArgument(f"order.{name} has an invalid EIP-55 checksum", field=f"order.{name}")
    return to_checksum_address(value)


def parse_message(raw: str, kind: str, fields: Sequence[str], max_chars: int) -> dict[str, Any]:
    """An EIP-712 message handed in as JSON (`<kind>_json`): a JSON object of at most
    `max_chars` characters with exactly `fields`. Each refusal is INVALID_ARGUMENT naming the
    field (`<kind>_json`, or `<kind>.<field>`)."""
    name = f"{kind}_json"
    if not raw or len(raw) > max_chars:
        raise InvalidArgument(f"{name} is required (at most {max_chars} characters)", field=name)
    try:
        message = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"{name} is not JSON", field=name) from None
    if not isinstance(message, dict):
        raise InvalidArgument(f"{name} must be a JSON object (the EIP-712 message)", field=name)
    missing = [f for f in fields if f not in message]
    if missing:
        raise InvalidArgument(f"{kind}.{missing[0]} is required", field=f"{kind}.{missing[0]}")
    extra = sorted(set(message) - set(fields))
    if extra:
        raise InvalidArgument(f"{kind}.{extra[0]} is not {'an' if kind[0] in 'aeiou' else 'a'} {kind} field",
                              field=f"{kind}.{extra[0]}")
    return message


def parse_order(order_json: str, token_address: str, native_currency: str) -> Order:
    """A signed order's message parsed strictly: a JSON object with exactly the nine fields,
    addresses valid, numbers uint256; it must be for the platform's token and native ETH.
    Every refusal is INVALID_ARGUMENT naming the field."""
    message = parse_message(order_json, "order", ORDER_FIELDS, MAX_ORDER_JSON)
    addrs = {f: _order_address(message, f) for f in ORDER_FIELDS if f in _ADDRESS_FIELDS}
    nums = {f: _order_int(message, f) for f in ORDER_FIELDS if f not in _ADDRESS_FIELDS}
    if addrs["token"] != to_checksum_address(token_address):
        raise InvalidArgument(f"order.token {addrs['token']} is not the platform's token {token_address}",
                              field="order.token")
    if addrs["currency"] != to_checksum_address(native_currency):
        raise InvalidArgument("order.currency must be the zero address (native ETH, the only currency accepted)",
                              field="order.currency")
    if addrs["seller"] == ZERO_ADDRESS:
        raise InvalidArgument("order.seller must not be the zero address", field="order.seller")
    if nums["price"] == 0:
        raise InvalidArgument("order.price must be greater than zero", field="order.price")
    return Order(token=addrs["token"], token_id=nums["tokenId"], seller=addrs["seller"], price=nums["price"],
                 currency=addrs["currency"], counter=nums["counter"], salt=nums["salt"],
                 start_time=nums["startTime"], end_time=nums["endTime"])


def parse_signature(value: str) -> bytes:
    """A 0x-hex signature (65 bytes for an account; any non-empty length for EIP-1271)."""
    text = (value or "").strip()
    if not text.startswith("0x") or len(text) < 4 or len(text) % 2 or len(text) > 2 + 2 * 4096:
        raise InvalidArgument("signature must be 0x-prefixed hex", field="signature")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise InvalidArgument("signature must be hex", field="signature") from None


def order_verdict(order: Order, signature_valid: bool, chain: OrderOnChain) -> OrderVerdict:
    """Whether the order is fillable in the next block, as MarketplaceV2 would decide, and why not."""
    if chain.status == 1:
        return OrderVerdict(OrderState.FILLED, "the order has already been filled")
    if chain.status == 2:
        return OrderVerdict(OrderState.CANCELLED, "the seller cancelled the order")
    if not signature_valid:
        return OrderVerdict(OrderState.INVALID_SIGNATURE, f"the signature is not the seller's ({order.seller})")
    if chain.next_block_time < order.start_time:
        return OrderVerdict(OrderState.NOT_STARTED, f"the order starts at {order.start_time} (unix time)")
    if chain.next_block_time >= order.end_time:
        return OrderVerdict(OrderState.EXPIRED, f"the order expired at {order.end_time} (unix time)")
    if order.counter != chain.counter:
        return OrderVerdict(OrderState.COUNTER_INVALID,
                            f"the order was signed with counter {order.counter}; the seller's counter is now "
                            f"{chain.counter}")
    if chain.owner is None:
        return OrderVerdict(OrderState.STALE, f"token {order.token_id} does not exist")
    if chain.owner != order.seller:
        return OrderVerdict(OrderState.STALE, f"the seller {order.seller} no longer owns token {order.token_id} "
                                              f"(owner {chain.owner})")
    if not chain.approved:
        return OrderVerdict(OrderState.NOT_APPROVED,
                            f"the owner withdrew the marketplace's approval for token {order.token_id}")
    return OrderVerdict(OrderState.FILLABLE)


def fulfill_decision(checked: CheckedOrder, buyer: str, recipient: str | None) -> None:
    """PrepareFulfill refuses an order that is not fillable (naming why), and a buyer (or
    recipient) that is the seller."""
    if not checked.verdict.fillable:
        raise FailedPrecondition(f"the order is not fillable: {checked.verdict.reason}")
    if buyer == checked.order.seller or (recipient is not None and recipient == checked.order.seller):
        raise FailedPrecondition("the buyer is the seller: an owner cannot buy its own token")


def cancel_decision(cancelled: Sequence[Order], seller: str) -> None:
    """PrepareCancel: 1..50 orders, every one the seller's own."""
    if not 1 <= len(cancelled) <= MAX_CANCEL_ORDERS:
        raise InvalidArgument(f"between 1 and {MAX_CANCEL_ORDERS} orders are required", field="order_json")
    for order in cancelled:
        if order.seller != seller:
            raise PermissionDenied(f"an order of {order.seller} cannot be cancelled by {seller}")


def withdraw_cooldown_left(last_relay: dt.datetime | None, now: dt.datetime, cooldown_s: int) -> int:
    """Seconds a payee must still wait before the platform pays gas for its withdrawal again (0: may)."""
    if last_relay is None or cooldown_s <= 0:
        return 0
    left = cooldown_s - (now - last_relay).total_seconds()
    return max(int(-(-left // 1)), 0)


def cooldown_error(payee: str, seconds_left: int) -> ResourceExhausted:
    return ResourceExhausted(f"{payee} had a platform-paid withdrawal recently: retry in {seconds_left} s "
                             "(or withdraw() from your own wallet now)")


def check_tracked(found: RawTx, expected: Prepared) -> None:
    """A transaction a user broadcast must be the prepared call (to, data, value, chain) from
    the expected wallet; its nonce, gas and fees are the wallet's own choice."""
    if found.sender != expected.from_address:
        raise PermissionDenied(f"the transaction was sent by {found.sender}, not {expected.from_address}")
    if found.chain_id != expected.chain_id:
        raise InvalidArgument(f"the transaction is for chain {found.chain_id}, not {expected.chain_id}",
                              field="tx_hash")
    if found.to != expected.to:
        raise InvalidArgument(f"the transaction goes to {found.to}, not the prepared {expected.to}", field="tx_hash")
    if found.data.lower() != expected.data.lower():
        raise InvalidArgument("the transaction's data is not the prepared call", field="tx_hash")
    if found.value != expected.value:
        raise InvalidArgument(f"the transaction sends {found.value} wei, not the prepared {expected.value}",
                              field="tx_hash")


# --------------------------------------------------------------------------- reconciliation


@dataclass(frozen=True)
class Difference:
    """One disagreement between the chain and what the indexer recorded."""

    kind: str  # "owner" | "pending_withdrawal" | "stake" | "vault_balance"
    subject: str
    on_chain: str
    recorded: str


@dataclass(frozen=True)
class Reconciliation:
    differences: tuple[Difference, ...]
    tokens_checked: int
    payees_checked: int
    indexed_block: int
    stakes_checked: int = 0


def recorded_balances(credits: Iterable[tuple[str, int]], withdrawals: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Per payee: credits minus successful withdrawals, as the indexer recorded them."""
    out: dict[str, int] = {}
    for payee, amount in credits:
        out[payee] = out.get(payee, 0) + amount
    for payee, amount in withdrawals:
        out[payee] = out.get(payee, 0) - amount
    return out


T = TypeVar("T")


def rotating_window(items: Sequence[T], cursor: int, size: int) -> tuple[list[T], int]:
    """At most `size` items from position `cursor` on, wrapping around, and the next cursor: a
    periodic check covers everything over successive runs at a bounded cost per run."""
    if not items:
        return [], 0
    if size <= 0 or size >= len(items):
        return list(items), 0
    start = cursor % len(items)
    taken = [items[(start + i) % len(items)] for i in range(size)]
    return taken, (start + size) % len(items)


def differences(owners_on_chain: Mapping[int, str | None], owners_recorded: Mapping[int, str],
                pending_on_chain: Mapping[str, int], pending_recorded: Mapping[str, int]) -> list[Difference]:
    """Every token whose owner and every payee whose pending balance differ between chain and record."""
    out: list[Difference] = []
    for token_id in sorted(set(owners_on_chain) | set(owners_recorded)):
        chain_owner, recorded = owners_on_chain.get(token_id), owners_recorded.get(token_id)
        if chain_owner != recorded:
            out.append(Difference("owner", str(token_id), chain_owner or "", recorded or ""))
    for payee in sorted(set(pending_on_chain) | set(pending_recorded)):
        on_chain, recorded_wei = pending_on_chain.get(payee, 0), pending_recorded.get(payee, 0)
        if on_chain != recorded_wei:
            out.append(Difference("pending_withdrawal", payee, str(on_chain), str(recorded_wei)))
    return out


class StakeFacts(NamedTuple):
    """What reconciliation compares of one vault stake: staker, principal, rewards paid, closed."""

    staker: str
    amount_wei: int
    claimed_wei: int
    closed: bool

    def shown(self) -> str:
        return (f"staker={self.staker} amount_wei={self.amount_wei} claimed_wei={self.claimed_wei} "
                f"closed={str(self.closed).lower()}")


def stake_differences(on_chain: Mapping[int, StakeFacts | None],
                      recorded: Mapping[int, StakeFacts]) -> list[Difference]:
    """Every stake whose staker, principal, rewards paid or closed flag differ between chain and record."""
    out: list[Difference] = []
    for stake_id in sorted(set(on_chain) | set(recorded)):
        chain_facts, rec = on_chain.get(stake_id), recorded.get(stake_id)
        if chain_facts != rec:
            out.append(Difference("stake", str(stake_id), chain_facts.shown() if chain_facts else "",
                                  rec.shown() if rec else ""))
    return out


def vault_balance_difference(address: str, balance: int, principal: int, free: int,
                             reserved: int) -> list[Difference]:
    """The vault's ether against what it owes: open principal + free pool + reserved rewards."""
    owed = principal + free + reserved
    if balance == owed:
        return []
    return [Difference("vault_balance", address, str(balance),
                       f"{owed} (principal {principal} + free {free} + reserved {reserved})")]
