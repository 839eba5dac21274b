"""Ed25519 signing keys for access tokens, their JWK set, and development key storage.

Keys come from `AUTH_JWT_PRIVATE_KEYS` (PEM PKCS#8 blocks, current key first, the
previous one after it during a rotation) or from `AUTH_JWT_PRIVATE_KEYS_FILE`. In
development, when neither is set, keys are generated once and kept in
`$DATA_DIR/auth/keys/` so tokens survive restarts. The `kid` is the RFC 7638 JWK
thumbprint, so a key's id follows from the key itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
_PEM_BLOCK = re.compile(r"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----", re.S)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key pair and its JWK thumbprint id."""

    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_private(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        x = _b64url(private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        # RFC 7638: members in lexicographic order, no whitespace.
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
        return cls(kid=_b64url(hashlib.sha256(canonical.encode()).digest()), private_key=private_key)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        x = _b64url(self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")


class KeyRing:
    """The current signing key plus older keys that still verify (rotation overlap)."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("at least one signing key is required")
        self.keys = keys

    @property
    def current(self) -> SigningKey:
        return self.keys[0]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK set: current and previous keys, never private material."""
        return {"keys": [k.public_jwk() for k in self.keys]}

    @classmethod
    def from_pem_text(cls, text: str) -> KeyRing:
        blocks = _PEM_BLOCK.findall(text)
        if not blocks:
            raise ValueError("no PEM 'PRIVATE KEY' block found in the JWT key setting")
        keys = []
        for block in blocks:
            key = serialization.load_pem_private_key(block.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("JWT signing keys must be Ed25519 (EdDSA)")
            keys.append(SigningKey.from_private(key))
        return cls(keys)


def load_keyring(pem_text: str | None, pem_file: Path | None, dev_dir: Path | None) -> KeyRing:
    """Keys from the setting, else the file, else (development only) the data dir."""
    if pem_text:
        return KeyRing.from_pem_text(pem_text)
    if pem_file:
        return KeyRing.from_pem_text(pem_file.read_text())
    if dev_dir is None:
        raise ValueError("AUTH_JWT_PRIVATE_KEYS or AUTH_JWT_PRIVATE_KEYS_FILE is required outside development")
    return _dev_keyring(dev_dir)


def _dev_keyring(directory: Path) -> KeyRing:
    current = directory / "current.pem"
    if not current.exists():
        directory.mkdir(parents=True, exist_ok=True)
        _write_private(current, SigningKey.generate().private_pem())
        log.info("generated development JWT key in %s", directory)
    text = current.read_text()
    previous = directory / "previous.pem"
    if previous.exists():
        text += "\n" + previous.read_text()
    return KeyRing.from_pem_text(text)


def rotate_dev_keys(directory: Path) -> KeyRing:
    """Make the current key the previous one and generate a new current key."""
    ring = _dev_keyring(directory)
    _write_private(directory / "previous.pem", ring.current.private_pem())
    _write_private(directory / "current.pem", SigningKey.generate().private_pem())
    return _dev_keyring(directory)


def _write_private(path: Path, pem: str) -> None:
    # Written 0600 from the start so the key is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)
