"""AuthService gRPC servicer: protobuf <-> domain, nothing else."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2_grpc
from ipheron.common.v1 import common_pb2

from auth_service.domain import Authenticator, IssuedTokens
from auth_service.repository import User


def _ts(value: Any) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def user_to_pb(user: User) -> pb.User:
    return pb.User(
        id=user.id, wallet_address=user.wallet_address, username=user.username, email=user.email or "",
        reputation_score=user.reputation_score, region=user.region, skills=user.skills, bio=user.bio,
        verified=user.verified, total_sales=f"{user.total_sales:f}", total_assets_created=user.total_assets_created,
        created_at=_ts(user.created_at), updated_at=_ts(user.updated_at),
    )


def tokens_to_pb(tokens: IssuedTokens) -> pb.TokenPair:
    return pb.TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token, token_type="Bearer",
                        expires_in=tokens.expires_in, refresh_expires_at=_ts(tokens.refresh_expires_at))


class AuthServicer(auth_service_pb2_grpc.AuthServiceServicer):
    """Thin adapter; every rule lives in `Authenticator`."""

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth

    async def CreateNonce(self, request: pb.CreateNonceRequest, context: grpc.aio.ServicerContext) -> pb.CreateNonceResponse:
        ch = await self.auth.create_nonce(request.address)
        m = ch.message
        return pb.CreateNonceResponse(
            nonce=ch.nonce, domain=m.domain, uri=m.uri, chain_id=m.chain_id, version=m.version,
            statement=m.statement or "", issued_at=m.issued_at, expiration_time=m.expiration_time or "",
            message=ch.text, address=ch.address,
        )

    async def Login(self, request: pb.LoginRequest, context: grpc.aio.ServicerContext) -> pb.LoginResponse:
        issued, user, created = await self.auth.login(request.message, request.signature)
        return pb.LoginResponse(tokens=tokens_to_pb(issued), user=user_to_pb(user), created=created)

    async def Refresh(self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext) -> pb.RefreshResponse:
        return pb.RefreshResponse(tokens=tokens_to_pb(await self.auth.refresh(request.refresh_token)))

    async def Logout(self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext) -> pb.LogoutResponse:
        await self.auth.logout(request.refresh_token)
        return pb.LogoutResponse()

    async def GetJwks(self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext) -> pb.GetJwksResponse:
        s = self.auth.settings
        return pb.GetJwksResponse(jwks_json=json.dumps(self.auth.keyring.jwks(), separators=(",", ":")),
                                  issuer=s.jwt_issuer, audience=s.jwt_audience)

    async def GetUser(self, request: pb.GetUserRequest, context: grpc.aio.ServicerContext) -> pb.GetUserResponse:
        return pb.GetUserResponse(user=user_to_pb(await self.auth.get_user(request.id)))

    async def GetUserByWallet(self, request: pb.GetUserByWalletRequest,
                              context: grpc.aio.ServicerContext) -> pb.GetUserByWalletResponse:
        return pb.GetUserByWalletResponse(user=user_to_pb(await self.auth.get_user_by_wallet(request.wallet_address)))

    async def ListUsers(self, request: pb.ListUsersRequest, context: grpc.aio.ServicerContext) -> pb.ListUsersResponse:
        items, total, page, per_page = await self.auth.list_users(request.skill, request.region, request.page.page,
                                                                  request.page.per_page)
        return pb.ListUsersResponse(users=[user_to_pb(u) for u in items],
                                    page=common_pb2.PageInfo(page=page, per_page=per_page, total=total))

    async def UpdateProfile(self, request: pb.UpdateProfileRequest,
                            context: grpc.aio.ServicerContext) -> pb.UpdateProfileResponse:
        changes: dict[str, Any] = {}
        for name in ("username", "email", "region", "bio"):
            if request.HasField(name):
                changes[name] = getattr(request, name)
        if request.HasField("skills"):
            changes["skills"] = list(request.skills.values)
        return pb.UpdateProfileResponse(user=user_to_pb(await self.auth.update_profile(request.user_id, changes)))

    async def RecordSale(self, request: pb.RecordSaleRequest, context: grpc.aio.ServicerContext) -> pb.RecordSaleResponse:
        user, applied = await self.auth.record_sale(request.user_id, request.amount, request.operation_id)
        return pb.RecordSaleResponse(user=user_to_pb(user), applied=applied)

    async def IncrementAssetsCreated(self, request: pb.IncrementAssetsCreatedRequest,
                                     context: grpc.aio.ServicerContext) -> pb.IncrementAssetsCreatedResponse:
        user, applied = await self.auth.increment_assets_created(request.user_id, request.operation_id)
        return pb.IncrementAssetsCreatedResponse(user=user_to_pb(user), applied=applied)
