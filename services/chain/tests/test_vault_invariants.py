"""Property-based invariants of StakingVault on the real EVM (hypothesis, stateful): over random
sequences of stake (random amount, APR, duration), claim, unstake, fund and time jumps by random
stakers,
  - the vault's ether balance always equals totalPrincipal + poolFree + poolReserved (= open
    principal + free pool + rewards reserved and not yet paid), and poolReserved equals the sum
    over open stakes of reward − claimed;
  - every claim and unstake pays exactly what the contract's arithmetic (chain_service.vault:
    accrued, penalty) gives at the block's time, to the staker only, and no stake ever pays its
    staker more than its principal plus its reservation;
  - a stake the pool cannot cover is refused (PoolInsufficient) exactly when the model says so.
Bounded (few examples, short sequences, one chain reverted to a snapshot per example)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chain_service import vault
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from v2_helpers import Reverted
from vault_helpers import VaultChain

ETH = 10**18
DAY = 86_400
STAKERS = range(1, 6)
PENALTY_BPS = 1000


@dataclass
class Opened:
    stake_id: int
    staker: int
    amount: int
    reward: int
    start: int
    end: int
    claimed: int = 0
    paid: int = 0  # everything the stake paid its staker (claims + unstake)
    closed: bool = False


_chain: tuple[VaultChain, object] | None = None


def fresh_chain() -> VaultChain:
    global _chain
    if _chain is None:
        chain = VaultChain(PENALTY_BPS)
        chain.send(chain.accounts[8], "fund", value=50 * ETH)
        assert chain.tester is not None
        _chain = (chain, chain.tester.take_snapshot())
    chain, snapshot = _chain
    assert chain.tester is not None
    chain.tester.revert_to_snapshot(snapshot)
    return chain


class VaultMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.vc = fresh_chain()
        self.stakes: list[Opened] = []
        self.free = int(self.vc.call("poolFree"))

    def _paid_to(self, receipt: dict, staker: int, before: int) -> int:
        """What the staker's wallet received, net of the gas it paid for the call."""
        return self.vc.c.balance(self.vc.accounts[staker].address) - before + self.vc.fee(receipt)

    @rule(staker=st.sampled_from(STAKERS),
          amount=st.one_of(st.integers(1, 10**6), st.integers(10**15, 20 * ETH)),
          apr=st.sampled_from([0, 1, 850, 1200, 5000, 20_000]),
          duration=st.one_of(st.integers(1, 120), st.integers(DAY, 400 * DAY)))
    def stake(self, staker: int, amount: int, apr: int, duration: int) -> None:
        vc = self.vc
        account = vc.accounts[staker]
        q, sig = vc.quote(account.address, amount, apr, duration)
        reward = vault.reservation(amount, apr, duration)
        try:
            stake_id, receipt = vc.stake(account, q, sig)
        except Reverted as err:
            assert err.name == "PoolInsufficient" and reward > self.free, err
            assert err.args_ == {"needed": reward, "free": self.free}
            return
        assert reward <= self.free, "a stake the pool could not cover was opened"
        self.free -= reward
        s = vc.get_stake(stake_id)
        assert (s["amount"], s["reward"], s["end"] - s["start"]) == (amount, reward, duration)
        self.stakes.append(Opened(stake_id, staker, amount, reward, s["start"], s["end"]))

    @precondition(lambda self: any(not s.closed for s in self.stakes))
    @rule(pick=st.integers(0, 100))
    def claim(self, pick: int) -> None:
        vc = self.vc
        s = [x for x in self.stakes if not x.closed][pick % sum(1 for x in self.stakes if not x.closed)]
        account = vc.accounts[s.staker]
        before = vc.c.balance(account.address)
        try:
            receipt = vc.send(account, "claim", s.stake_id, gas=200_000)
        except Reverted:
            # Reverted in its block: nothing accrued unclaimed at that time (the head moved on by it).
            at = vc.c.now()
            assert vault.accrued(s.reward, s.start, s.end, at) == s.claimed
            return
        at = vc.block_time(receipt)
        expected = vault.accrued(s.reward, s.start, s.end, at) - s.claimed
        (event,) = vc.events(receipt, "RewardsClaimed")
        assert event["amount"] == expected > 0 and self._paid_to(receipt, s.staker, before) == expected
        s.claimed += expected
        s.paid += expected

    @precondition(lambda self: any(not s.closed for s in self.stakes))
    @rule(pick=st.integers(0, 100))
    def unstake(self, pick: int) -> None:
        vc = self.vc
        s = [x for x in self.stakes if not x.closed][pick % sum(1 for x in self.stakes if not x.closed)]
        account = vc.accounts[s.staker]
        before = vc.c.balance(account.address)
        receipt = vc.send(account, "unstake", s.stake_id, gas=200_000)
        at = vc.block_time(receipt)
        early = at < s.end
        earned = vault.accrued(s.reward, s.start, s.end, at) if early else s.reward
        cut = vault.penalty(s.amount, PENALTY_BPS) if early else 0
        expected = s.amount + earned - s.claimed - cut
        (event,) = vc.events(receipt, "Unstaked")
        assert (event["paid"], event["penalty"], event["early"]) == (expected, cut, early)
        assert self._paid_to(receipt, s.staker, before) == expected
        self.free += cut + (s.reward - earned)
        s.paid += expected - s.amount + cut  # the rewards part
        s.claimed, s.closed = earned, True
        with_penalty_paid = s.paid + s.amount - cut
        assert with_penalty_paid <= s.amount + s.reward

    @rule(funder=st.sampled_from([*STAKERS, 8]), amount=st.integers(1, 5 * ETH))
    def fund(self, funder: int, amount: int) -> None:
        self.vc.send(self.vc.accounts[funder], "fund", value=amount)
        self.free += amount

    @rule(seconds=st.one_of(st.integers(1, 90), st.integers(DAY, 200 * DAY)))
    def time_passes(self, seconds: int) -> None:
        assert self.vc.tester is not None
        self.vc.tester.time_travel(self.vc.c.now() + seconds)
        self.vc.tester.mine_blocks(1)

    @invariant()
    def balance_equals_principal_plus_pool(self) -> None:
        balance, principal, free, reserved = self.vc.figures()
        assert balance == principal + free + reserved
        open_ = [s for s in self.stakes if not s.closed]
        assert principal == sum(s.amount for s in open_)
        assert reserved == sum(s.reward - s.claimed for s in open_)
        assert free == self.free
        for s in self.stakes:  # rewards paid never exceed the reservation
            assert s.paid <= s.reward


VaultMachine.TestCase.settings = settings(
    # No shrink phase (a step costs tens of ms on this EVM; a failure reports its unshrunk steps).
    max_examples=10, stateful_step_count=15, deadline=timedelta(seconds=60),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], database=None,
)


def test_vault_invariants_hold_over_random_sequences() -> None:
    VaultMachine.TestCase().runTest()
