"""The web console in a real browser: headless Debian chromium driven by playwright-core
(tests/browser/console.e2e.mjs), with a test EIP-1193 wallet per browser context, against
the whole system as real processes.

One journey, because each step needs the one before: sign in; create an asset with a
co-creator and list it; buy it from a second browser context with another wallet; the
first browser sees the sale arrive over the WebSocket without a reload; the seller
withdraws; the analytics charts render with data. The outcomes are then checked through
the API (owner, royalty credited to the co-creator, nothing left to withdraw).
Screenshots of each page, desktop and phone width: tests/browser/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from ipheron_devstack import market
from ipheron_devstack.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "browser" / "console.e2e.mjs"
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
log = logging.getLogger("test_console")

STEPS = ["seller signs in", "seller creates an asset with a co-creator and lists it",
         "buyer signs in and buys from another browser", "seller sees the sale over the WebSocket without a reload",
         "buyer stakes on the asset and unstakes early",
         "seller withdraws", "charts render with data"]


def _ready() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: run 'make install' as root, or apt-get install -y chromium")
    if not (ROOT / "node_modules" / "playwright-core").is_dir() or shutil.which("node") is None:
        pytest.fail("node or playwright-core missing: run 'make install' (npm ci)")
    if not (ROOT / "gateway" / "web" / "vendor" / "ethers.min.js").is_file():
        pytest.fail("gateway/web/vendor is empty: run 'make web' (part of 'make install')")


@pytest.mark.timeout(600)
def test_sign_in_create_list_buy_see_the_sale_live_withdraw_and_chart(stack: Stack, api: httpx.Client) -> None:
    _ready()
    co_creator = market.sign_in(api)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GATEWAY_URL": stack.gateway_url, "CO_CREATOR_WALLET": co_creator.address,
           "ARTIFACTS_DIR": str(ARTIFACTS), "CHROMIUM_PATH": CHROMIUM}
    run = subprocess.run(["node", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=540)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from the browser run (exit {run.returncode}): {run.stderr[-3000:]}"
    result = json.loads(lines[-1])
    log.warning("browser journey: %s", json.dumps(result["timings_ms"]))
    seen = {k: v for k, v in result.items() if k.endswith(("_notice", "_errors")) and v}
    assert result["ok"], f"{result.get('error')}\nsteps done: {result['steps']}\nseen: {seen}\n{run.stderr[-2000:]}"
    assert result["steps"] == STEPS
    assert result["page_errors"] == [] and result["server_errors"] == []
    assert result["volume_charted"] > 0
    assert result["charts"] >= 4, f"the forecast chart is missing; its box says: {result.get('forecast_text')!r}"
    assert len(result["screenshots"]) == 14 and all(Path(p).stat().st_size > 0 for p in result["screenshots"])

    asset = api.get(f"/api/v1/assets/{result['asset_id']}").json()
    assert asset["owner_wallet"].lower() == result["buyer_wallet"].lower()
    assert [c["share_percent"] for c in asset["creators"]] == ["70", "30"]
    # 0.5 ETH, 10 % royalty, 30 % of it to the co-creator: exactly 0.015 ETH, credited on the contract.
    assert market.pending_wei(api, co_creator.address) == 15 * 10**15
    # The seller withdrew everything the sale credited to it.
    assert market.pending_wei(api, result["seller_wallet"]) == 0
