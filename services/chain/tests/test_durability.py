"""The embedded chain survives restarts: a service instance deploys (the timelocked wiring
included), mints, a buyer fills a signed order over gRPC, and it stops; each new instance on
the same database rebuilds the identical chain (same state root, owners and balances) — from
a snapshot plus the journal tail after a crash, from the shutdown snapshot after a clean stop,
and from the journal alone — and keeps working: an order signed before the crash is filled
after it, and the withdraw relay's cooldown survived."""

from __future__ import annotations

import uuid

import grpc
import pytest
from chain_service.config import ChainSettings
from chain_service.server import ChainApp
from chain_service.servicer import prepared_of
from conftest import chain_database
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron_libs import grpc_client, grpc_server
from ipheron_libs.testing import wait_until_async
from ipheron_libs.wallet import Wallet
from order_helpers import ETH, buy, funded, settled, signed_listing
from sqlalchemy import text


class Instance:
    """One chain service process-equivalent: its own app, EVM and gRPC server (port 0)."""

    def __init__(self, url: str) -> None:
        self.app = ChainApp(ChainSettings(database_url=url), url)

    async def __aenter__(self) -> pb_grpc.ChainServiceStub:
        port = await self.app.start(port=0)
        self.channel = grpc_client.channel(f"127.0.0.1:{port}", default_timeout=60)
        return pb_grpc.ChainServiceStub(self.channel)

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.close()
        await self.app.stop(grace=0.5)


class CrashingInstance(Instance):
    """Stops without the shutdown snapshot, as a killed process would."""

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.close()
        app = self.app
        assert app.server is not None and app.health is not None
        await grpc_server.stop(app.server, app.health, grace=0.5)
        for task in app._tasks:  # the periodic snapshot among them
            task.cancel()
        app.service.close()
        app.engine.dispose()


async def health_status(instance: Instance, entry: str) -> bool:
    """Whether the instance's gRPC health service reports `entry` SERVING."""
    reply = await health_pb2_grpc.HealthStub(instance.channel).Check(health_pb2.HealthCheckRequest(service=entry))
    return reply.status == health_pb2.HealthCheckResponse.SERVING


async def snapshot(stub: pb_grpc.ChainServiceStub, app: ChainApp, token_ids: list[int], addresses: list[str]) -> dict:
    network = app.service.network
    latest = await network.run(network.w3.eth.get_block, "latest")
    status = await stub.GetNetworkStatus(pb.GetNetworkStatusRequest())
    tokens = [await stub.GetToken(pb.GetTokenRequest(token_id=t)) for t in token_ids]
    balances = [await stub.GetBalance(pb.GetBalanceRequest(address=a)) for a in addresses]
    return {
        "state_root": bytes(latest["stateRoot"]).hex(),
        "block": (latest["number"], latest["timestamp"]),
        "contracts": (status.token_address, status.marketplace_address, status.chain_id),
        "tokens": [(t.owner_address, t.asset_id, t.token_uri, t.listing.listed, t.listing.price_wei) for t in tokens],
        "balances": [(b.address, b.pending_withdrawal_wei, b.native_balance_wei) for b in balances],
    }


@pytest.fixture()
def durable_url(pg_admin_url: str) -> str:
    return chain_database(pg_admin_url, "ipheron_chain_restart")


async def test_restarts_rebuild_identical_chain_state(durable_url, users) -> None:
    owner, c1, c2 = (u.address for u in users[:3])
    sold_asset, listed_asset = str(uuid.uuid4()), str(uuid.uuid4())
    seller = Wallet.from_key(users[0].key)
    first = CrashingInstance(durable_url)
    async with first as stub:
        buyer = await funded(first.app.service, 5 * ETH)
        sold = await stub.MintAsset(pb.MintAssetRequest(
            asset_id=sold_asset, owner_address=owner, token_uri="ipfs://sold", royalty_bps=1500,
            co_creators=[pb.CoCreator(address=c1, share_bps=7000), pb.CoCreator(address=c2, share_bps=3000)]))
        listed = await stub.MintAsset(pb.MintAssetRequest(
            asset_id=listed_asset, owner_address=owner, token_uri="ipfs://listed", royalty_bps=0,
            co_creators=[pb.CoCreator(address=owner, share_bps=10_000)]))
        assert await first.app.service.snapshot()  # mid-way snapshot
        sold_order = await signed_listing(stub, seller, sold.token_id, 123456789)
        # Signed before the crash, filled after the last restart.
        listed_order = await signed_listing(stub, seller, listed.token_id, 555)
        prepared = (await stub.PrepareFulfill(pb.PrepareFulfillRequest(
            order_json=sold_order[0], signature=sold_order[1], buyer=buyer.address))).prepared
        raw = buyer.sign_transaction(prepared_of(prepared.transaction).as_json_rpc())
        bought = await stub.SubmitRawTransaction(pb.SubmitRawTransactionRequest(
            raw_transaction=raw, expected=prepared.transaction, type=pb.TRANSACTION_TYPE_BUY))
        assert (await settled(stub, bought.tx_hash)).status == pb.TRANSACTION_STATUS_CONFIRMED
        relayed = await stub.Withdraw(pb.WithdrawRequest(payees=[owner]))
        assert relayed.results[0].succeeded
        tokens, addresses = [sold.token_id, listed.token_id], [owner, c1, c2, buyer.address]
        before = await snapshot(stub, first.app, tokens, addresses)
    repo = first.app.repo
    journaled = repo.journal_count()
    assert 0 < repo.latest_snapshot_seq() < journaled  # the sale is only in the journal tail

    # After a crash: the mid-way snapshot plus the journal tail.
    second = Instance(durable_url)
    async with second as stub:
        assert await snapshot(stub, second.app, tokens, addresses) == before
        tx = await stub.GetTransaction(pb.GetTransactionRequest(tx_hash=bought.tx_hash))
        assert tx.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED and tx.transaction.receipt.succeeded
    assert repo.latest_snapshot_seq() == journaled  # a clean stop snapshots everything

    # After a clean stop: the shutdown snapshot alone.
    third = CrashingInstance(durable_url)
    async with third as stub:
        assert await snapshot(stub, third.app, tokens, addresses) == before
    with repo.engine.begin() as conn:
        conn.execute(text("DELETE FROM snapshots"))

    # From the journal alone (the timelocked wiring's schedule and execute replayed in their
    # blocks, at their times), then the chain keeps working.
    fourth = Instance(durable_url)
    async with fourth as stub:
        assert await fourth.app.service.chain_ready()  # the "evm" health entry
        # The skeleton publishes it (and "postgresql") over gRPC health once serving.
        for entry in ("evm", "postgresql"):
            assert await wait_until_async(lambda e=entry: health_status(fourth, e), timeout=15, ignore=(grpc.RpcError,))
        after = await snapshot(stub, fourth.app, tokens, addresses)
        assert after == before
        assert after["tokens"][0][0] == buyer.address  # the sold token moved
        # The same raw transaction again answers the same record, without a second sale.
        again = await stub.SubmitRawTransaction(pb.SubmitRawTransactionRequest(
            raw_transaction=raw, expected=prepared.transaction, type=pb.TRANSACTION_TYPE_BUY))
        assert again.already_submitted and again.tx_hash == bought.tx_hash
        # The order signed before the crash is still fillable; the signer's nonce continues.
        verdict = await stub.VerifyOrder(pb.VerifyOrderRequest(order_json=listed_order[0],
                                                               signature=listed_order[1]))
        assert verdict.state == pb.ORDER_STATE_FILLABLE
        resold = await buy(stub, buyer, listed_order[0], listed_order[1])
        assert resold.status == pb.TRANSACTION_STATUS_CONFIRMED
        # The relay cooldown survived the restarts: the owner, paid again, waits for the next relay.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Withdraw(pb.WithdrawRequest(payees=[owner]))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        minted = await stub.MintAsset(pb.MintAssetRequest(
            asset_id=str(uuid.uuid4()), owner_address=owner, token_uri="ipfs://after", royalty_bps=0,
            co_creators=[pb.CoCreator(address=owner, share_bps=10_000)]))
        assert minted.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED
