"""Development-only routes: POST /api/v1/dev/faucet funds a wallet on the embedded chain,
so a new user (or a test's throwaway wallet) can pay for a purchase from its own funds;
POST /api/v1/dev/vault/fund adds to the StakingVault's reward pool from the platform signer.

Mounted only when IPHERON_ENV is not production (in production the route does not exist);
the chain service refuses as well unless its chain is the embedded one and it runs in
development or test. Amounts are ETH decimal strings, sent to the chain as exact wei."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron_libs import wire
from ipheron_libs.errors import InvalidArgument
from pydantic import BaseModel, ConfigDict, Field

from ipheron_gateway.deps import OptionalIdempotencyKey, Stubs
from ipheron_gateway.problems import UPSTREAM, Problem, problem_responses
from ipheron_gateway.routers.staking import VaultOut, vault_out

router = APIRouter(prefix="/dev", tags=["dev"])


class FaucetIn(BaseModel):
    model_config = ConfigDict(extra="forbid", title="FaucetRequest")

    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="0x-prefixed wallet address")
    amount: str = Field(min_length=1, max_length=40, examples=["10"],
                        description='ETH as a decimal string, more than 0 and at most "100"')


class FaucetOut(BaseModel):
    model_config = ConfigDict(title="FaucetResult")

    address: str
    tx_hash: str
    amount_wei: str
    balance_wei: str = Field(description="the wallet's native balance after the transfer")


@router.post("/faucet", response_model=FaucetOut, responses=problem_responses(400, 403, 413, 422, *UPSTREAM),
             summary="Development only: fund a wallet on the embedded chain")
async def faucet(body: FaucetIn, stubs: Stubs) -> dict[str, Any]:
    try:
        wei = wire.to_wei(wire.parse_money(body.amount, "amount"))
    except InvalidArgument as exc:
        raise Problem(422, exc.message, title="Unprocessable Content",
                      errors=[{"field": "amount", "message": exc.message}]) from None
    r = await stubs.chain.Faucet(pb.FaucetRequest(address=body.address, amount_wei=wire.wei_str(wei)))
    return {"address": body.address, "tx_hash": r.transaction.tx_hash, "amount_wei": wire.wei_str(wei),
            "balance_wei": r.balance_wei}


# What the signer keeps back for the fund() call's gas (far more than it costs).
FUND_GAS_RESERVE_WEI = 10**16


class VaultFundIn(BaseModel):
    model_config = ConfigDict(extra="forbid", title="VaultFundRequest")

    amount: str = Field(min_length=1, max_length=40, examples=["100"],
                        description="ETH as a decimal string, more than 0, added to the vault's reward pool")


class VaultFundTx(BaseModel):
    model_config = ConfigDict(title="VaultFundTransaction")

    tx_hash: str
    status: str
    block_number: int | None
    amount_wei: str


class VaultFundOut(BaseModel):
    model_config = ConfigDict(title="VaultFundResult")

    transaction: VaultFundTx
    vault: VaultOut


@router.post("/vault/fund", response_model=VaultFundOut,
             responses=problem_responses(400, 403, 409, 413, 422, *UPSTREAM),
             summary="Development only: add to the StakingVault's reward pool from the platform signer "
                     "(Idempotency-Key optional: the same key funds once)")
async def fund_vault(body: VaultFundIn, stubs: Stubs, key: OptionalIdempotencyKey) -> dict[str, Any]:
    try:
        wei = wire.to_wei(wire.parse_money(body.amount, "amount"))
    except InvalidArgument as exc:
        raise Problem(422, exc.message, title="Unprocessable Content",
                      errors=[{"field": "amount", "message": exc.message}]) from None
    # The chain reports a signer that cannot pay as unavailable: refuse it here, naming the balance.
    signer = int((await stubs.chain.GetNetworkStatus(pb.GetNetworkStatusRequest())).signer_balance_wei or 0)
    if wei + FUND_GAS_RESERVE_WEI > signer:
        raise Problem(409, f"the platform signer holds {wire.money_str(wire.from_wei(signer))} ETH; it cannot add "
                           f"{wire.money_str(wire.from_wei(wei))} ETH to the pool (and pay the gas); nothing was sent",
                      signer_balance_wei=wire.wei_str(signer))
    r = await stubs.chain.FundVault(pb.FundVaultRequest(amount_wei=wire.wei_str(wei),
                                                        idempotency_key=key or f"dev-fund-{uuid.uuid4()}"))
    t = r.transaction
    return {"transaction": {"tx_hash": t.tx_hash, "status": pb.TransactionStatus.Name(t.status).removeprefix(
        "TRANSACTION_STATUS_").lower(), "block_number": t.block_number or None, "amount_wei": wire.wei_str(wei)},
            "vault": vault_out(r.vault)}
