"""The contracts' own rules on the real EVM (py-evm): minting, ERC-165/2981 answers,
listing, buying with exact royalty splits, reverts with clear custom errors, and
pull-payment withdrawals — mostly through ChainService, some as users signing directly."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from chain_helpers import call_as, send_as
from chain_service.contracts import decode_revert, load_artifact
from chain_service.domain import Transaction, royalty_split
from chain_service.service import ChainService
from chain_service.txmanager import ContractRevert, TxRequest
from eth_account.signers.local import LocalAccount
from ipheron_libs.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)


async def mint3(chain: ChainService, users: list[LocalAccount], asset: str, royalty_bps: int = 1000) -> int:
    """Mint to users[0] with co-creators users[1..3] at 30/30/40 %."""
    result = await chain.mint(asset, users[0].address, f"ipfs://{asset}",
                              [(users[1].address, 3000), (users[2].address, 3000), (users[3].address, 4000)],
                              royalty_bps)
    return result.token_id


async def pending(chain: ChainService, address: str) -> int:
    return (await chain.balance(address))[1]


async def test_mint_records_owner_asset_uri_and_co_creators(chain, users, new_asset) -> None:
    asset = new_asset()
    result = await chain.mint(asset, users[0].address, "ipfs://bafy-meta",
                              [(users[1].address, 6000), (users[2].address, 4000)], 750)
    info = await chain.token_info(token_id=result.token_id)
    assert (info.owner, info.asset_id, info.uri) == (users[0].address, asset, "ipfs://bafy-meta")
    assert info.co_creators == [(users[1].address, 6000), (users[2].address, 4000)]
    assert info.royalty_bps == 750 and info.listing is None
    assert result.tx.record.status == "confirmed" and result.tx.record.token_id == result.token_id
    assert (await chain.token_info(asset_id=asset)).token_id == result.token_id


async def test_minting_the_same_asset_again_returns_the_first_token(chain, users, new_asset) -> None:
    asset = new_asset()
    first = await chain.mint(asset, users[0].address, "u", [(users[1].address, 10_000)], 0)
    again = await chain.mint(asset, users[5].address, "other", [(users[2].address, 10_000)], 0)
    assert again.already_minted and again.token_id == first.token_id
    assert again.tx.record.tx_hash == first.tx.record.tx_hash


async def test_mint_rejects_shares_not_summing_to_10000_in_service_and_contract(chain, users, new_asset) -> None:
    with pytest.raises(InvalidArgument, match="sum to 10000"):
        await chain.mint(new_asset(), users[0].address, "u", [(users[1].address, 5000)], 100)
    # The contract enforces it too, whoever calls it.
    data = chain.token.encode_abi("mint", args=[users[0].address, uuid.uuid4().bytes, "u", [users[1].address],
                                                [5000], 100])
    with pytest.raises(ContractRevert) as err:
        await chain.tm.estimate_gas(TxRequest(type="mint", to=chain.token.address, data=data))
    assert err.value.revert is not None and err.value.revert.name == "SharesMustSumTo10000"
    assert err.value.revert.args == {"sum": 5000}


async def test_unauthorized_mint_reverts_with_access_control_error(chain, users) -> None:
    data = chain.token.encode_abi("mint", args=[users[0].address, uuid.uuid4().bytes, "u", [users[0].address],
                                                [10_000], 0])
    with pytest.raises(Exception) as err:
        await call_as(chain, users[0].address, chain.token.address, data)
    rev = decode_revert(err.value)
    assert rev is not None and rev.name == "AccessControlUnauthorizedAccount"
    assert rev.args["account"] == users[0].address


async def test_royalty_info_follows_eip2981_and_interfaces_are_advertised(chain, users, new_asset) -> None:
    token_id = await mint3(chain, users, new_asset(), royalty_bps=250)
    receiver, royalty = await chain.network.run(chain.token.functions.royaltyInfo(token_id, 10**18).call)
    assert (receiver, royalty) == (users[1].address, 25 * 10**15)  # 2.5 %, receiver = first co-creator
    _, royalty_wei, split, proceeds = await chain.royalty_info(token_id, "1001")
    assert royalty_wei == 25 and proceeds == 976
    assert split == [(users[1].address, 8), (users[2].address, 7), (users[3].address, 10)]  # 7.5→7+1, 7.5→7, 10
    supports = chain.token.functions.supportsInterface
    for iface, expected in [("80ac58cd", True), ("2a55205a", True), ("7965db0b", True), ("01ffc9a7", True),
                            ("5b5e139f", True), ("ffffffff", False), ("12345678", False)]:
        assert await chain.network.run(supports(bytes.fromhex(iface)).call) is expected, iface


async def test_buy_pays_seller_and_splits_royalty_among_three_co_creators_exactly(chain, users, new_asset) -> None:
    asset = new_asset()
    token_id = await mint3(chain, users, asset, royalty_bps=1000)
    before = {u.address: await pending(chain, u.address) for u in users[:4]}
    view, (seller, price) = await chain.list_token(token_id, "7771")
    assert (seller, price) == (users[0].address, 7771) and view.record.type == "list"
    assert any(e.name == "Listed" for e in view.events)

    result = await chain.buy(token_id, users[4].address, "7771", f"buy-{asset}", asset_id=asset)
    # royalty = floor(7771 * 10 %) = 777; 30 % → 233.1, 30 % → 233.1, 40 % → 310.8: floors 233+233+310 = 776,
    # the 1 wei remainder goes to the first co-creator.
    assert result.royalty == 777 and result.seller == users[0].address
    assert sorted(result.payouts) == sorted([(users[1].address, 234, "royalty"), (users[2].address, 233, "royalty"),
                                             (users[3].address, 310, "royalty"), (users[0].address, 6994, "seller")])
    for user, gained in [(users[0], 6994), (users[1], 234), (users[2], 233), (users[3], 310)]:
        assert await pending(chain, user.address) - before[user.address] == gained
    info = await chain.token_info(token_id=token_id)
    assert info.owner == users[4].address and info.listing is None
    names = [e.name for e in result.tx.events]
    assert {"Sold", "SellerCredited", "RoyaltyCredited", "Transfer"} <= set(names)
    rec = result.tx.record
    assert (rec.type, rec.status, int(rec.amount_wei), str(rec.asset_id)) == ("buy", "confirmed", 7771, asset)
    assert rec.gas_used and rec.gas_price_wei and rec.block_number and rec.block_time
    assert royalty_split(777, [("a", 3000), ("b", 3000), ("c", 4000)]) == [("a", 234), ("b", 233), ("c", 310)]


async def test_buying_an_unlisted_or_already_sold_token_fails_clearly(chain, users, new_asset) -> None:
    token_id = await mint3(chain, users, new_asset())
    with pytest.raises(FailedPrecondition, match=f"token {token_id} is not listed"):
        await chain.buy(token_id, users[4].address, "100", "unlisted-" + new_asset())
    await chain.list_token(token_id, "100")
    with pytest.raises(FailedPrecondition, match="price mismatch: the token is listed at 100 wei, 99 wei offered"):
        await chain.buy(token_id, users[4].address, "99", "cheap-" + new_asset())
    await chain.buy(token_id, users[4].address, "100", "first-" + new_asset())
    with pytest.raises(FailedPrecondition, match="not listed for sale .*already sold"):
        await chain.buy(token_id, users[5].address, "100", "second-" + new_asset())


async def test_same_idempotency_key_returns_the_same_purchase(chain, users, new_asset) -> None:
    token_id = await mint3(chain, users, new_asset())
    await chain.list_token(token_id, "5000")
    key = "idem-" + new_asset()
    first = await chain.buy(token_id, users[4].address, "5000", key)
    again = await chain.buy(token_id, users[4].address, "5000", key)
    assert again.tx.record.tx_hash == first.tx.record.tx_hash and again.payouts == first.payouts
    with pytest.raises(Conflict, match="different purchase"):
        await chain.buy(token_id, users[5].address, "5000", key)


async def test_only_the_owner_or_operator_lists_and_owners_can_revoke(chain, users, new_asset) -> None:
    token_id = await mint3(chain, users, new_asset())
    # A stranger cannot list someone else's token...
    data = chain.market.encode_abi("list", args=[token_id, 10])
    with pytest.raises(Exception) as err:
        await call_as(chain, users[6].address, chain.market.address, data)
    assert decode_revert(err.value).name == "NotTokenOwner"  # type: ignore[union-attr]
    # ...nor use the operator entry point.
    data = chain.market.encode_abi("listFor", args=[token_id, 10])
    with pytest.raises(Exception) as err:
        await call_as(chain, users[6].address, chain.market.address, data)
    assert decode_revert(err.value).name == "AccessControlUnauthorizedAccount"  # type: ignore[union-attr]
    # The owner lists directly.
    receipt = await send_as(chain, users[0], chain.market.address, chain.market.encode_abi("list", args=[token_id, 42]))
    assert receipt["status"] == 1
    assert (await chain.token_info(token_id=token_id)).listing == (users[0].address, 42)
    # Once the owner revokes the marketplace's standing approval, the platform cannot list for it.
    await send_as(chain, users[0], chain.token.address, chain.token.encode_abi("setMarketplaceApproval", args=[False]))
    try:
        with pytest.raises(FailedPrecondition, match="revoked the marketplace's approval"):
            await chain.list_token(token_id, "50")
    finally:
        await send_as(chain, users[0], chain.token.address,
                      chain.token.encode_abi("setMarketplaceApproval", args=[True]))


async def test_unknown_token_is_not_found(chain) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        await chain.token_info(token_id=999_999)


async def test_transfer_moves_the_token_and_drops_its_listing(chain, users, new_asset) -> None:
    token_id = await mint3(chain, users, new_asset())
    await chain.list_token(token_id, "10")
    view = await chain.transfer_token(token_id, users[7].address)
    assert view.record.type == "transfer" and view.record.counterparty == users[7].address
    info = await chain.token_info(token_id=token_id)
    assert info.owner == users[7].address and info.listing is None


async def test_withdrawals_pay_exact_balances_and_a_refusing_payee_never_blocks(chain, users, new_asset) -> None:
    # A contract wallet that refuses ether is a co-creator; it must not block the sale or the batch.
    wallet = load_artifact("TestContractWallet")
    factory = chain.network.w3.eth.contract(abi=wallet.abi, bytecode=wallet.bytecode)
    deployed = await chain.tm.send(TxRequest(type="deploy", to=None,
                                             data=factory.constructor(users[8].address, True).data_in_transaction))
    refusing = deployed.receipt["contractAddress"]
    asset = new_asset()
    minted = await chain.mint(asset, users[0].address, "u", [(refusing, 5000), (users[8].address, 5000)], 1000)
    await chain.list_token(minted.token_id, "10000")
    await chain.buy(minted.token_id, users[4].address, "10000", "w-" + asset)

    payee = users[8].address
    owed = await pending(chain, payee)
    assert owed >= 500 and await pending(chain, refusing) >= 500
    native_before = (await chain.balance(payee))[2]
    view, results = await chain.withdraw([refusing, payee])
    assert (payee, owed, True) in results
    assert any(addr == refusing and not ok for addr, _, ok in results)
    assert await pending(chain, payee) == 0
    assert (await chain.balance(payee))[2] - native_before == owed  # the platform paid the gas, not the payee
    assert await pending(chain, refusing) >= 500  # kept for later
    assert view.record.type == "withdraw" and int(view.record.amount_wei) == owed

    # A user withdraws its own balance directly too.
    seller = users[0].address
    assert await pending(chain, seller) > 0
    receipt = await send_as(chain, users[0], chain.market.address, chain.market.encode_abi("withdraw"))
    assert receipt["status"] == 1 and await pending(chain, seller) == 0
    with pytest.raises(FailedPrecondition, match="no payee has a pending balance"):
        await chain.withdraw([seller])


async def test_signatures_verify_for_accounts_and_eip1271_contract_wallets(chain, users) -> None:
    from eth_account.messages import encode_defunct

    message = b"Sign in to IPheron"
    signature = users[0].sign_message(encode_defunct(primitive=message)).signature
    assert await chain.verify_signature(users[0].address, message, None, signature) == (True, "ecdsa", users[0].address)
    valid, method, _ = await chain.verify_signature(users[1].address, message, None, signature)
    assert (valid, method) == (False, "ecdsa")

    wallet = load_artifact("TestContractWallet")
    factory = chain.network.w3.eth.contract(abi=wallet.abi, bytecode=wallet.bytecode)
    deployed = await chain.tm.send(TxRequest(type="deploy", to=None,
                                             data=factory.constructor(users[0].address, False).data_in_transaction))
    contract_wallet = deployed.receipt["contractAddress"]
    assert await chain.verify_signature(contract_wallet, message, None, signature) == (True, "eip1271", "")
    other = users[1].sign_message(encode_defunct(primitive=message)).signature
    assert (await chain.verify_signature(contract_wallet, message, None, other))[0] is False


async def test_bad_inputs_are_rejected_before_any_transaction(chain, users, new_asset) -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: chain.mint("not-a-uuid", users[0].address, "u", [(users[1].address, 10_000)], 0), "asset_id"),
        (lambda: chain.mint(new_asset(), "0x123", "u", [(users[1].address, 10_000)], 0), "owner_address"),
        (lambda: chain.mint(new_asset(), users[0].address, "u", [(users[1].address, 10_000)], 5001), "royalty_bps"),
        (lambda: chain.mint(new_asset(), users[0].address, "u", [], 0), "co_creators"),
        (lambda: chain.list_token(1, "1.5"), "price_wei"),
        (lambda: chain.list_token(1, "-3"), "price_wei"),
        (lambda: chain.buy(1, users[0].address, "1", ""), "idempotency_key"),
        (lambda: chain.withdraw([]), "payees"),
    ]
    for make, field in cases:
        with pytest.raises(InvalidArgument) as err:
            await make()  # type: ignore[misc]
        assert err.value.field == field


async def test_operator_role_is_required_for_buy_for(chain, users) -> None:
    data = chain.market.encode_abi("buyFor", args=[1, users[1].address])
    with pytest.raises(Exception) as err:
        await call_as(chain, users[2].address, chain.market.address, data)
    assert decode_revert(err.value).name == "AccessControlUnauthorizedAccount"  # type: ignore[union-attr]
    assert PermissionDenied  # mapped by the domain for platform calls


async def test_a_buy_that_never_reached_a_block_can_be_retried_with_its_key(chain, users, new_asset) -> None:
    asset = new_asset()
    token_id = await mint3(chain, users, asset)
    await chain.list_token(token_id, "900")
    key = "retry-" + asset
    # A previous attempt was rejected by the node (or lost in a crash) before any block held it.
    dropped = "0x" + uuid.uuid4().hex * 2
    chain.repo.insert_tx(Transaction(tx_hash=dropped, chain_id=chain.chain_id, from_address=chain.tm.address,
                                     to_address=chain.market.address, nonce=0, type="buy", status="failed",
                                     token_id=token_id, amount_wei=900, gas_limit=1, max_fee_per_gas=1,
                                     max_priority_fee_per_gas=1, idempotency_key=key, error="rejected: test",
                                     details={}))
    result = await chain.buy(token_id, users[4].address, "900", key)
    assert result.tx.record.status == "confirmed" and result.tx.record.tx_hash != dropped
    old = chain.repo.get_tx(dropped)
    assert old is not None and old.idempotency_key is None and old.status == "failed"
    again = await chain.buy(token_id, users[4].address, "900", key)
    assert again.tx.record.tx_hash == result.tx.record.tx_hash
    # Provenance shows what happened on chain: the mint, the listing and the one sale.
    views, total, _, _ = await chain.list_transactions(asset_id="", token_id=token_id, address="", page=1,
                                                       per_page=50)
    assert [v.record.type for v in views] == ["mint", "list", "buy"] and total == 3
    assert dropped not in [v.record.tx_hash for v in views]


def test_a_configured_signer_is_funded_on_the_embedded_chain() -> None:
    from chain_service.network import DEV_ACCOUNT_BALANCE, make_embedded_tester
    from eth_account import Account

    signer = Account.create()
    tester = make_embedded_tester(1_700_000_000, None, [signer.address])
    assert tester.get_balance(signer.address) == DEV_ACCOUNT_BALANCE


async def test_concurrent_buyers_of_one_token_get_exactly_one_sale(chain, users, new_asset) -> None:
    import asyncio

    asset = new_asset()
    token_id = await mint3(chain, users, asset)
    await chain.list_token(token_id, "1234")
    results = await asyncio.gather(*[
        chain.buy(token_id, users[4 + i % 4].address, "1234", f"race-{i}-{asset}") for i in range(10)
    ], return_exceptions=True)
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 9
    assert all(isinstance(e, FailedPrecondition) and "not listed for sale" in str(e) for e in losses)


async def test_concurrent_mints_of_one_asset_mint_one_token(chain, users, new_asset) -> None:
    import asyncio

    asset = new_asset()
    results = await asyncio.gather(*[
        chain.mint(asset, users[0].address, "u", [(users[1].address, 10_000)], 100) for _ in range(8)])
    assert len({r.token_id for r in results}) == 1 and len({r.tx.record.tx_hash for r in results}) == 1
    assert sum(not r.already_minted for r in results) == 1


async def test_a_transaction_reverted_in_a_block_records_its_decoded_reason(chain, users, new_asset) -> None:
    token_id = await mint3(chain, users, new_asset())
    data = chain.market.encode_abi("buyFor", args=[token_id, users[4].address])
    # A fixed gas limit skips estimation, as when the state changed between estimate and mining.
    outcome = await chain.tm.send(TxRequest(type="buy", to=chain.market.address, data=data, value=1), gas=300_000)
    assert not outcome.succeeded and outcome.revert is not None and outcome.revert.name == "NotListed"
    record = chain.repo.get_tx(outcome.tx_hash)
    assert record is not None and record.status == "failed" and "NotListed" in (record.error or "")
    assert record.gas_used and record.block_number
