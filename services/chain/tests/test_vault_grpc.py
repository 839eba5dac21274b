"""The vault RPCs over a real gRPC channel (server on port 0, the session's embedded chain):
GetVault; PrepareStake answered with the reservation, the pool's free figure and can_pay (a
pool that cannot cover and a wallet that cannot pay are answered, not failed), refused with
FAILED_PRECONDITION for a used, expired or forged quote, PERMISSION_DENIED for another
staker, INVALID_ARGUMENT for a malformed one; the staker's signed stake handed in through
SubmitRawTransaction (type STAKE) and an unstake it broadcast itself recorded through
TrackTransaction (type UNSTAKE); PrepareStakeAction's previews and refusals; GetVaultStake;
FundVault idempotent per key; PrepareFundVault for a wallet's own ether."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from chain_helpers import mined_receipt
from chain_service import vault
from chain_service.server import FULL_NAME
from chain_service.servicer import ChainServicer
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron_libs import grpc_client, grpc_server
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_ADDRESS
from vault_helpers import DAY, ETH, funded_wallet, sign_quote

OTHER_KEY = "0x" + "00" * 31 + "2b"


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


async def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code(), err.value.details() or ""


async def test_get_vault_answers_the_domain_signer_penalty_and_pool(stub, chain) -> None:
    v = await stub.GetVault(pb.GetVaultRequest())
    assert (v.address, v.chain_id, v.domain_name, v.domain_version) == (
        chain.vault.address, chain.chain_id, "IPheronStakingVault", "1")
    assert v.quote_signer == DEV_QUOTE_SIGNER_ADDRESS and v.early_exit_penalty_bps == 1000
    assert int(v.balance_wei) == int(v.total_principal_wei) + int(v.pool_free_wei) + int(v.pool_reserved_wei)
    assert v.block_number > 0


async def test_stake_submitted_then_unstake_tracked_over_grpc(stub, chain) -> None:
    wallet = await funded_wallet(chain)
    quote, quote_json, signature = sign_quote(chain, wallet.address, 2 * ETH, 1500, 60 * DAY)
    prepared = await stub.PrepareStake(pb.PrepareStakeRequest(quote_json=quote_json, signature=signature,
                                                              staker=wallet.address.lower()))
    assert prepared.pool_can_cover and prepared.prepared.can_pay
    assert prepared.reservation_wei == str(vault.reservation(2 * ETH, 1500, 60 * DAY))
    assert prepared.quote_hash == "0x" + vault.quote_hash(quote, chain.chain_id, chain.vault.address).hex()
    tx = prepared.prepared.transaction
    assert (tx.to, tx.value_wei, tx.from_address) == (chain.vault.address, str(2 * ETH), wallet.address)
    raw = wallet.sign_transaction({"from": tx.from_address, "to": tx.to, "data": tx.data, "value": tx.value_wei,
                                   "chainId": tx.chain_id, "gas": tx.gas, "maxFeePerGas": tx.max_fee_per_gas_wei,
                                   "maxPriorityFeePerGas": tx.max_priority_fee_per_gas_wei, "nonce": tx.nonce})
    sent = await stub.SubmitRawTransaction(pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=tx, type=pb.TRANSACTION_TYPE_STAKE))
    assert sent.transaction.type == pb.TRANSACTION_TYPE_STAKE and not sent.already_submitted
    await mined_receipt(chain, sent.tx_hash)
    got = await stub.GetTransaction(pb.GetTransactionRequest(tx_hash=sent.tx_hash))
    assert got.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED
    opened = next(e for e in got.transaction.receipt.events if e.name == "StakeOpened")
    args = json.loads(opened.args_json)
    stake_id = int(args["stakeId"])
    assert args["amount"] == str(2 * ETH) and opened.contract_address == chain.vault.address
    stake = (await stub.GetVaultStake(pb.GetVaultStakeRequest(stake_id=stake_id))).stake
    assert (stake.staker, stake.amount_wei, stake.apr_bps, stake.closed) == (wallet.address, str(2 * ETH), 1500, False)
    assert stake.reward_wei == prepared.reservation_wei and stake.quote_nonce == str(quote.nonce)
    assert stake.quote_hash == prepared.quote_hash
    assert stake.end_time.seconds - stake.start_time.seconds == 60 * DAY
    # The same quote again: FAILED_PRECONDITION before any wallet signs.
    code, details = await code_of(stub.PrepareStake(pb.PrepareStakeRequest(
        quote_json=quote_json, signature=signature, staker=wallet.address)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "already used" in details

    # Unstake previewed at the head's time, broadcast by the wallet itself, then tracked.
    action = await stub.PrepareStakeAction(pb.PrepareStakeActionRequest(
        stake_id=stake_id, staker=wallet.address, action=pb.STAKE_ACTION_UNSTAKE))
    assert action.early and action.penalty_wei == str(2 * ETH // 10)
    assert int(action.payout_wei) == 2 * ETH - 2 * ETH // 10 + int(action.stake.accrued_wei)
    utx = action.prepared.transaction
    raw = wallet.sign_transaction({"from": utx.from_address, "to": utx.to, "data": utx.data, "value": 0,
                                   "chainId": utx.chain_id, "gas": utx.gas, "maxFeePerGas": utx.max_fee_per_gas_wei,
                                   "maxPriorityFeePerGas": utx.max_priority_fee_per_gas_wei, "nonce": utx.nonce})
    tx_hash = "0x" + bytes(await chain.network.run(chain.network.w3.eth.send_raw_transaction, raw)).hex()
    await mined_receipt(chain, tx_hash)
    tracked = await stub.TrackTransaction(pb.TrackTransactionRequest(tx_hash=tx_hash, expected=utx,
                                                                     type=pb.TRANSACTION_TYPE_UNSTAKE))
    assert tracked.transaction.type == pb.TRANSACTION_TYPE_UNSTAKE
    assert tracked.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED
    closed = next(e for e in tracked.transaction.receipt.events if e.name == "Unstaked")
    assert int(json.loads(closed.args_json)["paid"]) >= int(action.payout_wei)
    code, _ = await code_of(stub.PrepareStakeAction(pb.PrepareStakeActionRequest(
        stake_id=stake_id, staker=wallet.address, action=pb.STAKE_ACTION_CLAIM)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


async def test_prepare_stake_answers_what_cannot_be_paid_or_covered(stub, chain) -> None:
    poor = await funded_wallet(chain, 10**15)
    _, quote_json, signature = sign_quote(chain, poor.address, ETH)
    answer = await stub.PrepareStake(pb.PrepareStakeRequest(quote_json=quote_json, signature=signature,
                                                            staker=poor.address))
    assert not answer.prepared.can_pay and int(answer.prepared.shortfall_wei) > ETH - 10**15
    v = await stub.GetVault(pb.GetVaultRequest())
    rich = await funded_wallet(chain, 30 * ETH)
    _, quote_json, signature = sign_quote(chain, rich.address, 25 * ETH, 1_000_000, 365 * DAY)
    answer = await stub.PrepareStake(pb.PrepareStakeRequest(quote_json=quote_json, signature=signature,
                                                            staker=rich.address))
    assert not answer.pool_can_cover and answer.pool_free_wei == v.pool_free_wei
    assert int(answer.reservation_wei) == vault.reservation(25 * ETH, 1_000_000, 365 * DAY) > int(v.pool_free_wei)


@pytest.mark.parametrize("case", ["forged", "expired", "other_staker", "malformed_json", "zero_amount",
                                  "bad_signature", "bad_staker"])
async def test_prepare_stake_refusals_have_clear_statuses(stub, chain, case: str) -> None:
    wallet = await funded_wallet(chain, ETH)
    kwargs = {}
    if case == "forged":
        kwargs["key"] = OTHER_KEY
    if case == "expired":
        kwargs["expiry"] = int(time.time()) - 5
    _, quote_json, signature = sign_quote(chain, wallet.address, ETH // 4, **kwargs)
    staker = wallet.address
    expected = grpc.StatusCode.FAILED_PRECONDITION
    if case == "other_staker":
        staker, expected = (await funded_wallet(chain, ETH)).address, grpc.StatusCode.PERMISSION_DENIED
    elif case == "malformed_json":
        quote_json, expected = quote_json[:-1], grpc.StatusCode.INVALID_ARGUMENT
    elif case == "zero_amount":
        quote_json, expected = json.dumps({**json.loads(quote_json), "amount": "0"}), grpc.StatusCode.INVALID_ARGUMENT
    elif case == "bad_signature":
        signature, expected = "0xzz", grpc.StatusCode.INVALID_ARGUMENT
    elif case == "bad_staker":
        staker, expected = "0x1234", grpc.StatusCode.INVALID_ARGUMENT
    code, details = await code_of(stub.PrepareStake(pb.PrepareStakeRequest(quote_json=quote_json,
                                                                           signature=signature, staker=staker)))
    assert code == expected and details
    if case == "forged":
        assert "quote signer" in details
    if case == "expired":
        assert "expired" in details


async def test_prepare_stake_action_refusals_and_claim_preview(stub, chain) -> None:
    from vault_helpers import stake_as

    wallet = await funded_wallet(chain)
    stake_id, _ = await stake_as(chain, wallet, ETH, 3000, 10 * DAY)
    other = await funded_wallet(chain, ETH)
    cases = [
        (pb.PrepareStakeActionRequest(stake_id=10**12, staker=wallet.address, action=pb.STAKE_ACTION_CLAIM),
         grpc.StatusCode.NOT_FOUND),
        (pb.PrepareStakeActionRequest(stake_id=stake_id, staker=other.address, action=pb.STAKE_ACTION_UNSTAKE),
         grpc.StatusCode.PERMISSION_DENIED),
        (pb.PrepareStakeActionRequest(stake_id=stake_id, staker=wallet.address), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.PrepareStakeActionRequest(stake_id=0, staker=wallet.address, action=pb.STAKE_ACTION_CLAIM),
         grpc.StatusCode.INVALID_ARGUMENT),
        (pb.PrepareStakeActionRequest(stake_id=stake_id, staker="nope", action=pb.STAKE_ACTION_CLAIM),
         grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for request, expected in cases:
        code, details = await code_of(stub.PrepareStakeAction(request))
        assert code == expected and details, request
    code, _ = await code_of(stub.GetVaultStake(pb.GetVaultStakeRequest(stake_id=10**12)))
    assert code == grpc.StatusCode.NOT_FOUND
    # The head moves on (a faucet payment seals a block): the claim preview is what accrued by then.
    await chain.faucet(other.address, "1")
    stake = (await stub.GetVaultStake(pb.GetVaultStakeRequest(stake_id=stake_id))).stake
    assert int(stake.accrued_wei) > 0
    action = await stub.PrepareStakeAction(pb.PrepareStakeActionRequest(
        stake_id=stake_id, staker=wallet.address, action=pb.STAKE_ACTION_CLAIM))
    assert int(action.payout_wei) == int(action.stake.accrued_wei) - int(action.stake.claimed_wei) > 0
    assert not action.early and action.penalty_wei == "0"


async def test_fund_vault_is_idempotent_and_prepare_fund_vault_is_the_wallets(stub, chain) -> None:
    key = f"grpc-fund-{time.time_ns()}"
    first = await stub.FundVault(pb.FundVaultRequest(amount_wei=str(2 * ETH), idempotency_key=key))
    assert first.transaction.type == pb.TRANSACTION_TYPE_VAULT_FUND
    assert first.transaction.status == pb.TRANSACTION_STATUS_CONFIRMED
    again = await stub.FundVault(pb.FundVaultRequest(amount_wei=str(2 * ETH), idempotency_key=key))
    assert again.transaction.tx_hash == first.transaction.tx_hash
    assert again.vault.pool_free_wei == first.vault.pool_free_wei
    code, _ = await code_of(stub.FundVault(pb.FundVaultRequest(amount_wei=str(ETH), idempotency_key=key)))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    for amount, k in (("0", "a"), ("1e18", "b"), ("", "c"), ("5", "")):
        code, _ = await code_of(stub.FundVault(pb.FundVaultRequest(amount_wei=amount, idempotency_key=k)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
    wallet = await funded_wallet(chain, 2 * ETH)
    prepared = await stub.PrepareFundVault(pb.PrepareFundVaultRequest(funder=wallet.address, amount_wei=str(ETH)))
    tx = prepared.prepared.transaction
    assert tx.to == chain.vault.address and tx.value_wei == str(ETH) and prepared.prepared.can_pay
    raw = wallet.sign_transaction({"from": tx.from_address, "to": tx.to, "data": tx.data, "value": tx.value_wei,
                                   "chainId": tx.chain_id, "gas": tx.gas, "maxFeePerGas": tx.max_fee_per_gas_wei,
                                   "maxPriorityFeePerGas": tx.max_priority_fee_per_gas_wei, "nonce": tx.nonce})
    sent = await stub.SubmitRawTransaction(pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=tx, type=pb.TRANSACTION_TYPE_VAULT_FUND))
    receipt = await mined_receipt(chain, sent.tx_hash)
    assert int(receipt["status"]) == 1
    code, _ = await code_of(stub.PrepareFundVault(pb.PrepareFundVaultRequest(funder=wallet.address, amount_wei="0")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
