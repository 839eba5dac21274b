"""Staking routes: /api/v1/staking/quote and /api/v1/stakes (open, list, get, claim, unstake).

Amounts are decimal strings in and out (a JSON number is refused, never rounded).
Opening needs an `Idempotency-Key`; claim and unstake accept one. The caller owns
what they open and sees only their own stakes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from ipheron.common.v1 import common_pb2
from ipheron.staking.v1 import staking_service_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from ipheron_gateway.bounds import MAX_ID_LENGTH, Page, PathId, PerPage
from ipheron_gateway.deps import CurrentUser, IdempotencyKey, OptionalIdempotencyKey, Stubs
from ipheron_gateway.problems import UPSTREAM, problem_responses
from ipheron_gateway.responses import opt_stamp, stamp

router = APIRouter(tags=["staking"])

_STATUS_NAME = {pb.STAKE_STATUS_ACTIVE: "active", pb.STAKE_STATUS_MATURED: "matured", pb.STAKE_STATUS_CLOSED: "closed"}
_STATUS_PB = {v: k for k, v in _STATUS_NAME.items()}
Decimal = Annotated[str, Field(description='decimal string, e.g. "100.5"', examples=["100.5"])]
# Stakes last 30, 90, 180 or 365 days (the service names the allowed ones on a 400); a
# value outside 1..3650 is refused here, before it can overflow the contract's int32.
MAX_DURATION_DAYS = 3650
MAX_AMOUNT_LENGTH = 40
DURATION_DESCRIPTION = f"one of 30, 90, 180, 365 (bounded 1..{MAX_DURATION_DAYS})"
AmountIn = Annotated[str, Field(min_length=1, max_length=MAX_AMOUNT_LENGTH, examples=["100.5"],
                                description=f'decimal string > 0, e.g. "100.5", at most {MAX_AMOUNT_LENGTH} '
                                            "characters and 18 decimals")]


class AprComponentOut(BaseModel):
    rule: str
    rate: Decimal
    explanation: str


class QuoteOut(BaseModel):
    asset_id: str
    amount: Decimal
    currency: str
    duration_days: int
    apr: Decimal = Field(description="percent per year")
    apr_components: list[AprComponentOut]
    expected_rewards: Decimal
    early_unstake_penalty_rate: Decimal = Field(description="percent of principal kept on early unstake")
    start_time: str
    end_time: str
    allowed_durations: list[int]


class StakeOut(BaseModel):
    id: str
    user_id: str
    asset_id: str
    amount: Decimal
    currency: str
    duration_days: int
    apr: Decimal
    start_time: str
    end_time: str
    status: Literal["active", "matured", "closed"]
    total_rewards_earned: Decimal
    rewards_claimed: Decimal
    claimable_rewards: Decimal = Field(description="accrued and not yet claimed, as of `as_of`")
    expected_total_rewards: Decimal
    last_reward_calculation: str
    as_of: str
    closed_at: str | None
    penalty: Decimal | None
    payout: Decimal | None
    created_at: str


class OpenStakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    amount: AmountIn
    duration_days: int = Field(ge=1, le=MAX_DURATION_DAYS, description=DURATION_DESCRIPTION)


class OpenStakeOut(BaseModel):
    stake: StakeOut
    apr_components: list[AprComponentOut]
    replayed: bool


class StakePage(BaseModel):
    items: list[StakeOut]
    page: int
    per_page: int
    total: int


class ClaimOut(BaseModel):
    stake: StakeOut
    claimed: Decimal
    replayed: bool


class UnstakeOut(BaseModel):
    stake: StakeOut
    early: bool
    principal_returned: Decimal
    rewards_paid: Decimal
    rewards_forfeited: Decimal
    penalty: Decimal
    payout: Decimal
    replayed: bool


def _components(parts: Any) -> list[dict[str, Any]]:
    return [{"rule": c.rule, "rate": c.rate, "explanation": c.explanation} for c in parts]


def stake_out(s: pb.Stake) -> dict[str, Any]:
    """Wire stake -> JSON."""
    return {
        "id": s.id,
        "user_id": s.user_id,
        "asset_id": s.asset_id,
        "amount": s.amount.amount,
        "currency": s.amount.currency,
        "duration_days": s.duration_days,
        "apr": s.apr,
        "start_time": stamp(s.start_time),
        "end_time": stamp(s.end_time),
        "status": _STATUS_NAME[s.status],
        "total_rewards_earned": s.total_rewards_earned,
        "rewards_claimed": s.rewards_claimed,
        "claimable_rewards": s.claimable_rewards,
        "expected_total_rewards": s.expected_total_rewards,
        "last_reward_calculation": stamp(s.last_reward_calculation),
        "as_of": stamp(s.as_of),
        "closed_at": opt_stamp(s, "closed_at"),
        "penalty": s.penalty or None,
        "payout": s.payout or None,
        "created_at": stamp(s.created_at),
    }


def _replayed(response: Response, replayed: bool) -> None:
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"


@router.get("/staking/quote", response_model=QuoteOut, responses=problem_responses(400, 404, 422, *UPSTREAM),
            summary="APR and expected rewards for a prospective stake")
async def quote(
    stubs: Stubs,
    asset_id: Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)],
    amount: Annotated[str, Query(min_length=1, max_length=MAX_AMOUNT_LENGTH, examples=["100.5"],
                                 description=f"decimal string > 0, at most {MAX_AMOUNT_LENGTH} characters")],
    duration_days: Annotated[int, Query(ge=1, le=MAX_DURATION_DAYS, description=DURATION_DESCRIPTION)],
) -> dict[str, Any]:
    q = await stubs.staking.GetQuote(pb.GetQuoteRequest(asset_id=asset_id, amount=amount, duration_days=duration_days))
    return {
        "asset_id": q.asset_id,
        "amount": q.amount.amount,
        "currency": q.amount.currency,
        "duration_days": q.duration_days,
        "apr": q.apr,
        "apr_components": _components(q.apr_components),
        "expected_rewards": q.expected_rewards,
        "early_unstake_penalty_rate": q.early_unstake_penalty_rate,
        "start_time": stamp(q.start_time),
        "end_time": stamp(q.end_time),
        "allowed_durations": list(q.allowed_durations),
    }


@router.post(
    "/stakes",
    response_model=OpenStakeOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": OpenStakeOut, "description": "A replay of an earlier open with the same key"},
               **problem_responses(400, 401, 404, 409, 413, 422, *UPSTREAM)},
    summary="Open a stake (Idempotency-Key required; a replay answers 200 with the same stake)",
)
async def open_stake(
    body: OpenStakeIn, user: CurrentUser, key: IdempotencyKey, stubs: Stubs, response: Response
) -> dict[str, Any]:
    r = await stubs.staking.OpenStake(
        pb.OpenStakeRequest(
            user_id=user.id,
            asset_id=body.asset_id,
            amount=body.amount,
            duration_days=body.duration_days,
            idempotency_key=key,
        )
    )
    if r.replayed:
        response.status_code = status.HTTP_200_OK
    _replayed(response, r.replayed)
    return {"stake": stake_out(r.stake), "apr_components": _components(r.apr_components), "replayed": r.replayed}


@router.get("/stakes", response_model=StakePage, responses=problem_responses(400, 401, 422, *UPSTREAM),
            summary="Your stakes, newest first")
async def list_stakes(
    user: CurrentUser,
    stubs: Stubs,
    status_: Annotated[Literal["active", "matured", "closed"] | None, Query(alias="status")] = None,
    asset_id: Annotated[str | None, Query(max_length=MAX_ID_LENGTH)] = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> dict[str, Any]:
    r = await stubs.staking.ListStakes(
        pb.ListStakesRequest(
            user_id=user.id,
            status=_STATUS_PB[status_] if status_ else pb.STAKE_STATUS_UNSPECIFIED,
            asset_id=asset_id or "",
            page=common_pb2.PageRequest(page=page, per_page=per_page),
        )
    )
    return {
        "items": [stake_out(s) for s in r.stakes],
        "page": r.page_info.page,
        "per_page": r.page_info.per_page,
        "total": r.page_info.total,
    }


@router.get("/stakes/{stake_id}", response_model=StakeOut,
            responses=problem_responses(401, 403, 404, 422, *UPSTREAM),
            summary="One of your stakes with rewards accrued now")
async def get_stake(stake_id: PathId, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.staking.GetStake(pb.GetStakeRequest(stake_id=stake_id, user_id=user.id))
    return stake_out(r.stake)


@router.post("/stakes/{stake_id}/claim", response_model=ClaimOut,
             responses=problem_responses(400, 401, 403, 404, 409, 422, *UPSTREAM),
             summary="Claim accrued rewards (owner only)")
async def claim(
    stake_id: PathId, user: CurrentUser, stubs: Stubs, response: Response, key: OptionalIdempotencyKey
) -> dict[str, Any]:
    r = await stubs.staking.ClaimRewards(
        pb.ClaimRewardsRequest(stake_id=stake_id, user_id=user.id, idempotency_key=key)
    )
    _replayed(response, r.replayed)
    return {"stake": stake_out(r.stake), "claimed": r.claimed, "replayed": r.replayed}


@router.post(
    "/stakes/{stake_id}/unstake",
    response_model=UnstakeOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422, *UPSTREAM),
    summary="Close a stake: after maturity principal + rewards; before it, principal less the penalty",
)
async def unstake(
    stake_id: PathId, user: CurrentUser, stubs: Stubs, response: Response, key: OptionalIdempotencyKey
) -> dict[str, Any]:
    r = await stubs.staking.Unstake(pb.UnstakeRequest(stake_id=stake_id, user_id=user.id, idempotency_key=key))
    _replayed(response, r.replayed)
    return {
        "stake": stake_out(r.stake),
        "early": r.early,
        "principal_returned": r.principal_returned,
        "rewards_paid": r.rewards_paid,
        "rewards_forfeited": r.rewards_forfeited,
        "penalty": r.penalty,
        "payout": r.payout,
        "replayed": r.replayed,
    }
