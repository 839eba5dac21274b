"""EIP-1271 sign-in: a contract wallet on the real embedded EVM, checked through the real
chain service's VerifySignature RPC (both services in-process on port 0)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from auth_service.keys import KeyRing
from auth_service.server import FULL_NAME as AUTH_FULL_NAME
from auth_service.server import AuthApp
from conftest import make_settings
from eth_account import Account
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1.auth_service_pb2_grpc import AuthServiceStub
from ipheron_libs import db, grpc_server
from sqlalchemy import Engine
from test_login import rejected, sign

chain_service = pytest.importorskip("chain_service")
from chain_service.config import ChainSettings  # noqa: E402
from chain_service.contracts import load_artifact  # noqa: E402
from chain_service.repository import SCHEMA as CHAIN_SCHEMA  # noqa: E402
from chain_service.server import FULL_NAME as CHAIN_FULL_NAME  # noqa: E402
from chain_service.server import ChainApp  # noqa: E402
from chain_service.txmanager import TxRequest  # noqa: E402


@pytest.fixture(scope="module")
async def chain(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, ChainApp]]:
    db.drop_schema(pg_admin_url, CHAIN_SCHEMA)
    url = db.provision(pg_admin_url, CHAIN_SCHEMA)
    app = ChainApp(ChainSettings(env="test", data_dir=tmp_path_factory.mktemp("chain"), database_url=url,  # type: ignore[call-arg]
                                 journal=False), url)
    server, port, health = grpc_server.build_server("chain", app.register, [CHAIN_FULL_NAME])
    await app.on_start()
    await grpc_server.start(server, health)
    try:
        yield f"127.0.0.1:{port}", app
    finally:
        await server.stop(0)
        await app.on_stop()


@pytest.fixture()
async def stub_with_chain(chain: tuple[str, ChainApp], clean_engine: Engine, auth_url: str, keyring: KeyRing,
                          tmp_path: Path) -> AsyncIterator[AuthServiceStub]:
    app = AuthApp(make_settings(tmp_path, chain_addr=chain[0]), auth_url, keyring=keyring)
    server, port, health = grpc_server.build_server("auth", app.register, [AUTH_FULL_NAME])
    await grpc_server.start(server, health)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield AuthServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)
        await app.on_stop()


async def deploy_wallet(chain_app: ChainApp, owner: str) -> str:
    domain = chain_app.domain
    assert domain is not None
    art = load_artifact("TestContractWallet")
    factory = domain.network.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    sent = await domain.tm.send(TxRequest(type="deploy", to=None, data=factory.constructor(owner, False).data_in_transaction))
    return str(sent.receipt["contractAddress"])


async def test_contract_wallet_signs_in_through_eip1271(stub_with_chain: AuthServiceStub,
                                                        chain: tuple[str, ChainApp]) -> None:
    owner, stranger = Account.create(), Account.create()
    wallet = await deploy_wallet(chain[1], owner.address)
    ch = await stub_with_chain.CreateNonce(pb.CreateNonceRequest(address=wallet))
    # A stranger's signature is refused by the contract: the clear reason names the recovered EOA.
    err = await rejected(stub_with_chain.Login(pb.LoginRequest(message=ch.message, signature=sign(stranger, ch.message))))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and stranger.address in (err.details() or "")
    resp = await stub_with_chain.Login(pb.LoginRequest(message=ch.message, signature=sign(owner, ch.message)))
    assert resp.created and resp.user.wallet_address == wallet


async def test_eoa_login_still_works_with_chain_configured(stub_with_chain: AuthServiceStub) -> None:
    account = Account.create()
    ch = await stub_with_chain.CreateNonce(pb.CreateNonceRequest(address=account.address))
    resp = await stub_with_chain.Login(pb.LoginRequest(message=ch.message, signature=sign(account, ch.message)))
    assert resp.user.wallet_address == account.address
