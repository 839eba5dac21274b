"""Helpers for the chain tests: act as a user signing its own transactions."""

from __future__ import annotations

from typing import Any

from chain_service.service import ChainService
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from ipheron_libs.testing import wait_until_async
from web3.exceptions import TransactionNotFound


async def mined_receipt(chain: ChainService, tx_hash: str, timeout: float = 30) -> dict[str, Any]:
    """Wait until the embedded chain seals the block holding `tx_hash`; its receipt."""
    w3 = chain.network.w3

    def sealed() -> dict[str, Any] | None:
        try:
            receipt = w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None
        return dict(receipt) if receipt.get("blockNumber") is not None else None

    async def ready() -> dict[str, Any] | None:
        return None if chain.network.in_open_block(tx_hash) else await chain.network.run(sealed)

    return await wait_until_async(ready, timeout=timeout, interval=0.02, message=f"{tx_hash} was not mined")


async def send_as(chain: ChainService, user: LocalAccount, to: str, data: str, value: int = 0) -> dict[str, Any]:
    """A user signs and sends its own transaction (not through the platform signer); its receipt once mined."""
    w3 = chain.network.w3

    def go() -> str:
        tx = {"type": 2, "chainId": chain.chain_id, "nonce": w3.eth.get_transaction_count(user.address, "pending"),
              "to": to, "data": data, "value": value, "gas": 500_000,
              "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9}
        signed = user.sign_transaction(tx)
        return "0x" + bytes(w3.eth.send_raw_transaction(signed.raw_transaction)).hex()

    return await mined_receipt(chain, await chain.network.run(go))


async def call_as(chain: ChainService, user: str, to: str, data: str, value: int = 0) -> Any:
    """eth_call from `user`: raises the provider's revert exception when the call reverts."""
    w3 = chain.network.w3
    return await chain.network.run(w3.eth.call, {"from": user, "to": to, "data": data, "value": value})


async def signed_order(chain: ChainService, seller: LocalAccount, token_id: int, price: int) -> tuple[Any, bytes]:
    """BuildOrder's document signed by the seller's own key (eth_signTypedData_v4): (Order, signature)."""
    from chain_service import orders

    document, _ = await chain.build_order(token_id, seller.address, str(price), 0)
    signature = bytes(seller.sign_typed_data(full_message=document).signature)
    return orders.Order.from_message(document["message"]), signature


async def fulfill_as(chain: ChainService, seller: LocalAccount, buyer: LocalAccount, token_id: int,
                     price: int) -> dict[str, Any]:
    """The seller signs an order; the buyer calls fulfill on the marketplace itself. Its receipt."""
    order, signature = await signed_order(chain, seller, token_id, price)
    data = chain.market.encode_abi("fulfill", args=[order.as_tuple(), signature])
    return await send_as(chain, buyer, chain.market.address, data, price)
