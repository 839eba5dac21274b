"""The embedded EVM's block production made deterministic, and its jump analysis shared.

eth-tester's `PyEVMBackend.mine_blocks` gives every post-merge block a random `mix_hash`
(the `prevrandao` value), so replaying the journal rebuilt the same state but blocks with
other hashes, which the event indexer (keyed by block hash) must read as a reorg of the
whole chain. Here `prevrandao` is derived from the parent block's hash: the same genesis and
the same transactions in the same blocks give the same block hashes after a restart.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Any

import eth.vm.forks
import trie.hexary
import trie.utils.nodes
from eth.exceptions import FullStack, InsufficientStack
from eth.vm.code_stream import CodeStream
from eth.vm.forks import ParisVM, PragueVM
from eth.vm.forks.cancun import get_total_blob_gas
from eth.vm.opcode import _FastOpcode
from eth.vm.spoof import SpoofTransaction
from eth.vm.stack import Stack, to_int
from eth_tester import PyEVMBackend
from eth_utils import keccak

ZERO_ADDRESS = b"\x00" * 20
RANDAO_DOMAIN = b"ipheron:embedded:prevrandao:"


class DeterministicPyEVMBackend(PyEVMBackend):
    """`PyEVMBackend` whose blocks take `prevrandao` = keccak(domain ‖ parent hash), and whose
    chain estimates gas with `estimate_from_gas_used` (whatever chain it is given: genesis, a
    reverted snapshot, a restored database)."""

    @property
    def chain(self) -> Any:
        return self._chain

    @chain.setter
    def chain(self, chain: Any) -> None:
        chain.gas_estimator = estimate_from_gas_used
        self._chain = chain

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


# --- the interpreter's two hottest helpers -------------------------------------------------
_plain_fast_opcode_call = _FastOpcode.__call__
_plain_pop_ints = Stack.pop_ints


def _fast_opcode_call(self: _FastOpcode, computation: Any) -> Any:
    """`_FastOpcode.__call__` (charge the opcode's fixed gas, then run it) with the gas meter's
    subtraction inlined: two method calls fewer for every simple opcode (a sixth of a fulfill's
    execution). A charge the meter cannot cover, or a meter logging each charge, goes through
    `GasMeter.consume_gas` itself, which raises `OutOfGas` (or logs) as before."""
    meter = computation._gas_meter
    amount = self.gas_cost
    remaining = meter.gas_remaining
    if amount > remaining or meter.logger.show_debug2:
        meter.consume_gas(amount, self.mnemonic)
    else:
        meter.gas_remaining = remaining - amount
    return self.logic_fn(computation)


def _fast_pop_ints(self: Stack, num_items: int) -> tuple[int, ...]:
    """`Stack.pop_ints`: the top `num_items` items as ints, topmost first, without its generator
    over `pop_any`'s reversed copy."""
    values = self.values
    if num_items > len(values):
        raise InsufficientStack(f"Wanted {num_items} stack items, only had {len(values)}")
    popped = values[-num_items:]
    del values[-num_items:]
    popped.reverse()
    return tuple([item if item.__class__ is int else to_int(item) for item in popped])


def _fast_push(size: int) -> Any:
    """PUSH<size>'s logic: the next `size` code bytes (zero-padded past the end) pushed as bytes,
    in one function instead of py-evm's five calls (push_XX, CodeStream.read, stack_push_bytes,
    Stack.push_bytes and its validation, which a slice of at most 32 bytes always passes)."""

    def push(computation: Any) -> None:
        code = computation.code
        pc = code.program_counter
        raw = code._raw_code_bytes[pc:pc + size]
        code.program_counter = pc + size
        values = computation._stack.values
        if len(values) > 1023:
            raise FullStack("Stack limit reached")
        values.append(raw if len(raw) == size else raw.ljust(size, b"\x00"))

    return push


# Each fork's PUSH1..PUSH32 opcode objects and their own logic functions.
_push_opcodes: list[tuple[_FastOpcode, Any, Any]] = []


def _collect_push_opcodes() -> None:
    if _push_opcodes:
        return
    seen: set[int] = set()
    for name in dir(eth.vm.forks):
        vm_class = getattr(eth.vm.forks, name)
        state_class = getattr(vm_class, "_state_class", None)
        opcodes = getattr(getattr(state_class, "computation_class", None), "opcodes", None) or {}
        for size in range(1, 33):
            opcode = opcodes.get(0x5F + size)
            if isinstance(opcode, _FastOpcode) and id(opcode) not in seen and opcode.mnemonic == f"PUSH{size}":
                seen.add(id(opcode))
                _push_opcodes.append((opcode, opcode.logic_fn, _fast_push(size)))


def speed_up_interpreter(enabled: bool = True) -> None:
    """Install (or, `enabled=False`, remove) `_fast_opcode_call`, `_fast_pop_ints` and the PUSH
    opcodes' `_fast_push`; the same gas, stack and errors as py-evm's own (tests run the same
    transactions both ways)."""
    _FastOpcode.__call__ = _fast_opcode_call if enabled else _plain_fast_opcode_call  # type: ignore[method-assign]
    Stack.pop_ints = _fast_pop_ints if enabled else _plain_pop_ints  # type: ignore[method-assign]
    _collect_push_opcodes()
    for opcode, plain, fast in _push_opcodes:
        opcode.logic_fn = fast if enabled else plain


# --- trie nodes, decoded once -----------------------------------------------------------------
# Decoded nodes kept (a node is ~0.1-0.6 kB: a few MB at most); past the bound the memory starts afresh.
REMEMBERED_NODES = 16_384
_nodes: dict[bytes, tuple[Any, ...]] = {}
_plain_decode_node = trie.hexary.decode_node


def _freeze(node: list[Any]) -> tuple[Any, ...]:
    return tuple(_freeze(item) if isinstance(item, list) else item for item in node)


def _thaw(node: tuple[Any, ...]) -> list[Any]:
    return [_thaw(item) if item.__class__ is tuple else item for item in node]


def _remembered_decode_node(encoded: Any) -> Any:
    """`decode_node` for `HexaryTrie.get_node`, remembering each encoded node's decoding: a node
    is named by its hash, so its bytes always decode to the same node. Every block's first reads
    of an account or a storage slot walk the trie from its root and RLP-decoded the same
    upper nodes again (a 532-byte branch: 18 µs; a copy of the remembered one: 1 µs). The trie
    edits the nodes it gets in place, so each call gets its own lists."""
    if encoded.__class__ is not bytes or len(encoded) < 32:
        return _plain_decode_node(encoded)
    frozen = _nodes.get(encoded)
    if frozen is not None:
        return _thaw(frozen)
    node = _plain_decode_node(encoded)
    if isinstance(node, list):
        if len(_nodes) >= REMEMBERED_NODES:
            _nodes.clear()
        _nodes[encoded] = _freeze(node)
    return node


# A trie key's nibbles and a node's hex-prefix decoding: pure functions of bytes whose answers
# (tuples) cannot be edited, so they are remembered as they are. A storage read converts its
# 32-byte key, and each node on its path its prefix, again in every block.
_plain_bytes_to_nibbles = trie.hexary.bytes_to_nibbles
_plain_decode_nibbles = trie.hexary.decode_nibbles
_remembered_bytes_to_nibbles = functools.lru_cache(maxsize=REMEMBERED_NODES)(_plain_bytes_to_nibbles)
_remembered_decode_nibbles = functools.lru_cache(maxsize=REMEMBERED_NODES)(_plain_decode_nibbles)


def remember_trie_nodes(enabled: bool = True) -> None:
    """Install (or remove) `_remembered_decode_node` as the hexary trie's node decoder, and the
    remembered nibble conversions."""
    trie.hexary.decode_node = _remembered_decode_node if enabled else _plain_decode_node  # type: ignore[assignment]
    to_nibbles = _remembered_bytes_to_nibbles if enabled else _plain_bytes_to_nibbles
    from_prefix = _remembered_decode_nibbles if enabled else _plain_decode_nibbles
    trie.hexary.bytes_to_nibbles = to_nibbles
    trie.hexary.decode_nibbles = from_prefix
    trie.utils.nodes.decode_nibbles = from_prefix
    _nodes.clear()


# --- gas estimation from the gas a run used --------------------------------------------------
# py-evm's default estimator bisects [intrinsic gas, block gas limit] to within 21,000 gas: about
# a dozen full executions of the transaction (for a mint, 44 % of the chain service's CPU per
# registered asset). Here the transaction runs once at the block gas limit, and what it consumed
# (before refunds) is the first guess, checked by a run at that limit. A guess can run short:
# EIP-150 keeps 1/64 of the gas from each call, and an SSTORE needs 2,300 gas left whatever it
# costs; so the next candidate adds 1/32 (two nested calls), and only past that does py-evm's
# bisection take over, between the last short candidate and the first one enough.
def _run_error(state: Any, transaction: Any) -> tuple[Any, int]:
    """The computation's error running `transaction` on `state` (None: it succeeded), and the
    gas left at its end; the state is reverted either way. A transaction the state refuses
    (nonce, funds) raises, as in py-evm's own estimator."""
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(transaction)
        return (computation.error if computation.is_error else None), int(computation.get_gas_remaining())
    finally:
        state.revert(snapshot)


def estimate_from_gas_used(state: Any, transaction: Any, tolerance: int = 21_000) -> int:
    """A gas limit the transaction succeeds with, each answer checked by a run at it: the
    intrinsic gas when that is enough; else what a run at the block gas limit consumed, or that
    plus 1/32, the first that is enough (within `tolerance` of the least limit that does, unless
    the code reads `gasleft()`); else py-evm's bisection from there. A run at the block gas limit
    that fails raises its error, and a transaction the state refuses raises, as with py-evm's
    own `binary_gas_search_intrinsic_tolerance`."""
    if not hasattr(transaction, "sender"):
        raise TypeError("Transaction is missing attribute sender (estimate a SpoofTransaction with its 'from').")
    intrinsic = int(transaction.intrinsic_gas)
    if _run_error(state, SpoofTransaction(transaction, gas=intrinsic, gas_price=0))[0] is None:
        return intrinsic
    top = int(state.gas_limit)
    error, left = _run_error(state, SpoofTransaction(transaction, gas=top, gas_price=0))
    if error is not None:
        raise error
    guess = max(top - left, intrinsic)
    if _run_error(state, SpoofTransaction(transaction, gas=guess))[0] is None:
        return guess
    short, enough = guess, min(top, guess + guess // 32 + 2_300)
    if _run_error(state, SpoofTransaction(transaction, gas=enough))[0] is not None:
        short, enough = enough, top
    while enough - short > tolerance:
        midpoint = (short + enough) // 2
        if _run_error(state, SpoofTransaction(transaction, gas=midpoint))[0] is None:
            enough = midpoint
        else:
            short = midpoint
    return enough
