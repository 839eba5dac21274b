"""EIP-712: our encoder (chain_service.orders) and eth-account reproduce the specification's own
example (domain separator, struct hash, digest, signature by keccak256("cow")), and the
MarketplaceV2 contract on the EVM hashes an order exactly as the typed-data document we hand
to wallets does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chain_service import orders
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from v2_helpers import V2Chain

# A verbatim copy of the public vector (EIP-712 specification's example; see vectors/README.md).
VECTOR = Path(__file__).parent / "vectors" / "eip712-mail.json"


@pytest.fixture(scope="module")
def mail() -> dict[str, Any]:
    return dict(json.loads(VECTOR.read_text()))


@pytest.fixture(scope="module")
def chain() -> V2Chain:
    return V2Chain()


def test_our_encoder_reproduces_the_specification_example(mail) -> None:
    doc = mail["typed_data"]
    assert orders.encode_type("Mail", doc["types"]) == \
        "Mail(Person from,Person to,string contents)Person(string name,address wallet)"
    assert "0x" + orders.domain_separator(doc["domain"], doc["types"]).hex() == mail["domain_separator"]
    assert "0x" + orders.struct_hash(doc).hex() == mail["struct_hash"]
    assert "0x" + orders.digest(doc).hex() == mail["digest"]


def test_eth_account_signs_the_example_with_the_specified_signature(mail) -> None:
    key = keccak(text="cow")
    assert Account.from_key(key).address == mail["signer"]
    signable = encode_typed_data(full_message=mail["typed_data"])
    signed = Account.sign_message(signable, key)
    assert "0x" + signed.message_hash.hex() == mail["digest"]
    sig = mail["signature"]
    assert (signed.v, signed.r, signed.s) == (sig["v"], int(sig["r"], 16), int(sig["s"], 16))
    assert Account.recover_message(signable, signature=signed.signature) == mail["signer"]


def test_order_document_is_eth_sign_typed_data_v4_and_round_trips() -> None:
    order = orders.Order(token="0x" + "11" * 20, token_id=7, seller="0x" + "22" * 20, price=5 * 10**18,
                         counter=3, salt=2**256 - 1, start_time=1_700_000_000, end_time=1_800_000_000)
    doc = orders.typed_data(order, 1337, "0x" + "33" * 20)
    assert set(doc) == {"types", "primaryType", "domain", "message"} and doc["primaryType"] == "Order"
    assert [f["name"] for f in doc["types"]["EIP712Domain"]] == ["name", "version", "chainId", "verifyingContract"]
    assert doc["domain"] == {"name": "IPheron Marketplace", "version": "2", "chainId": 1337,
                             "verifyingContract": "0x" + "33" * 20}
    assert doc["message"]["salt"] == str(2**256 - 1) and doc["message"]["price"] == str(5 * 10**18)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON, numbers exact as strings
    assert orders.Order.from_message(doc["message"]) == order
    # eth-account hashes the very document we hand out to the same digest.
    assert encode_typed_data(full_message=doc).body == orders.struct_hash(doc)
    key = keccak(text="seller")
    signed = Account.sign_message(encode_typed_data(full_message=doc), key)
    assert signed.message_hash == orders.order_hash(order, 1337, "0x" + "33" * 20)
    # Another chain or another marketplace is another order.
    assert orders.order_hash(order, 1, "0x" + "33" * 20) != signed.message_hash
    assert orders.order_hash(order, 1337, "0x" + "44" * 20) != signed.message_hash


def test_the_contract_hashes_an_order_as_eth_account_does(chain: V2Chain) -> None:
    market = chain.c.market
    seller = chain.accounts[1]
    order = chain.order(seller.address, 1, 123_456_789, salt=2**255 + 12345)
    doc = orders.typed_data(order, chain.chain_id, market.address)
    signed = seller.sign_message(encode_typed_data(full_message=doc))
    assert chain.call(market, "hashOrder", order.as_tuple()) == signed.message_hash
    assert chain.call(market, "domainSeparator") == orders.domain_separator(doc["domain"])
    assert chain.call(market, "ORDER_TYPEHASH") == orders.type_hash("Order", {"Order": orders.ORDER_TYPE})
    # EIP-5267: the contract announces the same domain.
    _, name, version, chain_id, verifying, _, _ = chain.call(market, "eip712Domain")
    assert (name, version, chain_id, verifying) == (orders.DOMAIN_NAME, orders.DOMAIN_VERSION, chain.chain_id,
                                                     market.address)
    # Every field is bound: changing any one changes the contract's hash.
    base = chain.call(market, "hashOrder", order.as_tuple())
    for i in range(9):
        fields = list(order.as_tuple())
        fields[i] = ("0x" + "55" * 20) if isinstance(fields[i], str) else fields[i] + 1
        assert chain.call(market, "hashOrder", tuple(fields)) != base, i
