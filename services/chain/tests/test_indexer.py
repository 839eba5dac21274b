"""The chain is the record, on the embedded EVM: a sale made directly on the contract (a
wallet calling `fulfill` on an order its seller signed, not the service) is indexed and
published as `chain.sale.recorded` through the chain outbox onto the event stream; Reconcile
finds the chain and the index in agreement and names each difference once an index row is
edited; a restarted service resumes from the
checkpoint without losing or doubling anything; two indexers on one database publish each
event once; the running app indexes on its own and reports the "indexer" health entry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
import pytest
from chain_service import index_rules as rules
from chain_service.config import ChainSettings
from chain_service.index_repository import IndexRepository
from chain_service.indexer import Indexer
from chain_service.server import ChainApp
from chain_service.service import ChainService
from conftest import chain_database, close_service, open_service
from eth_account.signers.local import LocalAccount
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron_libs import events, grpc_client
from ipheron_libs.testing import wait_until_async
from prometheus_client import REGISTRY
from sqlalchemy import text

PRICE = 3 * 10**18 + 11


async def send_as(service: ChainService, user: LocalAccount, to: str, data: str, value: int = 0) -> dict[str, Any]:
    """A wallet signs and sends its own transaction (not the platform signer); waits for its receipt."""
    w3 = service.network.w3

    def send() -> str:
        tx = {"type": 2, "chainId": service.chain_id, "nonce": w3.eth.get_transaction_count(user.address, "pending"),
              "to": to, "data": data, "value": value, "gas": 500_000, "maxFeePerGas": 50 * 10**9,
              "maxPriorityFeePerGas": 10**9}
        return "0x" + bytes(w3.eth.send_raw_transaction(user.sign_transaction(tx).raw_transaction)).hex()

    tx_hash = await service.network.run(send)
    receipt = await wait_until_async(lambda: service.ledger.receipt(tx_hash), timeout=30, interval=0.05,
                                     message=f"no receipt for {tx_hash}")
    assert receipt is not None
    return receipt


def indexer_for(service: ChainService, **overrides: Any) -> Indexer:
    settings = ChainSettings(database_url="postgresql://unused", **overrides)
    return Indexer(settings, IndexRepository(service.repo.engine), service)


def outbox(service: ChainService, type_: str, tx_hash: str) -> list[dict[str, Any]]:
    """The outbox rows of one domain event type for one transaction."""
    with service.repo.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, payload FROM outbox WHERE type = :t AND payload->>'tx_hash' = :h "
                                 "ORDER BY occurred_at"), {"t": type_, "h": tx_hash.lower()}).all()
    return [{"id": str(r.id), **r.payload} for r in rows]


async def direct_sale(service: ChainService, seller: LocalAccount, buyer: LocalAccount,
                      co_creator: LocalAccount) -> tuple[int, str]:
    """Mint to `seller`, who signs an order with its own key; `buyer` calls `fulfill` itself.
    Returns (token, tx hash)."""
    from chain_helpers import signed_order

    minted = await service.mint(str(uuid.uuid4()), seller.address, "ipfs://direct",
                                [(seller.address, 7000), (co_creator.address, 3000)], 1000)
    market = service.market
    order, signature = await signed_order(service, seller, minted.token_id, PRICE)
    bought = await send_as(service, buyer, market.address,
                           market.encode_abi("fulfill", args=[order.as_tuple(), signature]), PRICE)
    assert bought["status"] == 1
    return minted.token_id, "0x" + bytes(bought["transactionHash"]).hex()


@pytest.fixture(scope="module")
def indexer_url(pg_admin_url: str) -> str:
    return chain_database(pg_admin_url, "ipheron_chain_indexer")


@pytest.fixture(scope="module")
async def service(indexer_url: str) -> AsyncIterator[ChainService]:
    svc = await open_service(indexer_url)
    yield svc
    close_service(svc)


async def test_a_sale_made_directly_on_the_contract_is_indexed_and_published(service: ChainService,
                                                                             users: list[LocalAccount],
                                                                             redis_url: str) -> None:
    seller, buyer, co = users[0], users[1], users[2]
    token_id, tx = await direct_sale(service, seller, buyer, co)
    indexer = indexer_for(service, indexer_max_lag_blocks=1)
    # Health "indexer": NOT_SERVING while more confirmed blocks than the threshold are not indexed.
    assert await indexer.lag() > 1 and not await indexer.healthy()
    assert (REGISTRY.get_sample_value("chain_indexer_lag_blocks") or 0) > 1  # the Prometheus gauge
    assert await indexer.catch_up() > 0
    assert await indexer.lag() == 0 and REGISTRY.get_sample_value("chain_indexer_lag_blocks") == 0
    assert await indexer.healthy()

    records = await asyncio.to_thread(indexer.repo.events, service.chain_id, tx_hash=tx)
    assert sorted(r.event.event for r in records) == ["OrderFulfilled", "RoyaltyCredited", "RoyaltyCredited",
                                                      "SellerCredited", "Sold", "Transfer"]
    assert all(not r.removed and r.event.domain_event_id for r in records)

    (sale,) = outbox(service, rules.SALE_RECORDED, tx)
    royalty = PRICE // 10
    assert sale["price_wei"] == str(PRICE) and sale["royalty_wei"] == str(royalty)
    assert (sale["seller"], sale["buyer"], sale["token_id"]) == (seller.address, buyer.address, str(token_id))
    assert sale["asset_id"] == str(await service.ledger.asset_of(token_id))
    credits = {(c["payee"], c["kind"]): int(c["amount_wei"]) for c in sale["credits"]}
    # The seller is also the first co-creator: it gets the rounding remainder of the royalty.
    assert credits == {(seller.address, "seller"): PRICE - royalty,
                       (seller.address, "royalty"): royalty - royalty * 3000 // 10_000,
                       (co.address, "royalty"): royalty * 3000 // 10_000}
    assert sale["contract"] == service.market.address and sale["chain_id"] == service.chain_id
    (transfer,) = outbox(service, rules.TRANSFER, tx)
    assert (transfer["from"], transfer["to"], transfer["kind"]) == (seller.address, buyer.address, "transfer")
    assert len(outbox(service, rules.CREDIT, tx)) == 3

    # The relay carries it onto the stream, under its contract.
    relay = events.OutboxRelay(service.repo.engine, "chain", redis_url)
    while await asyncio.to_thread(relay.publish_pending):
        pass
    entries = await asyncio.to_thread(relay.redis.xrevrange, events.STREAM, count=2000)
    published = [events.Event.from_fields(fields) for _, fields in entries]
    (on_stream,) = [e for e in published if e.id == sale["id"]]
    events.check(on_stream)
    assert on_stream.type == rules.SALE_RECORDED and on_stream.payload["tx_hash"] == tx
    relay.redis.close()


async def test_reconcile_finds_no_difference_after_sales_and_names_one_when_the_index_differs(
        service: ChainService, users: list[LocalAccount]) -> None:
    seller, buyer, co = users[6], users[7], users[8]
    token_id, tx = await direct_sale(service, seller, buyer, co)
    indexer = indexer_for(service)
    await indexer.catch_up()
    clean = await service.reconcile()
    assert clean.differences == () and clean.tokens_checked >= 1 and clean.payees_checked >= 2
    assert clean.indexed_block >= (await service.ledger.receipt(tx) or {})["blockNumber"]
    assert await service.reconcile_health()
    # ListChainEvents pages the same index, filtered by type and token.
    sales, total, _ = await service.list_chain_events(rules.SALE_RECORDED, token_id, 1, 10)
    assert total == 1 and sales[0][1] == tx and sales[0][0].payload["buyer"] == buyer.address
    transfers, total, _ = await service.list_chain_events(rules.TRANSFER, token_id, 1, 10)
    assert [e.payload["kind"] for e, _ in transfers] == ["mint", "transfer"] and total == 2

    # The index says the token went elsewhere and a payee got one more wei: both are named.
    with service.repo.engine.begin() as conn:
        conn.execute(text("UPDATE indexed_events SET payload = jsonb_set(payload, '{to}', to_jsonb(CAST(:o AS text))) "
                          "WHERE tx_hash = :h AND domain_type = 'chain.transfer'"), {"o": co.address, "h": tx})
        conn.execute(text("UPDATE indexed_events SET payload = jsonb_set(payload, '{amount_wei}', "
                          "to_jsonb(CAST((payload->>'amount_wei')::numeric + 1 AS text))) "
                          "WHERE tx_hash = :h AND domain_type = 'chain.credit' AND payload->>'kind' = 'seller'"),
                     {"h": tx})
    try:
        found = await service.reconcile()
        kinds = {(d.kind, d.subject): (d.on_chain, d.recorded) for d in found.differences}
        assert kinds[("owner", str(token_id))] == (buyer.address, co.address)
        on_chain, recorded = kinds[("pending_withdrawal", seller.address)]
        assert int(recorded) == int(on_chain) + 1
        assert len(found.differences) == 2 and not await service.reconcile_health()
    finally:
        with service.repo.engine.begin() as conn:
            conn.execute(text("UPDATE indexed_events SET payload = jsonb_set(payload, '{to}', "
                              "to_jsonb(CAST(:o AS text))) WHERE tx_hash = :h AND domain_type = 'chain.transfer'"),
                         {"o": buyer.address, "h": tx})
            conn.execute(text("UPDATE indexed_events SET payload = jsonb_set(payload, '{amount_wei}', "
                              "to_jsonb(CAST((payload->>'amount_wei')::numeric - 1 AS text))) "
                              "WHERE tx_hash = :h AND domain_type = 'chain.credit' AND payload->>'kind' = 'seller'"),
                         {"h": tx})
    assert (await service.reconcile()).differences == ()


async def test_the_periodic_reconciliation_checks_a_bounded_window_and_still_finds_a_difference(
        service: ChainService, users: list[LocalAccount]) -> None:
    """The health check's run reads at most `window` owners on the EVM thread, going on from
    where the previous run stopped, so a difference anywhere is found within a few runs."""
    seller, buyer, co = users[6], users[7], users[8]
    token_id, tx = await direct_sale(service, seller, buyer, co)
    await indexer_for(service).catch_up()
    full = await service.reconcile()
    assert full.differences == () and full.tokens_checked >= 2
    with service.repo.engine.begin() as conn:
        conn.execute(text("UPDATE indexed_events SET payload = jsonb_set(payload, '{to}', to_jsonb(CAST(:o AS text))) "
                          "WHERE tx_hash = :h AND domain_type = 'chain.transfer'"), {"o": co.address, "h": tx})
    try:
        runs = [await service.reconcile(window=1) for _ in range(full.tokens_checked)]
        assert all(r.tokens_checked == 1 and r.payees_checked == 1 for r in runs)
        named = [d for r in runs for d in r.differences]
        assert [(d.kind, d.subject) for d in named] == [("owner", str(token_id))]
    finally:
        with service.repo.engine.begin() as conn:
            conn.execute(text("UPDATE indexed_events SET payload = jsonb_set(payload, '{to}', "
                              "to_jsonb(CAST(:o AS text))) WHERE tx_hash = :h AND domain_type = 'chain.transfer'"),
                         {"o": buyer.address, "h": tx})
    assert (await service.reconcile()).differences == ()


async def test_the_embedded_chains_block_logs_are_exactly_eth_get_logs(service: ChainService,
                                                                        users: list[LocalAccount]) -> None:
    """The indexer reads the embedded chain's logs from each block's receipts once instead of
    eth-tester's eth_getLogs (which rebuilds every receipt per transaction): the same logs, the
    same numbering (a log's index within its transaction), the same order."""
    sales = await asyncio.gather(direct_sale(service, users[3], users[4], users[5]),
                                 direct_sale(service, users[6], users[7], users[8]))
    indexer = indexer_for(service)
    topics = indexer._subscribe(service.ledger)
    network = service.network
    last = await service.ledger.block_number()

    def both() -> tuple[list[Any], list[Any]]:
        fast = network.get_logs(0, last, indexer._addresses, topics.keys())
        assert network.tester is not None
        slow = network.w3.eth.get_logs({"fromBlock": 0, "toBlock": last, "address": indexer._addresses,
                                        "topics": [["0x" + t.hex() for t in topics]]})
        return fast, list(slow)

    fast, slow = await network.run(both)
    keys = ("logIndex", "transactionIndex", "transactionHash", "blockHash", "blockNumber", "address",
            "data", "topics")
    assert [{k: e[k] for k in keys} for e in fast] == [{k: slow_e[k] for k in keys} for slow_e in slow]
    assert not any(e["removed"] or slow_e.get("removed") for e, slow_e in zip(fast, slow, strict=True))
    assert {"0x" + bytes(e["transactionHash"]).hex() for e in fast} >= {tx for _, tx in sales}
    # A range past the head and an empty range read nothing more.
    assert await network.run(network.get_logs, last + 1, last + 5, indexer._addresses, topics.keys()) == []


async def test_logs_decode_to_the_arguments_web3s_event_decoder_gives(service: ChainService,
                                                                       users: list[LocalAccount]) -> None:
    """The indexer's own decoder (one pass over topics and data) against web3's get_event_data, on
    every subscribed event the chain holds (mints, transfers, sales, credits); a log with another
    number of topics is refused, as web3 refuses it."""
    from chain_service.indexer import event_args, event_shape
    from web3._utils.events import get_event_data

    await direct_sale(service, users[3], users[4], users[5])
    indexer = indexer_for(service)
    topics = indexer._subscribe(service.ledger)
    network = service.network
    last = await service.ledger.block_number()
    logs = await network.run(network.get_logs, 0, last, indexer._addresses, topics.keys())
    seen = set()
    for entry in logs:
        name, abi = topics[bytes(entry["topics"][0])]
        shape = event_shape(abi)
        assert shape is not None
        ours = event_args(network.w3.codec, abi, entry, shape)
        assert ours == dict(get_event_data(network.w3.codec, abi, entry)["args"]), name
        seen.add(name)
        short = {**entry, "topics": entry["topics"][:-1]}
        if len(entry["topics"]) > 1:
            with pytest.raises(ValueError, match="log topics"):
                event_args(network.w3.codec, abi, short, shape)
    assert {"AssetMinted", "Transfer", "Sold", "SellerCredited", "RoyaltyCredited", "OrderFulfilled"} <= seen


async def test_a_restart_resumes_from_the_checkpoint_without_losing_or_doubling(
        indexer_url: str, service: ChainService, users: list[LocalAccount]) -> None:
    seller, buyer, co = users[3], users[4], users[5]
    _, before_tx = await direct_sale(service, seller, buyer, co)
    first = indexer_for(service, indexer_max_blocks=2)  # bounded ranges: several polls
    await first.catch_up()
    checkpoint = await asyncio.to_thread(first.repo.checkpoint, service.chain_id)
    assert checkpoint is not None and checkpoint.hash is not None
    # While nothing indexes, the seller withdraws with its own key; then the service restarts
    # (the embedded chain is rebuilt from its journal) with a new indexer.
    market = service.market
    withdrew = await send_as(service, seller, market.address, market.encode_abi("withdraw"))
    withdraw_tx = "0x" + bytes(withdrew["transactionHash"]).hex()
    close_service(service)
    again = await open_service(indexer_url)
    try:
        second = indexer_for(again, indexer_max_blocks=2)
        resumed = await asyncio.to_thread(second.repo.checkpoint, again.chain_id)
        assert resumed == checkpoint
        indexed = await second.catch_up()
        assert 0 < indexed <= (await again.ledger.block_number()) - checkpoint.number
        (withdrawal,) = outbox(again, rules.WITHDRAWAL, withdraw_tx)
        assert withdrawal["payee"] == seller.address and withdrawal["succeeded"] is True
        assert int(withdrawal["amount_wei"]) > 0
        # Nothing from before the restart was published twice, nor undone: the journal replay
        # rebuilds the same blocks (same hashes), so the restart is no reorg.
        assert len(outbox(again, rules.SALE_RECORDED, before_tx)) == 1
        assert outbox(again, rules.EVENT_REVERTED, before_tx) == []
        assert all(not r.removed for r in await asyncio.to_thread(second.repo.events, again.chain_id))
        with again.repo.engine.connect() as conn:
            dupes = conn.execute(text("SELECT count(*) FROM (SELECT payload->>'tx_hash', payload->>'log_index' "
                                      "FROM outbox WHERE type LIKE 'chain.%' GROUP BY 1, 2 HAVING count(*) > 1) d"))
            assert dupes.scalar_one() == 0
    finally:
        close_service(again)


async def test_two_indexers_on_one_database_publish_each_event_once(pg_admin_url: str,
                                                                    users: list[LocalAccount]) -> None:
    url = chain_database(pg_admin_url, "ipheron_chain_indexer_pair")
    svc = await open_service(url)
    try:
        _, tx = await direct_sale(svc, users[6], users[7], users[8])
        a, b = indexer_for(svc, indexer_max_blocks=1), indexer_for(svc, indexer_max_blocks=1)
        await asyncio.gather(a.catch_up(), b.catch_up())
        assert len(outbox(svc, rules.SALE_RECORDED, tx)) == 1
        records = await asyncio.to_thread(a.repo.events, svc.chain_id)
        keys = [r.event.key for r in records]
        assert len(keys) == len(set(keys)) > 0
        with svc.repo.engine.connect() as conn:
            published = conn.execute(text("SELECT count(*) FROM outbox WHERE type LIKE 'chain.%'")).scalar_one()
        assert published == len(records)
    finally:
        close_service(svc)


async def test_the_running_app_indexes_a_direct_sale_onto_the_stream_and_reports_its_health(
        pg_admin_url: str, users: list[LocalAccount], redis_url: str) -> None:
    url = chain_database(pg_admin_url, "ipheron_chain_indexer_app")
    app = ChainApp(ChainSettings(database_url=url, indexer_interval_s=0.2, redis_url=redis_url), url, redis_url)
    port = await app.start(port=0)
    channel = grpc_client.channel(f"127.0.0.1:{port}", default_timeout=30)
    try:
        _, tx = await direct_sale(app.service, users[0], users[1], users[2])
        reader = events.redis_client(redis_url)

        def on_stream() -> bool:
            for _, fields in reader.xrevrange(events.STREAM, count=500):
                payload = orjson.loads(fields[b"payload"])
                if fields[b"type"] == rules.SALE_RECORDED.encode() and payload.get("tx_hash") == tx:
                    return True
            return False

        assert await wait_until_async(lambda: asyncio.to_thread(on_stream), timeout=30, interval=0.2,
                                      message="the direct sale never reached the event stream")
        reader.close()
        health = health_pb2_grpc.HealthStub(channel)

        async def serving() -> bool:
            reply = await health.Check(health_pb2.HealthCheckRequest(service="indexer"))
            return reply.status == health_pb2.HealthCheckResponse.SERVING

        assert await wait_until_async(serving, timeout=15, ignore=(grpc.RpcError,))
    finally:
        await channel.close()
        await app.stop(grace=0.5)

