"""A transaction the chain service prepared for a user's own wallet, as the services that hand
such transactions to their users (assets: purchases; staking: stakes, claims, unstakes) hold it:
the frozen record, its JSON form for their tables, and its protobuf form on the chain's wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ipheron.chain.v1 import chain_service_pb2 as chain_pb

from ipheron_libs import wire


@dataclass(frozen=True)
class PreparedTx:
    """What the wallet signs (the chain's PreparedTransaction; wei amounts as ints)."""

    from_address: str
    to: str
    data: str
    value_wei: int
    chain_id: int
    gas: int
    max_fee_per_gas_wei: int
    max_priority_fee_per_gas_wei: int
    nonce: int

    def to_json(self) -> dict[str, Any]:
        # Wei amounts as strings: JSON readers hold integers in 64 bits.
        return {"from_address": self.from_address, "to": self.to, "data": self.data,
                "value_wei": str(self.value_wei), "chain_id": self.chain_id, "gas": self.gas,
                "max_fee_per_gas_wei": str(self.max_fee_per_gas_wei),
                "max_priority_fee_per_gas_wei": str(self.max_priority_fee_per_gas_wei), "nonce": self.nonce}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PreparedTx:
        """The record from `to_json`'s form (numbers as ints or decimal strings)."""
        return cls(from_address=str(data["from_address"]), to=str(data["to"]), data=str(data["data"]),
                   value_wei=int(data["value_wei"]), chain_id=int(data["chain_id"]), gas=int(data["gas"]),
                   max_fee_per_gas_wei=int(data["max_fee_per_gas_wei"]),
                   max_priority_fee_per_gas_wei=int(data["max_priority_fee_per_gas_wei"]), nonce=int(data["nonce"]))


@dataclass(frozen=True)
class TxStatus:
    """A transaction's status on the chain service: "PENDING", "CONFIRMED", "FAILED" (with the
    revert name in `error`) or "REPLACED"."""

    status: str
    error: str
    block_number: int


def prepared_of(t: chain_pb.PreparedTransaction) -> PreparedTx:
    """The record of a PreparedTransaction off the wire."""
    return PreparedTx(from_address=t.from_address, to=t.to, data=t.data, value_wei=int(t.value_wei or 0),
                      chain_id=int(t.chain_id), gas=int(t.gas), max_fee_per_gas_wei=int(t.max_fee_per_gas_wei or 0),
                      max_priority_fee_per_gas_wei=int(t.max_priority_fee_per_gas_wei or 0), nonce=int(t.nonce))


def prepared_pb(t: PreparedTx) -> chain_pb.PreparedTransaction:
    """The wire form of a prepared transaction (e.g. SubmitRawTransaction's `expected`)."""
    return chain_pb.PreparedTransaction(
        from_address=t.from_address, to=t.to, data=t.data, value_wei=wire.wei_str(t.value_wei), chain_id=t.chain_id,
        gas=t.gas, max_fee_per_gas_wei=wire.wei_str(t.max_fee_per_gas_wei),
        max_priority_fee_per_gas_wei=wire.wei_str(t.max_priority_fee_per_gas_wei), nonce=t.nonce)


def tx_status_of(t: chain_pb.Transaction) -> TxStatus:
    """A GetTransaction answer's status, error and block."""
    return TxStatus(status=chain_pb.TransactionStatus.Name(t.status).removeprefix("TRANSACTION_STATUS_"),
                    error=t.error, block_number=int(t.block_number))
