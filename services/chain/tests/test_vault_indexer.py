"""The vault's events are the record, on the embedded EVM (a module's own ChainService and
database): a stake opened directly on the contract (a wallet calling stake() itself, not through
the service) and one prepared by the service, a claim, an early and an on-time unstake and two
fundings are indexed and published as chain.stake.opened / claimed / closed and
chain.vault.funded through the chain outbox, meeting their schemas; Reconcile compares every
stake and the vault's balance with the index (stakes_checked), names a stake whose indexed
rewards differ, and names ether forced into the vault (kind vault_balance); a restart locates the same
vault (journal replay) and does not fund its pool again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from chain_helpers import mined_receipt
from chain_service import index_rules as rules
from chain_service.contracts import load_artifact
from chain_service.service import ChainService
from chain_service.servicer import ChainServicer
from conftest import chain_database, close_service, open_service
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron_libs import events
from ipheron_libs.testing import wait_until_async
from ipheron_libs.wallet import Wallet
from sqlalchemy import text
from test_indexer import indexer_for
from vault_helpers import DAY, ETH, funded_wallet, sign_and_submit, sign_quote, stake_as


@pytest.fixture(scope="module")
async def service(pg_admin_url: str) -> AsyncIterator[ChainService]:
    svc = await open_service(chain_database(pg_admin_url, "ipheron_chain_vault_indexer"))
    yield svc
    close_service(svc)


def outbox(service: ChainService, type_: str) -> list[dict[str, Any]]:
    with service.repo.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, type, version, actor, occurred_at, payload FROM outbox WHERE type = :t "
                                 "ORDER BY occurred_at, id"), {"t": type_}).all()
    for r in rows:  # each one meets its published schema (as a consumer checks it)
        events.check(events.Event(str(r.id), r.type, r.version, r.occurred_at.isoformat(), r.actor, r.payload))
    return [{"id": str(r.id), **r.payload} for r in rows]


async def send_own(service: ChainService, wallet: Wallet, data: str, value: int = 0) -> dict[str, Any]:
    """The wallet calls the vault itself (no PrepareStake): signs and sends its own transaction."""
    w3 = service.network.w3

    def send() -> str:
        nonce = w3.eth.get_transaction_count(wallet.address, "pending")
        raw = wallet.sign_transaction({"from": wallet.address, "to": service.vault.address, "data": data,
                                       "value": value, "chainId": service.chain_id, "gas": 500_000,
                                       "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9, "nonce": nonce})
        return "0x" + bytes(w3.eth.send_raw_transaction(raw)).hex()

    receipt = await mined_receipt(service, await service.network.run(send))
    assert int(receipt["status"]) == 1, receipt
    return receipt


async def until_ended(service: ChainService, end: int) -> None:
    """Blocks are sealed only when transactions arrive: fund a throwaway wallet until the head passes `end`."""
    sink = Wallet.create().address

    async def past() -> bool:
        if await service.ledger.head_timestamp() >= end:
            return True
        await service.faucet(sink, "1")
        return False

    await wait_until_async(past, timeout=30, interval=0.2, message=f"the chain did not reach {end}")


async def test_vault_events_are_indexed_published_and_reconciled(service: ChainService) -> None:
    direct, prepared = await funded_wallet(service), await funded_wallet(service)
    # 1. A stake opened directly on the contract, 50 % APR for 3 seconds.
    quote, _, signature = sign_quote(service, direct.address, ETH, 5000, 3)
    opened = await send_own(service, direct, service.vault.stake_data(quote, bytes.fromhex(signature[2:])), ETH)
    direct_id = next(e for e in service.vault.decode_events(opened) if e.name == "StakeOpened").int_arg("stakeId")
    # 2. One through PrepareStake, unstaked early: the penalty and the unearned reward go back.
    prepared_id, _ = await stake_as(service, prepared, 2 * ETH, 1200, 30 * DAY)
    early = await service.prepare_stake_action(prepared_id, prepared.address, "unstake")
    await sign_and_submit(service, prepared, early.call, "unstake")
    # 3. The direct staker claims once something accrued, then unstakes after the end.
    stake = await service.get_vault_stake(direct_id)
    await until_ended(service, stake.start + 1)
    claim = await send_own(service, direct, service.vault.claim_data(direct_id))
    claimed = next(e for e in service.vault.decode_events(claim) if e.name == "RewardsClaimed").int_arg("amount")
    await until_ended(service, stake.end)
    closed_receipt = await send_own(service, direct, service.vault.unstake_data(direct_id))
    # 4. The pool is funded by the platform and by a wallet.
    view, _ = await service.fund_vault(str(5 * ETH), "indexer-test-fund")
    await send_own(service, prepared, service.vault.fund_data(), ETH // 3)

    indexer = indexer_for(service)
    await indexer.catch_up()

    opened_events = {int(e["stake_id"]): e for e in outbox(service, rules.STAKE_OPENED)}
    assert set(opened_events) == {direct_id, prepared_id}
    first = opened_events[direct_id]
    assert (first["staker"], first["amount_wei"], first["apr_bps"], first["reward_wei"]) == (
        direct.address, str(ETH), 5000, str(stake.reward))
    assert (first["start_time"], first["end_time"]) == (stake.start, stake.end)
    assert first["quote_nonce"] == str(quote.nonce) and first["quote_hash"] == "0x" + stake.quote_hash.hex()
    assert first["token_id"] == "7" and first["asset_id"] is None  # token 7 was never minted on this chain
    assert first["contract"] == service.vault.address and first["tx_hash"] == "0x" + bytes(
        opened["transactionHash"]).hex()
    (claim_event,) = outbox(service, rules.STAKE_CLAIMED)
    assert (claim_event["stake_id"], claim_event["staker"], claim_event["amount_wei"]) == (
        str(direct_id), direct.address, str(claimed))
    closed = {int(e["stake_id"]): e for e in outbox(service, rules.STAKE_CLOSED)}
    on_time, cut_short = closed[direct_id], closed[prepared_id]
    assert on_time["early"] is False and on_time["penalty_wei"] == "0"
    assert int(on_time["rewards_paid_wei"]) == stake.reward - claimed
    assert int(on_time["paid_wei"]) == ETH + stake.reward - claimed
    assert on_time["tx_hash"] == "0x" + bytes(closed_receipt["transactionHash"]).hex()
    assert cut_short["early"] is True and cut_short["penalty_wei"] == str(2 * ETH // 10)
    assert int(cut_short["paid_wei"]) == 2 * ETH - 2 * ETH // 10 + int(cut_short["rewards_paid_wei"])
    funded = outbox(service, rules.VAULT_FUNDED)
    by_funder = {(e["funder"], e["amount_wei"]) for e in funded}
    assert (service.tm.address, str(1000 * ETH)) in by_funder  # the pool at deployment
    assert (service.tm.address, str(5 * ETH)) in by_funder and (prepared.address, str(ETH // 3)) in by_funder
    assert any(e["tx_hash"] == view.record.tx_hash for e in funded)
    page, total, _ = await service.list_chain_events(rules.STAKE_OPENED, 0, 1, 10)
    assert total == 2 and {e.payload["stake_id"] for e, _ in page} == {str(direct_id), str(prepared_id)}

    # Reconcile: the chain and the index agree on every stake and on the vault's balance.
    clean = await service.reconcile()
    assert clean.differences == () and clean.stakes_checked == 2
    answered = await ChainServicer(service).Reconcile(pb.ReconcileRequest(), None)  # type: ignore[arg-type]
    assert answered.stakes_checked == 2 and not answered.differences

    # The index says the claim paid one wei more: that stake is named.
    with service.repo.engine.begin() as conn:
        conn.execute(text("UPDATE indexed_events SET payload = jsonb_set(payload, '{amount_wei}', "
                          "to_jsonb(CAST((payload->>'amount_wei')::numeric + 1 AS text))) "
                          "WHERE domain_type = 'chain.stake.claimed'"))
    try:
        found = await service.reconcile()
        ((kind, subject, on_chain, recorded),) = [(d.kind, d.subject, d.on_chain, d.recorded)
                                                  for d in found.differences]
        assert (kind, subject) == ("stake", str(direct_id))
        assert f"claimed_wei={stake.reward}" in on_chain and f"claimed_wei={stake.reward + 1}" in recorded
        # The windowed (periodic) run finds it too, one stake per run.
        runs = [await service.reconcile(window=1) for _ in range(2)]
        assert all(r.stakes_checked == 1 for r in runs)
        assert [(d.kind, d.subject) for r in runs for d in r.differences] == [("stake", str(direct_id))]
    finally:
        with service.repo.engine.begin() as conn:
            conn.execute(text("UPDATE indexed_events SET payload = jsonb_set(payload, '{amount_wei}', "
                              "to_jsonb(CAST((payload->>'amount_wei')::numeric - 1 AS text))) "
                              "WHERE domain_type = 'chain.stake.claimed'"))
    assert (await service.reconcile()).differences == ()

    # Ether forced in without a call (selfdestruct) is more than the vault owes: named.
    art = load_artifact("TestForceFeed")
    factory = service.network.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    w3 = service.network.w3

    def force() -> str:
        nonce = w3.eth.get_transaction_count(prepared.address, "pending")
        raw = prepared.sign_transaction({"from": prepared.address, "to": None, "value": 7,
                                         "data": factory.constructor(service.vault.address).data_in_transaction,
                                         "chainId": service.chain_id, "gas": 200_000, "maxFeePerGas": 50 * 10**9,
                                         "maxPriorityFeePerGas": 10**9, "nonce": nonce})
        return "0x" + bytes(w3.eth.send_raw_transaction(raw)).hex()

    await mined_receipt(service, await service.network.run(force))
    await indexer.catch_up()
    state = await service.get_vault()
    assert state.balance == state.total_principal + state.pool_free + state.pool_reserved + 7
    drift = await service.reconcile()
    assert [(d.kind, d.subject, d.on_chain) for d in drift.differences] == [
        ("vault_balance", service.vault.address, str(state.balance))]
    await asyncio.sleep(0)


async def test_a_restart_finds_the_same_vault_and_does_not_fund_it_again(pg_admin_url: str) -> None:
    url = chain_database(pg_admin_url, "ipheron_chain_vault_restart")
    first = await open_service(url)
    try:
        wallet = await funded_wallet(first)
        stake_id, _ = await stake_as(first, wallet, ETH, 1000, 30 * DAY)
        before = await first.get_vault()
        address = first.vault.address
    finally:
        await first.aclose()
        first.repo.engine.dispose()
    again = await open_service(url)
    try:
        assert again.vault.address == address  # located (same code, same arguments), not redeployed
        state = await again.get_vault()
        assert (state.pool_free, state.pool_reserved, state.total_principal, state.balance) == (
            before.pool_free, before.pool_reserved, before.total_principal, before.balance)
        stake = await again.get_vault_stake(stake_id)
        assert stake.staker == wallet.address and stake.amount == ETH and not stake.closed
        with again.repo.engine.connect() as conn:
            funded = conn.execute(text("SELECT count(*) FROM transactions WHERE type = 'vault_fund'")).scalar_one()
        assert funded == 1  # the pool was funded once, at the first deployment
    finally:
        close_service(again)
