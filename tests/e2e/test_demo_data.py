"""`make demo-data`'s seeding step (python -m ipheron_devstack.demo) against the running
system: the creators' assets are minted and for sale under their signed listings, the
purchases were paid from the buyers' own wallets and recorded, the stakes were opened from the
buyer's own wallet and are active on the vault, and the wallets it writes sign in as those
users."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ipheron_devstack import market
from ipheron_devstack.stack import Stack
from ipheron_libs.wallet import Wallet

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as c:
        yield c


def test_demo_data_seeds_listed_assets_and_real_purchases_through_the_gateway(
        client: httpx.Client, stack: Stack, tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "ipheron_devstack.demo", "--gateway", stack.gateway_url,
                          "--creators", "2", "--buyers", "1", "--purchases", "2", "--stakes", "2", "--out",
                          str(tmp_path)],
                         capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, run.stdout + run.stderr
    made = json.loads((tmp_path / "wallets.json").read_text())
    assert len(made["assets"]) == 6 and len(made["purchases"]) == 2 and len(made["creators"]) == 2
    [buyer] = made["buyers"]
    bought = {p["asset_id"] for p in made["purchases"]}
    for a in made["assets"]:
        asset = market.expect(client.get(f"/api/v1/assets/{a['id']}"), "asset")
        assert asset["status"] == "active" and asset["token_id"] == a["token_id"]
        if a["id"] in bought:
            assert asset["owner_wallet"].lower() == buyer["address"].lower() and asset["listed"] is False
        else:
            assert asset["owner_wallet"].lower() == a["seller"].lower() and asset["listed"] is True
    for p in made["purchases"]:
        tx = market.chain_tx(client, p["tx_hash"])
        assert tx["status"] == "confirmed" and tx["from_address"].lower() == buyer["address"].lower()
    # The written key is the buyer's account, and the stakes are its own, active on the vault.
    again = market.sign_in(client, Wallet.from_key(buyer["private_key"]))
    assert again.id == buyer["user_id"]
    assert len(made["stakes"]) == 2
    for st in made["stakes"]:
        stake = market.get_stake(client, again, st["stake_id"])
        assert stake["status"] == "active" and stake["wallet"].lower() == buyer["address"].lower(), stake
        assert stake["vault_stake_id"] == st["vault_stake_id"] > 0 and stake["asset_id"] == st["asset_id"]
        tx = market.chain_tx(client, st["tx_hash"])
        assert tx["status"] == "confirmed" and tx["from_address"].lower() == buyer["address"].lower()
