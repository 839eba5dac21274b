"""Bootstrap analytics from the synthetic market files (`make demo-data`).

    python -m analytics_service.import_demo --dir .data/demo [--addr 127.0.0.1:50054]

Reads assets.json and sales.json as the ai-agents synthetic generator writes them
and sends the sales through RecordSales in time order, in batches. Idempotent:
running it twice records nothing new.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ipheron.analytics.v1 import analytics_service_pb2 as pb
from ipheron.analytics.v1 import analytics_service_pb2_grpc as pb_grpc
from ipheron_libs.grpc_client import channel
from ipheron_libs.mtls import TlsIdentity, operator_identity
from ipheron_libs.wire import to_timestamp

log = logging.getLogger("analytics_service.import_demo")
BATCH = 1000
CALL_TIMEOUT = 120.0  # one batch re-rolls every day it touches


def sale_records(folder: Path) -> Iterator[pb.SaleRecord]:
    """SaleRecords from the synthetic files, oldest first."""
    assets: dict[str, dict[str, Any]] = {a["id"]: a for a in json.loads((folder / "assets.json").read_text())}
    sales = sorted(json.loads((folder / "sales.json").read_text()), key=lambda s: (s["at"], s["id"]))
    for s in sales:
        asset = assets.get(s["asset_id"], {})
        creator = asset.get("creator_id")
        yield pb.SaleRecord(
            sale_id=s["id"],
            asset_id=s["asset_id"],
            asset_type=s.get("asset_type") or asset.get("asset_type", ""),
            price=str(s["price"]),
            currency="ETH",
            buyer_id=s.get("buyer_wallet", ""),
            seller_id=s.get("seller_wallet", ""),
            occurred_at=to_timestamp(datetime.fromisoformat(s["at"])),
            creator_ids=[creator] if creator else [],
        )


async def import_folder(folder: Path, addr: str, tls: TlsIdentity | None = None) -> tuple[int, int]:
    """Send every sale; returns (recorded, duplicates). `tls`: the certificate to dial with when the
    stack runs mutual TLS (the command uses the operator's, ipheron_libs.mtls.operator_identity)."""
    recorded = duplicates = 0
    async with channel(addr, default_timeout=CALL_TIMEOUT, tls=tls) as ch:
        stub = pb_grpc.AnalyticsServiceStub(ch)
        batch: list[pb.SaleRecord] = []
        records = list(sale_records(folder))
        for i, record in enumerate(records, start=1):
            batch.append(record)
            if len(batch) == BATCH or i == len(records):
                r = await stub.RecordSales(pb.RecordSalesRequest(sales=batch), timeout=CALL_TIMEOUT)
                recorded += r.recorded
                duplicates += r.duplicates
                batch = []
    return recorded, duplicates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="folder with assets.json and sales.json")
    parser.add_argument("--addr", default=os.environ.get("ANALYTICS_ADDR", "127.0.0.1:50054"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    recorded, duplicates = asyncio.run(import_folder(args.dir, args.addr, operator_identity()))
    log.info("recorded %d sales (%d already present) into analytics at %s", recorded, duplicates, args.addr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
