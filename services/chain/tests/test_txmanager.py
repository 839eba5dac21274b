"""The transaction manager on the real EVM: gap-free nonces under concurrency, resync after
someone else used the key, a stuck transaction replaced with higher fees, and every
transaction recorded in the chain schema."""

from __future__ import annotations

import asyncio
import time

from chain_service.config import ChainSettings
from chain_service.network import Network
from chain_service.repository import TxRecord
from chain_service.txmanager import TransactionManager, TxRequest
from eth_account import Account
from ipheron_libs.metrics import BLOCKCHAIN_TRANSACTIONS
from ipheron_libs.testing import wait_until_async
from sqlalchemy import select
from sqlalchemy.orm import Session

SINK = "0x000000000000000000000000000000000000dEaD"


def records(chain, hashes: list[str]) -> list[TxRecord]:
    with Session(chain.repo.engine) as s:
        return list(s.execute(select(TxRecord).where(TxRecord.tx_hash.in_(hashes))).scalars())


async def test_fifty_concurrent_submissions_get_gap_free_unique_nonces(chain) -> None:
    start = await chain.tm.resync_nonce()
    counted = BLOCKCHAIN_TRANSACTIONS.labels(type="native_transfer", status="confirmed")._value.get()
    outcomes = await asyncio.gather(*[
        chain.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=i + 1, amount_wei=i + 1))
        for i in range(50)
    ])
    assert all(o.succeeded for o in outcomes)
    rows = records(chain, [o.tx_hash for o in outcomes])
    assert len(rows) == 50
    assert sorted(r.nonce for r in rows) == list(range(start, start + 50))
    assert all(r.status == "confirmed" and r.gas_used and r.block_number and r.block_time for r in rows)
    assert await chain.network.run(chain.network.w3.eth.get_transaction_count, chain.tm.address) == start + 50
    assert BLOCKCHAIN_TRANSACTIONS.labels(type="native_transfer", status="confirmed")._value.get() == counted + 50


async def test_nonce_is_resynced_after_the_key_was_used_elsewhere(chain) -> None:
    w3 = chain.network.w3
    await chain.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=1))

    def outside_send() -> None:  # another process with the same key moves the nonce on
        nonce = w3.eth.get_transaction_count(chain.tm.address)
        signed = chain.account.sign_transaction({"type": 2, "chainId": chain.chain_id, "nonce": nonce, "to": SINK,
                                                 "value": 1, "gas": 21_000, "maxFeePerGas": 10**11,
                                                 "maxPriorityFeePerGas": 10**9})
        w3.eth.send_raw_transaction(signed.raw_transaction)

    def rejected() -> list[TxRecord]:
        with Session(chain.repo.engine) as s:
            stmt = select(TxRecord).where(TxRecord.error.like("rejected:%nonce%")).order_by(TxRecord.id)
            return list(s.execute(stmt).scalars())

    before = len(rejected())
    await chain.network.run(outside_send)
    outcome = await chain.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=2))
    assert outcome.succeeded
    stale = rejected()[before:]
    assert len(stale) == 1, "the stale-nonce attempt is recorded as rejected, then resent"
    assert records(chain, [outcome.tx_hash])[0].nonce == stale[0].nonce + 1


async def test_stuck_transaction_is_replaced_with_a_higher_fee(chain) -> None:
    # Its own chain (no journal) with auto-mining off, so a sent transaction stays pending.
    network = Network.embedded_chain(int(time.time()) - 10, journal=None)
    assert network.tester is not None
    network.tester.disable_auto_mine_transactions()
    signer = Account.from_key("0x" + f"{10:064x}")  # a funded key not used elsewhere in the suite
    settings = ChainSettings(stuck_after_s=0.2, poll_interval_s=0.02, receipt_timeout_s=30, fee_bump_percent=25)
    tm = TransactionManager(network, chain.repo, signer, settings, chain.chain_id)
    try:
        await tm.resync_nonce()
        sent = await tm.submit(TxRequest(type="native_transfer", to=SINK, data="0x", value=7), gas=21_000)
        waiter = asyncio.create_task(tm.wait(sent))
        await wait_until_async(lambda: len(sent.hashes) >= 2, timeout=10, interval=0.02,
                               message="the stuck transaction was not replaced")
        await network.run(network.tester.mine_blocks, 1)
        outcome = await asyncio.wait_for(waiter, 30)
    finally:
        network.close()
    original, replacement = records(chain, sent.hashes[:1])[0], records(chain, [outcome.tx_hash])[0]
    assert outcome.succeeded and outcome.tx_hash != sent.hashes[0]
    assert original.status == "replaced" and original.replaced_by in sent.hashes[1:]
    assert replacement.status == "confirmed" and replacement.nonce == original.nonce
    assert replacement.max_fee_per_gas >= original.max_fee_per_gas * 125 / 100
    assert replacement.max_priority_fee_per_gas > original.max_priority_fee_per_gas
