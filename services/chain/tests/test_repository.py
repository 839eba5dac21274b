"""The chain repository on the real PostgreSQL: records round-trip as the domain's
`Transaction` with exact wei, and the provenance query applies exactly the domain's
`is_provenance` rule, oldest block first."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from chain_service import domain
from chain_service.domain import CONFIRMED, FAILED, PENDING, REPLACED, Mined, Transaction
from chain_service.repository import SCHEMA, ChainRepository
from conftest import chain_database
from ipheron_libs import db

SIGNER = "0x1111111111111111111111111111111111111111"


@pytest.fixture(scope="module")
def repo(pg_admin_url: str) -> Iterator[ChainRepository]:
    """Its own database: the hand-made pending records must not meet the shared chain's reconciler."""
    engine = db.make_engine(chain_database(pg_admin_url, "ipheron_chain_repo"), SCHEMA, pool_size=2, max_overflow=2)
    yield ChainRepository(engine)
    engine.dispose()


def record(token_id: int, n: int, **overrides: object) -> Transaction:
    fields: dict[str, object] = dict(
        tx_hash="0x" + uuid.uuid4().hex * 2, chain_id=1, from_address=SIGNER, to_address=None, nonce=n,
        type="list", gas_limit=100_000, max_fee_per_gas=2 * 10**9, max_priority_fee_per_gas=10**9,
        token_id=token_id, details={"n": n})
    fields.update(overrides)
    return Transaction(**fields)  # type: ignore[arg-type]


def test_a_transaction_round_trips_with_exact_wei_and_its_outcome(repo: ChainRepository) -> None:
    huge = domain.UINT256_MAX
    tx = record(10**12 + 1, 0, amount_wei=huge, max_fee_per_gas=huge, asset_id=uuid.uuid4(), idempotency_key=None)
    repo.insert_tx(tx)
    stored = repo.get_tx(tx.tx_hash.upper().replace("0X", "0x"))
    assert stored is not None and stored.amount_wei == huge and stored.max_fee_per_gas == huge
    assert stored.status == PENDING and stored.asset_id == tx.asset_id and stored.details == {"n": 0}
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    repo.record_mined(tx.tx_hash, Mined(True, 21_000, 7, 42, "0x" + "cd" * 32, when))
    mined = repo.get_tx(tx.tx_hash)
    assert mined is not None
    assert (mined.status, mined.gas_used, mined.gas_price_wei, mined.block_number, mined.block_time) == (
        CONFIRMED, 21_000, 7, 42, when)


def test_a_transaction_recorded_unless_known_is_written_once_and_a_second_hand_in_changes_nothing(
        repo: ChainRepository) -> None:
    tx = record(10**12 + 2, 0, idempotency_key=None)
    first = repo.insert_tx_unless_known(tx)
    assert first is not None and first.created_at is not None
    assert repo.insert_tx_unless_known(replace(tx, nonce=99, details={"n": 1})) is None
    stored = repo.get_tx(tx.tx_hash)
    assert stored is not None and (stored.nonce, stored.details, stored.created_at) == (0, {"n": 0}, first.created_at)


def test_provenance_lists_exactly_what_the_domain_rule_keeps_oldest_block_first(repo: ChainRepository) -> None:
    token_id = 10**12 + uuid.uuid4().int % 10**6
    combos = list(itertools.product([PENDING, CONFIRMED, FAILED, REPLACED], [None, 30, 20]))
    written = []
    for n, (status, block) in enumerate(combos):
        tx = record(token_id, n, status=status, block_number=block)
        repo.insert_tx(tx)
        written.append(tx)
    items, total = repo.list_txs(asset_id=None, token_id=token_id, address=None, offset=0, limit=100)
    kept = [t for t in written if domain.is_provenance(t)]
    assert total == len(kept) and {t.tx_hash for t in items} == {t.tx_hash for t in kept}
    blocks = [t.block_number for t in items]
    mined = [b for b in blocks if b is not None]
    assert mined == sorted(mined) and blocks[len(mined):] == [None] * (len(blocks) - len(mined))
    page, _ = repo.list_txs(asset_id=None, token_id=token_id, address=None, offset=1, limit=2)
    assert [t.tx_hash for t in page] == [t.tx_hash for t in items[1:3]]
