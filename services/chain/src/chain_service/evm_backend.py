"""The embedded EVM's block production made deterministic.

eth-tester's `PyEVMBackend.mine_blocks` gives every post-merge block a random `mix_hash`
(the `prevrandao` value), so replaying the journal rebuilt the same state but blocks with
other hashes, which the event indexer (keyed by block hash) must read as a reorg of the
whole chain. Here `prevrandao` is derived from the parent block's hash: the same genesis and
the same transactions in the same blocks give the same block hashes after a restart.
"""

from __future__ import annotations

from typing import Any

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
