"""The development wallet signs like a browser wallet: EIP-712 v4 against the spec's Ether
Mail vector (same digest, same signature, recovers the signer), prepared EIP-1559
transactions that decode back to exactly the prepared fields and the wallet as sender, and
SIWE personal_sign that recovers the address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak
from hexbytes import HexBytes
from ipheron_libs.wallet import Wallet, as_int

VECTOR = json.loads((Path(__file__).parent / "vectors" / "eip712-mail.json").read_text())


def test_typed_data_v4_signature_matches_the_eip712_mail_vector() -> None:
    wallet = Wallet.from_key(keccak(text="cow"))
    assert wallet.address == VECTOR["signer"]
    signature = wallet.sign_typed_data(json.dumps(VECTOR["typed_data"]))
    sig = VECTOR["signature"]
    assert signature == sig["r"] + sig["s"][2:] + f"{sig['v']:02x}"
    # The same digest the spec gives, and it recovers the signer (as ecrecover would).
    digest = encode_typed_data(full_message=VECTOR["typed_data"])
    assert Account.recover_message(digest, signature=signature) == VECTOR["signer"]
    # A mapping works the same as the JSON text.
    assert wallet.sign_typed_data(VECTOR["typed_data"]) == signature


def test_a_signed_prepared_transaction_decodes_to_the_same_fields_and_sender() -> None:
    wallet = Wallet.create()
    prepared = {"to": "0x000000000000000000000000000000000000dead", "data": "0xa9059cbb" + "00" * 64,
                "value": 5 * 10**18, "chainId": 131277322940537, "gas": "0x30d40", "maxFeePerGas": "0x77359400",
                "maxPriorityFeePerGas": 1_000_000_000, "nonce": "7"}
    raw = wallet.sign_transaction(prepared)
    assert raw.startswith("0x02")
    assert Account.recover_transaction(raw) == wallet.address
    decoded = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    assert "0x" + bytes(decoded["to"]).hex() == prepared["to"]
    assert "0x" + bytes(decoded["data"]).hex() == prepared["data"]
    assert decoded["value"] == 5 * 10**18 and decoded["chainId"] == 131277322940537
    assert decoded["gas"] == 200_000 and decoded["maxFeePerGas"] == 2_000_000_000
    assert decoded["maxPriorityFeePerGas"] == 1_000_000_000 and decoded["nonce"] == 7


def test_a_transaction_missing_a_prepared_field_is_refused() -> None:
    with pytest.raises(ValueError, match="nonce"):
        Wallet.create().sign_transaction({"to": "0x000000000000000000000000000000000000dEaD", "chainId": 1,
                                          "gas": 21000, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1})
    with pytest.raises(ValueError):
        as_int(1.5, "value")
    with pytest.raises(ValueError):
        as_int(-1, "value")


def test_siwe_personal_sign_recovers_the_address() -> None:
    wallet = Wallet.create()
    message = (f"ipheron.example wants you to sign in with your Ethereum account:\n{wallet.address}\n\n"
               "Sign in to IPheron\n\nURI: https://ipheron.example\nVersion: 1\nChain ID: 1\nNonce: abcdef12\n"
               "Issued At: 2026-12-01T00:00:00Z")
    signature = wallet.sign_siwe(message)
    assert len(bytes.fromhex(signature[2:])) == 65
    assert Account.recover_message(encode_defunct(text=message), signature=signature) == wallet.address


# ------------------------------------------------------------------ what the gateway hands out

# A purchase's Tx object exactly as the REST contract answers it (JSON-RPC names, integers).
GATEWAY_TX = {"from": None, "to": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "data": "0xdeadbeef" + "11" * 32,
              "value": 1_234_567_890_123_456_789, "chainId": 131277322940537, "gas": 187_000,
              "maxFeePerGas": 2_875_000_000, "maxPriorityFeePerGas": 1_000_000_000, "nonce": 0}


def test_the_gateways_tx_object_signs_to_the_same_bytes_as_eth_account_sign_transaction() -> None:
    wallet = Wallet.create()
    tx = {**GATEWAY_TX, "from": wallet.address}
    raw = wallet.sign_transaction(tx)
    # What a wallet built on eth-account signs for the same fields (RFC 6979: deterministic).
    reference = Account.sign_transaction({k: v for k, v in tx.items() if k != "from"} | {"type": 2},
                                         wallet.private_key)
    assert raw == "0x" + bytes(reference.raw_transaction).hex()
    # `from` in lower case is the same account.
    assert wallet.sign_transaction({**tx, "from": wallet.address.lower()}) == raw


def test_a_tx_object_from_another_wallet_is_refused() -> None:
    wallet, other = Wallet.create(), Wallet.create()
    with pytest.raises(ValueError, match="not from this wallet"):
        wallet.sign_transaction({**GATEWAY_TX, "from": other.address})


def test_a_listing_document_with_decimal_string_numbers_signs_as_eth_account_and_recovers_the_seller() -> None:
    wallet = Wallet.create()
    # The shape the listing typed-data route answers: numbers in the message as decimal
    # strings (256-bit salts do not fit a JavaScript number), chainId an integer.
    document = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "Order": [{"name": n, "type": t} for n, t in (
                      ("token", "address"), ("tokenId", "uint256"), ("seller", "address"), ("price", "uint256"),
                      ("currency", "address"), ("counter", "uint256"), ("salt", "uint256"),
                      ("startTime", "uint256"), ("endTime", "uint256"))]},
        "primaryType": "Order",
        "domain": {"name": "IPheron Marketplace", "version": "2", "chainId": 131277322940537,
                   "verifyingContract": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"},
        "message": {"token": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "tokenId": "7",
                    "seller": wallet.address, "price": "1234567890123456789",
                    "currency": "0x0000000000000000000000000000000000000000", "counter": "0",
                    "salt": str(2**255 + 12345), "startTime": "1764547200", "endTime": "1767139200"},
    }
    signature = wallet.sign_typed_data(json.dumps(document))
    as_ints = {**document, "message": {k: (int(v) if k not in ("token", "seller", "currency") else v)
                                       for k, v in document["message"].items()}}
    reference = Account.sign_typed_data(wallet.private_key, full_message=as_ints)
    assert signature == "0x" + bytes(reference.signature).hex()
    assert Account.recover_message(encode_typed_data(full_message=as_ints), signature=signature) == wallet.address
    # The document was signed unchanged: the caller's copy still holds the strings.
    assert document["message"]["price"] == "1234567890123456789"
