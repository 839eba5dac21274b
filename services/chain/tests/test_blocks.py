"""Blocks on an interval: the embedded chain mines the pending transactions together in one
block every CHAIN_BLOCK_INTERVAL_MS (default 200) instead of one transaction per block;
receipts are awaited as before, the pending state (nonces) sees unsealed transactions, and
a restart replays the journal into the very same blocks (same block of every transaction,
same state root)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from chain_helpers import mined_receipt
from chain_service.config import ChainSettings
from chain_service.txmanager import TxRequest
from conftest import chain_database, close_service, open_service
from eth_account import Account
from hexbytes import HexBytes

SINK = "0x000000000000000000000000000000000000bEEF"


def test_the_block_interval_defaults_to_200_ms_and_zero_means_one_transaction_per_block() -> None:
    assert ChainSettings().block_interval_ms == 200
    assert ChainSettings(block_interval_ms=0).block_interval_ms == 0


async def test_concurrent_transactions_share_blocks_and_each_gets_its_receipt(chain) -> None:
    assert chain.settings.block_interval_ms == 200
    outcomes = await asyncio.gather(*[
        chain.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=1)) for _ in range(20)])
    assert all(o.succeeded and o.confirmations >= 1 for o in outcomes)
    blocks = [int(o.receipt["blockNumber"]) for o in outcomes]
    assert len(set(blocks)) < len(blocks), "20 concurrent transactions were mined one per block"


async def test_an_unsealed_transaction_counts_in_the_pending_nonce_and_shares_the_block(chain) -> None:
    user = Account.from_key("0x" + f"{9:064x}")
    w3 = chain.network.w3

    def send_two() -> list[str]:
        base = w3.eth.get_transaction_count(user.address, "pending")
        hashes = []
        for i in range(2):  # the second one's nonce comes from the pending state (first not sealed)
            nonce = w3.eth.get_transaction_count(user.address, "pending")
            assert nonce == base + i
            signed = user.sign_transaction({"type": 2, "chainId": chain.chain_id, "nonce": nonce, "to": SINK,
                                            "value": 1, "gas": 21_000, "maxFeePerGas": 10**11,
                                            "maxPriorityFeePerGas": 10**9})
            hashes.append("0x" + bytes(w3.eth.send_raw_transaction(signed.raw_transaction)).hex())
        return hashes

    hashes = await chain.network.run(send_two)
    assert all(chain.network.in_open_block(h) for h in hashes)
    receipts = [await mined_receipt(chain, h) for h in hashes]
    assert all(int(r["status"]) == 1 for r in receipts)
    assert receipts[0]["blockNumber"] == receipts[1]["blockNumber"]
    assert not any(chain.network.in_open_block(h) for h in hashes)


async def test_a_restart_replays_the_journal_into_the_same_blocks(pg_admin_url: str) -> None:
    url = chain_database(pg_admin_url, "ipheron_chain_blocks")
    first = await open_service(url)
    try:
        outcomes = await asyncio.gather(*[
            first.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=i + 1)) for i in range(12)])
        placed = {o.tx_hash: int(o.receipt["blockNumber"]) for o in outcomes}
        assert len(set(placed.values())) < len(placed)
        assert first.network.tester is not None
        head = await first.network.run(first.network.tester.head)
    finally:
        close_service(first)  # like a crash: no shutdown snapshot, the journal alone rebuilds
    second = await open_service(url)
    try:
        assert second.network.tester is not None
        assert await second.network.run(second.network.tester.head) == head
        w3 = second.network.w3
        for tx_hash, number in placed.items():
            receipt = await second.network.run(w3.eth.get_transaction_receipt, HexBytes(tx_hash))
            assert int(receipt["blockNumber"]) == number
        # And it keeps mining in blocks after the rebuild.
        again = await second.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=99))
        assert again.succeeded and int(again.receipt["blockNumber"]) > head[0]
    finally:
        close_service(second)


async def test_a_sealed_block_carries_the_roots_of_all_its_transactions_and_receipts(chain) -> None:
    """The open block defers its transaction/receipt tries to sealing (one build per block, not
    one per transaction): the sealed block's roots are those of every transaction in it."""
    from eth.db.trie import make_trie_root_and_nodes

    outcomes = await asyncio.gather(*[
        chain.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=1)) for _ in range(12)])
    numbers = [int(o.receipt["blockNumber"]) for o in outcomes]
    block_number = max(set(numbers), key=numbers.count)  # the fullest block

    def roots() -> tuple[int, bytes, bytes, bytes, bytes]:
        evm_chain = chain.network.tester.backend.chain
        block = evm_chain.get_canonical_block_by_number(block_number)
        receipts = block.get_receipts(evm_chain.chaindb)
        return (len(block.transactions), block.header.transaction_root,
                make_trie_root_and_nodes(block.transactions)[0], block.header.receipt_root,
                make_trie_root_and_nodes(receipts)[0])

    count, tx_root, expected_tx_root, receipt_root, expected_receipt_root = await chain.network.run(roots)
    assert count >= 2, "the transactions were not batched into one block"
    assert tx_root == expected_tx_root
    assert receipt_root == expected_receipt_root


def test_the_chain_service_hashes_with_the_c_keccak_backend() -> None:
    import chain_service  # noqa: F401 - selects the backend
    from eth_hash.auto import keccak

    keccak(b"")
    assert type(keccak.hasher.__self__).__name__ == "PySha3Backend"


def test_a_block_run_on_one_state_is_the_block_py_evms_own_import_computes() -> None:
    """The open block's transactions run one after another on one VM state, merkleized once
    when the block is sealed (as py-evm's block import runs them): a fresh chain from the same
    genesis imports every sealed block with py-evm's validation (state root, receipts root, gas
    used, bloom), including a contract created and called in its own block and one slot written
    twice in one block (EIP-2200 prices the second write from the first one's value)."""
    import time

    from chain_service.network import make_embedded_tester
    from eth_utils import keccak, to_checksum_address

    genesis = int(time.time()) - 600
    built = make_embedded_tester(genesis, None, block_interval_ms=200)
    keys = ["0x" + f"{i:064x}" for i in range(1, 5)]
    accounts = [Account.from_key(k) for k in keys]
    nonces = {a.address: 0 for a in accounts}
    # Runtime `PUSH0 CALLDATALOAD CALLER SSTORE STOP` (stores the first call word at slot = caller).
    init = bytes.fromhex("645f353355005f526005601bf3")
    creator = bytes.fromhex(accounts[0].address[2:])
    store = to_checksum_address("0x" + keccak(b"\xd6\x94" + creator + b"\x80")[12:].hex())  # its nonce-0 address

    def send(account: Any, to: str | None, data: bytes, value: int = 0) -> None:
        tx = {"type": 2, "chainId": 131277322940537, "nonce": nonces[account.address], "value": value,
              "gas": 200_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, "data": data}
        if to is not None:
            tx["to"] = to
        nonces[account.address] += 1
        built.send_raw_transaction("0x" + bytes(account.sign_transaction(tx).raw_transaction).hex())

    def word(n: int) -> bytes:
        return n.to_bytes(32, "big")

    send(accounts[0], None, init)  # created in the block that also calls it
    for i, account in enumerate(accounts):
        send(account, store, word(i + 1))
    send(accounts[1], store, word(0))  # the same slot again, back to zero (a refund)
    send(accounts[2], SINK, b"", 5)
    nonces[accounts[2].address] -= 1  # a nonce already used in this block: refused, nothing changes
    with pytest.raises(Exception, match="nonce"):
        send(accounts[2], SINK, b"", 6)  # (send counted the nonce again: back where it was)
    assert built.pending_count == 7
    # Pending reads see the unsealed transactions.
    assert built.get_nonce(accounts[1].address, "pending") == 2
    built.mine_pending()
    send(accounts[3], store, word(7))
    send(accounts[3], store, word(8))
    built.mine_pending()

    chain = built.backend.chain
    head = int(chain.get_canonical_head().block_number)
    assert head >= 2
    slot = int(accounts[3].address, 16)
    assert chain.get_vm().state.get_storage(bytes.fromhex(store[2:]), slot) == 8
    fresh = make_embedded_tester(genesis, None, block_interval_ms=200).backend.chain
    for number in range(1, head + 1):
        block = chain.get_canonical_block_by_number(number)
        fresh.import_block(block)  # raises if any root, gas figure or bloom differs
    assert fresh.get_canonical_head().hash == chain.get_canonical_head().hash
    receipts = chain.get_canonical_block_by_number(head - 1).get_receipts(chain.chaindb)
    assert len(receipts) == 7 and all(r.state_root == b"\x01" for r in receipts)
