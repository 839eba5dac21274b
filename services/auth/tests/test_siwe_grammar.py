"""The EIP-4361 grammar parser against the EIP's own examples and malformed variants."""

from __future__ import annotations

import pytest
from auth_service.siwe import SiweParseError, parse_message

ADDRESS = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
EIP_EXAMPLE = """example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""


def test_eip_example_parses_every_field() -> None:
    msg = parse_message(EIP_EXAMPLE)
    assert msg.scheme is None
    assert msg.domain == "example.com"
    assert msg.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert msg.statement == "I accept the ExampleOrg Terms of Service: https://example.com/tos"
    assert msg.uri == "https://example.com/login"
    assert msg.version == "1"
    assert msg.chain_id == 1
    assert msg.nonce == "32891756"
    assert msg.issued_at == "2021-09-30T16:25:24Z"
    assert msg.issued_at_dt.isoformat() == "2021-09-30T16:25:24+00:00"
    assert msg.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )


def test_eip_example_round_trips_to_identical_text() -> None:
    assert parse_message(EIP_EXAMPLE).to_text() == EIP_EXAMPLE


def test_eip_example_with_port_parses_domain_with_port() -> None:
    msg = parse_message(EIP_EXAMPLE.replace("example.com wants", "example.com:3388 wants", 1))
    assert msg.domain == "example.com:3388"


def test_eip_example_with_scheme_parses_scheme() -> None:
    text = EIP_EXAMPLE.replace("example.com wants", "https://example.com wants", 1)
    msg = parse_message(text)
    assert msg.scheme == "https" and msg.domain == "example.com"
    assert msg.to_text() == text


def test_message_without_statement_has_two_blank_lines() -> None:
    text = (
        "localhost:8000 wants you to sign in with your Ethereum account:\n"
        "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n\n\n"
        "URI: http://localhost:8000\nVersion: 1\nChain ID: 31337\nNonce: abcdEFGH1234\n"
        "Issued At: 2026-01-01T00:00:00.000Z\nExpiration Time: 2026-01-01T00:10:00.000Z\n"
        "Not Before: 2026-01-01T00:00:00+02:00\nRequest ID: req-1"
    )
    msg = parse_message(text)
    assert msg.statement is None
    assert msg.chain_id == 31337
    assert msg.expiration_time_dt is not None and msg.expiration_time_dt.minute == 10
    assert msg.not_before_dt is not None and msg.not_before_dt.hour == 22  # normalised to UTC
    assert msg.request_id == "req-1"
    assert msg.to_text() == text


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: t.replace(" wants you to sign in", " wants you to log in"), "first line"),
        (lambda t: t.replace(ADDRESS, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756C"), "address"),
        (lambda t: t.replace(ADDRESS, "0xc02AAA39b223FE8D0A0e5C4F27eAD9083C756Cc2"), "checksum"),
        (lambda t: t.replace("Version: 1", "Version: 2"), "version"),
        (lambda t: t.replace("Nonce: 32891756", "Nonce: 1234567"), "nonce"),
        (lambda t: t.replace("Nonce: 32891756", "Nonce: 1234-5678"), "nonce"),
        (lambda t: t.replace("Chain ID: 1", "Chain ID: one"), "chain ID"),
        (lambda t: t.replace("2021-09-30T16:25:24Z", "2021-13-30T16:25:24Z"), "date-time"),
        (lambda t: t.replace("2021-09-30T16:25:24Z", "yesterday"), "issued-at"),
        (lambda t: t.replace("URI: https://example.com/login", "URI: not a uri"), "URI"),
        (lambda t: t.replace("Terms of Service", "Terms\nof Service"), "blank line after the statement"),
        (lambda t: t.replace("- https://", "* https://"), "resource"),
        (lambda t: t + "\nTrailing: junk", "resource"),
        (lambda t: t.replace("\n", "\r\n"), "LF"),
        (lambda t: t.split("\nURI:")[0], "ends before"),
    ],
)
def test_malformed_message_is_rejected_with_reason(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SiweParseError, match=reason):
        parse_message(mutate(EIP_EXAMPLE))


def test_fields_out_of_order_are_rejected() -> None:
    text = EIP_EXAMPLE.replace("Version: 1\nChain ID: 1", "Chain ID: 1\nVersion: 1")
    with pytest.raises(SiweParseError, match="Version"):
        parse_message(text)


@pytest.mark.parametrize("address", ["0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
                                     "0xC02AAA39B223FE8D0A0E5C4F27EAD9083C756CC2"])
def test_address_without_eip55_checksum_is_rejected(address: str) -> None:
    # EIP-4361 requires the checksummed form; single-case hex carries no checksum.
    with pytest.raises(SiweParseError, match="EIP-55"):
        parse_message(EIP_EXAMPLE.replace(ADDRESS, address))
