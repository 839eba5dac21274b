"""Users pay from their own wallets: PrepareTransaction answers the JSON-RPC fields a wallet
signs plus whether `from` can pay; SubmitRawTransaction broadcasts a raw transaction only if
it is exactly the prepared call from the expected wallet (recorded as user-sent); the dev
faucet funds a wallet only on the embedded chain in development/test. On the embedded EVM,
signed with ipheron_libs.wallet as a browser wallet would."""

from __future__ import annotations

import grpc
import pytest
from chain_helpers import mined_receipt
from chain_service import domain
from chain_service.servicer import ChainServicer, prepared_of, prepared_pb
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron_libs.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from ipheron_libs.wallet import Wallet

SINK = "0x000000000000000000000000000000000000dEaD"
OTHER = "0x000000000000000000000000000000000000bEEF"
ETH = 10**18


async def funded_wallet(chain, amount: int = 2 * ETH) -> Wallet:
    wallet = Wallet.create()
    await chain.faucet(wallet.address, str(amount))
    return wallet


async def test_a_funded_wallet_prepares_signs_submits_and_is_mined(chain) -> None:
    wallet = await funded_wallet(chain)
    call = await chain.prepare_transaction(wallet.address, SINK, "0x", str(ETH // 2))
    tx = call.tx
    assert (tx.from_address, tx.to, tx.value, tx.chain_id, tx.nonce) == (wallet.address, SINK, ETH // 2,
                                                                         chain.chain_id, 0)
    assert tx.gas >= 21_000 and tx.max_fee_per_gas >= tx.max_priority_fee_per_gas > 0
    assert call.funds.can_pay and call.funds.balance == 2 * ETH
    assert call.funds.required == ETH // 2 + tx.gas * tx.max_fee_per_gas and call.funds.shortfall == 0
    raw = wallet.sign_transaction(tx.as_json_rpc())
    submitted = await chain.submit_raw_transaction(raw, tx)
    record = submitted.tx.record
    assert not submitted.already_submitted and record.status == domain.PENDING
    # Recorded as the user's transaction, not the platform signer's.
    assert record.from_address == wallet.address != chain.tm.address and record.type == "user_call"
    assert record.details.get("sent_by") == "user" and record.amount_wei == ETH // 2
    # The answer is the row as stored (the INSERT's RETURNING), not the record before it.
    assert record.created_at is not None and record == chain.repo.get_tx(record.tx_hash)
    receipt = await mined_receipt(chain, record.tx_hash)
    assert int(receipt["status"]) == 1
    view = await chain.get_transaction(record.tx_hash)
    assert view.record.status == domain.CONFIRMED and view.record.gas_used == 21_000
    # The wallet paid exactly value + gas used × effective gas price.
    paid = ETH // 2 + view.record.gas_used * (view.record.gas_price_wei or 0)
    assert await chain.ledger.native_balance(wallet.address) == 2 * ETH - paid
    # The same raw transaction again answers the same record and sends nothing.
    again = await chain.submit_raw_transaction(raw, tx)
    assert again.already_submitted and again.tx.record.tx_hash == record.tx_hash


async def test_a_raw_transaction_that_is_not_the_prepared_call_is_refused(chain) -> None:
    wallet = await funded_wallet(chain)
    tx = (await chain.prepare_transaction(wallet.address, SINK, "0x", "1000")).tx
    fields = tx.as_json_rpc()
    cases = [({"to": OTHER}, "goes to"), ({"value": 1001}, "sends 1001 wei"), ({"data": "0x1234"}, "data"),
             ({"chainId": tx.chain_id + 1}, "chain"), ({"nonce": tx.nonce + 1}, "nonce"),
             ({"gas": tx.gas + 1}, "gas"), ({"maxFeePerGas": tx.max_fee_per_gas * 2}, "fees")]
    for change, message in cases:
        with pytest.raises(InvalidArgument, match=message):
            await chain.submit_raw_transaction(wallet.sign_transaction({**fields, **change}), tx)
    # Another wallet signing the very same call is not the expected sender.
    intruder = await funded_wallet(chain)
    with pytest.raises(PermissionDenied, match=f"signed by {intruder.address}"):
        await chain.submit_raw_transaction(intruder.sign_transaction({**fields, "from": intruder.address}), tx)
    with pytest.raises(InvalidArgument, match="raw_transaction"):
        await chain.submit_raw_transaction("0xdeadbeef", tx)
    # Nothing was sent: the prepared nonce is still free.
    assert (await chain.prepare_transaction(wallet.address, SINK, "0x", "1000")).tx.nonce == tx.nonce


async def test_an_unfunded_wallet_is_told_it_cannot_pay(chain) -> None:
    poor = Wallet.create()
    call = await chain.prepare_transaction(poor.address, SINK, "0x", str(5 * ETH))
    assert not call.funds.can_pay and call.funds.balance == 0
    assert call.funds.required == 5 * ETH + call.tx.gas * call.tx.max_fee_per_gas
    assert call.funds.shortfall == call.funds.required and call.gas_estimated_without_funds


async def test_a_call_that_would_revert_is_refused_at_prepare(chain) -> None:
    wallet = await funded_wallet(chain)
    # withdraw() with nothing pending reverts NothingToWithdraw: a typed error, not a prepared tx.
    with pytest.raises(FailedPrecondition, match="nothing to withdraw"):
        await chain.prepare_transaction(wallet.address, chain.market.address,
                                        chain.market.encode_abi("withdraw"), "0")


async def test_the_servicer_maps_prepare_and_submit(chain) -> None:
    servicer = ChainServicer(chain)
    wallet = await funded_wallet(chain)
    context: grpc.aio.ServicerContext = None  # type: ignore[assignment]
    prepared = await servicer.PrepareTransaction(pb.PrepareTransactionRequest(
        from_address=wallet.address, to_address=SINK, value_wei="7"), context)
    assert prepared.can_pay and prepared.transaction.value_wei == "7" and prepared.shortfall_wei == "0"
    assert prepared_pb(prepared_of(prepared.transaction)) == prepared.transaction
    raw = wallet.sign_transaction(prepared_of(prepared.transaction).as_json_rpc())
    reply = await servicer.SubmitRawTransaction(pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=prepared.transaction, type=pb.TRANSACTION_TYPE_USER_CALL), context)
    assert reply.tx_hash == reply.transaction.tx_hash and reply.transaction.from_address == wallet.address
    assert reply.transaction.type == pb.TRANSACTION_TYPE_USER_CALL
    await mined_receipt(chain, reply.tx_hash)


async def test_the_faucet_funds_a_wallet_only_on_the_embedded_development_chain(chain) -> None:
    wallet = Wallet.create()
    view, balance = await chain.faucet(wallet.address, str(3 * ETH))
    assert balance == 3 * ETH and view.record.type == "faucet" and view.record.status == domain.CONFIRMED
    with pytest.raises(InvalidArgument, match="100 ETH"):
        await chain.faucet(wallet.address, str(101 * ETH))
    with pytest.raises(PermissionDenied):
        domain.faucet_decision(True, "production", ETH)
    with pytest.raises(FailedPrecondition, match="embedded"):
        domain.faucet_decision(False, "development", ETH)
    # The embedded chain pre-funds the platform signer.
    assert (await chain.network_status()).signer_balance > 100 * ETH


async def test_the_faucet_refuses_in_production(chain) -> None:
    original = chain.settings
    try:
        chain.settings = original.model_copy(update={"env": "production"})
        with pytest.raises(PermissionDenied, match="production"):
            await chain.faucet(Wallet.create().address, str(ETH))
    finally:
        chain.settings = original
