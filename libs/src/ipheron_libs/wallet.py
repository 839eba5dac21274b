"""A small wallet for development, tests and demo data: signs the way a browser wallet
(MetaMask) does, with eth-account.

- `sign_typed_data(typed_data)`: `eth_signTypedData_v4` — the EIP-712 document as given
  (JSON text or mapping: types, primaryType, domain, message) → 0x-prefixed 65-byte r‖s‖v.
- `sign_transaction(tx)`: a JSON-RPC-style prepared EIP-1559 transaction — the gateway's Tx
  object (`from`, `to`, `data`, `value`, `chainId`, `gas`, `maxFeePerGas`,
  `maxPriorityFeePerGas`, `nonce`; numbers as integers, 0x-hex or decimal strings) → the raw
  signed transaction as 0x-hex, ready for `eth_sendRawTransaction`. Like a browser wallet's
  `eth_signTransaction`, it refuses a transaction whose `from` is another account.
- `sign_siwe(message)`: `personal_sign` (EIP-191) of a Sign-In with Ethereum message.

Keys live in memory only; nothing here is meant to hold real funds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

# The prepared transaction's fields, in the JSON-RPC names; `to` and `data` are optional
# (a contract creation has no `to`).
NUMERIC_FIELDS = ("value", "chainId", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce")
REQUIRED_FIELDS = ("chainId", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "nonce")


def as_int(value: object, name: str) -> int:
    """An integer from an int, a 0x-hex string or a decimal string (JSON-RPC quantities)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not a boolean")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and value.lower().startswith("0x"):
        result = int(value, 16)
    elif isinstance(value, str) and value.isdigit():
        result = int(value)
    else:
        raise ValueError(f"{name} must be an integer, a 0x-hex or a decimal string, got {value!r}")
    if result < 0:
        raise ValueError(f"{name} must not be negative")
    return result


def eip1559_fields(tx: Mapping[str, object]) -> dict[str, Any]:
    """A prepared transaction as eth-account signs it: type 2, integers, checksummed `to`
    (`from` is not part of what is signed: the signature itself names the sender)."""
    missing = [f for f in REQUIRED_FIELDS if f not in tx]
    if missing:
        raise ValueError(f"the transaction lacks {', '.join(missing)}")
    out: dict[str, Any] = {"type": 2, "value": 0, "data": "0x", "accessList": []}
    for name in NUMERIC_FIELDS:
        if name in tx and tx[name] is not None:
            out[name] = as_int(tx[name], name)
    if tx.get("to"):
        out["to"] = to_checksum_address(str(tx["to"]))
    data = tx.get("data") or tx.get("input") or "0x"
    if not isinstance(data, str) or not data.startswith("0x"):
        raise ValueError("data must be a 0x-prefixed hex string")
    out["data"] = data
    return out


@dataclass(frozen=True)
class Wallet:
    """One externally owned account."""

    account: LocalAccount

    @classmethod
    def create(cls) -> Wallet:
        """A fresh random key."""
        return cls(Account.create())

    @classmethod
    def from_key(cls, private_key: str | bytes) -> Wallet:
        return cls(Account.from_key(private_key))

    @property
    def address(self) -> str:
        """The EIP-55 checksummed address."""
        return str(self.account.address)

    @property
    def private_key(self) -> str:
        """The key as 0x-hex (development and tests only)."""
        return "0x" + bytes(self.account.key).hex()

    def sign_typed_data(self, typed_data: str | Mapping[str, Any]) -> str:
        """`eth_signTypedData_v4`: the EIP-712 document unchanged → 0x r‖s‖v (v = 27/28)."""
        document = json.loads(typed_data) if isinstance(typed_data, str) else dict(typed_data)
        signed = self.account.sign_typed_data(full_message=document)
        return "0x" + bytes(signed.signature).hex()

    def sign_transaction(self, tx: Mapping[str, object]) -> str:
        """Sign a prepared EIP-1559 transaction; the raw signed transaction as 0x-hex.

        A `from` naming another account is refused (ValueError), as a browser wallet refuses
        to sign for an account it does not hold."""
        sender = tx.get("from")
        if sender and str(sender).lower() != self.address.lower():
            raise ValueError(f"the transaction is from {sender}, not from this wallet ({self.address})")
        signed = self.account.sign_transaction(eip1559_fields(tx))
        return "0x" + bytes(signed.raw_transaction).hex()

    def sign_siwe(self, message: str) -> str:
        """`personal_sign` (EIP-191 version 0x45) of a SIWE message → 0x r‖s‖v."""
        signed = self.account.sign_message(encode_defunct(text=message))
        return "0x" + bytes(signed.signature).hex()


__all__ = ["Wallet", "as_int", "eip1559_fields"]
