"""Helpers for the chain tests: act as a user signing its own transactions."""

from __future__ import annotations

from typing import Any

from chain_service.service import ChainService
from eth_account.signers.local import LocalAccount


async def send_as(chain: ChainService, user: LocalAccount, to: str, data: str, value: int = 0) -> dict[str, Any]:
    """A user signs and sends its own transaction (not through the platform signer)."""
    w3 = chain.network.w3

    def go() -> dict[str, Any]:
        tx = {"type": 2, "chainId": chain.chain_id, "nonce": w3.eth.get_transaction_count(user.address),
              "to": to, "data": data, "value": value, "gas": 500_000,
              "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9}
        signed = user.sign_transaction(tx)
        h = w3.eth.send_raw_transaction(signed.raw_transaction)
        return dict(w3.eth.get_transaction_receipt(h))

    return await chain.network.run(go)


async def call_as(chain: ChainService, user: str, to: str, data: str, value: int = 0) -> Any:
    """eth_call from `user`: raises the provider's revert exception when the call reverts."""
    w3 = chain.network.w3
    return await chain.network.run(w3.eth.call, {"from": user, "to": to, "data": data, "value": value})
