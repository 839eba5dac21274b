"""The same service code against a JSON-RPC development node (hardhat network, npm
package in services/chain/devnode): deploy (the timelocked wiring included), mint, a signed
order filled by the buyer's own wallet with exact splits, typed
reverts decoded from JSON-RPC errors, concurrent nonces, and a stuck transaction
replaced in a real mempool (automine off)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from chain_service.config import ChainSettings
from chain_service.repository import SCHEMA, ChainRepository, TxRecord
from chain_service.service import ChainService
from chain_service.txmanager import TransactionManager, TxRequest
from conftest import chain_database
from eth_account import Account
from eth_utils import to_checksum_address
from ipheron_libs import db
from ipheron_libs.devstack_ports import free_port
from ipheron_libs.errors import FailedPrecondition
from ipheron_libs.testing import wait_until, wait_until_async
from sqlalchemy import select
from sqlalchemy.orm import Session

DEVNODE = Path(__file__).resolve().parents[1] / "devnode"
HARDHAT = DEVNODE / "node_modules" / ".bin" / "hardhat"
# hardhat's well-known development accounts #0 (platform signer) and #1 (replacement test).
SIGNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
USERS = [Account.create() for _ in range(5)]
SINK = "0x000000000000000000000000000000000000dEaD"


def tx_hash_of(chain: ChainService, tm: TransactionManager) -> str:
    """The hash of the 5-wei transfer `tm` recorded (the confirmation test's transaction)."""
    with Session(chain.repo.engine) as s:
        return s.execute(select(TxRecord.tx_hash).where(TxRecord.from_address == tm.address,
                                                        TxRecord.amount_wei == 5)).scalar_one()


def rpc(uri: str, method: str, params: list | None = None) -> object:
    r = httpx.post(uri, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=10)
    return r.json().get("result")


@pytest.fixture(scope="module")
def node_uri() -> Iterator[str]:
    if not HARDHAT.exists():
        # `make install` installs it; a bare checkout installs it here (npm registry, ~1 min).
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=DEVNODE, check=False,
                       capture_output=True, timeout=600)
    if not HARDHAT.exists():
        pytest.fail("dev node not installed: run `npm ci --prefix services/chain/devnode --ignore-scripts`")
    port = free_port()
    proc = subprocess.Popen([str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port)], cwd=DEVNODE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: rpc(uri, "eth_chainId"), timeout=90, interval=0.3, ignore=(httpx.HTTPError,),
                   message="hardhat node did not start")
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
async def rpc_chain(node_uri: str, pg_admin_url: str) -> AsyncIterator[ChainService]:
    url = chain_database(pg_admin_url, "ipheron_chain_rpc")
    settings = ChainSettings(database_url=url, web3_provider_uri=node_uri, signer_key=SIGNER_KEY, poll_interval_s=0.02)
    engine = db.make_engine(url, SCHEMA, pool_size=4, max_overflow=8)
    service = await ChainService.open(settings, ChainRepository(engine))
    yield service
    service.close()
    engine.dispose()


async def test_sale_on_a_json_rpc_node_splits_royalty_exactly(rpc_chain: ChainService, node_uri: str) -> None:
    from chain_helpers import send_as, signed_order

    assert rpc_chain.network.name == "rpc" and rpc_chain.chain_id == 31337
    asset = str(uuid.uuid4())
    seller, buyer = USERS[0], USERS[4]
    owner, c1, c2, c3 = (u.address for u in USERS[:4])
    rpc(node_uri, "hardhat_setBalance", [buyer.address, hex(10**18)])
    minted = await rpc_chain.mint(asset, owner, "ipfs://rpc", [(c1, 3000), (c2, 3000), (c3, 4000)], 1000)
    order, signature = await signed_order(rpc_chain, seller, minted.token_id, 7771)
    fulfill = rpc_chain.market.encode_abi("fulfill", args=[order.as_tuple(), signature])
    receipt = await send_as(rpc_chain, buyer, rpc_chain.market.address, fulfill, 7771)
    assert receipt["status"] == 1
    pending = {a: (await rpc_chain.balance(a)).pending_withdrawal_wei for a in (owner, c1, c2, c3)}
    assert pending == {c1: 234, c2: 233, c3: 310, owner: 6994}
    assert (await rpc_chain.token_info(token_id=minted.token_id)).owner == buyer.address
    # The JSON-RPC node's revert data decodes to the same clear error as on py-evm.
    rpc(node_uri, "hardhat_setBalance", [USERS[1].address, hex(10**18)])
    with pytest.raises(FailedPrecondition, match="already been filled"):
        await rpc_chain.prepare_transaction(USERS[1].address, rpc_chain.market.address, fulfill, "7771")


async def test_order_checks_and_prepared_calls_read_in_batches_as_the_node_answers_each_read(
        rpc_chain: ChainService, node_uri: str) -> None:
    """On a JSON-RPC node VerifyOrder's five reads go in one batch and a prepared call's nonce,
    balance and fees in another: the same facts as the node answers each read alone, for a
    fillable order, a filled one whose token moved to the buyer, and a token that does not exist."""
    import dataclasses

    from chain_helpers import send_as, signed_order
    from chain_service import orders

    seller, buyer = USERS[2], USERS[3]
    rpc(node_uri, "hardhat_setBalance", [buyer.address, hex(10**18)])
    minted = await rpc_chain.mint(str(uuid.uuid4()), seller.address, "ipfs://batch", [(seller.address, 10_000)], 0)
    order, signature = await signed_order(rpc_chain, seller, minted.token_id, 5000)
    ledger, network = rpc_chain.ledger, rpc_chain.network

    def one_by_one(o: orders.Order) -> tuple[int, int, object, bool]:
        view = ledger._raw_view
        token, market = ledger.token.address, ledger.market.address
        order_hash = rpc_chain._order_hash(o)
        try:
            owner = to_checksum_address(view(token, "ownerOf(uint256)", [o.token_id], ["address"])[0])
        except Exception:  # noqa: BLE001 - no such token
            owner = None
        approved = owner is not None and bool(view(token, "isApprovedForAll(address,address)", [owner, market],
                                                   ["bool"])[0])
        return (int(view(market, "orderStatus(bytes32)", [order_hash], ["uint8"])[0]),
                int(view(market, "counterOf(address)", [o.seller], ["uint256"])[0]), owner, approved)

    async def both(o: orders.Order) -> None:
        batched = await ledger.order_on_chain(o, rpc_chain._order_hash(o))
        assert (batched.status, batched.counter, batched.owner, batched.approved) == \
            await network.run(one_by_one, o)
        assert batched.next_block_time >= await ledger.head_timestamp()

    await both(order)
    assert (await rpc_chain.verify_order(json.dumps(order.message()), "0x" + signature.hex())).verdict.fillable
    call, _ = await rpc_chain.prepare_fulfill(json.dumps(order.message()), "0x" + signature.hex(), buyer.address)
    w3 = network.w3
    assert call.tx.nonce == w3.eth.get_transaction_count(buyer.address, "pending")
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    assert call.tx.max_priority_fee_per_gas == int(w3.eth.max_priority_fee)
    assert call.tx.max_fee_per_gas == 2 * base + call.tx.max_priority_fee_per_gas
    receipt = await send_as(rpc_chain, buyer, rpc_chain.market.address,
                            rpc_chain.market.encode_abi("fulfill", args=[order.as_tuple(), signature]), 5000)
    assert receipt["status"] == 1
    await both(order)  # filled; the owner (the buyer) is not the seller: its approval read apart
    await both(dataclasses.replace(order, token_id=minted.token_id + 10_000))  # no such token: no owner


async def test_concurrent_submissions_on_a_json_rpc_node_get_gap_free_nonces(rpc_chain: ChainService) -> None:
    start = await rpc_chain.tm.resync_nonce()
    outcomes = await asyncio.gather(*[
        rpc_chain.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=1)) for _ in range(50)])
    assert all(o.succeeded for o in outcomes)
    with Session(rpc_chain.repo.engine) as s:
        nonces = s.execute(select(TxRecord.nonce).where(TxRecord.tx_hash.in_([o.tx_hash for o in outcomes]))).scalars()
        assert sorted(nonces) == list(range(start, start + 50))


async def test_stuck_transaction_is_replaced_in_the_node_mempool(rpc_chain: ChainService, node_uri: str) -> None:
    settings = ChainSettings(web3_provider_uri=node_uri, signer_key=OTHER_KEY, stuck_after_s=0.3,
                             poll_interval_s=0.02, fee_bump_percent=25)
    tm = TransactionManager(rpc_chain.network, rpc_chain.repo, Account.from_key(OTHER_KEY), settings,
                            rpc_chain.chain_id)
    rpc(node_uri, "evm_setAutomine", [False])
    try:
        sent = await tm.submit(TxRequest(type="native_transfer", to=SINK, data="0x", value=3), gas=21_000)
        waiter = asyncio.create_task(tm.wait(sent))
        await wait_until_async(lambda: len(sent.hashes) >= 2, timeout=10, interval=0.02,
                               message="the stuck transaction was not replaced")
        rpc(node_uri, "evm_mine")
        outcome = await asyncio.wait_for(waiter, 30)
    finally:
        rpc(node_uri, "evm_setAutomine", [True])
    assert outcome.succeeded and outcome.tx_hash == sent.hashes[-1] != sent.hashes[0]
    with Session(rpc_chain.repo.engine) as s:
        original = s.execute(select(TxRecord).where(TxRecord.tx_hash == sent.hashes[0])).scalar_one()
    assert original.status == "replaced" and original.replaced_by in sent.hashes[1:]
    # The node dropped the underpriced original: only the replacement exists on chain.
    assert rpc(node_uri, "eth_getTransactionByHash", [sent.hashes[0]]) is None


async def test_receipt_waits_for_the_configured_confirmations(rpc_chain: ChainService, node_uri: str) -> None:
    settings = ChainSettings(web3_provider_uri=node_uri, signer_key=OTHER_KEY, confirmations=2, poll_interval_s=0.02)
    tm = TransactionManager(rpc_chain.network, rpc_chain.repo, Account.from_key(OTHER_KEY), settings,
                            rpc_chain.chain_id)
    task = asyncio.create_task(tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=5, amount_wei=5)))
    def recorded() -> bool:
        with Session(rpc_chain.repo.engine) as s:
            return s.execute(select(TxRecord).where(TxRecord.from_address == tm.address,
                                                    TxRecord.amount_wei == 5)).first() is not None

    # Mined at once (automine), but only one confirmation so far: the wait must not end.
    await wait_until_async(recorded, timeout=10, interval=0.02)
    await wait_until_async(lambda: rpc(node_uri, "eth_getTransactionReceipt", [tx_hash_of(rpc_chain, tm)]),
                           timeout=10, interval=0.02)
    await asyncio.sleep(0.3)  # a negative check: no condition to wait for, the task must still be waiting
    assert not task.done()
    rpc(node_uri, "evm_mine")
    outcome = await asyncio.wait_for(task, 30)
    assert outcome.succeeded and outcome.confirmations == 2


async def test_an_invalid_opcode_through_json_rpc_is_failed_precondition_not_unavailable(
        rpc_chain: ChainService) -> None:
    from test_node_errors import INVALID_RUNTIME, deploy_raw, ledger_at

    bad = await deploy_raw(rpc_chain, INVALID_RUNTIME)
    # hardhat: "VM Exception while processing transaction: invalid opcode"; used to escape untyped.
    with pytest.raises(FailedPrecondition, match="could not execute the contract code"):
        await ledger_at(rpc_chain, bad, bad).token_uri(1)
    with pytest.raises(FailedPrecondition, match=r"cannot run IPAssetTokenV2 .*name\(\) failed"):
        await ledger_at(rpc_chain, bad, bad).check_code()
