"""Producers against the contract: events built by the REAL producer code meet their schema.

- staking: the payload every stake.* event shares (`domain.stake_payload`) is checked as `emit`
  would; the staking suite writes all four through the real repository and `emit`.
- auth: the first sign-in of a wallet through the real repository on the real PostgreSQL
  writes user.created to the outbox; the row read back meets its schema.
- assets: asset.created / asset.updated / asset.sold / asset.transferred are built inside
  the assets repository's transactions; the assets suite runs them through `emit` (which
  refuses a drifted payload) and tests/e2e/test_events_flow.py checks what a real sale
  put on the stream.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ipheron_libs import events
from ipheron_libs.testing import fresh_schema
from sqlalchemy import text


def _checked(type_: str, actor: str, payload: dict[str, Any]) -> events.Event:
    ev = events.Event(id=str(uuid.uuid4()), type=type_, version=1, occurred_at=datetime.now(UTC).isoformat(),
                      actor=actor, payload=payload)
    events.check(ev)
    return ev


def test_the_stake_payload_built_by_the_staking_domain_meets_the_stake_schemas() -> None:
    """The part every stake.* event shares (`domain.stake_payload`), for a stake the vault opened
    directly (user_id "", origin "chain"), meets stake.opened and stake.matured as built; the
    staking suite's repository tests write claimed/closed (with their extra fields) through `emit`,
    which refuses a payload that drifts from its schema."""
    from staking_service import domain

    ref = domain.ChainEventRef(event_id=str(uuid.uuid4()), event_type="chain.stake.opened", tx_hash="0x" + "ab" * 32,
                               block_number=7, log_index=0, block_time=None)
    start = int(datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp())
    opened = domain.VaultOpened(ref=ref, vault_stake_id=3, staker="0x" + "11" * 20, token_id=9,
                                amount_wei=10**18, apr_bps=900, start=start, end=start + 30 * 86_400,
                                reward_wei=domain.reservation_wei(10**18, 900, 30 * 86_400), quote_nonce=5,
                                quote_hash="0x" + "cd" * 32)
    stake = domain.chain_stake(str(uuid.uuid4()), "asset-1", opened, datetime.now(UTC))
    for type_, status in (("stake.opened", None), ("stake.matured", domain.StakeStatus.MATURED)):
        ev = _checked(type_, domain.actor_of(stake), domain.stake_payload(stake, status))
        assert ev.payload["user_id"] == "" and ev.payload["origin"] == "chain"
    assert domain.actor_of(stake) == stake.wallet


def test_the_first_sign_in_writes_a_user_created_event_that_meets_its_schema(pg_admin_url: str) -> None:
    from auth_service import repository as auth_repo
    from ipheron_libs import db

    migrations = Path(auth_repo.__file__).resolve().parents[2] / "migrations"
    url = fresh_schema(pg_admin_url, auth_repo.SCHEMA, migrations)
    engine = db.make_engine(url, auth_repo.SCHEMA)
    try:
        repo = auth_repo.Repository(engine)
        address = "0x" + secrets.token_hex(20)
        nonce = secrets.token_hex(16)
        repo.create_nonce(nonce, address, datetime.now(UTC) + timedelta(minutes=5))
        user, created = repo.login(nonce, address, [f"user{secrets.token_hex(4)}"])
        assert created
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, type, version, actor, payload, occurred_at FROM outbox")).all()
        [row] = rows
        ev = events.Event(id=str(row.id), type=row.type, version=row.version, occurred_at=row.occurred_at.isoformat(),
                          actor=row.actor, payload=row.payload)
        events.check(ev)
        assert (ev.type, ev.actor, ev.payload["user_id"], ev.payload["wallet_address"]) == \
            ("user.created", user.id, user.id, address)
    finally:
        engine.dispose()
