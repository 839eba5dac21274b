"""Fixtures for the analytics tests: one migrated "analytics" schema on the real
PostgreSQL from ipheron_libs.testing, emptied between tests, a fixed clock, and
a helper that builds event envelopes like the ones on the stream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from analytics_service.config import SCHEMA
from analytics_service.server import MIGRATIONS_DIR
from ipheron_libs import db
from ipheron_libs.events import Event
from ipheron_libs.testing import fresh_schema
from sqlalchemy import Engine, text

NOW = datetime(2026, 3, 15, 12, 0, 0, tzinfo=UTC)


def event(type_: str, payload: dict[str, Any], at: datetime, event_id: str | None = None) -> Event:
    """An envelope as ipheron_libs.events publishes it."""
    return Event(
        id=event_id or str(uuid.uuid4()),
        type=type_,
        version=1,
        occurred_at=at.isoformat(),
        actor="tester",
        payload=payload,
    )


def created(asset_id: str, asset_type: str, at: datetime, creators: list[tuple[str, str]] | None = None) -> Event:
    creators = creators or [("creator-1", "100")]
    return event(
        "asset.created",
        {
            "asset_id": asset_id,
            "name": f"Asset {asset_id}",
            "asset_type": asset_type,
            "price": "1.5",
            "status": "pending",
            "region": "Global",
            "creator_user_id": creators[0][0],
            "creators": [{"user_id": c, "wallet": None, "share_percent": s} for c, s in creators],
        },
        at,
    )


def sold(asset_id: str, price: str, at: datetime, buyer: str = "buyer-1", purchase_id: str | None = None) -> Event:
    return event(
        "asset.sold",
        {
            "asset_id": asset_id,
            "purchase_id": purchase_id or str(uuid.uuid4()),
            "price": price,
            "currency": "ETH",
            "seller_user_id": "seller-1",
            "buyer_user_id": buyer,
            "tx_hash": "0x" + "ab" * 32,
        },
        at,
    )


@pytest.fixture(scope="session")
def analytics_url(pg_admin_url: str) -> str:
    url = fresh_schema(pg_admin_url, SCHEMA, MIGRATIONS_DIR)
    return url


@pytest.fixture(scope="session")
def engine(analytics_url: str) -> Iterator[Engine]:
    eng = db.make_engine(analytics_url, SCHEMA, pool_size=4, max_overflow=4)
    yield eng
    eng.dispose()


@pytest.fixture()
def clean_engine(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE assets, asset_creators, sales, transfers, stakes, market_analytics, rollup_pending, "
                "processed_events, outbox RESTART IDENTITY"
            )
        )
    return engine


@pytest.fixture()
def now() -> datetime:
    return NOW


def days_ago(n: float, hours: float = 0) -> datetime:
    return NOW - timedelta(days=n, hours=hours)
