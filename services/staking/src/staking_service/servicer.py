"""StakingService gRPC servicer: protobuf <-> domain, nothing else."""

from __future__ import annotations

from decimal import Decimal

import grpc
from ipheron.common.v1 import common_pb2
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron.staking.v1 import staking_service_pb2_grpc as pb_grpc
from ipheron_libs.errors import InvalidArgument
from ipheron_libs.wire import money_str, to_timestamp

from staking_service import domain
from staking_service.domain import AprComponent, StakeStatus, StakeView
from staking_service.service import StakingService

_STATUS_TO_PB = {
    StakeStatus.ACTIVE: pb.STAKE_STATUS_ACTIVE,
    StakeStatus.MATURED: pb.STAKE_STATUS_MATURED,
    StakeStatus.CLOSED: pb.STAKE_STATUS_CLOSED,
}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}


def _components(parts: tuple[AprComponent, ...]) -> list[pb.AprComponent]:
    return [pb.AprComponent(rule=p.rule, rate=money_str(p.rate), explanation=p.explanation) for p in parts]


class StakingServicer(pb_grpc.StakingServiceServicer):
    """Translates each RPC to one StakingService use case."""

    def __init__(self, service: StakingService, currency: str) -> None:
        self.service = service
        self.currency = currency

    def _money(self, amount: Decimal) -> common_pb2.Money:
        return common_pb2.Money(amount=money_str(amount), currency=self.currency)

    def _stake(self, v: StakeView) -> pb.Stake:
        s = v.stake
        msg = pb.Stake(
            id=s.id,
            user_id=s.user_id,
            asset_id=s.asset_id,
            amount=self._money(s.amount),
            duration_days=s.duration_days,
            apr=money_str(s.apr),
            start_time=to_timestamp(s.start_time),
            end_time=to_timestamp(s.end_time),
            status=_STATUS_TO_PB[v.status],
            total_rewards_earned=money_str(s.total_rewards_earned),
            rewards_claimed=money_str(s.rewards_claimed),
            claimable_rewards=money_str(v.claimable_rewards),
            expected_total_rewards=money_str(v.expected_total_rewards),
            last_reward_calculation=to_timestamp(s.last_reward_calculation),
            as_of=to_timestamp(v.as_of),
            created_at=to_timestamp(s.created_at),
        )
        if s.closed_at is not None:
            msg.closed_at.CopyFrom(to_timestamp(s.closed_at))
        if s.penalty is not None:
            msg.penalty = money_str(s.penalty)
        if s.payout is not None:
            msg.payout = money_str(s.payout)
        return msg

    async def GetQuote(self, request: pb.GetQuoteRequest, context: grpc.aio.ServicerContext) -> pb.GetQuoteResponse:
        q = await self.service.quote(request.asset_id, request.amount, request.duration_days)
        return pb.GetQuoteResponse(
            asset_id=request.asset_id.strip(),
            amount=self._money(q.amount),
            duration_days=q.duration_days,
            apr=money_str(q.apr),
            apr_components=_components(q.components),
            expected_rewards=money_str(q.expected_rewards),
            early_unstake_penalty_rate=money_str(domain.EARLY_UNSTAKE_PENALTY_RATE),
            start_time=to_timestamp(q.start_time),
            end_time=to_timestamp(q.end_time),
            allowed_durations=list(domain.ALLOWED_DURATIONS),
        )

    async def OpenStake(self, request: pb.OpenStakeRequest, context: grpc.aio.ServicerContext) -> pb.OpenStakeResponse:
        r = await self.service.open(
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
        v = await self.service.get(request.stake_id, request.user_id)
        return pb.GetStakeResponse(stake=self._stake(v))

    async def ListStakes(
        self, request: pb.ListStakesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStakesResponse:
        status = None
        if request.status:
            if request.status not in _STATUS_FROM_PB:
                raise InvalidArgument("status is not a known stake status", field="status")
            status = _STATUS_FROM_PB[request.status]
        views, total, page, per_page = await self.service.list(
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
        r = await self.service.claim(request.stake_id, request.user_id, request.idempotency_key)
        return pb.ClaimRewardsResponse(stake=self._stake(r.view), claimed=money_str(r.claimed), replayed=r.replayed)

    async def Unstake(self, request: pb.UnstakeRequest, context: grpc.aio.ServicerContext) -> pb.UnstakeResponse:
        r = await self.service.unstake(request.stake_id, request.user_id, request.idempotency_key)
        return pb.UnstakeResponse(
            stake=self._stake(r.view),
            early=r.early,
            principal_returned=money_str(r.principal_returned),
            rewards_paid=money_str(r.rewards_paid),
            rewards_forfeited=money_str(r.rewards_forfeited),
            penalty=money_str(r.penalty),
            payout=money_str(r.payout),
            replayed=r.replayed,
        )
