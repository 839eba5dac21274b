"""`python -m ipheron_devstack.reconcile` (what `make reconcile` runs): compare what the chain
holds with what the services recorded, print every difference, exit 1 when there is any.

Two comparisons against a running stack's services (gRPC, the addresses the devstack gives
every process: CHAIN_ADDR and ASSETS_ADDR, by default `make run`'s ports):

1. the chain service's own `Reconcile`: token owners and pending withdrawals on chain vs what
   its event indexer recorded;
2. the assets service's records vs the chain: each minted asset's `owner_wallet` vs the token's
   owner on chain (`GetToken`), each token the chain minted (`chain.token.minted`) vs the
   asset that should carry it, and each asset's sale provenance vs the indexed sales
   (`ListChainEvents`, type `chain.sale.recorded`), in both directions.

A sale made a moment ago may not be recorded yet (the indexer's confirmation depth, then the
event stream): run it again before calling such a difference real.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from ipheron.assets.v1 import assets_service_pb2 as assets_pb
from ipheron.assets.v1 import assets_service_pb2_grpc as assets_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron.common.v1 import common_pb2

DEFAULT_CHAIN_ADDR = "127.0.0.1:50056"
DEFAULT_ASSETS_ADDR = "127.0.0.1:50052"
DEADLINE_S = 30.0
PER_PAGE = 100  # the most a PageRequest may ask
MAX_ITEMS = 1_000_000  # a bound on every list read (assets, indexed events)

T = TypeVar("T")


@dataclass(frozen=True)
class Difference:
    """One disagreement. `source` says which comparison found it."""

    source: str  # "chain" (chain vs its indexer) or "assets" (assets records vs chain)
    kind: str  # owner | pending_withdrawal | sale | token | ...
    subject: str
    on_chain: str
    recorded: str

    def line(self) -> str:
        return (f"{self.source:<6} {self.kind:<18} {self.subject}: on chain {self.on_chain or '-'}, "
                f"recorded {self.recorded or '-'}")


@dataclass(frozen=True)
class AssetRecord:
    """What the assets service holds about one asset."""

    asset_id: str
    token_id: int | None
    owner_wallet: str
    sale_tx_hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChainSale:
    """One sale the chain's indexer recorded."""

    token_id: int
    tx_hash: str
    asset_id: str | None = None


@dataclass
class ChainView:
    """What the chain holds: current owners of the assets' tokens, minted tokens, sales."""

    owners: dict[int, str] = field(default_factory=dict)  # token id -> owner ("" when unknown)
    minted: dict[int, str] = field(default_factory=dict)  # token id -> asset id
    sales: list[ChainSale] = field(default_factory=list)


def compare(assets: Sequence[AssetRecord], chain: ChainView) -> list[Difference]:
    """Every difference between the assets service's records and the chain (pure)."""
    diffs: list[Difference] = []
    by_token = {a.token_id: a for a in assets if a.token_id is not None}
    for a in assets:
        if a.token_id is None:
            continue
        subject = f"asset {a.asset_id} (token {a.token_id})"
        owner = chain.owners.get(a.token_id, "")
        if not owner:
            diffs.append(Difference("assets", "token", subject, "no such token", f"owner {a.owner_wallet}"))
        elif owner.lower() != a.owner_wallet.lower():
            diffs.append(Difference("assets", "owner", subject, owner, a.owner_wallet))
        minted_for = chain.minted.get(a.token_id)
        if minted_for is not None and minted_for != a.asset_id:
            diffs.append(Difference("assets", "token", subject, f"minted for asset {minted_for}",
                                    f"token of asset {a.asset_id}"))
    for token_id, asset_id in sorted(chain.minted.items()):
        if token_id not in by_token:
            diffs.append(Difference("assets", "token", f"token {token_id}", f"minted for asset {asset_id}",
                                    "no asset carries it"))
    on_chain: dict[int, set[str]] = {}
    for s in chain.sales:
        on_chain.setdefault(s.token_id, set()).add(s.tx_hash.lower())
    for token_id in sorted(set(on_chain) | set(by_token)):
        asset = by_token.get(token_id)
        recorded = {h.lower() for h in asset.sale_tx_hashes} if asset else set()
        sold = on_chain.get(token_id, set())
        subject = f"asset {asset.asset_id} (token {token_id})" if asset else f"token {token_id}"
        for tx in sorted(sold - recorded):
            diffs.append(Difference("assets", "sale", subject, f"sale {tx}", "not in provenance"))
        for tx in sorted(recorded - sold):
            diffs.append(Difference("assets", "sale", subject, "no such sale", f"sale {tx} in provenance"))
    return diffs


# ---------------------------------------------------------------- reading the services


def _pages(fetch: Callable[[int], tuple[list[T], int]]) -> Iterator[T]:
    """Every item of a paged list (`fetch(page)` → items, total), bounded by MAX_ITEMS."""
    page, seen = 1, 0
    while seen < MAX_ITEMS:
        items, total = fetch(page)
        yield from items
        seen += len(items)
        if not items or seen >= total:
            return
        page += 1


def read_assets(stub: assets_grpc.AssetsServiceStub) -> list[AssetRecord]:
    """Every asset (oldest first) with its owner and, for minted ones, its sale provenance."""
    def fetch(page: int) -> tuple[list[assets_pb.Asset], int]:
        r = stub.ListAssets(assets_pb.ListAssetsRequest(
            sort_field=assets_pb.ASSET_SORT_FIELD_CREATED, sort_direction=assets_pb.SORT_DIRECTION_ASC,
            page=common_pb2.PageRequest(page=page, per_page=PER_PAGE)), timeout=DEADLINE_S)
        return list(r.assets), r.page.total

    records = []
    for a in _pages(fetch):
        token_id = int(a.token_id) if a.token_id else None
        sales: tuple[str, ...] = ()
        if token_id is not None:
            prov = stub.GetProvenance(assets_pb.GetProvenanceRequest(asset_id=a.id), timeout=DEADLINE_S)
            sales = tuple(e.tx_hash for e in prov.entries if e.kind == assets_pb.PROVENANCE_KIND_SALE)
        records.append(AssetRecord(a.id, token_id, a.owner_wallet, sales))
    return records


def chain_events(stub: chain_grpc.ChainServiceStub, event_type: str) -> Iterator[chain_pb.IndexedEvent]:
    def fetch(page: int) -> tuple[list[chain_pb.IndexedEvent], int]:
        r = stub.ListChainEvents(chain_pb.ListChainEventsRequest(
            type=event_type, page=common_pb2.PageRequest(page=page, per_page=PER_PAGE)), timeout=DEADLINE_S)
        return list(r.events), r.page_info.total

    return _pages(fetch)


def read_chain(stub: chain_grpc.ChainServiceStub, token_ids: Iterable[int]) -> ChainView:
    view = ChainView()
    for token_id in token_ids:
        try:
            r = stub.GetToken(chain_pb.GetTokenRequest(token_id=token_id), timeout=DEADLINE_S)
            view.owners[token_id] = r.owner_address
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            view.owners[token_id] = ""
    for ev in chain_events(stub, "chain.token.minted"):
        payload = json.loads(ev.payload_json)
        view.minted[int(payload["token_id"])] = str(payload["asset_id"])
    for ev in chain_events(stub, "chain.sale.recorded"):
        payload = json.loads(ev.payload_json)
        view.sales.append(ChainSale(int(payload["token_id"]), str(payload["tx_hash"]), payload.get("asset_id")))
    return view


def chain_differences(stub: chain_grpc.ChainServiceStub) -> tuple[list[Difference], chain_pb.ReconcileResponse]:
    """The chain service's own comparison (chain vs its indexer)."""
    r = stub.Reconcile(chain_pb.ReconcileRequest(), timeout=DEADLINE_S)
    return [Difference("chain", d.kind, d.subject, d.on_chain, d.recorded) for d in r.differences], r


def reconcile(chain_addr: str, assets_addr: str) -> tuple[list[Difference], str]:
    """Both comparisons; the differences and a one-line summary of what was checked."""
    with grpc.insecure_channel(chain_addr) as chain_ch, grpc.insecure_channel(assets_addr) as assets_ch:
        chain = chain_grpc.ChainServiceStub(chain_ch)
        from_chain, summary = chain_differences(chain)
        records = read_assets(assets_grpc.AssetsServiceStub(assets_ch))
        view = read_chain(chain, [a.token_id for a in records if a.token_id is not None])
    diffs = from_chain + compare(records, view)
    checked = (f"chain: {summary.tokens_checked} tokens, {summary.payees_checked} payees at indexed block "
               f"{summary.indexed_block}; assets: {len(records)} assets, "
               f"{sum(a.token_id is not None for a in records)} minted, {len(view.sales)} indexed sales")
    return diffs, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ipheron_devstack.reconcile",
                                     description="Compare the chain with the services' records; exit 1 on any "
                                                 "difference.")
    parser.add_argument("--chain", default=os.environ.get("CHAIN_ADDR", DEFAULT_CHAIN_ADDR),
                        help="chain service gRPC address (CHAIN_ADDR, default %(default)s)")
    parser.add_argument("--assets", default=os.environ.get("ASSETS_ADDR", DEFAULT_ASSETS_ADDR),
                        help="assets service gRPC address (ASSETS_ADDR, default %(default)s)")
    args = parser.parse_args(argv)
    try:
        diffs, checked = reconcile(args.chain, args.assets)
    except grpc.RpcError as exc:
        sys.stderr.write(f"reconcile: a service did not answer ({exc.code().name}: {exc.details()}); "
                         f"is the stack running ('make run')?\n")
        return 2
    out = sys.stdout
    out.write(f"checked {checked}\n")
    for d in diffs:
        out.write(d.line() + "\n")
    out.write(f"{len(diffs)} difference(s)\n" if diffs else "no differences\n")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
