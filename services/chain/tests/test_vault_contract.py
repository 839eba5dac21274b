"""StakingVault alone on the real EVM (py-evm through eth-tester, no ChainService), every
transaction signed by its sender's own key, block times set exactly:

- a hand-computed table (1 second, 1 day, a 366-day stake across a leap day showing the rule's
  365-day year, 1 wei, 10^6 ETH): exact wei for the reservation, accrued, claim, and unstake on
  time and early, with the penalty and the unearned reward back to the free pool, and each
  wallet's balance moving by exactly that minus its gas;
- forged, expired and replayed quotes, a wrong msg.value and another sender are refused with the
  contract's custom errors (two claims in one block: test_vault_service.py); pool exhaustion names needed and
  free, and fund() reopens it;
- neither the platform key nor the timelock (its owner) can move principal or pool ether through
  any function; only the staker claims and unstakes; plain ether sends are refused; a staker
  contract re-entering claim/unstake from its receive() is stopped by the guard and paid once."""

from __future__ import annotations

from typing import Any

import pytest
from chain_service import vault
from eth_account import Account
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_ADDRESS
from v2_helpers import Reverted
from vault_helpers import VaultChain

ETH = 10**18
DAY = 86_400
YEAR = 365 * DAY
PENALTY_BPS = 1000
OTHER_KEY = "0x" + "00" * 31 + "2a"


@pytest.fixture(scope="module")
def vc() -> VaultChain:
    chain = VaultChain(PENALTY_BPS)
    # The pool: 300,000 ETH from three funders (the 10^6 ETH row reserves 100,000 ETH).
    for funder in chain.accounts[6:9]:
        chain.send(funder, "fund", value=100_000 * ETH)
    return chain


def test_the_vault_is_wired_as_deployed(vc: VaultChain) -> None:
    assert vc.call("owner") == vc.c.c.timelock.address
    assert vc.call("penaltyBps") == PENALTY_BPS and vc.call("YEAR") == YEAR
    assert vc.call("quoteSigner") == DEV_QUOTE_SIGNER_ADDRESS
    fields = vc.call("eip712Domain")
    assert tuple(fields[1:5]) == ("IPheronStakingVault", "1", vc.chain_id, vc.vault.address)
    q, _ = vc.quote(vc.accounts[1].address, ETH, 1000, DAY)
    assert vc.call("hashQuote", q.as_tuple()) == vault.quote_hash(q, vc.chain_id, vc.vault.address)
    # An EOA owner (not a timelock) is refused at deployment.
    with pytest.raises(Reverted) as refused:
        vc.c.deploy("StakingVault", vc.platform.address, vc.accounts[1].address, PENALTY_BPS)
    assert refused.value.name in ("InvalidOwner", "Unknown")


# (amount, aprBps, duration, reservation by hand)
RESERVATIONS = [
    # 1 s at 10 %: 1e18 × 1000 × 1 / 315,360,000,000 = 3,170,979,198.38 → rounded up.
    (ETH, 1000, 1, 3_170_979_199),
    # 1 day at 10 %: 1e18 × 86,400,000 / 315,360,000,000 = 273,972,602,739,726.03 → up.
    (ETH, 1000, DAY, 273_972_602_739_727),
    # 366 days (a leap year) at 10 %: the year is 365 days, so 366/365 × 10 % = 10.0274 %.
    (ETH, 1000, 366 * DAY, 100_273_972_602_739_727),
    # 1 wei for 30 days at 10 %: 2,592,000,000 / 315,360,000,000 = 0.0082 → rounded up to 1 wei, not 0.
    (1, 1000, 30 * DAY, 1),
    # 10^6 ETH for a year at 10 %: exactly 100,000 ETH, no rounding.
    (10**6 * ETH, 1000, YEAR, 10**5 * ETH),
    # 0 % APR reserves nothing.
    (ETH, 0, DAY, 0),
]


@pytest.mark.parametrize("amount, apr, duration, expected", RESERVATIONS)
def test_the_reservation_rounds_up_by_the_documented_rule(vc: VaultChain, amount: int, apr: int, duration: int,
                                                          expected: int) -> None:
    assert vault.reservation(amount, apr, duration) == expected
    assert vc.call("reservationFor", amount, apr, duration) == expected


def _stake_at(vc: VaultChain, staker: Any, amount: int, apr: int, duration: int) -> tuple[int, int, dict[str, Any]]:
    """Open a stake in a block stamped a day after the head: (stake id, start, receipt)."""
    start = vc.c.now() + DAY
    q, sig = vc.quote(staker.address, amount, apr, duration, expiry=start + 60)
    stake_id, receipt = vc.stake(staker, q, sig, at=start)
    assert vc.block_time(receipt) == start
    return stake_id, start, receipt


def test_one_second_stake_pays_principal_and_the_rounded_up_reward_at_the_end(vc: VaultChain) -> None:
    staker = vc.accounts[1]
    before = vc.figures()
    stake_id, start, _ = _stake_at(vc, staker, ETH, 1000, 1)
    assert vc.figures()[1:] == (before[1] + ETH, before[2] - 3_170_979_199, before[3] + 3_170_979_199)
    wallet = vc.c.balance(staker.address)
    receipt = vc.send(staker, "unstake", stake_id, at=start + 1)
    (closed,) = vc.events(receipt, "Unstaked")
    assert (closed["paid"], closed["rewardsPaid"], closed["penalty"], closed["early"]) == (
        ETH + 3_170_979_199, 3_170_979_199, 0, False)
    assert vc.c.balance(staker.address) == wallet + ETH + 3_170_979_199 - vc.fee(receipt)
    # Principal out, the reservation paid from what was reserved: the free pool is smaller by the reward.
    assert vc.figures()[1:] == (before[1], before[2] - 3_170_979_199, before[3])


def test_one_day_stake_claims_half_at_noon_then_the_rest_with_principal(vc: VaultChain) -> None:
    staker = vc.accounts[2]
    reward = 273_972_602_739_727
    stake_id, start, _ = _stake_at(vc, staker, ETH, 1000, DAY)
    assert vc.get_stake(stake_id)["reward"] == reward
    wallet = vc.c.balance(staker.address)
    receipt = vc.send(staker, "claim", stake_id, at=start + DAY // 2)
    # floor(273,972,602,739,727 × 43,200 / 86,400) = floor(136,986,301,369,863.5)
    (claimed,) = vc.events(receipt, "RewardsClaimed")
    assert claimed["amount"] == 136_986_301_369_863
    assert vc.c.balance(staker.address) == wallet + 136_986_301_369_863 - vc.fee(receipt)
    assert vc.call("accrued", stake_id, sender=staker.address) == 136_986_301_369_863
    free_before = vc.figures()[2]
    receipt = vc.send(staker, "unstake", stake_id, at=start + DAY + 5)  # after the end: no penalty
    (closed,) = vc.events(receipt, "Unstaked")
    assert (closed["paid"], closed["rewardsPaid"], closed["early"]) == (ETH + 136_986_301_369_864,
                                                                        136_986_301_369_864, False)
    assert vc.figures()[2] == free_before
    assert vc.get_stake(stake_id)["claimed"] == reward and vc.get_stake(stake_id)["closed"] is True


def test_a_leap_year_stake_unstaked_early_returns_penalty_and_unearned_reward_to_the_pool(vc: VaultChain) -> None:
    staker = vc.accounts[3]
    reward = 100_273_972_602_739_727
    stake_id, start, _ = _stake_at(vc, staker, ETH, 1000, 366 * DAY)
    _, principal, free, reserved = vc.figures()
    wallet = vc.c.balance(staker.address)
    receipt = vc.send(staker, "unstake", stake_id, at=start + 183 * DAY)  # half way
    # accrued = floor(reward × 183/366) = 50,136,986,301,369,863; penalty = 10 % of 1 ETH.
    (closed,) = vc.events(receipt, "Unstaked")
    assert (closed["paid"], closed["rewardsPaid"], closed["penalty"], closed["early"]) == (
        950_136_986_301_369_863, 50_136_986_301_369_863, ETH // 10, True)
    assert vc.c.balance(staker.address) == wallet + 950_136_986_301_369_863 - vc.fee(receipt)
    _, principal2, free2, reserved2 = vc.figures()
    assert principal2 == principal - ETH and reserved2 == reserved - reward
    assert free2 == free + ETH // 10 + (reward - 50_136_986_301_369_863)
    with pytest.raises(Reverted) as again:
        vc.send(staker, "unstake", stake_id)
    assert again.value.name == "StakeIsClosed"


def test_one_wei_earns_its_rounded_up_wei_only_by_the_end(vc: VaultChain) -> None:
    staker = vc.accounts[4]
    stake_id, start, _ = _stake_at(vc, staker, 1, 1000, 30 * DAY)
    assert vc.get_stake(stake_id)["reward"] == 1
    vc.tester.time_travel(start + 15 * DAY)
    with pytest.raises(Reverted) as nothing:
        vc.send(staker, "claim", stake_id)  # floor(1 × 15/30) = 0
    assert nothing.value.name == "NothingToClaim" and nothing.value.args_ == {"stakeId": stake_id}
    receipt = vc.send(staker, "claim", stake_id, at=start + 30 * DAY)
    assert vc.events(receipt, "RewardsClaimed")[0]["amount"] == 1
    receipt = vc.send(staker, "unstake", stake_id, at=start + 31 * DAY)
    assert vc.events(receipt, "Unstaked")[0]["paid"] == 1  # principal; the wei was claimed
    # Early: floor(1 × 1000 / 10,000) = 0 penalty, and the unearned wei goes back to the pool.
    stake_id, start, _ = _stake_at(vc, staker, 1, 1000, 30 * DAY)
    free = vc.figures()[2]
    receipt = vc.send(staker, "unstake", stake_id, at=start + DAY)
    assert vc.events(receipt, "Unstaked")[0] == {"stakeId": stake_id, "staker": staker.address, "paid": 1,
                                                 "rewardsPaid": 0, "penalty": 0, "early": True}
    assert vc.figures()[2] == free + 1


def test_a_million_eth_stake_reserves_claims_and_exits_early_exactly(vc: VaultChain) -> None:
    staker, topup = vc.accounts[5], vc.accounts[9]
    vc.c.send_data(topup, staker.address, "0x", 10**5 * ETH, gas=21_000)  # principal plus gas money
    stake_id, start, receipt = _stake_at(vc, staker, 10**6 * ETH, 1000, YEAR)
    assert vc.events(receipt, "StakeOpened")[0]["reward"] == 10**5 * ETH
    receipt = vc.send(staker, "claim", stake_id, at=start + 73 * DAY)  # 73/365 = 1/5 of 100,000 ETH
    assert vc.events(receipt, "RewardsClaimed")[0]["amount"] == 20_000 * ETH
    _, principal, free, reserved = vc.figures()
    wallet = vc.c.balance(staker.address)
    receipt = vc.send(staker, "unstake", stake_id, at=start + 146 * DAY)  # 2/5 accrued, 1/5 unclaimed
    (closed,) = vc.events(receipt, "Unstaked")
    assert (closed["paid"], closed["rewardsPaid"], closed["penalty"]) == (
        10**6 * ETH + 20_000 * ETH - 10**5 * ETH, 20_000 * ETH, 10**5 * ETH)
    assert vc.c.balance(staker.address) == wallet + 920_000 * ETH - vc.fee(receipt)
    _, principal2, free2, reserved2 = vc.figures()
    assert principal2 == principal - 10**6 * ETH and reserved2 == reserved - 80_000 * ETH
    assert free2 == free + 10**5 * ETH + 60_000 * ETH  # the penalty and the unearned 3/5


def test_accrual_is_linear_floored_and_capped_at_the_reservation(vc: VaultChain) -> None:
    staker = vc.accounts[1]
    stake_id, start, _ = _stake_at(vc, staker, 3 * ETH + 1, 777, 7 * DAY + 3)
    s = vc.get_stake(stake_id)
    for elapsed in (1, 3_600, DAY, 7 * DAY + 2):
        vc.tester.time_travel(start + elapsed)
        vc.tester.mine_blocks(1)
        head = vc.c.now()
        assert vc.call("accrued", stake_id) == vault.accrued(s["reward"], start, s["end"], head) == \
            s["reward"] * (head - start) // (7 * DAY + 3)
    vc.tester.time_travel(start + 30 * DAY)
    vc.tester.mine_blocks(1)
    assert vc.call("accrued", stake_id) == s["reward"]  # never more than the reservation
    vc.send(staker, "unstake", stake_id)


# ---------------------------------------------------------------- refusals


def test_forged_expired_replayed_wrong_value_and_other_sender_are_refused(vc: VaultChain) -> None:
    staker, other = vc.accounts[1], vc.accounts[2]
    forged, forged_sig = vc.quote(staker.address, ETH, 1000, DAY, key=OTHER_KEY)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, forged, forged_sig)
    assert r.value.name == "InvalidQuoteSignature"
    expired, expired_sig = vc.quote(staker.address, ETH, 1000, DAY, expiry=vc.c.now() - 1)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, expired, expired_sig)
    assert r.value.name == "QuoteExpired" and r.value.args_["expiry"] == expired.expiry
    q, sig = vc.quote(staker.address, ETH, 1000, DAY)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, q, sig, value=ETH - 1)
    assert r.value.name == "WrongStakeValue" and r.value.args_ == {"expected": ETH, "sent": ETH - 1}
    with pytest.raises(Reverted) as r:
        vc.stake(other, q, sig)
    assert r.value.name == "WrongStaker" and r.value.args_ == {"sender": other.address, "staker": staker.address}
    # A tampered quote (higher APR) no longer matches its signature.
    tampered = vault.StakeQuote(q.staker, q.token_id, q.amount, 9000, q.duration, q.expiry, q.nonce)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, tampered, sig)
    assert r.value.name == "InvalidQuoteSignature"
    stake_id, _ = vc.stake(staker, q, sig)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, q, sig)  # the same quote again
    assert r.value.name == "QuoteNonceUsed" and r.value.args_ == {"staker": staker.address, "nonce": q.nonce}
    zero, zero_sig = vc.quote(staker.address, 0, 1000, DAY)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, zero, zero_sig, value=0)
    assert r.value.name == "ZeroStake"
    endless, endless_sig = vc.quote(staker.address, ETH, 1000, 0)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, endless, endless_sig)
    assert r.value.name == "InvalidDuration"
    # Only the staker claims or unstakes its stake.
    for fn in ("claim", "unstake"):
        with pytest.raises(Reverted) as r:
            vc.send(other, fn, stake_id)
        assert r.value.name == "NotStakeOwner" and r.value.args_ == {"stakeId": stake_id, "caller": other.address}
    with pytest.raises(Reverted) as r:
        vc.send(staker, "claim", 10**9)
    assert r.value.name == "UnknownStake"
    vc.send(staker, "unstake", stake_id)


def test_pool_exhaustion_names_needed_and_free_and_funding_reopens_it(vc: VaultChain) -> None:
    staker, funder = vc.accounts[3], vc.accounts[4]
    free = vc.figures()[2]
    # A reservation one wei more than the free pool: amount = free × 10,000 × YEAR / (aprBps × YEAR) at 100 % APR.
    amount = free + 1
    q, sig = vc.quote(staker.address, amount, 10_000, YEAR)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, q, sig)
    assert r.value.name == "PoolInsufficient" and r.value.args_ == {"needed": free + 1, "free": free}
    with pytest.raises(Reverted) as r:
        vc.send(funder, "fund")
    assert r.value.name == "ZeroFunding"
    receipt = vc.send(funder, "fund", value=1)
    assert vc.events(receipt, "PoolFunded") == [{"from": funder.address, "amount": 1}]
    stake_id, _ = vc.stake(staker, q, sig)  # the same quote now fits exactly
    assert vc.figures()[2] == 0
    receipt = vc.send(staker, "unstake", stake_id)  # early: the penalty and the unearned reward refill the pool
    (closed,) = vc.events(receipt, "Unstaked")
    assert closed["penalty"] == amount // 10
    assert vc.figures()[2] == amount // 10 + (free + 1 - closed["rewardsPaid"])


def test_neither_the_platform_key_nor_the_timelock_can_move_principal_or_pool_ether(vc: VaultChain) -> None:
    staker = vc.accounts[5]
    stake_id, _, _ = _stake_at(vc, staker, 2 * ETH, 1000, 10 * DAY)
    figures = vc.figures()
    platform = vc.platform
    # Every state-changing function of the ABI, tried by the platform key.
    writes = sorted(f["name"] for f in vc.vault.abi if f.get("type") == "function"
                    and f.get("stateMutability") in ("nonpayable", "payable"))
    assert writes == ["claim", "fund", "setQuoteSigner", "stake", "unstake"]
    for fn in ("claim", "unstake"):
        with pytest.raises(Reverted) as r:
            vc.send(platform, fn, stake_id)
        assert r.value.name == "NotStakeOwner"
    with pytest.raises(Reverted) as r:
        vc.send(platform, "setQuoteSigner", platform.address)
    assert r.value.name == "NotOwner"
    q, sig = vc.quote(staker.address, 2 * ETH, 1000, DAY)  # a quote for the staker is not the platform's to use
    with pytest.raises(Reverted) as r:
        vc.stake(platform, q, sig)
    assert r.value.name == "WrongStaker"
    with pytest.raises(Reverted):
        vc.c.send_data(platform, vc.vault.address, "0x", 1)  # plain ether: refused (no receive)
    assert vc.figures() == figures
    # The timelock (the owner) runs claim/unstake of the stake: the calls revert inside execute.
    for fn in ("claim", "unstake"):
        with pytest.raises(Reverted):
            vc.c.govern(vc.vault, fn, stake_id)
    assert vc.figures() == figures
    # Its one power: a new quote signer, which moves no ether and leaves open stakes as they are.
    stake_before = vc.get_stake(stake_id)
    new_signer = Account.from_key(OTHER_KEY).address
    receipt = vc.c.govern(vc.vault, "setQuoteSigner", new_signer)
    assert vc.events(receipt, "QuoteSignerChanged")[0]["current"] == new_signer
    assert vc.call("quoteSigner") == new_signer and vc.figures() == figures
    assert vc.get_stake(stake_id) == stake_before
    # Quotes of the old key stop opening stakes; the new key's do.
    old, old_sig = vc.quote(staker.address, ETH, 1000, DAY)
    with pytest.raises(Reverted) as r:
        vc.stake(staker, old, old_sig)
    assert r.value.name == "InvalidQuoteSignature"
    new, new_sig = vc.quote(staker.address, ETH, 1000, DAY, key=OTHER_KEY)
    new_id, _ = vc.stake(staker, new, new_sig)
    vc.send(staker, "unstake", new_id)
    vc.send(staker, "unstake", stake_id)
    vc.c.govern(vc.vault, "setQuoteSigner", DEV_QUOTE_SIGNER_ADDRESS)
    balance, principal, free, reserved = vc.figures()
    assert balance == principal + free + reserved


def test_a_staker_contract_cannot_re_enter_the_vault_while_being_paid(vc: VaultChain) -> None:
    from eth_utils import function_signature_to_4byte_selector

    caller = vc.accounts[6]
    attacker = vc.c.deploy("TestReentrantStaker", vc.vault.address)
    start = vc.c.now() + DAY
    q, sig = vc.quote(attacker.address, ETH, 5000, 10 * DAY, expiry=start + 60)
    vc.tester.time_travel(start)
    vc.c.send(caller, attacker, "stake", q.as_tuple(), sig, value=ETH, gas=600_000)
    stake_id = vc.c.call(attacker, "stakeId")
    figures = vc.figures()
    guard = function_signature_to_4byte_selector("ReentrancyGuardReentrantCall()")
    vc.tester.time_travel(start + DAY)
    vc.c.send(caller, attacker, "claimArmed", gas=600_000)
    claimed = vc.c.call(attacker, "received")
    assert claimed == vault.accrued(vc.get_stake(stake_id)["reward"], start, start + 10 * DAY, start + DAY) > 0
    assert vc.c.call(attacker, "payments") == 1
    assert vc.c.call(attacker, "claimError")[:4] == guard and vc.c.call(attacker, "unstakeError")[:4] == guard
    vc.tester.time_travel(start + 2 * DAY)
    vc.c.send(caller, attacker, "unstakeArmed", gas=600_000)
    s = vc.get_stake(stake_id)
    assert s["closed"] and vc.c.call(attacker, "payments") == 2
    earned = vault.accrued(s["reward"], start, start + 10 * DAY, start + 2 * DAY)
    assert vc.c.call(attacker, "received") == claimed + (ETH + earned - claimed - ETH // 10)
    balance, principal, free, reserved = vc.figures()
    assert balance == principal + free + reserved and principal == figures[1] - ETH
