"""Valid payloads of every event type, shaped as the producers build them today (the
producer tests and the e2e test check the real producers; these are for the bus itself)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ipheron_libs import events

WALLET = "0x" + "ab" * 20
OTHER_WALLET = "0x" + "cd" * 20
TX = "0x" + "ef" * 32


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def sold_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "asset_id": str(uuid.uuid4()), "asset_type": "music", "purchase_id": str(uuid.uuid4()),
        "price": "1.234567890123456789", "currency": "ETH",
        "seller_user_id": "seller-1", "seller_wallet": WALLET, "buyer_user_id": "buyer-1",
        "buyer_wallet": OTHER_WALLET, "tx_hash": TX, "block_number": 7, "token_id": "3",
        "creators": [{"user_id": "seller-1", "wallet": WALLET, "share_percent": "100"}],
    }
    payload.update(overrides)
    return payload


def stake_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "stake_id": str(uuid.uuid4()), "user_id": "alice", "asset_id": "asset-1", "amount": "25",
        "duration_days": 30, "apr": "12.5", "start_time": now(), "end_time": now(), "status": "active",
    }
    payload.update(overrides)
    return payload


def event(type_: str, payload: dict[str, Any], *, version: int = 1, event_id: str | None = None) -> events.Event:
    return events.Event(id=event_id or str(uuid.uuid4()), type=type_, version=version, occurred_at=now(),
                        actor="seller-1", payload=payload)


async def poll_once(consumer: events.Consumer) -> int:
    """One `poll_once` of a fresh consumer (its group ensured), its Redis client closed after."""
    await consumer._ensure_group()
    try:
        return await consumer.poll_once()
    finally:
        await consumer.redis.aclose()
