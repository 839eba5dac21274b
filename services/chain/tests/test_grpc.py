"""ChainService over a real gRPC channel (server on port 0): the happy path from mint to
provenance (a signed order bought from the buyer's own wallet), and bad requests answered with
the right status and a clear message."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from chain_service.server import FULL_NAME
from chain_service.servicer import ChainServicer
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron.common.v1 import common_pb2
from ipheron_libs import grpc_client, grpc_server
from ipheron_libs.wallet import Wallet


@pytest.fixture(scope="module")
async def stub(chain) -> AsyncIterator[pb_grpc.ChainServiceStub]:
    servicer = ChainServicer(chain)
    server, port, health = grpc_server.build_server(
        "chain", lambda s: pb_grpc.add_ChainServiceServicer_to_server(servicer, s), [FULL_NAME], port=0)
    await grpc_server.start(server, health)
    channel = grpc_client.channel(f"127.0.0.1:{port}", default_timeout=30)
    yield pb_grpc.ChainServiceStub(channel)
    await channel.close()
    await grpc_server.stop(server, health, grace=0.5)


async def test_mint_sign_buy_and_provenance_over_grpc(stub, chain, users) -> None:
    from order_helpers import buy, funded, signed_listing

    seller, buyer = Wallet.create(), await funded(chain)
    asset = str(uuid.uuid4())
    minted = await stub.MintAsset(pb.MintAssetRequest(
        asset_id=asset, owner_address=seller.address.lower(), token_uri="ipfs://meta",
        co_creators=[pb.CoCreator(address=users[1].address, share_bps=3333),
                     pb.CoCreator(address=users[2].address, share_bps=3333),
                     pb.CoCreator(address=users[3].address, share_bps=3334)],
        royalty_bps=1000))
    assert minted.token_id > 0 and not minted.already_minted
    assert minted.transaction.type == pb.TRANSACTION_TYPE_MINT
    assert minted.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED
    assert minted.transaction.receipt.succeeded and minted.transaction.receipt.confirmations >= 1
    assert any(e.name == "AssetMinted" for e in minted.transaction.receipt.events)
    assert minted.contract_address == chain.token.address

    before = {u.address: int((await stub.GetBalance(pb.GetBalanceRequest(address=u.address))).pending_withdrawal_wei)
              for u in users[1:4]}
    order_json, signature, _ = await signed_listing(stub, seller, minted.token_id, 10**18 + 1)
    bought = await buy(stub, buyer, order_json, signature)
    royalty = 100000000000000000  # floor(10 % of the price)
    sold = next(e for e in bought.receipt.events if e.name == "Sold")
    assert json.loads(sold.args_json)["price"] == "1000000000000000001"
    assert json.loads(sold.args_json)["royalty"] == str(royalty)
    after = {u.address: int((await stub.GetBalance(pb.GetBalanceRequest(address=u.address))).pending_withdrawal_wei)
             for u in users[1:4]}
    # 3333/3333/3334 of 1e17 split exactly; the seller gets the rest of the price.
    assert after[users[1].address] - before[users[1].address] == 33330000000000000
    assert after[users[3].address] - before[users[3].address] == 33340000000000000
    seller_balance = await stub.GetBalance(pb.GetBalanceRequest(address=seller.address))
    assert int(seller_balance.pending_withdrawal_wei) == 10**18 + 1 - royalty
    assert seller_balance.pending_withdrawal.currency == "ETH"

    shouted = bought.tx_hash.upper().replace("0X", "0x")
    got = await stub.GetTransaction(pb.GetTransactionRequest(tx_hash=shouted))
    assert got.transaction.amount_wei == "1000000000000000001" and got.transaction.from_address == buyer.address
    assert got.transaction.gas_used > 0 and got.transaction.type == pb.TRANSACTION_TYPE_BUY

    history = await stub.ListTransactions(pb.ListTransactionsRequest(
        asset_id=asset, page=common_pb2.PageRequest(page=1, per_page=10)))
    assert [t.type for t in history.transactions] == [pb.TRANSACTION_TYPE_MINT]
    assert history.page_info.total == 1
    by_buyer = await stub.ListTransactions(pb.ListTransactionsRequest(
        address=buyer.address, page=common_pb2.PageRequest(page=1, per_page=10)))
    assert bought.tx_hash in [t.tx_hash for t in by_buyer.transactions]

    token = await stub.GetToken(pb.GetTokenRequest(asset_id=asset))
    assert token.owner_address == buyer.address and not token.listing.listed

    royalty_info = await stub.GetRoyaltyInfo(pb.GetRoyaltyInfoRequest(token_id=minted.token_id, sale_price_wei="7"))
    assert royalty_info.royalty_wei == "0" and royalty_info.seller_proceeds_wei == "7"

    withdrawn = await stub.Withdraw(pb.WithdrawRequest(payees=[users[3].address]))
    assert withdrawn.results[0].succeeded
    assert int(withdrawn.results[0].amount_wei) == after[users[3].address]


async def test_network_status_names_chain_and_contracts(stub, chain) -> None:
    status = await stub.GetNetworkStatus(pb.GetNetworkStatusRequest())
    assert status.chain_id == chain.chain_id and status.network == "embedded" and status.healthy
    assert status.token_address == chain.token.address and status.marketplace_address == chain.market.address
    assert status.latest_block > 0 and int(status.gas_price_wei) > 0 and status.journaled_transactions > 0


async def test_verify_signature_over_grpc(stub, users) -> None:
    from eth_account.messages import encode_defunct

    sig = users[2].sign_message(encode_defunct(text="hello")).signature
    ok = await stub.VerifySignature(pb.VerifySignatureRequest(address=users[2].address, message=b"hello",
                                                              signature=sig))
    assert ok.valid and ok.method == "ecdsa" and ok.recovered_address == users[2].address
    bad = await stub.VerifySignature(pb.VerifySignatureRequest(address=users[3].address, message=b"hello",
                                                               signature=sig))
    assert not bad.valid


@pytest.mark.parametrize(("call", "request_", "code", "needle"), [
    ("MintAsset", pb.MintAssetRequest(asset_id="nope"), grpc.StatusCode.INVALID_ARGUMENT, "asset_id must be a UUID"),
    ("BuildOrder", pb.BuildOrderRequest(token_id=1, seller="0x0000000000000000000000000000000000000001",
                                        price_wei="0.5"), grpc.StatusCode.INVALID_ARGUMENT, "whole number of wei"),
    ("VerifyOrder", pb.VerifyOrderRequest(order_json="{", signature="0x00"), grpc.StatusCode.INVALID_ARGUMENT,
     "not JSON"),
    ("PrepareWithdraw", pb.PrepareWithdrawRequest(payee="0x0000000000000000000000000000000000000001"),
     grpc.StatusCode.FAILED_PRECONDITION, "nothing to withdraw"),
    ("TrackTransaction", pb.TrackTransactionRequest(tx_hash="0x" + "ab" * 32), grpc.StatusCode.INVALID_ARGUMENT,
     "expected"),
    ("GetToken", pb.GetTokenRequest(token_id=987654), grpc.StatusCode.NOT_FOUND, "does not exist"),
    ("GetTransaction", pb.GetTransactionRequest(tx_hash="0x" + "ab" * 32), grpc.StatusCode.NOT_FOUND, "not a platform"),
    ("GetTransaction", pb.GetTransactionRequest(tx_hash="0x12"), grpc.StatusCode.INVALID_ARGUMENT, "tx_hash"),
    ("GetBalance", pb.GetBalanceRequest(address="not-an-address"), grpc.StatusCode.INVALID_ARGUMENT,
     "not a valid address"),
])
async def test_bad_requests_get_clear_statuses(stub, call, request_, code, needle) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await getattr(stub, call)(request_)
    assert err.value.code() == code
    assert needle in (err.value.details() or "")


async def test_an_order_for_a_token_that_does_not_exist_is_not_fillable(stub, chain) -> None:
    from order_helpers import resign

    seller = Wallet.create()
    message = {"token": chain.token.address, "tokenId": "987654", "seller": seller.address, "price": "10",
               "currency": "0x" + "00" * 20, "counter": "0", "salt": "1", "startTime": "0", "endTime": str(2**40)}
    order_json, signature = resign(chain, seller, message)
    verdict = await stub.VerifyOrder(pb.VerifyOrderRequest(order_json=order_json, signature=signature))
    assert verdict.state == pb.ORDER_STATE_STALE and "does not exist" in verdict.reason
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PrepareFulfill(pb.PrepareFulfillRequest(order_json=order_json, signature=signature,
                                                           buyer=Wallet.create().address))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not fillable" in (err.value.details() or "")
