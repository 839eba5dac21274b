"""Settings refuse what would be unsafe: no signer key, or the public development key, in
production; the embedded chain in production; no signer key for a JSON-RPC node; and the key
never shows in a repr, a log line or a validation error."""

from __future__ import annotations

import pytest
from chain_service.config import DEV_SIGNER_KEY, ChainSettings
from pydantic import ValidationError

PROD = {"env": "production", "database_url": "postgresql://x@h/db", "redis_url": "redis://h:6379/0",
        "tls_dir": "/etc/ipheron/tls"}


@pytest.mark.parametrize("key", [None, DEV_SIGNER_KEY, DEV_SIGNER_KEY.upper().replace("0X", "0x")])
def test_production_refuses_a_missing_or_development_signer_key(key: str | None) -> None:
    with pytest.raises(ValidationError, match="CHAIN_SIGNER_KEY"):
        ChainSettings(**PROD, signer_key=key, web3_provider_uri="https://rpc.example")


def test_a_json_rpc_node_needs_a_signer_key() -> None:
    with pytest.raises(ValidationError, match="CHAIN_SIGNER_KEY is required"):
        ChainSettings(web3_provider_uri="http://127.0.0.1:8545")


def test_production_accepts_a_real_key_and_development_defaults_to_the_embedded_chain() -> None:
    real = "0x" + "ab" * 32
    prod = ChainSettings(**PROD, signer_key=real, web3_provider_uri="https://rpc.example",
                         vault_quote_signer="0x" + "cd" * 20)
    assert prod.effective_signer_key == real and not prod.embedded
    dev = ChainSettings()
    assert dev.embedded and dev.effective_signer_key == DEV_SIGNER_KEY and dev.grpc_port == 50056


def test_production_refuses_the_embedded_development_chain() -> None:
    with pytest.raises(ValidationError, match="WEB3_PROVIDER_URI"):
        ChainSettings(**PROD, signer_key="0x" + "ab" * 32, vault_quote_signer="0x" + "cd" * 20)


def test_the_signer_key_never_shows_in_a_repr_or_an_error() -> None:
    real = "0x" + "ab" * 32
    prod = ChainSettings(**PROD, signer_key=real, web3_provider_uri="https://rpc.example",
                         vault_quote_signer="0x" + "cd" * 20)
    assert "ab" * 32 not in repr(prod) and "ab" * 32 not in str(prod.model_dump())
    with pytest.raises(ValidationError) as err:  # another field wrong: the message lists the input
        ChainSettings(**PROD, signer_key=real, web3_provider_uri="https://rpc.example", confirmations=0)
    assert "ab" * 32 not in str(err.value)
