"""Durability of the embedded chain: its journal in the repository, the rebuild at start
(newest snapshot, then the journal entries after it) and the snapshots that keep that
rebuild short. A JSON-RPC node keeps its own state; none of this runs for one."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ipheron_libs.db import run_db
from ipheron_libs.errors import FailedPrecondition

from chain_service.network import Network
from chain_service.repository import ChainRepository

log = logging.getLogger("ipheron.chain.journal")


class RepoJournal:
    """The embedded chain's journal, written synchronously from the chain thread."""

    def __init__(self, repo: ChainRepository) -> None:
        self.repo = repo

    def append(self, tx_hash: str, raw_tx: bytes, block_timestamp: int, block_number: int) -> int:
        return self.repo.journal_append(tx_hash, raw_tx, block_timestamp, block_number)

    def discard(self, seq: int) -> None:
        self.repo.journal_discard(seq)

    def append_block(self, entries: Sequence[tuple[str, bytes, int, int]]) -> int:
        return self.repo.journal_append_many(entries)


async def genesis_timestamp(repo: ChainRepository) -> int:
    """The embedded chain's genesis time, fixed by the first start (a rebuild needs the same one)."""
    return int(await run_db(repo.set_meta_if_absent, "genesis_timestamp", str(int(time.time()) - 1)))


async def replay(network: Network, repo: ChainRepository) -> None:
    """Rebuild the embedded chain: the newest snapshot, then the journal entries after it."""
    assert network.tester is not None
    started, after, total = time.monotonic(), 0, 0
    snap = await run_db(repo.latest_snapshot)
    if snap is not None:
        number, root = await network.run(network.tester.restore, snap.data, snap.journal_seq)
        if (number, root) != (snap.head_block, snap.state_root):
            raise FailedPrecondition(f"chain snapshot {snap.id} is inconsistent (head {number} {root})")
        after = snap.journal_seq
        log.info("restored chain snapshot at block %d (journal entry %d)", number, after)
    while True:
        batch = await run_db(repo.journal_entries, after)
        if not batch:
            break
        total += await network.run(network.tester.replay, batch)
        after = batch[-1].seq
    await network.run(network.tester.mine_pending)  # the last replayed block
    if total or snap is not None:
        log.info("replayed %d journaled transactions in %.1fs", total, time.monotonic() - started)


async def snapshot(network: Network, repo: ChainRepository, min_new_entries: int = 1) -> bool:
    """Store the embedded chain's database when at least `min_new_entries` journal entries
    arrived since the last snapshot, so a restart replays only the tail."""
    tester = network.tester
    if tester is None or tester.journal is None:
        return False
    last = await run_db(repo.latest_snapshot_seq)
    if tester.applied_seq - last < max(min_new_entries, 1):
        return False
    seq, number, root, data = await network.run(tester.snapshot)
    await run_db(repo.save_snapshot, seq, number, root, data)
    log.info("chain snapshot at block %d (journal entry %d, %d bytes)", number, seq, len(data))
    return True
