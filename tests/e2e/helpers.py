"""What several end-to-end tests do: sign in with a real key through the gateway (the
session carries its wallet, `ipheron_libs.wallet.Wallet`, so the marketplace steps of
`ipheron_devstack.market` can sign listings and payments with it), and read the spans the
processes exported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from ipheron_libs.testing import wait_until
from ipheron_libs.wallet import Wallet


@dataclass
class Session:
    account: LocalAccount
    access_token: str
    refresh_token: str
    user: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def wallet(self) -> Wallet:
        return Wallet(self.account)

    @property
    def id(self) -> str:
        return str(self.user["id"])

    @property
    def address(self) -> str:
        return str(self.account.address)


def sign_in(api: httpx.Client, account: LocalAccount | None = None) -> Session:
    """SIWE through the gateway with a real private key."""
    account = account or Account.create()
    nonce = api.post("/api/v1/auth/nonce", json={"address": account.address})
    assert nonce.status_code == 200, nonce.text
    message = nonce.json()["message"]
    signature = "0x" + account.sign_message(encode_defunct(text=message)).signature.hex().removeprefix("0x")
    resp = api.post("/api/v1/auth/login", json={"message": message, "signature": signature})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return Session(account, body["access_token"], body["refresh_token"], body["user"])


def spans(trace_file: Path, trace_id: str, *, want: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Spans of one trace, waiting for the processes' batch exporters to flush (returns what
    arrived by the deadline, so the caller's assertion names what is missing)."""
    found: list[dict[str, Any]] = []

    def enough() -> bool:
        nonlocal found
        if trace_file.exists():
            found = [s for line in trace_file.read_bytes().splitlines() if line.strip()
                     for s in [orjson.loads(line)] if s["trace_id"] == trace_id]
        return len(found) >= want

    try:
        wait_until(enough, timeout, interval=0.2)
    except TimeoutError:
        pass
    return found
