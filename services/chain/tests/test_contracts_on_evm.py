"""The contracts the service deployed, on the real EVM (py-evm): minting, ERC-165/2981 answers,
reverts with clear custom errors, signatures (ECDSA and EIP-1271) and pull-payment withdrawals
after sales filled by buyers themselves — mostly through ChainService, some as users signing
directly. (Signed orders end to end: test_orders.py; the contracts alone: test_marketplace_v2.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from chain_helpers import call_as, fulfill_as, send_as
from chain_service.contracts import decode_revert, load_artifact
from chain_service.domain import Transaction
from chain_service.service import ChainService
from chain_service.txmanager import ContractRevert, TxRequest
from eth_account.signers.local import LocalAccount
from ipheron_libs.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
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


async def test_unknown_token_is_not_found(chain) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        await chain.token_info(token_id=999_999)


async def test_withdrawals_pay_exact_balances_and_a_refusing_payee_never_blocks(chain, users, new_asset) -> None:
    # A contract wallet that refuses ether is a co-creator; it must not block the sale or the batch.
    wallet = load_artifact("TestContractWallet")
    factory = chain.network.w3.eth.contract(abi=wallet.abi, bytecode=wallet.bytecode)
    deployed = await chain.tm.send(TxRequest(type="deploy", to=None,
                                             data=factory.constructor(users[8].address, True).data_in_transaction))
    refusing = deployed.receipt["contractAddress"]
    asset = new_asset()
    minted = await chain.mint(asset, users[0].address, "u", [(refusing, 5000), (users[8].address, 5000)], 1000)
    assert (await fulfill_as(chain, users[0], users[4], minted.token_id, 10000))["status"] == 1

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
        (lambda: chain.build_order(1, users[0].address, "1.5", 0), "price_wei"),
        (lambda: chain.build_order(1, users[0].address, "-3", 0), "price_wei"),
        (lambda: chain.build_order(1, "0x12", "1", 0), "seller"),
        (lambda: chain.verify_order("[]", "0x00"), "order_json"),
        (lambda: chain.prepare_fulfill("{}", "0x00", "nope"), "buyer"),
        (lambda: chain.withdraw([]), "payees"),
    ]
    for make, field in cases:
        with pytest.raises(InvalidArgument) as err:
            await make()  # type: ignore[misc]
        assert err.value.field == field


async def test_a_withdrawal_that_never_reached_a_block_can_be_retried_with_its_key(chain, users, new_asset) -> None:
    payee = users[7]
    token_id = await mint3(chain, [payee, users[1], users[2], users[3]], new_asset(), royalty_bps=0)
    assert (await fulfill_as(chain, payee, users[4], token_id, 900))["status"] == 1
    key = "retry-" + new_asset()
    # A previous attempt was rejected by the node (or lost in a crash) before any block held it.
    dropped = "0x" + uuid.uuid4().hex * 2
    chain.repo.insert_tx(Transaction(tx_hash=dropped, chain_id=chain.chain_id, from_address=chain.tm.address,
                                     to_address=chain.market.address, nonce=0, type="withdraw", status="failed",
                                     amount_wei=900, gas_limit=1, max_fee_per_gas=1, max_priority_fee_per_gas=1,
                                     idempotency_key=key, error="rejected: test", details={}))
    view, results = await chain.withdraw([payee.address], key)
    assert view.record.status == "confirmed" and view.record.tx_hash != dropped
    assert [(r.address, r.succeeded) for r in results] == [(payee.address, True)]
    old = chain.repo.get_tx(dropped)
    assert old is not None and old.idempotency_key is None and old.status == "failed"
    # The same key again answers the same withdrawal (no cooldown refusal, nothing sent).
    again, _ = await chain.withdraw([payee.address], key)
    assert again.record.tx_hash == view.record.tx_hash
    views, _, _, _ = await chain.list_transactions(asset_id="", token_id=0, address=chain.market.address, page=1,
                                                   per_page=100)
    assert dropped not in [v.record.tx_hash for v in views]


def test_a_configured_signer_is_funded_on_the_embedded_chain() -> None:
    from chain_service.network import DEV_ACCOUNT_BALANCE, make_embedded_tester
    from eth_account import Account

    signer = Account.create()
    tester = make_embedded_tester(1_700_000_000, None, [signer.address])
    assert tester.get_balance(signer.address) == DEV_ACCOUNT_BALANCE


async def test_concurrent_mints_of_one_asset_mint_one_token(chain, users, new_asset) -> None:
    import asyncio

    asset = new_asset()
    results = await asyncio.gather(*[
        chain.mint(asset, users[0].address, "u", [(users[1].address, 10_000)], 100) for _ in range(8)])
    assert len({r.token_id for r in results}) == 1 and len({r.tx.record.tx_hash for r in results}) == 1
    assert sum(not r.already_minted for r in results) == 1


async def test_a_transaction_reverted_in_a_block_records_its_decoded_reason(chain) -> None:
    data = chain.market.encode_abi("withdraw")
    # A fixed gas limit skips estimation, as when the state changed between estimate and mining.
    outcome = await chain.tm.send(TxRequest(type="withdraw", to=chain.market.address, data=data), gas=300_000)
    assert not outcome.succeeded and outcome.revert is not None and outcome.revert.name == "NothingToWithdraw"
    record = chain.repo.get_tx(outcome.tx_hash)
    assert record is not None and record.status == "failed" and "NothingToWithdraw" in (record.error or "")
    assert record.gas_used and record.block_number


async def test_head_view_calls_answer_what_eth_call_answers_and_revert_alike(chain, users, new_asset) -> None:
    from chain_service.network import VIEW_GAS
    from eth_abi import encode as abi_encode
    from eth_utils import function_signature_to_4byte_selector as selector

    token_id = await mint3(chain, users[:4], new_asset())
    network, tester = chain.network, chain.network.tester
    market, token = chain.market.address, chain.token.address
    calls = [(token, selector("ownerOf(uint256)") + abi_encode(["uint256"], [token_id])),
             (token, selector("royaltyInfo(uint256,uint256)") + abi_encode(["uint256", "uint256"], [token_id, 10**18])),
             (token, selector("tokenURI(uint256)") + abi_encode(["uint256"], [token_id])),
             (market, selector("counterOf(address)") + abi_encode(["address"], [users[0].address])),
             (market, selector("totalPending()")), (users[5].address, b"")]
    caller = tester.get_accounts()[0]

    def compare() -> None:
        for to, data in calls:
            expected = tester.call({"from": caller, "to": to, "data": "0x" + data.hex(), "gas": VIEW_GAS}, "latest")
            assert network.call_raw(to, data) == bytes.fromhex(str(expected)[2:]), (to, data.hex())
        missing = selector("ownerOf(uint256)") + abi_encode(["uint256"], [2**200])
        with pytest.raises(Exception) as ours:
            network.call_raw(token, missing)
        with pytest.raises(Exception) as theirs:
            tester.call({"from": caller, "to": token, "data": "0x" + missing.hex(), "gas": VIEW_GAS}, "latest")
        assert decode_revert(ours.value) == decode_revert(theirs.value) and decode_revert(ours.value) is not None

    await network.run(compare)


async def test_ledger_views_skip_web3_on_the_embedded_chain_and_answer_what_web3_answers(chain, users,
                                                                                           new_asset) -> None:
    """`Ledger._view` on the embedded chain (`_embedded_view`: no web3 request pipeline) gives
    web3's `call()` answers: one output or several, structs, strings, bytes16, a hex-string
    bytes argument (web3's encoding), and a revert decoded alike."""
    token_id = await mint3(chain, users[:4], new_asset())
    ledger, token, timelock = chain.ledger, chain.token, chain.ledger.timelock

    def same(value: object) -> object:  # web3 checksums addresses; eth-abi gives them in lower case
        if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
            return value.lower()
        if isinstance(value, list | tuple):
            return [same(v) for v in value]
        return value

    calls = [token.functions.coCreatorsOf(token_id), token.functions.royaltyInfo(token_id, 10**18 + 1),
             token.functions.tokenURI(token_id), token.functions.assetOf(token_id), token.functions.ownerOf(token_id),
             timelock.functions.hashOperation(token.address, 0, "0x" + "ab" * 36, "0x" + "00" * 32, "0x" + "11" * 32)]

    def compare() -> None:
        for fn in calls:
            assert same(ledger._embedded_view(fn)) == same(fn.call()), fn
        assert len(ledger._embedded_view(calls[0])) == 3  # the three co-creators, as (account, bps) structs
        with pytest.raises(Exception) as ours:
            ledger._embedded_view(token.functions.ownerOf(2**200))
        with pytest.raises(Exception) as theirs:
            token.functions.ownerOf(2**200).call()
        assert decode_revert(ours.value) == decode_revert(theirs.value) and decode_revert(ours.value) is not None

    await chain.network.run(compare)
    with pytest.raises(NotFound):
        await ledger.token_of_asset(uuid.uuid4())  # a typed error through `_view`, as before
