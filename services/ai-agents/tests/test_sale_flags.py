"""Risk flags stored on recorded sales, on the real MeTTa workers and the real PostgreSQL:
a ring's first sales are flagged later, when the ring closes, with the rule, the cycle's
wallets and the sale that revealed it; honest chains are never flagged; recording again
stores nothing new; the flags are read back through GetAssetAnalysis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from ai_agents_service.config import SCHEMA
from ai_agents_service.engine import RulePool
from ai_agents_service.market_data import MarketData, TradeFact
from ai_agents_service.pricing import PricingAgent
from ai_agents_service.repository import Repository
from ai_agents_service.risk import RiskAgent
from ai_agents_service.server import AgentsApp
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as pb
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as pb_grpc
from ipheron_libs import events
from ipheron_libs.db import make_engine, run_db

A, B, C, D, E = ("0x" + c * 40 for c in "abcde")
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def repo(ai_url: str) -> Iterator[Repository]:
    engine = make_engine(ai_url, SCHEMA, pool_size=2, max_overflow=0)
    yield Repository(engine)
    engine.dispose()


def _sales(asset_id: str, hops: list[tuple[str, str]], hours: int = 7) -> list[TradeFact]:
    return [TradeFact(asset_id, seller, buyer, Decimal("1.00") + Decimal(i) / 10, T0 + timedelta(hours=hours * i),
                      f"{asset_id}-sale-{i}") for i, (seller, buyer) in enumerate(hops)]


async def _record(agent: RiskAgent, repo: Repository, sales: list[TradeFact]) -> int:
    """Record sales one by one as the asset.sold consumer does; returns the flags newly stored."""
    stored = 0
    for sale in sales:
        agent.market.add_trades([sale])
        [assessed] = await agent.assess_sales([sale])
        stored += len(await run_db(repo.record_sale_flags, [*assessed.flags, *assessed.retroactive]))
    return stored


def _agent(pool: RulePool) -> RiskAgent:
    data = MarketData()
    return RiskAgent(pool, data, PricingAgent(pool, data))


async def test_a_closed_ring_flags_its_earlier_sales_later_with_the_rule_and_the_revealing_sale(
        pool: RulePool, repo: Repository) -> None:
    agent = _agent(pool)
    asset_id = f"ring-{uuid.uuid4()}"
    ring = _sales(asset_id, [(A, B), (B, C), (C, A), (A, B)])
    await _record(agent, repo, ring[:3])
    # A->B, B->C, C->A: no sale could show the cycle yet, nothing is stored.
    assert await run_db(repo.sale_flags_of, asset_id) == []

    await _record(agent, repo, ring[3:])
    flags = await run_db(repo.sale_flags_of, asset_id)
    by_sale = {f.sale_id: f for f in flags if f.rule.startswith("wash")}
    assert set(by_sale) == {s.sale_id for s in ring}
    for earlier in ring[:3]:
        f = by_sale[earlier.sale_id]
        assert f.rule == "wash-cycle-closed-later" and f.retroactive and f.points == 70
        assert f.revealed_by == ring[3].sale_id and f.decided_at == ring[3].at
        assert f.wallets == tuple(sorted((A, B, C)))
        assert (f.seller, f.buyer, f.price, f.sold_at) == (earlier.seller, earlier.buyer, earlier.price, earlier.at)
        assert "closed the wash-trading cycle" in f.explanation and ring[3].sale_id in f.explanation
    closing = by_sale[ring[3].sale_id]
    assert closing.rule == "wash-trading-ring" and not closing.retroactive and closing.revealed_by == closing.sale_id


async def test_recording_the_same_sales_again_stores_nothing_new(pool: RulePool, repo: Repository) -> None:
    agent = _agent(pool)
    asset_id = f"ring-{uuid.uuid4()}"
    ring = _sales(asset_id, [(A, B), (B, C), (C, A), (A, B), (B, C), (C, A)])
    first = await _record(agent, repo, ring)
    before = await run_db(repo.sale_flags_of, asset_id)
    again = await _record(agent, repo, ring)  # at-least-once delivery, a replay, a restart
    assert first == len(before) > 0 and again == 0
    assert await run_db(repo.sale_flags_of, asset_id) == before
    # One wash flag per sale: a sale flagged when it was recorded gets no retroactive flag on top,
    # and a later closing sale does not flag an already flagged sale again.
    wash = [f.sale_id for f in before if f.rule.startswith("wash")]
    assert sorted(wash) == sorted(s.sale_id for s in ring)
    assert [f.rule for f in before if f.retroactive] == ["wash-cycle-closed-later"] * 3


async def test_honest_resale_chains_are_never_flagged(pool: RulePool, repo: Repository) -> None:
    agent = _agent(pool)
    chain_id, slow_id = f"chain-{uuid.uuid4()}", f"slow-{uuid.uuid4()}"
    await _record(agent, repo, _sales(chain_id, [(A, B), (B, C), (C, D), (D, E)]))
    # The asset comes back to A, but over a month: outside the ring's 14-day window.
    await _record(agent, repo, _sales(slow_id, [(A, B), (B, C), (C, A), (A, B)], hours=24 * 10))
    for asset_id in (chain_id, slow_id):
        assert [f for f in await run_db(repo.sale_flags_of, asset_id) if f.rule.startswith("wash")] == []


async def test_a_round_trip_flags_its_first_leg(pool: RulePool, repo: Repository) -> None:
    agent = _agent(pool)
    asset_id = f"rt-{uuid.uuid4()}"
    legs = _sales(asset_id, [(A, B), (B, A)])
    await _record(agent, repo, legs)
    flags = {f.sale_id: f for f in await run_db(repo.sale_flags_of, asset_id)}
    assert flags[legs[1].sale_id].rule == "wash-round-trip" and not flags[legs[1].sale_id].retroactive
    first = flags[legs[0].sale_id]
    assert first.rule == "wash-round-trip-closed-later" and first.retroactive and first.points == 35
    assert first.wallets == tuple(sorted((A, B))) and first.revealed_by == legs[1].sale_id


def _event(type_: str, payload: dict[str, Any], at: datetime) -> events.Event:
    ev = events.Event(id=str(uuid.uuid4()), type=type_, version=1, occurred_at=at.isoformat(), actor="u-1",
                      payload=payload)
    events.check(ev)
    return ev


def _sold(asset_id: str, seller: str, buyer: str, at: datetime, purchase_id: str) -> events.Event:
    return _event("asset.sold", {
        "asset_id": asset_id, "asset_type": "music", "purchase_id": purchase_id, "price": "0.5", "currency": "ETH",
        "seller_user_id": "u-s", "seller_wallet": seller, "buyer_user_id": "u-b", "buyer_wallet": buyer,
        "tx_hash": "0x" + "ab" * 32, "block_number": 3, "token_id": "9",
        "creators": [{"user_id": "u-1", "wallet": A, "share_percent": "100"}]}, at)


async def test_asset_sold_events_store_the_flags_and_the_analysis_shows_them(
        app: AgentsApp, stub: pb_grpc.AiAgentsServiceStub) -> None:
    asset_id = str(uuid.uuid4())
    await app.handle_event(_event("asset.created", {
        "asset_id": asset_id, "name": "Ring tune", "asset_type": "music", "price": "0.5", "royalty_rate": "10",
        "status": "pending", "region": "europe", "owner_user_id": "u-1", "owner_wallet": A, "creator_user_id": "u-1",
        "creators": [{"user_id": "u-1", "wallet": A, "share_percent": "100"}], "ipfs_hash": f"bafy{asset_id}",
        "utility_features": []}, T0 - timedelta(days=1)))
    purchases = [str(uuid.uuid4()) for _ in range(4)]
    for i, (seller, buyer) in enumerate([(A, B), (B, C), (C, A), (A, B)]):
        await app.handle_event(_sold(asset_id, seller, buyer, T0 + timedelta(hours=5 * i), purchases[i]))
    got = await stub.GetAssetAnalysis(pb.GetAssetAnalysisRequest(asset_id=asset_id))
    wash = {f.sale_id: f for f in got.sale_flags if f.rule.startswith("wash")}
    assert set(wash) == set(purchases)
    assert [wash[p].rule for p in purchases] == ["wash-cycle-closed-later"] * 3 + ["wash-trading-ring"]
    assert all(wash[p].retroactive and wash[p].revealed_by_sale_id == purchases[3] for p in purchases[:3])
    assert list(wash[purchases[0]].cycle_wallets) == sorted((A, B, C)) and wash[purchases[0]].price == "0.5"
    assert wash[purchases[0]].sold_at.ToDatetime(tzinfo=UTC) == T0 and wash[purchases[0]].kb_version


async def test_a_transfer_makes_the_receiver_the_owner_of_record(
        app: AgentsApp, stub: pb_grpc.AiAgentsServiceStub) -> None:
    import grpc

    asset_id = str(uuid.uuid4())
    await app.handle_event(_event("asset.created", {
        "asset_id": asset_id, "name": "Gifted score", "asset_type": "music", "price": "0.5", "royalty_rate": "10",
        "status": "pending", "region": "europe", "owner_user_id": "u-1", "owner_wallet": A, "creator_user_id": "u-1",
        "creators": [{"user_id": "u-1", "wallet": A, "share_percent": "100"}], "ipfs_hash": f"bafy{asset_id}",
        "utility_features": []}, T0))
    transfer = _event("asset.transferred", {
        "asset_id": asset_id, "from_wallet": A, "to_wallet": B, "from_user_id": "u-1", "to_user_id": "u-9",
        "tx_hash": "0x" + "cd" * 32, "token_id": "4"}, T0 + timedelta(hours=1))
    await app.handle_event(transfer)
    await app.handle_event(transfer)  # delivered twice: the same owner
    # The owner written once: naming the same owner again (the sale's asset.sold does) writes no row.
    assert app.service.repo.set_owner(asset_id, "u-9") == 0
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stub.ReanalyzeAsset(pb.ReanalyzeAssetRequest(asset_id=asset_id, requester_user_id="u-1", days=3))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    again = await stub.ReanalyzeAsset(pb.ReanalyzeAssetRequest(asset_id=asset_id, requester_user_id="u-9", days=3))
    assert again.analysis.trigger == "owner"


async def test_a_ring_half_way_round_at_a_restart_is_still_caught(pg_admin_url: str) -> None:
    """The trade log lived only in memory: after a restart the ring's first sales were
    forgotten, so its closing sale looked clean. Recorded sales are stored and reloaded."""
    from ai_agents_service.config import Settings
    from ai_agents_service.server import MIGRATIONS_DIR
    from ipheron_libs.testing import drop_database, fresh_database, fresh_schema

    scratch = fresh_database(pg_admin_url, "ai_agents_ring_restart")
    url = fresh_schema(scratch, SCHEMA, MIGRATIONS_DIR)

    def agents() -> AgentsApp:
        return AgentsApp(Settings(database_url=url, workers=1, kb_reload=False, retrain_interval=0,
                                  consume_events=False, auth_addr="127.0.0.1:1", analytics_addr="",
                                  synthetic_sales=False), url, redis_url="")

    asset_id, start = str(uuid.uuid4()), datetime.now(UTC) - timedelta(days=2)
    purchases = [str(uuid.uuid4()) for _ in range(4)]
    hops = [(A, B), (B, C), (C, A), (A, B)]
    try:
        first = agents()
        await first.start(host="127.0.0.1", port=0)
        try:
            for i in range(3):
                await first.handle_event(_sold(asset_id, *hops[i], start + timedelta(hours=6 * i), purchases[i]))
        finally:
            await first.stop(grace=0)
        second = agents()
        await second.start(host="127.0.0.1", port=0)
        try:
            assert [t.sale_id for t in second.market.trades_of(asset_id)] == purchases[:3]
            await second.handle_event(_sold(asset_id, *hops[3], start + timedelta(hours=18), purchases[3]))
            flags = {f.sale_id: f.rule for f in await second.service.sale_flags(asset_id)
                     if f.rule.startswith("wash")}
        finally:
            await second.stop(grace=0)
        assert flags == {**{p: "wash-cycle-closed-later" for p in purchases[:3]}, purchases[3]: "wash-trading-ring"}
    finally:
        drop_database(pg_admin_url, "ai_agents_ring_restart")


async def test_a_sales_transfer_and_sold_events_write_the_owner_once(
        app: AgentsApp, stub: pb_grpc.AiAgentsServiceStub, monkeypatch: pytest.MonkeyPatch) -> None:
    asset_id = str(uuid.uuid4())
    await app.handle_event(_event("asset.created", {
        "asset_id": asset_id, "name": "Sold score", "asset_type": "music", "price": "0.5", "royalty_rate": "10",
        "status": "pending", "region": "europe", "owner_user_id": "u-1", "owner_wallet": A, "creator_user_id": "u-1",
        "creators": [{"user_id": "u-1", "wallet": A, "share_percent": "100"}], "ipfs_hash": f"bafy{asset_id}",
        "utility_features": []}, T0))
    writes: list[tuple[str, str]] = []
    set_owner = app.service.repo.set_owner

    def counted(asset: str, owner: str) -> int:
        writes.append((asset, owner))
        return set_owner(asset, owner)

    monkeypatch.setattr(app.service.repo, "set_owner", counted)
    sale = _sold(asset_id, A, B, T0 + timedelta(hours=1), str(uuid.uuid4()))
    transfer = _event("asset.transferred", {
        "asset_id": asset_id, "from_wallet": A, "to_wallet": B, "from_user_id": "u-1", "to_user_id": "u-b",
        "tx_hash": sale.payload["tx_hash"], "token_id": "9"}, T0 + timedelta(hours=1))
    await app.handle_event(transfer)
    await app.handle_event(sale)  # the same transaction, the same buyer: nothing to write again
    assert writes == [(asset_id, "u-b")]
    again = await stub.ReanalyzeAsset(pb.ReanalyzeAssetRequest(asset_id=asset_id, requester_user_id="u-b", days=3))
    assert again.analysis.trigger == "owner"
    # Another sale (another transaction) naming the same buyer is written.
    later = _sold(asset_id, A, B, T0 + timedelta(hours=2), str(uuid.uuid4()))
    await app.handle_event(events.Event(later.id, later.type, 1, later.occurred_at, later.actor,
                                        {**later.payload, "tx_hash": "0x" + "12" * 32}))
    assert writes == [(asset_id, "u-b"), (asset_id, "u-b")]
