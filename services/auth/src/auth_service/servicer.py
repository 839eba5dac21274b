"""AuthService gRPC servicer: protobuf <-> domain records, nothing else."""

from __future__ import annotations

import json

import grpc
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2_grpc
from ipheron.common.v1 import common_pb2
from ipheron_libs.wire import money_fixed, to_timestamp

from auth_service.domain import AMOUNT_PLACES, IssuedTokens, ProfileEdit, User
from auth_service.service import AuthService


def user_to_pb(user: User) -> pb.User:
    return pb.User(
        id=user.id, wallet_address=user.wallet_address, username=user.username, email=user.email or "",
        reputation_score=user.reputation_score, region=user.region, skills=user.skills, bio=user.bio,
        verified=user.verified, total_sales=money_fixed(user.total_sales, AMOUNT_PLACES),
        total_assets_created=user.total_assets_created,
        created_at=to_timestamp(user.created_at), updated_at=to_timestamp(user.updated_at),
    )


def tokens_to_pb(tokens: IssuedTokens) -> pb.TokenPair:
    return pb.TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token, token_type="Bearer",
                        expires_in=tokens.expires_in, refresh_expires_at=to_timestamp(tokens.refresh_expires_at))


def profile_edit_of(request: pb.UpdateProfileRequest) -> ProfileEdit:
    """The fields the request names (proto3 optional); the others stay unchanged."""
    def opt(name: str) -> str | None:
        return str(getattr(request, name)) if request.HasField(name) else None

    return ProfileEdit(username=opt("username"), email=opt("email"), region=opt("region"), bio=opt("bio"),
                       skills=tuple(request.skills.values) if request.HasField("skills") else None)


class AuthServicer(auth_service_pb2_grpc.AuthServiceServicer):
    """Thin adapter; every rule lives in `domain`, every use case in `AuthService`."""

    def __init__(self, service: AuthService) -> None:
        self.service = service

    async def CreateNonce(self, request: pb.CreateNonceRequest,
                          context: grpc.aio.ServicerContext) -> pb.CreateNonceResponse:
        ch = await self.service.create_nonce(request.address)
        m = ch.message
        return pb.CreateNonceResponse(
            nonce=ch.nonce, domain=m.domain, uri=m.uri, chain_id=m.chain_id, version=m.version,
            statement=m.statement or "", issued_at=m.issued_at, expiration_time=m.expiration_time or "",
            message=ch.text, address=ch.address,
        )

    async def Login(self, request: pb.LoginRequest, context: grpc.aio.ServicerContext) -> pb.LoginResponse:
        issued, user, created = await self.service.login(request.message, request.signature)
        return pb.LoginResponse(tokens=tokens_to_pb(issued), user=user_to_pb(user), created=created)

    async def Refresh(self, request: pb.RefreshRequest, context: grpc.aio.ServicerContext) -> pb.RefreshResponse:
        return pb.RefreshResponse(tokens=tokens_to_pb(await self.service.refresh(request.refresh_token)))

    async def Logout(self, request: pb.LogoutRequest, context: grpc.aio.ServicerContext) -> pb.LogoutResponse:
        await self.service.logout(request.refresh_token)
        return pb.LogoutResponse()

    async def GetJwks(self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext) -> pb.GetJwksResponse:
        s = self.service.settings
        return pb.GetJwksResponse(jwks_json=json.dumps(self.service.jwks(), separators=(",", ":")),
                                  issuer=s.jwt_issuer, audience=s.jwt_audience)

    async def GetUser(self, request: pb.GetUserRequest, context: grpc.aio.ServicerContext) -> pb.GetUserResponse:
        return pb.GetUserResponse(user=user_to_pb(await self.service.get_user(request.id)))

    async def GetUserByWallet(self, request: pb.GetUserByWalletRequest,
                              context: grpc.aio.ServicerContext) -> pb.GetUserByWalletResponse:
        user = await self.service.get_user_by_wallet(request.wallet_address)
        return pb.GetUserByWalletResponse(user=user_to_pb(user))

    async def ListUsers(self, request: pb.ListUsersRequest, context: grpc.aio.ServicerContext) -> pb.ListUsersResponse:
        found = await self.service.list_users(request.skill, request.region, request.page.page, request.page.per_page)
        return pb.ListUsersResponse(users=[user_to_pb(u) for u in found.users],
                                    page=common_pb2.PageInfo(page=found.page.page, per_page=found.page.per_page,
                                                             total=found.total))

    async def UpdateProfile(self, request: pb.UpdateProfileRequest,
                            context: grpc.aio.ServicerContext) -> pb.UpdateProfileResponse:
        user = await self.service.update_profile(request.user_id, profile_edit_of(request))
        return pb.UpdateProfileResponse(user=user_to_pb(user))

    async def RecordSale(self, request: pb.RecordSaleRequest,
                         context: grpc.aio.ServicerContext) -> pb.RecordSaleResponse:
        user, applied = await self.service.record_sale(request.user_id, request.amount, request.operation_id)
        return pb.RecordSaleResponse(user=user_to_pb(user), applied=applied)

    async def IncrementAssetsCreated(self, request: pb.IncrementAssetsCreatedRequest,
                                     context: grpc.aio.ServicerContext) -> pb.IncrementAssetsCreatedResponse:
        user, applied = await self.service.increment_assets_created(request.user_id, request.operation_id)
        return pb.IncrementAssetsCreatedResponse(user=user_to_pb(user), applied=applied)
