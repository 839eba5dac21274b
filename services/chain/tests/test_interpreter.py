"""The embedded EVM's faster helpers against py-evm's own: the interpreter's
(`evm_backend.speed_up_interpreter`: the fixed gas charge inlined, `Stack.pop_ints` without a
generator) and the trie's remembered node decoding (`remember_trie_nodes`). The same sale, a
refused second fill and a fill starved of gas give the same receipts (status, gas used, logs)
and payouts either way (state roots and native balances differ run to run: the timelock stores
block times and its wait mines a varying number of blocks);
a remembered node decodes as RLP does, no two readers share its lists, and a trie edited through
it has the plain trie's root."""

from __future__ import annotations

import os
from typing import Any

import rlp
from chain_service.evm_backend import remember_trie_nodes, speed_up_interpreter
from trie import HexaryTrie
from v2_helpers import Reverted, V2Chain

PRICE = 10**18 + 7


def _receipt(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return dict(fn(*args, **kwargs))
    except Reverted as exc:  # status 0: the receipt is what we compare
        return dict(exc.args_["receipt"])


def _sale(fast: bool) -> tuple[list[tuple[Any, ...]], list[int]]:
    speed_up_interpreter(fast)
    remember_trie_nodes(fast)
    try:
        chain = V2Chain()
        a = chain.accounts
        token = chain.mint(a[1].address, [(a[2].address, 6000), (a[3].address, 4000)])
        order = chain.order(a[1].address, token, PRICE, salt=12345, start=1, end=2**40)
        signature = chain.sign_order(a[1], order)
        receipts = [_receipt(chain.fulfill, a[4], order, signature),
                    _receipt(chain.fulfill, a[5], order, signature, gas=300_000),  # already filled
                    _receipt(chain.fulfill, a[5], chain.order(a[4].address, token, PRICE, salt=1, start=1,
                                                              end=2**40), b"\x01" * 65, gas=60_000)]
        shape = [(r["status"], r["gasUsed"], [(log["address"], log["topics"], log["data"]) for log in r["logs"]])
                 for r in receipts]
        # Native balances depend on the base fees of however many blocks the timelock's wait mined.
        return shape, [chain.pending(x.address) for x in a[1:4]] + [int(chain.owner_of(token), 16)]
    finally:
        speed_up_interpreter(True)
        remember_trie_nodes(True)


def test_the_fast_interpreter_helpers_give_py_evms_own_receipts_and_payouts() -> None:
    plain, fast = _sale(False), _sale(True)
    statuses = [status for status, _, _ in plain[0]]
    assert statuses == [1, 0, 0] and len(plain[0][0][2]) >= 5  # a sale with its events, then two refusals
    assert fast == plain


def test_a_remembered_trie_node_decodes_as_rlp_does_and_each_reader_gets_its_own_copy() -> None:
    import trie.hexary

    remember_trie_nodes(True)
    db: dict[bytes, bytes] = {}
    tree = HexaryTrie(db)
    keys = [os.urandom(32) for _ in range(300)]
    for key in keys:
        tree[key] = os.urandom(40)
    encoded = db[tree.root_hash]
    first = trie.hexary.decode_node(encoded)
    assert first == rlp.decode(encoded) and isinstance(first, list) and len(first) == 17
    first[0] = b"edited"  # the trie edits nodes in place: nobody else may see it
    second = trie.hexary.decode_node(encoded)
    assert second == rlp.decode(encoded) and second is not first
    from trie.utils import nibbles

    for key in keys[:5] + [b"", b"\x01", b"\x20\xab", b"\x3a\xbc"]:  # keys and hex-prefixed paths
        assert trie.hexary.bytes_to_nibbles(key) == nibbles.bytes_to_nibbles(key)
        if key:
            assert trie.hexary.decode_nibbles(key) == nibbles.decode_nibbles(key)
    # Reads, writes and deletions through the remembered decoders give the plain trie's root.
    for key in keys[:100]:
        tree[key] = b"again"
    for key in keys[100:150]:
        del tree[key]
    remember_trie_nodes(False)
    try:
        plain = HexaryTrie({})
        for key in keys:
            plain[key] = tree.get(key) or b""
        for key in keys[100:150]:
            del plain[key]
        assert plain.root_hash == tree.root_hash
    finally:
        remember_trie_nodes(True)
