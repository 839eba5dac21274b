"""`python -m ipheron_devstack.reconcile` (what `make reconcile` runs): compare what the chain
holds with what the services recorded, print every difference, exit 1 when there is any.

Three comparisons against a running stack's services (gRPC, the addresses the devstack gives
every process: CHAIN_ADDR, ASSETS_ADDR and STAKING_ADDR, by default `make run`'s ports):

1. the chain service's own `Reconcile`: token owners, pending withdrawals and the staking
   vault's stakes on chain vs what its event indexer recorded, and the vault's ether balance
   vs its principal + free pool + reserved rewards (kinds `vault_balance` and `stake`);
2. the assets service's records vs the chain: each minted asset's `owner_wallet` vs the token's
   owner on chain (`GetToken`), each token the chain minted (`chain.token.minted`) vs the
   asset that should carry it, and each asset's sale provenance vs the indexed sales
   (`ListChainEvents`, type `chain.sale.recorded`), in both directions;
3. the staking service's stakes (`ListStakes`) vs the vault's (`GetVaultStake` for stake ids
   1, 2, ... until the vault has no more, `GetVault` for its totals): every vault stake is
   recorded once, with the vault's staker, token, principal, APR, reward and claimed wei (on
   a closed stake the vault counts the unstake's rewards as claimed too), closed exactly when
   the vault closed it; no recorded stake names a vault stake that does not exist.

A sale or stake made a moment ago may not be recorded yet (the indexer's confirmation depth,
then the event stream): run it again before calling such a difference real.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import grpc
from ipheron.assets.v1 import assets_service_pb2 as assets_pb
from ipheron.assets.v1 import assets_service_pb2_grpc as assets_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron.common.v1 import common_pb2
from ipheron.staking.v1 import staking_service_pb2 as staking_pb
from ipheron.staking.v1 import staking_service_pb2_grpc as staking_grpc
from ipheron_libs.mtls import TlsIdentity, operator_tls_dir

DEFAULT_CHAIN_ADDR = "127.0.0.1:50056"
DEFAULT_ASSETS_ADDR = "127.0.0.1:50052"
DEFAULT_STAKING_ADDR = "127.0.0.1:50053"
DEADLINE_S = 30.0
PER_PAGE = 100  # the most a PageRequest may ask
MAX_ITEMS = 1_000_000  # a bound on every list read (assets, indexed events)

T = TypeVar("T")


@dataclass(frozen=True)
class Difference:
    """One disagreement. `source` says which comparison found it."""

    source: str  # "chain" (chain vs its indexer), "assets" or "staking" (the service's records vs chain)
    kind: str  # owner | pending_withdrawal | sale | token | ...
    subject: str
    on_chain: str
    recorded: str

    def line(self) -> str:
        return (f"{self.source:<7} {self.kind:<18} {self.subject}: on chain {self.on_chain or '-'}, "
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


@dataclass(frozen=True)
class StakeRecord:
    """What the staking service holds about one stake (wei as integers)."""

    stake_id: str
    status: str  # pending | active | matured | closed | failed
    vault_stake_id: int  # 0 until the vault's StakeOpened is recorded
    wallet: str
    token_id: int
    amount_wei: int
    apr_bps: int
    reward_wei: int
    claimed_wei: int
    # What the unstake paid in rewards (payout − principal + penalty; 0 while open): the vault
    # counts it as claimed when it closes a stake.
    closing_rewards_wei: int = 0


@dataclass(frozen=True)
class VaultStake:
    """One stake as the vault holds it."""

    stake_id: int
    staker: str
    token_id: int
    amount_wei: int
    apr_bps: int
    reward_wei: int
    claimed_wei: int
    closed: bool


# Statuses a stake can only have once the vault opened it.
ON_VAULT = ("active", "matured", "closed")


def compare_stakes(records: Sequence[StakeRecord], vault: Sequence[VaultStake]) -> list[Difference]:
    """Every difference between the staking service's stakes and the vault's (pure)."""
    diffs: list[Difference] = []
    by_vault: dict[int, list[StakeRecord]] = {}
    for r in records:
        if r.vault_stake_id:
            by_vault.setdefault(r.vault_stake_id, []).append(r)
        elif r.status in ON_VAULT:
            diffs.append(Difference("staking", "stake", f"stake {r.stake_id}", "no vault stake",
                                    f"{r.status} without a vault stake id"))
    on_vault = {v.stake_id: v for v in vault}
    for v in sorted(vault, key=lambda v: v.stake_id):
        recorded = by_vault.get(v.stake_id, [])
        if not recorded:
            diffs.append(Difference("staking", "stake", f"vault stake {v.stake_id}",
                                    f"{v.amount_wei} wei by {v.staker}{' (closed)' if v.closed else ''}",
                                    "no stake records it"))
            continue
        if len(recorded) > 1:
            diffs.append(Difference("staking", "stake", f"vault stake {v.stake_id}", "one stake",
                                    "recorded by " + ", ".join(sorted(r.stake_id for r in recorded))))
        for r in recorded:
            diffs.extend(_stake_fields(r, v))
    for vault_id, recorded in sorted(by_vault.items()):
        if vault_id not in on_vault:
            for r in recorded:
                diffs.append(Difference("staking", "stake", f"stake {r.stake_id} (vault stake {vault_id})",
                                        "no such vault stake", f"{r.status}, {r.amount_wei} wei"))
    return diffs


def _stake_fields(r: StakeRecord, v: VaultStake) -> Iterator[Difference]:
    subject = f"stake {r.stake_id} (vault stake {v.stake_id})"
    if r.wallet.lower() != v.staker.lower():
        yield Difference("staking", "stake_staker", subject, v.staker, r.wallet)
    for kind, chain_value, recorded in (("stake_token", v.token_id, r.token_id),
                                        ("stake_amount_wei", v.amount_wei, r.amount_wei),
                                        ("stake_apr_bps", v.apr_bps, r.apr_bps),
                                        ("stake_reward_wei", v.reward_wei, r.reward_wei),
                                        ("stake_claimed_wei", v.claimed_wei,
                                         r.claimed_wei + r.closing_rewards_wei)):
        if chain_value != recorded:
            yield Difference("staking", kind, subject, str(chain_value), str(recorded))
    if v.closed != (r.status == "closed") or r.status not in ON_VAULT:
        yield Difference("staking", "stake_status", subject, "closed" if v.closed else "open", r.status)


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


def _asset_pages(stub: assets_grpc.AssetsServiceStub) -> Iterator[assets_pb.Asset]:
    """Every asset, oldest first, following `next_cursor` (offsets are bounded; a cursor is not),
    bounded by MAX_ITEMS."""
    cursor, seen = "", 0
    while seen < MAX_ITEMS:
        r = stub.ListAssets(assets_pb.ListAssetsRequest(
            sort_field=assets_pb.ASSET_SORT_FIELD_CREATED, sort_direction=assets_pb.SORT_DIRECTION_ASC,
            page=common_pb2.PageRequest(page=1, per_page=PER_PAGE), cursor=cursor), timeout=DEADLINE_S)
        yield from r.assets
        seen += len(r.assets)
        if not r.assets or not r.next_cursor:
            return
        cursor = r.next_cursor


def read_assets(stub: assets_grpc.AssetsServiceStub) -> list[AssetRecord]:
    """Every asset (oldest first) with its owner and, for minted ones, its sale provenance."""
    records = []
    for a in _asset_pages(stub):
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


STAKE_STATUS = {staking_pb.STAKE_STATUS_PENDING: "pending", staking_pb.STAKE_STATUS_ACTIVE: "active",
                staking_pb.STAKE_STATUS_MATURED: "matured", staking_pb.STAKE_STATUS_CLOSED: "closed",
                staking_pb.STAKE_STATUS_FAILED: "failed"}


def _wei(value: str) -> int:
    return int(value or "0")


def _eth_wei(value: str) -> int:
    """An ETH decimal string ("1.5") as exact wei."""
    return int(Decimal(value or "0").scaleb(18).to_integral_exact())


def _record(s: staking_pb.Stake) -> StakeRecord:
    status = STAKE_STATUS.get(s.status, "unspecified")
    amount = _wei(s.amount_wei)
    closing = _eth_wei(s.payout) - amount + _eth_wei(s.penalty) if status == "closed" and s.payout else 0
    return StakeRecord(s.id, status, s.vault_stake_id, s.wallet, s.token_id, amount, s.apr_bps, _wei(s.reward_wei),
                       _wei(s.claimed_wei), closing)


def read_stakes(stub: staking_grpc.StakingServiceStub) -> list[StakeRecord]:
    """Every stake the staking service holds, whoever's (newest first)."""
    def fetch(page: int) -> tuple[list[staking_pb.Stake], int]:
        r = stub.ListStakes(staking_pb.ListStakesRequest(page=common_pb2.PageRequest(page=page, per_page=PER_PAGE)),
                            timeout=DEADLINE_S)
        return list(r.stakes), r.page_info.total

    return [_record(s) for s in _pages(fetch)]


def _vault_stake(v: chain_pb.VaultStake) -> VaultStake:
    return VaultStake(v.stake_id, v.staker, v.token_id, _wei(v.amount_wei), v.apr_bps, _wei(v.reward_wei),
                      _wei(v.claimed_wei), v.closed)


def read_vault_stakes(stub: chain_grpc.ChainServiceStub, also: Iterable[int] = ()) -> list[VaultStake]:
    """The vault's stakes: ids 1, 2, ... until the vault has no such stake (ids are sequential),
    and any id in `also` (recorded ones) beyond that, if the vault has it."""
    def get(stake_id: int) -> VaultStake | None:
        try:
            r = stub.GetVaultStake(chain_pb.GetVaultStakeRequest(stake_id=stake_id), timeout=DEADLINE_S)
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise
        staker = r.stake.staker
        if not r.HasField("stake") or not staker or int(staker, 16) == 0:  # an empty slot
            return None
        return _vault_stake(r.stake)

    found: dict[int, VaultStake] = {}
    stake_id = 1
    while stake_id <= MAX_ITEMS and (v := get(stake_id)) is not None:
        found[stake_id] = v
        stake_id += 1
    for extra in sorted(set(also) - set(found)):
        if extra > 0 and (v := get(extra)) is not None:
            found[extra] = v
    return [found[k] for k in sorted(found)]


def staking_differences(chain: chain_grpc.ChainServiceStub,
                        staking: staking_grpc.StakingServiceStub) -> tuple[list[Difference], str]:
    """The staking service's stakes vs the vault's; the differences and what was checked."""
    records = read_stakes(staking)
    vault_stakes = read_vault_stakes(chain, (r.vault_stake_id for r in records if r.vault_stake_id))
    v = chain.GetVault(chain_pb.GetVaultRequest(), timeout=DEADLINE_S)
    checked = (f"staking: {len(records)} stakes recorded, {len(vault_stakes)} on the vault {v.address} (balance "
               f"{v.balance_wei} wei = principal {v.total_principal_wei} + free pool {v.pool_free_wei} + reserved "
               f"{v.pool_reserved_wei} at block {v.block_number})")
    return compare_stakes(records, vault_stakes), checked


def chain_differences(stub: chain_grpc.ChainServiceStub) -> tuple[list[Difference], chain_pb.ReconcileResponse]:
    """The chain service's own comparison (chain vs its indexer)."""
    r = stub.Reconcile(chain_pb.ReconcileRequest(), timeout=DEADLINE_S)
    return [Difference("chain", d.kind, d.subject, d.on_chain, d.recorded) for d in r.differences], r


def _channel(addr: str, tls_dir: Path | None) -> grpc.Channel:
    if tls_dir is None:
        return grpc.insecure_channel(addr)
    return grpc.secure_channel(addr, TlsIdentity.load(tls_dir).channel_credentials())


def reconcile(chain_addr: str, assets_addr: str, staking_addr: str = DEFAULT_STAKING_ADDR,
              tls_dir: Path | None = None) -> tuple[list[Difference], str]:
    """All three comparisons; the differences and a one-line summary of what was checked.

    `tls_dir` is the operator's certificate when the services require mutual TLS."""
    with _channel(chain_addr, tls_dir) as chain_ch, _channel(assets_addr, tls_dir) as assets_ch, \
            _channel(staking_addr, tls_dir) as staking_ch:
        chain = chain_grpc.ChainServiceStub(chain_ch)
        from_chain, summary = chain_differences(chain)
        records = read_assets(assets_grpc.AssetsServiceStub(assets_ch))
        view = read_chain(chain, [a.token_id for a in records if a.token_id is not None])
        from_staking, staking_checked = staking_differences(chain, staking_grpc.StakingServiceStub(staking_ch))
    diffs = from_chain + compare(records, view) + from_staking
    checked = (f"chain: {summary.tokens_checked} tokens, {summary.payees_checked} payees, "
               f"{summary.stakes_checked} vault stakes at indexed block {summary.indexed_block}; assets: "
               f"{len(records)} assets, {sum(a.token_id is not None for a in records)} minted, "
               f"{len(view.sales)} indexed sales; {staking_checked}")
    return diffs, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ipheron_devstack.reconcile",
                                     description="Compare the chain with the services' records; exit 1 on any "
                                                 "difference.")
    parser.add_argument("--chain", default=os.environ.get("CHAIN_ADDR", DEFAULT_CHAIN_ADDR),
                        help="chain service gRPC address (CHAIN_ADDR, default %(default)s)")
    parser.add_argument("--assets", default=os.environ.get("ASSETS_ADDR", DEFAULT_ASSETS_ADDR),
                        help="assets service gRPC address (ASSETS_ADDR, default %(default)s)")
    parser.add_argument("--staking", default=os.environ.get("STAKING_ADDR", DEFAULT_STAKING_ADDR),
                        help="staking service gRPC address (STAKING_ADDR, default %(default)s)")
    parser.add_argument("--tls-dir", type=Path, default=None,
                        help="the operator's mutual-TLS certificate directory (tls.crt, tls.key, ca.crt); "
                             "default IPHERON_TLS_DIR, else the one 'make run' made under the data folder")
    args = parser.parse_args(argv)
    try:
        tls_dir = args.tls_dir or operator_tls_dir()
        diffs, checked = reconcile(args.chain, args.assets, args.staking, tls_dir)
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
