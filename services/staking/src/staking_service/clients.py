"""Outbound calls of the staking service: the assets service (is the asset stakeable, its
token id) and the chain service (the vault, the staker's prepared transactions, hand-ins).

Staking never reads another schema: it asks over gRPC, with a deadline on every call, and
reads a failure once, through `ipheron_libs.wire.classify_rpc_error` (`wire.Transient` for
a call that may succeed later, the callee's typed `DomainError` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import grpc
from ipheron.assets.v1 import assets_service_pb2, assets_service_pb2_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron_libs.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from ipheron_libs.grpc_client import channel
from ipheron_libs.prepared import TxStatus, prepared_of, prepared_pb, tx_status_of
from ipheron_libs.wire import Transient, classify_rpc_error

from staking_service.domain import ActionKind, Funds, PreparedTx, VaultInfo

_STATUS_NAMES = {
    assets_service_pb2.ASSET_STATUS_PENDING: "pending",
    assets_service_pb2.ASSET_STATUS_PENDING_REVIEW: "pending_review",
    assets_service_pb2.ASSET_STATUS_ARCHIVED: "archived",
    assets_service_pb2.ASSET_STATUS_FAILED: "failed",
}

TX_TYPES = {
    ActionKind.OPEN: chain_pb.TRANSACTION_TYPE_STAKE,
    ActionKind.CLAIM: chain_pb.TRANSACTION_TYPE_STAKE_CLAIM,
    ActionKind.UNSTAKE: chain_pb.TRANSACTION_TYPE_UNSTAKE,
}
_ACTIONS = {ActionKind.CLAIM: chain_pb.STAKE_ACTION_CLAIM, ActionKind.UNSTAKE: chain_pb.STAKE_ACTION_UNSTAKE}


def _raise(exc: grpc.aio.AioRpcError, service: str) -> NoReturn:
    raise classify_rpc_error(exc, service) from exc


class AssetsClient:
    """The AssetsService as staking uses it; every call has the `timeout` deadline."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr, default_timeout=timeout)
        self.stub = assets_service_pb2_grpc.AssetsServiceStub(self.channel)
        self.timeout = timeout

    async def require_stakeable(self, asset_id: str) -> int:
        """The asset's token id. InvalidArgument if the asset is unknown, FailedPrecondition if it
        is not active or not minted, Unavailable if the assets service cannot answer now."""
        try:
            resp = await self.stub.GetAsset(assets_service_pb2.GetAssetRequest(asset_id=asset_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            error = classify_rpc_error(exc, "assets")
            if isinstance(error, NotFound | InvalidArgument):
                raise InvalidArgument(f"asset {asset_id} does not exist", field="asset_id") from None
            if isinstance(error, Transient):
                raise Unavailable("the assets service is unavailable; the asset cannot be verified") from exc
            raise error from exc
        status = resp.asset.status
        if status != assets_service_pb2.ASSET_STATUS_ACTIVE:
            name = _STATUS_NAMES.get(status, "not active")
            raise FailedPrecondition(f"asset {asset_id} is {name}; only active assets can be staked on")
        token = (resp.asset.token_id or "").strip()
        if not token.isdigit():
            raise FailedPrecondition(f"asset {asset_id} is not minted yet; stake on it once it has a token")
        return int(token)

    async def close(self) -> None:
        """Close the channel (the service's stop does this)."""
        await self.channel.close()


@dataclass(frozen=True)
class Prepared:
    """A prepared call for the staker's wallet and whether the wallet covers it."""

    tx: PreparedTx
    funds: Funds


@dataclass(frozen=True)
class PreparedStake:
    prepared: Prepared
    quote_hash: str
    reservation_wei: int
    pool_free_wei: int
    pool_can_cover: bool


@dataclass(frozen=True)
class PreparedVaultAction:
    prepared: Prepared
    payout_wei: int
    penalty_wei: int
    early: bool
    claimed_wei: int
    amount_wei: int


def _prepared(p: chain_pb.PrepareTransactionResponse) -> Prepared:
    return Prepared(tx=prepared_of(p.transaction), funds=Funds(
        can_pay=p.can_pay, required_wei=int(p.required_wei or 0), available_wei=int(p.balance_wei or 0),
        shortfall_wei=int(p.shortfall_wei or 0)))


def vault_of(r: chain_pb.GetVaultResponse) -> VaultInfo:
    return VaultInfo(address=r.address, chain_id=int(r.chain_id), domain_name=r.domain_name,
                     domain_version=r.domain_version, quote_signer=r.quote_signer,
                     penalty_bps=int(r.early_exit_penalty_bps), pool_free_wei=int(r.pool_free_wei or 0),
                     pool_reserved_wei=int(r.pool_reserved_wei or 0))


class ChainClient:
    """The vault and the staker's own transactions through the chain service."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr)
        self.stub = chain_grpc.ChainServiceStub(self.channel)
        self.timeout = timeout

    async def vault(self) -> VaultInfo:
        try:
            return vault_of(await self.stub.GetVault(chain_pb.GetVaultRequest(), timeout=self.timeout))
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")

    async def prepare_stake(self, quote_json: str, signature: str, staker: str) -> PreparedStake:
        """`stake(quote, signature)` for the staker's wallet, with the pool's and the wallet's answers."""
        try:
            r = await self.stub.PrepareStake(chain_pb.PrepareStakeRequest(
                quote_json=quote_json, signature=signature, staker=staker), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return PreparedStake(prepared=_prepared(r.prepared), quote_hash=r.quote_hash.lower(),
                             reservation_wei=int(r.reservation_wei or 0), pool_free_wei=int(r.pool_free_wei or 0),
                             pool_can_cover=r.pool_can_cover)

    async def prepare_action(self, vault_stake_id: int, staker: str, kind: ActionKind) -> PreparedVaultAction:
        """The staker's own claim(stakeId) / unstake(stakeId), with what it pays at the head block."""
        try:
            r = await self.stub.PrepareStakeAction(chain_pb.PrepareStakeActionRequest(
                stake_id=vault_stake_id, staker=staker, action=_ACTIONS[kind]), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return PreparedVaultAction(prepared=_prepared(r.prepared), payout_wei=int(r.payout_wei or 0),
                                   penalty_wei=int(r.penalty_wei or 0), early=r.early,
                                   claimed_wei=int(r.stake.claimed_wei or 0), amount_wei=int(r.stake.amount_wei or 0))

    async def submit_raw(self, raw: str, expected: PreparedTx, kind: ActionKind, token_id: int) -> str:
        """Broadcast the staker's signed transaction (the chain checks it is exactly `expected`)."""
        try:
            r = await self.stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
                raw_transaction=raw, expected=prepared_pb(expected), type=TX_TYPES[kind], token_id=token_id),
                timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return r.tx_hash.lower()

    async def track(self, tx_hash: str, expected: PreparedTx, kind: ActionKind, token_id: int) -> str:
        """Record a transaction the staker broadcast itself (checked to be exactly `expected`)."""
        try:
            r = await self.stub.TrackTransaction(chain_pb.TrackTransactionRequest(
                tx_hash=tx_hash, expected=prepared_pb(expected), type=TX_TYPES[kind], token_id=token_id),
                timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return (r.transaction.tx_hash or tx_hash).lower()

    async def transaction(self, tx_hash: str) -> TxStatus:
        """"PENDING", "CONFIRMED", "FAILED" (with the revert reason) or "REPLACED"."""
        try:
            r = await self.stub.GetTransaction(chain_pb.GetTransactionRequest(tx_hash=tx_hash), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        t = r.transaction
        return tx_status_of(t)

    async def asset_of_token(self, token_id: int) -> str:
        """The asset id the token was minted for ("" when the chain does not know it)."""
        try:
            r = await self.stub.GetToken(chain_pb.GetTokenRequest(token_id=token_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return r.asset_id

    async def close(self) -> None:
        await self.channel.close()
