"""What a user's own wallet signs: the prepared transaction ("Tx") several routes answer.

The fields carry the JSON-RPC names (`eth_sendTransaction` / `eth_signTransaction`), so a
browser wallet or `ipheron_libs.wallet.Wallet.sign_transaction` takes the object unchanged.
Numbers are JSON integers, as the issue's contract says (wei values can exceed 2^53: a
JavaScript client reads `value` with a big-integer JSON parser, or uses `price_wei`, which
the purchase also carries as a decimal string). These bodies are therefore serialised by the
standard JSON encoder, never orjson (which refuses integers above 2^64).
"""

from __future__ import annotations

from typing import Any

from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs import wire
from pydantic import BaseModel, ConfigDict, Field


class Tx(BaseModel):
    """A prepared EIP-1559 transaction for the caller's wallet to sign (JSON-RPC names, integers)."""

    model_config = ConfigDict(title="Tx", populate_by_name=True)
    from_: str = Field(alias="from", description="the wallet that must sign it")
    to: str | None = Field(description="the contract called (null for a contract creation)")
    data: str = Field(description='0x-prefixed call data ("0x" for a plain transfer)')
    value: int = Field(ge=0, description="wei sent with the call")
    chainId: int = Field(ge=0)
    gas: int = Field(ge=0)
    maxFeePerGas: int = Field(ge=0)
    maxPriorityFeePerGas: int = Field(ge=0)
    nonce: int = Field(ge=0)


def tx_out(t: chain_pb.PreparedTransaction) -> dict[str, Any]:
    """Wire prepared transaction -> the JSON object a wallet signs."""
    return {"from": t.from_address, "to": t.to or None, "data": t.data or "0x",
            "value": int(t.value_wei or 0), "chainId": t.chain_id, "gas": t.gas,
            "maxFeePerGas": int(t.max_fee_per_gas_wei or 0),
            "maxPriorityFeePerGas": int(t.max_priority_fee_per_gas_wei or 0), "nonce": t.nonce}


def opt_tx_out(msg: Any, name: str) -> dict[str, Any] | None:
    """An optional PreparedTransaction field: None when the message does not carry it."""
    return tx_out(getattr(msg, name)) if msg.HasField(name) else None


def eth(wei: str | int) -> str:
    """Wei (int or decimal string) -> the exact ETH decimal string ("1.5", "0")."""
    return wire.money_str(wire.from_wei(int(wei or 0)))
