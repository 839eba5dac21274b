"""`python -m ipheron_libs.devsecrets DIR [--fund RPC_URL]`: fresh secrets for a development or test
stack that runs the production images (the compose stack, the container tests).

Writes, never reusing a well-known value:

- `tls/<identity>/{tls.crt,tls.key,ca.crt}`: a development CA and one certificate per identity;
- `jwt/jwt-private-keys.pem`: the auth service's Ed25519 signing key;
- `signer.key`: the chain service's signer; `quote.key` / `quote.address`: the staking quote key.

With `--fund`, the signer gets ether on a development JSON-RPC node (`hardhat_setBalance`). Run as
root, the files are handed to uid 10001 (the images' user), like a Secret mounted with fsGroup.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ipheron_libs.access import IDENTITIES
from ipheron_libs.mtls import generate_dev_pki

IMAGE_UID = 10001
FUND_WEI = 10_000 * 10**18


@dataclass(frozen=True)
class DevSecrets:
    """Where the secrets are, and the values a caller passes on as environment."""

    root: Path
    signer_key: str
    quote_key: str
    quote_address: str

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    @property
    def jwt_file(self) -> Path:
        return self.root / "jwt" / "jwt-private-keys.pem"

    @property
    def signer_address(self) -> str:
        from eth_account import Account

        return str(Account.from_key(self.signer_key).address)


def generate(root: Path, *, owner_uid: int | None = IMAGE_UID) -> DevSecrets:
    """Write a fresh set under `root` (see the module docstring); existing files are replaced."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from eth_account import Account

    generate_dev_pki(root / "tls", list(IDENTITIES))
    (root / "jwt").mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
    (root / "jwt" / "jwt-private-keys.pem").write_bytes(pem)
    signer, quote = Account.create(), Account.create()
    secrets = DevSecrets(root=root, signer_key="0x" + signer.key.hex().removeprefix("0x"),
                         quote_key="0x" + quote.key.hex().removeprefix("0x"), quote_address=str(quote.address))
    (root / "signer.key").write_text(secrets.signer_key)
    (root / "quote.key").write_text(secrets.quote_key)
    (root / "quote.address").write_text(secrets.quote_address)
    for path in [root, *root.rglob("*")]:
        if path.is_file():
            path.chmod(0o600)
        if owner_uid is not None and os.geteuid() == 0:
            shutil.chown(path, owner_uid, owner_uid)
    return secrets


def load(root: Path) -> DevSecrets:
    """A set `generate` wrote before."""
    return DevSecrets(root=root, signer_key=(root / "signer.key").read_text().strip(),
                      quote_key=(root / "quote.key").read_text().strip(),
                      quote_address=(root / "quote.address").read_text().strip())


def json_rpc(url: str, method: str, params: list[object], timeout: float = 10) -> object:
    """One JSON-RPC call; raises on an error answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as reply:  # noqa: S310 - a development node
        answer = json.loads(reply.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def fund(rpc_url: str, address: str, wei: int = FUND_WEI, wait_s: float = 120) -> None:
    """Give `address` ether on a development node, waiting for the node to answer first."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            json_rpc(rpc_url, "hardhat_setBalance", [address, hex(wei)])
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--fund", metavar="RPC_URL", help="fund the signer on this development node")
    parser.add_argument("--keep", action="store_true", help="keep an existing set (a restarted stack)")
    args = parser.parse_args(argv)
    reuse = args.keep and (args.dir / "signer.key").exists()
    secrets = load(args.dir) if reuse else generate(args.dir)
    if args.fund:
        fund(args.fund, secrets.signer_address)
    sys.stderr.write(f"devsecrets: wrote {args.dir} (signer {secrets.signer_address})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
