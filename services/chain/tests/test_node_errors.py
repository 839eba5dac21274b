"""Any EVM node: an opcode the node cannot run, or a revert, is its own typed error
(FailedPrecondition naming the EVM target / the decoded reason), never UNAVAILABLE "the chain
is unavailable"; only transport trouble is UNAVAILABLE. At start-up the service checks that
the node runs the deployed code (a view call on each contract) and refuses to start with a
message naming the contract and the likely cause."""

from __future__ import annotations

import pytest
import requests
from chain_service import domain
from chain_service.contracts import load_artifact, target_evm_version
from chain_service.ledger import Ledger
from chain_service.service import ChainService
from chain_service.txmanager import ContractRevert, TxRequest, node_error
from conftest import chain_database, close_service, open_service
from ipheron_libs.errors import FailedPrecondition, Unavailable
from web3.exceptions import ContractLogicError, Web3RPCError

# Runtime code that executes INVALID (0xfe) / REVERT(0, 0), behind a minimal constructor.
INVALID_RUNTIME = "fe"
BARE_REVERT_RUNTIME = "60006000fd"


def init_code(runtime_hex: str) -> str:
    rt = bytes.fromhex(runtime_hex)
    return "0x" + (bytes([0x60, len(rt), 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, len(rt), 0x60, 0x00, 0xF3]) + rt).hex()


async def deploy_raw(chain: ChainService, runtime_hex: str) -> str:
    outcome = await chain.tm.send(TxRequest(type="deploy", to=None, data=init_code(runtime_hex)))
    assert outcome.succeeded
    return str(outcome.receipt["contractAddress"])


def ledger_at(chain: ChainService, token_addr: str, market_addr: str, timelock_addr: str | None = None) -> Ledger:
    token_art, market_art = load_artifact("IPAssetTokenV2"), load_artifact("MarketplaceV2")
    timelock_art = load_artifact("IPheronTimelock")
    w3 = chain.network.w3
    return Ledger(chain.network, w3.eth.contract(address=token_addr, abi=token_art.abi),
                  w3.eth.contract(address=market_addr, abi=market_art.abi),
                  w3.eth.contract(address=timelock_addr or chain.ledger.timelock.address, abi=timelock_art.abi),
                  [token_art, market_art, timelock_art])


# --- the rule (pure) ---------------------------------------------------------------------------

@pytest.mark.parametrize(("message", "kind"), [
    ("execution reverted: Invalid opcode 0xfe @ 0", domain.NodeErrorKind.EXECUTION),  # py-evm
    ("VM Exception while processing transaction: invalid opcode", domain.NodeErrorKind.EXECUTION),  # ganache
    ("execution reverted: Error: VM Exception while processing transaction: invalid opcode",
     domain.NodeErrorKind.EXECUTION),  # hardhat
    ("invalid opcode: MCOPY", domain.NodeErrorKind.EXECUTION),  # geth
    ("EVM error: NotActivated", domain.NodeErrorKind.EXECUTION),  # anvil on an older hardfork
    ("VM Exception while processing transaction: revert", domain.NodeErrorKind.REVERT),  # ganache
    ("execution reverted: Error: Transaction reverted without a reason string", domain.NodeErrorKind.REVERT),
    ("insufficient funds for gas * price + value", domain.NodeErrorKind.FUNDS),
    ("nonce too low", domain.NodeErrorKind.NONCE),
    ("connection refused", domain.NodeErrorKind.UNAVAILABLE),
])
def test_node_error_messages_are_classified(message: str, kind: domain.NodeErrorKind) -> None:
    assert domain.node_error_kind(message) is kind


def test_ganache_invalid_opcode_is_a_failed_precondition_naming_the_evm_target_not_unavailable() -> None:
    # ganache 7 answers an opcode it does not know with a plain JSON-RPC error (no "revert"),
    # which used to become UNAVAILABLE "chain node error" → 503 "the chain is unavailable".
    exc = Web3RPCError("{'code': -32000, 'message': 'VM Exception while processing transaction: invalid opcode'}")
    error = node_error(exc)
    assert isinstance(error, FailedPrecondition) and not isinstance(error, Unavailable)
    assert "invalid opcode" in str(error) and target_evm_version() in str(error) and "older" in str(error)


def test_a_bare_revert_is_a_contract_revert_and_a_transport_error_is_unavailable() -> None:
    bare = node_error(ContractLogicError("execution reverted", data="0x"))
    assert isinstance(bare, ContractRevert) and bare.code.name == "FAILED_PRECONDITION"
    down = node_error(requests.exceptions.ConnectionError("Connection refused"))
    assert isinstance(down, Unavailable)


def test_start_up_refusal_names_the_contract_and_the_cause() -> None:
    error = domain.code_check_error("Marketplace", "0xabc", "token()", "invalid opcode: PUSH0", "shanghai")
    assert "Marketplace at 0xabc" in str(error) and "token()" in str(error) and "older" in str(error)
    other = domain.code_check_error("IPAssetToken", "0xabc", "name()", "execution reverted", "shanghai")
    assert "not this contract" in str(other)


# --- on the embedded EVM ------------------------------------------------------------------------

async def test_a_view_call_hitting_an_invalid_opcode_is_failed_precondition_not_internal(chain) -> None:
    bad = await deploy_raw(chain, INVALID_RUNTIME)
    ledger = ledger_at(chain, bad, bad)
    # Before: the provider's TransactionFailed escaped untyped (INTERNAL "internal error").
    with pytest.raises(FailedPrecondition, match="could not execute the contract code") as caught:
        await ledger.token_uri(1)
    assert target_evm_version() in str(caught.value)


async def test_a_view_call_hitting_a_bare_revert_is_failed_precondition(chain) -> None:
    reverting = await deploy_raw(chain, BARE_REVERT_RUNTIME)
    with pytest.raises(FailedPrecondition, match="contract reverted"):
        await ledger_at(chain, reverting, reverting).token_uri(1)


async def test_estimating_a_call_into_an_invalid_opcode_names_the_evm_target(chain) -> None:
    bad = await deploy_raw(chain, INVALID_RUNTIME)
    with pytest.raises(FailedPrecondition, match="older than the contracts' target"):
        await chain.tm.estimate_gas(TxRequest(type="admin", to=bad, data="0x06fdde03"))


async def test_the_start_up_check_passes_on_our_contracts_and_refuses_other_code(chain) -> None:
    await chain.ledger.check_code()
    bad = await deploy_raw(chain, INVALID_RUNTIME)
    with pytest.raises(FailedPrecondition, match=rf"cannot run IPAssetTokenV2 at {bad}: name\(\) failed"):
        await ledger_at(chain, bad, chain.market.address).check_code()
    with pytest.raises(FailedPrecondition, match=rf"cannot run MarketplaceV2 at {bad}: token\(\) failed"):
        await ledger_at(chain, chain.token.address, bad).check_code()
    with pytest.raises(FailedPrecondition, match=rf"cannot run IPheronTimelock at {bad}: getMinDelay\(\) failed"):
        await ledger_at(chain, chain.token.address, chain.market.address, bad).check_code()


async def test_the_service_refuses_to_start_on_contracts_the_node_cannot_run(pg_admin_url: str) -> None:
    url = chain_database(pg_admin_url, "ipheron_chain_refuse")
    first = await open_service(url)
    try:
        bad_token = await deploy_raw(first, INVALID_RUNTIME)
        bad_market = await deploy_raw(first, INVALID_RUNTIME)
        await first.aclose()
    finally:
        close_service(first)
    # The same chain (rebuilt from its snapshot), now told to use code it cannot run.
    with pytest.raises(FailedPrecondition, match=f"cannot run MarketplaceV2 at {bad_market}") as caught:
        await open_service(url, token_address=bad_token, marketplace_address=bad_market)
    assert "older than the contracts' target" in str(caught.value)
    with pytest.raises(FailedPrecondition, match=f"cannot run IPAssetTokenV2 at {bad_token}") as caught:
        await open_service(url, token_address=bad_token, marketplace_address=bad_market,
                           timelock_address=bad_market)
    assert "older than the contracts' target" in str(caught.value)


def test_ganache_revert_data_in_result_is_decoded() -> None:
    # ganache 7 carries the revert bytes in "result" (hardhat/geth in "data").
    from chain_service.contracts import decode_revert
    from eth_abi import encode
    from eth_utils import function_signature_to_4byte_selector

    raw = "0x" + (function_signature_to_4byte_selector("OrderAlreadyFilled(bytes32)") + encode(["bytes32"],
                                                                                                [b"\x01" * 32])).hex()
    exc = ContractLogicError("execution reverted: VM Exception while processing transaction: revert",
                             data={"hash": None, "programCounter": 1347, "result": raw, "reason": None,
                                   "message": "revert"})
    revert = decode_revert(exc)
    assert revert is not None and revert.name == "OrderAlreadyFilled" and revert.args == {"orderHash": b"\x01" * 32}
    assert "already been filled" in str(domain.revert_to_error(revert))
