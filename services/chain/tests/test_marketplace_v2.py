"""MarketplaceV2 on the real EVM (py-evm): sellers list by signing EIP-712 orders, buyers pay from
their own wallets, every wei is accounted for, every invalid order is refused with its own error,
an EIP-1271 contract wallet lists and sells, two buyers racing for one order get exactly one
sale, and no privileged key (platform signer, timelock proposer/executor) can move a user's
token or touch a user's balance; wiring changes only through the timelock after its delay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from chain_service import orders
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from v2_helpers import TIMELOCK_DELAY, ZERO, ZERO32, Reverted, V2Chain, artifact

PRICE = 7771


@pytest.fixture(scope="module")
def chain() -> V2Chain:
    return V2Chain()


@pytest.fixture
def a(chain: V2Chain) -> list[LocalAccount]:
    return chain.accounts


def reverts(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(Reverted) as err:
        fn(*args, **kwargs)
    assert err.value.name == name, err.value
    return err.value.args_


def mint3(chain: V2Chain, a: list[LocalAccount], owner: LocalAccount | None = None, royalty_bps: int = 1000) -> int:
    """Mint to `owner` (default a[1]) with co-creators a[2], a[3], a[4] at 30/30/40 %."""
    return chain.mint((owner or a[1]).address, [(a[2].address, 3000), (a[3].address, 3000), (a[4].address, 4000)],
                      royalty_bps)


def listed(chain: V2Chain, seller: LocalAccount, token_id: int, price: int = PRICE,
           **kw: Any) -> tuple[orders.Order, bytes]:
    order = chain.order(seller.address, token_id, price, **kw)
    return order, chain.sign_order(seller, order)


def test_buyer_pays_exactly_price_plus_gas_and_every_payee_is_credited_the_exact_wei(chain, a) -> None:
    token_id = mint3(chain, a)
    order, sig = listed(chain, a[1], token_id)
    buyer, platform = a[5], chain.platform
    payees = [a[1], a[2], a[3], a[4]]
    pending_before = [chain.pending(p.address) for p in payees]
    buyer_before, platform_before = chain.balance(buyer.address), chain.balance(platform.address)
    market_before = chain.balance(chain.c.market.address)

    receipt = chain.fulfill(buyer, order, sig)

    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert buyer_before - chain.balance(buyer.address) == PRICE + gas_cost
    assert chain.balance(platform.address) == platform_before  # the platform pays nothing
    # royalty floor(7771 * 10 %) = 777 split 30/30/40: 233 + 233 + 310 = 776, 1 wei remainder to the first.
    gained = [chain.pending(p.address) - b for p, b in zip(payees, pending_before, strict=True)]
    assert gained == [7771 - 777, 234, 233, 310]
    assert chain.balance(chain.c.market.address) - market_before == PRICE
    assert chain.call(chain.c.market, "totalPending") == chain.balance(chain.c.market.address)
    assert chain.owner_of(token_id) == buyer.address

    h = chain.call(chain.c.market, "hashOrder", order.as_tuple())
    assert h == orders.order_hash(order, chain.chain_id, chain.c.market.address)
    sold = chain.events(chain.c.market, receipt, "Sold")
    assert sold == [{"tokenId": token_id, "seller": a[1].address, "buyer": buyer.address, "price": PRICE,
                     "royalty": 777, "fee": 0, "orderHash": h}]
    assert chain.events(chain.c.market, receipt, "OrderFulfilled") == [
        {"orderHash": h, "seller": a[1].address, "recipient": buyer.address, "payer": buyer.address,
         "tokenId": token_id, "price": PRICE}]
    assert [(e["coCreator"], e["amount"]) for e in chain.events(chain.c.market, receipt, "RoyaltyCredited")] == [
        (a[2].address, 234), (a[3].address, 233), (a[4].address, 310)]
    assert chain.events(chain.c.market, receipt, "SellerCredited") == [
        {"tokenId": token_id, "seller": a[1].address, "amount": 6994}]
    assert chain.events(chain.c.market, receipt, "FeeCredited") == []
    assert chain.call(chain.c.market, "orderStatus", h) == 1  # Filled

    # The seller withdraws exactly its balance.
    seller_before = chain.balance(a[1].address)
    owed = chain.pending(a[1].address)
    w = chain.send(a[1], chain.c.market, "withdraw")
    assert chain.balance(a[1].address) == seller_before + owed - w["gasUsed"] * w["effectiveGasPrice"]
    assert chain.pending(a[1].address) == 0
    assert chain.events(chain.c.market, w, "Withdrawn") == [{"payee": a[1].address, "amount": owed}]


def test_fulfill_for_sends_the_token_to_the_named_recipient_and_charges_the_caller(chain, a) -> None:
    token_id = mint3(chain, a)
    order, sig = listed(chain, a[1], token_id, 1000)
    before = chain.balance(a[9].address)
    receipt = chain.fulfill(a[5], order, sig, recipient=a[9].address)
    assert chain.owner_of(token_id) == a[9].address and chain.balance(a[9].address) == before
    event = chain.events(chain.c.market, receipt, "OrderFulfilled")[0]
    assert (event["payer"], event["recipient"]) == (a[5].address, a[9].address)
    reverts("InvalidRecipient", chain.fulfill, a[5], *listed(chain, a[9], token_id, 1000), recipient=ZERO)


def test_cancelled_order_cannot_be_filled_and_only_its_seller_cancels(chain, a) -> None:
    token_id = mint3(chain, a)
    order, sig = listed(chain, a[1], token_id)
    h = chain.call(chain.c.market, "hashOrder", order.as_tuple())
    reverts("NotSeller", chain.send, a[7], chain.c.market, "cancel", [order.as_tuple()])
    reverts("NotSeller", chain.send, chain.platform, chain.c.market, "cancel", [order.as_tuple()])
    receipt = chain.send(a[1], chain.c.market, "cancel", [order.as_tuple()])
    assert chain.events(chain.c.market, receipt, "Cancelled") == [{"orderHash": h, "seller": a[1].address}]
    assert chain.call(chain.c.market, "orderStatus", h) == 2  # Cancelled
    reverts("OrderIsCancelled", chain.fulfill, a[5], order, sig)
    # A new order (new price) signed by the seller is fillable.
    new, new_sig = listed(chain, a[1], token_id, PRICE + 1)
    chain.fulfill(a[5], new, new_sig)
    # A filled order cannot be cancelled afterwards.
    reverts("OrderAlreadyFilled", chain.send, a[1], chain.c.market, "cancel", [new.as_tuple()])


def test_incrementing_the_counter_invalidates_every_earlier_order(chain, a) -> None:
    t1, t2 = mint3(chain, a), mint3(chain, a)
    o1, s1 = listed(chain, a[1], t1)
    o2, s2 = listed(chain, a[1], t2)
    receipt = chain.send(a[1], chain.c.market, "incrementCounter")
    counter = chain.call(chain.c.market, "counterOf", a[1].address)
    assert counter == o1.counter + 1
    assert chain.events(chain.c.market, receipt, "CounterIncremented") == [{"seller": a[1].address,
                                                                            "counter": counter}]
    for o, s in [(o1, s1), (o2, s2)]:
        args = reverts("OrderCounterInvalid", chain.fulfill, a[5], o, s)
        assert (args["orderCounter"], args["currentCounter"]) == (counter - 1, counter)
    fresh, fresh_sig = listed(chain, a[1], t1)
    assert fresh.counter == counter
    chain.fulfill(a[5], fresh, fresh_sig)
    # Someone else's counter is theirs alone: the platform incrementing its own changes nothing here.
    chain.send(chain.platform, chain.c.market, "incrementCounter")
    o3, s3 = listed(chain, a[1], t2)
    chain.fulfill(a[6], o3, s3)


def test_time_window_not_started_and_expired_orders_cannot_be_filled(chain, a) -> None:
    token_id = mint3(chain, a)
    now = chain.now()
    later, later_sig = listed(chain, a[1], token_id, start=now + 1000, end=now + 5000)
    reverts("OrderNotStarted", chain.fulfill, a[5], later, later_sig)
    short, short_sig = listed(chain, a[1], token_id, start=now - 10, end=now + 500)
    chain.travel(1001)
    reverts("OrderExpired", chain.fulfill, a[5], short, short_sig)
    chain.fulfill(a[5], later, later_sig)  # now inside its window


def test_stale_order_after_the_token_moved_and_an_already_filled_order_fail(chain, a) -> None:
    token_id = mint3(chain, a)
    order, sig = listed(chain, a[1], token_id)
    chain.send(a[1], chain.c.token, "transferFrom", a[1].address, a[9].address, token_id)
    assert reverts("OrderStale", chain.fulfill, a[5], order, sig)["owner"] == a[9].address
    # The new owner's own order works once; filling it again is refused.
    order2, sig2 = listed(chain, a[9], token_id)
    chain.fulfill(a[5], order2, sig2)
    reverts("OrderAlreadyFilled", chain.fulfill, a[6], order2, sig2)


def test_wrong_value_buyer_is_seller_and_unsupported_currency_or_token_revert(chain, a) -> None:
    token_id = mint3(chain, a)
    order, sig = listed(chain, a[1], token_id)
    for value in (0, PRICE - 1, PRICE + 1):
        assert reverts("WrongPayment", chain.fulfill, a[5], order, sig, value=value) == {"expected": PRICE,
                                                                                          "sent": value}
    reverts("BuyerIsSeller", chain.fulfill, a[1], order, sig)
    usdc = orders.Order(**{**order.__dict__, "currency": "0x" + "aa" * 20})
    reverts("UnsupportedCurrency", chain.fulfill, a[5], usdc, chain.sign_order(a[1], usdc))
    other = orders.Order(**{**order.__dict__, "token": chain.c.market.address})
    reverts("UnsupportedToken", chain.fulfill, a[5], other, chain.sign_order(a[1], other))
    chain.fulfill(a[5], order, sig)


def test_a_listing_signed_by_a_non_owner_cannot_be_filled(chain, a) -> None:
    token_id = mint3(chain, a)
    # The attacker names itself as seller of a token it does not own...
    own, own_sig = listed(chain, a[7], token_id)
    assert reverts("OrderStale", chain.fulfill, a[5], own, own_sig)["owner"] == a[1].address
    # ...or names the owner but signs with its own key (or the platform's).
    forged = chain.order(a[1].address, token_id, 1)
    reverts("InvalidSignature", chain.fulfill, a[5], forged, chain.sign_order(a[7], forged))
    reverts("InvalidSignature", chain.fulfill, a[5], forged, chain.sign_order(chain.platform, forged))
    reverts("InvalidSignature", chain.fulfill, a[5], forged, b"\x00" * 65)
    # A signature of one order does not fill another (e.g. a lower price).
    real, real_sig = listed(chain, a[1], token_id, 5000)
    cheaper = orders.Order(**{**real.__dict__, "price": 1})
    reverts("InvalidSignature", chain.fulfill, a[5], cheaper, real_sig, value=1)
    assert chain.owner_of(token_id) == a[1].address


def test_revoked_standing_approval_blocks_fills_until_an_explicit_approval(chain, a) -> None:
    token_id = mint3(chain, a)
    order, sig = listed(chain, a[1], token_id)
    chain.send(a[1], chain.c.token, "setMarketplaceApproval", False)
    try:
        reverts("MarketplaceNotApproved", chain.fulfill, a[5], order, sig)
        chain.send(a[1], chain.c.token, "approve", chain.c.market.address, token_id)
        chain.fulfill(a[5], order, sig)
    finally:
        chain.send(a[1], chain.c.token, "setMarketplaceApproval", True)


def test_an_eip1271_contract_wallet_lists_sells_cancels_and_withdraws(chain, a) -> None:
    owner_key = a[9]
    wallet = chain.deploy("TestSmartWallet", owner_key.address)
    token_id = mint3(chain, a, royalty_bps=0)
    chain.send(a[1], chain.c.token, "transferFrom", a[1].address, wallet.address, token_id)
    # The wallet's orders are signed by its owner key and checked through isValidSignature.
    order = chain.order(wallet.address, token_id, 10_000)
    sig = chain.sign_order(owner_key, order)
    reverts("InvalidSignature", chain.fulfill, a[5], order, chain.sign_order(a[7], order))
    # The wallet cancels an order through its own transaction.
    doomed = chain.order(wallet.address, token_id, 1)
    chain.send(owner_key, wallet, "execute", chain.c.market.address, 0,
               chain.c.market.encode_abi("cancel", args=[[doomed.as_tuple()]]))
    reverts("OrderIsCancelled", chain.fulfill, a[5], doomed, chain.sign_order(owner_key, doomed), value=1)

    chain.fulfill(a[5], order, sig)
    assert chain.owner_of(token_id) == a[5].address
    assert chain.pending(wallet.address) == 10_000
    chain.send(owner_key, wallet, "execute", chain.c.market.address, 0, chain.c.market.encode_abi("withdraw"))
    assert chain.balance(wallet.address) == 10_000 and chain.pending(wallet.address) == 0


def test_two_buyers_racing_for_one_order_get_exactly_one_sale(chain, a) -> None:
    token_id = mint3(chain, a)
    order, sig = listed(chain, a[1], token_id)
    data = chain.c.market.encode_abi("fulfill", args=[order.as_tuple(), sig])
    balances = {b.address: chain.balance(b.address) for b in (a[5], a[6])}
    raws = [chain.sign(b, chain.c.market.address, data, PRICE, 400_000) for b in (a[5], a[6])]
    assert chain.tester is not None
    chain.tester.disable_auto_mine_transactions()
    try:
        hashes = [chain.w3.eth.send_raw_transaction(r) for r in raws]
        chain.tester.mine_blocks(1)
    finally:
        chain.tester.enable_auto_mine_transactions()
    receipts = [dict(chain.w3.eth.get_transaction_receipt(h)) for h in hashes]
    assert receipts[0]["blockNumber"] == receipts[1]["blockNumber"]  # the same block: a real race
    assert sorted(r["status"] for r in receipts) == [0, 1]
    winner, loser = (a[5], a[6]) if receipts[0]["status"] == 1 else (a[6], a[5])
    win_r, lose_r = (receipts[0], receipts[1]) if winner is a[5] else (receipts[1], receipts[0])
    assert chain.owner_of(token_id) == winner.address
    assert balances[winner.address] - chain.balance(winner.address) == \
        PRICE + win_r["gasUsed"] * win_r["effectiveGasPrice"]
    assert balances[loser.address] - chain.balance(loser.address) == \
        lose_r["gasUsed"] * lose_r["effectiveGasPrice"]  # the loser keeps the price, pays only gas
    assert len(chain.events(chain.c.market, win_r, "Sold")) == 1
    assert chain.events(chain.c.market, lose_r, "Sold") == []


def test_a_buyer_contract_cannot_re_enter_the_marketplace_while_receiving_the_token(chain, a) -> None:
    attacker = chain.deploy("TestReentrantBuyer", chain.c.market.address)
    t1, t2 = mint3(chain, a), mint3(chain, a, owner=a[2])
    o1, s1 = listed(chain, a[1], t1, 1000)
    o2, s2 = listed(chain, a[2], t2, 2000)
    chain.send(a[5], attacker, "buy", o1.as_tuple(), s1, o2.as_tuple(), s2, value=3000)
    guard = bytes(keccak(text="ReentrancyGuardReentrantCall()")[:4])
    assert chain.call(attacker, "reentered") is False
    assert chain.call(attacker, "fulfillError") == guard and chain.call(attacker, "withdrawError") == guard
    assert chain.owner_of(t1) == attacker.address and chain.owner_of(t2) == a[2].address
    h2 = chain.call(chain.c.market, "hashOrder", o2.as_tuple())
    assert chain.call(chain.c.market, "orderStatus", h2) == 0 and chain.balance(attacker.address) == 2000
    assert chain.call(chain.c.market, "totalPending") == chain.balance(chain.c.market.address)
    chain.fulfill(a[6], o2, s2)  # the second order is untouched and still sells normally


def test_withdraw_for_pays_each_payee_only_its_own_balance_and_a_refusing_payee_never_blocks(chain, a) -> None:
    refusing = chain.deploy("TestContractWallet", a[8].address, True)
    token_id = chain.mint(a[1].address, [(refusing.address, 5000), (a[8].address, 5000)], 1000)
    order, sig = listed(chain, a[1], token_id, 10_000)
    chain.fulfill(a[5], order, sig)
    payee = a[8].address
    owed, owed_refusing = chain.pending(payee), chain.pending(refusing.address)
    assert owed >= 500 and owed_refusing == 500
    payee_before, platform_pending = chain.balance(payee), chain.pending(chain.platform.address)
    receipt = chain.send(chain.platform, chain.c.market, "withdrawFor", [refusing.address, payee, a[7].address])
    assert chain.balance(payee) == payee_before + owed and chain.pending(payee) == 0
    assert chain.pending(refusing.address) == owed_refusing  # kept, not lost
    assert chain.events(chain.c.market, receipt, "WithdrawalFailed") == [{"payee": refusing.address,
                                                                          "amount": owed_refusing}]
    assert chain.events(chain.c.market, receipt, "Withdrawn") == [{"payee": payee, "amount": owed}]
    assert chain.pending(chain.platform.address) == platform_pending == 0
    assert chain.call(chain.c.market, "totalPending") == chain.balance(chain.c.market.address)
    reverts("BatchTooLarge", chain.send, chain.platform, chain.c.market, "withdrawFor", [payee] * 101)
    reverts("NothingToWithdraw", chain.send, a[7], chain.c.market, "withdraw")


def test_platform_fee_changes_only_through_the_timelock_and_applies_to_resales_too(a) -> None:
    chain = V2Chain()
    market, timelock, fee_to = chain.c.market, chain.c.timelock, a[8].address
    assert (chain.call(market, "feeBps"), chain.call(market, "feeRecipient")) == (0, ZERO)
    assert reverts("NotGovernor", chain.send, chain.platform, market, "setFee", fee_to, 250) == {
        "caller": chain.platform.address}
    op = chain.schedule(market, "setFee", fee_to, 250)
    # Scheduled is not done: executing before the delay is refused, and a stranger cannot execute.
    reverts("TimelockUnexpectedOperationState", chain.execute, op)
    chain.travel(TIMELOCK_DELAY // 2)
    reverts("TimelockUnexpectedOperationState", chain.execute, op)
    reverts("AccessControlUnauthorizedAccount", chain.send, a[7], timelock, "execute", op[0], 0, op[1], ZERO32,
            op[2])
    chain.travel(TIMELOCK_DELAY // 2 + 1)
    receipt = chain.execute(op)
    assert chain.events(market, receipt, "FeeChanged") == [{"recipient": fee_to, "feeBps": 250}]
    assert chain.call(market, "feeBps") == 250

    token_id = mint3(chain, a)
    o1, s1 = listed(chain, a[1], token_id, 10_001)
    r1 = chain.fulfill(a[5], o1, s1)
    # fee floor(10001 * 2.5 %) = 250; royalty floor(10001 * 10 %) = 1000 → 300/300/400; seller the rest.
    assert chain.pending(fee_to) == 250
    assert [chain.pending(x.address) for x in a[1:5]] == [10_001 - 1000 - 250, 300, 300, 400]
    assert chain.events(market, r1, "FeeCredited") == [{"tokenId": token_id, "recipient": fee_to, "amount": 250}]
    # The buyer resells: the same fee and royalty rules apply.
    o2, s2 = listed(chain, a[5], token_id, 20_000)
    chain.fulfill(a[6], o2, s2)
    assert chain.pending(fee_to) == 250 + 500
    assert chain.pending(a[5].address) == 20_000 - 2000 - 500
    assert [chain.pending(x.address) for x in a[2:5]] == [300 + 600, 300 + 600, 400 + 800]
    assert chain.call(market, "totalPending") == chain.balance(market.address) == 30_001
    # The fee recipient withdraws its own balance like any payee.
    w = chain.send(a[8], market, "withdraw")
    assert chain.events(market, w, "Withdrawn") == [{"payee": fee_to, "amount": 750}]
    # Even through the timelock the fee is capped.
    op = chain.schedule(market, "setFee", fee_to, 1001)
    chain.travel(TIMELOCK_DELAY + 1)
    reverts("FeeTooHigh", chain.execute, op)
    # A change of recipient leaves what the old one was credited with the old one.
    chain.fulfill(a[5], *listed(chain, a[6], token_id, 1000))
    chain.govern(market, "setFee", a[9].address, 100)
    assert chain.pending(fee_to) == 25 and chain.pending(a[9].address) == 0


def test_marketplace_refuses_a_governor_that_is_not_a_timelock(chain, a) -> None:
    art = artifact("MarketplaceV2")
    factory = chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    data = factory.constructor(chain.c.token.address, chain.platform.address).data_in_transaction
    assert reverts("InvalidGovernor", chain.send_data, chain.platform, None, data) == {
        "governor": chain.platform.address}


# ------------------------------------------------------------------ roles

MARKET_WRITES = {"fulfill", "fulfillFor", "cancel", "incrementCounter", "withdraw", "withdrawFor", "setFee"}
TOKEN_WRITES = {"approve", "grantRole", "mint", "renounceRole", "revokeRole", "safeTransferFrom",
                "setApprovalForAll", "setMarketplace", "setMarketplaceApproval", "transferFrom"}


def writes(name: str) -> set[str]:
    return {i["name"] for i in artifact(name)["abi"]
            if i["type"] == "function" and i["stateMutability"] not in ("view", "pure")}


def test_the_role_surface_is_exactly_what_contracts_md_lists() -> None:
    assert writes("MarketplaceV2") == MARKET_WRITES
    assert writes("IPAssetTokenV2") == TOKEN_WRITES
    assert {"buyFor", "listFor", "transferFor"} & writes("MarketplaceV2") == set()


def test_the_platform_key_cannot_move_a_users_token_or_take_a_users_balance(chain, a) -> None:
    p, user = chain.platform, a[1]
    token, market, timelock = chain.c.token, chain.c.market, chain.c.timelock
    token_id = mint3(chain, a)
    order, sig = listed(chain, user, token_id, 5000)
    # Give the user a pending balance to protect.
    sold = mint3(chain, a)
    chain.fulfill(a[5], *listed(chain, user, sold, 3000))
    user_pending, market_balance = chain.pending(user.address), chain.balance(market.address)
    assert user_pending > 0
    minter = chain.call(token, "MINTER_ROLE")
    admin = chain.call(token, "DEFAULT_ADMIN_ROLE")
    assert chain.call(token, "hasRole", minter, p.address) and not chain.call(token, "hasRole", admin, p.address)
    assert chain.call(token, "hasRole", admin, timelock.address)
    assert not chain.call(token, "hasRole", minter, timelock.address)

    # Token: every write function, as the platform key.
    reverts("ERC721InsufficientApproval", chain.send, p, token, "transferFrom", user.address, p.address, token_id)
    reverts("ERC721InsufficientApproval", chain.send, p, token, "safeTransferFrom", user.address, p.address,
            token_id)
    reverts("ERC721InvalidApprover", chain.send, p, token, "approve", p.address, token_id)
    chain.send(p, token, "setApprovalForAll", p.address, True)  # only ever about its own tokens
    reverts("ERC721InsufficientApproval", chain.send, p, token, "transferFrom", user.address, p.address, token_id)
    chain.send(p, token, "setMarketplaceApproval", False)  # likewise only its own
    assert chain.call(token, "isApprovedForAll", user.address, market.address)
    reverts("AccessControlUnauthorizedAccount", chain.send, p, token, "setMarketplace", p.address)
    reverts("AccessControlUnauthorizedAccount", chain.send, p, token, "grantRole", admin, p.address)
    reverts("AccessControlUnauthorizedAccount", chain.send, p, token, "revokeRole", minter, a[2].address)
    reverts("AccessControlBadConfirmation", chain.send, p, token, "renounceRole", admin, timelock.address)
    # Minting creates new tokens only; an asset's token cannot be minted twice.
    chain.send(p, token, "mint", p.address, b"\xee" * 16, "u", [p.address], [10_000], 0)
    reverts("AssetAlreadyMinted", chain.send, p, token, "mint", p.address, b"\xee" * 16, "u", [p.address],
            [10_000], 0)

    # Marketplace: every write function, as the platform key.
    reverts("NotGovernor", chain.send, p, market, "setFee", p.address, 1000)
    reverts("NotSeller", chain.send, p, market, "cancel", [order.as_tuple()])
    forged = orders.Order(**{**order.__dict__, "price": 1})
    reverts("InvalidSignature", chain.fulfill, p, forged, chain.sign_order(p, forged))
    reverts("NothingToWithdraw", chain.send, p, market, "withdraw")
    chain.send(p, market, "incrementCounter")  # its own counter only
    p_before = chain.balance(p.address)
    u_before = chain.balance(user.address)
    r = chain.send(p, market, "withdrawFor", [user.address, p.address])
    assert chain.balance(user.address) == u_before + user_pending  # paid to its owner, never elsewhere
    assert chain.balance(p.address) == p_before - r["gasUsed"] * r["effectiveGasPrice"]
    assert chain.balance(market.address) == market_balance - user_pending

    # Through the timelock (the platform is its proposer and executor): still no token moves.
    op = chain.schedule(token, "transferFrom", user.address, p.address, token_id)
    chain.travel(TIMELOCK_DELAY + 1)
    reverts("ERC721InsufficientApproval", chain.execute, op)
    # The timelock cannot be rushed or reconfigured directly.
    reverts("TimelockInsufficientDelay", chain.send, p, timelock, "schedule", market.address, 0,
            market.encode_abi("setFee", args=[p.address, 1]), ZERO32, ZERO32, TIMELOCK_DELAY - 1)
    reverts("TimelockUnauthorizedCaller", chain.send, p, timelock, "updateDelay", 0)
    reverts("AccessControlUnauthorizedAccount", chain.send, a[7], timelock, "schedule", market.address, 0,
            market.encode_abi("setFee", args=[a[7].address, 1]), ZERO32, ZERO32, TIMELOCK_DELAY)
    # The user's order still sells to a real buyer, and the token is still the user's until then.
    assert chain.owner_of(token_id) == user.address
    chain.fulfill(a[6], order, sig)
    assert chain.owner_of(token_id) == a[6].address


def test_rewiring_the_tokens_marketplace_is_timelocked_and_never_carries_owners_approval_over(a) -> None:
    chain = V2Chain()
    p, owner, adopter = chain.platform, a[1], a[2]
    token, first = chain.c.token, chain.c.market
    assert chain.call(token, "initialMarketplace") == first.address
    t_owner = chain.mint(owner.address, [(owner.address, 10_000)], 0)
    t_adopter = chain.mint(adopter.address, [(adopter.address, 10_000)], 0)
    assert chain.call(token, "standingApprovalOf", owner.address) == first.address
    # A (hostile) rewiring to an address the platform controls: public (CallScheduled) for the whole
    # delay, and refused before it.
    op = chain.schedule(token, "setMarketplace", p.address)
    reverts("TimelockUnexpectedOperationState", chain.execute, op)
    chain.travel(TIMELOCK_DELAY + 1)
    chain.execute(op)
    assert chain.call(token, "marketplace") == p.address
    # Owners who did nothing did not approve the new marketplace: it cannot move their tokens.
    assert chain.call(token, "standingApprovalOf", owner.address) == ZERO
    assert not chain.call(token, "isApprovedForAll", owner.address, p.address)
    reverts("ERC721InsufficientApproval", chain.send, p, token, "transferFrom", owner.address, p.address, t_owner)
    # Orders on the first marketplace stop being fillable rather than becoming unsafe.
    order, sig = listed(chain, owner, t_owner, 100)
    reverts("MarketplaceNotApproved", chain.fulfill, a[5], order, sig)
    # An owner who explicitly accepts the wired marketplace gives it the standing approval.
    chain.send(adopter, token, "setMarketplaceApproval", True)
    assert chain.call(token, "standingApprovalOf", adopter.address) == p.address
    chain.send(p, token, "transferFrom", adopter.address, p.address, t_adopter)
    assert chain.owner_of(t_owner) == owner.address and chain.owner_of(t_adopter) == p.address
    # Wiring back to the first marketplace restores the default approval of those who never chose.
    chain.govern(token, "setMarketplace", first.address)
    chain.fulfill(a[5], order, sig)
    assert chain.owner_of(t_owner) == a[5].address
