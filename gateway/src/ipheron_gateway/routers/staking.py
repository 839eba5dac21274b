"""Staking routes: /api/v1/staking/quote, /api/v1/staking/vault and /api/v1/stakes (open, hand in,
list, get, claim, unstake).

Stakes live on the StakingVault contract, paid from the staker's own wallet: opening answers
the signed quote and the `stake(quote, signature)` transaction to sign (402 when the wallet
cannot pay amount + gas, 409 `pool-capacity` when the reward pool cannot cover the stake's
reservation; nothing is stored then); the signed transaction (or the hash of one the wallet
broadcast) is handed in at .../transaction and the stake turns active when the vault's event
is recorded. Claims and unstakes are prepared the same way. Amounts are ETH decimal strings
plus exact wei strings (`*_wei`); a JSON number is refused, never rounded. The caller owns
what they open (and what their wallet opened on the vault directly) and sees only that.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.common.v1 import common_pb2
from ipheron.staking.v1 import staking_service_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from ipheron_gateway.bounds import MAX_ID_LENGTH, Page, PathId, PerPage
from ipheron_gateway.deps import CurrentUser, IdempotencyKey, OptionalIdempotencyKey, OptionalUser, Stubs, User
from ipheron_gateway.prepared import Tx, eth, opt_tx_out, tx_out
from ipheron_gateway.problems import PROBLEM_TYPE_BASE, UPSTREAM, Problem, precondition_as, problem_responses
from ipheron_gateway.responses import opt_stamp, stamp
from ipheron_gateway.routers.assets import PaymentIn

router = APIRouter(tags=["staking"])

StakeStatusName = Literal["pending", "active", "matured", "closed", "failed"]
_STATUS_NAME: dict[pb.StakeStatus, StakeStatusName] = {
    pb.STAKE_STATUS_PENDING: "pending", pb.STAKE_STATUS_ACTIVE: "active", pb.STAKE_STATUS_MATURED: "matured",
    pb.STAKE_STATUS_CLOSED: "closed", pb.STAKE_STATUS_FAILED: "failed",
}
_STATUS_PB = {v: k for k, v in _STATUS_NAME.items()}
Decimal = Annotated[str, Field(description='decimal string, e.g. "100.5"', examples=["100.5"])]
Wei = Annotated[str, Field(description="wei as a base-10 integer string", examples=["1500000000000000000"])]
# Stakes last 30, 90, 180 or 365 days (the service names the allowed ones on a 400); a
# value outside 1..3650 is refused here, before it can overflow the contract's int32.
MAX_DURATION_DAYS = 3650
MAX_AMOUNT_LENGTH = 40
DURATION_DESCRIPTION = f"one of 30, 90, 180, 365 (bounded 1..{MAX_DURATION_DAYS})"
AmountIn = Annotated[str, Field(min_length=1, max_length=MAX_AMOUNT_LENGTH, examples=["100.5"],
                                description=f'decimal string > 0, e.g. "100.5", at most {MAX_AMOUNT_LENGTH} '
                                            "characters and 18 decimals")]
POOL_CAPACITY_TYPE = PROBLEM_TYPE_BASE + "pool-capacity"


class AprComponentOut(BaseModel):
    rule: str
    rate: Decimal
    explanation: str


class SignedQuoteOut(BaseModel):
    """A quote the staking service's quote key signed (EIP-712, the vault's domain): the only way
    a stake opens on the vault, its APR fixed on chain."""

    quote: dict[str, str] = Field(description="the EIP-712 StakeQuote message (numbers as decimal strings)")
    typed_data: dict[str, Any] = Field(description="the eth_signTypedData_v4 document")
    signature: str
    quote_hash: str = Field(description="the EIP-712 digest (= StakingVault.hashQuote)")
    amount_wei: Wei
    apr_bps: int
    duration_seconds: int
    expires_at: str = Field(description="the vault refuses the quote after this time")
    token_id: int
    reservation_wei: Wei = Field(description="what stake() reserves from the reward pool (rounded up)")
    quote_signer: str
    vault_address: str


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
    signed_quote: SignedQuoteOut | None = Field(description="signed for the caller's wallet when signed in")


class VaultOut(BaseModel):
    address: str
    chain_id: int
    quote_signer: str
    early_exit_penalty_bps: int
    pool_free_wei: Wei
    pool_reserved_wei: Wei
    total_principal_wei: Wei
    balance_wei: Wei
    pool_free: Decimal
    pool_reserved: Decimal
    total_principal: Decimal
    balance: Decimal
    block_number: int


class StakeOut(BaseModel):
    """A stake: pending (sign and hand in `transaction` before `expires_at`) -> active (the vault
    opened it) -> matured -> closed; pending -> failed (reverted, or the quote lapsed)."""

    id: str
    user_id: str
    asset_id: str
    amount: Decimal
    currency: str
    duration_days: int
    apr: Decimal
    start_time: str
    end_time: str
    status: StakeStatusName
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
    wallet: str = Field(description="the staker's wallet")
    vault_stake_id: int | None = Field(description="the vault's stake id once opened on chain")
    token_id: int | None
    amount_wei: Wei
    apr_bps: int
    reward_wei: Wei = Field(description="the vault's reservation (= the reward at the end)")
    claimed_wei: Wei
    tx_hash: str | None
    expires_at: str | None
    quote_hash: str | None
    failure_reason: str | None
    origin: Literal["api", "chain"] = Field(description='"chain": opened on the vault directly')
    transaction: Tx | None = Field(description="pending only: what the staker's wallet signs and pays")


class OpenStakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    amount: AmountIn
    duration_days: int = Field(ge=1, le=MAX_DURATION_DAYS, description=DURATION_DESCRIPTION)


class OpenStakeOut(BaseModel):
    stake: StakeOut
    apr_components: list[AprComponentOut]
    replayed: bool
    transaction: Tx | None = Field(description="stake(quote, signature) for your wallet to sign and pay")
    expires_at: str | None
    signed_quote: SignedQuoteOut | None


class StakePage(BaseModel):
    items: list[StakeOut]
    page: int
    per_page: int
    total: int


class ClaimOut(BaseModel):
    stake: StakeOut
    claimed: Decimal = Field(description="what the claim pays if mined now")
    claimed_wei: Wei
    replayed: bool
    transaction: Tx = Field(description="claim(stakeId) for your wallet to sign")


class UnstakeOut(BaseModel):
    stake: StakeOut
    early: bool
    principal_returned: Decimal
    rewards_paid: Decimal
    penalty: Decimal
    payout: Decimal
    payout_wei: Wei
    penalty_wei: Wei
    replayed: bool
    transaction: Tx = Field(description="unstake(stakeId) for your wallet to sign")


def _components(parts: Any) -> list[dict[str, Any]]:
    return [{"rule": c.rule, "rate": c.rate, "explanation": c.explanation} for c in parts]


def signed_quote_out(q: pb.SignedQuote) -> dict[str, Any]:
    return {"quote": json.loads(q.quote_json), "typed_data": json.loads(q.typed_data_json), "signature": q.signature,
            "quote_hash": q.quote_hash, "amount_wei": q.amount_wei, "apr_bps": q.apr_bps,
            "duration_seconds": q.duration_seconds, "expires_at": stamp(q.expires_at), "token_id": q.token_id,
            "reservation_wei": q.reservation_wei, "quote_signer": q.quote_signer, "vault_address": q.vault_address}


def vault_out(v: chain_pb.GetVaultResponse) -> dict[str, Any]:
    return {"address": v.address, "chain_id": v.chain_id, "quote_signer": v.quote_signer,
            "early_exit_penalty_bps": v.early_exit_penalty_bps, "pool_free_wei": v.pool_free_wei or "0",
            "pool_reserved_wei": v.pool_reserved_wei or "0", "total_principal_wei": v.total_principal_wei or "0",
            "balance_wei": v.balance_wei or "0", "pool_free": eth(v.pool_free_wei),
            "pool_reserved": eth(v.pool_reserved_wei), "total_principal": eth(v.total_principal_wei),
            "balance": eth(v.balance_wei), "block_number": v.block_number}


def stake_out(s: pb.Stake) -> dict[str, Any]:
    """Wire stake -> JSON."""
    return {
        "id": s.id, "user_id": s.user_id, "asset_id": s.asset_id, "amount": s.amount.amount,
        "currency": s.amount.currency, "duration_days": s.duration_days, "apr": s.apr,
        "start_time": stamp(s.start_time), "end_time": stamp(s.end_time),
        "status": _STATUS_NAME.get(s.status, "failed"),
        "total_rewards_earned": s.total_rewards_earned, "rewards_claimed": s.rewards_claimed,
        "claimable_rewards": s.claimable_rewards, "expected_total_rewards": s.expected_total_rewards,
        "last_reward_calculation": stamp(s.last_reward_calculation), "as_of": stamp(s.as_of),
        "closed_at": opt_stamp(s, "closed_at"), "penalty": s.penalty or None, "payout": s.payout or None,
        "created_at": stamp(s.created_at), "wallet": s.wallet, "vault_stake_id": s.vault_stake_id or None,
        "token_id": s.token_id or None, "amount_wei": s.amount_wei or "0", "apr_bps": s.apr_bps,
        "reward_wei": s.reward_wei or "0", "claimed_wei": s.claimed_wei or "0", "tx_hash": s.tx_hash or None,
        "expires_at": opt_stamp(s, "expires_at"), "quote_hash": s.quote_hash or None,
        "failure_reason": s.failure_reason or None, "origin": s.origin or "api",
        "transaction": opt_tx_out(s, "transaction"),
    }


def _wallet(user: User, action: str) -> str:
    if not user.wallet:
        raise Problem(400, f"your token carries no wallet; sign in with your wallet to {action}")
    return user.wallet.lower()


def _replayed(response: Response, replayed: bool) -> None:
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"


def _payment_required(short: pb.FundsShortfall, what: str) -> Problem:
    required, available = eth(short.required_wei), eth(short.available_wei)
    return Problem(402, f"your wallet holds {available} ETH; {what} needs {required} ETH (the most its gas can "
                        "cost included); nothing was recorded",
                   required_wei=short.required_wei, available_wei=short.available_wei,
                   shortfall_wei=short.shortfall_wei, required=required, available=available,
                   shortfall=eth(short.shortfall_wei))


@router.get("/staking/quote", response_model=QuoteOut, responses=problem_responses(400, 401, 404, 422, *UPSTREAM),
            summary="APR and expected rewards for a prospective stake (signed for your wallet when signed in)")
async def quote(
    stubs: Stubs,
    user: OptionalUser,
    asset_id: Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)],
    amount: Annotated[str, Query(min_length=1, max_length=MAX_AMOUNT_LENGTH, examples=["100.5"],
                                 description=f"decimal string > 0, at most {MAX_AMOUNT_LENGTH} characters")],
    duration_days: Annotated[int, Query(ge=1, le=MAX_DURATION_DAYS, description=DURATION_DESCRIPTION)],
) -> dict[str, Any]:
    staker = (user.wallet or "").lower() if user is not None else ""
    q = await stubs.staking.GetQuote(pb.GetQuoteRequest(asset_id=asset_id, amount=amount, duration_days=duration_days,
                                                        staker=staker))
    return {
        "asset_id": q.asset_id, "amount": q.amount.amount, "currency": q.amount.currency,
        "duration_days": q.duration_days, "apr": q.apr, "apr_components": _components(q.apr_components),
        "expected_rewards": q.expected_rewards, "early_unstake_penalty_rate": q.early_unstake_penalty_rate,
        "start_time": stamp(q.start_time), "end_time": stamp(q.end_time),
        "allowed_durations": list(q.allowed_durations),
        "signed_quote": signed_quote_out(q.signed_quote) if q.HasField("signed_quote") else None,
    }


@router.get("/staking/vault", response_model=VaultOut, responses=problem_responses(*UPSTREAM),
            summary="The StakingVault: its address, quote signer, penalty and reward pool (read from the chain)")
async def vault(stubs: Stubs) -> dict[str, Any]:
    return vault_out(await stubs.chain.GetVault(chain_pb.GetVaultRequest()))


@router.post(
    "/stakes",
    response_model=OpenStakeOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": OpenStakeOut, "description": "A replay of an earlier open with the same key"},
               **problem_responses(400, 401, 402, 404, 409, 413, 422, *UPSTREAM)},
    summary="Open a stake from your own wallet (Idempotency-Key required): answers the signed quote and the "
            "transaction to sign (pending); 402 when your wallet cannot pay; 409 pool-capacity when the reward "
            "pool cannot cover it; a replay answers 200",
)
async def open_stake(
    body: OpenStakeIn, user: CurrentUser, key: IdempotencyKey, stubs: Stubs, response: Response
) -> dict[str, Any]:
    wallet = _wallet(user, "stake")
    with precondition_as(409):
        r = await stubs.staking.OpenStake(pb.OpenStakeRequest(
            user_id=user.id, asset_id=body.asset_id, amount=body.amount, duration_days=body.duration_days,
            idempotency_key=key, wallet=wallet))
    if r.HasField("insufficient_funds"):
        raise _payment_required(r.insufficient_funds, "this stake (its amount plus gas)")
    if r.HasField("pool_capacity"):
        cap = r.pool_capacity
        raise Problem(409, f"the reward pool has {eth(cap.pool_free_wei)} ETH free; this stake would reserve "
                           f"{eth(cap.reservation_wei)} ETH of rewards; nothing was recorded (try a smaller amount "
                           "or a shorter duration)",
                      type_=POOL_CAPACITY_TYPE, title="Pool Capacity", reservation_wei=cap.reservation_wei,
                      pool_free_wei=cap.pool_free_wei, reservation=eth(cap.reservation_wei),
                      pool_free=eth(cap.pool_free_wei))
    if r.replayed:
        response.status_code = status.HTTP_200_OK
    _replayed(response, r.replayed)
    stake = stake_out(r.stake)
    return {"stake": stake, "apr_components": _components(r.apr_components), "replayed": r.replayed,
            "transaction": stake["transaction"], "expires_at": stake["expires_at"],
            "signed_quote": signed_quote_out(r.signed_quote) if r.HasField("signed_quote") else None}


async def _hand_in(stubs: Stubs, user: User, stake_id: str, body: PaymentIn,
                   kind: pb.StakeTransactionKind) -> dict[str, Any]:
    wallet = _wallet(user, "hand in a transaction")
    payment = {"raw_transaction": body.raw_transaction} if body.raw_transaction else {"tx_hash": body.tx_hash}
    with precondition_as(409):
        r = await stubs.staking.SubmitStakeTransaction(pb.SubmitStakeTransactionRequest(
            stake_id=stake_id, user_id=user.id, wallet=wallet, kind=kind, **payment))
    return stake_out(r.stake)


_HAND_IN = problem_responses(400, 401, 403, 404, 409, 413, 422, *UPSTREAM)


@router.post("/stakes/{stake_id}/transaction", response_model=StakeOut, status_code=status.HTTP_202_ACCEPTED,
             responses=_HAND_IN,
             summary="Hand in your stake(): the signed raw transaction (checked to be exactly the prepared call, "
                     "then broadcast) or the hash of one you broadcast; pending until the vault's event, then active")
async def submit_stake_transaction(stake_id: PathId, body: PaymentIn, user: CurrentUser,
                                   stubs: Stubs) -> dict[str, Any]:
    return await _hand_in(stubs, user, stake_id, body, pb.STAKE_TRANSACTION_KIND_OPEN)


@router.get("/stakes", response_model=StakePage, responses=problem_responses(400, 401, 422, *UPSTREAM),
            summary="Your stakes (and those your wallet opened on the vault directly), newest first")
async def list_stakes(
    user: CurrentUser,
    stubs: Stubs,
    status_: Annotated[StakeStatusName | None, Query(alias="status")] = None,
    asset_id: Annotated[str | None, Query(max_length=MAX_ID_LENGTH)] = None,
    page: Page = 1,
    per_page: PerPage = 20,
) -> dict[str, Any]:
    r = await stubs.staking.ListStakes(pb.ListStakesRequest(
        user_id=user.id, wallet=(user.wallet or "").lower(),
        status=_STATUS_PB[status_] if status_ else pb.STAKE_STATUS_UNSPECIFIED, asset_id=asset_id or "",
        page=common_pb2.PageRequest(page=page, per_page=per_page)))
    return {"items": [stake_out(s) for s in r.stakes], "page": r.page_info.page, "per_page": r.page_info.per_page,
            "total": r.page_info.total}


@router.get("/stakes/{stake_id}", response_model=StakeOut,
            responses=problem_responses(401, 403, 404, 422, *UPSTREAM),
            summary="One of your stakes with rewards accrued now")
async def get_stake(stake_id: PathId, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.staking.GetStake(pb.GetStakeRequest(stake_id=stake_id, user_id=user.id,
                                                        wallet=(user.wallet or "").lower()))
    return stake_out(r.stake)


_ACTION = problem_responses(400, 401, 402, 403, 404, 409, 422, *UPSTREAM)


@router.post("/stakes/{stake_id}/claim", response_model=ClaimOut, responses=_ACTION,
             summary="Prepare claim(stakeId) for your wallet: what it pays if mined now (recorded from the vault's "
                     "event); 402 when your wallet cannot pay the gas; 409 when closed or nothing accrued")
async def claim(
    stake_id: PathId, user: CurrentUser, stubs: Stubs, response: Response, key: OptionalIdempotencyKey
) -> dict[str, Any]:
    with precondition_as(409):
        r = await stubs.staking.ClaimRewards(pb.ClaimRewardsRequest(
            stake_id=stake_id, user_id=user.id, idempotency_key=key, wallet=_wallet(user, "claim")))
    if r.HasField("insufficient_funds"):
        raise _payment_required(r.insufficient_funds, "the claim's gas")
    _replayed(response, r.replayed)
    return {"stake": stake_out(r.stake), "claimed": r.claimed, "claimed_wei": r.claimed_wei or "0",
            "replayed": r.replayed, "transaction": tx_out(r.transaction)}


@router.post("/stakes/{stake_id}/claim/transaction", response_model=StakeOut, status_code=status.HTTP_202_ACCEPTED,
             responses=_HAND_IN,
             summary="Hand in your signed claim (raw or its hash); claimed_wei grows when the vault's event arrives")
async def submit_claim_transaction(stake_id: PathId, body: PaymentIn, user: CurrentUser,
                                   stubs: Stubs) -> dict[str, Any]:
    return await _hand_in(stubs, user, stake_id, body, pb.STAKE_TRANSACTION_KIND_CLAIM)


@router.post(
    "/stakes/{stake_id}/unstake",
    response_model=UnstakeOut,
    responses=_ACTION,
    summary="Prepare unstake(stakeId) for your wallet: after the end principal + unclaimed rewards; before it "
            "principal + accrued − claimed − the penalty; 402 when your wallet cannot pay the gas; 409 when closed",
)
async def unstake(
    stake_id: PathId, user: CurrentUser, stubs: Stubs, response: Response, key: OptionalIdempotencyKey
) -> dict[str, Any]:
    with precondition_as(409):
        r = await stubs.staking.Unstake(pb.UnstakeRequest(stake_id=stake_id, user_id=user.id, idempotency_key=key,
                                                          wallet=_wallet(user, "unstake")))
    if r.HasField("insufficient_funds"):
        raise _payment_required(r.insufficient_funds, "the unstake's gas")
    _replayed(response, r.replayed)
    return {"stake": stake_out(r.stake), "early": r.early, "principal_returned": r.principal_returned,
            "rewards_paid": r.rewards_paid, "penalty": r.penalty, "payout": r.payout,
            "payout_wei": r.payout_wei or "0", "penalty_wei": r.penalty_wei or "0", "replayed": r.replayed,
            "transaction": tx_out(r.transaction)}


@router.post("/stakes/{stake_id}/unstake/transaction", response_model=StakeOut, status_code=status.HTTP_202_ACCEPTED,
             responses=_HAND_IN,
             summary="Hand in your signed unstake (raw or its hash); closed when the vault's event arrives")
async def submit_unstake_transaction(stake_id: PathId, body: PaymentIn, user: CurrentUser,
                                     stubs: Stubs) -> dict[str, Any]:
    return await _hand_in(stubs, user, stake_id, body, pb.STAKE_TRANSACTION_KIND_UNSTAKE)
