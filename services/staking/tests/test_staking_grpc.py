"""StakingService over a real gRPC channel (port 0) on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron.assets.v1 import assets_service_pb2 as assets_pb
from ipheron.assets.v1 import assets_service_pb2_grpc as assets_pb_grpc
from ipheron.common.v1 import common_pb2
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron.staking.v1 import staking_service_pb2_grpc as pb_grpc
from ipheron_libs.errors import FIELD_METADATA_KEY
from sqlalchemy import Engine, text
from staking_service.config import Settings
from staking_service.domain import StakeStatus
from staking_service.server import FULL_NAME, StakingApp

if TYPE_CHECKING:
    from conftest import Clock

D = Decimal


@dataclass
class Running:
    stub: pb_grpc.StakingServiceStub
    channel: grpc.aio.Channel
    app: StakingApp


@asynccontextmanager
async def running(url: str, clock: Clock, assets_addr: str | None = None) -> AsyncIterator[Running]:
    settings = Settings(relay_events=False, maturity_interval_seconds=0, db_pool_size=4, assets_addr=assets_addr)
    app = StakingApp(settings, url, clock=clock)
    port = await app.start(host="127.0.0.1", port=0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(pb_grpc.StakingServiceStub(channel), channel, app)
    finally:
        await channel.close()
        await app.stop(grace=0.5)


def _field(err: grpc.aio.AioRpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get(FIELD_METADATA_KEY)


def _events(engine: Engine) -> list[tuple[str, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, payload FROM outbox ORDER BY occurred_at")).all()
    return [(r.type, r.payload) for r in rows]


def _open(
    user: str = "alice", amount: str = "1000", days: int = 90, key: str = "k-1", asset: str = "asset-1"
) -> pb.OpenStakeRequest:
    return pb.OpenStakeRequest(user_id=user, asset_id=asset, amount=amount, duration_days=days, idempotency_key=key)


@pytest.mark.asyncio
async def test_server_reports_serving_and_quotes_with_explained_apr(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        health = await health_pb2_grpc.HealthStub(r.channel).Check(health_pb2.HealthCheckRequest(service=FULL_NAME))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        q = await r.stub.GetQuote(pb.GetQuoteRequest(asset_id="asset-1", amount="2000", duration_days=365))
        assert q.apr == "10.5"
        assert [c.rule for c in q.apr_components] == ["base_tier", "long_lock_bonus", "size_bonus", "cap"]
        assert q.expected_rewards == "210"
        assert q.amount.amount == "2000" and q.amount.currency == "ETH"
        assert list(q.allowed_durations) == [30, 90, 180, 365]
        assert q.early_unstake_penalty_rate == "10"


@pytest.mark.asyncio
async def test_open_with_same_key_and_request_returns_the_same_stake(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        first = await r.stub.OpenStake(_open())
        clock.advance(minutes=5)
        again = await r.stub.OpenStake(_open(amount="1000.000"))
        assert not first.replayed and again.replayed
        assert again.stake == first.stake
        listed = await r.stub.ListStakes(pb.ListStakesRequest(user_id="alice"))
        assert listed.page_info.total == 1
        assert [t for t, _ in _events(clean_engine)] == ["stake.opened"]


@pytest.mark.asyncio
async def test_same_key_with_a_different_request_is_a_conflict(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        await r.stub.OpenStake(_open())
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.OpenStake(_open(amount="999"))
        assert exc.value.code() == grpc.StatusCode.ALREADY_EXISTS
        # the key is per user: bob may use the same key for his own stake
        bob = await r.stub.OpenStake(_open(user="bob", amount="999"))
        assert bob.stake.user_id == "bob"


@pytest.mark.asyncio
async def test_concurrent_opens_with_one_key_create_exactly_one_stake(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        answers = await asyncio.gather(*(r.stub.OpenStake(_open(key="race")) for _ in range(8)))
        assert len({a.stake.id for a in answers}) == 1
        assert sum(not a.replayed for a in answers) == 1
        with clean_engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM stakes")).scalar_one() == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_open(amount="-5"), "amount"),
        (_open(amount="12.3.4"), "amount"),
        (_open(amount="1e3"), "amount"),
        (_open(days=45), "duration_days"),
        (_open(key=""), "idempotency_key"),
        (_open(key="has space"), "idempotency_key"),
        (_open(user=""), "user_id"),
        (_open(asset=""), "asset_id"),
    ],
)
async def test_bad_open_requests_are_invalid_arguments_naming_the_field(
    staking_url: str, clean_engine: Engine, clock: Clock, request_: pb.OpenStakeRequest, field: str
) -> None:
    async with running(staking_url, clock) as r:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.OpenStake(request_)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _field(exc.value) == field
        assert field in exc.value.details()
        with clean_engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM stakes")).scalar_one() == 0


@pytest.mark.asyncio
async def test_quote_rejects_malformed_decimal_naming_amount(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.GetQuote(pb.GetQuoteRequest(asset_id="a", amount="ten", duration_days=30))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(exc.value) == "amount"


@pytest.mark.asyncio
async def test_non_owner_cannot_claim_or_unstake(staking_url: str, clean_engine: Engine, clock: Clock) -> None:
    async with running(staking_url, clock) as r:
        opened = await r.stub.OpenStake(_open())
        clock.advance(days=10)
        for call in (
            r.stub.ClaimRewards(pb.ClaimRewardsRequest(stake_id=opened.stake.id, user_id="mallory")),
            r.stub.Unstake(pb.UnstakeRequest(stake_id=opened.stake.id, user_id="mallory")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await call
            assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.GetStake(pb.GetStakeRequest(stake_id=opened.stake.id, user_id="mallory"))
        assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
        got = await r.stub.GetStake(pb.GetStakeRequest(stake_id=opened.stake.id, user_id="alice"))
        assert got.stake.rewards_claimed == "0"
        assert [t for t, _ in _events(clean_engine)] == ["stake.opened"]


@pytest.mark.asyncio
async def test_claim_pays_exact_accrual_and_is_replayed_by_key(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        opened = await r.stub.OpenStake(_open(amount="1000", days=90))  # APR 5.25
        assert opened.stake.apr == "5.25"
        clock.advance(days=73)
        seen = await r.stub.GetStake(pb.GetStakeRequest(stake_id=opened.stake.id))
        assert seen.stake.claimable_rewards == "10.5"  # 1000 * 5.25 % * 73/365
        claim = await r.stub.ClaimRewards(
            pb.ClaimRewardsRequest(stake_id=opened.stake.id, user_id="alice", idempotency_key="c-1")
        )
        assert claim.claimed == "10.5" and claim.stake.claimable_rewards == "0"
        clock.advance(days=1)
        replay = await r.stub.ClaimRewards(
            pb.ClaimRewardsRequest(stake_id=opened.stake.id, user_id="alice", idempotency_key="c-1")
        )
        assert replay.replayed and replay.claimed == "10.5"
        fresh = await r.stub.ClaimRewards(pb.ClaimRewardsRequest(stake_id=opened.stake.id, user_id="alice"))
        assert D(fresh.claimed) == D("1000") * D("5.25") / 100 / 365 * 1 // D("1E-18") * D("1E-18")
        assert D(fresh.stake.rewards_claimed) == D("10.5") + D(fresh.claimed)
        kinds = [t for t, _ in _events(clean_engine)]
        assert kinds == ["stake.opened", "stake.claimed", "stake.claimed"]
        payload = _events(clean_engine)[1][1]
        assert payload["claimed"] == "10.5" and payload["stake_id"] == opened.stake.id


@pytest.mark.asyncio
async def test_early_unstake_applies_penalty_and_a_second_unstake_fails(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        opened = await r.stub.OpenStake(_open(amount="500", days=30))
        clock.advance(days=3)
        out = await r.stub.Unstake(pb.UnstakeRequest(stake_id=opened.stake.id, user_id="alice", idempotency_key="u-1"))
        assert out.early and out.penalty == "50" and out.payout == "450" and out.rewards_paid == "0"
        assert D(out.rewards_forfeited) > 0
        assert out.stake.status == pb.STAKE_STATUS_CLOSED
        replay = await r.stub.Unstake(
            pb.UnstakeRequest(stake_id=opened.stake.id, user_id="alice", idempotency_key="u-1")
        )
        assert replay.replayed and replay.payout == "450"
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.Unstake(pb.UnstakeRequest(stake_id=opened.stake.id, user_id="alice"))
        assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        closed = [p for t, p in _events(clean_engine) if t == "stake.closed"]
        assert len(closed) == 1 and closed[0]["early"] is True and closed[0]["payout"] == "450"


@pytest.mark.asyncio
async def test_maturity_is_recorded_once_and_matured_unstake_pays_rewards(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        opened = await r.stub.OpenStake(_open(amount="3650", days=30))  # APR 3.25
        clock.advance(days=31)
        listed = await r.stub.ListStakes(pb.ListStakesRequest(user_id="alice", status=pb.STAKE_STATUS_MATURED))
        assert listed.page_info.total == 1 and listed.stakes[0].status == pb.STAKE_STATUS_MATURED
        assert await r.app.service.mature_due() == 1
        assert await r.app.service.mature_due() == 0
        out = await r.stub.Unstake(pb.UnstakeRequest(stake_id=opened.stake.id, user_id="alice"))
        assert not out.early and out.penalty == "0"
        assert out.rewards_paid == "9.75"  # 3650 * 3.25 % * 30/365
        assert out.payout == "3659.75"
        assert [t for t, _ in _events(clean_engine)] == ["stake.opened", "stake.matured", "stake.closed"]


@pytest.mark.asyncio
async def test_list_pages_filters_and_counts(staking_url: str, clean_engine: Engine, clock: Clock) -> None:
    async with running(staking_url, clock) as r:
        ids = []
        for i in range(5):
            clock.advance(seconds=1)
            ids.append((await r.stub.OpenStake(_open(key=f"k{i}", asset=f"asset-{i % 2}"))).stake.id)
        await r.stub.OpenStake(_open(user="bob", key="kb"))
        await r.stub.Unstake(pb.UnstakeRequest(stake_id=ids[0], user_id="alice"))
        page = await r.stub.ListStakes(
            pb.ListStakesRequest(user_id="alice", page=common_pb2.PageRequest(page=2, per_page=2))
        )
        assert page.page_info.total == 5 and page.page_info.page == 2
        assert [s.id for s in page.stakes] == [ids[2], ids[1]]  # newest first
        active = await r.stub.ListStakes(pb.ListStakesRequest(user_id="alice", status=pb.STAKE_STATUS_ACTIVE))
        assert active.page_info.total == 4
        closed = await r.stub.ListStakes(pb.ListStakesRequest(status=pb.STAKE_STATUS_CLOSED))
        assert [s.id for s in closed.stakes] == [ids[0]]
        by_asset = await r.stub.ListStakes(pb.ListStakesRequest(asset_id="asset-1"))
        assert by_asset.page_info.total == 3  # alice x2 + bob
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await r.stub.ListStakes(pb.ListStakesRequest(page=common_pb2.PageRequest(page=1, per_page=101)))
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(exc.value) == "per_page"


@pytest.mark.asyncio
async def test_unknown_or_malformed_stake_id_is_not_found(staking_url: str, clean_engine: Engine, clock: Clock) -> None:
    async with running(staking_url, clock) as r:
        for sid in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await r.stub.GetStake(pb.GetStakeRequest(stake_id=sid))
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await r.stub.ClaimRewards(pb.ClaimRewardsRequest(stake_id=sid, user_id="alice", idempotency_key="x"))
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        with clean_engine.connect() as conn:  # a failed request does not consume its key
            assert conn.execute(text("SELECT count(*) FROM idempotency_keys")).scalar_one() == 0


async def test_outbox_relay_publishes_stake_events_to_the_stream(
    staking_url: str, clean_engine: Engine, clock: Clock, redis_url: str
) -> None:
    import redis
    from ipheron_libs import events
    from staking_service.config import SCHEMA
    from staking_service.repository import StakingRepository
    from staking_service.service import StakingService

    svc = StakingService(StakingRepository(clean_engine), clock)
    stake = (await svc.open("alice", "asset-9", "42", 30, "relay-1")).view.stake
    relay = events.OutboxRelay(clean_engine, SCHEMA, redis_url, stream="test:staking-events")
    try:
        assert relay.publish_pending() == 1
        assert relay.publish_pending() == 0
    finally:
        relay.redis.close()
    entries = redis.Redis.from_url(redis_url).xrange("test:staking-events")
    ev = events.Event.from_fields(entries[-1][1])
    assert ev.type == "stake.opened" and ev.actor == "alice"
    assert ev.payload["stake_id"] == stake.id and ev.payload["amount"] == "42"
    assert json.loads(json.dumps(ev.payload))["duration_days"] == 30


class _Assets(assets_pb_grpc.AssetsServiceServicer):
    """The assets contract's GetAsset, answering from a dict (the assets service itself has its own suite)."""

    def __init__(self, statuses: dict[str, int]) -> None:
        self.statuses = statuses

    async def GetAsset(
        self, request: assets_pb.GetAssetRequest, context: grpc.aio.ServicerContext
    ) -> assets_pb.GetAssetResponse:
        if request.asset_id not in self.statuses:
            await context.abort(grpc.StatusCode.NOT_FOUND, "asset not found")
        return assets_pb.GetAssetResponse(
            asset=assets_pb.Asset(id=request.asset_id, status=self.statuses[request.asset_id])
        )


async def test_stakes_open_only_on_existing_active_assets(staking_url: str, clean_engine: Engine, clock: Clock) -> None:
    assets_server = grpc.aio.server()
    assets_pb_grpc.add_AssetsServiceServicer_to_server(
        _Assets({"live": assets_pb.ASSET_STATUS_ACTIVE, "gone": assets_pb.ASSET_STATUS_ARCHIVED}), assets_server
    )
    port = assets_server.add_insecure_port("127.0.0.1:0")
    await assets_server.start()
    try:
        async with running(staking_url, clock, assets_addr=f"127.0.0.1:{port}") as r:
            ok = await r.stub.OpenStake(_open(asset="live"))
            assert ok.stake.asset_id == "live"
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await r.stub.OpenStake(_open(asset="missing", key="k-2"))
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and _field(exc.value) == "asset_id"
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await r.stub.GetQuote(pb.GetQuoteRequest(asset_id="gone", amount="5", duration_days=30))
            assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "archived" in exc.value.details()
            await assets_server.stop(0)
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await r.stub.OpenStake(_open(asset="live", key="k-3"))
            assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
        assert [t for t, _ in _events(clean_engine)] == ["stake.opened"]
    finally:
        await assets_server.stop(0)


async def test_concurrent_claims_pay_the_accrual_exactly_once(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        opened = await r.stub.OpenStake(_open(amount="730", days=365))  # APR 9 + 1.5 = 10.5
        clock.advance(days=10)
        claims = await asyncio.gather(
            *(r.stub.ClaimRewards(pb.ClaimRewardsRequest(stake_id=opened.stake.id, user_id="alice")) for _ in range(6))
        )
        paid = sorted(D(c.claimed) for c in claims)
        assert paid[-1] == D("2.1") and sum(paid) == D("2.1")  # 730 * 10.5 % * 10/365
        assert [t for t, _ in _events(clean_engine)] == ["stake.opened", "stake.claimed"]


async def test_idempotency_keys_expire_after_the_retention_window(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    async with running(staking_url, clock) as r:
        first = await r.stub.OpenStake(_open(key="ttl-key"))
        clock.advance(hours=71)
        assert await r.app.service.purge_idempotency_keys(timedelta(hours=72)) == 0
        assert (await r.stub.OpenStake(_open(key="ttl-key"))).stake.id == first.stake.id
        clock.advance(hours=2)
        assert await r.app.service.purge_idempotency_keys(timedelta(hours=72)) == 1
        later = await r.stub.OpenStake(_open(key="ttl-key", amount="5"))  # a new request now
        assert not later.replayed and later.stake.id != first.stake.id


async def test_the_running_service_records_maturity_and_forgets_old_keys_on_its_own(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    """The maturity sweep and the idempotency-key purge are the skeleton's periodic jobs."""
    from ipheron_libs.testing import wait_until_async

    def count(sql: str) -> int:
        with clean_engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    settings = Settings(relay_events=False, maturity_interval_seconds=0.05, db_pool_size=4,
                        idempotency_retention_hours=72)
    app = StakingApp(settings, staking_url, clock=clock)
    await app.start(host="127.0.0.1", port=0)
    try:
        opened = await app.service.open("alice", "asset-1", "100", 30, "sweep-key")
        clock.advance(days=31)
        await wait_until_async(lambda: count("SELECT count(*) FROM stakes WHERE status = 'matured'") == 1,
                               timeout=10, message="the sweep records maturity")
        assert [t for t, _ in _events(clean_engine)] == ["stake.opened", "stake.matured"]
        await wait_until_async(lambda: count("SELECT count(*) FROM idempotency_keys") == 0,
                               timeout=10, message="keys older than the retention are purged")
        got = await app.service.get(opened.view.stake.id)
        assert got.stake.status is StakeStatus.MATURED
    finally:
        await app.stop(grace=0.2)


class _BrokenAssets(assets_pb_grpc.AssetsServiceServicer):
    """An assets service failing with a bug (INTERNAL) whose message must not reach clients."""

    async def GetAsset(
        self, request: assets_pb.GetAssetRequest, context: grpc.aio.ServicerContext
    ) -> assets_pb.GetAssetResponse:
        await context.abort(grpc.StatusCode.INTERNAL, "psycopg: relation assets does not exist")
        raise AssertionError("unreachable")


async def test_an_assets_bug_is_internal_not_unavailable_and_keeps_its_detail(
    staking_url: str, clean_engine: Engine, clock: Clock
) -> None:
    """wire.classify_rpc_error: INTERNAL from a callee is not transient (no retry) and its text stays inside."""
    assets_server = grpc.aio.server()
    assets_pb_grpc.add_AssetsServiceServicer_to_server(_BrokenAssets(), assets_server)
    port = assets_server.add_insecure_port("127.0.0.1:0")
    await assets_server.start()
    try:
        async with running(staking_url, clock, assets_addr=f"127.0.0.1:{port}") as r:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await r.stub.OpenStake(_open(asset="live"))
            assert exc.value.code() == grpc.StatusCode.INTERNAL
            assert "psycopg" not in (exc.value.details() or "")
        assert _events(clean_engine) == []
    finally:
        await assets_server.stop(0)
