"""The v2 contracts on a second, independent, pre-Cancun JSON-RPC node: ganache 7.9 (npm, in
services/chain/devnode). Compiled for Shanghai they deploy and run there — the timelocked wiring,
a signed order filled with the exact splits and the buyer charged price + gas, a typed revert
(not "invalid opcode") for a second fill, and an EIP-1271 wallet's signature checked."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from v2_helpers import Reverted, V2Chain
from web3 import HTTPProvider, Web3

GANACHE = Path(__file__).resolve().parents[1] / "devnode" / "node_modules" / ".bin" / "ganache"
KEYS = ["0x" + f"{i:064x}" for i in range(1, 11)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ganache() -> Iterator[Web3]:
    if not GANACHE.exists():
        pytest.fail("ganache not installed: run `npm ci --prefix services/chain/devnode --ignore-scripts`")
    port = free_port()
    args = [str(GANACHE), "--server.host", "127.0.0.1", "--server.port", str(port), "--chain.chainId", "1337",
            "--logging.quiet"]
    for key in KEYS:
        args += ["--wallet.accounts", f"{key},{10**24}"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 30}))
    try:
        deadline = time.monotonic() + 60
        while not _connected(w3):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "ganache exited"
            assert time.monotonic() < deadline, "ganache did not start within 60 s"
            time.sleep(0.2)
        yield w3
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _connected(w3: Web3) -> bool:
    try:
        return bool(w3.is_connected()) and w3.eth.block_number >= 0
    except Exception:  # noqa: BLE001 - not up yet
        return False


def test_v2_deploys_and_sells_on_pre_cancun_ganache(ganache: Web3) -> None:
    assert "ganache" in ganache.client_version.lower() and "7.9" in ganache.client_version
    chain = V2Chain(ganache, [Account.from_key(k) for k in KEYS])  # timelocked wiring included
    a = chain.accounts
    assert chain.call(chain.c.token, "marketplace") == chain.c.market.address
    token_id = chain.mint(a[1].address, [(a[2].address, 3000), (a[3].address, 3000), (a[4].address, 4000)], 1000)
    order = chain.order(a[1].address, token_id, 7771)
    sig = chain.sign_order(a[1], order)
    before = chain.balance(a[5].address)
    receipt = chain.fulfill(a[5], order, sig)
    assert before - chain.balance(a[5].address) == 7771 + receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert [chain.pending(x.address) for x in a[1:5]] == [6994, 234, 233, 310]
    assert chain.owner_of(token_id) == a[5].address
    with pytest.raises(Reverted) as err:
        chain.fulfill(a[6], order, sig)
    assert err.value.name == "OrderAlreadyFilled"
    # An EIP-1271 wallet's order: the ERC-1271 staticcall path runs on this node too.
    wallet = chain.deploy("TestSmartWallet", a[9].address)
    t2 = chain.mint(wallet.address, [(a[2].address, 10_000)], 0)
    o2 = chain.order(wallet.address, t2, 1000)
    with pytest.raises(Reverted) as err:
        chain.fulfill(a[5], o2, chain.sign_order(a[7], o2))
    assert err.value.name == "InvalidSignature"
    chain.fulfill(a[5], o2, chain.sign_order(a[9], o2))
    assert chain.pending(wallet.address) == 1000
    chain.send(a[1], chain.c.market, "withdraw")
    assert chain.pending(a[1].address) == 0
