"""Producers against the contract: events built by the REAL producer code meet their schema.

- staking: the pure domain decisions (`open_change`, `claim_change`, `unstake_change`,
  `maturity_change`) build every stake.* event; each is checked as `emit` would.
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
from decimal import Decimal
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


def test_every_stake_event_built_by_the_staking_domain_meets_its_schema() -> None:
    from staking_service import domain
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    opened = domain.open_change(str(uuid.uuid4()), "alice", "asset-1", Decimal("1000.123456789012345678"), 30, start)
    later = domain.claim_change(opened.stake, "alice", start + timedelta(days=10, seconds=7))
    matured_and_closed = domain.unstake_change(later.stake, "alice", start + timedelta(days=31))
    early = domain.open_change(str(uuid.uuid4()), "bob", "asset-2", Decimal("3"), 90, start)
    closed_early = domain.unstake_change(early.stake, "bob", start + timedelta(days=1, hours=3))
    swept = domain.maturity_change(early.stake, start + timedelta(days=91))
    seen: list[str] = []
    for change in (opened, later, matured_and_closed, early, closed_early, swept):
        for emitted in change.events:
            ev = _checked(emitted.type, emitted.actor, emitted.payload)
            seen.append(ev.type)
    assert set(seen) == {"stake.opened", "stake.claimed", "stake.matured", "stake.closed"}
    assert [e.payload["early"] for e in closed_early.events if e.type == "stake.closed"] == [True]


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
