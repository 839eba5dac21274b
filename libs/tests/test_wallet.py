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
