"""The same service on ganache 7 (npm `ganache`, pre-Cancun, an independent JSON-RPC node):
it starts (the start-up check runs our code), mints, and a revert decodes to the same typed
error as on py-evm and hardhat. Runs when ganache is installed: GANACHE_BIN, or
`npm install --prefix /tmp/ganache ganache@7.9.2`."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from chain_service.service import ChainService
from conftest import chain_database, close_service, open_service
from eth_account import Account
from ipheron_libs.devstack_ports import free_port
from ipheron_libs.errors import FailedPrecondition
from ipheron_libs.testing import wait_until

# ganache --wallet.deterministic account #0.
SIGNER_KEY = "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d"
CANDIDATES = [os.environ.get("GANACHE_BIN", ""), "/tmp/ganache/node_modules/.bin/ganache",
              str(Path(__file__).resolve().parents[1] / "devnode" / "node_modules" / ".bin" / "ganache")]
GANACHE = next((p for p in CANDIDATES if p and Path(p).exists()), None)

pytestmark = pytest.mark.skipif(GANACHE is None, reason="ganache not installed (set GANACHE_BIN)")


@pytest.fixture(scope="module")
def ganache_uri() -> Iterator[str]:
    assert GANACHE is not None
    port = free_port()
    proc = subprocess.Popen([GANACHE, "--wallet.deterministic", "--server.port", str(port), "--logging.quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.post(uri, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).json(),
                   timeout=60, interval=0.3, ignore=(httpx.HTTPError,), message="ganache did not start")
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
async def ganache_chain(ganache_uri: str, pg_admin_url: str) -> AsyncIterator[ChainService]:
    url = chain_database(pg_admin_url, "ipheron_chain_ganache")
    service = await open_service(url, web3_provider_uri=ganache_uri, signer_key=SIGNER_KEY, poll_interval_s=0.02)
    yield service
    close_service(service)


async def test_the_service_runs_on_ganache_and_reverts_are_typed(ganache_chain: ChainService) -> None:
    assert ganache_chain.network.name == "rpc" and ganache_chain.chain_id == 1337
    owner = Account.create().address
    minted = await ganache_chain.mint(str(uuid.uuid4()), owner, "ipfs://ganache", [(owner, 10_000)], 500)
    await ganache_chain.ledger.check_code()
    assert (await ganache_chain.token_info(token_id=minted.token_id)).owner == owner
    # The timelocked wiring ran there too.
    initial = await ganache_chain.network.run(ganache_chain.token.functions.initialMarketplace().call)
    assert initial == ganache_chain.market.address
    with pytest.raises(FailedPrecondition, match="has nothing to withdraw"):
        await ganache_chain.prepare_transaction(ganache_chain.tm.address, ganache_chain.market.address,
                                                ganache_chain.market.encode_abi("withdraw"), "0")
