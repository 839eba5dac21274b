"""The embedded EVM's block production made deterministic, and its jump analysis shared.

eth-tester's `PyEVMBackend.mine_blocks` gives every post-merge block a random `mix_hash`
(the `prevrandao` value), so replaying the journal rebuilt the same state but blocks with
other hashes, which the event indexer (keyed by block hash) must read as a reorg of the
whole chain. Here `prevrandao` is derived from the parent block's hash: the same genesis and
the same transactions in the same blocks give the same block hashes after a restart.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from eth.vm.code_stream import CodeStream
from eth.vm.forks import ParisVM, PragueVM
from eth.vm.forks.cancun import get_total_blob_gas
from eth_tester import PyEVMBackend
from eth_utils import keccak

ZERO_ADDRESS = b"\x00" * 20
RANDAO_DOMAIN = b"ipheron:embedded:prevrandao:"


class DeterministicPyEVMBackend(PyEVMBackend):
    """`PyEVMBackend` whose blocks take `prevrandao` = keccak(domain ‖ parent hash)."""

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = ZERO_ADDRESS) -> tuple[bytes, ...]:
        hashes: list[bytes] = []
        for _ in range(num_blocks):
            kwargs: dict[str, Any] = {"coinbase": coinbase}
            vm = self.chain.get_vm()
            if isinstance(vm, ParisVM):
                kwargs["mix_hash"] = keccak(RANDAO_DOMAIN + bytes(self.chain.get_canonical_head().hash))
            if isinstance(vm, PragueVM):
                kwargs["blob_gas_used"] = sum(get_total_blob_gas(tx) for tx in self.chain.get_block().transactions)
            hashes.append(self.chain.mine_block(**kwargs).hash)
        return tuple(hashes)


# Contract codes whose jump analysis is kept (the platform's contracts and a few others).
ANALYSED_CODES = 64
_analysis: OrderedDict[bytes, tuple[set[int], set[int]]] = OrderedDict()
_analysis_lock = threading.Lock()
_plain_code_stream_init = CodeStream.__init__


def _shared_analysis_init(self: CodeStream, code_bytes: bytes) -> None:
    """`CodeStream.__init__`, whose sets of valid and invalid jump positions (which byte is an
    opcode and which is PUSH data: a pure function of the code) are the ones every earlier
    stream of the same code filled. py-evm starts them empty for each message call, so every
    call into a contract scanned back over its PUSH data again for each JUMP (a tenth of a
    fulfill's execution)."""
    _plain_code_stream_init(self, code_bytes)
    with _analysis_lock:
        known = _analysis.get(code_bytes)
        if known is None:
            _analysis[code_bytes] = (self.invalid_positions, self.valid_positions)
            if len(_analysis) > ANALYSED_CODES:
                _analysis.popitem(last=False)
        else:
            _analysis.move_to_end(code_bytes)
            self.invalid_positions, self.valid_positions = known


def share_jump_analysis() -> None:
    """Install `_shared_analysis_init` (idempotent); the embedded chain calls it when it is made."""
    CodeStream.__init__ = _shared_analysis_init  # type: ignore[method-assign]
