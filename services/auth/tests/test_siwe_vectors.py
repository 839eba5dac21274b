"""The reference SIWE implementation's own parsing vectors (spruceid/siwe, see
vectors/README.md) against our EIP-4361 parser: every positive vector parses to the
listed fields and prints back byte for byte; every negative vector is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from auth_service.siwe import SiweMessage, SiweParseError, parse_message

VECTORS = Path(__file__).parent / "vectors"
POSITIVE: dict[str, dict[str, Any]] = json.loads((VECTORS / "parsing_positive.json").read_text())
NEGATIVE: dict[str, str] = json.loads((VECTORS / "parsing_negative.json").read_text())

# The vectors' field names (the JS library's) → ours.
FIELD_NAMES = {"chainId": "chain_id", "issuedAt": "issued_at", "expirationTime": "expiration_time",
               "notBefore": "not_before", "requestId": "request_id"}


def _ours(msg: SiweMessage, name: str) -> object:
    value = getattr(msg, FIELD_NAMES.get(name, name))
    return list(value) if isinstance(value, tuple) else value


def test_the_vector_files_are_complete() -> None:
    assert len(POSITIVE) == 19 and len(NEGATIVE) == 29


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_positive_vector_parses_to_its_fields_and_prints_back(name: str) -> None:
    vector = POSITIVE[name]
    msg = parse_message(vector["message"])
    for field, expected in vector["fields"].items():
        assert _ours(msg, field) == expected, field
    # Fields the vector leaves out are absent in ours too.
    for field in ("scheme", "statement", "expirationTime", "notBefore", "requestId"):
        if field not in vector["fields"]:
            assert _ours(msg, field) is None, field
    if "resources" not in vector["fields"]:
        assert msg.resources == ()
    assert msg.to_text() == vector["message"]


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_negative_vector_is_refused(name: str) -> None:
    with pytest.raises(SiweParseError):
        parse_message(NEGATIVE[name])
