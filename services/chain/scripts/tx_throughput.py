"""Transactions per second on the embedded chain: N concurrent platform transactions
(native transfers, each awaited until its receipt) through the real transaction manager,
journal on, embedded PostgreSQL in a temporary directory.

    .venv/bin/python services/chain/scripts/tx_throughput.py [N] [CHAIN_BLOCK_INTERVAL_MS]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from chain_service.config import ChainSettings
from chain_service.repository import SCHEMA, ChainRepository
from chain_service.server import MIGRATIONS_DIR
from chain_service.service import ChainService
from chain_service.txmanager import TxRequest
from ipheron_libs import db, embedded

SINK = "0x000000000000000000000000000000000000dEaD"


async def main(n: int, interval_ms: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = embedded.service_database_url(None, Path(tmp), SCHEMA)
        db.migrate(url, SCHEMA, MIGRATIONS_DIR)
        extra = {} if interval_ms is None else {"block_interval_ms": interval_ms}
        settings = ChainSettings(database_url=url, poll_interval_s=0.02, **extra)
        engine = db.make_engine(url, SCHEMA, pool_size=8, max_overflow=8)
        service = await ChainService.open(settings, ChainRepository(engine))
        try:
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
                     int(sys.argv[2]) if len(sys.argv) > 2 else None))
