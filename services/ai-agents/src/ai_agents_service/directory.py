"""Clients of other services: creators from auth (ListUsers/GetUser) and market
history from analytics (GetMarketHistory). Every call carries a deadline."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc
from ipheron.analytics.v1 import analytics_service_pb2 as analytics_pb
from ipheron.analytics.v1 import analytics_service_pb2_grpc as analytics_grpc
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ipheron.common.v1 import common_pb2
from ipheron_libs.errors import NotFound, Unavailable
from ipheron_libs.grpc_client import channel

from ai_agents_service.collaboration import Profile

log = logging.getLogger(__name__)

MAX_PAGES = 5
PER_PAGE = 100


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
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(f"user {user_id} not found", field="user_id") from None
            raise Unavailable(f"auth service: {exc.code().name}") from None
        return profile_of(resp.user)

    async def candidates(self, skills: list[str]) -> list[Profile]:
        """Users with any of the skills (or anyone when none), at most MAX_PAGES pages per skill."""
        out: dict[str, Profile] = {}
        for skill in skills or [""]:
            for page in range(1, MAX_PAGES + 1):
                try:
                    resp = await self.stub.ListUsers(auth_pb.ListUsersRequest(
                        skill=skill, page=common_pb2.PageRequest(page=page, per_page=PER_PAGE)), timeout=self.timeout)
                except grpc.aio.AioRpcError as exc:
                    raise Unavailable(f"auth service: {exc.code().name}") from None
                for user in resp.users:
                    out.setdefault(user.id, profile_of(user))
                if page * PER_PAGE >= resp.page.total or not resp.users:
                    break
        return list(out.values())

    async def close(self) -> None:
        await self.channel.close()


class AnalyticsHistory:
    """Daily market history per asset type from the analytics service."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr)
        self.stub = analytics_grpc.AnalyticsServiceStub(self.channel)
        self.timeout = timeout

    async def rows(self, days: int) -> list[dict[str, Any]]:
        """History rows; empty when analytics has none yet. Raises grpc errors to the caller."""
        resp = await self.stub.GetMarketHistory(analytics_pb.GetMarketHistoryRequest(days=days), timeout=self.timeout)
        rows = []
        for series in resp.series:
            if series.asset_type in ("", "all"):
                continue
            for p in series.points:
                rows.append({"date": p.date, "asset_type": series.asset_type, "sales": p.sales,
                             "volume": p.volume or "0", "avg_price": p.avg_price or "0"})
        return rows

    async def close(self) -> None:
        await self.channel.close()
