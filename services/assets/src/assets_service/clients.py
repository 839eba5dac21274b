"""Narrow clients of the services the assets service calls: auth, chain, ai-agents.

Each wraps the generated stub with a deadline on every call and returns plain
values, so the saga code reads as steps and tests can start real servers on port 0.
Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, connection
errors) are raised as `Transient`; definitive refusals as `Refused`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import grpc
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as ai_pb
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as ai_grpc
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron_libs.grpc_client import channel

TRANSIENT_CODES = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
)


class Transient(Exception):
    """The call may succeed if retried later (the outcome of a write may be unknown)."""


class Refused(Exception):
    """The callee refused for good; `code` is its gRPC status."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _raise(exc: grpc.aio.AioRpcError, what: str) -> None:
    if exc.code() in TRANSIENT_CODES:
        raise Transient(f"{what}: {exc.code().name} {exc.details()}") from exc
    raise Refused(exc.code(), exc.details() or exc.code().name) from exc


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
    def _user(u: Any) -> UserInfo:
        created = u.created_at.ToDatetime(tzinfo=dt.UTC) if u.HasField("created_at") else None
        return UserInfo(id=u.id, wallet=u.wallet_address.lower(), reputation=u.reputation_score, created_at=created)

    async def get_user(self, user_id: str) -> UserInfo | None:
        try:
            resp = await self.stub.GetUser(auth_pb.GetUserRequest(id=user_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            _raise(exc, "auth GetUser")
        return self._user(resp.user)

    async def get_user_by_wallet(self, wallet: str) -> UserInfo | None:
        try:
            resp = await self.stub.GetUserByWallet(auth_pb.GetUserByWalletRequest(wallet_address=wallet),
                                                   timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            _raise(exc, "auth GetUserByWallet")
        return self._user(resp.user)

    async def increment_assets_created(self, user_id: str, operation_id: str) -> None:
        try:
            await self.stub.IncrementAssetsCreated(
                auth_pb.IncrementAssetsCreatedRequest(user_id=user_id, operation_id=operation_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "auth IncrementAssetsCreated")

    async def record_sale(self, user_id: str, amount: Decimal, operation_id: str) -> None:
        try:
            await self.stub.RecordSale(auth_pb.RecordSaleRequest(
                user_id=user_id, amount=format(amount.normalize(), "f"), operation_id=operation_id),
                timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "auth RecordSale")

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
class TokenState:
    owner: str
    listed: bool
    price_wei: int


@dataclass(frozen=True)
class Bought:
    tx: ChainTx
    payouts: list[tuple[str, int]] = field(default_factory=list)


def _tx(t: Any) -> ChainTx:
    ok = t.status == chain_pb.TRANSACTION_STATUS_CONFIRMED
    return ChainTx(tx_hash=t.tx_hash, block_number=int(t.block_number), succeeded=ok, error=t.error)


class ChainClient:
    """Mint, listing sync and buy through the chain service (the only chain writer)."""

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
            _raise(exc, "chain MintAsset")
        return Minted(token_id=str(resp.token_id), contract_address=resp.contract_address.lower(),
                      tx=_tx(resp.transaction))

    async def token(self, token_id: str) -> TokenState:
        try:
            resp = await self.stub.GetToken(chain_pb.GetTokenRequest(token_id=int(token_id)), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain GetToken")
        listing = resp.listing
        return TokenState(owner=resp.owner_address.lower(), listed=listing.listed,
                          price_wei=int(listing.price_wei or 0))

    async def list_token(self, token_id: str, price_wei: int) -> ChainTx:
        try:
            resp = await self.stub.ListToken(chain_pb.ListTokenRequest(token_id=int(token_id), price_wei=str(price_wei)),
                                             timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain ListToken")
        return _tx(resp.transaction)

    async def unlist_token(self, token_id: str) -> None:
        try:
            await self.stub.UnlistToken(chain_pb.UnlistTokenRequest(token_id=int(token_id)), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain UnlistToken")

    async def buy(self, *, token_id: str, recipient: str, price_wei: int, idempotency_key: str,
                  asset_id: str) -> Bought:
        """Idempotent per key on the chain side: a retry returns the same purchase."""
        try:
            resp = await self.stub.BuyToken(chain_pb.BuyTokenRequest(
                token_id=int(token_id), recipient_address=recipient, price_wei=str(price_wei),
                idempotency_key=idempotency_key, asset_id=asset_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "chain BuyToken")
        return Bought(tx=_tx(resp.transaction), payouts=[(p.address.lower(), int(p.amount_wei)) for p in resp.payouts])

    async def close(self) -> None:
        await self.channel.close()


@dataclass(frozen=True)
class Risk:
    """A risk assessment: score 0..100, whether its level is HIGH, and readable reasons."""

    score: int
    high: bool
    reasons: list[str]


def _risk(a: Any) -> Risk:
    reasons = list(a.flags)
    if a.explanation:
        reasons.append(a.explanation)
    return Risk(score=int(a.score), high=a.level == ai_pb.RISK_LEVEL_HIGH, reasons=reasons)


class RiskClient:
    """The ai-agents risk checks (and price suggestions for the gateway)."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr)
        self.stub = ai_grpc.AiAgentsServiceStub(self.channel)
        self.timeout = timeout

    async def assess_asset(self, features: ai_pb.AssetFeatures) -> Risk:
        try:
            resp = await self.stub.AssessAssetRisk(ai_pb.AssessAssetRiskRequest(asset=features), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "ai-agents AssessAssetRisk")
        return _risk(resp.assessment)

    async def assess_purchase(self, *, asset_id: str, seller: str, buyer: str, price: str,
                              history: list[dict[str, Any]]) -> Risk:
        trades = [ai_pb.Trade(asset_id=asset_id, seller_wallet=h["from_wallet"] or "", buyer_wallet=h["to_wallet"] or "",
                              price=h["price"]) for h in history]
        try:
            resp = await self.stub.AssessPurchaseRisk(ai_pb.AssessPurchaseRiskRequest(
                purchase=ai_pb.Trade(asset_id=asset_id, seller_wallet=seller, buyer_wallet=buyer, price=price),
                history=trades), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            _raise(exc, "ai-agents AssessPurchaseRisk")
        return _risk(resp.assessment)

    async def close(self) -> None:
        await self.channel.close()
