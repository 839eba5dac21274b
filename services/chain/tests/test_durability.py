"""The embedded chain survives a restart: a service instance mints, lists and sells over
gRPC, stops, and a new instance on the same database rebuilds the identical chain from
its journal (same state root, owners, listings and balances) and keeps working."""

from __future__ import annotations

import uuid

import pytest
from chain_service.config import ChainSettings
from chain_service.server import FULL_NAME, ChainApp
from conftest import chain_database
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron_libs import grpc_client, grpc_server


class Instance:
    """One chain service process-equivalent: its own app, EVM and gRPC server."""

    def __init__(self, url: str) -> None:
        self.app = ChainApp(ChainSettings(database_url=url), url)

    async def __aenter__(self) -> pb_grpc.ChainServiceStub:
        await self.app.on_start()
        self.server, port, self.health = grpc_server.build_server("chain", self.app.register, [FULL_NAME], port=0)
        await grpc_server.start(self.server, self.health)
        self.channel = grpc_client.channel(f"127.0.0.1:{port}", default_timeout=60)
        return pb_grpc.ChainServiceStub(self.channel)

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.close()
        await grpc_server.stop(self.server, self.health, grace=0.5)
        await self.app.on_stop()


async def snapshot(stub: pb_grpc.ChainServiceStub, app: ChainApp, token_ids: list[int], addresses: list[str]) -> dict:
    domain = app.domain
    assert domain is not None
    latest = await domain.network.run(domain.network.w3.eth.get_block, "latest")
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


async def test_restart_rebuilds_identical_chain_state_from_the_journal(durable_url, users) -> None:
    owner, c1, c2, buyer = (u.address for u in users[:4])
    sold_asset, listed_asset = str(uuid.uuid4()), str(uuid.uuid4())
    first = Instance(durable_url)
    async with first as stub:
        sold = await stub.MintAsset(pb.MintAssetRequest(
            asset_id=sold_asset, owner_address=owner, token_uri="ipfs://sold", royalty_bps=1500,
            co_creators=[pb.CoCreator(address=c1, share_bps=7000), pb.CoCreator(address=c2, share_bps=3000)]))
        listed = await stub.MintAsset(pb.MintAssetRequest(
            asset_id=listed_asset, owner_address=owner, token_uri="ipfs://listed", royalty_bps=0,
            co_creators=[pb.CoCreator(address=owner, share_bps=10_000)]))
        await stub.ListToken(pb.ListTokenRequest(token_id=sold.token_id, price_wei="123456789"))
        await stub.ListToken(pb.ListTokenRequest(token_id=listed.token_id, price_wei="555"))
        bought = await stub.BuyToken(pb.BuyTokenRequest(token_id=sold.token_id, recipient_address=buyer,
                                                        price_wei="123456789", idempotency_key="restart-buy"))
        before = await snapshot(stub, first.app, [sold.token_id, listed.token_id], [owner, c1, c2, buyer])

    second = Instance(durable_url)
    async with second as stub:
        after = await snapshot(stub, second.app, [sold.token_id, listed.token_id], [owner, c1, c2, buyer])
        assert after == before
        assert after["tokens"][0][0] == buyer and after["tokens"][1][3]  # sold token moved; other still listed
        # The transaction record and its receipt are served by the new instance too.
        tx = await stub.GetTransaction(pb.GetTransactionRequest(tx_hash=bought.transaction.tx_hash))
        assert tx.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED and tx.transaction.receipt.succeeded
        # The same idempotency key still returns the same purchase, without a second sale.
        again = await stub.BuyToken(pb.BuyTokenRequest(token_id=sold.token_id, recipient_address=buyer,
                                                       price_wei="123456789", idempotency_key="restart-buy"))
        assert again.transaction.tx_hash == bought.transaction.tx_hash
        # And the rebuilt chain keeps working: the signer's nonce continues where it stopped.
        resold = await stub.BuyToken(pb.BuyTokenRequest(token_id=listed.token_id, recipient_address=buyer,
                                                        price_wei="555", idempotency_key="restart-buy-2"))
        assert resold.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED
