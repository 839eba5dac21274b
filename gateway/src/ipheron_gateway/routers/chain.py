"""Chain routes: /api/v1/chain/status, /chain/tx/{hash}, /chain/balances/{address} (public
reads of public chain data) and /chain/withdraw (the caller's own marketplace balance).

Withdrawing is non-custodial: by default the route prepares the payee's own `withdraw()`
for the caller's wallet to sign and send (the same Tx object a purchase answers). With
`{"relay": true}` the platform pays the gas instead through `withdrawFor([you])`, which only
ever pays each payee its own balance; the chain service allows that once per wallet per
cooldown (429 with Retry-After otherwise), so nobody can make the platform pay gas in a loop.
A wallet that cannot pay its own withdraw()'s gas gets 402 (the amounts named) instead of a
transaction it cannot send. Without a node of its own (the embedded development chain has no
public JSON-RPC), the wallet hands the signed withdraw() to /chain/withdraw/transaction, which
checks it is the caller's own withdraw() to the marketplace and broadcasts it.

Amounts are wei as decimal strings (plus an exact ETH decimal); never floats."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

import grpc
from eth_utils import function_signature_to_4byte_selector, keccak
from fastapi import APIRouter, Path
from ipheron.assets.v1 import assets_service_pb2 as assets_pb
from ipheron.chain.v1 import chain_service_pb2 as pb
from pydantic import BaseModel, ConfigDict, Field

from ipheron_gateway.deps import CurrentUser, OptionalIdempotencyKey, Stubs
from ipheron_gateway.prepared import Tx, eth, tx_out
from ipheron_gateway.problems import UPSTREAM, Problem, precondition_as, problem_responses
from ipheron_gateway.responses import opt_stamp
from ipheron_gateway.routers.assets import HexTx, _payment_required

router = APIRouter(prefix="/chain", tags=["chain"])

TxHash = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="0x-prefixed transaction hash")]
Address = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="0x-prefixed account address")]

_TYPES = {v.number: v.name.removeprefix("TRANSACTION_TYPE_").lower()
          for v in pb.TransactionType.DESCRIPTOR.values}
_STATUSES = {v.number: v.name.removeprefix("TRANSACTION_STATUS_").lower()
             for v in pb.TransactionStatus.DESCRIPTOR.values}


class NetworkStatusOut(BaseModel):
    chain_id: int
    network: str = Field(description="embedded (in-process EVM) or rpc (a JSON-RPC node)")
    healthy: bool
    latest_block: int
    gas_price_wei: str
    base_fee_wei: str
    token_address: str
    marketplace_address: str
    signer_address: str


class EventOut(BaseModel):
    name: str
    contract_address: str
    args: dict[str, Any]
    log_index: int


class ReceiptOut(BaseModel):
    succeeded: bool
    block_hash: str
    block_number: int
    gas_used: int
    effective_gas_price_wei: str
    confirmations: int
    events: list[EventOut]


class TransactionOut(BaseModel):
    tx_hash: str
    type: str
    status: str
    from_address: str
    to_address: str | None
    asset_id: str | None
    token_id: int | None
    counterparty: str | None
    amount_wei: str
    nonce: int
    gas_used: int | None
    gas_price_wei: str | None
    block_number: int | None
    block_time: str | None
    replaced_by: str | None
    error: str | None
    receipt: ReceiptOut | None


class BalanceOut(BaseModel):
    address: str
    pending_withdrawal_wei: str = Field(description="credited by sales, withdrawable")
    pending_withdrawal_eth: str
    native_balance_wei: str
    native_balance_eth: str


class WithdrawalOut(BaseModel):
    address: str
    amount_wei: str
    succeeded: bool


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    relay: bool = Field(default=False, description="true: the platform sends withdrawFor([you]) and pays the gas "
                                                   "(once per wallet per cooldown); false: answer your own "
                                                   "withdraw() to sign")


class PreparedWithdrawalOut(BaseModel):
    """Your own withdraw() call: sign `transaction` and send it (eth_sendRawTransaction)."""

    relayed: Literal[False] = False
    transaction: Tx
    pending_withdrawal: str = Field(description="ETH decimal")
    pending_withdrawal_wei: str


class WithdrawTransactionIn(BaseModel):
    """Your signed withdraw() (the transaction POST /chain/withdraw answered, signed by your wallet)."""

    model_config = ConfigDict(extra="forbid")
    raw_transaction: HexTx


class SubmittedWithdrawalOut(BaseModel):
    """Your withdraw() as broadcast: poll GET /chain/tx/{tx_hash} until confirmed."""

    tx_hash: str
    transaction: TransactionOut


class RelayedWithdrawalOut(BaseModel):
    """The platform's withdrawFor([you]) transaction and what it paid you."""

    relayed: Literal[True] = True
    transaction: TransactionOut
    results: list[WithdrawalOut]


def transaction_out(t: pb.Transaction) -> dict[str, Any]:
    """Wire transaction -> JSON (empty strings and zeros of unset fields become null)."""
    receipt = None
    if t.HasField("receipt"):
        r = t.receipt
        receipt = {"succeeded": r.succeeded, "block_hash": r.block_hash, "block_number": r.block_number,
                   "gas_used": r.gas_used, "effective_gas_price_wei": r.effective_gas_price_wei,
                   "confirmations": r.confirmations,
                   "events": [{"name": e.name, "contract_address": e.contract_address,
                               "args": json.loads(e.args_json or "{}"), "log_index": e.log_index}
                              for e in r.events]}
    mined = t.block_number > 0
    return {
        "tx_hash": t.tx_hash, "type": _TYPES.get(t.type, "unspecified"),
        "status": _STATUSES.get(t.status, "unspecified"),
        "from_address": t.from_address, "to_address": t.to_address or None, "asset_id": t.asset_id or None,
        "token_id": t.token_id or None, "counterparty": t.counterparty or None, "amount_wei": t.amount_wei,
        "nonce": t.nonce, "gas_used": t.gas_used if mined else None,
        "gas_price_wei": t.gas_price_wei if mined else None,
        "block_number": t.block_number if mined else None,
        "block_time": opt_stamp(t, "block_time"),
        "replaced_by": t.replaced_by or None, "error": t.error or None, "receipt": receipt,
    }


@router.get("/status", response_model=NetworkStatusOut, responses=problem_responses(*UPSTREAM),
            summary="Chain id, latest block, gas price, contracts")
async def status(stubs: Stubs) -> dict[str, Any]:
    s = await stubs.chain.GetNetworkStatus(pb.GetNetworkStatusRequest())
    return {"chain_id": s.chain_id, "network": s.network, "healthy": s.healthy, "latest_block": s.latest_block,
            "gas_price_wei": s.gas_price_wei, "base_fee_wei": s.base_fee_wei, "token_address": s.token_address,
            "marketplace_address": s.marketplace_address, "signer_address": s.signer_address}


@router.get("/tx/{tx_hash}", response_model=TransactionOut, responses=problem_responses(400, 404, 422, *UPSTREAM),
            summary="A platform transaction with its receipt")
async def transaction(tx_hash: TxHash, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.chain.GetTransaction(pb.GetTransactionRequest(tx_hash=tx_hash))
    return transaction_out(r.transaction)


@router.get("/balances/{address}", response_model=BalanceOut, responses=problem_responses(400, 422, *UPSTREAM),
            summary="Withdrawable and native balance")
async def balance(address: Address, stubs: Stubs) -> dict[str, Any]:
    r = await stubs.chain.GetBalance(pb.GetBalanceRequest(address=address))
    return {"address": r.address, "pending_withdrawal_wei": r.pending_withdrawal_wei,
            "pending_withdrawal_eth": r.pending_withdrawal.amount, "native_balance_wei": r.native_balance_wei,
            "native_balance_eth": r.native_balance.amount}


# "retry in 42 s", "42 seconds left", "retry_after=42": the cooldown the chain service names.
_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)|retry[_ -]?after\D{0,3}(\d+(?:\.\d+)?)", re.I)
RETRY_AFTER_METADATA_KEY = "retry-after"


def retry_after_seconds(exc: grpc.aio.AioRpcError) -> int:
    """Seconds left of a RESOURCE_EXHAUSTED cooldown: the `retry-after` trailing metadata, else the
    first number of seconds in the message, else 60; at least 1."""
    metadata = dict(exc.trailing_metadata() or ())
    for text in (str(metadata.get(RETRY_AFTER_METADATA_KEY, "")), exc.details() or ""):
        found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", text) or _SECONDS.search(text)
        if found:
            value = next(g for g in found.groups() if g is not None)
            return max(1, math.ceil(float(value)))
    return 60


async def _relayed(user_wallet: str, user_id: str, idempotency_key: str, stubs: Stubs) -> dict[str, Any]:
    # Without a key a repeated request finds nothing pending (409); with one it returns the first
    # withdrawal. Keys are scoped per user so two users cannot collide.
    key = f"withdraw:{user_id}:{idempotency_key}" if idempotency_key else ""
    try:
        with precondition_as(409):
            r = await stubs.chain.Withdraw(pb.WithdrawRequest(payees=[user_wallet], idempotency_key=key))
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or "message larger than max" in (exc.details() or ""):
            raise
        seconds = retry_after_seconds(exc)
        raise Problem(429, f"the platform relays a withdrawal for your wallet at most once per cooldown; "
                           f"retry in {seconds} s, or send your own withdraw() now", headers={
                               "Retry-After": str(seconds)}, group="withdraw_relay") from None
    return {"relayed": True, "transaction": transaction_out(r.transaction),
            "results": [{"address": x.address, "amount_wei": x.amount_wei, "succeeded": x.succeeded}
                        for x in r.results]}


def _gas_required(prepared: pb.PrepareTransactionResponse) -> Problem:
    """402 with the purchase route's amounts: what the withdraw() needs (gas × maxFeePerGas) and
    what the wallet holds."""
    problem = _payment_required(assets_pb.InsufficientFunds(
        required_wei=prepared.required_wei, available_wei=prepared.balance_wei,
        shortfall_wei=prepared.shortfall_wei))
    problem.detail = (f"your wallet holds {eth(prepared.balance_wei)} ETH; your own withdraw() needs "
                      f"{eth(prepared.required_wei)} ETH for its gas; send {{\"relay\": true}} to have the "
                      "platform pay the gas (withdrawFor, once per cooldown)")
    return problem


@router.post("/withdraw", response_model=PreparedWithdrawalOut | RelayedWithdrawalOut,
             responses=problem_responses(400, 401, 402, 409, 413, 422, *UPSTREAM),
             summary="Withdraw your pending marketplace balance to your own wallet: answers your withdraw() "
                     "transaction to sign; 402 when your wallet cannot pay its gas; {\"relay\": true} has the "
                     "platform pay the gas instead (once per cooldown, else 429 with Retry-After); 409 when "
                     "nothing is pending")
async def withdraw(user: CurrentUser, stubs: Stubs, idempotency_key: OptionalIdempotencyKey,
                   body: WithdrawIn | None = None) -> dict[str, Any]:
    if not user.wallet:
        raise Problem(409, "your account has no wallet address to withdraw to")
    if body is not None and body.relay:
        return await _relayed(user.wallet, user.id, idempotency_key, stubs)
    with precondition_as(409):
        r = await stubs.chain.PrepareWithdraw(pb.PrepareWithdrawRequest(payee=user.wallet))
    if not r.prepared.can_pay:
        raise _gas_required(r.prepared)
    return {"relayed": False, "transaction": tx_out(r.prepared.transaction),
            "pending_withdrawal": eth(r.pending_withdrawal_wei), "pending_withdrawal_wei": r.pending_withdrawal_wei}


# The marketplace's own `withdraw()` (no arguments): its 4-byte selector is the whole call data.
WITHDRAW_CALL_DATA = "0x" + function_signature_to_4byte_selector("withdraw()").hex()


async def _known_transaction(raw_transaction: str, stubs: Stubs) -> pb.Transaction | None:
    """The recorded transaction whose hash is this raw transaction's (keccak of its bytes), if any."""
    tx_hash = "0x" + keccak(hexstr=raw_transaction).hex()
    try:
        return (await stubs.chain.GetTransaction(pb.GetTransactionRequest(tx_hash=tx_hash))).transaction
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


@router.post("/withdraw/transaction", response_model=SubmittedWithdrawalOut, status_code=202,
             responses=problem_responses(400, 401, 403, 409, 413, 422, *UPSTREAM),
             summary="Hand in your signed withdraw() (checked to be your own withdraw() to the marketplace, signed "
                     "by your wallet; its nonce, gas and fees are your wallet's), then broadcast; poll "
                     "/chain/tx/{tx_hash} until confirmed; 409 when nothing is pending or the node refuses "
                     "its nonce")
async def submit_withdraw_transaction(body: WithdrawTransactionIn, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    if not user.wallet:
        raise Problem(409, "your account has no wallet address to withdraw to")
    balance = await stubs.chain.GetBalance(pb.GetBalanceRequest(address=user.wallet))
    if int(balance.pending_withdrawal_wei or 0) == 0:
        # Nothing pending: sending withdraw() would only revert (and cost the wallet gas), unless this
        # is the hand-in of a withdraw() already recorded, which answers that transaction again.
        known = await _known_transaction(body.raw_transaction, stubs)
        if (known is None or known.from_address.lower() != user.wallet.lower()
                or known.type != pb.TRANSACTION_TYPE_WITHDRAW):
            raise Problem(409, f"{user.wallet} has nothing to withdraw; nothing was sent")
        return {"tx_hash": known.tx_hash, "transaction": transaction_out(known)}
    network = await stubs.chain.GetNetworkStatus(pb.GetNetworkStatusRequest())
    expected = pb.PreparedTransaction(from_address=user.wallet, to=network.marketplace_address,
                                      data=WITHDRAW_CALL_DATA, value_wei="0", chain_id=network.chain_id)
    with precondition_as(409):
        r = await stubs.chain.SubmitRawTransaction(pb.SubmitRawTransactionRequest(
            raw_transaction=body.raw_transaction, expected=expected, type=pb.TRANSACTION_TYPE_WITHDRAW,
            match_call_only=True))
    return {"tx_hash": r.tx_hash, "transaction": transaction_out(r.transaction)}
