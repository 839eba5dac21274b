"""StakingService gRPC servicer: protobuf <-> domain, nothing else."""

from __future__ import annotations

import json
from decimal import Decimal

import grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.common.v1 import common_pb2
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron.staking.v1 import staking_service_pb2_grpc as pb_grpc
from ipheron_libs import access
from ipheron_libs.errors import InvalidArgument
from ipheron_libs.wire import from_wei, money_str, to_timestamp, wei_str

from staking_service import domain
from staking_service.clients import prepared_pb
from staking_service.domain import ActionKind, ActionOutcome, AprComponent, Funds, SignedQuote, StakeStatus, StakeView
from staking_service.service import StakingService

_STATUS_TO_PB = {
    StakeStatus.PENDING: pb.STAKE_STATUS_PENDING,
    StakeStatus.ACTIVE: pb.STAKE_STATUS_ACTIVE,
    StakeStatus.MATURED: pb.STAKE_STATUS_MATURED,
    StakeStatus.CLOSED: pb.STAKE_STATUS_CLOSED,
    StakeStatus.FAILED: pb.STAKE_STATUS_FAILED,
}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}
_KINDS = {
    pb.STAKE_TRANSACTION_KIND_OPEN: ActionKind.OPEN,
    pb.STAKE_TRANSACTION_KIND_CLAIM: ActionKind.CLAIM,
    pb.STAKE_TRANSACTION_KIND_UNSTAKE: ActionKind.UNSTAKE,
}


def _components(parts: tuple[AprComponent, ...]) -> list[pb.AprComponent]:
    return [pb.AprComponent(rule=p.rule, rate=money_str(p.rate), explanation=p.explanation) for p in parts]


def _eth(wei: int) -> str:
    return money_str(from_wei(wei))


def signed_quote_pb(sq: SignedQuote) -> pb.SignedQuote:
    return pb.SignedQuote(
        quote_json=json.dumps(sq.message), typed_data_json=json.dumps(sq.typed_data), signature=sq.signature,
        quote_hash=sq.quote_hash, amount_wei=wei_str(sq.amount_wei), apr_bps=sq.apr_bps,
        duration_seconds=sq.duration_seconds, expires_at=to_timestamp(sq.expires_at), token_id=sq.token_id,
        reservation_wei=wei_str(sq.reservation_wei), quote_signer=sq.quote_signer, vault_address=sq.vault_address)


def _shortfall(f: Funds) -> pb.FundsShortfall:
    return pb.FundsShortfall(required_wei=wei_str(f.required_wei), available_wei=wei_str(f.available_wei),
                             shortfall_wei=wei_str(f.shortfall_wei))


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
            id=s.id, user_id=s.user_id, asset_id=s.asset_id, amount=self._money(s.amount),
            duration_days=s.duration_days, apr=money_str(s.apr), start_time=to_timestamp(s.start_time),
            end_time=to_timestamp(s.end_time), status=_STATUS_TO_PB[v.status],
            total_rewards_earned=_eth(v.accrued_wei), rewards_claimed=_eth(s.claimed_wei),
            claimable_rewards=_eth(v.claimable_wei), expected_total_rewards=_eth(s.reward_wei),
            last_reward_calculation=to_timestamp(v.as_of), as_of=to_timestamp(v.as_of),
            created_at=to_timestamp(s.created_at), wallet=s.wallet, vault_stake_id=s.vault_stake_id or 0,
            token_id=s.token_id, amount_wei=wei_str(s.amount_wei), apr_bps=s.apr_bps, reward_wei=wei_str(s.reward_wei),
            claimed_wei=wei_str(s.claimed_wei), tx_hash=s.tx_hash, quote_hash=s.quote_hash,
            failure_reason=s.failure_reason, origin=s.origin,
        )
        if s.closed_at is not None:
            msg.closed_at.CopyFrom(to_timestamp(s.closed_at))
        if s.penalty_wei is not None:
            msg.penalty = _eth(s.penalty_wei)
        if s.payout_wei is not None:
            msg.payout = _eth(s.payout_wei)
        if s.status is StakeStatus.PENDING and s.transaction is not None:
            msg.transaction.CopyFrom(prepared_pb(s.transaction))
        if s.status is StakeStatus.PENDING and s.expires_at is not None:
            msg.expires_at.CopyFrom(to_timestamp(s.expires_at))
        return msg

    async def GetQuote(self, request: pb.GetQuoteRequest, context: grpc.aio.ServicerContext) -> pb.GetQuoteResponse:
        q, sq = await self.service.quote(request.asset_id, request.amount, request.duration_days, request.staker)
        resp = pb.GetQuoteResponse(
            asset_id=request.asset_id.strip(), amount=self._money(q.amount), duration_days=q.duration_days,
            apr=money_str(q.apr), apr_components=_components(q.components),
            expected_rewards=money_str(q.expected_rewards),
            early_unstake_penalty_rate=money_str(Decimal(domain.DEFAULT_PENALTY_BPS) / 100),
            start_time=to_timestamp(q.start_time), end_time=to_timestamp(q.end_time),
            allowed_durations=list(domain.ALLOWED_DURATIONS),
        )
        if sq is not None:
            resp.signed_quote.CopyFrom(signed_quote_pb(sq))
        return resp

    async def OpenStake(self, request: pb.OpenStakeRequest, context: grpc.aio.ServicerContext) -> pb.OpenStakeResponse:
        r = await self.service.open(request.user_id, request.asset_id, request.amount, request.duration_days,
                                    request.idempotency_key, request.wallet)
        resp = pb.OpenStakeResponse(apr_components=_components(r.components), replayed=r.replayed)
        if r.view is not None:
            resp.stake.CopyFrom(self._stake(r.view))
        if r.signed_quote is not None:
            resp.signed_quote.CopyFrom(signed_quote_pb(r.signed_quote))
        if r.shortfall is not None:
            resp.insufficient_funds.CopyFrom(_shortfall(r.shortfall))
        if r.pool_capacity is not None:
            resp.pool_capacity.CopyFrom(pb.PoolCapacity(reservation_wei=wei_str(r.pool_capacity[0]),
                                                        pool_free_wei=wei_str(r.pool_capacity[1])))
        return resp

    async def GetStake(self, request: pb.GetStakeRequest, context: grpc.aio.ServicerContext) -> pb.GetStakeResponse:
        if not request.user_id:
            access.check_unscoped_read(context, "stakes")
        v = await self.service.get(request.stake_id, request.user_id, request.wallet)
        return pb.GetStakeResponse(stake=self._stake(v))

    async def ListStakes(self, request: pb.ListStakesRequest,
                         context: grpc.aio.ServicerContext) -> pb.ListStakesResponse:
        if not request.user_id:
            access.check_unscoped_read(context, "stakes")
        status = None
        if request.status:
            if request.status not in _STATUS_FROM_PB:
                raise InvalidArgument("status is not a known stake status", field="status")
            status = _STATUS_FROM_PB[request.status]
        views, total, page, per_page = await self.service.list(
            user_id=request.user_id, wallet=request.wallet, status=status, asset_id=request.asset_id,
            page=request.page.page, per_page=request.page.per_page)
        return pb.ListStakesResponse(stakes=[self._stake(v) for v in views],
                                     page_info=common_pb2.PageInfo(page=page, per_page=per_page, total=total))

    def _tx(self, r: ActionOutcome) -> chain_pb.PreparedTransaction | None:
        return prepared_pb(r.action.transaction) if r.action is not None else None

    async def ClaimRewards(self, request: pb.ClaimRewardsRequest,
                           context: grpc.aio.ServicerContext) -> pb.ClaimRewardsResponse:
        r = await self.service.prepare_action(ActionKind.CLAIM, request.stake_id, request.user_id, request.wallet,
                                              request.idempotency_key)
        payout = r.action.payout_wei if r.action is not None else r.view.claimable_wei
        resp = pb.ClaimRewardsResponse(stake=self._stake(r.view), claimed=_eth(payout), claimed_wei=wei_str(payout),
                                       replayed=r.replayed, transaction=self._tx(r))
        if r.shortfall is not None:
            resp.insufficient_funds.CopyFrom(_shortfall(r.shortfall))
        return resp

    async def Unstake(self, request: pb.UnstakeRequest, context: grpc.aio.ServicerContext) -> pb.UnstakeResponse:
        r = await self.service.prepare_action(ActionKind.UNSTAKE, request.stake_id, request.user_id, request.wallet,
                                              request.idempotency_key)
        resp = pb.UnstakeResponse(stake=self._stake(r.view), replayed=r.replayed, transaction=self._tx(r))
        if r.action is not None:
            a = r.action
            principal = r.principal_wei - a.penalty_wei
            resp.early = a.early
            resp.principal_returned = _eth(principal)
            resp.rewards_paid = _eth(a.payout_wei - principal)
            resp.rewards_forfeited = "0"
            resp.penalty = _eth(a.penalty_wei)
            resp.payout = _eth(a.payout_wei)
            resp.payout_wei = wei_str(a.payout_wei)
            resp.penalty_wei = wei_str(a.penalty_wei)
        if r.shortfall is not None:
            resp.insufficient_funds.CopyFrom(_shortfall(r.shortfall))
        return resp

    async def SubmitStakeTransaction(self, request: pb.SubmitStakeTransactionRequest,
                                     context: grpc.aio.ServicerContext) -> pb.SubmitStakeTransactionResponse:
        kind = _KINDS.get(request.kind)
        if kind is None:
            raise InvalidArgument("kind must be OPEN, CLAIM or UNSTAKE", field="kind")
        view, tx_hash, again = await self.service.submit(request.stake_id, request.user_id, request.wallet, kind,
                                                         raw_transaction=request.raw_transaction,
                                                         tx_hash=request.tx_hash)
        return pb.SubmitStakeTransactionResponse(stake=self._stake(view), tx_hash=tx_hash, already_submitted=again)
