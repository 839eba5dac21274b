"""Narrow clients of the services the assets service calls: auth, chain, ai-agents.

Each wraps the generated stub with a deadline on every call and returns typed
records, so the saga code reads as steps and tests can start real servers on port 0.
A failed call is read once, by `ipheron_libs.wire.classify_rpc_error`: it raises
`wire.Transient` (the call may succeed later: UNAVAILABLE, DEADLINE_EXCEEDED,
RESOURCE_EXHAUSTED, CANCELLED) or the typed `DomainError` carrying the callee's
status (`UpstreamFailure` for a callee bug: INTERNAL, UNKNOWN, ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

import grpc
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as ai_pb
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as ai_grpc
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron_libs import wire
from ipheron_libs.grpc_client import channel
from ipheron_libs.prepared import TxStatus, prepared_of, prepared_pb, tx_status_of

from assets_service.domain import Asset, PreparedTx, ProvenanceEntry, VerifiedOrder

# Lookups that answer "no such user" rather than fail.
_NO_USER = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)


def _raise(exc: grpc.aio.AioRpcError, service: str) -> NoReturn:
    raise wire.classify_rpc_error(exc, service) from exc


@dataclass(frozen=True)
class UserInfo:
    """What the assets service needs of a user."""

    id: str
    wallet: str
    reputation: int
    created_at: dt.datetime | None


class AuthClient:
    """Users (existence, wallet, reputation) and creator counters in the auth service."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr)
        self.stub = auth_grpc.AuthServiceStub(self.channel)
        self.timeout = timeout

    @staticmethod
    def _user(u: auth_pb.User) -> UserInfo:
        created = u.created_at.ToDatetime(tzinfo=dt.UTC) if u.HasField("created_at") else None
        return UserInfo(id=u.id, wallet=u.wallet_address.lower(), reputation=u.reputation_score, created_at=created)

    async def get_user(self, user_id: str) -> UserInfo | None:
        try:
            resp = await self.stub.GetUser(auth_pb.GetUserRequest(id=user_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _NO_USER:
                return None
            _raise(exc, "auth")
        return self._user(resp.user)

    async def get_user_by_wallet(self, wallet: str) -> UserInfo | None:
        try:
            resp = await self.stub.GetUserByWallet(auth_pb.GetUserByWalletRequest(wallet_address=wallet),
                                                   timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _NO_USER:
                return None
            _raise(exc, "auth")
        return self._user(resp.user)

    async def increment_assets_created(self, user_id: str, operation_id: str) -> None:
        try:
            await self.stub.IncrementAssetsCreated(
                auth_pb.IncrementAssetsCreatedRequest(user_id=user_id, operation_id=operation_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "auth")

    async def record_sale(self, user_id: str, amount: Decimal, operation_id: str) -> None:
        try:
            await self.stub.RecordSale(auth_pb.RecordSaleRequest(
                user_id=user_id, amount=wire.money_str(amount), operation_id=operation_id),
                timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "auth")

    async def close(self) -> None:
        await self.channel.close()


@dataclass(frozen=True)
class ChainTx:
    """A confirmed (or failed) chain transaction."""

    tx_hash: str
    block_number: int
    succeeded: bool
    error: str = ""


@dataclass(frozen=True)
class Minted:
    token_id: str
    contract_address: str
    tx: ChainTx


@dataclass(frozen=True)
class Fulfillment:
    """A prepared `fulfill` for the buyer, and whether the buyer's wallet covers it."""

    tx: PreparedTx
    order_hash: str
    balance_wei: int
    required_wei: int
    can_pay: bool
    shortfall_wei: int


def _tx(t: chain_pb.Transaction) -> ChainTx:
    ok = t.status == chain_pb.TRANSACTION_STATUS_CONFIRMED
    return ChainTx(tx_hash=t.tx_hash, block_number=int(t.block_number), succeeded=ok, error=t.error)


class ChainClient:
    """Mint, signed orders and the buyer's own transactions through the chain service."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr)
        self.stub = chain_grpc.ChainServiceStub(self.channel)
        self.timeout = timeout

    async def mint(self, *, asset_id: str, owner: str, token_uri: str, co_creators: list[tuple[str, int]],
                   royalty_bps: int) -> Minted:
        """Idempotent per asset id on the chain side: a retry returns the same token."""
        try:
            resp = await self.stub.MintAsset(chain_pb.MintAssetRequest(
                asset_id=asset_id, owner_address=owner, token_uri=token_uri, royalty_bps=royalty_bps,
                co_creators=[chain_pb.CoCreator(address=a, share_bps=b) for a, b in co_creators]),
                timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return Minted(token_id=str(resp.token_id), contract_address=resp.contract_address.lower(),
                      tx=_tx(resp.transaction))

    async def build_order(self, *, token_id: str, seller: str, price_wei: int, duration_seconds: int) -> str:
        """The EIP-712 document (JSON) the token's owner signs to list it."""
        try:
            resp = await self.stub.BuildOrder(chain_pb.BuildOrderRequest(
                token_id=int(token_id), seller=seller, price_wei=wire.wei_str(price_wei),
                duration_seconds=duration_seconds), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return resp.typed_data_json

    async def verify_order(self, order_json: str, signature: str) -> VerifiedOrder:
        """What the chain says of a signed order: its hash, whether it can be filled now and why not."""
        try:
            resp = await self.stub.VerifyOrder(chain_pb.VerifyOrderRequest(order_json=order_json,
                                                                          signature=signature),
                                               timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return VerifiedOrder(
            order_hash=resp.order_hash.lower(), state=chain_pb.OrderState.Name(resp.state).removeprefix("ORDER_STATE_"),
            reason=resp.reason, owner=resp.owner.lower(), token_id=str(resp.token_id), seller=resp.seller.lower(),
            price_wei=int(resp.price_wei or 0), start_time=wire.from_timestamp(resp.start_time)
            if resp.HasField("start_time") else None,
            end_time=wire.from_timestamp(resp.end_time) if resp.HasField("end_time") else None,
            order_json=resp.order_json)

    async def prepare_fulfill(self, order_json: str, signature: str, buyer: str) -> Fulfillment:
        """`fulfill(order, signature)` prepared for the buyer's own wallet, with whether it can pay."""
        try:
            resp = await self.stub.PrepareFulfill(chain_pb.PrepareFulfillRequest(
                order_json=order_json, signature=signature, buyer=buyer), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        p = resp.prepared
        return Fulfillment(tx=prepared_of(p.transaction), order_hash=resp.order_hash.lower(),
                           balance_wei=int(p.balance_wei or 0), required_wei=int(p.required_wei or 0),
                           can_pay=p.can_pay, shortfall_wei=int(p.shortfall_wei or 0))

    async def prepare_cancel(self, order_jsons: Sequence[str], seller: str) -> PreparedTx:
        """The seller's own `cancel(orders)` transaction."""
        try:
            resp = await self.stub.PrepareCancel(chain_pb.PrepareCancelRequest(order_json=list(order_jsons),
                                                                              seller=seller),
                                                 timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return prepared_of(resp.prepared.transaction)

    async def submit_raw(self, raw: str, expected: PreparedTx, *, asset_id: str, token_id: str) -> str:
        """Broadcast the buyer's signed transaction (the chain checks it is exactly `expected`); its hash."""
        try:
            resp = await self.stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
                raw_transaction=raw, expected=prepared_pb(expected), type=chain_pb.TRANSACTION_TYPE_BUY,
                asset_id=asset_id, token_id=int(token_id or 0)), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return resp.tx_hash.lower()

    async def track(self, tx_hash: str, expected: PreparedTx, *, asset_id: str, token_id: str) -> str:
        """Record a transaction the buyer broadcast (the chain checks it is exactly `expected`)."""
        try:
            resp = await self.stub.TrackTransaction(chain_pb.TrackTransactionRequest(
                tx_hash=tx_hash, expected=prepared_pb(expected), type=chain_pb.TRANSACTION_TYPE_BUY,
                asset_id=asset_id, token_id=int(token_id or 0)), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        return (resp.transaction.tx_hash or tx_hash).lower()

    async def transaction(self, tx_hash: str) -> TxStatus:
        """A transaction's status: "PENDING", "CONFIRMED", "FAILED" (with the revert name) or "REPLACED"."""
        try:
            resp = await self.stub.GetTransaction(chain_pb.GetTransactionRequest(tx_hash=tx_hash),
                                                  timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain")
        t = resp.transaction
        return tx_status_of(t)

    async def close(self) -> None:
        await self.channel.close()


@dataclass(frozen=True)
class Risk:
    """A risk assessment: score 0..100, whether its level is HIGH, and readable reasons."""

    score: int
    high: bool
    reasons: tuple[str, ...]


def _risk(a: ai_pb.RiskAssessment) -> Risk:
    reasons = list(a.flags)
    if a.explanation:
        reasons.append(a.explanation)
    return Risk(score=int(a.score), high=a.level == ai_pb.RISK_LEVEL_HIGH, reasons=tuple(reasons))


class RiskClient:
    """The ai-agents risk checks (and price suggestions for the gateway)."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr)
        self.stub = ai_grpc.AiAgentsServiceStub(self.channel)
        self.timeout = timeout

    async def assess_asset(self, asset: Asset, *, reputation: int, wallet_age_days: int) -> Risk:
        """The risk of registering `asset` by a creator of this reputation and wallet age."""
        features = ai_pb.AssetFeatures(
            asset_id=asset.id, name=asset.name, asset_type=asset.asset_type, region=asset.region,
            utility_features=list(asset.utility_features), co_creators=len(asset.creators),
            creator_reputation=reputation, asking_price=wire.money_str(asset.price), content_hash=asset.ipfs_hash,
            description=asset.description, creator_wallet=asset.owner_wallet, wallet_age_days=wallet_age_days,
            creator_user_id=asset.owner_user_id)
        try:
            resp = await self.stub.AssessAssetRisk(ai_pb.AssessAssetRiskRequest(asset=features), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "ai-agents")
        return _risk(resp.assessment)

    async def assess_purchase(self, *, asset_id: str, seller: str, buyer: str, price: Decimal,
                              history: Sequence[ProvenanceEntry]) -> Risk:
        """The risk of this purchase given the asset's earlier sales."""
        trades = [ai_pb.Trade(asset_id=asset_id, seller_wallet=h.from_wallet or "", buyer_wallet=h.to_wallet or "",
                              price=wire.money_str(h.price or Decimal(0))) for h in history]
        try:
            resp = await self.stub.AssessPurchaseRisk(ai_pb.AssessPurchaseRiskRequest(
                purchase=ai_pb.Trade(asset_id=asset_id, seller_wallet=seller, buyer_wallet=buyer,
                                     price=wire.money_str(price)),
                history=trades), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "ai-agents")
        return _risk(resp.assessment)

    async def close(self) -> None:
        await self.channel.close()
