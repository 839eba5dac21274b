"""The fixed gas bound PrepareFulfill offers on the embedded chain (domain.FULFILL_GAS_BOUND,
instead of eth-tester's binary-search estimate) suffices for the worst case: 20 co-creators
(the token's maximum), the maximum royalty, a platform fee switched on through the timelock,
and a first sale that credits every payee for the first time (fresh storage slots)."""

from __future__ import annotations

import os
import time

from chain_service import domain
from chain_service.txmanager import TxRequest
from conftest import chain_database, close_service, open_service
from eth_utils import keccak
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron_libs.testing import wait_until_async
from ipheron_libs.wallet import Wallet
from order_helpers import funded, grpc_stub, mint, pay_and_settle, signed_listing

ZERO32 = b"\x00" * 32


async def govern(chain, target: str, data: str) -> None:
    """schedule → wait the delay → execute, through the service's timelock."""
    timelock = chain.ledger.timelock
    salt = keccak(os.urandom(16))
    delay = int(await chain.network.run(timelock.functions.getMinDelay().call))
    scheduled = await chain.tm.send(TxRequest(type="admin", to=timelock.address, data=timelock.encode_abi(
        "schedule", args=[target, 0, data, ZERO32, salt, delay])))
    assert scheduled.succeeded
    op_id = bytes(await chain.network.run(timelock.functions.hashOperation(target, 0, data, ZERO32, salt).call))
    ready_at = int(await chain.network.run(timelock.functions.getTimestamp(op_id).call))

    async def executable() -> bool:
        # The next block is stamped no earlier than the clock nor than the head + 1 s.
        return max(await chain.ledger.head_timestamp() + 1, int(time.time())) >= ready_at

    await wait_until_async(executable, delay + 30, interval=0.1, message="the timelock delay never passed")
    executed = await chain.tm.send(TxRequest(type="admin", to=timelock.address, data=timelock.encode_abi(
        "execute", args=[target, 0, data, ZERO32, salt])), gas=300_000)
    assert executed.succeeded


async def test_the_fixed_fulfill_gas_bound_covers_twenty_co_creators_with_a_fee(pg_admin_url: str) -> None:
    chain = await open_service(chain_database(pg_admin_url, "ipheron_chain_gas_bound"))
    try:
        fee_recipient = Wallet.create()
        await govern(chain, chain.market.address, chain.market.encode_abi("setFee", args=[fee_recipient.address, 1000]))
        assert await chain.network.run(chain.market.functions.feeBps().call) == 1000
        async with grpc_stub(chain) as stub:
            seller, buyer = Wallet.create(), await funded(chain)
            creators = [(Wallet.create().address, 500) for _ in range(domain.MAX_CO_CREATORS)]
            token_id = await mint(stub, seller.address, creators, royalty_bps=domain.MAX_ROYALTY_BPS)
            price = 10**18 + 12_345
            order_json, signature, _ = await signed_listing(stub, seller, token_id, price)
            prepared = (await stub.PrepareFulfill(pb.PrepareFulfillRequest(
                order_json=order_json, signature=signature, buyer=buyer.address))).prepared
            assert prepared.transaction.gas == domain.FULFILL_GAS_BOUND
            tx = await pay_and_settle(stub, buyer, prepared, pb.TRANSACTION_TYPE_BUY)
            assert tx.status == pb.TRANSACTION_STATUS_CONFIRMED and tx.receipt.succeeded
            assert tx.receipt.gas_used <= domain.FULFILL_GAS_BOUND
            credited = [e.name for e in tx.receipt.events if e.name.endswith("Credited")]
            assert credited.count("RoyaltyCredited") == domain.MAX_CO_CREATORS and "FeeCredited" in credited
            fee_balance = await stub.GetBalance(pb.GetBalanceRequest(address=fee_recipient.address))
            fee = int(fee_balance.pending_withdrawal_wei)
            assert fee == price * 1000 // 10_000
    finally:
        close_service(chain)
