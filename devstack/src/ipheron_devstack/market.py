"""The marketplace as a user drives it through the gateway, with a real wallet
(`ipheron_libs.wallet.Wallet`): sign in (SIWE), get development funds, register an asset,
sign its listing (EIP-712), buy it from one's own wallet (prepare → sign → submit → recorded),
withdraw what sales credited, and stake on an asset from one's own wallet (signed quote →
`stake()` signed and paid by the wallet → active once the vault's event is recorded), claim
the accrued rewards and unstake, each with its own signed transaction.

One way to do these steps for `make demo-data`, `make bench` and the end-to-end tests. Each
step checks the answer's status and raises `ApiError` (naming the request and the answer)
otherwise; the tests call the gateway themselves where the answer is what they prove.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson
from ipheron_libs.wallet import Wallet

API = "/api/v1"
# Registration, mint and sale confirm asynchronously; every wait polls and returns as soon as
# the state is reached (long enough for a loaded 2-core machine).
DEFAULT_TIMEOUT_S = 90.0


class Answer(Protocol):
    """What the steps read of an HTTP answer (an `httpx.Response` or a `LeanAnswer`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Any: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class Api(Protocol):
    """The client the purchase steps send with: an `httpx.Client` with the gateway as its base
    URL, or a `LeanClient`."""

    def post(self, url: str, *, json: Any = ..., headers: dict[str, str] = ...) -> Answer: ...

    def get(self, url: str, *, headers: dict[str, str] = ..., timeout: Any = ...) -> Answer: ...


class LeanAnswer:
    """An HTTP answer as `Answer`: status, headers (case-insensitive), body."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Any, content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class LeanClient:
    """`Api` over the standard library's `http.client`, one kept-alive connection per thread:
    for a load generator on the machine it measures (`make bench`), where httpx spent 1.3 ms
    of CPU a request and this 0.4 ms. `url`s are paths on `base_url`'s host."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.timeout = parsed.hostname or "127.0.0.1", parsed.port or 80, timeout
        self._local = threading.local()

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
              timeout: Any) -> LeanAnswer:
        wait = timeout if isinstance(timeout, int | float) else self.timeout
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=wait)
            conn.timeout = wait
            if conn.sock is not None:
                conn.sock.settimeout(wait)
            try:
                conn.request(method, url, body=body, headers=headers)
                resp = conn.getresponse()
                return LeanAnswer(resp.status, resp.headers, resp.read())
            except (ConnectionError, http.client.BadStatusLine):
                # The server closed a kept-alive connection: once more on a new one. Sending a
                # step again is safe: a purchase is keyed (Idempotency-Key), a transaction by hash.
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post(self, url: str, *, json: Any = None, headers: dict[str, str] | None = None) -> LeanAnswer:
        body = orjson.dumps(json if json is not None else {})
        return self._send("POST", url, body, {**(headers or {}), "content-type": "application/json"}, None)

    def get(self, url: str, *, headers: dict[str, str] | None = None, timeout: Any = None) -> LeanAnswer:
        return self._send("GET", url, None, headers or {}, timeout)


class ApiError(RuntimeError):
    """The gateway answered something other than what the step expects."""

    def __init__(self, what: str, response: Answer) -> None:
        super().__init__(f"{what}: {response.status_code} {response.text[:500]}")
        self.response = response


def expect(response: Answer, what: str, *statuses: int) -> dict[str, Any]:
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


def start_purchase(api: Api, buyer: Account, asset_id: str, key: str | None = None) -> Answer:
    """`POST /assets/{id}/purchase`: 201 awaiting_payment with the Tx to sign, or a problem (402, 409)."""
    return api.post(f"{API}/assets/{asset_id}/purchase", json={},
                    headers={**buyer.headers, "Idempotency-Key": key or f"buy-{uuid.uuid4().hex}"})


def submit_payment(api: Api, buyer: Account, purchase: dict[str, Any]) -> Answer:
    """Sign the purchase's prepared transaction with the buyer's wallet and hand in the raw bytes."""
    raw = buyer.wallet.sign_transaction(purchase["transaction"])
    return api.post(f"{API}/assets/{purchase['asset_id']}/purchases/{purchase['id']}/transaction",
                    json={"raw_transaction": raw}, headers=buyer.headers)


def get_purchase(api: Api, buyer: Account, purchase: dict[str, Any], wait: int = 0) -> dict[str, Any]:
    """`GET .../purchases/{id}`; with `wait` (seconds) a long poll (`Prefer: wait=N`), answered
    once the purchase is completed or failed, or when it changed, or after `wait` seconds."""
    return _read_purchase(api, buyer, purchase, wait)[0]


def _read_purchase(api: Api, buyer: Account, purchase: dict[str, Any],
                   wait: int) -> tuple[dict[str, Any], bool]:
    """The purchase, and whether the server honoured the `wait` (a server that does not know
    the preference answers at once, without Preference-Applied)."""
    headers = {**buyer.headers, "Prefer": f"wait={wait}"} if wait else buyer.headers
    resp = api.get(f"{API}/assets/{purchase['asset_id']}/purchases/{purchase['id']}", headers=headers,
                   timeout=wait + 30 if wait else httpx.USE_CLIENT_DEFAULT)
    return expect(resp, f"purchase {purchase['id']}"), "Preference-Applied" in resp.headers


def wait_purchase(api: Api, buyer: Account, purchase: dict[str, Any],
                  timeout: float = DEFAULT_TIMEOUT_S, interval: float = 0.2, long_poll: int = 10) -> dict[str, Any]:
    """Wait until the purchase is completed or failed (the chain's indexer records the sale): long
    polls of up to `long_poll` seconds each, or (long_poll=0, or a server that does not wait) a
    plain poll every `interval`."""
    deadline = time.monotonic() + timeout
    waited = bool(long_poll)
    while purchase["state"] not in ("completed", "failed"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"purchase {purchase['id']} still {purchase['state']} after {timeout:.0f}s")
        if not waited:
            time.sleep(interval)
        purchase, waited = _read_purchase(api, buyer, purchase, max(1, min(long_poll, int(left))) if long_poll else 0)
    return purchase


def buy(api: Api, buyer: Account, asset_id: str) -> dict[str, Any]:
    """The whole purchase from the buyer's own wallet: prepare → sign → submit → recorded."""
    prepared = expect(start_purchase(api, buyer, asset_id), f"purchase {asset_id}", 201)
    submitted = expect(submit_payment(api, buyer, prepared), f"submit payment for {asset_id}", 202)
    done = wait_purchase(api, buyer, submitted)
    if done["state"] != "completed":
        raise RuntimeError(f"purchase of {asset_id} failed: {done.get('failure_reason')}")
    return done


# ------------------------------------------------------------------ staking from one's own wallet


def vault(api: httpx.Client) -> dict[str, Any]:
    """`GET /staking/vault`: the vault's address, its pool (free, reserved), principal and balance."""
    return expect(api.get(f"{API}/staking/vault"), "staking vault")


def fund_vault(api: httpx.Client, eth: str) -> dict[str, Any]:
    """`POST /dev/vault/fund` (development only): the platform signer adds `eth` to the reward
    pool; {transaction, vault}."""
    return expect(api.post(f"{API}/dev/vault/fund", json={"amount": eth}), "fund the vault")


def staking_quote(api: httpx.Client, staker: Account | None, asset_id: str, amount: str,
                  duration_days: int) -> dict[str, Any]:
    """`GET /staking/quote`: the APR with its rules; signed for the staker's wallet when signed in."""
    params: dict[str, str | int] = {"asset_id": asset_id, "amount": amount, "duration_days": duration_days}
    return expect(api.get(f"{API}/staking/quote", params=params, headers=staker.headers if staker else {}),
                  f"quote for {amount} on {asset_id}")


def start_stake(api: httpx.Client, staker: Account, asset_id: str, amount: str, duration_days: int,
                key: str | None = None) -> httpx.Response:
    """`POST /stakes`: 201 a pending stake with the `stake()` transaction to sign, or a problem
    (402 the wallet cannot pay amount + gas, 409 the pool cannot cover the reservation)."""
    return api.post(f"{API}/stakes", json={"asset_id": asset_id, "amount": amount, "duration_days": duration_days},
                    headers={**staker.headers, "Idempotency-Key": key or f"stake-{uuid.uuid4().hex}"})


def stake_of(body: dict[str, Any]) -> dict[str, Any]:
    """The stake in an answer that carries one (`{stake, ...}`), or the answer when it is the stake."""
    inner = body.get("stake")
    return inner if isinstance(inner, dict) else body


def prepared_tx(body: dict[str, Any]) -> dict[str, Any]:
    """The transaction an open, claim or unstake answer prepared for the wallet to sign."""
    tx = body.get("transaction") or stake_of(body).get("transaction")
    if not isinstance(tx, dict):
        raise RuntimeError(f"no prepared transaction in {str(body)[:300]}")
    return tx


def _hand_in(what: str) -> str:
    return {"open": "transaction", "claim": "claim/transaction", "unstake": "unstake/transaction"}[what]


def submit_stake_transaction(api: httpx.Client, staker: Account, stake_id: str, tx: dict[str, Any],
                             what: str = "open") -> httpx.Response:
    """Sign a prepared open / claim / unstake with the staker's wallet and hand in the raw bytes
    (`POST /stakes/{id}/transaction`, `/claim/transaction` or `/unstake/transaction`)."""
    raw = staker.wallet.sign_transaction(tx)
    return api.post(f"{API}/stakes/{stake_id}/{_hand_in(what)}", json={"raw_transaction": raw},
                    headers=staker.headers)


def get_stake(api: httpx.Client, staker: Account, stake_id: str) -> dict[str, Any]:
    return stake_of(expect(api.get(f"{API}/stakes/{stake_id}", headers=staker.headers), f"stake {stake_id}"))


def wait_stake(api: httpx.Client, staker: Account, stake_id: str, done: Callable[[dict[str, Any]], bool],
               what: str, timeout: float = DEFAULT_TIMEOUT_S, interval: float = 0.2) -> dict[str, Any]:
    """Poll the stake until `done(stake)` (the vault's event recorded); a failed stake raises."""
    deadline = time.monotonic() + timeout
    while True:
        stake = get_stake(api, staker, stake_id)
        if done(stake):
            return stake
        if stake["status"] == "failed":
            raise RuntimeError(f"stake {stake_id} failed while waiting for {what}: {stake.get('failure_reason')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"stake {stake_id} still {stake['status']} after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def stake(api: httpx.Client, staker: Account, asset_id: str, amount: str, duration_days: int) -> dict[str, Any]:
    """The whole stake from the staker's own wallet: quote signed for it → `stake()` signed and
    paid → handed in → active once the vault's StakeOpened is recorded. The active stake."""
    opened = expect(start_stake(api, staker, asset_id, amount, duration_days), f"stake on {asset_id}", 201)
    pending = stake_of(opened)
    expect(submit_stake_transaction(api, staker, pending["id"], prepared_tx(opened)), f"hand in {pending['id']}", 202)
    return wait_stake(api, staker, pending["id"], lambda s: s["status"] in ("active", "matured"), "its opening")


def start_claim(api: httpx.Client, staker: Account, stake_id: str, key: str | None = None) -> httpx.Response:
    """`POST /stakes/{id}/claim`: 200 {stake, claimed, claimed_wei, transaction} or a problem."""
    headers = {**staker.headers, **({"Idempotency-Key": key} if key else {})}
    return api.post(f"{API}/stakes/{stake_id}/claim", headers=headers)


def start_unstake(api: httpx.Client, staker: Account, stake_id: str, key: str | None = None) -> httpx.Response:
    """`POST /stakes/{id}/unstake`: 200 {stake, early, payout_wei, penalty_wei, transaction, ...}."""
    headers = {**staker.headers, **({"Idempotency-Key": key} if key else {})}
    return api.post(f"{API}/stakes/{stake_id}/unstake", headers=headers)


def claim(api: httpx.Client, staker: Account, stake_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Claim what has accrued with the staker's own `claim()`: (the prepared answer, the stake
    once the vault's RewardsClaimed is recorded)."""
    before = int(get_stake(api, staker, stake_id)["claimed_wei"])
    prepared = expect(start_claim(api, staker, stake_id), f"claim {stake_id}")
    expect(submit_stake_transaction(api, staker, stake_id, prepared_tx(prepared), "claim"),
           f"hand in the claim of {stake_id}", 202)
    after = wait_stake(api, staker, stake_id, lambda s: int(s["claimed_wei"]) > before, "its claim")
    return prepared, after


def unstake(api: httpx.Client, staker: Account, stake_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Close the stake with the staker's own `unstake()`: (the prepared answer with its preview,
    the stake once the vault's Unstaked is recorded)."""
    prepared = expect(start_unstake(api, staker, stake_id), f"unstake {stake_id}")
    expect(submit_stake_transaction(api, staker, stake_id, prepared_tx(prepared), "unstake"),
           f"hand in the unstake of {stake_id}", 202)
    return prepared, wait_stake(api, staker, stake_id, lambda s: s["status"] == "closed", "its close")


def list_stakes(api: httpx.Client, staker: Account, **params: str | int) -> dict[str, Any]:
    """`GET /stakes`: the caller's stakes (a page: items, total)."""
    return expect(api.get(f"{API}/stakes", params=params, headers=staker.headers), "list stakes")


__all__ = ["API", "Account", "ApiError", "User", "asset_body", "balances", "buy", "chain_tx", "cid_v1", "claim",
           "expect", "fund", "fund_vault", "gas_cost_wei", "get_purchase", "get_stake", "list_for_sale",
           "list_stakes", "listing_typed_data", "native_wei", "pending_wei", "prepared_tx", "put_listing",
           "register", "sign_in", "stake", "stake_of", "staking_quote", "start_claim", "start_purchase",
           "start_stake", "start_unstake", "submit_payment", "submit_stake_transaction", "unstake", "vault",
           "wait_asset_active", "wait_purchase", "wait_stake"]
