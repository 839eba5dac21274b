"""The chain is the record: the indexer follows the node's blocks for the platform contracts'
events and publishes each confirmed one as a domain event (chain schema outbox).

One poll (`poll_once`, run every CHAIN_INDEXER_INTERVAL_S by the app):

1. Reorg check: the stored checkpoint block's hash against the node's block at that height.
   On a mismatch, walk back through the stored blocks to the newest one the node still has
   (the common ancestor), mark removed every event above it with a `chain.event.reverted`
   each, and move the checkpoint back there; the next poll re-indexes the new branch.
2. The next bounded range (at most CHAIN_INDEXER_MAX_BLOCKS) of blocks with
   CHAIN_CONFIRMATIONS confirmations; its logs of the subscribed events (data-driven from the
   ABIs, see `index_rules.EVENT_RULES`) and the headers of the blocks holding them; a range
   that changed under the read (a reorg mid-poll) is dropped and read again next time.
3. One transaction: the events (once per (block hash, tx hash, log index)), their domain
   events, the blocks and the new checkpoint. A restart resumes from the checkpoint.

Every web3 call runs on the network's executor; the rules are in `index_rules`, the SQL in
`index_repository`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from eth_typing import ABIEvent
from eth_utils import event_abi_to_log_topic
from ipheron_libs.db import run_db
from ipheron_libs.errors import DomainError
from prometheus_client import Counter, Gauge
from web3._utils.events import get_event_data
from web3.contract import Contract
from web3.exceptions import BlockNotFound

from chain_service import index_rules as rules
from chain_service.config import ChainSettings
from chain_service.domain import checksum_address
from chain_service.index_repository import IndexRepository
from chain_service.index_rules import BlockContext, BlockHeader, BlockRef, ChainLog, Checkpoint
from chain_service.ledger import Ledger
from chain_service.vault import Vault

log = logging.getLogger("ipheron.chain.indexer")

INDEXER_LAG = Gauge("chain_indexer_lag_blocks", "Confirmed blocks the chain event indexer has not indexed yet")
INDEXER_BLOCK = Gauge("chain_indexer_block", "The last block the chain event indexer indexed")
INDEXER_EVENTS = Counter("chain_indexer_events_total", "Contract events indexed and published", ["type"])
INDEXER_REORGS = Counter("chain_indexer_reorgs_total", "Reorgs the chain event indexer undid")

# Stored blocks without events are kept this deep below the checkpoint (a deeper reorg than
# this re-indexes from the newest stored block the node still has, or from the start).
RETAIN_BLOCKS = 1024
WALK_BATCH = 32


@dataclass(frozen=True)
class _EventShape:
    """An event's inputs split as its logs carry them: indexed ones in topics 1.., the rest in data."""

    topic_names: tuple[str, ...]
    topic_types: tuple[str, ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]


_ELEMENTARY = re.compile(r"^(address|bool|string|bytes\d*|u?int\d*)$")


def event_shape(event: ABIEvent) -> _EventShape | None:
    """The event's shape, or None when an input is not an elementary type (arrays, tuples:
    those take web3's general decoder)."""
    inputs = list(event.get("inputs", ()))
    if event.get("anonymous") or not all(_ELEMENTARY.match(str(i["type"])) for i in inputs):
        return None
    indexed = [i for i in inputs if i.get("indexed")]
    data = [i for i in inputs if not i.get("indexed")]
    # An indexed string or bytes is stored as its keccak: a topic holds 32 bytes of hash.
    return _EventShape(tuple(str(i["name"]) for i in indexed),
                       tuple("bytes32" if i["type"] in ("string", "bytes") else str(i["type"]) for i in indexed),
                       tuple(str(i["name"]) for i in data), tuple(str(i["type"]) for i in data))


def event_args(codec: Any, event: ABIEvent, entry: Mapping[str, Any], shape: _EventShape | None) -> dict[str, Any]:
    """A log's arguments by name, as web3's `get_event_data(...)["args"]` gives them (addresses
    checksummed; same codec), decoded in one pass over the topics and one over the data: web3's
    general decoder (ABI normalising, recursive maps, a checksum per address) was most of the
    indexer's time. `shape` is `event_shape(event)`. Raises when the log does not have it."""
    if shape is None:
        return dict(get_event_data(codec, event, cast(Any, entry))["args"])
    topics = entry["topics"][1:]
    if len(topics) != len(shape.topic_types):
        raise ValueError(f"expected {len(shape.topic_types)} log topics, got {len(topics)}")
    args: dict[str, Any] = {}
    for names, types, blob in ((shape.topic_names, shape.topic_types, b"".join(bytes(t) for t in topics)),
                               (shape.data_names, shape.data_types, bytes(entry["data"]))):
        if not types:
            continue
        for name, type_, value in zip(names, types, codec.decode(types, blob), strict=True):
            args[name] = checksum_address(value) if type_ == "address" else value
    return args


class ChainSource(Protocol):
    """Where the indexer finds the connected chain (the `ChainService`, once started)."""

    @property
    def started(self) -> bool: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def chain_id(self) -> int: ...

    @property
    def vault(self) -> Vault: ...


class Indexer:
    """Follows the node for the token's, the marketplace's and the vault's events; see the module docstring."""

    def __init__(self, settings: ChainSettings, repo: IndexRepository, source: ChainSource) -> None:
        self.settings = settings
        self.repo = repo
        self.source = source
        self._topics: dict[bytes, tuple[str, ABIEvent]] | None = None
        self._shapes: dict[bytes, _EventShape | None] = {}
        self._addresses: list[str] = []
        self._start_block: int | None = None
        self._assets: dict[int, Any] = {}

    # --- subscription ---------------------------------------------------------------
    def _subscribe(self, ledger: Ledger) -> dict[bytes, tuple[str, ABIEvent]]:
        if self._topics is None:
            topics: dict[bytes, tuple[str, ABIEvent]] = {}
            vault = self.source.vault.contract
            pairs: list[tuple[Contract, Sequence[str]]] = [(ledger.token, rules.TOKEN_EVENTS),
                                                           (ledger.market, rules.MARKET_EVENTS),
                                                           (vault, rules.VAULT_EVENTS)]
            for contract, names in pairs:
                for item in rules.subscribed(cast(Sequence[Mapping[str, Any]], contract.abi), names):
                    abi = cast(ABIEvent, item)
                    topic = event_abi_to_log_topic(abi)
                    topics[topic] = (str(item["name"]), abi)
                    self._shapes[topic] = event_shape(abi)
            self._topics = topics
            self._addresses = [ledger.token.address, ledger.market.address, vault.address]
        return self._topics

    async def _start(self, ledger: Ledger) -> int:
        if self._start_block is None:
            configured = self.settings.indexer_start_block
            found = await run_db(self.repo.deployment_block, self._addresses) if configured is None else None
            self._start_block = configured if configured is not None else (found or 0)
        return self._start_block

    # --- node reads (on the chain executor) -----------------------------------------
    def _headers(self, numbers: Sequence[int]) -> dict[int, BlockHeader]:
        eth = self.source.ledger.network.w3.eth
        out: dict[int, BlockHeader] = {}
        for n in numbers:
            try:
                b = eth.get_block(n)
            except BlockNotFound:
                continue
            out[n] = BlockHeader(int(b["number"]), "0x" + bytes(b["hash"]).hex(),
                                 "0x" + bytes(b["parentHash"]).hex(), int(b["timestamp"]))
        return out

    def _logs(self, first: int, last: int, topics: Mapping[bytes, tuple[str, ABIEvent]]) -> list[ChainLog]:
        network = self.source.ledger.network
        codec = network.w3.codec
        raw = network.get_logs(first, last, self._addresses, topics.keys())
        out: list[ChainLog] = []
        for entry in raw:
            if entry.get("removed") or not entry["topics"]:
                continue
            topic = bytes(entry["topics"][0])
            found = topics.get(topic)
            if found is None:
                continue
            try:
                args = event_args(codec, found[1], entry, self._shapes.get(topic))
            except Exception:  # noqa: BLE001 - same topic, another shape (not our event): skip it
                log.warning("log %s:%s matches %s but does not decode; skipped", entry["transactionHash"].hex(),
                            entry["logIndex"], found[0])
                continue
            out.append(ChainLog(contract=checksum_address(entry["address"]), event=found[0],
                                args=args, block_number=int(entry["blockNumber"]),
                                block_hash="0x" + bytes(entry["blockHash"]).hex(),
                                tx_hash="0x" + bytes(entry["transactionHash"]).hex(),
                                log_index=int(entry["logIndex"])))
        return out

    # --- one poll -------------------------------------------------------------------
    async def poll_once(self) -> int:
        """Check for a reorg, then index the next confirmed range; returns the blocks indexed
        (0: nothing new, or a reorg was undone / the range changed and is read again)."""
        source = self.source
        if not source.started:
            return 0
        ledger, chain_id = source.ledger, source.chain_id
        network = ledger.network
        topics = self._subscribe(ledger)
        start = await self._start(ledger)
        cp = await run_db(self.repo.checkpoint, chain_id)
        if cp is not None and cp.ref is not None:
            node = (await network.run(self._headers, [cp.number])).get(cp.number)
            if rules.is_reorged(cp.ref, node.hash if node else None):
                await self._rewind(cp)
                return 0
        current = cp if cp is not None else Checkpoint(start - 1, None, start)
        latest = await ledger.block_number()
        span = rules.next_range(current.number, rules.safe_head(latest, self.settings.confirmations),
                                self.settings.indexer_max_blocks)
        self._observe(latest, current.number)
        if span is None:
            return 0
        first, last = span
        logs = await network.run(self._logs, first, last, topics)
        wanted = sorted({first, last, *(entry.block_number for entry in logs)})
        headers = await network.run(self._headers, wanted)
        problem = rules.range_problem(first, current, headers, logs)
        if problem is not None or last not in headers:
            log.info("blocks %d-%d changed while read (%s); read again next poll", first, last,
                     problem or f"block {last} is gone")
            return 0
        ctx = BlockContext(chain_id, {n: h.timestamp for n, h in headers.items()}, await self._assets_of(ledger, logs))
        items = rules.to_indexed(logs, ctx)
        event_blocks = [headers[n] for n in sorted({i.block_number for i in items})]
        applied = await run_db(self.repo.apply_range, chain_id, cp, start, event_blocks, items, headers[last],
                               rules.keep_blocks_from(last, RETAIN_BLOCKS))
        if not applied.advanced:
            return 0  # another indexer moved the checkpoint meanwhile
        for item in items:
            INDEXER_EVENTS.labels(type=item.domain_type).inc()
        self._observe(latest, last)
        if items:
            log.info("indexed blocks %d-%d: %d events (%d new)", first, last, len(items), len(applied.published))
        return last - first + 1

    async def catch_up(self, max_polls: int = 10_000) -> int:
        """Poll until nothing is left to index (tests, start-up); returns the blocks indexed."""
        total = 0
        for _ in range(max_polls):
            n = await self.poll_once()
            if n == 0:
                if await self.lag() == 0:
                    break
                continue
            total += n
        return total

    async def _assets_of(self, ledger: Ledger, logs: Sequence[ChainLog]) -> dict[int, Any]:
        """token → asset for the payloads: from the mints in the range, else the token's view call."""
        self._assets.update(rules.minted_assets(logs))
        out: dict[int, Any] = {}
        for token_id in sorted(rules.token_ids(logs)):
            if token_id not in self._assets:
                try:
                    self._assets[token_id] = await ledger.asset_of(token_id)
                except DomainError:
                    out[token_id] = None  # not (or no longer) minted on the node's chain
                    continue
            out[token_id] = self._assets[token_id]
        return out

    async def _rewind(self, cp: Checkpoint) -> None:
        """Walk back to the common ancestor and undo everything above it."""
        network = self.source.ledger.network
        chain_id = self.source.chain_id
        ancestor: BlockRef | None = None
        below = cp.number
        while ancestor is None:
            stored = await run_db(self.repo.stored_blocks, chain_id, below, WALK_BATCH)
            if not stored:
                break
            nodes = await network.run(self._headers, [b.number for b in stored])
            ancestor = rules.common_ancestor(stored, {b.number: (nodes[b.number].hash if b.number in nodes else None)
                                                      for b in stored})
            below = stored[-1].number - 1
        undone = await run_db(self.repo.rewind, chain_id, cp, ancestor, rules.undo_plan)
        self._assets.clear()  # a reorged mint may give a token id to another asset
        INDEXER_REORGS.inc()
        log.warning("reorg: block %d (%s) left the node's chain; back to block %s, %d events undone", cp.number,
                    cp.hash, ancestor.number if ancestor else "before the start", len(undone))

    # --- health ---------------------------------------------------------------------
    def _observe(self, latest: int, checkpoint: int) -> int:
        behind = rules.lag(latest, self.settings.confirmations, checkpoint)
        INDEXER_LAG.set(behind)
        INDEXER_BLOCK.set(max(checkpoint, 0))
        return behind

    async def lag(self) -> int:
        """Confirmed blocks not indexed yet (also the `chain_indexer_lag_blocks` gauge)."""
        source = self.source
        cp = await run_db(self.repo.checkpoint, source.chain_id)
        start = self._start_block if self._start_block is not None else 0
        return self._observe(await source.ledger.block_number(), cp.number if cp is not None else start - 1)

    async def healthy(self) -> bool:
        """Health entry "indexer": SERVING unless more than CHAIN_INDEXER_MAX_LAG_BLOCKS behind."""
        if not self.source.started:
            return False
        return not rules.is_lagging(await self.lag(), self.settings.indexer_max_lag_blocks)
