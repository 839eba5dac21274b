"""The vault's events rebuild the staking tables: each applied once however often it is delivered,
in any order (a claim or close that arrives before its stake's opening waits for it), and a
reorg's chain.event.reverted undoes exactly what one changed. Events are handed to the
service's consumer handler as the chain's indexer publishes them (schema-checked first)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import ETH, Chain, Replica, count, new_staker, open_request, outbox_types
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron_libs import events
from sqlalchemy import Engine
from staking_service import domain

_ids = itertools.count(10**9)
_blocks = itertools.count(1_000)


def _event(type_: str, **payload: Any) -> events.Event:
    block = next(_blocks)
    envelope = {"chain_id": 131277322940537, "contract": "0x" + "11" * 20, "event": "StakeOpened",
                "block_number": block, "block_hash": "0x" + f"{block:064x}", "block_time": "2026-12-02T05:00:00+00:00",
                "tx_hash": "0x" + uuid.uuid4().hex * 2, "log_index": 0}
    ev = events.Event(id=str(uuid.uuid4()), type=type_, version=1, occurred_at="2026-12-02T05:00:00+00:00",
                      actor="chain", payload={**envelope, **payload})
    events.check(ev)  # the chain's contract: the handler sees only what the schema allows
    return ev


def opened(vault_id: int, staker: str, quote_hash: str, amount: int = ETH, reward: int = 10**15,
           start: int = 1_800_000_000, days: int = 30) -> events.Event:
    return _event("chain.stake.opened", stake_id=str(vault_id), staker=staker, token_id="7", asset_id=None,
                  amount_wei=str(amount), apr_bps=300, start_time=start, end_time=start + days * 86_400,
                  reward_wei=str(reward), quote_nonce="1", quote_hash=quote_hash)


def claimed(vault_id: int, staker: str, amount: int) -> events.Event:
    return _event("chain.stake.claimed", event="RewardsClaimed", stake_id=str(vault_id), staker=staker,
                  amount_wei=str(amount))


def closed(vault_id: int, staker: str, paid: int, rewards: int, penalty: int, early: bool) -> events.Event:
    return _event("chain.stake.closed", event="Unstaked", stake_id=str(vault_id), staker=staker, paid_wei=str(paid),
                  rewards_paid_wei=str(rewards), penalty_wei=str(penalty), early=early)


def reverted(undone: events.Event) -> events.Event:
    p = undone.payload
    position = {k: p[k] for k in ("chain_id", "contract", "event", "block_number", "block_hash", "tx_hash",
                                  "log_index")}
    ev = events.Event(id=str(uuid.uuid4()), type="chain.event.reverted", version=1,
                      occurred_at="2026-12-02T05:00:00+00:00", actor="chain",
                      payload={**position, "event_id": undone.id, "event_type": undone.type, "reason": "reorg",
                               "undone": p})
    events.check(ev)
    return ev


@pytest.fixture()
async def manual(start_staking: Callable[..., Awaitable[Replica]]) -> Replica:
    """A replica whose chain events the test hands in itself."""
    return await start_staking(consume_chain_events=False, pending_poll_interval_s=0)


async def _pending(r: Replica, chain: Chain) -> tuple[pb.Stake, str]:
    s = new_staker()
    await chain.fund(s.address, 2)
    stake = (await r.stub.OpenStake(open_request(s))).stake
    return stake, s.address


async def _get(r: Replica, stake_id: str) -> pb.Stake:
    return (await r.stub.GetStake(pb.GetStakeRequest(stake_id=stake_id))).stake


async def test_a_redelivered_opening_and_claim_apply_once(manual: Replica, chain: Chain, clean_engine: Engine) -> None:
    stake, staker = await _pending(manual, chain)
    vid = next(_ids)
    ev = opened(vid, staker, stake.quote_hash)
    for _ in range(3):
        await manual.app.service.on_chain_event(ev)
    got = await _get(manual, stake.id)
    assert got.status == pb.STAKE_STATUS_ACTIVE and got.vault_stake_id == vid and got.reward_wei == str(10**15)
    c = claimed(vid, staker, 12345)
    await manual.app.service.on_chain_event(c)
    await manual.app.service.on_chain_event(c)
    assert (await _get(manual, stake.id)).claimed_wei == "12345"
    assert outbox_types(clean_engine) == ["stake.opened", "stake.claimed"]


async def test_a_claim_and_close_arriving_before_the_opening_wait_for_it(
        manual: Replica, chain: Chain, clean_engine: Engine) -> None:
    stake, staker = await _pending(manual, chain)
    vid = next(_ids)
    await manual.app.service.on_chain_event(claimed(vid, staker, 500))
    await manual.app.service.on_chain_event(closed(vid, staker, paid=ETH - ETH // 10 + 700, rewards=700,
                                                   penalty=ETH // 10, early=True))
    assert (await _get(manual, stake.id)).status == pb.STAKE_STATUS_PENDING
    await manual.app.service.on_chain_event(opened(vid, staker, stake.quote_hash))
    got = await _get(manual, stake.id)
    assert got.status == pb.STAKE_STATUS_CLOSED and got.claimed_wei == "500"
    assert got.penalty == "0.1" and got.payout == domain.money_str(domain.from_wei(ETH - ETH // 10 + 700))
    assert outbox_types(clean_engine) == ["stake.opened", "stake.claimed", "stake.closed"]


async def test_a_reorg_undoes_exactly_what_each_event_changed(manual: Replica, chain: Chain) -> None:
    stake, staker = await _pending(manual, chain)
    vid = next(_ids)
    o, c1, c2 = opened(vid, staker, stake.quote_hash), claimed(vid, staker, 100), claimed(vid, staker, 40)
    end = closed(vid, staker, paid=ETH + 10**15 - 140, rewards=10**15 - 140, penalty=0, early=False)
    for ev in (o, c1, c2, end):
        await manual.app.service.on_chain_event(ev)
    assert (await _get(manual, stake.id)).status == pb.STAKE_STATUS_CLOSED
    await manual.app.service.on_chain_event(reverted(end))
    await manual.app.service.on_chain_event(reverted(end))  # redelivered: once
    back = await _get(manual, stake.id)
    assert back.status in (pb.STAKE_STATUS_ACTIVE, pb.STAKE_STATUS_MATURED) and not back.payout
    await manual.app.service.on_chain_event(reverted(c2))
    assert (await _get(manual, stake.id)).claimed_wei == "100"
    await manual.app.service.on_chain_event(reverted(c1))
    await manual.app.service.on_chain_event(reverted(o))
    again = await _get(manual, stake.id)
    assert again.status == pb.STAKE_STATUS_PENDING and again.vault_stake_id == 0 and again.claimed_wei == "0"
    # Re-mined in another block (a new event id): the stake opens again.
    await manual.app.service.on_chain_event(opened(vid, staker, stake.quote_hash))
    assert (await _get(manual, stake.id)).status == pb.STAKE_STATUS_ACTIVE


async def test_an_event_reverted_before_it_arrives_never_applies(manual: Replica, chain: Chain) -> None:
    stake, staker = await _pending(manual, chain)
    vid = next(_ids)
    await manual.app.service.on_chain_event(opened(vid, staker, stake.quote_hash))
    c = claimed(vid, staker, 77)
    await manual.app.service.on_chain_event(reverted(c))
    await manual.app.service.on_chain_event(c)
    assert (await _get(manual, stake.id)).claimed_wei == "0"


async def test_an_opening_without_a_pending_stake_is_recorded_as_the_wallets(
        manual: Replica, clean_engine: Engine) -> None:
    s = new_staker()
    vid = next(_ids)
    await manual.app.service.on_chain_event(opened(vid, s.address, "0x" + "ef" * 32, amount=3 * ETH))
    page = await manual.stub.ListStakes(pb.ListStakesRequest(user_id=s.user_id, wallet=s.address))
    assert page.page_info.total == 1
    direct = page.stakes[0]
    assert direct.origin == "chain" and direct.user_id == "" and direct.amount_wei == str(3 * ETH)
    assert direct.asset_id.startswith("token:7") or direct.asset_id  # the chain names it when it can
    assert count(clean_engine, "SELECT count(*) FROM outbox WHERE type = 'stake.opened'") == 1


async def test_an_unreadable_event_is_dead_lettered_not_retried(manual: Replica) -> None:
    bad = events.Event(id=str(uuid.uuid4()), type="chain.stake.claimed", version=1,
                       occurred_at="2026-12-02T05:00:00+00:00", actor="chain", payload={"stake_id": "x"})
    with pytest.raises(events.UnreadableEvent):
        await manual.app.service.on_chain_event(bad)
