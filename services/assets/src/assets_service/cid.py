"""IPFS content identifier (CID) validation.

A CID v0 is the base58btc text of a sha2-256 multihash (``Qm...``, 46 chars).
A CID v1 is ``<multibase prefix><varint version=1><varint codec><multihash>``.
We decode both for real (no regex guessing) and return the multihash, so the
same content registered as v0 and as v1 (dag-pb) is recognised as one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}

# Content codecs accepted for v1 (multicodec table): raw, dag-pb, dag-cbor,
# dag-json, json, libp2p-key are what IPFS tooling produces for files and DAGs.
_CODECS = {0x55: "raw", 0x70: "dag-pb", 0x71: "dag-cbor", 0x0129: "dag-json", 0x0200: "json", 0x72: "libp2p-key"}
# Hash functions with their fixed digest sizes (0 = variable, checked against the declared length).
_HASHES = {
    0x00: ("identity", 0),
    0x12: ("sha2-256", 32),
    0x13: ("sha2-512", 64),
    0x16: ("sha3-256", 32),
    0x14: ("sha3-512", 64),
    0x1B: ("keccak-256", 32),
    0xB220: ("blake2b-256", 32),
    0x1E: ("blake3", 0),
}
MAX_CID_LENGTH = 200


class InvalidCid(ValueError):
    """The text is not a valid CID; the message says why."""


@dataclass(frozen=True)
class Cid:
    """A decoded CID."""

    version: int
    codec: str
    hash_name: str
    multihash: bytes

    @property
    def content_key(self) -> str:
        """Hex multihash: equal for v0 and v1 (dag-pb) forms of the same content."""
        return self.multihash.hex()


def b58decode(text: str) -> bytes:
    """Decode base58btc (Bitcoin alphabet)."""
    num = 0
    for ch in text:
        try:
            num = num * 58 + _B58_INDEX[ch]
        except KeyError:
            raise InvalidCid(f"character {ch!r} is not base58btc") from None
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    leading_zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading_zeros + body


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read an unsigned LEB128 varint (at most 9 bytes, minimal encoding)."""
    value = 0
    for i in range(9):
        if pos + i >= len(data):
            raise InvalidCid("truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise InvalidCid("varint is not minimally encoded")
            return value, pos + i + 1
    raise InvalidCid("varint too long")


def _check_multihash(mh: bytes) -> str:
    code, pos = _read_varint(mh, 0)
    if code not in _HASHES:
        raise InvalidCid(f"unknown multihash function 0x{code:x}")
    name, fixed = _HASHES[code]
    length, pos = _read_varint(mh, pos)
    if len(mh) - pos != length:
        raise InvalidCid(f"multihash declares {length} digest bytes but has {len(mh) - pos}")
    if fixed and length != fixed:
        raise InvalidCid(f"{name} digest must be {fixed} bytes, got {length}")
    if length == 0:
        raise InvalidCid("empty digest")
    return name


def _multibase_decode(text: str) -> bytes:
    prefix, body = text[0], text[1:]
    if not body:
        raise InvalidCid("empty multibase body")
    if prefix == "z":
        return b58decode(body)
    if prefix in ("b", "B"):
        # RFC 4648 base32 without padding; 'b' lower case, 'B' upper case.
        if (prefix == "b" and body != body.lower()) or (prefix == "B" and body != body.upper()):
            raise InvalidCid("mixed-case base32")
        padded = body.upper() + "=" * (-len(body) % 8)
        try:
            return base64.b32decode(padded)
        except (ValueError, base64.binascii.Error) as exc:  # type: ignore[attr-defined]
            raise InvalidCid(f"invalid base32: {exc}") from None
    if prefix == "f":
        try:
            return bytes.fromhex(body)
        except ValueError:
            raise InvalidCid("invalid base16") from None
    raise InvalidCid(f"unsupported multibase prefix {prefix!r} (use b, B, z or f)")


def parse_cid(text: str) -> Cid:
    """Decode and validate a CID v0 or v1, raising InvalidCid with the reason."""
    if not text or len(text) > MAX_CID_LENGTH:
        raise InvalidCid("CID must be 1..200 characters")
    if text.startswith("Qm"):
        if len(text) != 46:
            raise InvalidCid("CID v0 must be 46 characters")
        mh = b58decode(text)
        if len(mh) != 34 or mh[0] != 0x12 or mh[1] != 0x20:
            raise InvalidCid("CID v0 must be a sha2-256 multihash")
        return Cid(version=0, codec="dag-pb", hash_name="sha2-256", multihash=mh)
    raw = _multibase_decode(text)
    version, pos = _read_varint(raw, 0)
    if version == 0x12:
        raise InvalidCid("a bare multihash is not a CID v1")
    if version != 1:
        raise InvalidCid(f"unsupported CID version {version}")
    codec, pos = _read_varint(raw, pos)
    if codec not in _CODECS:
        raise InvalidCid(f"unknown content codec 0x{codec:x}")
    mh = raw[pos:]
    hash_name = _check_multihash(mh)
    return Cid(version=1, codec=_CODECS[codec], hash_name=hash_name, multihash=mh)


def b32_cid_v1_raw(content: bytes) -> str:
    """The CID v1 (raw codec, sha2-256, base32) of `content`, as `ipfs add --cid-version 1
    --raw-leaves` gives for a file that fits in one block."""
    import hashlib

    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(content).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")
