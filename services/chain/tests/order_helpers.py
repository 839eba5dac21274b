"""Helpers for the signed-order tests: act, over the gRPC servicer, as a seller who signs an
EIP-712 listing and as a buyer whose own wallet (ipheron_libs.wallet, as a browser wallet)
signs and pays the prepared call."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from chain_service.server import FULL_NAME
from chain_service.service import ChainService
from chain_service.servicer import ChainServicer, prepared_of
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron_libs import grpc_client, grpc_server
from ipheron_libs.testing import wait_until_async
from ipheron_libs.wallet import Wallet

ETH = 10**18


@asynccontextmanager
async def grpc_stub(chain: ChainService) -> AsyncIterator[pb_grpc.ChainServiceStub]:
    """The service behind a real gRPC server (port 0) and channel."""
    servicer = ChainServicer(chain)
    server, port, health = grpc_server.build_server(
        "chain", lambda s: pb_grpc.add_ChainServiceServicer_to_server(servicer, s), [FULL_NAME], port=0)
    await grpc_server.start(server, health)
    channel = grpc_client.channel(f"127.0.0.1:{port}", default_timeout=60)
    try:
        yield pb_grpc.ChainServiceStub(channel)
    finally:
        await channel.close()
        await grpc_server.stop(server, health, grace=0.5)


async def funded(chain: ChainService, amount: int = 2 * ETH) -> Wallet:
    wallet = Wallet.create()
    await chain.faucet(wallet.address, str(amount))
    return wallet


async def mint(stub: pb_grpc.ChainServiceStub, owner: str, creators: Sequence[tuple[str, int]] = (),
               royalty_bps: int = 0) -> int:
    shares = list(creators) or [(owner, 10_000)]
    minted = await stub.MintAsset(pb.MintAssetRequest(
        asset_id=str(uuid.uuid4()), owner_address=owner, token_uri="ipfs://order-test", royalty_bps=royalty_bps,
        co_creators=[pb.CoCreator(address=a, share_bps=b) for a, b in shares]))
    return int(minted.token_id)


async def signed_listing(stub: pb_grpc.ChainServiceStub, seller: Wallet, token_id: int, price: int,
                         duration_s: int = 0, signer: Wallet | None = None,
                         seller_address: str | None = None) -> tuple[str, str, str]:
    """BuildOrder, then the seller's wallet signs the typed data unchanged: (order_json, signature, order_hash)."""
    built = await stub.BuildOrder(pb.BuildOrderRequest(token_id=token_id, seller=seller_address or seller.address,
                                                       price_wei=str(price), duration_seconds=duration_s))
    signature = (signer or seller).sign_typed_data(built.typed_data_json)
    return built.order_json, signature, built.order_hash


def resign(chain: ChainService, signer: Wallet, message: dict[str, str]) -> tuple[str, str]:
    """A (possibly altered) order message signed by `signer`: (order_json, signature)."""
    from chain_service import orders

    document = orders.typed_data(orders.Order.from_message(message), chain.chain_id, chain.market.address)
    return json.dumps(document["message"]), signer.sign_typed_data(document)


async def pay(stub: pb_grpc.ChainServiceStub, wallet: Wallet, prepared: pb.PrepareTransactionResponse,
              type_: int = pb.TRANSACTION_TYPE_USER_CALL, **record: object) -> str:
    """The wallet signs the prepared call; SubmitRawTransaction broadcasts it; its hash."""
    raw = wallet.sign_transaction(prepared_of(prepared.transaction).as_json_rpc())
    sent = await stub.SubmitRawTransaction(pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=prepared.transaction, type=type_, **record))  # type: ignore[arg-type]
    return str(sent.tx_hash)


async def settled(stub: pb_grpc.ChainServiceStub, tx_hash: str) -> pb.Transaction:
    """GetTransaction until the transaction is no longer pending."""
    async def done() -> pb.Transaction | None:
        tx = (await stub.GetTransaction(pb.GetTransactionRequest(tx_hash=tx_hash))).transaction
        return tx if tx.status != pb.TRANSACTION_STATUS_PENDING else None

    return await wait_until_async(done, timeout=30, interval=0.05, message=f"{tx_hash} stayed pending")


async def pay_and_settle(stub: pb_grpc.ChainServiceStub, wallet: Wallet, prepared: pb.PrepareTransactionResponse,
                         type_: int = pb.TRANSACTION_TYPE_USER_CALL) -> pb.Transaction:
    return await settled(stub, await pay(stub, wallet, prepared, type_))


async def buy(stub: pb_grpc.ChainServiceStub, buyer: Wallet, order_json: str, signature: str) -> pb.Transaction:
    prepared = await stub.PrepareFulfill(pb.PrepareFulfillRequest(order_json=order_json, signature=signature,
                                                                  buyer=buyer.address))
    return await pay_and_settle(stub, buyer, prepared.prepared, pb.TRANSACTION_TYPE_BUY)


async def call_as(stub: pb_grpc.ChainServiceStub, wallet: Wallet, to: str, data: str) -> pb.Transaction:
    """The wallet's own call (prepared, signed, submitted, settled)."""
    prepared = await stub.PrepareTransaction(pb.PrepareTransactionRequest(from_address=wallet.address, to_address=to,
                                                                          data=data, value_wei="0"))
    return await pay_and_settle(stub, wallet, prepared)


async def native_balance(chain: ChainService, address: str) -> int:
    return await chain.ledger.native_balance(address)
