"""StakingService gRPC servicer: protobuf <-> domain, nothing else."""

from __future__ import annotations

from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from ipheron.common.v1 import common_pb2
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron.staking.v1 import staking_service_pb2_grpc as pb_grpc
from ipheron_libs.db import run_db
from ipheron_libs.errors import InvalidArgument

from staking_service import domain
from staking_service.assets_client import AssetDirectory
from staking_service.domain import AprComponent, StakeStatus, StakeView, fmt
from staking_service.service import StakingService

_STATUS_TO_PB = {
    StakeStatus.ACTIVE: pb.STAKE_STATUS_ACTIVE,
    StakeStatus.MATURED: pb.STAKE_STATUS_MATURED,
    StakeStatus.CLOSED: pb.STAKE_STATUS_CLOSED,
}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _components(parts: tuple[AprComponent, ...]) -> list[pb.AprComponent]:
    return [pb.AprComponent(rule=p.rule, rate=fmt(p.rate), explanation=p.explanation) for p in parts]


class StakingServicer(pb_grpc.StakingServiceServicer):
    """Translates each RPC to one StakingService call run in the DB thread pool."""

    def __init__(self, service: StakingService, currency: str, assets: AssetDirectory | None = None) -> None:
        self.service = service
        self.currency = currency
        self.assets = assets

    async def _check_asset(self, asset_id: str) -> None:
        if self.assets is not None and asset_id.strip():
            await self.assets.require_stakeable(asset_id.strip())

    def _money(self, amount: object) -> common_pb2.Money:
        return common_pb2.Money(amount=fmt(amount), currency=self.currency)  # type: ignore[arg-type]

    def _stake(self, v: StakeView) -> pb.Stake:
        s = v.stake
        msg = pb.Stake(
            id=s.id,
            user_id=s.user_id,
            asset_id=s.asset_id,
            amount=self._money(s.amount),
            duration_days=s.duration_days,
            apr=fmt(s.apr),
            start_time=_ts(s.start_time),
            end_time=_ts(s.end_time),
            status=_STATUS_TO_PB[v.status],
            total_rewards_earned=fmt(s.total_rewards_earned),
            rewards_claimed=fmt(s.rewards_claimed),
            claimable_rewards=fmt(v.claimable_rewards),
            expected_total_rewards=fmt(v.expected_total_rewards),
            last_reward_calculation=_ts(s.last_reward_calculation),
            as_of=_ts(v.as_of),
            created_at=_ts(s.created_at),
        )
        if s.closed_at is not None:
            msg.closed_at.CopyFrom(_ts(s.closed_at))
        if s.penalty is not None:
            msg.penalty = fmt(s.penalty)
        if s.payout is not None:
            msg.payout = fmt(s.payout)
        return msg

    async def GetQuote(self, request: pb.GetQuoteRequest, context: grpc.aio.ServicerContext) -> pb.GetQuoteResponse:
        q = self.service.quote(request.asset_id, request.amount, request.duration_days)
        await self._check_asset(request.asset_id)
        return pb.GetQuoteResponse(
            asset_id=request.asset_id.strip(),
            amount=self._money(q.amount),
            duration_days=q.duration_days,
            apr=fmt(q.apr),
            apr_components=_components(q.components),
            expected_rewards=fmt(q.expected_rewards),
            early_unstake_penalty_rate=fmt(domain.EARLY_UNSTAKE_PENALTY_RATE),
            start_time=_ts(q.start_time),
            end_time=_ts(q.end_time),
            allowed_durations=list(domain.ALLOWED_DURATIONS),
        )

    async def OpenStake(self, request: pb.OpenStakeRequest, context: grpc.aio.ServicerContext) -> pb.OpenStakeResponse:
        self.service.validate_open(
            request.user_id, request.asset_id, request.amount, request.duration_days, request.idempotency_key
        )
        await self._check_asset(request.asset_id)
        r = await run_db(
            self.service.open,
            request.user_id,
            request.asset_id,
            request.amount,
            request.duration_days,
            request.idempotency_key,
        )
        return pb.OpenStakeResponse(
            stake=self._stake(r.view), apr_components=_components(r.components), replayed=r.replayed
        )

    async def GetStake(self, request: pb.GetStakeRequest, context: grpc.aio.ServicerContext) -> pb.GetStakeResponse:
        v = await run_db(self.service.get, request.stake_id, request.user_id)
        return pb.GetStakeResponse(stake=self._stake(v))

    async def ListStakes(
        self, request: pb.ListStakesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStakesResponse:
        status = None
        if request.status:
            if request.status not in _STATUS_FROM_PB:
                raise InvalidArgument("status is not a known stake status", field="status")
            status = _STATUS_FROM_PB[request.status]
        views, total, page, per_page = await run_db(
            self.service.list,
            user_id=request.user_id,
            status=status,
            asset_id=request.asset_id,
            page=request.page.page,
            per_page=request.page.per_page,
        )
        return pb.ListStakesResponse(
            stakes=[self._stake(v) for v in views],
            page_info=common_pb2.PageInfo(page=page, per_page=per_page, total=total),
        )

    async def ClaimRewards(
        self, request: pb.ClaimRewardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClaimRewardsResponse:
        r = await run_db(self.service.claim, request.stake_id, request.user_id, request.idempotency_key)
        return pb.ClaimRewardsResponse(stake=self._stake(r.view), claimed=fmt(r.claimed), replayed=r.replayed)

    async def Unstake(self, request: pb.UnstakeRequest, context: grpc.aio.ServicerContext) -> pb.UnstakeResponse:
        r = await run_db(self.service.unstake, request.stake_id, request.user_id, request.idempotency_key)
        return pb.UnstakeResponse(
            stake=self._stake(r.view),
            early=r.early,
            principal_returned=fmt(r.principal_returned),
            rewards_paid=fmt(r.rewards_paid),
            rewards_forfeited=fmt(r.rewards_forfeited),
            penalty=fmt(r.penalty),
            payout=fmt(r.payout),
            replayed=r.replayed,
        )
