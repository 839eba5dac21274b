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
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import keccak
from web3 import EthereumTesterProvider, Web3

log = logging.getLogger("ipheron.chain.network")
T = TypeVar("T")


class Journal(Protocol):
    """Where the embedded chain writes each raw transaction before applying it."""

    def append(self, tx_hash: str, raw_tx: bytes, block_timestamp: int) -> int: ...

    def discard(self, seq: int) -> None: ...


class JournalingEthereumTester(EthereumTester):
    """EthereumTester that journals every raw transaction it mines (auto-mine mode).

    Each transaction is mined in its own block; the block's timestamp is fixed before the
    transaction is applied so that the journal can record it and a replay can reproduce it.
    """

    def __init__(self, backend: PyEVMBackend, journal: Journal | None) -> None:
        super().__init__(backend=backend)
        self.journal = journal
        # The last journal entry whose transaction is in the chain (0: none yet).
        self.applied_seq = 0

    def _next_block_timestamp(self) -> int:
        parent = self.backend.chain.get_canonical_head()
        return max(int(time.time()), parent.timestamp + 1)

    def _pin_pending_timestamp(self, timestamp: int) -> None:
        chain = self.backend.chain
        chain.header = chain.header.copy(timestamp=timestamp)

    def send_raw_transaction(self, raw_transaction_hex: str) -> str:
        if self.journal is None or not self.auto_mine_transactions:
            return super().send_raw_transaction(raw_transaction_hex)
        raw = bytes.fromhex(raw_transaction_hex.removeprefix("0x"))
        timestamp = self._next_block_timestamp()
        self._pin_pending_timestamp(timestamp)
        seq = self.journal.append("0x" + keccak(raw).hex(), raw, timestamp)
        try:
            tx_hash = super().send_raw_transaction(raw_transaction_hex)
        except Exception:
            # Rejected before it reached a block (bad nonce, no funds): not part of history.
            self.journal.discard(seq)
            raise
        self.applied_seq = seq
        return tx_hash

    def replay(self, entries: Iterable[tuple[int, bytes, int]]) -> int:
        """Re-apply journaled transactions in order with their original block times."""
        applied = 0
        for seq, raw, timestamp in entries:
            self._pin_pending_timestamp(timestamp)
            try:
                EthereumTester.send_raw_transaction(self, "0x" + raw.hex())
                applied += 1
            except Exception as exc:  # noqa: BLE001 - one bad entry must not stop the rest
                log.warning("journal entry %d could not be replayed: %s", seq, exc)
            self.applied_seq = seq
        return applied

    def head(self) -> tuple[int, str]:
        """(block number, state root) of the canonical head."""
        head = self.backend.chain.get_canonical_head()
        return int(head.block_number), "0x" + bytes(head.state_root).hex()

    def snapshot(self) -> tuple[int, int, str, bytes]:
        """(journal seq, head block, state root, compressed database) at this moment.

        Taken between transactions on the chain thread, so it holds exactly the journal
        entries up to `applied_seq`.
        """
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
        return self.head()


DEV_ACCOUNT_BALANCE = 1_000_000 * 10**18


def make_embedded_tester(genesis_timestamp: int, journal: Journal | None,
                         funded: Iterable[str] = ()) -> JournalingEthereumTester:
    """A fresh in-process chain with eth-tester's funded development accounts, plus `funded`
    addresses (e.g. a configured signer) holding the same development balance at genesis."""
    params = PyEVMBackend.generate_genesis_params(overrides={"timestamp": genesis_timestamp})
    state = dict(PyEVMBackend.generate_genesis_state(num_accounts=10))
    for address in funded:
        canonical = bytes.fromhex(address.removeprefix("0x"))
        state.setdefault(canonical, {"balance": DEV_ACCOUNT_BALANCE, "storage": {}, "code": b"", "nonce": 0})
    return JournalingEthereumTester(PyEVMBackend(genesis_parameters=params, genesis_state=state), journal)


class Network:
    """A Web3 handle plus the executor every blocking chain call runs on."""

    def __init__(self, w3: Web3, *, embedded: bool, tester: JournalingEthereumTester | None = None,
                 threads: int = 1) -> None:
        self.w3 = w3
        self.embedded = embedded
        self.tester = tester
        # One thread for the embedded EVM (not thread-safe); a few for a remote node.
        self._executor = ThreadPoolExecutor(max_workers=1 if embedded else threads, thread_name_prefix="chain")

    @classmethod
    def embedded_chain(cls, genesis_timestamp: int, journal: Journal | None, funded: Iterable[str] = ()) -> Network:
        tester = make_embedded_tester(genesis_timestamp, journal, funded)
        return cls(Web3(EthereumTesterProvider(tester)), embedded=True, tester=tester)

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

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking chain call on the chain executor."""
        ctx = contextvars.copy_context()
        call = functools.partial(ctx.run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
