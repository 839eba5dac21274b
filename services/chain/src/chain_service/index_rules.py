"""The event indexer's rules, pure (no web3, no SQL): which blocks are confirmed, which range
to read next, whether the node reorganised a stored block, where the common ancestor is,
which indexed events a reorg undoes, and how a contract event becomes a domain event.

The indexed events are data: `EVENT_RULES` maps an ABI event name to its domain event type
and payload builder. The indexer subscribes to every event of the token's, the
marketplace's and the StakingVault's ABI whose name is listed (`subscribed`), so a contract version that emits a
new event (MarketplaceV2's `OrderFulfilled`, `Cancelled`, `CounterIncremented`,
`FeeCredited`) is indexed by adding its name here, with the schema of its domain event in
`ipheron_libs/event_schemas/`.

Every payload carries the event's position on chain (`chain_id`, `contract`, `event`,
`block_number`, `block_hash`, `block_time`, `tx_hash`, `log_index`); money is wei as a
base-10 string (`ipheron_libs.wire.wei_str`).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import is_address, to_checksum_address
from ipheron_libs.wire import wei_str

ZERO_ADDRESS = "0x" + "00" * 20
ACTOR = "chain-indexer"
MAX_URI_CHARS = 2048

# Domain event types (one schema each in ipheron_libs/event_schemas/, version 1).
SALE_RECORDED = "chain.sale.recorded"
TRANSFER = "chain.transfer"
TOKEN_MINTED = "chain.token.minted"
CREDIT = "chain.credit"
WITHDRAWAL = "chain.withdrawal"
ORDER_FULFILLED = "chain.order.fulfilled"
ORDER_CANCELLED = "chain.order.cancelled"
COUNTER_INCREMENTED = "chain.order.counter_incremented"
STAKE_OPENED = "chain.stake.opened"
STAKE_CLAIMED = "chain.stake.claimed"
STAKE_CLOSED = "chain.stake.closed"
VAULT_FUNDED = "chain.vault.funded"
EVENT_REVERTED = "chain.event.reverted"


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class BlockRef:
    """A block the indexer stored: its number and hash."""

    number: int
    hash: str


@dataclass(frozen=True)
class BlockHeader:
    """A block as the node reports it now."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int


@dataclass(frozen=True)
class Checkpoint:
    """The last block indexed (`hash` None before the first one) and where indexing began."""

    number: int
    hash: str | None
    start_block: int

    @property
    def ref(self) -> BlockRef | None:
        return BlockRef(self.number, self.hash) if self.hash is not None else None


@dataclass(frozen=True)
class EventKey:
    """What makes an indexed event unique: the same log in another block is another event."""

    block_hash: str
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class ChainLog:
    """One platform contract log, decoded (addresses checksummed, ints, bytes)."""

    contract: str
    event: str
    args: Mapping[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int

    @property
    def key(self) -> EventKey:
        return EventKey(self.block_hash, self.tx_hash, self.log_index)


@dataclass(frozen=True)
class IndexedEvent:
    """A confirmed log as stored (JSON-safe args) and the domain event it publishes."""

    key: EventKey
    block_number: int
    contract: str
    event: str
    args: Mapping[str, Any]
    domain_type: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class StoredEvent:
    """An indexed event read back (not yet undone)."""

    key: EventKey
    block_number: int
    contract: str
    event: str
    domain_type: str
    domain_event_id: str | None
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Undo:
    """An indexed event a reorg removed, and the compensating `chain.event.reverted` payload."""

    key: EventKey
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class BlockContext:
    """What a payload needs besides the log: the chain, block times, and token → asset."""

    chain_id: int
    block_times: Mapping[int, int]
    assets: Mapping[int, uuid.UUID | None] = field(default_factory=dict)


# ---------------------------------------------------------------- blocks and ranges


def depth(confirmations: int) -> int:
    """Blocks on top of a block before it is indexed (`confirmations` counts the block itself)."""
    return max(confirmations, 1) - 1


def safe_head(latest: int, confirmations: int) -> int:
    """The newest block with enough confirmations (-1: none yet)."""
    return max(latest - depth(confirmations), -1)


def next_range(checkpoint: int, safe: int, max_blocks: int) -> tuple[int, int] | None:
    """The blocks to read next after `checkpoint` (inclusive bounds, at most `max_blocks`)."""
    first = checkpoint + 1
    if first > safe:
        return None
    return first, min(safe, first + max(max_blocks, 1) - 1)


def lag(latest: int, confirmations: int, checkpoint: int) -> int:
    """Confirmed blocks not indexed yet."""
    return max(safe_head(latest, confirmations) - checkpoint, 0)


def is_lagging(lag_blocks: int, max_lag: int) -> bool:
    return lag_blocks > max_lag


def is_reorged(stored: BlockRef, node_hash: str | None) -> bool:
    """The node no longer has the stored block at its height (another hash, or no block)."""
    return node_hash is None or node_hash.lower() != stored.hash.lower()


def common_ancestor(stored_newest_first: Sequence[BlockRef], node_hashes: Mapping[int, str | None]) -> BlockRef | None:
    """The newest stored block the node still has (hashes chain: every block below it is kept
    too); None when none of these is on the node's chain any more."""
    for block in stored_newest_first:
        if block.number in node_hashes and not is_reorged(block, node_hashes[block.number]):
            return block
    return None


def range_problem(first: int, checkpoint: Checkpoint, headers: Mapping[int, BlockHeader],
                  logs: Iterable[ChainLog]) -> str | None:
    """Why a range read cannot be trusted (the node reorganised while it was read), or None."""
    head = headers.get(first)
    if checkpoint.hash is not None and head is not None and head.parent_hash.lower() != checkpoint.hash.lower():
        return f"block {first} does not follow the indexed block {checkpoint.number}"
    for log in logs:
        header = headers.get(log.block_number)
        if header is None or header.hash.lower() != log.block_hash.lower():
            return f"the log {log.tx_hash}:{log.log_index} is in block {log.block_hash}, no longer the node's"
    return None


def keep_blocks_from(tip: int, retain: int) -> int:
    """Stored blocks without events below this number are forgotten (deeper reorgs re-index)."""
    return max(tip - retain, 0)


# ---------------------------------------------------------------- which events


TOKEN_EVENTS: tuple[str, ...] = ("Transfer", "AssetMinted")
MARKET_EVENTS: tuple[str, ...] = (
    "Sold", "SellerCredited", "RoyaltyCredited", "FeeCredited", "Withdrawn",
    "WithdrawalFailed", "OrderFulfilled", "Cancelled", "CounterIncremented",
)

VAULT_EVENTS: tuple[str, ...] = ("StakeOpened", "RewardsClaimed", "Unstaked", "PoolFunded")


def subscribed(abi: Sequence[Mapping[str, Any]], names: Iterable[str]) -> list[Mapping[str, Any]]:
    """The ABI's events the indexer follows: those named in `names` that have a rule."""
    wanted = {n for n in names if n in EVENT_RULES}
    return [item for item in abi if item.get("type") == "event" and item.get("name") in wanted
            and not item.get("anonymous")]


def token_ids(logs: Iterable[ChainLog]) -> set[int]:
    """The tokens these logs name (their assets go into the payloads)."""
    return {int(log.args["tokenId"]) for log in logs if isinstance(log.args.get("tokenId"), int)}


def minted_assets(logs: Iterable[ChainLog]) -> dict[int, uuid.UUID]:
    """token → asset from the `AssetMinted` logs themselves."""
    out: dict[int, uuid.UUID] = {}
    for log in logs:
        if log.event == "AssetMinted":
            out[int(log.args["tokenId"])] = _asset_uuid(log.args["assetId"])
    return out


# ---------------------------------------------------------------- payloads


def _asset_uuid(raw: Any) -> uuid.UUID:
    data = bytes(raw)
    return uuid.UUID(bytes=data[:16].rjust(16, b"\0"))


def _addr(value: Any) -> str:
    return _address_of(str(value))


@functools.lru_cache(maxsize=8192)
def _address_of(text: str) -> str:
    # Remembered: the same few addresses recur in every sale's events (a keccak per checksum).
    return to_checksum_address(text) if is_address(text) else ZERO_ADDRESS


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


def _uint(value: Any) -> int:
    return int(value) if isinstance(value, int) and value >= 0 else 0


def iso_time(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


def position(log: ChainLog, ctx: BlockContext) -> dict[str, Any]:
    """Where the event is on chain (the first fields of every chain.* payload)."""
    return {
        "chain_id": ctx.chain_id, "contract": _addr(log.contract), "event": log.event,
        "block_number": log.block_number, "block_hash": log.block_hash.lower(),
        "block_time": iso_time(ctx.block_times.get(log.block_number, 0)), "tx_hash": log.tx_hash.lower(),
        "log_index": log.log_index,
    }


def _token(log: ChainLog, ctx: BlockContext) -> dict[str, Any]:
    token_id = _uint(log.args.get("tokenId"))
    asset = ctx.assets.get(token_id)
    return {"token_id": str(token_id), "asset_id": str(asset) if asset is not None else None}


Builder = Callable[[ChainLog, BlockContext, Sequence[ChainLog]], dict[str, Any]]

CREDIT_KINDS = {"SellerCredited": "seller", "RoyaltyCredited": "royalty", "FeeCredited": "fee"}
_CREDIT_PAYEE = {"SellerCredited": "seller", "RoyaltyCredited": "coCreator", "FeeCredited": "recipient"}


def _credit_of(log: ChainLog) -> dict[str, Any]:
    return {"payee": _addr(log.args.get(_CREDIT_PAYEE[log.event])),
            "amount_wei": wei_str(_uint(log.args.get("amount"))),
            "kind": CREDIT_KINDS[log.event]}


def _sale(log: ChainLog, ctx: BlockContext, tx_logs: Sequence[ChainLog]) -> dict[str, Any]:
    a = log.args
    token_id = _uint(a.get("tokenId"))
    credits = [_credit_of(other) for other in tx_logs
               if other.event in CREDIT_KINDS and other.contract == log.contract
               and _uint(other.args.get("tokenId")) == token_id]
    order_hash = a.get("orderHash")
    return {**position(log, ctx), **_token(log, ctx), "seller": _addr(a.get("seller")), "buyer": _addr(a.get("buyer")),
            "price_wei": wei_str(_uint(a.get("price"))), "royalty_wei": wei_str(_uint(a.get("royalty"))),
            "fee_wei": wei_str(_uint(a.get("fee"))), "order_hash": _hex(order_hash) if order_hash is not None else None,
            "credits": credits}


def _transfer(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    sender, to = _addr(log.args.get("from")), _addr(log.args.get("to"))
    kind = "mint" if sender == ZERO_ADDRESS else "burn" if to == ZERO_ADDRESS else "transfer"
    return {**position(log, ctx), **_token(log, ctx), "from": sender, "to": to, "kind": kind}


def _minted(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    a = log.args
    return {**position(log, ctx), "token_id": str(_uint(a.get("tokenId"))), "asset_id": str(_asset_uuid(a["assetId"])),
            "owner": _addr(a.get("owner")), "uri": str(a.get("uri", ""))[:MAX_URI_CHARS]}


def _credit(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    return {**position(log, ctx), **_token(log, ctx), **_credit_of(log)}


def _withdrawal(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    return {**position(log, ctx), "payee": _addr(log.args.get("payee")),
            "amount_wei": wei_str(_uint(log.args.get("amount"))), "succeeded": log.event == "Withdrawn"}


def _fulfilled(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    a = log.args
    return {**position(log, ctx), **_token(log, ctx), "order_hash": _hex(a.get("orderHash", b"")),
            "seller": _addr(a.get("seller")), "recipient": _addr(a.get("recipient")), "payer": _addr(a.get("payer")),
            "price_wei": wei_str(_uint(a.get("price")))}


def _cancelled(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    return {**position(log, ctx), "order_hash": _hex(log.args.get("orderHash", b"")),
            "seller": _addr(log.args.get("seller"))}


def _counter(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    return {**position(log, ctx), "seller": _addr(log.args.get("seller")),
            "counter": str(_uint(log.args.get("counter")))}


def _stake_opened(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    a = log.args
    return {**position(log, ctx), "stake_id": str(_uint(a.get("stakeId"))), "staker": _addr(a.get("staker")),
            **_token(log, ctx), "amount_wei": wei_str(_uint(a.get("amount"))), "apr_bps": _uint(a.get("aprBps")),
            "start_time": _uint(a.get("start")), "end_time": _uint(a.get("end")),
            "reward_wei": wei_str(_uint(a.get("reward"))), "quote_nonce": str(_uint(a.get("nonce"))),
            "quote_hash": _hex(a.get("quoteHash", b""))}


def _stake_claimed(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    a = log.args
    return {**position(log, ctx), "stake_id": str(_uint(a.get("stakeId"))), "staker": _addr(a.get("staker")),
            "amount_wei": wei_str(_uint(a.get("amount")))}


def _stake_closed(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    a = log.args
    return {**position(log, ctx), "stake_id": str(_uint(a.get("stakeId"))), "staker": _addr(a.get("staker")),
            "paid_wei": wei_str(_uint(a.get("paid"))), "rewards_paid_wei": wei_str(_uint(a.get("rewardsPaid"))),
            "penalty_wei": wei_str(_uint(a.get("penalty"))), "early": bool(a.get("early"))}


def _vault_funded(log: ChainLog, ctx: BlockContext, _: Sequence[ChainLog]) -> dict[str, Any]:
    return {**position(log, ctx), "funder": _addr(log.args.get("from")),
            "amount_wei": wei_str(_uint(log.args.get("amount")))}


@dataclass(frozen=True)
class EventRule:
    """How one ABI event becomes a domain event."""

    domain_type: str
    build: Builder


EVENT_RULES: Mapping[str, EventRule] = {
    "Transfer": EventRule(TRANSFER, _transfer),
    "AssetMinted": EventRule(TOKEN_MINTED, _minted),
    "Sold": EventRule(SALE_RECORDED, _sale),
    "SellerCredited": EventRule(CREDIT, _credit),
    "RoyaltyCredited": EventRule(CREDIT, _credit),
    "FeeCredited": EventRule(CREDIT, _credit),
    "Withdrawn": EventRule(WITHDRAWAL, _withdrawal),
    "WithdrawalFailed": EventRule(WITHDRAWAL, _withdrawal),
    "OrderFulfilled": EventRule(ORDER_FULFILLED, _fulfilled),
    "Cancelled": EventRule(ORDER_CANCELLED, _cancelled),
    "CounterIncremented": EventRule(COUNTER_INCREMENTED, _counter),
    "StakeOpened": EventRule(STAKE_OPENED, _stake_opened),
    "RewardsClaimed": EventRule(STAKE_CLAIMED, _stake_claimed),
    "Unstaked": EventRule(STAKE_CLOSED, _stake_closed),
    "PoolFunded": EventRule(VAULT_FUNDED, _vault_funded),
}


def json_safe(value: Any) -> Any:
    """Decoded args as JSON: ints as decimal strings (uint256 exceeds JSON numbers), bytes as hex."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value if isinstance(value, str | float) or value is None else str(value)


def to_indexed(logs: Sequence[ChainLog], ctx: BlockContext) -> list[IndexedEvent]:
    """The logs of a confirmed range as indexed events with their domain payloads, in chain order."""
    by_tx: dict[str, list[ChainLog]] = {}
    for log in logs:
        by_tx.setdefault(log.tx_hash.lower(), []).append(log)
    out: list[IndexedEvent] = []
    for log in sorted(logs, key=lambda x: (x.block_number, x.log_index)):
        rule = EVENT_RULES.get(log.event)
        if rule is None:
            continue
        payload = rule.build(log, ctx, by_tx[log.tx_hash.lower()])
        out.append(IndexedEvent(key=log.key, block_number=log.block_number, contract=_addr(log.contract),
                                event=log.event, args=json_safe(dict(log.args)), domain_type=rule.domain_type,
                                payload=payload))
    return out


# ---------------------------------------------------------------- undoing a reorg


def reverted_payload(event: StoredEvent, reason: str = "reorg") -> dict[str, Any]:
    """The compensating event of an undone one: which event (id, type, position) and its payload."""
    p = event.payload
    return {
        "chain_id": int(p.get("chain_id", 0)), "contract": event.contract, "event": event.event,
        "block_number": event.block_number, "block_hash": event.key.block_hash, "tx_hash": event.key.tx_hash,
        "log_index": event.key.log_index, "event_id": event.domain_event_id, "event_type": event.domain_type,
        "reason": reason, "undone": dict(p),
    }


def undo_plan(stored: Sequence[StoredEvent], ancestor: int) -> list[Undo]:
    """Every indexed event above the common ancestor is on an orphaned block: undo them all,
    newest first (the order a consumer reverses them in)."""
    orphaned = [e for e in stored if e.block_number > ancestor]
    orphaned.sort(key=lambda e: (e.block_number, e.key.log_index), reverse=True)
    return [Undo(e.key, reverted_payload(e)) for e in orphaned]
