"""Outbound calls of the ai-agents service, typed and each with a deadline: creators
from auth (GetUser/ListUsers), market history and recorded sales from analytics
(GetMarketHistory, ListSales) and, for the synthetic market's seeding, RecordSales. A failed call is read once, by
`ipheron_libs.wire.classify_rpc_error`: a refusal keeps its status, a passing
condition (unavailable, slow, busy) is `Unavailable` to our callers."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation

import grpc
from ipheron.analytics.v1 import analytics_service_pb2 as analytics_pb
from ipheron.analytics.v1 import analytics_service_pb2_grpc as analytics_grpc
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ipheron.common.v1 import common_pb2
from ipheron_libs.errors import DomainError, NotFound, Unavailable
from ipheron_libs.grpc_client import channel
from ipheron_libs.wire import Transient, classify_rpc_error, to_timestamp

from ai_agents_service import synthetic
from ai_agents_service.collaboration import Profile
from ai_agents_service.domain import HistoryPoint

log = logging.getLogger(__name__)

MAX_PAGES = 5
PER_PAGE = 100
SALES_PAGE = 1000


def call_failure(exc: grpc.aio.AioRpcError, service: str) -> DomainError:
    """The error our caller gets for a failed call to `service`."""
    failure = classify_rpc_error(exc, service)
    if isinstance(failure, Transient):
        return Unavailable(f"{service} service: {failure.code.name}")
    return failure


def _sales(value: str) -> Decimal:
    try:
        return Decimal(value) if value else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def profile_of(user: auth_pb.User) -> Profile:
    return Profile(user.id, user.username, user.region, tuple(user.skills), user.reputation_score,
                   _sales(user.total_sales), user.wallet_address)


class Directory:
    """Creators from the auth service."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr)
        self.stub = auth_grpc.AuthServiceStub(self.channel)
        self.timeout = timeout

    async def user(self, user_id: str) -> Profile:
        try:
            resp = await self.stub.GetUser(auth_pb.GetUserRequest(id=user_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            failure = call_failure(exc, "auth")
            if isinstance(failure, NotFound):
                raise NotFound(f"user {user_id} not found", field="user_id") from None
            raise failure from None
        return profile_of(resp.user)

    async def candidates(self, skills: list[str]) -> list[Profile]:
        """Users with any of the skills (or anyone when none), at most MAX_PAGES pages per skill."""
        out: dict[str, Profile] = {}
        for skill in skills or [""]:
            for page in range(1, MAX_PAGES + 1):
                request = auth_pb.ListUsersRequest(skill=skill, page=common_pb2.PageRequest(page=page,
                                                                                           per_page=PER_PAGE))
                try:
                    resp = await self.stub.ListUsers(request, timeout=self.timeout)
                except grpc.aio.AioRpcError as exc:
                    raise call_failure(exc, "auth") from None
                for user in resp.users:
                    out.setdefault(user.id, profile_of(user))
                if page * PER_PAGE >= resp.page.total or not resp.users:
                    break
        return list(out.values())

    async def close(self) -> None:
        await self.channel.close()


class AnalyticsClient:
    """Daily market history per asset type from the analytics service, and recording sales there."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr)
        self.stub = analytics_grpc.AnalyticsServiceStub(self.channel)
        self.timeout = timeout

    async def history(self, days: int) -> list[HistoryPoint]:
        """History points per asset type; empty when analytics has none yet."""
        try:
            resp = await self.stub.GetMarketHistory(analytics_pb.GetMarketHistoryRequest(days=days),
                                                    timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise call_failure(exc, "analytics") from None
        return [HistoryPoint(date=p.date, asset_type=series.asset_type, sales=p.sales, volume=p.volume or "0",
                             avg_price=p.avg_price or "0")
                for series in resp.series if series.asset_type not in ("", "all") for p in series.points]

    async def sales(self, asset_type: str, since: datetime, max_sales: int) -> list[analytics_pb.ListedSale]:
        """The type's recorded sales since `since`, newest first, at most `max_sales` (ListSales pages)."""
        out: list[analytics_pb.ListedSale] = []
        cursor = ""
        while len(out) < max_sales:
            request = analytics_pb.ListSalesRequest(asset_type=asset_type, since=to_timestamp(since),
                                                    limit=min(SALES_PAGE, max_sales - len(out)), cursor=cursor)
            try:
                resp = await self.stub.ListSales(request, timeout=self.timeout)
            except grpc.aio.AioRpcError as exc:
                raise call_failure(exc, "analytics") from None
            out.extend(resp.sales)
            cursor = resp.next_cursor
            if not cursor or not resp.sales:
                break
        return out

    async def record_sales(self, market: synthetic.Market, batch: int = 500) -> int:
        """Record every sale of a synthetic market (RecordSales is idempotent by sale id); returns the new ones."""
        creators = {a.id: a.creator_id for a in market.assets}
        by_wallet = {u.wallet: u.id for u in market.users}
        recorded = 0
        for start in range(0, len(market.sales), batch):
            records = [analytics_pb.SaleRecord(
                sale_id=s.id, asset_id=s.asset_id, asset_type=s.asset_type, price=str(s.price), currency="ETH",
                buyer_id=by_wallet.get(s.buyer_wallet, s.buyer_wallet),
                seller_id=by_wallet.get(s.seller_wallet, s.seller_wallet), occurred_at=to_timestamp(s.at),
                creator_ids=[creators[s.asset_id]]) for s in market.sales[start:start + batch]]
            try:
                resp = await self.stub.RecordSales(analytics_pb.RecordSalesRequest(sales=records),
                                                   timeout=self.timeout)
            except grpc.aio.AioRpcError as exc:
                raise call_failure(exc, "analytics") from None
            recorded += resp.recorded
        return recorded

    async def close(self) -> None:
        await self.channel.close()


async def push_to_analytics(market: synthetic.Market, addr: str, timeout: float = 30.0) -> int:
    """Record a synthetic market's sales in the analytics service at `addr` (`synthetic --analytics`)."""
    client = AnalyticsClient(addr, timeout)
    try:
        return await client.record_sales(market)
    finally:
        await client.close()
