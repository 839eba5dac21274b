"""Property-based invariants of MarketplaceV2 on the real EVM (hypothesis, stateful): over random
sequences of list (sign an order), cancel, fulfill, withdraw, withdrawFor and incrementCounter by
random users, with a platform fee switched on,
  - the marketplace's ether balance always equals `totalPending` and the sum of every pending
    balance (sellers, co-creators, fee recipient — unclaimed fees are pending balances);
  - no pending balance ever falls except by its owner's withdrawal (withdraw or withdrawFor), and
    then to exactly zero with exactly that amount paid to the owner;
  - an order is filled at most once, and a fill succeeds exactly when a model of the rules says
    the order is fillable (not filled, not cancelled, counter current, seller still owns it).
Bounded (few examples, short sequences, one chain for all) to run in well under a minute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chain_service import orders
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from v2_helpers import Reverted, V2Chain

USERS = range(1, 7)  # accounts[1..6] trade; accounts[8] receives the fee
FEE_BPS = 150


@dataclass
class Listing:
    order: orders.Order
    signature: bytes
    order_hash: bytes
    cancelled: bool = False
    filled: int = 0


_chain: tuple[V2Chain, object] | None = None


def fresh_chain() -> V2Chain:
    """The same starting state for every example: deployed once, then reverted to a snapshot (so
    hypothesis can replay and shrink an example deterministically)."""
    global _chain
    if _chain is None:
        chain = V2Chain()
        chain.govern(chain.c.market, "setFee", chain.accounts[8].address, FEE_BPS)
        a = chain.accounts
        for u in USERS:  # token u starts with user u; co-creators are users too
            chain.mint(a[u].address, [(a[u % 6 + 1].address, 6000), (a[(u + 1) % 6 + 1].address, 4000)], 500)
        assert chain.tester is not None
        _chain = (chain, chain.tester.take_snapshot())
    chain, snapshot = _chain
    assert chain.tester is not None
    chain.tester.revert_to_snapshot(snapshot)
    return chain


class MarketplaceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.chain = fresh_chain()
        a = self.chain.accounts
        self.payees = [a[u].address for u in USERS] + [a[8].address]
        self.listings: list[Listing] = []
        self.owner = {u: u for u in USERS}  # token id → user index (model)
        self.pending = {p: self.chain.pending(p) for p in self.payees}
        self.withdrawn_by: set[str] = set()
        self.touched: list[Listing] = []

    def _owned(self, user: int) -> list[int]:
        return sorted(t for t, u in self.owner.items() if u == user)

    @initialize(prices=st.lists(st.integers(min_value=1, max_value=10**6), min_size=len(USERS),
                                max_size=len(USERS)))
    def everyone_lists(self, prices: list[int]) -> None:
        for user, price in zip(USERS, prices, strict=True):
            self.list_token(user, price, 0)

    @rule(user=st.sampled_from(USERS), price=st.integers(min_value=1, max_value=10**6), pick=st.integers(0, 5))
    def list_token(self, user: int, price: int, pick: int) -> None:
        owned = self._owned(user)
        if not owned:
            return
        seller = self.chain.accounts[user]
        order = self.chain.order(seller.address, owned[pick % len(owned)], price)
        h = self.chain.call(self.chain.c.market, "hashOrder", order.as_tuple())
        self.listings.append(Listing(order, self.chain.sign_order(seller, order), h))

    @precondition(lambda self: self.listings)
    @rule(index=st.integers(0, 50))
    def cancel(self, index: int) -> None:
        listing = self.listings[index % len(self.listings)]
        self.touched.append(listing)
        seller = next(x for x in self.chain.accounts if x.address == listing.order.seller)
        try:
            self.chain.send(seller, self.chain.c.market, "cancel", [listing.order.as_tuple()])
        except Reverted as err:
            assert err.name == "OrderAlreadyFilled" and listing.filled == 1
            return
        assert listing.filled == 0
        listing.cancelled = True

    @precondition(lambda self: self.listings)
    @rule(index=st.integers(0, 50), buyer=st.sampled_from(USERS))
    def fulfill(self, index: int, buyer: int) -> None:
        listing = self.listings[index % len(self.listings)]
        o = listing.order
        buyer_account = self.chain.accounts[buyer]
        self.touched.append(listing)
        fillable = (not listing.cancelled and listing.filled == 0
                    and o.counter == self.chain.call(self.chain.c.market, "counterOf", o.seller)
                    and self.chain.accounts[self.owner[o.token_id]].address == o.seller
                    and buyer_account.address != o.seller)
        try:
            receipt = self.chain.fulfill(buyer_account, o, listing.signature)
        except Reverted as err:
            assert not fillable, f"a fillable order was refused: {err}"
            assert err.name in {"OrderAlreadyFilled", "OrderIsCancelled", "OrderCounterInvalid", "OrderStale",
                                "BuyerIsSeller"}, err
            return
        assert fillable, "an order the rules refuse was filled"
        listing.filled += 1
        assert [e["orderHash"] for e in self.chain.events(self.chain.c.market, receipt, "Sold")] == \
            [listing.order_hash]
        assert self.chain.owner_of(o.token_id) == buyer_account.address
        self.owner[o.token_id] = buyer

    @rule(user=st.sampled_from([*USERS, 8]))
    def withdraw(self, user: int) -> None:
        account = self.chain.accounts[user]
        owed = self.chain.pending(account.address)
        before = self.chain.balance(account.address)
        try:
            receipt = self.chain.send(account, self.chain.c.market, "withdraw")
        except Reverted as err:
            assert err.name == "NothingToWithdraw" and owed == 0
            return
        gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        assert self.chain.balance(account.address) == before + owed - gas
        assert self.chain.pending(account.address) == 0
        self.withdrawn_by.add(account.address)

    @rule(users=st.lists(st.sampled_from([*USERS, 8]), min_size=1, max_size=4, unique=True))
    def withdraw_for(self, users: list[int]) -> None:
        addresses = [self.chain.accounts[u].address for u in users]
        owed = {x: self.chain.pending(x) for x in addresses}
        before = {x: self.chain.balance(x) for x in addresses}
        self.chain.send(self.chain.platform, self.chain.c.market, "withdrawFor", addresses)
        for x in addresses:  # each payee got exactly its own balance (they pay no gas here)
            assert self.chain.balance(x) == before[x] + owed[x] and self.chain.pending(x) == 0
        self.withdrawn_by.update(addresses)

    @precondition(lambda self: self.listings)
    @rule(index=st.integers(0, 50), buyer=st.sampled_from(USERS))
    def fulfill_another(self, index: int, buyer: int) -> None:
        """The same rule twice: buying is the interesting step, so it is drawn more often."""
        self.fulfill(index, buyer)

    @rule(user=st.sampled_from(USERS))
    def increment_counter(self, user: int) -> None:
        self.chain.send(self.chain.accounts[user], self.chain.c.market, "incrementCounter")

    @invariant()
    def balance_equals_pending(self) -> None:
        market = self.chain.c.market
        now = {p: self.chain.pending(p) for p in self.payees}
        assert self.chain.balance(market.address) == self.chain.call(market, "totalPending") == sum(now.values())
        for payee, amount in now.items():
            if payee in self.withdrawn_by:
                assert amount >= 0  # withdrawn to zero, then possibly credited again
            else:
                assert amount >= self.pending[payee], f"{payee}'s balance fell without its withdrawal"
        self.pending = now
        self.withdrawn_by = set()

    @invariant()
    def filled_at_most_once(self) -> None:
        assert all(listing.filled <= 1 for listing in self.listings)
        for listing in self.touched:  # the chain agrees on every order a step acted on
            status = self.chain.call(self.chain.c.market, "orderStatus", listing.order_hash)
            assert status == (1 if listing.filled else 2 if listing.cancelled else 0)
        self.touched = []


MarketplaceMachine.TestCase.settings = settings(
    # deadline: per example (one sequence), a guard against a hung node on a loaded machine.
    # No shrink phase: on this EVM a step costs ~0.2 s and shrinking a failure would take minutes;
    # a failure reports its unshrunk sequence of steps.
    max_examples=6, stateful_step_count=12, deadline=timedelta(seconds=60),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], database=None,
)


def test_marketplace_invariants_hold_over_random_sequences() -> None:
    MarketplaceMachine.TestCase().runTest()
