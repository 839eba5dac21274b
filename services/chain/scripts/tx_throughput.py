"""Transactions per second on the embedded chain, journal on, embedded PostgreSQL in a
temporary directory:

- platform: N concurrent platform transactions (native transfers, each awaited until its
  receipt) through the real transaction manager;
- wallets: 32 funded wallets (faucet), each doing prepare → sign (ipheron_libs.wallet) →
  submit → recorded as mined, N in all;
- purchases: N tokens minted and listed by signed orders, then 32 buyers each doing
  PrepareFulfill → sign → SubmitRawTransaction → mined; first the per-call time of
  PrepareFulfill (fixed gas bound, and estimated) and SubmitRawTransaction one at a time.

    .venv/bin/python services/chain/scripts/tx_throughput.py [N] [CHAIN_BLOCK_INTERVAL_MS] [platform|wallets|purchases]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from chain_service.config import ChainSettings
from chain_service.repository import SCHEMA, ChainRepository
from chain_service.server import MIGRATIONS_DIR
from chain_service.service import ChainService
from chain_service.txmanager import TxRequest
from ipheron_libs import db, embedded

SINK = "0x000000000000000000000000000000000000dEaD"


async def wallets_round(service: ChainService, n: int, wallets: int = 32) -> None:
    from ipheron_libs.wallet import Wallet

    users = [Wallet.create() for _ in range(wallets)]
    for user in users:
        await service.faucet(user.address, str(10**18))

    async def one(user: Wallet) -> None:
        call = await service.prepare_transaction(user.address, SINK, "0x", "1")
        submitted = await service.submit_raw_transaction(user.sign_transaction(call.tx.as_json_rpc()), call.tx)
        tx_hash = submitted.tx.record.tx_hash
        while service.network.in_open_block(tx_hash) or \
                (await service.get_transaction(tx_hash)).record.status == "pending":
            await asyncio.sleep(0.02)

    async def worker(user: Wallet, count: int) -> None:
        for _ in range(count):
            await one(user)

    start_block = await service.ledger.block_number()
    started = time.perf_counter()
    per = [n // wallets + (1 if i < n % wallets else 0) for i in range(wallets)]
    await asyncio.gather(*[worker(u, c) for u, c in zip(users, per, strict=True)])
    elapsed = time.perf_counter() - started
    blocks = await service.ledger.block_number() - start_block
    print(f"wallets: {n} prepare→sign→submit→mined from {wallets} wallets in {elapsed:.2f}s = "
          f"{n / elapsed:.1f} tx/s in {blocks} blocks (interval {service.settings.block_interval_ms} ms)")


async def purchases_round(service: ChainService, n: int, wallets: int = 32) -> None:
    import json

    from ipheron_libs.wallet import Wallet

    sellers = [Wallet.create() for _ in range(4)]
    buyers = [Wallet.create() for _ in range(wallets)]
    for user in buyers:
        await service.faucet(user.address, str(10**18))
    listings: list[tuple[str, str]] = []
    samples = 20
    for i in range(n + 2 * samples):
        seller = sellers[i % len(sellers)]
        minted = await service.mint(str(uuid.uuid4()), seller.address, "ipfs://bench", [(seller.address, 10_000)],
                                    500)
        document, _ = await service.build_order(minted.token_id, seller.address, "1000", 0)
        listings.append((json.dumps(document["message"]), seller.sign_typed_data(document)))

    async def wait_mined(tx_hash: str) -> None:
        while service.network.in_open_block(tx_hash) or \
                (await service.get_transaction(tx_hash)).record.status == "pending":
            await asyncio.sleep(0.02)

    # Per-call cost, one call at a time (the chain thread does nothing else meanwhile).
    for fixed in (True, False):
        service.settings.fixed_fulfill_gas = fixed
        prep_t = sub_t = 0.0
        for _ in range(samples):
            order_json, sig = listings.pop()
            buyer = buyers[0]
            t0 = time.perf_counter()
            call, _ = await service.prepare_fulfill(order_json, sig, buyer.address)
            t1 = time.perf_counter()
            submitted = await service.submit_raw_transaction(buyer.sign_transaction(call.tx.as_json_rpc()), call.tx,
                                                             "buy")
            t2 = time.perf_counter()
            prep_t, sub_t = prep_t + t1 - t0, sub_t + t2 - t1
            await wait_mined(submitted.tx.record.tx_hash)
        print(f"PrepareFulfill ({'fixed gas bound' if fixed else 'estimated gas'}): {1000 * prep_t / samples:.1f} ms"
              f"/call; SubmitRawTransaction: {1000 * sub_t / samples:.1f} ms/call")
    service.settings.fixed_fulfill_gas = True

    async def worker(buyer: Wallet) -> None:
        while listings:
            order_json, sig = listings.pop()
            call, _ = await service.prepare_fulfill(order_json, sig, buyer.address)
            submitted = await service.submit_raw_transaction(buyer.sign_transaction(call.tx.as_json_rpc()), call.tx,
                                                             "buy")
            await wait_mined(submitted.tx.record.tx_hash)

    start_block = await service.ledger.block_number()
    started = time.perf_counter()
    await asyncio.gather(*[worker(b) for b in buyers])
    elapsed = time.perf_counter() - started
    blocks = await service.ledger.block_number() - start_block
    print(f"purchases: {n} PrepareFulfill→sign→submit→mined from {wallets} wallets in {elapsed:.2f}s = "
          f"{n / elapsed:.1f} purchases/s in {blocks} blocks (interval {service.settings.block_interval_ms} ms)")


async def main(n: int, interval_ms: int | None, mode: str = "platform") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = embedded.service_database_url(None, Path(tmp), SCHEMA)
        db.migrate(url, SCHEMA, MIGRATIONS_DIR)
        extra = {} if interval_ms is None else {"block_interval_ms": interval_ms}
        settings = ChainSettings(database_url=url, poll_interval_s=0.02, **extra)
        engine = db.make_engine(url, SCHEMA, pool_size=8, max_overflow=8)
        service = await ChainService.open(settings, ChainRepository(engine))
        try:
            if mode == "wallets":
                await wallets_round(service, n)
                return
            if mode == "purchases":
                await purchases_round(service, n)
                return
            start_block = await service.ledger.block_number()
            started = time.perf_counter()
            outcomes = await asyncio.gather(*[
                service.tm.send(TxRequest(type="native_transfer", to=SINK, data="0x", value=1, amount_wei=1))
                for _ in range(n)])
            elapsed = time.perf_counter() - started
            blocks = await service.ledger.block_number() - start_block
            assert all(o.succeeded for o in outcomes)
            print(f"{n} transactions in {elapsed:.2f}s = {n / elapsed:.1f} tx/s in {blocks} blocks "
                  f"(interval {interval_ms if interval_ms is not None else 'default'} ms)")
        finally:
            service.close()
            engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200,
                     int(sys.argv[2]) if len(sys.argv) > 2 else None,
                     sys.argv[3] if len(sys.argv) > 3 else "platform"))
