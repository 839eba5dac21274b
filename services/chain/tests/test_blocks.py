"""Blocks on an interval: the embedded chain mines the pending transactions together in one
block every CHAIN_BLOCK_INTERVAL_MS (default 200) instead of one transaction per block;
receipts are awaited as before, the pending state (nonces) sees unsealed transactions, and
a restart replays the journal into the very same blocks (same block of every transaction,
same state root)."""

from __future__ import annotations

import asyncio

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
