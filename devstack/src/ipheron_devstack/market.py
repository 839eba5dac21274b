"""The marketplace as a user drives it through the gateway, with a real wallet
(`ipheron_libs.wallet.Wallet`): sign in (SIWE), get development funds, register an asset,
sign its listing (EIP-712), buy it from one's own wallet (prepare → sign → submit → recorded),
and withdraw what sales credited.

One way to do these steps for `make demo-data`, `make bench` and the end-to-end tests. Each
step checks the answer's status and raises `ApiError` (naming the request and the answer)
otherwise; the tests call the gateway themselves where the answer is what they prove.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from ipheron_libs.wallet import Wallet

API = "/api/v1"
# Registration, mint and sale confirm asynchronously; every wait polls and returns as soon as
# the state is reached (long enough for a loaded 2-core machine).
DEFAULT_TIMEOUT_S = 90.0


class ApiError(RuntimeError):
    """The gateway answered something other than what the step expects."""

    def __init__(self, what: str, response: httpx.Response) -> None:
        super().__init__(f"{what}: {response.status_code} {response.text[:500]}")
        self.response = response


def expect(response: httpx.Response, what: str, *statuses: int) -> dict[str, Any]:
    """The JSON body of an answer with one of `statuses` (default 200), else ApiError."""
    if response.status_code not in (statuses or (200,)):
        raise ApiError(what, response)
    body: dict[str, Any] = response.json()
    return body


class Account(Protocol):
    """What the steps need of a signed-in user: the wallet and the bearer header."""

    @property
    def wallet(self) -> Wallet: ...

    @property
    def id(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...


@dataclass
class User:
    """A signed-in user and the wallet that is their account."""

    wallet: Wallet
    access_token: str
    profile: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.profile["id"])

    @property
    def address(self) -> str:
        return self.wallet.address

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def _patient(send: Callable[[], httpx.Response], attempts: int = 4) -> httpx.Response:
    """Send; on 429 wait what Retry-After says (at most a minute) and try again, a few times.
    Sign-ins are rate limited per client address (10 a minute by default under `make run`)."""
    for _ in range(attempts - 1):
        response = send()
        if response.status_code != 429:
            return response
        retry = response.headers.get("Retry-After", "")
        time.sleep(min(60.0, float(retry)) if retry.isdigit() else 5.0)
    return send()


def sign_in(api: httpx.Client, wallet: Wallet | None = None) -> User:
    """Sign-In with Ethereum through the gateway (a new wallet unless one is given)."""
    wallet = wallet or Wallet.create()
    nonce = expect(_patient(lambda: api.post(f"{API}/auth/nonce", json={"address": wallet.address})), "auth nonce")
    message = nonce["message"]
    login = {"message": message, "signature": wallet.sign_siwe(message)}
    body = expect(_patient(lambda: api.post(f"{API}/auth/login", json=login)), "auth login")
    return User(wallet, body["access_token"], body["user"])


def fund(api: httpx.Client, address: str, eth: str) -> int:
    """`POST /dev/faucet` (development only); the wallet's native balance after it, in wei."""
    body = expect(api.post(f"{API}/dev/faucet", json={"address": address, "amount": eth}), "faucet")
    return int(body["balance_wei"])


def balances(api: httpx.Client, address: str) -> dict[str, Any]:
    """`GET /chain/balances/{address}`: pending_withdrawal_wei and native_balance_wei (strings)."""
    return expect(api.get(f"{API}/chain/balances/{address}"), f"balances of {address}")


def native_wei(api: httpx.Client, address: str) -> int:
    return int(balances(api, address)["native_balance_wei"])


def pending_wei(api: httpx.Client, address: str) -> int:
    return int(balances(api, address)["pending_withdrawal_wei"])


def chain_tx(api: httpx.Client, tx_hash: str) -> dict[str, Any]:
    """`GET /chain/tx/{hash}`: the transaction with its receipt."""
    return expect(api.get(f"{API}/chain/tx/{tx_hash}"), f"transaction {tx_hash}")


def gas_cost_wei(tx: dict[str, Any]) -> int:
    """What a mined transaction's sender paid for gas: gasUsed × effectiveGasPrice."""
    receipt = tx["receipt"]
    return int(receipt["gas_used"]) * int(receipt["effective_gas_price_wei"])


def asset_body(creators: Sequence[tuple[Account, str]], *, price: str = "1", royalty: str = "10",
               name: str | None = None, asset_type: str = "music", description: str | None = None) -> dict[str, Any]:
    """A registration body: creators with their share percents (summing to 100), a unique CID."""
    return {
        "name": name or f"Work {uuid.uuid4().hex[:10]}",
        "asset_type": asset_type,
        "price": price,
        "royalty_rate": royalty,
        "metadata": {"description": description or "an original work registered through the wallet helper"},
        "utility_features": ["streaming license"],
        "region": "Global",
        "creators": [{"user_id": u.id, "share_percent": share} for u, share in creators],
        "ipfs_hash": cid_v1(b"ipheron content " + secrets.token_bytes(32)),
    }


def cid_v1(content: bytes) -> str:
    """CID v1, raw codec, sha2-256, base32 (what `ipfs add --cid-version 1 --raw-leaves` prints)."""
    digest = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(content).digest()
    return "b" + base64.b32encode(digest).decode().lower().rstrip("=")


def wait_asset_active(api: httpx.Client, asset_id: str, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Poll until the asset is active with a token (the mint confirms asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        asset = expect(api.get(f"{API}/assets/{asset_id}"), f"asset {asset_id}")
        if asset["status"] == "active" and asset["token_id"]:
            return asset
        # A risk check that did not answer in time holds the asset as pending_review without a
        # score, and the worker asks again; a scored hold, a failure or an archive is final.
        retrying = asset["status"] in ("pending", "active") or (
            asset["status"] == "pending_review" and asset["risk_score"] is None)
        if not retrying:
            raise RuntimeError(f"asset {asset_id} ended {asset['status']}: {asset.get('review_reasons')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"asset {asset_id} still {asset['status']} after {timeout:.0f}s")
        time.sleep(0.2)


def register(api: httpx.Client, creator: Account, body: dict[str, Any]) -> dict[str, Any]:
    """Register an asset as `creator` and wait until it is minted (to the creator's wallet)."""
    created = expect(api.post(f"{API}/assets", json=body, headers=creator.headers), "register asset", 201)
    return wait_asset_active(api, created["id"])


def listing_typed_data(api: httpx.Client, owner: Account, asset_id: str, price: str,
                       duration_seconds: int | None = None) -> dict[str, Any]:
    """The EIP-712 document the owner signs to list the asset at `price` (ETH)."""
    params: dict[str, str | int] = {"price": price}
    if duration_seconds is not None:
        params["duration_seconds"] = duration_seconds
    body = expect(api.get(f"{API}/assets/{asset_id}/listing/typed-data", params=params, headers=owner.headers),
                  f"listing typed data of {asset_id}")
    document: dict[str, Any] = body["typed_data"]
    return document


def put_listing(api: httpx.Client, owner: Account, asset_id: str, document: dict[str, Any],
                signature: str | None = None) -> httpx.Response:
    """`PUT /assets/{id}/listing` with the document's message and the owner's signature of it."""
    signature = signature or owner.wallet.sign_typed_data(document)
    return api.put(f"{API}/assets/{asset_id}/listing", headers=owner.headers,
                   json={"order": document["message"], "signature": signature})


def list_for_sale(api: httpx.Client, owner: Account, asset_id: str, price: str,
                  duration_seconds: int | None = None) -> dict[str, Any]:
    """Sign a listing at `price` (ETH) and put it: the asset is then for sale. The Listing."""
    document = listing_typed_data(api, owner, asset_id, price, duration_seconds)
    listing: dict[str, Any] = expect(put_listing(api, owner, asset_id, document), f"put listing of {asset_id}")[
        "listing"]
    return listing


def start_purchase(api: httpx.Client, buyer: Account, asset_id: str, key: str | None = None) -> httpx.Response:
    """`POST /assets/{id}/purchase`: 201 awaiting_payment with the Tx to sign, or a problem (402, 409)."""
    return api.post(f"{API}/assets/{asset_id}/purchase", json={},
                    headers={**buyer.headers, "Idempotency-Key": key or f"buy-{uuid.uuid4().hex}"})


def submit_payment(api: httpx.Client, buyer: Account, purchase: dict[str, Any]) -> httpx.Response:
    """Sign the purchase's prepared transaction with the buyer's wallet and hand in the raw bytes."""
    raw = buyer.wallet.sign_transaction(purchase["transaction"])
    return api.post(f"{API}/assets/{purchase['asset_id']}/purchases/{purchase['id']}/transaction",
                    json={"raw_transaction": raw}, headers=buyer.headers)


def get_purchase(api: httpx.Client, buyer: Account, purchase: dict[str, Any]) -> dict[str, Any]:
    return expect(api.get(f"{API}/assets/{purchase['asset_id']}/purchases/{purchase['id']}", headers=buyer.headers),
                  f"purchase {purchase['id']}")


def wait_purchase(api: httpx.Client, buyer: Account, purchase: dict[str, Any],
                  timeout: float = DEFAULT_TIMEOUT_S, interval: float = 0.2) -> dict[str, Any]:
    """Poll the purchase until it is completed or failed (the chain's indexer records the sale)."""
    deadline = time.monotonic() + timeout
    while purchase["state"] not in ("completed", "failed"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"purchase {purchase['id']} still {purchase['state']} after {timeout:.0f}s")
        time.sleep(interval)
        purchase = get_purchase(api, buyer, purchase)
    return purchase


def buy(api: httpx.Client, buyer: Account, asset_id: str) -> dict[str, Any]:
    """The whole purchase from the buyer's own wallet: prepare → sign → submit → recorded."""
    prepared = expect(start_purchase(api, buyer, asset_id), f"purchase {asset_id}", 201)
    submitted = expect(submit_payment(api, buyer, prepared), f"submit payment for {asset_id}", 202)
    done = wait_purchase(api, buyer, submitted)
    if done["state"] != "completed":
        raise RuntimeError(f"purchase of {asset_id} failed: {done.get('failure_reason')}")
    return done


__all__ = ["API", "Account", "ApiError", "User", "asset_body", "balances", "buy", "chain_tx", "cid_v1", "expect",
           "fund", "gas_cost_wei", "get_purchase", "list_for_sale", "listing_typed_data", "native_wei", "pending_wei",
           "put_listing", "register", "sign_in", "start_purchase", "submit_payment", "wait_asset_active",
           "wait_purchase"]
