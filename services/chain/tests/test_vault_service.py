"""The chain service's vault use cases on the embedded EVM (the session's ChainService): the
vault deployed at start owned by the timelock, trusting the development quote key, its pool
funded; PrepareStake checks a quote against the chain before a wallet signs (forged, expired,
used, another staker's) and answers a pool that cannot cover instead of failing; the staker's
signed stake, claim and unstake move exactly the previewed wei; FundVault is idempotent."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from chain_helpers import mined_receipt
from chain_service import domain, vault
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_ADDRESS
from ipheron_libs.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from ipheron_libs.testing import wait_until_async
from vault_helpers import DAY, ETH, funded_wallet, sign_and_submit, sign_quote, stake_as

OTHER_KEY = "0x" + "00" * 31 + "2a"
SINK = "0x000000000000000000000000000000000000dEaD"


async def test_the_service_deploys_the_vault_owned_by_the_timelock_with_a_funded_pool(chain) -> None:
    state = await chain.get_vault()
    assert state.address == chain.vault.address and state.quote_signer == DEV_QUOTE_SIGNER_ADDRESS
    assert state.penalty_bps == 1000
    assert state.balance == state.total_principal + state.pool_free + state.pool_reserved
    assert state.pool_free + state.pool_reserved >= 900 * ETH  # funded with 1000 ETH at deployment
    (owner,) = await chain.network.run(chain.vault.view, "owner()", [], ["address"])
    assert owner.lower() == chain.ledger.timelock.address.lower()


async def test_prepare_stake_then_the_wallet_stakes_claims_and_unstakes_exactly(chain) -> None:
    wallet = await funded_wallet(chain)
    before = await chain.get_vault()
    quote, quote_json, signature = sign_quote(chain, wallet.address, ETH, 1000, 30 * DAY)
    prepared = await chain.prepare_stake(quote_json, signature, wallet.address)
    assert prepared.reservation == vault.reservation(ETH, 1000, 30 * DAY) == 8219178082191781
    assert prepared.pool_can_cover and prepared.call.funds.can_pay
    assert prepared.quote_hash == vault.quote_hash(quote, chain.chain_id, chain.vault.address)
    assert prepared.call.tx.value == ETH and prepared.call.tx.to == chain.vault.address
    receipt = await sign_and_submit(chain, wallet, prepared.call, "stake")
    assert int(receipt["status"]) == 1
    opened = next(e for e in chain.vault.decode_events(receipt) if e.name == "StakeOpened")
    stake_id = opened.int_arg("stakeId")
    stake = await chain.get_vault_stake(stake_id)
    assert (stake.staker, stake.amount, stake.reward, stake.claimed, stake.closed) == (
        wallet.address, ETH, prepared.reservation, 0, False)
    assert stake.quote_hash == prepared.quote_hash and stake.end - stake.start == 30 * DAY
    after = await chain.get_vault()
    assert after.total_principal - before.total_principal == ETH
    assert before.pool_free - after.pool_free == prepared.reservation
    assert after.balance - before.balance == ETH
    # The same quote again is refused before a wallet signs it.
    with pytest.raises(FailedPrecondition, match="already used"):
        await chain.prepare_stake(quote_json, signature, wallet.address)
    # Unstake now: early, the 10 % penalty applies; the preview is what the call pays.
    action = await chain.prepare_stake_action(stake_id, wallet.address, "unstake")
    assert action.preview.early and action.preview.penalty == ETH // 10
    receipt = await sign_and_submit(chain, wallet, action.call, "unstake")
    closed = next(e for e in chain.vault.decode_events(receipt) if e.name == "Unstaked")
    assert closed.args["early"] is True and closed.int_arg("penalty") == ETH // 10
    # Accrual moved between the preview (head time) and the block it was mined in, never downwards.
    assert closed.int_arg("paid") >= action.preview.payout
    assert closed.int_arg("paid") == ETH - ETH // 10 + closed.int_arg("rewardsPaid")
    final = await chain.get_vault()
    assert final.balance == final.total_principal + final.pool_free + final.pool_reserved
    with pytest.raises(FailedPrecondition, match="closed"):
        await chain.prepare_stake_action(stake_id, wallet.address, "claim")


async def test_prepare_stake_refuses_forged_expired_and_other_stakers_quotes(chain) -> None:
    wallet = await funded_wallet(chain, ETH)
    _, forged_json, forged_sig = sign_quote(chain, wallet.address, ETH // 2, key=OTHER_KEY)
    with pytest.raises(FailedPrecondition, match="not signed by the vault's quote signer"):
        await chain.prepare_stake(forged_json, forged_sig, wallet.address)
    _, expired_json, expired_sig = sign_quote(chain, wallet.address, ETH // 2, expiry=int(time.time()) - 10)
    with pytest.raises(FailedPrecondition, match="expired"):
        await chain.prepare_stake(expired_json, expired_sig, wallet.address)
    _, quote_json, signature = sign_quote(chain, wallet.address, ETH // 2)
    other = await funded_wallet(chain, ETH)
    with pytest.raises(PermissionDenied):
        await chain.prepare_stake(quote_json, signature, other.address)
    for bad in ("", "[]", "{}", json.dumps({**json.loads(quote_json), "amount": "0"}),
                json.dumps({**json.loads(quote_json), "extra": "1"}),
                json.dumps({**json.loads(quote_json), "duration": "0"}),
                json.dumps({**json.loads(quote_json), "amount": 1.5})):
        with pytest.raises(InvalidArgument):
            await chain.prepare_stake(bad, signature, wallet.address)
    with pytest.raises(InvalidArgument):
        await chain.prepare_stake(quote_json, "nothex", wallet.address)


async def test_a_wallet_that_cannot_pay_is_answered_and_an_uncoverable_stake_names_the_pool(chain) -> None:
    poor = await funded_wallet(chain, 10**15)
    _, quote_json, signature = sign_quote(chain, poor.address, ETH)
    prepared = await chain.prepare_stake(quote_json, signature, poor.address)
    assert not prepared.call.funds.can_pay and prepared.call.funds.shortfall > ETH - 10**15
    state = await chain.get_vault()
    # A reservation bigger than the whole free pool: 10,000 % APR for a year on 20 ETH.
    rich = await funded_wallet(chain, 20 * ETH)
    needed = vault.reservation(19 * ETH, 1_000_000, 365 * DAY)
    assert needed > state.pool_free
    _, quote_json, signature = sign_quote(chain, rich.address, 19 * ETH, 1_000_000, 365 * DAY)
    prepared = await chain.prepare_stake(quote_json, signature, rich.address)
    assert not prepared.pool_can_cover and prepared.reservation == needed
    assert prepared.pool_free == state.pool_free


async def test_stake_actions_check_the_staker_and_the_stake(chain) -> None:
    wallet = await funded_wallet(chain)
    stake_id, _ = await stake_as(chain, wallet, ETH, 5000, 2 * DAY)
    other = await funded_wallet(chain, ETH)
    with pytest.raises(PermissionDenied):
        await chain.prepare_stake_action(stake_id, other.address, "claim")
    with pytest.raises(NotFound):
        await chain.prepare_stake_action(10**9, wallet.address, "claim")
    with pytest.raises(NotFound):
        await chain.get_vault_stake(10**9)
    with pytest.raises(InvalidArgument):
        await chain.prepare_stake_action(stake_id, wallet.address, "withdraw")
    # A claim preview pays the accrued-unclaimed reward at the head's time.
    stake = await chain.get_vault_stake(stake_id)
    if stake.accrued > 0:
        action = await chain.prepare_stake_action(stake_id, wallet.address, "claim")
        assert action.preview.payout == stake.accrued
    else:
        with pytest.raises(FailedPrecondition, match="nothing accrued"):
            await chain.prepare_stake_action(stake_id, wallet.address, "claim")


async def test_fund_vault_is_idempotent_per_key_and_prepare_fund_vault_is_the_wallets_own(chain) -> None:
    before = await chain.get_vault()
    key = f"fund-{time.time_ns()}"
    view, state = await chain.fund_vault(str(3 * ETH), key)
    assert view.record.type == "vault_fund" and view.record.status == domain.CONFIRMED
    assert state.pool_free - before.pool_free == 3 * ETH
    assert [e.name for e in view.events] == ["PoolFunded"]
    again, state2 = await chain.fund_vault(str(3 * ETH), key)
    assert again.record.tx_hash == view.record.tx_hash and state2.pool_free == state.pool_free
    with pytest.raises(Conflict):
        await chain.fund_vault(str(4 * ETH), key)
    for amount, k in (("0", "k1"), ("-1", "k2"), ("1.5", "k3"), ("1", ""), ("1", "x" * 129)):
        with pytest.raises(InvalidArgument):
            await chain.fund_vault(amount, k)
    wallet = await funded_wallet(chain, 2 * ETH)
    call = await chain.prepare_fund_vault(wallet.address, str(ETH))
    assert call.tx.to == chain.vault.address and call.tx.value == ETH and call.funds.can_pay
    receipt = await sign_and_submit(chain, wallet, call, "vault_fund")
    funded = next(e for e in chain.vault.decode_events(receipt) if e.name == "PoolFunded")
    assert funded.address_arg("from") == wallet.address and funded.int_arg("amount") == ETH


async def test_two_claims_in_one_block_pay_once(chain) -> None:
    """Both signed claims reach the open block of the embedded chain (200 ms interval): the
    first pays what accrued, the second reverts with NothingToClaim; nothing is paid twice."""
    wallet = await funded_wallet(chain)
    stake_id, _ = await stake_as(chain, wallet, ETH, 9000, 3600)
    await wait_until_async(lambda: _accrued(chain, stake_id), timeout=20, interval=0.3,
                           message="nothing accrued")
    first = await chain.prepare_stake_action(stake_id, wallet.address, "claim")
    raw1 = wallet.sign_transaction(first.call.tx.as_json_rpc())
    second = replace(first.call.tx, nonce=first.call.tx.nonce + 1)
    raw2 = wallet.sign_transaction(second.as_json_rpc())
    sent = [await chain.submit_raw_transaction(raw1, first.call.tx, "stake_claim"),
            await chain.submit_raw_transaction(raw2, second, "stake_claim")]
    receipts = [await mined_receipt(chain, s.tx.record.tx_hash) for s in sent]
    assert receipts[0]["blockNumber"] == receipts[1]["blockNumber"]
    assert [int(r["status"]) for r in receipts] == [1, 0]
    (paid,) = [e for e in chain.vault.decode_events(receipts[0]) if e.name == "RewardsClaimed"]
    stake = await chain.get_vault_stake(stake_id)
    assert stake.claimed == paid.int_arg("amount") > 0
    failed = await chain.get_transaction(sent[1].tx.record.tx_hash)
    assert failed.record.status == domain.FAILED and failed.record.type == "stake_claim"


async def _accrued(chain, stake_id: int) -> bool:
    """Blocks are sealed only when transactions arrive: a faucet payment moves the head on."""
    if (await chain.get_vault_stake(stake_id)).accrued > 0:
        return True
    await chain.faucet(SINK, "1")
    return False
