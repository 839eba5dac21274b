"""`make reconcile` (python -m ipheron_devstack.reconcile) against the running system: after
real sales it finds no difference between the chain and the services' records; records
broken behind the services' back (an asset's owner_wallet and a sale's transaction in the
assets schema, changed with SQL) are each named, with the chain's value and the recorded
one, and the command exits 1 until they are repaired."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from ipheron_devstack import market
from ipheron_devstack.stack import Stack
from ipheron_libs.db import sqlalchemy_url
from ipheron_libs.wallet import Wallet
from sqlalchemy import create_engine, text
from test_marketplace import funded, listed_asset

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as c:
        yield c


def reconcile(stack: Stack) -> subprocess.CompletedProcess[str]:
    """The command as `make reconcile` runs it, pointed at this system's services."""
    return subprocess.run([sys.executable, "-m", "ipheron_devstack.reconcile", "--chain", stack.addr("chain"),
                           "--assets", stack.addr("assets"), "--staking", stack.addr("staking"),
                           "--tls-dir", str(stack.tls_dir / "operator")],
                          capture_output=True, text=True, timeout=120)


def test_reconcile_finds_nothing_after_real_sales_and_names_each_record_broken_behind_the_services_back(
        client: httpx.Client, stack: Stack) -> None:
    seller, buyer = funded(client, 2, "2")
    sold = listed_asset(client, seller, "0.3")
    done = market.buy(client, buyer, sold["id"])
    unsold = listed_asset(client, seller, "0.2")

    clean = reconcile(stack)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no differences" in clean.stdout
    assert "assets" in clean.stdout and "indexed sales" in clean.stdout  # it says what it checked

    intruder = Wallet.create().address.lower()
    fake_sale = "0x" + "ab" * 32
    engine = create_engine(sqlalchemy_url(stack.service_urls["assets"]))
    with engine.connect() as conn:
        owner_was = conn.execute(text("SELECT owner_wallet FROM assets.assets WHERE id = :id"),
                                 {"id": unsold["id"]}).scalar_one()
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE assets.assets SET owner_wallet = :w WHERE id = :id"),
                         {"w": intruder, "id": unsold["id"]})
            conn.execute(text("UPDATE assets.provenance SET tx_hash = :h WHERE asset_id = :id AND kind = 'sale'"),
                         {"h": fake_sale, "id": sold["id"]})
        broken = reconcile(stack)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        lines = [line for line in broken.stdout.splitlines() if line.startswith("assets ")]
        owner = [line for line in lines if " owner " in line and unsold["id"] in line]
        assert len(owner) == 1, broken.stdout
        assert seller.address.lower() in owner[0].lower() and intruder in owner[0].lower(), owner
        sale_lines = [line for line in lines if " sale " in line and sold["id"] in line]
        assert any(done["tx_hash"].lower() in line.lower() and "not in provenance" in line for line in sale_lines), \
            broken.stdout
        assert any(fake_sale in line and "no such sale" in line for line in sale_lines), broken.stdout
        assert len(lines) == 3 and "3 difference(s)" in broken.stdout, broken.stdout
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE assets.assets SET owner_wallet = :w WHERE id = :id"),
                         {"w": owner_was, "id": unsold["id"]})
            conn.execute(text("UPDATE assets.provenance SET tx_hash = :h WHERE asset_id = :id AND kind = 'sale'"),
                         {"h": done["tx_hash"], "id": sold["id"]})
        engine.dispose()
    repaired = reconcile(stack)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
