"""The event contract: one versioned JSON Schema per event the services emit, checked by
`events.emit` before anything reaches the outbox (real PostgreSQL)."""

from __future__ import annotations

import re
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from event_samples import TX, WALLET, event, sold_payload, stake_payload
from ipheron_libs import db, events, vocab
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "libs" / "src" / "ipheron_libs" / "event_schemas"
PRODUCERS = ("assets", "auth", "staking", "chain")
# An event type as producers spell it: "asset.sold", "stake.closed", "user.created".
EVENT_TYPE = re.compile(r"\"((?:asset|stake|user|chain)\.[a-z_.]*[a-z_])\"")  # not a prefix ("chain.stake.")


class _Op:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str) -> None:
        self.conn.execute(text(sql))


def _emitted_types() -> set[str]:
    found: set[str] = set()
    for producer in PRODUCERS:
        for path in (ROOT / "services" / producer / "src").glob("**/*.py"):
            found.update(EVENT_TYPE.findall(path.read_text()))
    return found


def test_every_event_type_the_services_emit_has_a_schema_and_every_schema_is_emitted() -> None:
    emitted = _emitted_types()
    assert {"asset.created", "asset.updated", "asset.sold", "stake.opened", "user.created"} <= emitted
    assert emitted == events.contracts().types()


def test_each_schema_is_valid_named_for_its_type_and_version_and_documented() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    names = {p.name for p in SCHEMAS.glob("*.json")} - {"common.json"}
    loaded = list(events.contracts())
    assert {f"{c.type}.v{c.version}.json" for c in loaded} == names
    for c in loaded:
        assert c.producer in PRODUCERS, c.type
        assert f"`{c.type}` v{c.version}" in readme, f"{c.type} is missing from the README table"
        payload = c.schema["properties"]["payload"]
        assert payload["additionalProperties"] is False, f"{c.type}: a drifted producer must fail its tests"


def test_asset_types_in_the_contract_are_the_shared_vocabulary() -> None:
    assert tuple(events.contracts().common["$defs"]["asset_type"]["enum"]) == vocab.ASSET_TYPES


@pytest.mark.parametrize("price, ok", [
    ("1.5", True), ("0", True), ("100", True), ("1.234567890123456789", True),
    ("1.50", False), ("1e3", False), ("-1", False), ("01", False), ("1.", False), (".5", False),
    ("1.2345678901234567891", False), (1.5, False), (Decimal("1.5"), False), (None, False),
])
def test_money_is_a_canonical_decimal_string_never_a_number(price: Any, ok: bool) -> None:
    ev = event("asset.sold", sold_payload(price=price))
    if ok:
        events.check(ev)
    else:
        with pytest.raises(events.InvalidEvent, match="payload/price"):
            events.check(ev)


def test_invalid_events_name_every_failing_path() -> None:
    payload = sold_payload(buyer_wallet="not-a-wallet", tx_hash=TX[:-1], surprise=1)
    del payload["purchase_id"]
    with pytest.raises(events.InvalidEvent) as err:
        events.check(event("asset.sold", payload))
    joined = "\n".join(err.value.errors)
    for fragment in ("payload/buyer_wallet", "payload/tx_hash", "'purchase_id' is a required property",
                     "'surprise' was unexpected"):
        assert fragment in joined
    assert (err.value.type, err.value.version, err.value.reason) == ("asset.sold", 1, "invalid")


def test_the_envelope_is_part_of_the_contract() -> None:
    good = event("stake.opened", stake_payload())
    bad_time = events.Event(good.id, good.type, 1, "yesterday", good.actor, good.payload)
    bad_id = events.Event("e1", good.type, 1, good.occurred_at, good.actor, good.payload)
    naive = events.Event(good.id, good.type, 1, "2026-01-01T00:00:00", good.actor, good.payload)
    for ev in (bad_time, bad_id, naive):
        with pytest.raises(events.InvalidEvent):
            events.check(ev)


def test_emit_refuses_unknown_types_versions_and_invalid_payloads_and_writes_nothing(service_db_url: Any) -> None:
    engine = db.make_engine(service_db_url("libtest_contract"), "libtest_contract")
    with engine.begin() as conn:
        events.migration_upgrade(_Op(conn))
    cases: list[tuple[str, int, dict[str, Any], type[events.EventContractError]]] = [
        ("asset.exploded", 1, {}, events.UnknownEventType),
        ("asset.sold", 2, sold_payload(), events.UnknownEventVersion),
        ("asset.sold", 1, sold_payload(price=Decimal("1.5")), events.InvalidEvent),
        ("stake.closed", 1, stake_payload(), events.InvalidEvent),  # the payout breakdown is missing
    ]
    for type_, version, payload, error in cases:
        with pytest.raises(error), engine.begin() as conn:
            events.emit(conn, type_, "u", payload, version=version)
    with engine.begin() as conn:
        events.emit(conn, "stake.opened", "alice", stake_payload())
        assert conn.execute(text("SELECT type FROM outbox")).scalars().all() == ["stake.opened"]
    engine.dispose()


def test_validators_are_compiled_once_and_a_check_is_cheap() -> None:
    assert events.contracts() is events.contracts()
    contract = events.contracts().schema("asset.sold", 1)
    assert events.contracts().schema("asset.sold", 1).validator is contract.validator
    ev = event("asset.sold", sold_payload(creators=[
        {"user_id": f"creator-{i}", "wallet": WALLET, "share_percent": "10"} for i in range(10)]))
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(50):
            events.check(ev)
        rounds.append((time.perf_counter() - start) / 50)
    per_check = statistics.median(rounds)
    print(f"asset.sold with 10 creators: {per_check * 1e6:.0f} µs per check")
    # A regression guard (recompiling per call costs tens of ms), generous for a loaded 2-core box.
    assert per_check < 0.01
