"""The whole system from images (infra/compose.yaml): PostgreSQL, Redis, the JSON-RPC chain node and the
seven deployables in production mode with mutual TLS. Through the gateway container only, two users
sign in with Ethereum; one registers an asset (minted on chain), signs its listing, and the other buys
it from their own wallet; the token changes hands and the buyer paid."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from containers import ROOT, images_env
from ipheron_devstack import market
from ipheron_libs.devsecrets import json_rpc
from ipheron_libs.devstack_ports import free_port

COMPOSE = ROOT / "infra" / "compose.yaml"


def _compose(project: str, env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker-compose", "-p", project, "-f", str(COMPOSE), *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    if subprocess.run(["docker-compose", "version"], capture_output=True).returncode != 0:
        pytest.fail("docker-compose is missing: `make test-containers` installs it (apt-get install docker-compose)")
    project = f"ipheronct{uuid.uuid4().hex[:6]}"
    gateway_port, node_port = free_port(), free_port()
    env = {**os.environ, **images_env(), "GATEWAY_PUBLISH_PORT": str(gateway_port),
           "CHAIN_NODE_PUBLISH_PORT": str(node_port), "IPHERON_DB_PASSWORD": uuid.uuid4().hex}
    up = _compose(project, env, "up", "-d")
    try:
        assert up.returncode == 0, up.stderr[-4000:]
        url = f"http://127.0.0.1:{gateway_port}"
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/health/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                logs = _compose(project, env, "logs", "--tail", "40").stdout
                raise AssertionError(f"the gateway did not turn ready:\n{logs[-8000:]}")
            time.sleep(2)
        yield url, f"http://127.0.0.1:{node_port}"
    finally:
        Path(tmp_path_factory.mktemp("compose") / "logs.txt").write_text(_compose(project, env, "logs").stdout)
        _compose(project, env, "down", "-v", "--remove-orphans")


@pytest.mark.timeout(900)
def test_sign_in_and_a_purchase_end_to_end_through_the_gateway_container(system: tuple[str, str]) -> None:
    url, node = system
    with httpx.Client(base_url=url, timeout=60) as api:
        seller, buyer = market.sign_in(api), market.sign_in(api)
        assert seller.profile["wallet_address"].lower() == seller.address.lower()
        # No faucet in production: the development node funds the wallets directly.
        for who in (seller, buyer):
            json_rpc(node, "hardhat_setBalance", [who.address, hex(10 * 10**18)])
        asset = market.register(api, seller, market.asset_body([(seller, "100")], price="1", royalty="10"))
        assert asset["owner_wallet"].lower() == seller.address.lower()
        market.list_for_sale(api, seller, asset["id"], "1")
        before = int(str(json_rpc(node, "eth_getBalance", [buyer.address, "latest"])), 16)
        done = market.buy(api, buyer, asset["id"])
        assert done["state"] == "completed"
        after = int(str(json_rpc(node, "eth_getBalance", [buyer.address, "latest"])), 16)
        assert before - after >= 10**18  # the price, plus gas, from the buyer's own wallet
        owned = api.get(f"/api/v1/assets/{asset['id']}").json()
        assert owned["owner_wallet"].lower() == buyer.address.lower()
