"""The chain the service talks to: the embedded in-process EVM (py-evm through
eth-tester) or any JSON-RPC node, behind one `Network` with an executor.

The embedded EVM is not thread-safe, so every call to it runs on one dedicated thread.
It also forgets everything when the process ends, so each signed raw transaction is
journaled (with the timestamp of the block that will hold it) *before* it is applied,
and the journal is replayed at start: same genesis, same transactions, same block
times, hence the same tokens, owners and balances.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import struct
import threading
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar, cast

from eth._utils.state import code_is_delegation_designation
from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth.vm.message import Message
from eth.vm.spoof import SpoofTransaction
from eth_tester import EthereumTester, PyEVMBackend
from eth_typing import Address, ChecksumAddress
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3

from chain_service.domain import checksum_address as checksum
from chain_service.evm_backend import (
    DeterministicPyEVMBackend,
    remember_trie_nodes,
    share_jump_analysis,
    speed_up_interpreter,
)

log = logging.getLogger("ipheron.chain.network")
T = TypeVar("T")


class Journal(Protocol):
    """Where the embedded chain writes each raw transaction before applying it."""

    def append(self, tx_hash: str, raw_tx: bytes, block_timestamp: int, block_number: int) -> int: ...

    def discard(self, seq: int) -> None: ...

    def append_block(self, entries: Sequence[tuple[str, bytes, int, int]]) -> int:
        """Write a block's entries in one transaction; returns the last entry's seq."""
        ...


# Blocks may run ahead of the wall clock (timestamps strictly increase, one second at a
# time); past this lead the miner waits for the clock instead of mining.
MAX_CLOCK_LEAD_S = 15


class JournalingEthereumTester(EthereumTester):
    """EthereumTester that journals every raw transaction and mines them in blocks.

    A transaction is applied to the open (pending) block at once, so the pending state,
    nonces and balances see it; `mine_pending` seals that block. With `block_interval_ms`
    0 each transaction is sealed in its own block at once (automine) and journaled before
    it is applied; otherwise a miner (`Network`) seals the open block every interval, and
    its transactions are journaled together (one database transaction) just before it is
    sealed: a crash before that loses only transactions nobody holds a receipt for (on a
    restart their records settle as dropped, as a node's mempool would drop them). The
    open block's timestamp is fixed when its first transaction arrives, so the journal
    records (timestamp, block number) for each entry and a replay rebuilds the same blocks.

    eth-tester's own manual mode (`disable_auto_mine_transactions`, used by tests) is left
    as eth-tester implements it.
    """

    def __init__(self, backend: PyEVMBackend, journal: Journal | None, block_interval_ms: int = 0) -> None:
        super().__init__(backend=backend)
        self.journal = journal
        self.block_interval_ms = block_interval_ms
        # The last journal entry whose transaction is in the chain (0: none yet).
        self.applied_seq = 0
        # The open block: (number, timestamp, when it opened, replay grouping key).
        self._open: tuple[int, int, float, object] | None = None
        # Hashes in the open block: waiters read it from any thread without a chain call.
        self.pending_hashes: set[str] = set()
        # The open block's journal entries, written when it is sealed (interval mode).
        self._unjournaled: list[tuple[str, bytes, int, int]] = []
        # The open block as py-evm built it after the last transaction (see `_install_block_cache`).
        self._pending_block: Any = None
        self._pending_receipts: tuple[Any, ...] = ()
        # The open block's VM: its state holds the block's transactions so far, merkleized into a
        # state root only when the block is sealed (see `_apply`).
        self._pending_vm: Any = None
        # The open block's transaction/receipt roots and state root lag its transactions (see `_apply`).
        self._roots_stale = False
        self._state_unsealed = False
        self._install_block_cache()

    def _install_block_cache(self) -> None:
        """py-evm rebuilds the pending block from its tries (every transaction and receipt
        decoded) on each `get_vm()`, so applying the n-th transaction of a block cost O(n).
        While the chain's header is still the open block's header, the open block's own VM (its
        block as built after the last transaction, its state with every transaction so far) is
        handed out instead, so pending reads (nonces, balances, calls) see the unsealed
        transactions; any other header: a VM built as before."""
        chain = self.backend.chain
        plain = type(chain).get_vm

        def get_vm(at_header: Any = None) -> Any:
            block = self._pending_block
            if block is not None and block.header is (chain.header if at_header is None else at_header):
                if self._pending_vm is not None:
                    return self._pending_vm
                vm = plain(chain, at_header)
                vm._block = block
                return vm
            return plain(chain, at_header)

        chain.get_vm = get_vm
        chaindb = chain.chaindb
        plain_receipts = type(chaindb).get_receipts

        def get_receipts(header: Any, receipt_decoder: Any) -> Any:
            block = self._pending_block
            if block is not None and header is block.header:
                return self._pending_receipts
            return plain_receipts(chaindb, header, receipt_decoder)

        chaindb.get_receipts = get_receipts

    def _next_block_timestamp(self) -> int:
        parent = self.backend.chain.get_canonical_head()
        return max(int(time.time()), parent.timestamp + 1)

    def _pin_pending_timestamp(self, timestamp: int) -> None:
        chain = self.backend.chain
        chain.header = chain.header.copy(timestamp=timestamp)
        self._pending_block = None
        self._pending_vm = None

    def _open_block(self, timestamp: int | None = None, key: object = None) -> tuple[int, int]:
        if self._open is None:
            ts = self._next_block_timestamp() if timestamp is None else timestamp
            self._pin_pending_timestamp(ts)
            number = int(self.backend.chain.get_canonical_head().block_number) + 1
            self._open = (number, ts, time.monotonic(), key)
        return self._open[0], self._open[1]

    def _apply(self, raw_transaction_hex: str) -> str:
        """Apply a raw transaction to the open block without sealing it."""
        chain = self.backend.chain
        raw = bytes.fromhex(raw_transaction_hex.removeprefix("0x"))
        if not raw or raw[0] == 3:  # a blob transaction: eth-tester's own path
            inner = EthereumTester.send_raw_transaction.__wrapped__
            return str(inner(self, raw_transaction_hex))
        # `Chain.apply_transaction`, less its last steps: py-evm merkleizes and persists the whole
        # state after each transaction and rebuilds the block's transaction and receipt tries
        # from every transaction so far (O(n²) in a block). Since Byzantium a receipt carries no
        # state root, so here, as py-evm's own block import does (`VM.apply_all_transactions`),
        # the open block's transactions run one after another on one VM state, and
        # `_seal_roots` computes the state root and the two tries once, when the block is sealed.
        vm = chain.get_vm(chain.header)  # the open block's VM once it holds a transaction
        base_block = vm.get_block()
        tx = vm.get_transaction_builder().decode(raw)
        if self._pending_block is not None and base_block is self._pending_block:
            before = self._pending_receipts
        else:
            before = tuple(base_block.get_receipts(chain.chaindb))
        # `VM.apply_transaction`, with a snapshot after its `lock_changes` (which drops older
        # checkpoints): a transaction refused (nonce, funds) leaves the open block's state as it was.
        vm.validate_transaction_against_header(base_block.header, tx)
        vm.state.lock_changes()
        snapshot = vm.state.snapshot()
        try:
            computation = vm.state.apply_transaction(tx)
            receipt = vm.make_receipt(base_block.header, tx, computation, vm.state)
            vm.validate_receipt(receipt)
        except Exception:
            vm.state.revert(snapshot)
            raise
        header = vm.add_receipt_to_header(base_block.header, receipt)
        block = base_block.copy(header=header, transactions=base_block.transactions + (tx,))
        vm._block = block
        chain.header = header
        self._pending_vm = vm
        self._pending_receipts = before + (receipt,)
        self._pending_block = block
        self._roots_stale = self._state_unsealed = True
        return "0x" + bytes(tx.hash).hex()

    def mine_blocks(self, num_blocks: int = 1, coinbase: str = "0x" + "00" * 20) -> Any:
        """eth-tester's `mine_blocks`, after the open block got its roots (any caller: the
        miner, a test's `evm_mine`)."""
        self._seal_roots()
        return super().mine_blocks(num_blocks, coinbase)

    def _seal_roots(self) -> None:
        """Give the open block its state root and its transaction and receipt roots (deferred by
        `_apply`): py-evm's miner then builds the block from this header."""
        if not self._roots_stale or self._pending_block is None:
            return
        chain = self.backend.chain
        block = self._pending_block
        if block.header is not chain.header:
            return  # rebuilt elsewhere (eth-tester's own path, which persisted the state): its own roots
        vm = chain.get_vm(chain.header)
        header = block.header
        if self._state_unsealed:
            vm.state.persist()
            header = header.copy(state_root=vm.state.state_root)
        block = vm.set_block_transactions_and_withdrawals(block, header, block.transactions, self._pending_receipts)
        vm._block = block
        chain.header = block.header
        self._pending_block = block
        self._roots_stale = self._state_unsealed = False

    def send_raw_transaction(self, raw_transaction_hex: str) -> str:
        if not self.auto_mine_transactions:
            return super().send_raw_transaction(raw_transaction_hex)
        raw = bytes.fromhex(raw_transaction_hex.removeprefix("0x"))
        number, timestamp = self._open_block()
        if self.block_interval_ms:
            tx_hash = self._apply(raw_transaction_hex)
            if self.journal is not None:
                self._unjournaled.append(("0x" + keccak(raw).hex(), raw, timestamp, number))
            self.pending_hashes.add(tx_hash.lower())
            return tx_hash
        seq = self.journal.append("0x" + keccak(raw).hex(), raw, timestamp, number) if self.journal else 0
        try:
            tx_hash = self._apply(raw_transaction_hex)
        except Exception:
            # Rejected before it reached a block (bad nonce, no funds): not part of history.
            if seq:
                self.journal.discard(seq)  # type: ignore[union-attr]
            raise
        if seq:
            self.applied_seq = seq
        self.mine_pending()
        return tx_hash

    @property
    def pending_count(self) -> int:
        """Transactions in the open block."""
        return 0 if self._open is None else len(self.backend.chain.get_block().transactions)

    def due(self) -> bool:
        """Whether the miner should seal the open block now: open for an interval, and its
        timestamp not too far ahead of the clock."""
        if self._open is None:
            return False
        _, timestamp, opened, _ = self._open
        return (time.monotonic() - opened) * 1000 >= self.block_interval_ms and \
            timestamp <= time.time() + MAX_CLOCK_LEAD_S

    def mine_pending(self) -> int:
        """Seal the open block (if any); returns how many blocks were mined (0 or 1)."""
        if self._open is None:
            return 0
        if self._unjournaled:
            # Durable before sealed; if this fails the block stays open and the next try repeats it.
            assert self.journal is not None
            self.applied_seq = self.journal.append_block(self._unjournaled)
            self._unjournaled = []
        self._open = None
        self.mine_blocks(1)
        self._pending_block = self._pending_vm = None
        self._roots_stale = self._state_unsealed = False
        self.pending_hashes = set()
        return 1

    def replay(self, entries: Iterable[tuple[int, bytes, int, int | None]]) -> int:
        """Re-apply journaled transactions in order, in the same blocks with the same times.
        The last block stays open: the caller seals it (`mine_pending`) after the last batch."""
        applied = 0
        for seq, raw, timestamp, number in entries:
            key: object = number if number is not None else ("alone", seq)
            if self._open is not None and self._open[3] != key:
                self.mine_pending()
            self._open_block(timestamp, key)
            try:
                self._apply("0x" + raw.hex())
                applied += 1
            except Exception as exc:  # noqa: BLE001 - one bad entry must not stop the rest
                log.warning("journal entry %d could not be replayed: %s", seq, exc)
            self.applied_seq = seq
        return applied

    def block_logs(self, first: int, last: int, addresses: Collection[bytes],
                   topics: Collection[bytes]) -> list[dict[str, Any]]:
        """eth_getLogs of canonical blocks first..last: the logs of `addresses` whose first topic is
        one of `topics`, in eth-tester's own shape (each log's `logIndex` is its position in its
        transaction's receipt, as eth-tester numbers it), oldest first.

        eth-tester builds every transaction's whole receipt for this, and each one decodes all the
        receipts of its block again (O(n²) in a block: an eighth of the chain thread's time at 50
        transactions a second); here each block's receipts are decoded once."""
        chain = self.backend.chain
        chaindb = chain.chaindb
        head = int(chain.get_canonical_head().block_number)
        out: list[dict[str, Any]] = []
        for number in range(max(first, 0), min(last, head) + 1):
            block = chain.get_canonical_block_by_number(number)
            if not block.transactions:
                continue
            block_hash = HexBytes(block.hash)
            receipts = block.get_receipts(chaindb)
            for tx_index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
                for log_index, entry in enumerate(receipt.logs):
                    if entry.address not in addresses or not entry.topics:
                        continue
                    entry_topics = [HexBytes(t.to_bytes(32, "big")) for t in entry.topics]
                    if bytes(entry_topics[0]) not in topics:
                        continue
                    out.append({"removed": False, "logIndex": log_index, "transactionIndex": tx_index,
                                "transactionHash": HexBytes(tx.hash), "blockHash": block_hash,
                                "blockNumber": number, "address": checksum(entry.address),
                                "data": HexBytes(entry.data), "topics": entry_topics})
        return out

    def head(self) -> tuple[int, str]:
        """(block number, state root) of the canonical head."""
        head = self.backend.chain.get_canonical_head()
        return int(head.block_number), "0x" + bytes(head.state_root).hex()

    def snapshot(self) -> tuple[int, int, str, bytes]:
        """(journal seq, head block, state root, compressed database) at this moment.

        Taken on the chain thread after sealing the open block, so it holds exactly the
        journal entries up to `applied_seq`.
        """
        self.mine_pending()
        kv = self.backend.chain.chaindb.db.wrapped_db.kv_store
        parts = [struct.pack(">II", len(k), len(v)) + bytes(k) + bytes(v) for k, v in kv.items()]
        number, root = self.head()
        return self.applied_seq, number, root, zlib.compress(b"".join(parts), 1)

    def restore(self, data: bytes, journal_seq: int) -> tuple[int, str]:
        """Replace the chain with a snapshot's database; returns the restored head."""
        raw, kv, pos = zlib.decompress(data), {}, 0
        while pos < len(raw):
            klen, vlen = struct.unpack_from(">II", raw, pos)
            pos += 8
            kv[raw[pos:pos + klen]] = raw[pos + klen:pos + klen + vlen]
            pos += klen + vlen
        chain_class = type(self.backend.chain)
        self.backend.chain = chain_class(AtomicDB(MemoryDB(kv)))
        self.applied_seq = journal_seq
        self._open = None
        self._pending_block = self._pending_vm = None
        self._roots_stale = self._state_unsealed = False
        self._install_block_cache()
        return self.head()


DEV_ACCOUNT_BALANCE = 1_000_000 * 10**18
# View calls on the embedded chain: a generous gas cap.
VIEW_GAS = 10_000_000


def make_embedded_tester(genesis_timestamp: int, journal: Journal | None, funded: Iterable[str] = (),
                         block_interval_ms: int = 0) -> JournalingEthereumTester:
    """A fresh in-process chain with eth-tester's funded development accounts, plus `funded`
    addresses (e.g. a configured signer) holding the same development balance at genesis."""
    share_jump_analysis()
    speed_up_interpreter()
    remember_trie_nodes()
    params = PyEVMBackend.generate_genesis_params(overrides={"timestamp": genesis_timestamp})
    state = dict(PyEVMBackend.generate_genesis_state(num_accounts=10))
    for address in funded:
        canonical = bytes.fromhex(address.removeprefix("0x"))
        state.setdefault(canonical, {"balance": DEV_ACCOUNT_BALANCE, "storage": {}, "code": b"", "nonce": 0})
    return JournalingEthereumTester(DeterministicPyEVMBackend(genesis_parameters=params, genesis_state=state), journal,
                                    block_interval_ms)


class RpcError(Exception):
    """A JSON-RPC node's error answer to one request of a batch (`Network.rpc_batch`)."""

    def __init__(self, method: str, error: Any) -> None:
        self.method = method
        self.error = error
        message = error.get("message", error) if isinstance(error, dict) else error
        super().__init__(f"{method}: {message}")


class Network:
    """A Web3 handle plus the executor every blocking chain call runs on."""

    def __init__(self, w3: Web3, *, embedded: bool, tester: JournalingEthereumTester | None = None,
                 threads: int = 1) -> None:
        self.w3 = w3
        self.embedded = embedded
        self.tester = tester
        # One thread for the embedded EVM (not thread-safe); a few for a remote node.
        self._executor = ThreadPoolExecutor(max_workers=1 if embedded else threads, thread_name_prefix="chain")
        self._stop = threading.Event()
        self._miner: threading.Thread | None = None
        self._view_caller: str | None = None
        self._view_caller_bytes: bytes | None = None
        self._head_view: tuple[bytes, Any, Any] | None = None

    @classmethod
    def embedded_chain(cls, genesis_timestamp: int, journal: Journal | None, funded: Iterable[str] = (),
                       block_interval_ms: int = 0) -> Network:
        tester = make_embedded_tester(genesis_timestamp, journal, funded, block_interval_ms)
        return cls(Web3(EthereumTesterProvider(tester)), embedded=True, tester=tester)

    def start_miner(self) -> None:
        """Embedded chain with a block interval: seal the open block every interval, on the
        chain thread (a plain thread schedules it, so no event loop is needed)."""
        tester = self.tester
        if tester is None or tester.block_interval_ms == 0 or self._miner is not None:
            return
        period = tester.block_interval_ms / 1000

        def loop() -> None:
            while not self._stop.wait(min(period, 0.05)):
                try:
                    if tester.due():
                        self._executor.submit(tester.mine_pending).result()
                except RuntimeError:
                    return  # executor shut down
                except Exception:  # noqa: BLE001 - keep mining; the next interval retries
                    log.exception("mining the embedded chain's block failed")

        self._miner = threading.Thread(target=loop, name="chain-miner", daemon=True)
        self._miner.start()

    @classmethod
    def json_rpc(cls, uri: str, timeout_s: float = 30.0) -> Network:
        provider: Any
        if uri.startswith(("http://", "https://")):
            provider = Web3.HTTPProvider(uri, request_kwargs={"timeout": timeout_s})
        elif uri.startswith("ipc://") or uri.endswith(".ipc"):
            provider = Web3.IPCProvider(uri.removeprefix("ipc://"), timeout=int(timeout_s))
        else:
            # web3 8's WebSocket provider is async-only; a node's HTTP endpoint serves the same API.
            raise ValueError(f"unsupported WEB3_PROVIDER_URI (use http(s):// or an .ipc path): {uri}")
        return cls(Web3(provider), embedded=False, threads=8)

    @property
    def name(self) -> str:
        return "embedded" if self.embedded else "rpc"

    def in_open_block(self, tx_hash: str) -> bool:
        """Embedded chain: the transaction waits in the open block (not sealed yet). Read
        without a chain call, so receipt waiters do not crowd the chain thread."""
        return self.tester is not None and tx_hash.lower() in self.tester.pending_hashes

    # --- fast reads (call on the chain thread) ----------------------------------------
    # The embedded chain is read through eth-tester directly: web3's middleware stack (and its
    # guess of a `from` account, which lists every test account) cost more than the EVM call.
    def call_raw(self, to: str, data: bytes, block: int | str = "latest") -> bytes:
        """eth_call of raw call data at the head (or `block`); a revert raises."""
        if self.tester is not None and (block == "latest" or
                                        block == self.tester.backend.chain.get_canonical_head().block_number):
            return self._head_call(to, data)
        if self.tester is not None:
            if self._view_caller is None:
                self._view_caller = self.tester.get_accounts()[0]  # funded: py-evm charges a call's gas
            out = self.tester.call({"from": self._view_caller, "to": to, "data": "0x" + data.hex(),
                                    "gas": VIEW_GAS}, block)
            return bytes.fromhex(str(out).removeprefix("0x"))
        return bytes(self.w3.eth.call({"to": cast(ChecksumAddress, to), "data": HexBytes(data)}, cast(Any, block)))

    def _head_state(self) -> tuple[Any, Any, Any]:
        """(head header, VM, state) of the embedded chain's head, kept while the head is the same:
        eth-tester builds a VM (the block decoded, 256 ancestor hashes read) and a cold state for
        every read, which grows with the block's size; here consecutive reads share one state
        and its caches."""
        assert self.tester is not None
        chain = self.tester.backend.chain
        head = chain.get_canonical_head()
        if self._head_view is None or self._head_view[0] != head.hash:
            vm = chain.get_vm(at_header=head)
            self._head_view = (head.hash, vm, vm.state)
        return head, self._head_view[1], self._head_view[2]

    def _head_call(self, to: str, data: bytes) -> bytes:
        """A call on the head's state (`_head_state`). Each call is reverted to a snapshot, as
        eth-tester does."""
        assert self.tester is not None
        head, vm, state = self._head_state()
        caller = bytes.fromhex(self.tester.get_accounts()[0][2:]) if self._view_caller_bytes is None \
            else self._view_caller_bytes
        self._view_caller_bytes = caller
        target = bytes.fromhex(to[2:])
        code = state.get_code(target)
        if not code_is_delegation_designation(code):
            # The message an eth_call transaction would carry (same code, call data, caller, origin,
            # gas price and block), run without the transaction around it: a view's output does not
            # depend on the gas purchase, nonce bump, refund and coinbase payment eth_call performs
            # and then reverts (two fifths of a view call's time).
            context = state.get_transaction_context_class()(gas_price=int(getattr(head, "base_fee_per_gas", 0) or 0),
                                                             origin=caller)
            message = Message(gas=VIEW_GAS, to=Address(target), sender=Address(caller), value=0, data=data, code=code)
            snapshot = state.snapshot()
            try:
                state.mark_address_warm(caller)
                state.mark_address_warm(target)
                computation = state.computation_class.apply_message(state, message, context)
            finally:
                state.revert(snapshot)
            if computation.is_error:
                raise computation.error
            return bytes(computation.output)
        unsigned = vm.create_unsigned_transaction(nonce=state.get_nonce(caller),
                                                  gas_price=int(getattr(head, "base_fee_per_gas", 0) or 0),
                                                  gas=VIEW_GAS, to=bytes.fromhex(to[2:]), value=0, data=data)
        snapshot = state.snapshot()
        try:
            computation = state.apply_transaction(SpoofTransaction(unsigned, from_=caller))
        finally:
            state.revert(snapshot)
        if computation.is_error:
            raise computation.error
        return bytes(computation.output)

    def send_raw_transaction(self, raw_transaction: str) -> None:
        """eth_sendRawTransaction of a 0x-hex signed transaction (call on the chain thread). The
        embedded chain takes it directly: web3's middleware stack and eth-tester's request
        formatting around it cost more than decoding it. A refusal (nonce, funds, a known
        transaction) raises the chain's own exception, as web3's eth-tester provider passes it on."""
        if self.tester is not None:
            self.tester.send_raw_transaction(raw_transaction)
        else:
            self.w3.eth.send_raw_transaction(cast(Any, raw_transaction))

    def get_logs(self, first: int, last: int, addresses: Sequence[str], topics: Collection[bytes]) -> list[Any]:
        """The logs of `addresses` with a first topic in `topics` in blocks first..last (call on the
        chain thread): the embedded chain reads its blocks' receipts directly (`block_logs`)."""
        if self.tester is not None:
            return self.tester.block_logs(first, last, {bytes.fromhex(a[2:]) for a in addresses}, topics)
        return list(self.w3.eth.get_logs({"fromBlock": first, "toBlock": last, "address": cast(Any, list(addresses)),
                                          "topics": [["0x" + t.hex() for t in topics]]}))

    def head_timestamp(self) -> int:
        if self.tester is not None:
            return int(self.tester.backend.chain.get_canonical_head().timestamp)
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def head_base_fee(self) -> int:
        if self.tester is not None:
            return int(getattr(self.tester.backend.chain.get_canonical_head(), "base_fee_per_gas", 0) or 0)
        return int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)

    def pending_account(self, address: str) -> tuple[int, int]:
        """(pending nonce, pending balance) of an account."""
        if self.tester is not None:
            return int(self.tester.get_nonce(address, "pending")), int(self.tester.get_balance(address, "pending"))
        eth = self.w3.eth
        checksum = cast(ChecksumAddress, address)
        return int(eth.get_transaction_count(checksum, "pending")), int(eth.get_balance(checksum, "pending"))

    def account_and_fees(self, address: str) -> tuple[int, int, int, int | None]:
        """(pending nonce, pending balance, head base fee, the node's suggested priority fee or
        None when it has none) of an account: one batch of four reads on a JSON-RPC node."""
        if self.tester is not None:
            nonce, balance = self.pending_account(address)
            return nonce, balance, self.head_base_fee(), None
        nonce, balance, head, tip = self.rpc_batch([
            ("eth_getTransactionCount", [address, "pending"]), ("eth_getBalance", [address, "pending"]),
            ("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])])
        for answer in (nonce, balance, head):
            if isinstance(answer, RpcError):
                raise answer
        return (int(nonce, 16), int(balance, 16), int(head.get("baseFeePerGas") or "0x0", 16),
                None if isinstance(tip, RpcError) or tip is None else int(tip, 16))

    def rpc_batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several JSON-RPC reads in one request to the node (a JSON-RPC node, not the embedded
        chain), so a use case that needs five facts pays one round trip and one pass through the
        HTTP client instead of five: each item is the node's raw result (hex strings, as on the
        wire), or an `RpcError` for a request the node refused. Call on the chain executor."""
        if not calls:
            return []
        provider: Any = self.w3.provider
        requests = [(method, list(params)) for method, params in calls]
        if not hasattr(provider, "make_batch_request"):  # a provider without batches: one at a time
            answers = [dict(provider.make_request(m, p), id=i) for i, (m, p) in enumerate(requests)]
        else:
            got = provider.make_batch_request(requests)
            if not isinstance(got, list):  # the node refused the batch itself
                raise RpcError("batch", got.get("error") if isinstance(got, dict) else got)
            answers = list(got)
        if len(answers) != len(calls):
            raise RpcError("batch", f"{len(answers)} answers to {len(calls)} requests")
        # JSON-RPC answers a batch in any order; the ids were given in request order.
        ordered = sorted(answers, key=lambda a: int(a["id"]))
        return [RpcError(method, a["error"]) if a.get("error") is not None else a.get("result")
                for (method, _), a in zip(calls, ordered, strict=True)]

    def has_code(self, address: str) -> bool:
        if self.tester is not None:
            return len(self._head_state()[2].get_code(bytes.fromhex(address.removeprefix("0x")))) > 0
        return len(self.w3.eth.get_code(cast(ChecksumAddress, address))) > 0

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking chain call on the chain executor."""
        ctx = contextvars.copy_context()
        call = functools.partial(ctx.run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        self._stop.set()
        if self._miner is not None:
            self._miner.join(timeout=5)
        self._executor.shutdown(wait=True, cancel_futures=True)
