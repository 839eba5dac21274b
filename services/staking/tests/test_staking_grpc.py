"""StakingService over a real gRPC channel (port 0) on a real PostgreSQL, with the real chain
service: quotes, bad requests, ownership, the asset checks, lists, refused quotes, failed
stakes, stakes opened on the vault directly, and the maturity sweep across replicas."""

from __future__ import annotations

import asyncio
import json
import uuid
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
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.common.v1 import common_pb2
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron_gateway.prepared import tx_out
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_ADDRESS
from ipheron_libs.errors import FIELD_METADATA_KEY
from ipheron_libs.testing import wait_until_async
from sqlalchemy import Engine
from staking_service.server import FULL_NAME


def _field(err: grpc.aio.AioRpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get(FIELD_METADATA_KEY)


async def _refused(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    return exc.value


async def test_the_server_serves_quotes_with_explained_apr_and_a_signed_quote_for_a_wallet(
        staking: Replica) -> None:
    health = await health_pb2_grpc.HealthStub(staking.channel).Check(health_pb2.HealthCheckRequest(service=FULL_NAME))
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    q = await staking.stub.GetQuote(pb.GetQuoteRequest(asset_id="asset-1", amount="2000", duration_days=365))
    assert q.apr == "10.5" and q.expected_rewards == "210"
    assert [c.rule for c in q.apr_components] == ["base_tier", "long_lock_bonus", "size_bonus", "cap"]
    assert list(q.allowed_durations) == [30, 90, 180, 365] and q.early_unstake_penalty_rate == "10"
    assert not q.HasField("signed_quote")
    staker = new_staker()
    signed = await staking.stub.GetQuote(pb.GetQuoteRequest(asset_id="asset-1", amount="2000", duration_days=365,
                                                            staker=staker.address))
    sq = signed.signed_quote
    assert sq.apr_bps == 1050 and sq.amount_wei == str(2000 * ETH) and sq.reservation_wei == str(210 * ETH)
    assert sq.quote_signer == DEV_QUOTE_SIGNER_ADDRESS and sq.token_id == TOKEN_ID
    assert json.loads(sq.quote_json)["staker"].lower() == staker.address
    assert sq.vault_address == (await staking.app.service.chain.vault()).address  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"duration_days": 45}, "duration_days"),
        ({"asset_id": ""}, "asset_id"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"wallet": ""}, "wallet"),
        ({"wallet": "0x1234"}, "wallet"),
        ({"user_id": ""}, "user_id"),
    ],
)
async def test_bad_open_requests_are_invalid_arguments_naming_the_field(
        staking: Replica, clean_engine: Engine, change: dict[str, object], field: str) -> None:
    req = open_request(new_staker())
    for k, v in change.items():
        setattr(req, k, v)
    err = await _refused(staking.stub.OpenStake(req))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(err) == field
    assert count(clean_engine, "SELECT count(*) FROM stakes") == 0


@pytest.mark.parametrize(
    ("asset", "code", "words"),
    [
        ("missing-1", grpc.StatusCode.INVALID_ARGUMENT, "does not exist"),
        ("gone-1", grpc.StatusCode.FAILED_PRECONDITION, "archived"),
        ("unminted-1", grpc.StatusCode.FAILED_PRECONDITION, "not minted"),
        ("broken-1", grpc.StatusCode.INTERNAL, ""),
    ],
)
async def test_stakes_open_only_on_active_minted_assets(staking: Replica, clean_engine: Engine, asset: str,
                                                        code: grpc.StatusCode, words: str) -> None:
    err = await _refused(staking.stub.OpenStake(open_request(new_staker(), asset=asset)))
    assert err.code() == code and words in (err.details() or "")
    assert "psycopg" not in (err.details() or "")  # a callee's bug stays inside
    assert count(clean_engine, "SELECT count(*) FROM stakes") == 0


async def test_an_unreachable_assets_service_is_unavailable_and_nothing_is_stored(
        start_staking: Callable[..., Awaitable[Replica]], clean_engine: Engine) -> None:
    r = await start_staking(assets_addr="127.0.0.1:9", call_timeout=0.5)
    err = await _refused(r.stub.OpenStake(open_request(new_staker())))
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert count(clean_engine, "SELECT count(*) FROM stakes") == 0


async def test_only_the_owner_may_see_claim_unstake_or_hand_in(staking: Replica, chain: Chain) -> None:
    alice, bob = new_staker(), new_staker()
    await chain.fund(alice.address, 3)
    stake = (await staking.stub.OpenStake(open_request(alice))).stake
    err = await _refused(staking.stub.GetStake(pb.GetStakeRequest(stake_id=stake.id, user_id=bob.user_id)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    bobs = {**tx_out(stake.transaction), "from": bob.wallet.address}
    for call in (
        staking.stub.ClaimRewards(pb.ClaimRewardsRequest(stake_id=stake.id, user_id=bob.user_id, wallet=bob.address)),
        staking.stub.Unstake(pb.UnstakeRequest(stake_id=stake.id, user_id=bob.user_id, wallet=bob.address)),
        staking.stub.SubmitStakeTransaction(pb.SubmitStakeTransactionRequest(
            stake_id=stake.id, user_id=bob.user_id, wallet=bob.address, kind=pb.STAKE_TRANSACTION_KIND_OPEN,
            raw_transaction=bob.wallet.sign_transaction(bobs))),
    ):
        assert (await _refused(call)).code() == grpc.StatusCode.NOT_FOUND
    # Its owner signed in with another wallet may not act on it either.
    err = await _refused(staking.stub.ClaimRewards(pb.ClaimRewardsRequest(
        stake_id=stake.id, user_id=alice.user_id, wallet=bob.address)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    # A pending stake has nothing to claim yet.
    err = await _refused(staking.stub.ClaimRewards(pb.ClaimRewardsRequest(
        stake_id=stake.id, user_id=alice.user_id, wallet=alice.address)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "not open on the vault" in err.details()
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        assert (await _refused(staking.stub.GetStake(pb.GetStakeRequest(stake_id=bad)))).code() == \
            grpc.StatusCode.NOT_FOUND


async def test_a_transaction_for_another_call_or_from_another_wallet_is_refused(staking: Replica,
                                                                                chain: Chain) -> None:
    alice = new_staker()
    await chain.fund(alice.address, 3)
    stake = (await staking.stub.OpenStake(open_request(alice))).stake
    other = pb.SubmitStakeTransactionRequest(stake_id=stake.id, user_id=alice.user_id, wallet=alice.address,
                                             kind=pb.STAKE_TRANSACTION_KIND_OPEN)
    tampered = tx_out(stake.transaction)
    tampered["value"] = tampered["value"] - 1
    other.raw_transaction = alice.wallet.sign_transaction(tampered)
    assert (await _refused(staking.stub.SubmitStakeTransaction(other))).code() == grpc.StatusCode.INVALID_ARGUMENT
    both = pb.SubmitStakeTransactionRequest(stake_id=stake.id, user_id=alice.user_id, wallet=alice.address,
                                            kind=pb.STAKE_TRANSACTION_KIND_OPEN, raw_transaction="0x01",
                                            tx_hash="0x" + "00" * 32)
    assert (await _refused(staking.stub.SubmitStakeTransaction(both))).code() == grpc.StatusCode.INVALID_ARGUMENT
    nothing = pb.SubmitStakeTransactionRequest(stake_id=stake.id, user_id=alice.user_id, wallet=alice.address,
                                               kind=pb.STAKE_TRANSACTION_KIND_CLAIM, tx_hash="0x" + "00" * 32)
    assert (await _refused(staking.stub.SubmitStakeTransaction(nothing))).code() == \
        grpc.StatusCode.FAILED_PRECONDITION


async def test_a_quote_signed_by_another_key_is_refused_and_nothing_is_stored(
        start_staking: Callable[..., Awaitable[Replica]], chain: Chain, clean_engine: Engine) -> None:
    forger = await start_staking(quote_signer_key="0x" + "11" * 32)
    s = new_staker()
    await chain.fund(s.address, 3)
    err = await _refused(forger.stub.OpenStake(open_request(s)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert count(clean_engine, "SELECT count(*) FROM stakes") == 0


async def test_a_used_quote_cannot_be_staked_again(staking: Replica, chain: Chain) -> None:
    s = new_staker()
    await chain.fund(s.address, 5)
    opened = await staking.stub.OpenStake(open_request(s))
    sent = await hand_in(staking.stub, s, opened.stake.id, opened.stake.transaction)
    await chain.receipt(sent.tx_hash)
    await stake_in(staking.stub, opened.stake.id, pb.STAKE_STATUS_ACTIVE)
    err = await _refused(chain.stub.PrepareStake(chain_pb.PrepareStakeRequest(
        quote_json=opened.signed_quote.quote_json, signature=opened.signed_quote.signature, staker=s.address)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_quote_that_lapses_unpaid_fails_the_stake_and_cannot_be_handed_in(
        start_staking: Callable[..., Awaitable[Replica]], chain: Chain) -> None:
    r = await start_staking(quote_ttl_s=1)
    s = new_staker()
    await chain.fund(s.address, 3)
    stake = (await r.stub.OpenStake(open_request(s))).stake
    failed = await stake_in(r.stub, stake.id, pb.STAKE_STATUS_FAILED, timeout=15)
    assert failed.failure_reason == "the quote expired"
    err = await _refused(hand_in(r.stub, s, stake.id, stake.transaction))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_stake_whose_transaction_reverts_fails_with_the_reason(staking: Replica, chain: Chain) -> None:
    a, b = new_staker(), new_staker()
    free = int((await chain.vault()).pool_free_wei)
    # Two stakes that each fit the pool, not both: the second one's stake() reverts on chain.
    amount = (free * 6 // 10) * 10_000 // 1050 // ETH * ETH
    for s in (a, b):
        for _ in range(amount // (100 * ETH) + 1):
            await chain.fund(s.address, 100)
    first = (await staking.stub.OpenStake(open_request(a, amount=str(amount // ETH), days=365))).stake
    second = (await staking.stub.OpenStake(open_request(b, amount=str(amount // ETH), days=365))).stake
    await chain.receipt((await hand_in(staking.stub, a, first.id, first.transaction)).tx_hash)
    await chain.receipt((await hand_in(staking.stub, b, second.id, second.transaction)).tx_hash)
    await stake_in(staking.stub, first.id, pb.STAKE_STATUS_ACTIVE)
    failed = await stake_in(staking.stub, second.id, pb.STAKE_STATUS_FAILED)
    assert "reverted" in failed.failure_reason and "PoolInsufficient" in failed.failure_reason
    # The pool is topped up again for the other tests.
    await chain.stub.FundVault(chain_pb.FundVaultRequest(amount_wei=first.reward_wei,
                                                         idempotency_key=f"refill-{first.id}"))


async def test_a_stake_opened_on_the_vault_directly_is_recorded_for_the_wallets_user(
        staking: Replica, chain: Chain, clean_engine: Engine) -> None:
    s = new_staker()
    await chain.fund(s.address, 3)
    q = (await staking.stub.GetQuote(pb.GetQuoteRequest(asset_id="asset-1", amount="1", duration_days=30,
                                                        staker=s.address))).signed_quote
    prepared = await chain.stub.PrepareStake(chain_pb.PrepareStakeRequest(
        quote_json=q.quote_json, signature=q.signature, staker=s.address))
    raw = s.wallet.sign_transaction(tx_out(prepared.prepared.transaction))
    sent = await chain.stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=raw, expected=prepared.prepared.transaction, type=chain_pb.TRANSACTION_TYPE_STAKE))
    await chain.receipt(sent.tx_hash)

    async def listed() -> pb.ListStakesResponse | None:
        r = await staking.stub.ListStakes(pb.ListStakesRequest(user_id=s.user_id, wallet=s.address))
        return r if r.page_info.total == 1 else None

    page = await wait_until_async(listed, 20, message="the direct stake was not recorded")
    direct = page.stakes[0]
    assert direct.origin == "chain" and direct.user_id == "" and direct.wallet == s.address
    assert direct.status == pb.STAKE_STATUS_ACTIVE and direct.quote_hash == q.quote_hash
    assert direct.amount_wei == str(ETH) and direct.reward_wei == q.reservation_wei
    seen = await staking.stub.GetStake(pb.GetStakeRequest(stake_id=direct.id, user_id=s.user_id, wallet=s.address))
    assert seen.stake.id == direct.id
    # Its wallet's user may claim from it like any other stake of theirs.
    chain.travel(3600)
    claim = await staking.stub.ClaimRewards(pb.ClaimRewardsRequest(stake_id=direct.id, user_id=s.user_id,
                                                                   wallet=s.address))
    assert int(claim.claimed_wei) > 0
    assert (await staking.stub.ListStakes(pb.ListStakesRequest(user_id=s.user_id))).page_info.total == 0


async def test_list_pages_filters_and_counts(staking: Replica, chain: Chain) -> None:
    s = new_staker()
    await chain.fund(s.address, 10)
    ids = [(await staking.stub.OpenStake(open_request(s, asset=f"asset-{i % 2}"))).stake.id for i in range(3)]
    page = await staking.stub.ListStakes(pb.ListStakesRequest(user_id=s.user_id,
                                                              page=common_pb2.PageRequest(page=1, per_page=2)))
    assert page.page_info.total == 3 and [x.id for x in page.stakes] == ids[::-1][:2]
    by_asset = await staking.stub.ListStakes(pb.ListStakesRequest(user_id=s.user_id, asset_id="asset-0"))
    assert by_asset.page_info.total == 2
    pending = await staking.stub.ListStakes(pb.ListStakesRequest(user_id=s.user_id, status=pb.STAKE_STATUS_PENDING))
    assert pending.page_info.total == 3
    err = await _refused(staking.stub.ListStakes(pb.ListStakesRequest(page=common_pb2.PageRequest(per_page=1000))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(err) == "per_page"


async def test_the_maturity_sweep_records_each_stake_once_across_replicas(
        start_staking: Callable[..., Awaitable[Replica]], chain: Chain, clean_engine: Engine) -> None:
    first = await start_staking()
    s = new_staker()
    await chain.fund(s.address, 3)
    active = await opened_stake(first.stub, chain, s, amount="1", days=30)
    await first.app.stop(grace=0)
    chain.travel(31 * 86_400)
    replicas = [await start_staking(maturity_interval_seconds=0.05) for _ in range(2)]
    await stake_in(replicas[0].stub, active.id, pb.STAKE_STATUS_MATURED)
    await asyncio.sleep(0.3)  # both sweeps ran several times by now
    assert outbox_types(clean_engine).count("stake.matured") == 1
    assert count(clean_engine, "SELECT count(*) FROM stakes WHERE status = 'matured'") == 1
