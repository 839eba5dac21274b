"""ChainService over a real gRPC channel (server on port 0): the happy path from mint to
provenance, and bad requests answered with the right status and a clear message."""

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


async def test_mint_list_buy_and_provenance_over_grpc(stub, users) -> None:
    asset = str(uuid.uuid4())
    minted = await stub.MintAsset(pb.MintAssetRequest(
        asset_id=asset, owner_address=users[0].address.lower(), token_uri="ipfs://meta",
        co_creators=[pb.CoCreator(address=users[1].address, share_bps=3333),
                     pb.CoCreator(address=users[2].address, share_bps=3333),
                     pb.CoCreator(address=users[3].address, share_bps=3334)],
        royalty_bps=1000))
    assert minted.token_id > 0 and not minted.already_minted
    assert minted.transaction.type == pb.TRANSACTION_TYPE_MINT
    assert minted.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED
    assert minted.transaction.receipt.succeeded and minted.transaction.receipt.confirmations >= 1
    assert any(e.name == "AssetMinted" for e in minted.transaction.receipt.events)

    listed = await stub.ListToken(pb.ListTokenRequest(token_id=minted.token_id, price_wei="1000000000000000001"))
    assert listed.listing.seller == users[0].address and listed.listing.price_wei == "1000000000000000001"

    bought = await stub.BuyToken(pb.BuyTokenRequest(token_id=minted.token_id, recipient_address=users[4].address,
                                                    price_wei="1000000000000000001", idempotency_key=asset,
                                                    asset_id=asset))
    payouts = {(p.address, p.kind): int(p.amount_wei) for p in bought.payouts}
    royalty = int(bought.royalty_wei)
    assert royalty == 100000000000000000  # floor(10 % of the price)
    # 3333/3333/3334 of 1e17 split exactly; the seller gets the rest of the price.
    assert payouts[(users[1].address, pb.PAYOUT_KIND_ROYALTY)] == 33330000000000000
    assert payouts[(users[3].address, pb.PAYOUT_KIND_ROYALTY)] == 33340000000000000
    assert payouts[(users[0].address, pb.PAYOUT_KIND_SELLER)] == 1000000000000000001 - royalty
    sold = next(e for e in bought.transaction.receipt.events if e.name == "Sold")
    assert json.loads(sold.args_json)["price"] == "1000000000000000001"

    shouted = bought.transaction.tx_hash.upper().replace("0X", "0x")
    got = await stub.GetTransaction(pb.GetTransactionRequest(tx_hash=shouted))
    assert got.transaction.amount_wei == "1000000000000000001" and got.transaction.asset_id == asset
    assert got.transaction.counterparty == users[4].address and got.transaction.gas_used > 0

    history = await stub.ListTransactions(pb.ListTransactionsRequest(
        asset_id=asset, page=common_pb2.PageRequest(page=1, per_page=10)))
    assert [t.type for t in history.transactions] == [
        pb.TRANSACTION_TYPE_MINT, pb.TRANSACTION_TYPE_LIST, pb.TRANSACTION_TYPE_BUY]
    assert history.page_info.total == 3
    blocks = [t.block_number for t in history.transactions]
    assert blocks == sorted(blocks)

    token = await stub.GetToken(pb.GetTokenRequest(asset_id=asset))
    assert token.owner_address == users[4].address and not token.listing.listed

    balance = await stub.GetBalance(pb.GetBalanceRequest(address=users[3].address))
    assert int(balance.pending_withdrawal_wei) >= 33340000000000000
    assert balance.pending_withdrawal.currency == "ETH"

    royalty_info = await stub.GetRoyaltyInfo(pb.GetRoyaltyInfoRequest(token_id=minted.token_id, sale_price_wei="7"))
    assert royalty_info.royalty_wei == "0" and royalty_info.seller_proceeds_wei == "7"

    withdrawn = await stub.Withdraw(pb.WithdrawRequest(payees=[users[3].address]))
    assert withdrawn.results[0].succeeded
    assert int(withdrawn.results[0].amount_wei) == int(balance.pending_withdrawal_wei)


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
    ("ListToken", pb.ListTokenRequest(token_id=1, price_wei="0.5"), grpc.StatusCode.INVALID_ARGUMENT,
     "whole number of wei"),
    ("BuyToken", pb.BuyTokenRequest(token_id=1, recipient_address="0x0000000000000000000000000000000000000001",
                                    price_wei="1"), grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key is required"),
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


async def test_buying_an_unlisted_token_is_failed_precondition(stub, users) -> None:
    asset = str(uuid.uuid4())
    minted = await stub.MintAsset(pb.MintAssetRequest(
        asset_id=asset, owner_address=users[0].address, token_uri="u",
        co_creators=[pb.CoCreator(address=users[1].address, share_bps=10_000)], royalty_bps=0))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.BuyToken(pb.BuyTokenRequest(token_id=minted.token_id, recipient_address=users[4].address,
                                               price_wei="10", idempotency_key="u-" + asset))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "is not listed for sale" in (err.value.details() or "")
