"""Signed listings and buyer-paid purchases on the embedded EVM, through the gRPC servicer:
the owner signs the EIP-712 order BuildOrder answers (as a browser wallet would), VerifyOrder
checks it against the chain, PrepareFulfill prepares the buyer's own `fulfill` and the buyer's
wallet signs and pays it; every wei is accounted for and the platform signer pays nothing.
Orders that are cancelled, counter-invalidated, expired, stale or signed by someone else are
not fillable; an EIP-1271 contract wallet lists and sells; two buyers racing for one order get
one sale and the loser's transaction names OrderAlreadyFilled; the platform key cannot move a
user's token or take a user's balance on the contracts the service deployed."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from chain_service.txmanager import TxRequest
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron_libs.errors import DomainError
from ipheron_libs.wallet import Wallet
from order_helpers import (
    buy,
    call_as,
    funded,
    grpc_stub,
    mint,
    native_balance,
    pay,
    pay_and_settle,
    resign,
    settled,
    signed_listing,
)


@pytest.fixture(scope="module")
async def stub(chain) -> AsyncIterator[pb_grpc.ChainServiceStub]:
    async with grpc_stub(chain) as s:
        yield s


async def status_of(stub: pb_grpc.ChainServiceStub, order_json: str, signature: str) -> pb.VerifyOrderResponse:
    return await stub.VerifyOrder(pb.VerifyOrderRequest(order_json=order_json, signature=signature))


async def refused_fulfill(stub: pb_grpc.ChainServiceStub, order_json: str, signature: str, buyer: Wallet) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PrepareFulfill(pb.PrepareFulfillRequest(order_json=order_json, signature=signature,
                                                           buyer=buyer.address))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    return err.value.details() or ""


async def test_a_signed_listing_is_bought_from_the_buyers_own_wallet_with_exact_payouts(chain, stub) -> None:
    seller, c1, c2, buyer = Wallet.create(), Wallet.create(), Wallet.create(), await funded(chain)
    token_id = await mint(stub, seller.address, [(seller.address, 5000), (c1.address, 3000), (c2.address, 2000)],
                          royalty_bps=1000)
    price = 7_771 * 10**12 + 7
    order_json, signature, order_hash = await signed_listing(stub, seller, token_id, price)
    verified = await status_of(stub, order_json, signature)
    assert verified.state == pb.ORDER_STATE_FILLABLE and verified.reason == "" and verified.method == "ecdsa"
    assert (verified.order_hash, verified.owner, verified.seller, verified.price_wei) == (
        order_hash, seller.address, seller.address, str(price))
    assert verified.end_time.seconds - verified.start_time.seconds == 30 * 86_400 + 60  # 30 days + start slack
    # GetToken has no on-chain listing any more: orders live off chain.
    assert not (await stub.GetToken(pb.GetTokenRequest(token_id=token_id))).listing.listed

    platform_before = await native_balance(chain, chain.tm.address)
    buyer_before = await native_balance(chain, buyer.address)
    prepared = (await stub.PrepareFulfill(pb.PrepareFulfillRequest(order_json=order_json, signature=signature,
                                                                   buyer=buyer.address))).prepared
    assert prepared.can_pay and prepared.transaction.to == chain.market.address
    assert int(prepared.transaction.value_wei) == price and prepared.transaction.from_address == buyer.address
    tx = await pay_and_settle(stub, buyer, prepared, pb.TRANSACTION_TYPE_BUY)
    assert tx.status == pb.TRANSACTION_STATUS_CONFIRMED and tx.type == pb.TRANSACTION_TYPE_BUY
    assert tx.from_address == buyer.address and tx.receipt.succeeded
    assert {e.name for e in tx.receipt.events} >= {"Sold", "OrderFulfilled", "Transfer"}

    # The buyer paid exactly price + gas used × effective gas price; the platform signer nothing.
    gas_cost = tx.receipt.gas_used * int(tx.receipt.effective_gas_price_wei)
    assert await native_balance(chain, buyer.address) == buyer_before - price - gas_cost
    assert await native_balance(chain, chain.tm.address) == platform_before
    royalty = price // 10
    parts = [royalty * 5000 // 10_000, royalty * 3000 // 10_000, royalty * 2000 // 10_000]
    parts[0] += royalty - sum(parts)
    pending = {w.address: int((await stub.GetBalance(pb.GetBalanceRequest(address=w.address))).pending_withdrawal_wei)
               for w in (seller, c1, c2)}
    assert pending == {seller.address: price - royalty + parts[0], c1.address: parts[1], c2.address: parts[2]}
    assert (await stub.GetToken(pb.GetTokenRequest(token_id=token_id))).owner_address == buyer.address
    # Filled now: not fillable again.
    again = await status_of(stub, order_json, signature)
    assert again.state == pb.ORDER_STATE_FILLED and "filled" in again.reason
    assert "filled" in await refused_fulfill(stub, order_json, signature, await funded(chain))


async def test_two_buyers_racing_for_one_order_get_one_sale_and_the_loser_sees_order_already_filled(
        chain, stub) -> None:
    seller = Wallet.create()
    token_id = await mint(stub, seller.address)
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 10**15)
    buyers = [await funded(chain), await funded(chain)]
    prepared = [(await stub.PrepareFulfill(pb.PrepareFulfillRequest(order_json=order_json, signature=signature,
                                                                    buyer=b.address))).prepared for b in buyers]
    hashes = [await pay(stub, b, p, pb.TRANSACTION_TYPE_BUY) for b, p in zip(buyers, prepared, strict=True)]
    outcomes = [await settled(stub, h) for h in hashes]
    assert sorted(t.status for t in outcomes) == [pb.TRANSACTION_STATUS_CONFIRMED, pb.TRANSACTION_STATUS_FAILED]
    winner = next(i for i, t in enumerate(outcomes) if t.status == pb.TRANSACTION_STATUS_CONFIRMED)
    loser = outcomes[1 - winner]
    assert loser.error == "OrderAlreadyFilled" and loser.block_number > 0
    assert (await stub.GetToken(pb.GetTokenRequest(token_id=token_id))).owner_address == buyers[winner].address
    assert int((await stub.GetBalance(pb.GetBalanceRequest(address=seller.address))).pending_withdrawal_wei) == 10**15


async def test_cancelled_counter_incremented_expired_and_stale_orders_are_not_fillable(chain, stub) -> None:
    seller, buyer, other = await funded(chain), await funded(chain), await funded(chain)
    token_id = await mint(stub, seller.address)

    # Cancelled by the seller's own cancel(orders), prepared by PrepareCancel.
    order_json, signature, order_hash = await signed_listing(stub, seller, token_id, 1000)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PrepareCancel(pb.PrepareCancelRequest(order_json=[order_json], seller=other.address))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    cancel = await stub.PrepareCancel(pb.PrepareCancelRequest(order_json=[order_json], seller=seller.address))
    assert list(cancel.order_hashes) == [order_hash]
    cancelled = await pay_and_settle(stub, seller, cancel.prepared, pb.TRANSACTION_TYPE_CANCEL)
    assert cancelled.status == pb.TRANSACTION_STATUS_CONFIRMED and cancelled.type == pb.TRANSACTION_TYPE_CANCEL
    assert (await status_of(stub, order_json, signature)).state == pb.ORDER_STATE_CANCELLED
    assert "cancelled" in await refused_fulfill(stub, order_json, signature, buyer)

    # Every order signed with the seller's previous counter.
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 1000)
    assert (await status_of(stub, order_json, signature)).state == pb.ORDER_STATE_FILLABLE
    await call_as(stub, seller, chain.market.address, chain.market.encode_abi("incrementCounter"))
    verdict = await status_of(stub, order_json, signature)
    assert verdict.state == pb.ORDER_STATE_COUNTER_INVALID and "counter" in verdict.reason
    assert "counter" in await refused_fulfill(stub, order_json, signature, buyer)

    # Expired: the seller signed a window that has passed.
    order_json, _, _ = await signed_listing(stub, seller, token_id, 1000)
    message = json.loads(order_json)
    now = int(time.time())
    message["startTime"], message["endTime"] = str(now - 100), str(now - 10)
    expired_json, expired_sig = resign(chain, seller, message)
    assert (await status_of(stub, expired_json, expired_sig)).state == pb.ORDER_STATE_EXPIRED
    assert "expired" in await refused_fulfill(stub, expired_json, expired_sig, buyer)
    message["startTime"], message["endTime"] = str(now + 3600), str(now + 7200)
    early_json, early_sig = resign(chain, seller, message)
    assert (await status_of(stub, early_json, early_sig)).state == pb.ORDER_STATE_NOT_STARTED

    # Signed by someone else for the seller: invalid signature. Signed by a non-owner as seller: stale.
    order_json, _, _ = await signed_listing(stub, seller, token_id, 1000)
    forged = other.sign_typed_data(_document(chain, json.loads(order_json)))
    assert (await status_of(stub, order_json, forged)).state == pb.ORDER_STATE_INVALID_SIGNATURE
    message = json.loads(order_json)
    message["seller"], message["counter"] = other.address, "0"
    foreign_json, foreign_sig = resign(chain, other, message)
    assert (await status_of(stub, foreign_json, foreign_sig)).state == pb.ORDER_STATE_STALE
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.BuildOrder(pb.BuildOrderRequest(token_id=token_id, seller=other.address, price_wei="1000"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # Stale: the owner moved the token after signing.
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 1000)
    await call_as(stub, seller, chain.token.address,
                  chain.token.encode_abi("transferFrom", args=[seller.address, other.address, token_id]))
    verdict = await status_of(stub, order_json, signature)
    assert verdict.state == pb.ORDER_STATE_STALE and verdict.owner == other.address
    assert "no longer owns" in await refused_fulfill(stub, order_json, signature, buyer)


def _document(chain, message: dict[str, str]) -> dict:
    from chain_service import orders

    return orders.typed_data(orders.Order.from_message(message), chain.chain_id, chain.market.address)


async def test_a_seller_cannot_buy_its_own_order_and_malformed_orders_name_the_field(chain, stub) -> None:
    seller = await funded(chain)
    token_id = await mint(stub, seller.address)
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 1000)
    assert "seller" in await refused_fulfill(stub, order_json, signature, seller)
    message = json.loads(order_json)
    cases = [({**message, "price": "1.5"}, "order.price"), ({**message, "token": seller.address}, "order.token"),
             ({**message, "currency": seller.address}, "order.currency"), ({**message, "extra": "1"}, "order.extra"),
             ({k: v for k, v in message.items() if k != "salt"}, "order.salt"),
             ({**message, "counter": str(2**256)}, "order.counter")]
    for bad, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await status_of(stub, json.dumps(bad), signature)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in (err.value.details() or "")
    for bad_build in (pb.BuildOrderRequest(token_id=token_id, seller=seller.address, price_wei="0"),
                      pb.BuildOrderRequest(token_id=token_id, seller=seller.address, price_wei="1",
                                           duration_seconds=366 * 86_400)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.BuildOrder(bad_build)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_eip1271_contract_wallet_lists_and_its_order_is_filled(chain, stub) -> None:
    from chain_service.contracts import load_artifact

    owner_key, buyer = Wallet.create(), await funded(chain)
    art = load_artifact("TestSmartWallet")
    factory = chain.network.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    deployed = await chain.tm.send(TxRequest(type="deploy", to=None,
                                             data=factory.constructor(owner_key.address).data_in_transaction))
    smart = str(deployed.receipt["contractAddress"])
    token_id = await mint(stub, smart)
    # The wallet's owner key signs; the marketplace asks the wallet (isValidSignature).
    order_json, signature, _ = await signed_listing(stub, owner_key, token_id, 5000, seller_address=smart)
    verdict = await status_of(stub, order_json, signature)
    assert verdict.state == pb.ORDER_STATE_FILLABLE and verdict.method == "eip1271" and verdict.seller == smart
    stranger = Wallet.create().sign_typed_data(_document(chain, json.loads(order_json)))
    bad = await status_of(stub, order_json, stranger)
    assert bad.state == pb.ORDER_STATE_INVALID_SIGNATURE and bad.method == "eip1271"
    tx = await buy(stub, buyer, order_json, signature)
    assert tx.status == pb.TRANSACTION_STATUS_CONFIRMED
    assert (await stub.GetToken(pb.GetTokenRequest(token_id=token_id))).owner_address == buyer.address
    assert int((await stub.GetBalance(pb.GetBalanceRequest(address=smart))).pending_withdrawal_wei) == 5000


async def test_a_payee_withdraws_from_its_own_wallet_and_the_relay_has_a_cooldown(chain, stub) -> None:
    seller, buyer = await funded(chain), await funded(chain)
    token_id = await mint(stub, seller.address)
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 10**16)
    await buy(stub, buyer, order_json, signature)
    prepared = await stub.PrepareWithdraw(pb.PrepareWithdrawRequest(payee=seller.address))
    assert prepared.pending_withdrawal_wei == str(10**16)
    before = await native_balance(chain, seller.address)
    tx = await pay_and_settle(stub, seller, prepared.prepared, pb.TRANSACTION_TYPE_WITHDRAW)
    assert tx.status == pb.TRANSACTION_STATUS_CONFIRMED
    gas_cost = tx.receipt.gas_used * int(tx.receipt.effective_gas_price_wei)
    assert await native_balance(chain, seller.address) == before + 10**16 - gas_cost
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PrepareWithdraw(pb.PrepareWithdrawRequest(payee=seller.address))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # The platform pays the gas of withdrawFor once per payee per cooldown.
    token_id = await mint(stub, seller.address)
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 10**15)
    await buy(stub, buyer, order_json, signature)
    relayed = await stub.Withdraw(pb.WithdrawRequest(payees=[seller.address]))
    assert relayed.results[0].succeeded and relayed.results[0].amount_wei == str(10**15)
    token_id = await mint(stub, seller.address)
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 10**15)
    await buy(stub, buyer, order_json, signature)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Withdraw(pb.WithdrawRequest(payees=[seller.address]))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "retry in" in (err.value.details() or "") and " s " in (err.value.details() or "")


async def test_a_transaction_the_user_broadcast_is_tracked_once_checked_against_the_prepared_call(
        chain, stub) -> None:
    seller, buyer, other = Wallet.create(), await funded(chain), await funded(chain)
    token_id = await mint(stub, seller.address)
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 12345)
    prepared = (await stub.PrepareFulfill(pb.PrepareFulfillRequest(order_json=order_json, signature=signature,
                                                                   buyer=buyer.address))).prepared
    from chain_service.servicer import prepared_of

    raw = buyer.sign_transaction(prepared_of(prepared.transaction).as_json_rpc())
    # The wallet broadcasts it itself, straight to the node.
    tx_hash = "0x" + bytes(await chain.network.run(chain.network.w3.eth.send_raw_transaction, raw)).hex()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.TrackTransaction(pb.TrackTransactionRequest(tx_hash="0x" + "12" * 32, expected=prepared.transaction))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    someone_else = pb.PreparedTransaction()
    someone_else.CopyFrom(prepared.transaction)
    someone_else.from_address = other.address
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.TrackTransaction(pb.TrackTransactionRequest(tx_hash=tx_hash, expected=someone_else))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    another_call = pb.PreparedTransaction()
    another_call.CopyFrom(prepared.transaction)
    another_call.value_wei = "1"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.TrackTransaction(pb.TrackTransactionRequest(tx_hash=tx_hash, expected=another_call))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    tracked = await stub.TrackTransaction(pb.TrackTransactionRequest(tx_hash=tx_hash, expected=prepared.transaction,
                                                                     type=pb.TRANSACTION_TYPE_BUY, token_id=token_id))
    assert tracked.transaction.tx_hash == tx_hash and tracked.transaction.type == pb.TRANSACTION_TYPE_BUY
    assert tracked.transaction.from_address == buyer.address
    done = await settled(stub, tx_hash)
    assert done.status == pb.TRANSACTION_STATUS_CONFIRMED and done.token_id == token_id
    again = await stub.TrackTransaction(pb.TrackTransactionRequest(tx_hash=tx_hash, expected=prepared.transaction,
                                                                   type=pb.TRANSACTION_TYPE_BUY))
    assert again.transaction.tx_hash == tx_hash and again.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED


async def test_the_platform_key_cannot_move_a_users_token_or_take_a_users_balance(chain, stub) -> None:
    """On the contracts the service deployed: every attempt by the platform signer reverts."""
    seller, buyer = Wallet.create(), await funded(chain)
    token_id = await mint(stub, seller.address)
    order_json, signature, _ = await signed_listing(stub, seller, token_id, 10**15)
    await buy(stub, buyer, order_json, signature)
    token, market, platform = chain.token, chain.market, chain.tm.address
    attempts = [
        (token.address, token.encode_abi("transferFrom", args=[buyer.address, platform, token_id])),
        (token.address, token.encode_abi("approve", args=[platform, token_id])),
        (token.address, token.encode_abi("setMarketplace", args=[platform])),
        (market.address, market.encode_abi("withdraw")),
        (market.address, market.encode_abi("setFee", args=[platform, 1000])),
        (market.address, market.encode_abi("cancel", args=[[json_order_tuple(order_json)]])),
    ]
    for to, data in attempts:
        with pytest.raises(DomainError):
            await chain.tm.estimate_gas(TxRequest(type="admin", to=to, data=data))
    # Only the seller's own balance: withdrawFor pays the seller, never the caller.
    before = await native_balance(chain, seller.address)
    await stub.Withdraw(pb.WithdrawRequest(payees=[seller.address]))
    assert await native_balance(chain, seller.address) == before + 10**15
    assert (await stub.GetToken(pb.GetTokenRequest(token_id=token_id))).owner_address == buyer.address


def json_order_tuple(order_json: str) -> tuple:
    from chain_service import orders

    return orders.Order.from_message(json.loads(order_json)).as_tuple()


async def test_fulfill_call_data_is_what_the_marketplace_abi_encodes(chain) -> None:
    from chain_service.orders import Order

    order = Order(token=chain.token.address, token_id=7, seller="0x" + "ab" * 20, price=10**18 + 1, counter=3,
                  salt=2**255 + 5, start_time=1_700_000_000, end_time=1_700_086_400)
    signature = bytes(range(65))
    recipient = "0x" + "cd" * 20
    ledger = chain.ledger
    assert ledger.fulfill_data(order, signature, None) == chain.market.encode_abi(
        "fulfill", args=[order.as_tuple(), signature])
    assert ledger.fulfill_data(order, signature, recipient) == chain.market.encode_abi(
        "fulfillFor", args=[order.as_tuple(), signature, chain.network.w3.to_checksum_address(recipient)])
