"""A reorg on a JSON-RPC node (hardhat, see test_json_rpc_node.py): a sale (a buyer filling
a signed MarketplaceV2 order itself) is indexed and published; `evm_revert` to a snapshot taken before the sale's
block, then new blocks, replace that block; the indexer sees the stored hash is gone, walks
back to the common ancestor, undoes the sale's events with a `chain.event.reverted` each,
and indexes the new branch (where the buyer buys again, in another block)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from chain_service import index_rules as rules
from chain_service.config import ChainSettings
from chain_service.index_repository import IndexRepository
from chain_service.indexer import Indexer
from chain_service.repository import SCHEMA, ChainRepository
from chain_service.service import ChainService
from conftest import chain_database
from eth_account import Account
from eth_account.signers.local import LocalAccount
from ipheron_libs import db
from ipheron_libs.testing import wait_until_async
from sqlalchemy import text
from test_json_rpc_node import SIGNER_KEY, node_uri, rpc  # noqa: F401 - node_uri is the module's hardhat node

PRICE = 2 * 10**18 + 3


@pytest.fixture(scope="module")
async def hardhat_chain(node_uri: str, pg_admin_url: str) -> AsyncIterator[ChainService]:  # noqa: F811
    url = chain_database(pg_admin_url, "ipheron_chain_reorg")
    settings = ChainSettings(database_url=url, web3_provider_uri=node_uri, signer_key=SIGNER_KEY, poll_interval_s=0.02)
    engine = db.make_engine(url, SCHEMA, pool_size=4, max_overflow=8)
    service = await ChainService.open(settings, ChainRepository(engine))
    yield service
    service.close()
    engine.dispose()


async def send_as(service: ChainService, user: LocalAccount, to: str, data: str, value: int = 0) -> dict[str, Any]:
    """A wallet signs and sends its own transaction; waits for its receipt."""
    w3 = service.network.w3

    def send() -> str:
        tx = {"type": 2, "chainId": service.chain_id, "nonce": w3.eth.get_transaction_count(user.address, "pending"),
              "to": to, "data": data, "value": value, "gas": 500_000, "maxFeePerGas": 50 * 10**9,
              "maxPriorityFeePerGas": 10**9}
        return "0x" + bytes(w3.eth.send_raw_transaction(user.sign_transaction(tx).raw_transaction)).hex()

    tx_hash = await service.network.run(send)
    receipt = await wait_until_async(lambda: service.ledger.receipt(tx_hash), timeout=30, interval=0.05,
                                     message=f"no receipt for {tx_hash}")
    assert receipt is not None and receipt["status"] == 1
    return receipt


def outbox(service: ChainService, type_: str) -> list[dict[str, Any]]:
    with service.repo.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, payload FROM outbox WHERE type = :t ORDER BY occurred_at"),
                            {"t": type_}).all()
    return [{"id": str(r.id), **r.payload} for r in rows]


async def test_a_reorg_of_the_sales_block_undoes_the_recorded_sale(hardhat_chain: ChainService,
                                                                    node_uri: str) -> None:  # noqa: F811
    service = hardhat_chain
    seller, buyer = Account.create(), Account.create()
    for wallet in (seller, buyer):
        rpc(node_uri, "hardhat_setBalance", [wallet.address, hex(10 * 10**18)])
    minted = await service.mint(str(uuid.uuid4()), seller.address, "ipfs://reorg", [(seller.address, 10_000)], 500)
    market = service.market
    # The seller lists by signing an order (no transaction); the buyer fills it with its own wallet.
    from chain_helpers import signed_order

    order, signature = await signed_order(service, seller, minted.token_id, PRICE)
    fulfill = market.encode_abi("fulfill", args=[order.as_tuple(), signature])
    settings = ChainSettings(web3_provider_uri=node_uri, signer_key=SIGNER_KEY, indexer_max_blocks=3)
    indexer = Indexer(settings, IndexRepository(service.repo.engine), service)
    await indexer.catch_up()
    before = await service.ledger.block_number()

    snapshot = rpc(node_uri, "evm_snapshot")
    bought = await send_as(service, buyer, market.address, fulfill, PRICE)
    sale_block, sale_block_hash = int(bought["blockNumber"]), "0x" + bytes(bought["blockHash"]).hex()
    assert sale_block == before + 1
    await indexer.catch_up()
    (sale,) = outbox(service, rules.SALE_RECORDED)
    assert (sale["block_hash"], sale["buyer"], sale["price_wei"]) == (sale_block_hash, buyer.address, str(PRICE))
    assert await service.ledger.owner_of(minted.token_id) == buyer.address

    # The sale's block leaves the chain: back to the snapshot, then other blocks on top.
    assert rpc(node_uri, "evm_revert", [snapshot]) is True
    for _ in range(2):
        rpc(node_uri, "evm_mine")
    assert await service.ledger.owner_of(minted.token_id) == seller.address
    await indexer.catch_up()

    reverted = outbox(service, rules.EVENT_REVERTED)
    undone = {(r["event"], r["block_hash"]) for r in reverted}
    assert {e for e, _ in undone} == {"Sold", "SellerCredited", "RoyaltyCredited", "Transfer", "OrderFulfilled"}
    assert {h for _, h in undone} == {sale_block_hash}
    (sale_undone,) = [r for r in reverted if r["event_type"] == rules.SALE_RECORDED]
    assert sale_undone["event_id"] == sale["id"] and sale_undone["reason"] == "reorg"
    assert sale_undone["undone"]["tx_hash"] == sale["tx_hash"]
    records = indexer.repo.events(service.chain_id, tx_hash=sale["tx_hash"])
    assert records and all(r.removed and r.reverted_event_id for r in records)
    # The checkpoint follows the node's new branch.
    checkpoint = indexer.repo.checkpoint(service.chain_id)
    latest = await service.ledger.block_number()
    assert checkpoint is not None and checkpoint.number == latest
    node_hash = rpc(node_uri, "eth_getBlockByNumber", [hex(latest), False])
    assert isinstance(node_hash, dict) and checkpoint.hash == node_hash["hash"]

    # The order is unfilled again on the new branch.
    assert await service.ledger.order_status(service._order_hash(order)) == 0
    # There the buyer fills the same order again: a new sale, in another block, recorded once.
    again = await send_as(service, buyer, market.address, fulfill, PRICE)
    await indexer.catch_up()
    sales = outbox(service, rules.SALE_RECORDED)
    assert len(sales) == 2 and sales[1]["block_hash"] == "0x" + bytes(again["blockHash"]).hex() != sale_block_hash
    assert len(outbox(service, rules.EVENT_REVERTED)) == len(reverted)
    live = [r for r in indexer.repo.events(service.chain_id, include_removed=False) if r.event.event == "Sold"]
    assert [r.event.key.block_hash for r in live] == [sales[1]["block_hash"]]
