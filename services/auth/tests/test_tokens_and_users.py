"""Refresh rotation and reuse detection, logout, profile rules, listing and internal totals."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import grpc
import pytest
from eth_account import Account
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1.auth_service_pb2_grpc import AuthServiceStub
from ipheron.common.v1 import common_pb2
from test_login import login, rejected


async def test_refresh_rotates_token_and_old_one_stops_working(stub: AuthServiceStub) -> None:
    first = await login(stub, Account.create())
    rotated = await stub.Refresh(pb.RefreshRequest(refresh_token=first.tokens.refresh_token))
    assert rotated.tokens.refresh_token != first.tokens.refresh_token
    assert rotated.tokens.access_token and rotated.tokens.access_token != first.tokens.access_token
    again = await stub.Refresh(pb.RefreshRequest(refresh_token=rotated.tokens.refresh_token))
    assert again.tokens.refresh_token not in (first.tokens.refresh_token, rotated.tokens.refresh_token)


async def test_reused_refresh_token_revokes_the_whole_family(stub: AuthServiceStub) -> None:
    first = await login(stub, Account.create())
    rotated = await stub.Refresh(pb.RefreshRequest(refresh_token=first.tokens.refresh_token))
    err = await rejected(stub.Refresh(pb.RefreshRequest(refresh_token=first.tokens.refresh_token)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "already used" in (err.details() or "")
    # The legitimate successor dies with the family.
    err = await rejected(stub.Refresh(pb.RefreshRequest(refresh_token=rotated.tokens.refresh_token)))
    assert "revoked" in (err.details() or "")


async def test_reuse_revokes_only_that_family_not_other_sessions(stub: AuthServiceStub) -> None:
    account = Account.create()
    session_a = await login(stub, account)
    session_b = await login(stub, account)
    await stub.Refresh(pb.RefreshRequest(refresh_token=session_a.tokens.refresh_token))
    await rejected(stub.Refresh(pb.RefreshRequest(refresh_token=session_a.tokens.refresh_token)))
    still = await stub.Refresh(pb.RefreshRequest(refresh_token=session_b.tokens.refresh_token))
    assert still.tokens.refresh_token


async def test_logout_revokes_refresh_token_and_is_idempotent(stub: AuthServiceStub) -> None:
    first = await login(stub, Account.create())
    await stub.Logout(pb.LogoutRequest(refresh_token=first.tokens.refresh_token))
    await stub.Logout(pb.LogoutRequest(refresh_token=first.tokens.refresh_token))
    err = await rejected(stub.Refresh(pb.RefreshRequest(refresh_token=first.tokens.refresh_token)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in (err.details() or "")


async def test_unknown_or_malformed_refresh_token_is_unauthenticated(stub: AuthServiceStub) -> None:
    for token in ("rt_doesnotexist", "garbage", ""):
        err = await rejected(stub.Refresh(pb.RefreshRequest(refresh_token=token)))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_profile_update_changes_editable_fields(stub: AuthServiceStub) -> None:
    user = (await login(stub, Account.create())).user
    resp = await stub.UpdateProfile(pb.UpdateProfileRequest(
        user_id=user.id, username="alice", email="Alice@Example.com", region="Europe",
        skills=pb.SkillList(values=["Music", "music", " Design "]), bio="composer"))
    u = resp.user
    assert (u.username, u.email, u.region, list(u.skills), u.bio) == (
        "alice", "alice@example.com", "Europe", ["Music", "Design"], "composer")
    assert u.reputation_score == 50 and u.verified is False and u.updated_at.ToDatetime() >= u.created_at.ToDatetime()
    # Absent fields stay; an empty email clears it.
    resp = await stub.UpdateProfile(pb.UpdateProfileRequest(user_id=user.id, email=""))
    assert resp.user.username == "alice" and resp.user.email == "" and list(resp.user.skills) == ["Music", "Design"]


async def test_duplicate_username_or_email_is_a_conflict(stub: AuthServiceStub) -> None:
    a = (await login(stub, Account.create())).user
    b = (await login(stub, Account.create())).user
    await stub.UpdateProfile(pb.UpdateProfileRequest(user_id=a.id, username="taken", email="x@example.com"))
    err = await rejected(stub.UpdateProfile(pb.UpdateProfileRequest(user_id=b.id, username="TAKEN")))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and "username" in (err.details() or "")
    err = await rejected(stub.UpdateProfile(pb.UpdateProfileRequest(user_id=b.id, email="X@example.com")))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and "email" in (err.details() or "")


@pytest.mark.parametrize(("field", "value"), [
    ("username", "a"), ("username", "has space"), ("email", "not-an-email"), ("region", ""), ("bio", "x" * 2001),
])
async def test_invalid_profile_values_are_rejected(stub: AuthServiceStub, field: str, value: str) -> None:
    user = (await login(stub, Account.create())).user
    err = await rejected(stub.UpdateProfile(pb.UpdateProfileRequest(user_id=user.id, **{field: value})))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.trailing_metadata() or ()).get("x-error-field") == field


async def test_get_user_by_id_and_wallet(stub: AuthServiceStub) -> None:
    account = Account.create()
    user = (await login(stub, account)).user
    assert (await stub.GetUser(pb.GetUserRequest(id=user.id))).user.wallet_address == account.address
    by_wallet = await stub.GetUserByWallet(pb.GetUserByWalletRequest(wallet_address=account.address.lower()))
    assert by_wallet.user.id == user.id
    err = await rejected(stub.GetUser(pb.GetUserRequest(id="00000000-0000-0000-0000-000000000000")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = await rejected(stub.GetUser(pb.GetUserRequest(id="42")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_list_users_filters_by_skill_and_region_with_total(stub: AuthServiceStub) -> None:
    ids = []
    for i, (skills, region) in enumerate([(["Music"], "Europe"), (["music", "Art"], "Asia"), (["Art"], "Europe")]):
        u = (await login(stub, Account.create())).user
        await stub.UpdateProfile(pb.UpdateProfileRequest(user_id=u.id, username=f"lister{i}", region=region,
                                                         skills=pb.SkillList(values=skills)))
        ids.append(u.id)
    music = await stub.ListUsers(pb.ListUsersRequest(skill="MUSIC"))
    assert [u.id for u in music.users] == ids[:2] and music.page.total == 2
    europe_art = await stub.ListUsers(pb.ListUsersRequest(skill="art", region="europe"))
    assert [u.id for u in europe_art.users] == [ids[2]]
    page2 = await stub.ListUsers(pb.ListUsersRequest(page=common_pb2.PageRequest(page=2, per_page=2)))
    assert [u.id for u in page2.users] == [ids[2]] and page2.page.total == 3 and page2.page.per_page == 2
    past = await stub.ListUsers(pb.ListUsersRequest(page=common_pb2.PageRequest(page=9, per_page=2)))
    assert list(past.users) == [] and past.page.total == 3
    err = await rejected(stub.ListUsers(pb.ListUsersRequest(page=common_pb2.PageRequest(page=1, per_page=101))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_record_sale_and_assets_created_are_idempotent_per_operation(stub: AuthServiceStub) -> None:
    user = (await login(stub, Account.create())).user
    first = await stub.RecordSale(pb.RecordSaleRequest(user_id=user.id, amount="12.5", operation_id="sale-1"))
    repeat = await stub.RecordSale(pb.RecordSaleRequest(user_id=user.id, amount="12.5", operation_id="sale-1"))
    other = await stub.RecordSale(pb.RecordSaleRequest(user_id=user.id, amount="0.000001", operation_id="sale-2"))
    assert (first.applied, repeat.applied, other.applied) == (True, False, True)
    assert other.user.total_sales == "12.500001"
    err = await rejected(stub.RecordSale(pb.RecordSaleRequest(user_id=user.id, amount="99", operation_id="sale-1")))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    for bad in ("-1", "0", "abc", "1.0000001", "NaN"):
        err = await rejected(stub.RecordSale(pb.RecordSaleRequest(user_id=user.id, amount=bad, operation_id="x")))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    a = await stub.IncrementAssetsCreated(pb.IncrementAssetsCreatedRequest(user_id=user.id, operation_id="asset-1"))
    b = await stub.IncrementAssetsCreated(pb.IncrementAssetsCreatedRequest(user_id=user.id, operation_id="asset-1"))
    assert (a.applied, b.applied, b.user.total_assets_created) == (True, False, 1)


async def test_record_sale_for_an_unknown_user_is_not_found_and_records_no_operation(stub: AuthServiceStub) -> None:
    err = await rejected(stub.RecordSale(pb.RecordSaleRequest(user_id="00000000-0000-4000-8000-000000000000",
                                                              amount="5", operation_id="sale-nobody")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    user = (await login(stub, Account.create())).user
    # The operation id was not taken by the refused call: it applies to a real user.
    done = await stub.RecordSale(pb.RecordSaleRequest(user_id=user.id, amount="5", operation_id="sale-nobody"))
    assert done.applied and Decimal(done.user.total_sales) == 5


async def test_concurrent_sales_of_one_user_add_up_exactly(stub: AuthServiceStub) -> None:
    user = (await login(stub, Account.create())).user
    replies = await asyncio.gather(*(
        stub.RecordSale(pb.RecordSaleRequest(user_id=user.id, amount="0.000001", operation_id=f"par-{i % 20}"))
        for i in range(40)))  # every operation twice, at the same time
    assert sum(r.applied for r in replies) == 20
    again = await stub.RecordSale(pb.RecordSaleRequest(user_id=user.id, amount="0.000001", operation_id="par-0"))
    assert not again.applied and Decimal(again.user.total_sales) == Decimal("0.00002")
