"""EIP-712 listings of MarketplaceV2: the typed-data document a seller signs and its hash.

Pure (no I/O, no web3): `typed_data(order, chain_id, marketplace)` builds the document in
`eth_signTypedData_v4` form (`{types, primaryType, domain, message}`, `EIP712Domain` included),
which a browser wallet, eth-account's `encode_typed_data(full_message=...)` or any EIP-712
signer signs unchanged; `order_hash` is its EIP-712 digest, equal to the contract's
`hashOrder(order)` and used as the order's id on chain. The encoder here is a small, general
EIP-712 implementation (nested structs, arrays, dynamic types) checked against the
specification's own example (tests/test_eip712_vectors.py).

Numbers in the message are decimal strings (prices in wei and 256-bit salts exceed what a
JSON number carries exactly in a browser); the encoder accepts ints, decimal or 0x-hex strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from ipheron_libs import typed_data as eip712_types

DOMAIN_NAME = "IPheron Marketplace"
DOMAIN_VERSION = "2"
NATIVE_CURRENCY = "0x0000000000000000000000000000000000000000"

Field = dict[str, str]
Types = Mapping[str, Sequence[Mapping[str, str]]]

EIP712_DOMAIN_TYPE: list[Field] = eip712_types.EIP712_DOMAIN_TYPE
ORDER_TYPE: list[Field] = [
    {"name": "token", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "seller", "type": "address"},
    {"name": "price", "type": "uint256"},
    {"name": "currency", "type": "address"},
    {"name": "counter", "type": "uint256"},
    {"name": "salt", "type": "uint256"},
    {"name": "startTime", "type": "uint256"},
    {"name": "endTime", "type": "uint256"},
]


@dataclass(frozen=True)
class Order:
    """A MarketplaceV2 order: `seller` sells `token_id` of `token` for `price` wei in [start_time, end_time)."""

    token: str
    token_id: int
    seller: str
    price: int
    counter: int
    salt: int
    start_time: int
    end_time: int
    currency: str = NATIVE_CURRENCY

    def message(self) -> dict[str, str]:
        """The EIP-712 message (field names as the contract's struct; numbers as decimal strings)."""
        return {
            "token": to_checksum_address(self.token),
            "tokenId": str(self.token_id),
            "seller": to_checksum_address(self.seller),
            "price": str(self.price),
            "currency": to_checksum_address(self.currency),
            "counter": str(self.counter),
            "salt": str(self.salt),
            "startTime": str(self.start_time),
            "endTime": str(self.end_time),
        }

    def as_tuple(self) -> tuple[str, int, str, int, str, int, int, int, int]:
        """The `Order` struct as a contract call argument (field order of the Solidity struct)."""
        return (to_checksum_address(self.token), self.token_id, to_checksum_address(self.seller), self.price,
                to_checksum_address(self.currency), self.counter, self.salt, self.start_time, self.end_time)

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> Order:
        """Parse a message as `message()` writes it (ints or numeric strings accepted)."""
        missing = {f["name"] for f in ORDER_TYPE} - set(message)
        if missing:
            raise ValueError(f"order message lacks {sorted(missing)}")
        return cls(token=to_checksum_address(message["token"]), token_id=_int(message["tokenId"]),
                   seller=to_checksum_address(message["seller"]), price=_int(message["price"]),
                   currency=to_checksum_address(message["currency"]), counter=_int(message["counter"]),
                   salt=_int(message["salt"]), start_time=_int(message["startTime"]),
                   end_time=_int(message["endTime"]))


def domain(chain_id: int, marketplace: str) -> dict[str, str | int]:
    """The marketplace's EIP-712 domain (bound to the chain id and the marketplace address)."""
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
            "verifyingContract": to_checksum_address(marketplace)}


def typed_data(order: Order, chain_id: int, marketplace: str) -> dict[str, Any]:
    """The document to sign, in `eth_signTypedData_v4` form."""
    return {
        "types": {"EIP712Domain": [dict(f) for f in EIP712_DOMAIN_TYPE], "Order": [dict(f) for f in ORDER_TYPE]},
        "primaryType": "Order",
        "domain": domain(chain_id, marketplace),
        "message": order.message(),
    }


def order_hash(order: Order, chain_id: int, marketplace: str) -> bytes:
    """The order's EIP-712 digest: what the seller signs, the contract's `hashOrder`, the order id."""
    return digest(typed_data(order, chain_id, marketplace))


def order_hash_with(order: Order, separator: bytes) -> bytes:
    """`order_hash` given the marketplace's domain separator (computed once by the caller)."""
    return keccak(b"\x19\x01" + separator + hash_struct("Order", order.message(), {"Order": ORDER_TYPE}))


# ---------------------------------------------------------------- a general EIP-712 encoder

_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        return int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    raise ValueError(f"not a number: {value!r}")


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:])
    raise ValueError(f"not bytes: {value!r}")


def _dependencies(primary: str, types: Types, found: list[str] | None = None) -> list[str]:
    found = [] if found is None else found
    base = _ARRAY.sub(r"\1", primary)
    while _ARRAY.match(base):
        base = _ARRAY.sub(r"\1", base)
    if base in found or base not in types:
        return found
    found.append(base)
    for field in types[base]:
        _dependencies(field["type"], types, found)
    return found


def encode_type(primary: str, types: Types) -> str:
    """`encodeType`: the primary type, then its referenced struct types sorted by name."""
    deps = _dependencies(primary, types)
    deps = [primary] + sorted(d for d in deps if d != primary)
    return "".join(f"{name}({','.join(f['type'] + ' ' + f['name'] for f in types[name])})" for name in deps)


def type_hash(primary: str, types: Types) -> bytes:
    return keccak(text=encode_type(primary, types))


def _encode_value(type_: str, value: Any, types: Types) -> bytes:
    if type_ in types:
        return hash_struct(type_, value, types)
    array = _ARRAY.match(type_)
    if array:
        inner, size = array.group(1), array.group(2)
        if size and len(value) != int(size):
            raise ValueError(f"{type_} needs {size} items, got {len(value)}")
        return keccak(b"".join(_encode_value(inner, item, types) for item in value))
    if type_ == "string":
        return keccak(text=value)
    if type_ == "bytes":
        return keccak(_bytes(value))
    if type_ == "bool":
        return abi_encode(["bool"], [bool(value)])
    if type_ == "address":
        return abi_encode(["address"], [to_checksum_address(value)])
    if type_.startswith(("uint", "int")):
        return abi_encode([type_], [_int(value)])
    if type_.startswith("bytes"):
        return abi_encode([type_], [_bytes(value)])
    raise ValueError(f"unknown EIP-712 type {type_!r}")


def encode_data(primary: str, data: Mapping[str, Any], types: Types) -> bytes:
    """`encodeData`: the type hash, then each field's 32-byte encoding in declaration order."""
    return type_hash(primary, types) + b"".join(
        _encode_value(f["type"], data[f["name"]], types) for f in types[primary])


def hash_struct(primary: str, data: Mapping[str, Any], types: Types) -> bytes:
    """`hashStruct` = keccak256(encodeData)."""
    return keccak(encode_data(primary, data, types))


def domain_separator(domain_: Mapping[str, Any], types: Types | None = None) -> bytes:
    """hashStruct(EIP712Domain) with the domain's own fields (those present, in the standard order)."""
    if types is not None and "EIP712Domain" in types:
        fields = list(types["EIP712Domain"])
    else:
        fields = [f for f in EIP712_DOMAIN_TYPE if f["name"] in domain_]
    return hash_struct("EIP712Domain", domain_, {"EIP712Domain": fields})


def struct_hash(document: Mapping[str, Any]) -> bytes:
    """hashStruct of a typed-data document's message."""
    types = {k: v for k, v in document["types"].items() if k != "EIP712Domain"}
    return hash_struct(document["primaryType"], document["message"], types)


def digest(document: Mapping[str, Any]) -> bytes:
    """keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)) of a typed-data document."""
    return keccak(b"\x19\x01" + domain_separator(document["domain"], document["types"]) + struct_hash(document))
