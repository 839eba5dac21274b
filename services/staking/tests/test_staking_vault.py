"""Staking with real funds: the staking service over gRPC, the real chain service (embedded EVM,
StakingVault), the vault's events through the chain's indexer and Redis, real PostgreSQL.

Every figure is checked in wei against the chain: what a wallet lost, what the vault holds,
what the vault paid, what the service recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import grpc
import pytest
from conftest import (
    ETH,
    TOKEN_ID,
    Chain,
    Replica,
    count,
    hand_in,
    new_staker,
    open_request,
    opened_stake,
    outbox_types,
    stake_in,
)
from eth_account import Account
from eth_account.messages import encode_typed_data
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron_gateway.prepared import tx_out
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_ADDRESS
from ipheron_libs.testing import wait_until_async
from sqlalchemy import Engine
from staking_service import domain


def gas_cost(tx: chain_pb.Transaction) -> int:
    return int(tx.receipt.gas_used) * int(tx.receipt.effective_gas_price_wei)


async def test_a_wallet_without_ether_gets_the_figures_and_nothing_is_recorded(
        staking: Replica, clean_engine: Engine) -> None:
    broke = new_staker()
    r = await staking.stub.OpenStake(open_request(broke, amount="1"))
    assert not r.HasField("stake") and r.HasField("insufficient_funds")
    short = r.insufficient_funds
    assert int(short.available_wei) == 0
    assert int(short.required_wei) > ETH and int(short.shortfall_wei) == int(short.required_wei)
    assert count(clean_engine, "SELECT count(*) FROM stakes") == 0
    assert count(clean_engine, "SELECT count(*) FROM idempotency_keys WHERE response IS NOT NULL") == 0
    listed = await staking.stub.ListStakes(pb.ListStakesRequest(user_id=broke.user_id, wallet=broke.address))
    assert listed.page_info.total == 0


async def test_a_funded_stake_moves_exactly_the_principal_into_the_vault_and_opens_with_its_figures(
        staking: Replica, chain: Chain, clean_engine: Engine) -> None:
    s = new_staker()
    await chain.fund(s.address, 5)
    before_wallet, before_vault = await chain.balance(s.address), int((await chain.vault()).balance_wei)
    opened = await staking.stub.OpenStake(open_request(s, amount="1.5", days=90, key="fund-1"))
    stake = opened.stake
    assert stake.status == pb.STAKE_STATUS_PENDING and stake.wallet == s.address
    assert stake.transaction.to and int(stake.transaction.value_wei) == 3 * ETH // 2
    sq = opened.signed_quote
    assert sq.quote_signer == DEV_QUOTE_SIGNER_ADDRESS and sq.apr_bps == 500 and sq.token_id == TOKEN_ID
    assert sq.duration_seconds == 90 * 86_400 and sq.amount_wei == str(3 * ETH // 2)
    assert int(sq.reservation_wei) == domain.reservation_wei(3 * ETH // 2, 500, 90 * 86_400)
    # The quote hash is the EIP-712 digest of the typed data, signed by the quote key.
    typed = json.loads(sq.typed_data_json)
    signable = encode_typed_data(full_message=typed)
    assert Account.recover_message(signable, signature=sq.signature) == DEV_QUOTE_SIGNER_ADDRESS
    assert json.loads(sq.quote_json)["nonce"] == str(domain.nonce_of(stake.id))

    sent = await hand_in(staking.stub, s, stake.id, stake.transaction)
    tx = await chain.receipt(sent.tx_hash)
    assert tx.status == chain_pb.TRANSACTION_STATUS_CONFIRMED
    active = await stake_in(staking.stub, stake.id, pb.STAKE_STATUS_ACTIVE)
    assert await chain.balance(s.address) == before_wallet - 3 * ETH // 2 - gas_cost(tx)
    assert int((await chain.vault()).balance_wei) == before_vault + 3 * ETH // 2
    on_chain = (await chain.stub.GetVaultStake(chain_pb.GetVaultStakeRequest(stake_id=active.vault_stake_id))).stake
    assert active.reward_wei == on_chain.reward_wei == sq.reservation_wei
    assert active.amount_wei == on_chain.amount_wei and active.apr_bps == on_chain.apr_bps == 500
    assert active.start_time == on_chain.start_time and active.end_time == on_chain.end_time
    assert active.tx_hash == sent.tx_hash and active.quote_hash == sq.quote_hash and active.origin == "api"
    assert active.claimed_wei == "0" and not active.HasField("transaction")
    await wait_until_async(lambda: "stake.opened" in outbox_types(clean_engine), 5)
    # Handing the same transaction in again sends nothing.
    again = await hand_in(staking.stub, s, stake.id, stake.transaction)
    assert again.already_submitted and again.tx_hash == sent.tx_hash


async def test_an_open_replayed_with_its_key_answers_the_same_stake_and_quote(staking: Replica, chain: Chain) -> None:
    s = new_staker()
    await chain.fund(s.address, 3)
    first = await staking.stub.OpenStake(open_request(s, amount="1", key="replay-1"))
    again = await staking.stub.OpenStake(open_request(s, amount="1.000", key="replay-1"))
    assert not first.replayed and again.replayed
    assert again.stake.id == first.stake.id and again.signed_quote == first.signed_quote
    assert again.stake.transaction == first.stake.transaction
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await staking.stub.OpenStake(open_request(s, amount="2", key="replay-1"))
    assert exc.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_concurrent_opens_with_one_key_store_exactly_one_stake(
        staking: Replica, chain: Chain, clean_engine: Engine) -> None:
    s = new_staker()
    await chain.fund(s.address, 3)
    answers = await asyncio.gather(*(staking.stub.OpenStake(open_request(s, key="race")) for _ in range(4)))
    assert len({a.stake.id for a in answers}) == 1
    assert count(clean_engine, "SELECT count(*) FROM stakes") == 1


async def test_pool_exhaustion_names_the_capacity_and_funding_the_vault_reopens_it(
        staking: Replica, chain: Chain, clean_engine: Engine) -> None:
    s = new_staker()  # the pool is judged before the wallet: this one holds nothing
    free = int((await chain.vault()).pool_free_wei)
    # 365 days at 10.5 %: a reservation of 10.5 % of the amount; pick one just above the pool.
    amount_wei = (free * 10_000 // 1050 // ETH + 1) * ETH
    amount = str(amount_wei // ETH)
    r = await staking.stub.OpenStake(open_request(s, amount=amount, days=365, key="pool-1"))
    assert not r.HasField("stake") and r.HasField("pool_capacity")
    reservation = domain.reservation_wei(amount_wei, domain.apr_bps_of(domain.apr_for(
        domain.parse_amount(amount), 365)[0]), 365 * 86_400)
    assert int(r.pool_capacity.reservation_wei) == reservation > int(r.pool_capacity.pool_free_wei) == free
    assert count(clean_engine, "SELECT count(*) FROM stakes") == 0
    funded = await chain.stub.FundVault(chain_pb.FundVaultRequest(amount_wei=str(reservation - free),
                                                                  idempotency_key=f"reopen-{s.user_id}"))
    assert int(funded.vault.pool_free_wei) == reservation
    # The pool covers it now; the (empty) wallet is what stops it.
    ok = await staking.stub.OpenStake(open_request(s, amount=amount, days=365, key="pool-1"))
    assert not ok.HasField("pool_capacity") and ok.HasField("insufficient_funds")
    assert int(ok.insufficient_funds.required_wei) > amount_wei


async def test_claim_pays_exactly_the_preview_and_the_record_follows_the_vault(
        staking: Replica, chain: Chain, clean_engine: Engine) -> None:
    s = new_staker()
    await chain.fund(s.address, 30)
    active = await opened_stake(staking.stub, chain, s, amount="5", days=365)
    chain.travel(86_400)  # a day of accrual on the vault
    claim = await staking.stub.ClaimRewards(pb.ClaimRewardsRequest(stake_id=active.id, user_id=s.user_id,
                                                                   wallet=s.address, idempotency_key="c-1"))
    preview = int(claim.claimed_wei)
    assert preview > 0 and claim.HasField("transaction") and not claim.replayed
    again = await staking.stub.ClaimRewards(pb.ClaimRewardsRequest(stake_id=active.id, user_id=s.user_id,
                                                                   wallet=s.address, idempotency_key="c-1"))
    assert again.replayed and again.transaction == claim.transaction and again.claimed_wei == claim.claimed_wei
    # Nothing changes in the stake's figures until the vault's event arrives.
    assert (await staking.stub.GetStake(pb.GetStakeRequest(stake_id=active.id))).stake.claimed_wei == "0"
    before = await chain.balance(s.address)
    sent = await hand_in(staking.stub, s, active.id, claim.transaction, pb.STAKE_TRANSACTION_KIND_CLAIM)
    tx = await chain.receipt(sent.tx_hash)
    assert tx.status == chain_pb.TRANSACTION_STATUS_CONFIRMED
    start, end = active.start_time.seconds, active.end_time.seconds
    paid = domain.accrued_wei(int(active.reward_wei), start, end, tx.block_time.seconds)
    assert await chain.balance(s.address) == before + paid - gas_cost(tx)
    # The preview was computed at the head's time; the claim mined a block later pays that
    # block's accrual exactly (the same rule).
    assert paid >= preview and paid == domain.accrued_wei(int(active.reward_wei), start, end,
                                                          tx.block_time.seconds)

    async def recorded() -> bool:
        st = (await staking.stub.GetStake(pb.GetStakeRequest(stake_id=active.id))).stake
        return st.claimed_wei == str(paid)

    await wait_until_async(recorded, 20, message="the claim was not recorded from the vault's event")
    await wait_until_async(lambda: "stake.claimed" in outbox_types(clean_engine), 5)


async def test_concurrent_claims_never_pay_twice(staking: Replica, chain: Chain) -> None:
    s = new_staker()
    await chain.fund(s.address, 30)
    active = await opened_stake(staking.stub, chain, s, amount="5", days=365)
    chain.travel(3600)
    claims = await asyncio.gather(*(staking.stub.ClaimRewards(pb.ClaimRewardsRequest(
        stake_id=active.id, user_id=s.user_id, wallet=s.address)) for _ in range(3)))
    # The latest preparation wins; every one is the same call (same nonce), so at most one is mined.
    raws = {s.wallet.sign_transaction(tx_out(c.transaction)) for c in claims}
    sent = []
    for raw in raws:
        try:
            sent.append(await staking.stub.SubmitStakeTransaction(pb.SubmitStakeTransactionRequest(
                stake_id=active.id, user_id=s.user_id, wallet=s.address, kind=pb.STAKE_TRANSACTION_KIND_CLAIM,
                raw_transaction=raw)))
        except grpc.aio.AioRpcError:
            pass
    assert sent
    await chain.receipt(sent[0].tx_hash)
    on_chain = (await chain.stub.GetVaultStake(chain_pb.GetVaultStakeRequest(stake_id=active.vault_stake_id))).stake

    async def recorded() -> pb.Stake | None:
        st = (await staking.stub.GetStake(pb.GetStakeRequest(stake_id=active.id))).stake
        return st if st.claimed_wei == on_chain.claimed_wei else None

    await wait_until_async(recorded, 20)
    assert int(on_chain.claimed_wei) <= int(on_chain.accrued_wei)


async def test_early_unstake_pays_principal_plus_accrued_less_the_penalty_which_returns_to_the_pool(
        staking: Replica, chain: Chain, clean_engine: Engine) -> None:
    s = new_staker()
    await chain.fund(s.address, 30)
    active = await opened_stake(staking.stub, chain, s, amount="10", days=90)
    chain.travel(10 * 86_400)
    out = await staking.stub.Unstake(pb.UnstakeRequest(stake_id=active.id, user_id=s.user_id, wallet=s.address))
    assert out.early and int(out.penalty_wei) == 10 * ETH * 1000 // 10_000
    vault_before = await chain.vault()
    before = await chain.balance(s.address)
    sent = await hand_in(staking.stub, s, active.id, out.transaction, pb.STAKE_TRANSACTION_KIND_UNSTAKE)
    tx = await chain.receipt(sent.tx_hash)
    reward, start, end = int(active.reward_wei), active.start_time.seconds, active.end_time.seconds
    accrued = domain.accrued_wei(reward, start, end, tx.block_time.seconds)
    penalty = 10 * ETH // 10
    payout = 10 * ETH + accrued - penalty
    assert await chain.balance(s.address) == before + payout - gas_cost(tx)
    vault_after = await chain.vault()
    # The penalty and the unearned reservation go back to the free pool.
    assert int(vault_after.pool_free_wei) == int(vault_before.pool_free_wei) + penalty + (reward - accrued)
    closed = await stake_in(staking.stub, active.id, pb.STAKE_STATUS_CLOSED)
    assert closed.payout == domain.money_str(domain.from_wei(payout))
    assert closed.penalty == "1"
    await wait_until_async(lambda: "stake.closed" in outbox_types(clean_engine), 5)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await staking.stub.Unstake(pb.UnstakeRequest(stake_id=active.id, user_id=s.user_id, wallet=s.address))
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "closed" in exc.value.details()


async def test_unstake_after_the_end_pays_principal_and_the_whole_reservation(
        start_staking: Callable[..., Awaitable[Replica]], chain: Chain, clean_engine: Engine) -> None:
    from conftest import Clock

    clock = Clock(None, chain.head_time)
    staking = await start_staking(clock=clock, maturity_interval_seconds=0.05)
    s = new_staker()
    await chain.fund(s.address, 5)
    active = await opened_stake(staking.stub, chain, s, amount="2", days=30)
    chain.travel(31 * 86_400)
    await stake_in(staking.stub, active.id, pb.STAKE_STATUS_MATURED)
    await wait_until_async(lambda: "stake.matured" in outbox_types(clean_engine), 5)
    out = await staking.stub.Unstake(pb.UnstakeRequest(stake_id=active.id, user_id=s.user_id, wallet=s.address))
    assert not out.early and out.penalty_wei == "0"
    assert int(out.payout_wei) == 2 * ETH + int(active.reward_wei)
    before = await chain.balance(s.address)
    sent = await hand_in(staking.stub, s, active.id, out.transaction, pb.STAKE_TRANSACTION_KIND_UNSTAKE)
    tx = await chain.receipt(sent.tx_hash)
    assert await chain.balance(s.address) == before + int(out.payout_wei) - gas_cost(tx)
    closed = await stake_in(staking.stub, active.id, pb.STAKE_STATUS_CLOSED)
    assert closed.payout == domain.money_str(domain.from_wei(int(out.payout_wei)))
    assert outbox_types(clean_engine).count("stake.matured") == 1


async def test_a_stake_broadcast_by_the_wallet_itself_is_handed_in_by_its_hash(staking: Replica,
                                                                              chain: Chain) -> None:
    s = new_staker()
    await chain.fund(s.address, 3)
    stake = (await staking.stub.OpenStake(open_request(s))).stake
    raw = s.wallet.sign_transaction(tx_out(stake.transaction))
    # The wallet's own node broadcasts it (here: the embedded chain's raw submission).
    own = await chain.stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=stake.transaction, type=chain_pb.TRANSACTION_TYPE_STAKE))
    handed = await staking.stub.SubmitStakeTransaction(pb.SubmitStakeTransactionRequest(
        stake_id=stake.id, user_id=s.user_id, wallet=s.address, kind=pb.STAKE_TRANSACTION_KIND_OPEN,
        tx_hash=own.tx_hash))
    assert handed.tx_hash == own.tx_hash.lower()
    active = await stake_in(staking.stub, stake.id, pb.STAKE_STATUS_ACTIVE)
    assert active.tx_hash == own.tx_hash.lower()
