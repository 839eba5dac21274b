"""The CID validator decodes for real: multibase, version and codec varints, multihash."""

from __future__ import annotations

import base64
import hashlib

import pytest
from assets_service.cid import InvalidCid, b32_cid_v1_raw, b58decode, parse_cid

V0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
DIGEST = hashlib.sha256(b"hello").digest()


def b32(raw: bytes) -> str:
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def test_well_known_cids_decode_with_their_version_codec_and_hash() -> None:
    v0 = parse_cid(V0)
    assert (v0.version, v0.codec, v0.hash_name) == (0, "dag-pb", "sha2-256")
    v1 = parse_cid("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")
    assert (v1.version, v1.codec, v1.hash_name) == (1, "dag-pb", "sha2-256")
    raw = parse_cid("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    assert (raw.codec, raw.multihash[2:].hex()) == ("raw", hashlib.sha256(b"").hexdigest())
    assert parse_cid("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA").codec == "raw"
    assert parse_cid("f01551220" + DIGEST.hex()).multihash[2:] == DIGEST
    assert parse_cid(b32_cid_v1_raw(b"hello")).multihash[2:] == DIGEST


def test_v0_and_v1_of_the_same_content_share_the_content_key() -> None:
    v1 = b32(bytes([0x01, 0x70]) + b58decode(V0))
    assert parse_cid(v1).content_key == parse_cid(V0).content_key


@pytest.mark.parametrize(("text", "reason"), [
    ("", "1..200"),
    ("Qm" + "1" * 43, "46 characters"),
    ("Qm" + "0" * 44, "base58btc"),
    ("Qm" + "z" * 44, "sha2-256 multihash"),
    ("xabc", "unsupported multibase"),
    ("BAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKu", "mixed-case"),
    (b32(bytes([0x02, 0x55, 0x12, 0x20]) + DIGEST), "unsupported CID version 2"),
    (b32(bytes([0x01, 0x99, 0x01, 0x12, 0x20]) + DIGEST), "unknown content codec"),
    (b32(bytes([0x01, 0x55, 0x12, 0x20]) + DIGEST[:31]), "declares 32 digest bytes"),
    (b32(bytes([0x01, 0x55, 0x12, 0x10]) + DIGEST[:16]), "must be 32 bytes"),
    (b32(bytes([0x01, 0x55, 0x99, 0x01, 0x20]) + DIGEST), "unknown multihash function"),
    (b32(bytes([0x81, 0x00, 0x55, 0x12, 0x20]) + DIGEST), "minimally encoded"),
    (b32(bytes([0x12, 0x20]) + DIGEST), "bare multihash"),
    ("f0155", "truncated varint"),
])
def test_invalid_cids_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidCid, match=reason):
        parse_cid(text)
