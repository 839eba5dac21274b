"""The auth service on the one service skeleton: it reports its database in health,
and its chain client turns an unreachable chain into UNAVAILABLE only when the chain
alone could have accepted the signature."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from auth_service.keys import KeyRing
from auth_service.server import FULL_NAME, AuthApp
from conftest import make_settings
from eth_account import Account
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1.auth_service_pb2_grpc import AuthServiceStub
from ipheron_libs.testing import wait_until_async
from sqlalchemy import Engine
from test_login import rejected, sign


async def test_auth_app_serves_and_reports_postgresql_in_health(auth_app: AuthApp) -> None:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{auth_app.port}")
    try:
        health = health_pb2_grpc.HealthStub(channel)

        async def serving(name: str) -> bool:
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            except grpc.aio.AioRpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        assert await serving(FULL_NAME)
        assert await wait_until_async(lambda: serving("postgresql"), timeout=10)
    finally:
        await channel.close()


@pytest.fixture()
async def stub_unreachable_chain(clean_engine: Engine, auth_url: str, keyring: KeyRing,
                                 tmp_path: Path) -> AsyncIterator[AuthServiceStub]:
    settings = make_settings(tmp_path, chain_addr="127.0.0.1:1", chain_timeout_seconds=0.5)
    app = AuthApp(settings, auth_url, keyring=keyring)
    port = await app.start(host="127.0.0.1", port=0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield AuthServiceStub(channel)
    finally:
        await channel.close()
        await app.stop(grace=0)


async def test_unreachable_chain_is_unavailable_only_for_signatures_no_eoa_made(
        stub_unreachable_chain: AuthServiceStub) -> None:
    account, other = Account.create(), Account.create()
    ch = await stub_unreachable_chain.CreateNonce(pb.CreateNonceRequest(address=account.address))
    # 65 bytes that recover nobody: only a contract wallet could accept them, and the chain is down.
    err = await rejected(stub_unreachable_chain.Login(pb.LoginRequest(message=ch.message, signature="0x" + "00" * 65)))
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    # Another EOA's signature is refused for what it is, chain or no chain.
    err = await rejected(stub_unreachable_chain.Login(pb.LoginRequest(message=ch.message,
                                                                      signature=sign(other, ch.message))))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and other.address in (err.details() or "")
    resp = await stub_unreachable_chain.Login(pb.LoginRequest(message=ch.message, signature=sign(account, ch.message)))
    assert resp.user.wallet_address == account.address
