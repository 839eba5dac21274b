"""The embedded chain's gas estimate (`evm_backend.estimate_from_gas_used`) against py-evm's own
bisection (`binary_gas_search_intrinsic_tolerance`), on the platform's real transactions: a
native transfer, a mint, a signed fill (the marketplace forwards gas to the token: EIP-150's
1/64 makes the first guess short) and a refused fill. Each estimate is within py-evm's
tolerance of py-evm's answer, a transaction sent with exactly that gas succeeds, a refusal
raises the same error, and it takes a fraction of py-evm's runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from chain_service.contracts import decode_revert
from chain_service.evm_backend import estimate_from_gas_used
from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
from eth.vm.forks.cancun.state import CancunState
from eth_utils import to_wei
from v2_helpers import V2Chain

PRICE = to_wei(1, "ether")
TOLERANCE = 21_000


@pytest.fixture(scope="module")
def chain() -> V2Chain:
    return V2Chain()


def _counted(estimator: Callable[[Any, Any], int], runs: list[int]) -> Callable[[Any, Any], int]:
    """`estimator` as the chain's, appending to `runs` how many transactions it ran."""

    def run(state: Any, tx: Any) -> int:
        plain = CancunState.apply_transaction
        count = [0]

        def counting(self: Any, transaction: Any) -> Any:
            count[0] += 1
            return plain(self, transaction)

        CancunState.apply_transaction = counting  # type: ignore[method-assign]
        try:
            return estimator(state, tx)
        finally:
            CancunState.apply_transaction = plain  # type: ignore[method-assign]
            runs.append(count[0])

    return run


def _both(chain: V2Chain, tx: dict[str, Any]) -> tuple[int, int, list[int]]:
    """(py-evm's estimate, ours, [py-evm's runs, ours]) of `tx` at the chain's head."""
    assert chain.tester is not None
    py_chain = chain.tester.backend.chain
    answers: list[int] = []
    runs: list[int] = []
    for estimator in (binary_gas_search_intrinsic_tolerance, estimate_from_gas_used):
        py_chain.gas_estimator = _counted(estimator, runs)
        try:
            answers.append(int(chain.w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]
        finally:
            py_chain.gas_estimator = binary_gas_search_intrinsic_tolerance
    return answers[0], answers[1], runs


def _fill_tx(chain: V2Chain, buyer: Any, order: Any, signature: bytes) -> dict[str, Any]:
    data = chain.c.market.encode_abi("fulfill", args=[order.as_tuple(), signature])
    return {"from": buyer.address, "to": chain.c.market.address, "data": data, "value": order.price}


def test_a_native_transfer_is_estimated_at_its_intrinsic_gas_in_one_run(chain: V2Chain) -> None:
    a = chain.accounts
    theirs, ours, runs = _both(chain, {"from": a[1].address, "to": a[2].address, "value": 1})
    assert theirs == ours == 21_000 and runs == [1, 1]


def test_a_mint_is_estimated_within_py_evms_tolerance_in_three_runs_and_succeeds_with_that_gas(
        chain: V2Chain) -> None:
    a = chain.accounts
    data = chain.c.token.encode_abi("mint", args=[a[1].address, b"\x42" * 16, "ipfs://estimated",
                                                  [a[1].address, a[2].address], [7000, 3000], 500])
    tx = {"from": chain.platform.address, "to": chain.c.token.address, "data": data}
    theirs, ours, runs = _both(chain, tx)
    assert abs(theirs - ours) <= TOLERANCE and ours > 100_000
    assert runs[1] == 3 and runs[0] >= 10  # intrinsic, block limit, the guess; py-evm bisects
    receipt = chain.send_data(chain.platform, chain.c.token.address, data, gas=ours)
    assert receipt["status"] == 1 and receipt["gasUsed"] <= ours


def test_a_fill_whose_first_guess_is_short_of_the_64th_is_still_enough_and_close(chain: V2Chain) -> None:
    a = chain.accounts
    token = chain.mint(a[1].address, [(a[1].address, 6000), (a[3].address, 4000)])
    order = chain.order(a[1].address, token, PRICE)
    signature = chain.sign_order(a[1], order)
    theirs, ours, runs = _both(chain, _fill_tx(chain, a[4], order, signature))
    # intrinsic, block limit, the guess (short), the guess + 1/32; py-evm bisects.
    assert abs(theirs - ours) <= TOLERANCE and runs[1] == 4 and runs[0] >= 10, (theirs, ours, runs)
    receipt = chain.fulfill(a[4], order, signature, gas=ours)
    assert receipt["status"] == 1 and chain.owner_of(token) == a[4].address


def test_a_fill_the_contract_refuses_raises_the_same_error_either_way(chain: V2Chain) -> None:
    a = chain.accounts
    token = chain.mint(a[1].address, [(a[1].address, 10000)])
    order = chain.order(a[1].address, token, PRICE)
    forged = chain.sign_order(a[2], order)  # not the seller's signature
    errors = []
    assert chain.tester is not None
    for estimator in (binary_gas_search_intrinsic_tolerance, estimate_from_gas_used):
        chain.tester.backend.chain.gas_estimator = estimator
        try:
            with pytest.raises(Exception) as caught:
                chain.w3.eth.estimate_gas(_fill_tx(chain, a[4], order, forged))  # type: ignore[arg-type]
        finally:
            chain.tester.backend.chain.gas_estimator = binary_gas_search_intrinsic_tolerance
        revert = decode_revert(caught.value)
        errors.append((type(caught.value), str(caught.value), revert.name if revert else None))
    assert errors[0] == errors[1] and errors[0][2] == "InvalidSignature"
