"""`python -m ipheron_devstack.demo` (the second step of `make demo-data`): seed a running
stack through its gateway the way users would, with real wallets (`ipheron_libs.wallet`):
a few creators sign in and register assets (some co-created), sign listings for them,
buyers funded by the development faucet buy a few of them from their own wallets, and the
buyers open a few real stakes on assets (the `stake()` transaction signed and paid by their
own wallets, each active once the vault's event is recorded).

Start the stack first (`make run` in one shell), then `make demo-data` in another. Each run
adds new users; their wallets' keys (development chain only, worthless elsewhere) are written
to `.data/demo/wallets.json` so a browser wallet can import them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ipheron_devstack import market

DEFAULT_GATEWAY = "http://127.0.0.1:8000"

# (name, type, price ETH, royalty %): one row per asset, creators taken in turn.
CATALOG: tuple[tuple[str, str, str, str], ...] = (
    ("Night Market Loops", "music", "0.25", "10"),
    ("Harbour at Dawn", "art", "1.2", "7.5"),
    ("Field Recorder SDK", "software", "0.8", "5"),
    ("Paper Lantern Typeface", "design", "0.45", "12"),
    ("The Salt Road (short story)", "literature", "0.1", "15"),
    ("Tidal Turbine Blade Profile", "patent", "3.5", "20"),
)
# (amount ETH, duration days): one row per stake, on the catalog's assets in turn.
STAKES: tuple[tuple[str, int], ...] = (("1.5", 90), ("0.75", 30), ("2", 180), ("0.5", 365))


def _say(msg: str) -> None:
    sys.stdout.write(f"[demo] {msg}\n")
    sys.stdout.flush()


def seed(api: httpx.Client, creators: int, buyers: int, purchases: int, stakes: int = 0) -> dict[str, Any]:
    """Creators, assets, signed listings, real purchases and real stakes; what was made."""
    makers = [market.sign_in(api) for _ in range(creators)]
    _say(f"{len(makers)} creators signed in")
    assets: list[dict[str, Any]] = []
    for i, (name, kind, price, royalty) in enumerate(CATALOG):
        lead = makers[i % len(makers)]
        # Every other asset is co-created with the next creator (70/30 of the royalty).
        partner = makers[(i + 1) % len(makers)]
        shares = [(lead, "100")] if i % 2 or partner is lead else [(lead, "70"), (partner, "30")]
        body = market.asset_body(shares, price=price, royalty=royalty, name=name, asset_type=kind,
                                 description=f"{name}: demo asset registered by make demo-data")
        asset = market.register(api, lead, body)
        listing = market.list_for_sale(api, lead, asset["id"], price)
        assets.append({"id": asset["id"], "name": name, "token_id": asset["token_id"], "seller": lead.address,
                       "price": listing["price"]})
        _say(f"registered, minted and listed {name!r} at {price} ETH (token {asset['token_id']})")
    shoppers = [market.sign_in(api) for _ in range(buyers)]
    for s in shoppers:
        market.fund(api, s.address, "20")
    _say(f"{len(shoppers)} buyers signed in, 20 ETH each from the development faucet")
    bought: list[dict[str, Any]] = []
    for i, asset in enumerate(assets[:purchases]):
        buyer = shoppers[i % len(shoppers)]
        done = market.buy(api, buyer, asset["id"])
        bought.append({"asset_id": asset["id"], "purchase_id": done["id"], "buyer": buyer.address,
                       "tx_hash": done["tx_hash"]})
        _say(f"{buyer.address} bought {asset['name']!r} (tx {done['tx_hash']})")
    staked: list[dict[str, Any]] = []
    for i, (amount, days) in enumerate(STAKES[:stakes]):
        staker, asset = shoppers[i % len(shoppers)], assets[i % len(assets)]
        opened = market.stake(api, staker, asset["id"], amount, days)
        staked.append({"stake_id": opened["id"], "asset_id": asset["id"], "staker": staker.address,
                       "amount": amount, "duration_days": days, "vault_stake_id": opened["vault_stake_id"],
                       "tx_hash": opened["tx_hash"]})
        _say(f"{staker.address} staked {amount} ETH on {asset['name']!r} for {days} days at {opened['apr']} % APR "
             f"(vault stake {opened['vault_stake_id']}, tx {opened['tx_hash']})")
    return {"creators": [_wallet(u) for u in makers], "buyers": [_wallet(u) for u in shoppers],
            "assets": assets, "purchases": bought, "stakes": staked}


def _wallet(user: market.User) -> dict[str, str]:
    return {"user_id": user.id, "address": user.address, "private_key": user.wallet.private_key}


def wait_gateway(api: httpx.Client, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if api.get("/health/ready").status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ipheron_devstack.demo", description=__doc__.split("\n\n")[0]
                                     if __doc__ else None)
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", DEFAULT_GATEWAY),
                        help="the running stack's gateway (GATEWAY_URL, default %(default)s)")
    parser.add_argument("--creators", type=int, default=3, choices=range(1, 11), metavar="1..10")
    parser.add_argument("--buyers", type=int, default=2, choices=range(1, 11), metavar="1..10")
    parser.add_argument("--purchases", type=int, default=3, choices=range(0, len(CATALOG) + 1),
                        metavar=f"0..{len(CATALOG)}")
    parser.add_argument("--stakes", type=int, default=3, choices=range(0, len(STAKES) + 1),
                        metavar=f"0..{len(STAKES)}")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("DATA_DIR", ".data")) / "demo",
                        help="where wallets.json goes (default %(default)s)")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the gateway to be ready")
    args = parser.parse_args(argv)
    with httpx.Client(base_url=args.gateway, timeout=60) as api:
        if not wait_gateway(api, args.wait):
            sys.stderr.write(f"[demo] no IPheron gateway ready at {args.gateway}: start the stack with 'make run' "
                             "in another shell, then run 'make demo-data' again\n")
            return 1
        try:
            made = seed(api, args.creators, args.buyers, args.purchases, args.stakes)
        except (market.ApiError, RuntimeError, TimeoutError) as exc:
            sys.stderr.write(f"[demo] seeding failed: {exc}\n")
            return 1
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "wallets.json"
    path.write_text(json.dumps(made, indent=2) + "\n")
    _say(f"done: {len(made['assets'])} assets, {len(made['purchases'])} purchases, {len(made['stakes'])} stakes; "
         f"wallets and keys (development chain only) in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
