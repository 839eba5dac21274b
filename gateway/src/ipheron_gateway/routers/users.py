"""User profile routes: /api/v1/users/me (read, edit), /api/v1/users/{id}, /api/v1/users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.common.v1 import common_pb2
from pydantic import BaseModel, ConfigDict, Field

from ipheron_gateway.bounds import Page, PathId, PerPage
from ipheron_gateway.deps import CurrentUser, Stubs
from ipheron_gateway.problems import UPSTREAM, Problem, problem_responses
from ipheron_gateway.responses import fast_json, stamp

router = APIRouter(prefix="/users", tags=["users"])


class UserOut(BaseModel):
    id: str
    wallet_address: str
    username: str
    email: str | None = Field(default=None, description="only in your own profile")
    reputation_score: int
    region: str
    skills: list[str]
    bio: str
    verified: bool
    total_sales: str = Field(description="decimal string")
    total_assets_created: int
    created_at: str
    updated_at: str


class UserPage(BaseModel):
    items: list[UserOut]
    page: int
    per_page: int
    total: int


class ProfileUpdate(BaseModel):
    """Only these fields are client-editable; anything else (reputation, verified, totals) is refused."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(default=None, max_length=80)
    email: str | None = Field(default=None, max_length=120, description="null or empty clears it")
    region: str | None = Field(default=None, max_length=100)
    skills: list[Annotated[str, Field(max_length=50)]] | None = Field(default=None, max_length=30)
    bio: str | None = Field(default=None, max_length=2000)


def user_out(u: pb.User, *, private: bool = False) -> dict[str, Any]:
    """Wire user -> JSON; the email is shown only to its owner."""
    return {"id": u.id, "wallet_address": u.wallet_address, "username": u.username,
            "email": (u.email or None) if private else None, "reputation_score": u.reputation_score,
            "region": u.region, "skills": list(u.skills), "bio": u.bio, "verified": u.verified,
            "total_sales": u.total_sales, "total_assets_created": u.total_assets_created,
            "created_at": stamp(u.created_at), "updated_at": stamp(u.updated_at)}


@router.get("/me", response_model=UserOut, responses=problem_responses(401, 404, *UPSTREAM),
            summary="Your own profile")
async def me(user: CurrentUser, stubs: Stubs) -> Response:
    r = await stubs.auth.GetUser(pb.GetUserRequest(id=user.id))
    return fast_json(user_out(r.user, private=True))


@router.patch("/me", response_model=UserOut, responses=problem_responses(400, 401, 404, 409, 413, 422, *UPSTREAM),
              summary="Edit your profile (username, email, region, skills, bio)")
async def update_me(body: ProfileUpdate, user: CurrentUser, stubs: Stubs) -> dict[str, Any]:
    req = pb.UpdateProfileRequest(user_id=user.id)
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "email":
            req.email = value or ""
        elif value is None:
            raise Problem(422, f"{name} cannot be null", errors=[{"field": name, "message": "cannot be null"}])
        elif name == "skills":
            req.skills.values.extend(value)
        else:
            setattr(req, name, value)
    r = await stubs.auth.UpdateProfile(req)
    return user_out(r.user, private=True)


@router.get("/{user_id}", response_model=UserOut, responses=problem_responses(400, 404, 422, *UPSTREAM),
            summary="A user's public profile")
async def get_user(user_id: PathId, stubs: Stubs) -> Response:
    r = await stubs.auth.GetUser(pb.GetUserRequest(id=user_id))
    return fast_json(user_out(r.user))


@router.get("", response_model=UserPage, responses=problem_responses(400, 422, *UPSTREAM),
            summary="Find users by skill and region")
async def list_users(stubs: Stubs, skill: Annotated[str, Query(max_length=50)] = "",
                     region: Annotated[str, Query(max_length=100)] = "",
                     page: Page = 1, per_page: PerPage = 20) -> dict[str, Any]:
    r = await stubs.auth.ListUsers(pb.ListUsersRequest(
        skill=skill, region=region, page=common_pb2.PageRequest(page=page, per_page=per_page)))
    return {"items": [user_out(u) for u in r.users], "page": r.page.page, "per_page": r.page.per_page,
            "total": r.page.total}
