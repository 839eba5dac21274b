"""Applies domain events from the stream to the analytics tables, each exactly once.

Delivery is at-least-once (Redis consumer group); `apply_event` records the event
id in `processed_events` in the same transaction as its effect, so a redelivered
event changes nothing. The stream consumer (`ipheron_libs.events.Consumer`) has
already checked each event against its schema; a payload this module still cannot
read raises `events.UnreadableEvent`, nothing of it is kept (not even the
processed mark), and the consumer moves it to the dead-letter stream with an alert.
A database error propagates as it is: the event stays pending and is retried.

`apply_events` applies the events of one stream read in one transaction (the consumer's
batch mode): their processed marks in one statement, no savepoint per event, the touched
days queued once. A payload it cannot read fails the whole batch, and the stream consumer
then applies each event alone through `apply_event` (which isolates the unreadable one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ipheron_libs import events
from ipheron_libs.errors import InvalidArgument
from ipheron_libs.events import Event
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from analytics_service import domain, repository
from analytics_service.domain import UNKNOWN_TYPE

CONSUMER = "analytics"


def _text(payload: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = payload.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _creators(payload: dict[str, Any]) -> list[tuple[str, Decimal]]:
    """Creators as (id, share %): user id, else wallet; a bare creator_user_id gets 100 %."""
    out: list[tuple[str, Decimal]] = []
    for c in payload.get("creators") or []:
        if not isinstance(c, dict):
            continue
        cid = _text(c, "user_id", "creator_id", "wallet")
        if cid is None:
            continue
        try:
            share = Decimal(str(c.get("share_percent", "0")))
        except InvalidOperation:
            share = Decimal(0)
        out.append((cid, share))
    if not out:
        creator = _text(payload, "creator_user_id", "creator_id")
        if creator:
            out.append((creator, Decimal(100)))
    return out


def _asset_type(payload: dict[str, Any]) -> str | None:
    raw = _text(payload, "asset_type")
    if raw is None:
        return None
    try:
        return domain.check_asset_type(raw)
    except InvalidArgument:
        return UNKNOWN_TYPE


def _on_asset_created(conn: Connection, ev: Event, at: datetime) -> tuple[list[Any], list[str]]:
    p = ev.payload
    asset_id = domain.check_id(_text(p, "asset_id", "id") or "", "asset_id")
    price = p.get("price")
    days = repository.upsert_asset(
        conn,
        asset_id,
        _asset_type(p) or UNKNOWN_TYPE,
        name=_text(p, "name"),
        list_price=domain.parse_price(price) if price not in (None, "") else None,
        status=_text(p, "status"),
        region=_text(p, "region"),
        created_at=at,
    )
    repository.set_creators(conn, asset_id, _creators(p))
    return days, [asset_id]


def _on_asset_updated(conn: Connection, ev: Event, at: datetime) -> tuple[list[Any], list[str]]:
    p = ev.payload
    asset_id = domain.check_id(_text(p, "asset_id", "id") or "", "asset_id")
    price = p.get("price")
    repository.update_asset_status(
        conn, asset_id, _text(p, "status"), domain.parse_price(price) if price not in (None, "") else None
    )
    return [], []


def _on_asset_sold(conn: Connection, ev: Event, at: datetime) -> tuple[list[Any], list[str]]:
    p = ev.payload
    asset_id = domain.check_id(_text(p, "asset_id") or "", "asset_id")
    sale = repository.Sale(
        sale_id=_text(p, "purchase_id", "sale_id") or ev.id,
        asset_id=asset_id,
        asset_type=_asset_type(p),
        price=domain.parse_price(p.get("price")),
        currency=_text(p, "currency") or "ETH",
        buyer_id=_text(p, "buyer_user_id", "buyer_id", "buyer_wallet"),
        seller_id=_text(p, "seller_user_id", "seller_id", "seller_wallet"),
        occurred_at=at,
    )
    day = repository.insert_sale(conn, sale, _creators(p))
    return ([day] if day else []), [asset_id]


def _transfer_of(ev: Event, at: datetime) -> tuple[str, str, datetime]:
    return ev.id, domain.check_id(_text(ev.payload, "asset_id") or "", "asset_id"), at


def _on_asset_transferred(conn: Connection, ev: Event, at: datetime) -> tuple[list[Any], list[str]]:
    repository.insert_transfers(conn, [_transfer_of(ev, at)])
    return [], []


def _on_stake(conn: Connection, ev: Event, at: datetime) -> tuple[list[Any], list[str]]:
    p = ev.payload
    status = {"stake.opened": "active", "stake.matured": "matured", "stake.closed": "closed"}.get(ev.type)
    if status is None:  # stake.claimed changes nothing analytics keeps
        return [], []
    start = _text(p, "start_time")
    repository.upsert_stake(
        conn,
        domain.check_id(_text(p, "stake_id") or "", "stake_id"),
        domain.check_id(_text(p, "asset_id") or "", "asset_id"),
        _text(p, "user_id") or "",
        domain.parse_price(p.get("amount"), "amount"),
        status,
        domain.parse_time(start) if start else at,
        at if status == "closed" else None,
    )
    return [], []


HANDLERS: dict[str, Callable[[Connection, Event, datetime], tuple[list[Any], list[str]]]] = {
    "asset.created": _on_asset_created,
    "asset.updated": _on_asset_updated,
    "asset.sold": _on_asset_sold,
    "asset.transferred": _on_asset_transferred,
    "stake.opened": _on_stake,
    "stake.claimed": _on_stake,
    "stake.matured": _on_stake,
    "stake.closed": _on_stake,
}


# What a payload analytics cannot read raises while it is applied.
_UNREADABLE = (InvalidArgument, InvalidOperation, KeyError, TypeError, ValueError)


def _unreadable(ev: Event, exc: Exception) -> events.UnreadableEvent:
    # Never acknowledged silently: the caller's transaction (with the processed mark)
    # rolls back and the stream consumer dead-letters the event.
    detail = exc.message if isinstance(exc, InvalidArgument) else repr(exc)
    return events.UnreadableEvent(f"analytics cannot read {ev.type} {ev.id}: {detail}", type_=ev.type,
                                  version=ev.version)


def apply_event(conn: Connection, ev: Event, now: datetime | None = None, *, defer_roll_up: bool = False) -> bool:
    """Apply one event in the caller's transaction; False when it was already applied. With
    `defer_roll_up` the touched days are queued for the roll-up job instead of rebuilt here
    (a day's rebuild reads all its sales: once per interval, not once per sale)."""
    if not events.first_delivery(conn, CONSUMER, ev.id):
        return False
    handler = HANDLERS.get(ev.type)
    if handler is None:
        return True
    try:
        at = domain.parse_time(ev.occurred_at)
        with conn.begin_nested():  # a malformed payload leaves no partial effect behind
            days, asset_ids = handler(conn, ev, at)
            _roll_up(conn, days, asset_ids, now, defer_roll_up)
    except _UNREADABLE as exc:
        raise _unreadable(ev, exc) from exc
    return True


def apply_events(conn: Connection, evs: Sequence[Event], now: datetime | None = None, *,
                 defer_roll_up: bool = False) -> int:
    """Apply a batch of events, in order, in the caller's transaction; returns how many were new.

    All or nothing: an event it cannot read raises `events.UnreadableEvent`, and the caller's
    transaction (with every processed mark of the batch) is to roll back."""
    fresh = events.first_deliveries(conn, CONSUMER, [ev.id for ev in evs])
    applied = 0
    days: list[Any] = []
    asset_ids: list[str] = []
    # Transfers touch nothing another event reads: recorded together, after the loop.
    moved: list[tuple[str, str, datetime]] = []
    for ev in evs:
        if ev.id not in fresh:
            continue
        fresh.discard(ev.id)  # the same event twice in one read is applied once
        applied += 1
        if ev.type == "asset.transferred":
            try:
                moved.append(_transfer_of(ev, domain.parse_time(ev.occurred_at)))
            except _UNREADABLE as exc:
                raise _unreadable(ev, exc) from exc
        elif ev.type in HANDLERS:
            touched, assets = _apply(conn, ev)
            days += touched
            asset_ids += assets
    repository.insert_transfers(conn, moved)
    _roll_up(conn, days, asset_ids, now, defer_roll_up)
    return applied


def _apply(conn: Connection, ev: Event) -> tuple[list[Any], list[str]]:
    """The effect of one event; `events.UnreadableEvent` for a payload analytics cannot read."""
    try:
        return HANDLERS[ev.type](conn, ev, domain.parse_time(ev.occurred_at))
    except _UNREADABLE as exc:
        raise _unreadable(ev, exc) from exc


def _roll_up(conn: Connection, days: list[Any], asset_ids: list[str], now: datetime | None,
             defer: bool) -> None:
    if defer:
        repository.queue_roll_up(conn, days)
    else:
        repository.roll_up(conn, days, asset_ids, now or domain.utcnow())


def apply_in_transaction(engine: Engine, ev: Event, *, defer_roll_up: bool = False) -> bool:
    """One event, one transaction (what the stream consumer calls)."""
    with engine.begin() as conn:
        return apply_event(conn, ev, defer_roll_up=defer_roll_up)


def apply_batch_in_transaction(engine: Engine, evs: Sequence[Event], *, defer_roll_up: bool = False) -> int:
    """The events of one stream read, one transaction (what the stream consumer calls first)."""
    with engine.begin() as conn:
        return apply_events(conn, evs, defer_roll_up=defer_roll_up)


def roll_up_queued(engine: Engine, now: datetime | None = None) -> int:
    """The roll-up job: rebuild the days the consumer queued, in one transaction."""
    with engine.begin() as conn:
        return repository.roll_up_queued(conn, now or domain.utcnow())
